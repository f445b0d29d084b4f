// Serve-stale (RFC 8767) in the forwarder
// (forwarder_refresh.cpp), on the faked clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/forwarder.hpp"
#include "forwarder_fixtures.hpp"

namespace tapir::dns {
namespace {

using namespace tapir::dns::test;  // NOLINT: the shared fixtures

class ForwarderStaleTest : public ForwarderTest {
 protected:
  // Asks `name` as client port `port` at `t` and answers the upstream
  // query it causes (TTL 300): the entry is cached at `t`.
  void cache_at(double t, const std::string& name = "example.test") {
    const size_t sent = io.sent.size();
    fwd->on_query(client(1000), cb(query_for(name, 1)), at(t));
    ASSERT_EQ(io.sent.size(), sent + 1);
    reply_to_last(t + 0.01);
  }
  void reply_to_last(double t) {
    const FakeIo::Sent& s = io.sent.back();
    fwd->on_reply(s.ref, s.to, cb(answer_to(s.msg)), at(t));
  }
  // Every attempt of every pending query times out: past the deadline.
  void upstreams_silent(double from, double to) {
    for (double t = from; t <= to; t += 0.1) fwd->on_tick(at(t));
  }
  static uint32_t answer_ttl(const FakeIo::Answer& a) {
    const Message m = parsed(a.msg);
    return (*m.records(Section::kAnswer).begin()).ttl;
  }
};

TEST_F(ForwarderStaleTest, FailedUpstreamsGetTheExpiredAnswerWithTtl30) {
  cache_at(0);
  ASSERT_EQ(io.answers.size(), 1u);
  // Expired (TTL 300): asked upstream again, and nobody answers.
  fwd->on_query(client(2000), cb(query_for("example.test", 77)), at(400));
  EXPECT_EQ(io.answers.size(), 1u);
  upstreams_silent(400.1, 403);
  ASSERT_EQ(io.answers.size(), 2u);
  const FakeIo::Answer& a = io.answers[1];
  EXPECT_EQ(a.outcome, Outcome::kStale);
  EXPECT_NE(a.reason, FailReason::kNone);
  const Message m = parsed(a.msg);
  EXPECT_EQ(m.id(), 77);
  EXPECT_EQ(m.rcode(), rcode::kNoError);
  EXPECT_EQ(m.ancount(), 1);
  EXPECT_EQ(answer_ttl(a), kStaleTtl);
  EXPECT_EQ(fwd->stats().stale, 1u);
  EXPECT_EQ(fwd->stats().servfail, 0u);
  EXPECT_EQ(fwd->snapshot().stale, 1u);
}

TEST_F(ForwarderStaleTest, StaleMaxZeroMeansServfail) {
  ForwarderConfig cfg;
  cfg.cache.stale_max = 0;
  make(cfg);
  cache_at(0);
  fwd->on_query(client(2000), cb(query_for("example.test", 77)), at(400));
  upstreams_silent(400.1, 403);
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(io.answers[1].outcome, Outcome::kServfail);
  EXPECT_EQ(parsed(io.answers[1].msg).rcode(), rcode::kServFail);
  EXPECT_EQ(fwd->stats().stale, 0u);
}

TEST_F(ForwarderStaleTest, PastStaleMaxMeansServfail) {
  ForwarderConfig cfg;
  cfg.cache.stale_max = 60;
  make(cfg);
  cache_at(0);
  fwd->on_query(client(2000), cb(query_for("example.test", 77)), at(361));
  upstreams_silent(361.1, 364);
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(io.answers[1].outcome, Outcome::kServfail);
}

// After a stale answer, the next queries get it at once (no second wait for
// the deadline) and start one background refresh; once an upstream
// answers it, clients get the fresh answer from the cache.
TEST_F(ForwarderStaleTest, StaleAtOnceThenRefreshedInTheBackground) {
  cache_at(0);
  fwd->on_query(client(2000), cb(query_for("example.test", 2)), at(400));
  upstreams_silent(400.1, 403);
  ASSERT_EQ(io.answers.size(), 2u);
  const size_t sent = io.sent.size();

  EXPECT_FALSE(fwd->on_query(client(3000), cb(query_for("example.test", 3)), at(404)));
  ASSERT_EQ(io.answers.size(), 3u);
  EXPECT_EQ(io.answers[2].outcome, Outcome::kStale);
  EXPECT_EQ(answer_ttl(io.answers[2]), kStaleTtl);
  ASSERT_EQ(io.sent.size(), sent + 1);  // the background refresh
  EXPECT_EQ(fwd->stats().refreshes, 1u);
  // One refresh at a time: another stale hit starts no second one.
  EXPECT_FALSE(fwd->on_query(client(3001), cb(query_for("example.test", 4)), at(404.1)));
  EXPECT_EQ(io.sent.size(), sent + 1);
  EXPECT_EQ(fwd->stats().refreshes, 1u);
  EXPECT_EQ(fwd->pending(), 1u);

  reply_to_last(404.2);  // the upstream is back
  EXPECT_EQ(io.answers.size(), 4u);  // nobody waited on the refresh
  EXPECT_EQ(fwd->pending(), 0u);
  fwd->on_query(client(3002), cb(query_for("example.test", 5)), at(405));
  ASSERT_EQ(io.answers.size(), 5u);
  EXPECT_EQ(io.answers[4].outcome, Outcome::kCache);
  EXPECT_EQ(answer_ttl(io.answers[4]), 300u);
  EXPECT_EQ(fwd->stats().stale, 3u);
}

TEST_F(ForwarderStaleTest, EveryAnswerSaysWhereItCameFrom) {
  fwd->on_query(client(1000), cb(query_for("host.containers.internal", 1)), at(0));
  cache_at(1);
  fwd->on_query(client(1000), cb(query_for("example.test", 3)), at(2));
  ASSERT_EQ(io.answers.size(), 3u);
  EXPECT_EQ(io.answers[0].outcome, Outcome::kBuiltin);
  EXPECT_EQ(io.answers[1].outcome, Outcome::kUpstream);
  EXPECT_EQ(io.answers[2].outcome, Outcome::kCache);
  make({}, {});
  fwd->on_query(client(1000), cb(query_for("example.test", 4)), at(0));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(io.answers[0].outcome, Outcome::kServfail);
  EXPECT_EQ(io.answers[0].reason, FailReason::kNoUpstream);
}

}  // namespace
}  // namespace tapir::dns
