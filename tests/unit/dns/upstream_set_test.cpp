#include "dns/upstream_set.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "dns/message_edit.hpp"
#include "dns/resolv_conf.hpp"
#include "dns_fixtures.hpp"

namespace tapir::dns {
namespace {

using Bytes = std::vector<uint8_t>;
ConstBytes cb(const Bytes& b) {
  return wire::as_bytes(b);
}
MutBytes mb(Bytes& b) {
  return wire::as_writable_bytes(b);
}

constexpr MonoTime kT0{5'000'000'000};
MonoTime at(int64_t ms) {
  return kT0 + Duration::millis(ms);
}
uint64_t bit(size_t i) {
  return uint64_t{1} << i;
}

std::vector<Endpoint> three() {
  return {*parse_upstream("192.0.2.1"), *parse_upstream("192.0.2.2"),
          *parse_upstream("[fd00::53]:5353")};
}

TEST(UpstreamSet, PicksInOrderAndFailsOver) {
  UpstreamSet set;
  set.set_upstreams(three());
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set.pick(0), 0u);
  EXPECT_EQ(set.pick(bit(0)), 1u);
  EXPECT_EQ(set.pick(bit(0) | bit(1)), 2u);
  EXPECT_FALSE(set.pick(bit(0) | bit(1) | bit(2)));
  EXPECT_FALSE(UpstreamSet().pick(0));
}

TEST(UpstreamSet, TimeoutMovesBackThenProbeRestores) {
  UpstreamSet set({.reprobe_interval = Duration::seconds(10)});
  set.set_upstreams(three());
  set.on_sent(0);
  set.on_timeout(0, at(1000));
  EXPECT_FALSE(set.stats(0).healthy);
  EXPECT_EQ(set.stats(0).timeouts, 1u);
  // The next query skips the dead first upstream at once ...
  EXPECT_EQ(set.pick(0), 1u);
  // ... and falls back to it only when every healthy one was tried.
  EXPECT_EQ(set.pick(bit(1) | bit(2)), 0u);
  // No probe before the interval; one probe when due, not two.
  EXPECT_FALSE(set.take_probe(at(10999)));
  EXPECT_EQ(set.take_probe(at(11000)), 0u);
  EXPECT_FALSE(set.take_probe(at(11001)));
  // The probe times out: the next one is an interval later.
  set.on_timeout(0, at(12000));
  EXPECT_FALSE(set.take_probe(at(20999)));
  EXPECT_EQ(set.take_probe(at(21000)), 0u);
  // It answers: healthy and first again.
  set.on_reply(0, Duration::millis(3));
  EXPECT_TRUE(set.stats(0).healthy);
  EXPECT_EQ(set.pick(0), 0u);
  EXPECT_FALSE(set.take_probe(at(60000)));
}

TEST(UpstreamSet, LoopingUpstreamIsLeftOutEvenAsAFallbackUntilTheHoldoff) {
  UpstreamSet set(
      {.reprobe_interval = Duration::seconds(10), .loop_holdoff = Duration::seconds(300)});
  set.set_upstreams(three());
  EXPECT_TRUE(set.on_loop(0, at(0)));   // first time: the caller logs
  EXPECT_FALSE(set.on_loop(0, at(10)));  // same episode: quiet
  EXPECT_TRUE(set.stats(0).looping);
  EXPECT_EQ(set.stats(0).loops, 2u);
  EXPECT_EQ(set.pick(0), 1u);
  EXPECT_FALSE(set.pick(bit(1) | bit(2)));  // never a fallback
  set.on_timeout(0, at(20));                // nor probed
  EXPECT_FALSE(set.take_probe(at(100000)));
  set.expire_loops(at(300009));
  EXPECT_TRUE(set.stats(0).looping);
  set.expire_loops(at(300010));
  EXPECT_FALSE(set.stats(0).looping);
  EXPECT_EQ(set.pick(bit(1) | bit(2)), 0u);
  // Kept across a reload that still lists it.
  EXPECT_TRUE(set.on_loop(1, at(400000)));
  set.set_upstreams({three()[1]});
  EXPECT_TRUE(set.stats(0).looping);
  EXPECT_FALSE(set.pick(0));
}

TEST(UpstreamSet, LatencyEwma) {
  UpstreamSet set;
  set.set_upstreams(three());
  set.on_reply(1, Duration::millis(8));
  EXPECT_EQ(set.stats(1).srtt, Duration::millis(8));
  set.on_reply(1, Duration::millis(16));
  EXPECT_EQ(set.stats(1).srtt, Duration::millis(9));  // 8 + (16 - 8) / 8
  EXPECT_EQ(set.stats(1).replies, 2u);
}

TEST(UpstreamSet, ReloadKeepsStateOfKeptUpstreams) {
  UpstreamSet set;
  set.set_upstreams(three());
  set.on_timeout(1, at(0));
  set.on_reply(2, Duration::millis(4));
  auto next = three();
  next.erase(next.begin());  // 192.0.2.1 removed
  next.push_back(*parse_upstream("192.0.2.9"));
  set.set_upstreams(next);
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set.endpoint(0).to_string(), "192.0.2.2:53");
  EXPECT_FALSE(set.stats(0).healthy);
  EXPECT_EQ(set.stats(1).srtt, Duration::millis(4));
  EXPECT_TRUE(set.stats(2).healthy);
  EXPECT_EQ(set.pick(0), 1u);
  std::vector<Endpoint> many(100, *parse_upstream("192.0.2.1"));
  set.set_upstreams(many);
  EXPECT_EQ(set.size(), UpstreamSet::kMaxUpstreams);
}

// dig's A query for example.test and dnsmasq's answer (tests/data/dns.pcap),
// as if the forwarder had sent that query to 10.0.2.2:53.
struct Exchange {
  Bytes query = test::dns_payloads().at(0).bytes;
  Bytes answer = test::dns_payloads().at(1).bytes;
  Endpoint upstream = *parse_upstream("10.0.2.2");
  OutstandingQuery outstanding() const {
    return OutstandingQuery::from_sent(upstream, *Message::parse(cb(query)));
  }
};

TEST(DnsReplyCheck, AcceptsTheRealAnswer) {
  const Exchange x;
  const auto q = x.outstanding();
  EXPECT_EQ(q.id, 50002);
  EXPECT_EQ(check_reply(q, x.upstream, cb(x.answer)), ReplyCheck::kMatch);
  // An upstream that changes the question's case (0x20) still matches.
  Bytes mixed = x.answer;
  ASSERT_TRUE(copy_question_case(mb(mixed), *Name::from_text("EXAMPLE.test")));
  EXPECT_EQ(check_reply(q, x.upstream, cb(mixed)), ReplyCheck::kMatch);
}

TEST(DnsReplyCheck, RejectsSpoofs) {
  const Exchange x;
  const auto q = x.outstanding();
  EXPECT_EQ(check_reply(q, *parse_upstream("10.0.2.2:5353"), cb(x.answer)),
            ReplyCheck::kWrongSource);
  EXPECT_EQ(check_reply(q, *parse_upstream("10.0.2.3"), cb(x.answer)), ReplyCheck::kWrongSource);
  EXPECT_EQ(check_reply(q, *parse_upstream("::ffff:10.0.2.2"), cb(x.answer)),
            ReplyCheck::kWrongSource);
  Bytes wrong_id = x.answer;
  set_id(mb(wrong_id), 50003);
  EXPECT_EQ(check_reply(q, x.upstream, cb(wrong_id)), ReplyCheck::kWrongId);
  // The query itself echoed back (QR clear).
  EXPECT_EQ(check_reply(q, x.upstream, cb(x.query)), ReplyCheck::kNotResponse);
  // Same ID, another question: the AAAA answer for www.example.test.
  Bytes other = test::dns_payloads().at(3).bytes;
  set_id(mb(other), 50002);
  EXPECT_EQ(check_reply(q, x.upstream, cb(other)), ReplyCheck::kWrongQuestion);
  // Same name, other type.
  Bytes aaaa = test::dns_payloads().at(21).bytes;  // AAAA example.test
  set_id(mb(aaaa), 50002);
  EXPECT_EQ(check_reply(q, x.upstream, cb(aaaa)), ReplyCheck::kWrongQuestion);
  Bytes garbage = x.answer;
  garbage.resize(20);
  EXPECT_EQ(check_reply(q, x.upstream, cb(garbage)), ReplyCheck::kMalformed);
  EXPECT_EQ(check_reply(q, x.upstream, cb(Bytes(3, 0))), ReplyCheck::kMalformed);
}

}  // namespace
}  // namespace tapir::dns
