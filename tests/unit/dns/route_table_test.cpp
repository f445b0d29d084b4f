#include "dns/route_table.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tapir::dns {
namespace {

Name n(const char* text) { return *Name::from_text(text); }

std::string error_of(const char* spec) {
  RouteTable t;
  auto r = t.add(spec);
  EXPECT_FALSE(r.has_value()) << spec;
  EXPECT_TRUE(t.empty()) << spec;
  return r ? std::string() : r.error();
}

TEST(RouteTable, ReadsAddressesPortsAndLocal) {
  RouteTable t;
  ASSERT_TRUE(t.add("Corp.Example=192.0.2.53"));
  ASSERT_TRUE(t.add("corp.example.=[fd00::53]:5353"));  // the same domain: a second upstream
  ASSERT_TRUE(t.add("lab.test=fe80::1%eth0"));
  ASSERT_TRUE(t.add("containers.internal=local"));
  ASSERT_TRUE(t.add("2.0.192.in-addr.arpa=127.0.0.2:5300"));
  ASSERT_EQ(t.routes().size(), 4u);
  const DnsRoute& corp = t.routes()[0];
  EXPECT_EQ(corp.domain.to_string(), "corp.example");  // lower case
  EXPECT_FALSE(corp.local);
  ASSERT_EQ(corp.upstreams.size(), 2u);
  EXPECT_EQ(corp.upstreams[0], Endpoint::ipv4(wire::Ipv4Addr::from_octets(192, 0, 2, 53)));
  EXPECT_EQ(corp.upstreams[1].to_string(), "[fd00::53]:5353");
  EXPECT_EQ(t.routes()[1].upstreams[0].to_string(), "[fe80::1%eth0]:53");
  EXPECT_TRUE(t.routes()[2].local);
  EXPECT_TRUE(t.routes()[2].upstreams.empty());
  EXPECT_EQ(t.routes()[3].upstreams[0].port, 5300);
}

TEST(RouteTable, AnUpstreamGivenTwiceIsKeptOnce) {
  RouteTable t;
  ASSERT_TRUE(t.add("corp.example=192.0.2.53"));
  ASSERT_TRUE(t.add("CORP.example=192.0.2.53:53"));
  ASSERT_EQ(t.routes().size(), 1u);
  EXPECT_EQ(t.routes()[0].upstreams.size(), 1u);
}

TEST(RouteTable, LongestSuffixWinsByWholeLabelsAnyCase) {
  RouteTable t;
  ASSERT_TRUE(t.add("example=192.0.2.1"));
  ASSERT_TRUE(t.add("a.corp.example=192.0.2.3"));  // before its parent: order does not matter
  ASSERT_TRUE(t.add("corp.example=192.0.2.2"));
  EXPECT_EQ(t.match(n("corp.example")), 2u);
  EXPECT_EQ(t.match(n("WWW.Corp.Example")), 2u);
  EXPECT_EQ(t.match(n("b.a.corp.example")), 1u);
  EXPECT_EQ(t.match(n("a.corp.example")), 1u);
  EXPECT_EQ(t.match(n("xcorp.example")), 0u);  // not a label boundary: the parent's
  EXPECT_EQ(t.match(n("other.example")), 0u);
  EXPECT_EQ(t.match(n("example.org")), std::nullopt);
  EXPECT_EQ(t.match(n("examples")), std::nullopt);
  EXPECT_EQ(t.match(Name()), std::nullopt);
}

TEST(RouteTable, ReverseZonesAreSuffixesLikeAnyOther) {
  RouteTable t;
  ASSERT_TRUE(t.add("2.0.192.in-addr.arpa=127.0.0.2"));
  EXPECT_EQ(t.match(n("53.2.0.192.in-addr.arpa")), 0u);
  EXPECT_EQ(t.match(n("53.3.0.192.in-addr.arpa")), std::nullopt);
}

TEST(RouteTable, BadValuesAreRefusedWithTheReason) {
  EXPECT_EQ(error_of("corp.example"), "expected DOMAIN=ADDR[:PORT] or DOMAIN=local");
  EXPECT_EQ(error_of(""), "expected DOMAIN=ADDR[:PORT] or DOMAIN=local");
  EXPECT_NE(error_of("a..b=192.0.2.1").find("is not a domain name"), std::string::npos);
  EXPECT_NE(error_of(std::string(64, 'x').append("=192.0.2.1").c_str()).find("is not a domain name"),
            std::string::npos);
  EXPECT_NE(error_of(".=192.0.2.1").find("--dns-upstream"), std::string::npos);
  EXPECT_NE(error_of("=192.0.2.1").find("--dns-upstream"), std::string::npos);
  EXPECT_EQ(error_of("corp.example="), "upstream \"\": empty address");
  EXPECT_EQ(error_of("corp.example=vpn.example"),
            "upstream \"vpn.example\": not an IPv4 or IPv6 address");
  EXPECT_EQ(error_of("corp.example=192.0.2.1:0"), "upstream \"192.0.2.1:0\": bad port (1-65535)");
  EXPECT_EQ(error_of("corp.example=192.0.2.1:99999"),
            "upstream \"192.0.2.1:99999\": bad port (1-65535)");
  EXPECT_EQ(error_of("corp.example=LOCAL"), "upstream \"LOCAL\": not an IPv4 or IPv6 address");
}

TEST(RouteTable, LocalAndAnAddressForOneDomainConflict) {
  RouteTable t;
  ASSERT_TRUE(t.add("corp.example=local"));
  auto r = t.add("Corp.Example=192.0.2.1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "corp.example is routed both to local and to an upstream");
  RouteTable u;
  ASSERT_TRUE(u.add("corp.example=192.0.2.1"));
  EXPECT_FALSE(u.add("corp.example=local"));
  EXPECT_EQ(u.routes()[0].upstreams.size(), 1u);
}

TEST(RouteTable, LimitsOnUpstreamsAndDomains) {
  RouteTable t;
  for (int i = 0; i < 64; ++i) {
    std::string spec = "corp.example=127.0.0.1:";
    spec += std::to_string(1000 + i);
    ASSERT_TRUE(t.add(spec));
  }
  auto r = t.add("corp.example=127.0.0.1:2000");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "more than 64 upstreams for corp.example");

  RouteTable many;
  for (size_t i = 0; i < RouteTable::kMaxRoutes; ++i) {
    std::string spec = "d";
    spec += std::to_string(i);
    spec += ".test=127.0.0.1";
    ASSERT_TRUE(many.add(spec));
  }
  auto over = many.add("one.more.test=127.0.0.1");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), "more than 1024 routed domains");
}

}  // namespace
}  // namespace tapir::dns
