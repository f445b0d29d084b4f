// Split DNS in the forwarder (--dns-route, route_table.hpp): which set a
// question goes to, and that a routed set fails over, keeps its health and
// shares the cache as the default set does.
#include <gtest/gtest.h>

#include <utility>

#include "dns/forwarder.hpp"
#include "forwarder_fixtures.hpp"

namespace tapir::dns {
namespace {

using namespace tapir::dns::test;  // NOLINT: the shared fixtures

const Endpoint kVpn0 = Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 2), 53);
const Endpoint kVpn1 = Endpoint::ipv6(*wire::Ipv6Addr::parse("fd00::53"), 5353);

class ForwarderRouteTest : public ForwarderTest {
 protected:
  ForwarderRouteTest() {
    ForwarderConfig cfg;
    EXPECT_TRUE(cfg.routes.add("corp.example=127.0.0.2"));
    EXPECT_TRUE(cfg.routes.add("corp.example=[fd00::53]:5353"));
    EXPECT_TRUE(cfg.routes.add("pub.corp.example=127.0.0.1:5354"));  // back to the ISP's, say
    EXPECT_TRUE(cfg.routes.add("2.0.192.in-addr.arpa=127.0.0.2"));
    EXPECT_TRUE(cfg.routes.add("containers.internal=local"));
    make(cfg);
  }
  // Asks a name under corp.example and one of the default set's at
  // `when`, and returns where the two upstream queries went.
  std::pair<Endpoint, Endpoint> ask_routed_and_default(double when) {
    const size_t n = io.sent.size();
    fwd->on_query(client(2000), cb(query_for("next.corp.example", 100)), at(when));
    fwd->on_query(client(2001), cb(query_for("next.example.test", 101)), at(when));
    EXPECT_EQ(io.sent.size(), n + 2);
    if (io.sent.size() != n + 2) return {};
    return {io.sent[n].to, io.sent[n + 1].to};
  }
  // Answers the query that went out as io.sent[i] from where it went.
  void answer_sent(size_t i, double when) {
    const Message up = parsed(io.sent[i].msg);
    fwd->on_reply(io.sent[i].ref, io.sent[i].to,
                  cb(answer_to(query_for(up.qname().to_string(), up.id(), up.question()->qtype))), at(when));
  }
};

TEST_F(ForwarderRouteTest, NamesUnderARoutedDomainGoOnlyToItsUpstreams) {
  fwd->on_query(client(1000), cb(query_for("intranet.Corp.Example", 1)), at(0));
  fwd->on_query(client(1001), cb(query_for("corp.example", 2)), at(0));
  fwd->on_query(client(1002), cb(query_for("example.test", 3)), at(0));
  fwd->on_query(client(1003), cb(query_for("xcorp.example", 4)), at(0));
  ASSERT_EQ(io.sent.size(), 4u);
  EXPECT_EQ(io.sent[0].to, kVpn0);
  EXPECT_EQ(io.sent[1].to, kVpn0);
  EXPECT_EQ(io.sent[2].to, kUp0);
  EXPECT_EQ(io.sent[3].to, kUp0);
  for (size_t i = 0; i < 4; ++i) answer_sent(i, 0.01);
  ASSERT_EQ(io.answers.size(), 4u);
  EXPECT_EQ(fwd->stats().routed, 2u);
}

TEST_F(ForwarderRouteTest, LongestDomainWinsAndReverseZonesRouteToo) {
  fwd->on_query(client(1000), cb(query_for("www.pub.corp.example", 1)), at(0));
  fwd->on_query(client(1001), cb(query_for("53.2.0.192.in-addr.arpa", 2, rrtype::kPtr)), at(0));
  fwd->on_query(client(1002), cb(query_for("53.3.0.192.in-addr.arpa", 3, rrtype::kPtr)), at(0));
  ASSERT_EQ(io.sent.size(), 3u);
  EXPECT_EQ(io.sent[0].to, kUp1);
  EXPECT_EQ(io.sent[1].to, kVpn0);
  EXPECT_EQ(io.sent[2].to, kUp0);
}

TEST_F(ForwarderRouteTest, ARoutedSetFailsOverWithinItselfNeverToTheDefaultSet) {
  fwd->on_query(client(1000), cb(query_for("a.corp.example", 1)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].to, kVpn0);
  fwd->on_tick(at(1.0));  // the first VPN resolver is silent
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[1].to, kVpn1);
  fwd->on_tick(at(2.0));  // and so is the second: nothing else is asked
  EXPECT_EQ(io.sent.size(), 2u);
  fwd->on_tick(at(2.5));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);
  EXPECT_FALSE(fwd->route_upstreams(0).stats(0).healthy);
  EXPECT_FALSE(fwd->route_upstreams(0).stats(1).healthy);
  EXPECT_TRUE(fwd->upstreams().stats(0).healthy);
}

TEST_F(ForwarderRouteTest, HealthIsKeptPerSet) {
  fwd->on_query(client(1000), cb(query_for("a.corp.example", 1)), at(0));
  fwd->on_tick(at(1.0));  // the first VPN resolver is silent, the second answers
  ASSERT_EQ(io.sent.size(), 2u);
  answer_sent(1, 1.1);
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kNoError);
  // The VPN's first resolver is skipped next time; the default set's first one is not.
  EXPECT_EQ(ask_routed_and_default(2), std::make_pair(kVpn1, kUp0));
}

TEST_F(ForwarderRouteTest, RoutedAnswersAreCachedAndAReloadLeavesRoutesAlone) {
  fwd->on_query(client(1000), cb(query_for("a.corp.example", 1)), at(0));
  answer_sent(0, 0.01);
  fwd->set_upstreams({kUp1});  // resolv.conf changed: the default set only
  fwd->on_query(client(1001), cb(query_for("a.corp.example", 2)), at(1));
  EXPECT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(fwd->stats().cache_hits, 1u);
  EXPECT_EQ(ask_routed_and_default(1), std::make_pair(kVpn0, kUp1));
}

TEST_F(ForwarderRouteTest, ALocalDomainAnswersBuiltinNamesAndNxdomainForTheRest) {
  fwd->on_query(client(1000), cb(query_for("host.containers.internal", 1)), at(0));
  fwd->on_query(client(1001), cb(query_for("db.containers.internal", 2)), at(0));
  EXPECT_TRUE(io.sent.empty());
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(parsed(io.answers[0].msg).ancount(), 1);
  const Message nx = parsed(io.answers[1].msg);
  EXPECT_EQ(nx.rcode(), rcode::kNxDomain);
  EXPECT_EQ(nx.id(), 2);
  EXPECT_EQ(fwd->stats().local, 1u);
}

TEST_F(ForwarderRouteTest, ARouteWithoutHealthyHelpIsStillItsOwnSetWhenTheDefaultIsEmpty) {
  make([] {
    ForwarderConfig cfg;
    EXPECT_TRUE(cfg.routes.add("corp.example=127.0.0.2"));
    return cfg;
  }(), {});
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);
  fwd->on_query(client(1001), cb(query_for("a.corp.example", 2)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].to, kVpn0);
}

TEST_F(ForwarderRouteTest, SnapshotNamesEachUpstreamsRoute) {
  fwd->on_query(client(1000), cb(query_for("a.corp.example", 1)), at(0));
  const DnsStatsSnapshot s = fwd->snapshot();
  ASSERT_EQ(s.upstreams.size(), 6u);  // 2 default, 2 + 1 + 1 routed, none for local
  EXPECT_EQ(s.upstreams[0].route, "");
  EXPECT_EQ(s.upstreams[1].route, "");
  EXPECT_EQ(s.upstreams[2].route, "corp.example");
  EXPECT_EQ(s.upstreams[2].address, "127.0.0.2:53");
  EXPECT_EQ(s.upstreams[2].queries, 1u);
  EXPECT_EQ(s.upstreams[3].address, "[fd00::53]:5353");
  EXPECT_EQ(s.upstreams[4].route, "pub.corp.example");
  EXPECT_EQ(s.upstreams[5].route, "2.0.192.in-addr.arpa");
  EXPECT_EQ(s.routed, 1u);
}

}  // namespace
}  // namespace tapir::dns
