// Serve-stale (RFC 8767) and prefetch in the forwarder
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

// Off (stale_max 0), or expired longer ago than stale_max: SERVFAIL as before.
TEST_F(ForwarderStaleTest, WithoutAKeptEntryFailedUpstreamsMeanServfail) {
  const struct {
    uint32_t stale_max;
    double asked_at;  // the entry expires at 300
  } cases[] = {{0, 400}, {60, 361}};
  for (const auto& c : cases) {
    ForwarderConfig cfg;
    cfg.cache.stale_max = c.stale_max;
    make(cfg);
    cache_at(0);
    fwd->on_query(client(2000), cb(query_for("example.test", 77)), at(c.asked_at));
    upstreams_silent(c.asked_at + 0.1, c.asked_at + 3);
    ASSERT_EQ(io.answers.size(), 2u) << c.stale_max;
    EXPECT_EQ(io.answers[1].outcome, Outcome::kServfail) << c.stale_max;
    EXPECT_EQ(parsed(io.answers[1].msg).rcode(), rcode::kServFail) << c.stale_max;
    EXPECT_EQ(fwd->stats().stale, 0u) << c.stale_max;
  }
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

// A hit in the last tenth of the TTL is answered from the cache at once and
// refreshed upstream, once; the guest never meets a miss.
TEST_F(ForwarderStaleTest, PrefetchRefreshesAPopularNameBeforeItExpires) {
  cache_at(0);
  const uint64_t misses = fwd->snapshot().cache_misses;
  const size_t sent = io.sent.size();
  fwd->on_query(client(2000), cb(query_for("example.test", 2)), at(200));
  EXPECT_EQ(io.sent.size(), sent);  // not due yet
  EXPECT_FALSE(fwd->on_query(client(2000), cb(query_for("example.test", 3)), at(271)));
  ASSERT_EQ(io.answers.size(), 3u);
  EXPECT_EQ(io.answers[2].outcome, Outcome::kCache);
  ASSERT_EQ(io.sent.size(), sent + 1);
  EXPECT_EQ(fwd->stats().prefetch, 1u);
  fwd->on_query(client(2001), cb(query_for("example.test", 4)), at(272));
  EXPECT_EQ(io.sent.size(), sent + 1);  // one prefetch in flight per entry
  reply_to_last(272.1);
  EXPECT_EQ(io.answers.size(), 4u);
  // Past the old entry's expiry: the prefetched one answers.
  fwd->on_query(client(2002), cb(query_for("example.test", 5)), at(350));
  ASSERT_EQ(io.answers.size(), 5u);
  EXPECT_EQ(io.answers[4].outcome, Outcome::kCache);
  EXPECT_EQ(answer_ttl(io.answers[4]), 300u - 77u);
  EXPECT_EQ(fwd->snapshot().cache_misses, misses);
  EXPECT_EQ(fwd->stats().prefetch, 1u);
  EXPECT_EQ(fwd->snapshot().prefetch, 1u);
}

TEST_F(ForwarderStaleTest, PrefetchOffAsksNothing) {
  ForwarderConfig cfg;
  cfg.prefetch = false;
  make(cfg);
  cache_at(0);
  const size_t sent = io.sent.size();
  fwd->on_query(client(2000), cb(query_for("example.test", 3)), at(271));
  EXPECT_EQ(io.sent.size(), sent);
  EXPECT_EQ(fwd->stats().prefetch, 0u);
}

// A failed prefetch leaves the entry as it was; the next hit may try again.
TEST_F(ForwarderStaleTest, FailedPrefetchAnswersNobody) {
  cache_at(0);
  fwd->on_query(client(2000), cb(query_for("example.test", 3)), at(271));
  EXPECT_EQ(fwd->pending(), 1u);
  upstreams_silent(271.1, 274);
  EXPECT_EQ(fwd->pending(), 0u);
  EXPECT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(fwd->stats().servfail, 0u);
  fwd->on_query(client(2000), cb(query_for("example.test", 4)), at(275));
  EXPECT_EQ(fwd->stats().prefetch, 2u);
}

// A client asking while a refresh is in flight waits on it.
TEST_F(ForwarderStaleTest, ClientJoinsABackgroundQuery) {
  cache_at(0);
  fwd->on_query(client(2000), cb(query_for("example.test", 3)), at(299.5));  // prefetch
  EXPECT_TRUE(fwd->on_query(client(2001), cb(query_for("example.test", 4)), at(300.5)));
  EXPECT_EQ(fwd->stats().coalesced, 1u);
  reply_to_last(300.6);
  ASSERT_EQ(io.answers.size(), 3u);
  EXPECT_EQ(io.answers[2].outcome, Outcome::kUpstream);
  EXPECT_EQ(parsed(io.answers[2].msg).id(), 4);
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
