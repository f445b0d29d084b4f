#include "dns/forwarder.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message_build.hpp"
#include "dns/message_edit.hpp"
#include "forwarder_fixtures.hpp"

namespace tapir::dns {
namespace {

using namespace tapir::dns::test;  // NOLINT: the shared fixtures

TEST_F(ForwarderTest, BuiltinNameIsAnsweredWithoutAskingUpstream) {
  fwd->on_query(client(1000), cb(query_for("host.containers.internal", 9)), at(0));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_TRUE(io.sent.empty());
  const Message a = parsed(io.answers[0].msg);
  EXPECT_EQ(a.id(), 9);
  EXPECT_EQ(a.rcode(), rcode::kNoError);
  EXPECT_EQ(a.ancount(), 1);
  EXPECT_EQ(fwd->stats().builtin, 1u);
}

TEST_F(ForwarderTest, GarbageGetsFormerrShortAndResponsesAreDropped) {
  // A header claiming one question and nothing after it.
  Bytes garbage = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f};
  fwd->on_query(client(1000), cb(garbage), at(0));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(io.answers[0].msg[0], 0x12);
  EXPECT_EQ(io.answers[0].msg[1], 0x34);
  EXPECT_EQ(io.answers[0].msg[3] & 0xf, rcode::kFormErr);

  fwd->on_query(client(1000), cb(Bytes{1, 2, 3}), at(0));
  Bytes response = query_for("example.test", 5);
  response[2] |= 0x80;  // QR
  fwd->on_query(client(1000), cb(response), at(0));
  EXPECT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(fwd->stats().dropped, 2u);
  EXPECT_TRUE(io.sent.empty());
}

TEST_F(ForwarderTest, MissGoesUpstreamWithAFreshIdAndTheAnswerComesBackAsTheClients) {
  fwd->on_query(client(1000), cb(query_for("ExAmple.TEST", 777)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].to, kUp0);
  const Message up = parsed(io.sent[0].msg);
  EXPECT_TRUE(up.qname().equals_ci(*Name::from_text("example.test")));
  ASSERT_TRUE(up.edns().has_value());
  EXPECT_EQ(up.edns()->udp_payload_size, kAdvertisedUdpSize);
  EXPECT_TRUE(io.answers.empty());

  // dnsmasq-like: the answer's question in lower case.
  Bytes reply = answer_to(query_for("example.test", up.id()));
  fwd->on_reply(io.sent[0].ref, kUp0, cb(reply), at(0.01));
  ASSERT_EQ(io.answers.size(), 1u);
  const Message a = parsed(io.answers[0].msg);
  EXPECT_EQ(a.id(), 777);
  EXPECT_EQ(a.qname().to_string(), "ExAmple.TEST");  // the client's 0x20 case
  EXPECT_EQ(a.ancount(), 1);
  EXPECT_TRUE(io.is_closed(io.sent[0].ref));
  EXPECT_EQ(fwd->pending(), 0u);

  // Second time: from the cache, nothing sent.
  fwd->on_query(client(1001), cb(query_for("example.test", 778)), at(5));
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(parsed(io.answers[1].msg).id(), 778);
  EXPECT_EQ(fwd->stats().cache_hits, 1u);
}

TEST_F(ForwarderTest, IdenticalQuestionsInFlightAreCoalesced) {
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  fwd->on_query(client(1001), cb(query_for("EXAMPLE.test", 2)), at(0.1));
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0.2));  // retransmission
  fwd->on_query(client(1002), cb(query_for("example.test", 3, rrtype::kAaaa)), at(0.2));
  ASSERT_EQ(io.sent.size(), 2u);  // A once, AAAA once
  EXPECT_EQ(fwd->stats().coalesced, 1u);
  EXPECT_EQ(fwd->stats().retransmits, 1u);

  const Message up = parsed(io.sent[0].msg);
  fwd->on_reply(io.sent[0].ref, kUp0, cb(answer_to(query_for("example.test", up.id()))), at(0.3));
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(io.answers[0].to.port, 1000);
  EXPECT_EQ(parsed(io.answers[0].msg).id(), 1);
  EXPECT_EQ(io.answers[1].to.port, 1001);
  EXPECT_EQ(parsed(io.answers[1].msg).id(), 2);
  EXPECT_EQ(parsed(io.answers[1].msg).qname().to_string(), "EXAMPLE.test");
  EXPECT_EQ(fwd->pending(), 1u);  // the AAAA one
}

TEST_F(ForwarderTest, SpoofedRepliesAreIgnoredAndTheRealOneServed) {
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  const auto ref = io.sent[0].ref;
  const uint16_t id = parsed(io.sent[0].msg).id();
  fwd->on_reply(ref, kUp1, cb(answer_to(query_for("example.test", id))), at(0.01));  // wrong port
  fwd->on_reply(ref, kUp0, cb(answer_to(query_for("example.test", static_cast<uint16_t>(id + 1)))), at(0.01));
  fwd->on_reply(ref, kUp0, cb(answer_to(query_for("other.test", id))), at(0.01));  // wrong question
  fwd->on_reply(ref, kUp0, cb(Bytes{1, 2, 3}), at(0.01));
  EXPECT_TRUE(io.answers.empty());
  EXPECT_EQ(fwd->stats().rejected_replies, 4u);
  fwd->on_reply(ref, kUp0, cb(answer_to(query_for("example.test", id))), at(0.02));
  ASSERT_EQ(io.answers.size(), 1u);
  // After the query is done, its attempt no longer takes replies.
  fwd->on_reply(ref, kUp0, cb(answer_to(query_for("example.test", id))), at(0.03));
  EXPECT_EQ(io.answers.size(), 1u);
}

TEST_F(ForwarderTest, SilentFirstUpstreamFailsOverAfterOneSecondAndIsSkippedNextTime) {
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  fwd->on_tick(at(0.9));
  EXPECT_EQ(io.sent.size(), 1u);
  fwd->on_tick(at(1.0));
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[1].to, kUp1);
  const uint16_t id0 = parsed(io.sent[0].msg).id();
  const uint16_t id1 = parsed(io.sent[1].msg).id();
  EXPECT_FALSE(io.is_closed(io.sent[0].ref));  // a late answer is still welcome
  fwd->on_reply(io.sent[1].ref, kUp1, cb(answer_to(query_for("example.test", id1))), at(1.01));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).id(), 1);
  EXPECT_TRUE(io.is_closed(io.sent[0].ref));
  EXPECT_FALSE(fwd->upstreams().stats(0).healthy);
  (void)id0;

  // The next question goes straight to the healthy second upstream.
  fwd->on_query(client(1000), cb(query_for("other.test", 2)), at(2));
  ASSERT_EQ(io.sent.size(), 3u);
  EXPECT_EQ(io.sent[2].to, kUp1);
}

TEST_F(ForwarderTest, LateAnswerFromTheFirstUpstreamIsAccepted) {
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  fwd->on_tick(at(1.0));
  ASSERT_EQ(io.sent.size(), 2u);
  const uint16_t id0 = parsed(io.sent[0].msg).id();
  fwd->on_reply(io.sent[0].ref, kUp0, cb(answer_to(query_for("example.test", id0))), at(1.2));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_TRUE(fwd->upstreams().stats(0).healthy);  // it answered after all
  EXPECT_TRUE(io.is_closed(io.sent[1].ref));
}

TEST_F(ForwarderTest, DeadlineGivesServfailNeverNxdomain) {
  fwd->on_query(client(1000), cb(query_for("example.test", 1, rrtype::kA, std::nullopt)), at(0));
  fwd->on_query(client(1001), cb(query_for("example.test", 2, rrtype::kA, std::nullopt)), at(0.5));
  for (double t = 0.1; t < 2.45; t += 0.1) fwd->on_tick(at(t));
  EXPECT_TRUE(io.answers.empty());
  EXPECT_EQ(io.sent.size(), 2u);  // both upstreams tried
  fwd->on_tick(at(2.5));
  ASSERT_EQ(io.answers.size(), 2u);
  for (const auto& a : io.answers) {
    const Message m = parsed(a.msg);
    EXPECT_EQ(m.rcode(), rcode::kServFail);
    EXPECT_TRUE(m.qr());
    EXPECT_FALSE(m.edns().has_value());  // the client sent no OPT
    EXPECT_EQ(m.qname().to_string(), "example.test");
  }
  EXPECT_EQ(parsed(io.answers[1].msg).id(), 2);
  EXPECT_TRUE(io.is_closed(io.sent[0].ref));
  EXPECT_TRUE(io.is_closed(io.sent[1].ref));
  EXPECT_EQ(fwd->pending(), 0u);
}

TEST_F(ForwarderTest, SocketErrorFailsOverAtOnce) {
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  fwd->on_attempt_error(io.sent[0].ref, at(0.001));
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[1].to, kUp1);
  EXPECT_TRUE(io.is_closed(io.sent[0].ref));
  fwd->on_attempt_error(io.sent[1].ref, at(0.002));
  ASSERT_EQ(io.answers.size(), 1u);  // nobody left to ask
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);
}

TEST_F(ForwarderTest, NoUpstreamOrFailingSocketsGiveServfail) {
  make({}, {});
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);

  make({});
  io.fail_sends = true;
  fwd->on_query(client(1000), cb(query_for("example.test", 1)), at(0));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);
  EXPECT_EQ(fwd->pending(), 0u);
}

TEST_F(ForwarderTest, NxdomainIsPassedOn) {
  fwd->on_query(client(1000), cb(query_for("missing.test", 1)), at(0));
  const uint16_t id = parsed(io.sent[0].msg).id();
  fwd->on_reply(io.sent[0].ref, kUp0, cb(answer_to(query_for("missing.test", id), 0, rcode::kNxDomain)), at(0.01));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kNxDomain);
}

TEST_F(ForwarderTest, AnswersAreClampedToTheClientsUdpSize) {
  // A classic client (no OPT): 512 bytes at most, no OPT, TC when answers were cut.
  fwd->on_query(client(1000), cb(query_for("big.test", 1, rrtype::kA, std::nullopt)), at(0));
  fwd->on_query(client(1001), cb(query_for("big.test", 2)), at(0));  // EDNS 1232
  ASSERT_EQ(io.sent.size(), 1u);
  const uint16_t id = parsed(io.sent[0].msg).id();
  const Bytes big = answer_to(query_for("big.test", id), 50);  // 50 * 16 bytes of A records
  ASSERT_GT(big.size(), 512u);
  fwd->on_reply(io.sent[0].ref, kUp0, cb(big), at(0.01));
  ASSERT_EQ(io.answers.size(), 2u);
  const Message classic = parsed(io.answers[0].msg);
  EXPECT_LE(io.answers[0].msg.size(), 512u);
  EXPECT_TRUE(classic.tc());
  EXPECT_FALSE(classic.edns().has_value());
  const Message edns = parsed(io.answers[1].msg);
  EXPECT_FALSE(edns.tc());
  EXPECT_EQ(edns.ancount(), 50);
}

TEST_F(ForwarderTest, FullPoolsAnswerServfail) {
  ForwarderConfig cfg;
  cfg.max_pending = 1;
  cfg.max_waiters = 2;
  make(cfg);
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  fwd->on_query(client(1001), cb(query_for("b.test", 2)), at(0));  // no pending slot
  fwd->on_query(client(1002), cb(query_for("a.test", 3)), at(0));  // second waiter
  fwd->on_query(client(1003), cb(query_for("a.test", 4)), at(0));  // no waiter left
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(parsed(io.answers[0].msg).id(), 2);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);
  EXPECT_EQ(parsed(io.answers[1].msg).id(), 4);
  EXPECT_EQ(fwd->stats().pool_full, 2u);
  // Slots come back: after the deadline the pool serves again.
  fwd->on_tick(at(3));
  fwd->on_query(client(1001), cb(query_for("b.test", 5)), at(3));
  EXPECT_EQ(fwd->pending(), 1u);
}

TEST_F(ForwarderTest, ReprobesAnUnhealthyUpstreamAlongsideARealQuery) {
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  fwd->on_tick(at(1));  // upstream 0 unhealthy, next probe at 11 s
  const uint16_t id = parsed(io.sent[1].msg).id();
  fwd->on_reply(io.sent[1].ref, kUp1, cb(answer_to(query_for("a.test", id))), at(1.1));
  fwd->on_query(client(1000), cb(query_for("b.test", 2)), at(12));
  ASSERT_EQ(io.sent.size(), 4u);
  EXPECT_EQ(io.sent[2].to, kUp1);
  EXPECT_EQ(io.sent[3].to, kUp0);  // the probe
  EXPECT_EQ(fwd->stats().probes, 1u);
}

Bytes truncated(Bytes reply) {
  reply[2] |= 0x02;  // TC
  return reply;
}

TEST_F(ForwarderTest, TruncatedAnswerIsAskedAgainOverTcpAndTheFullOneServed) {
  fwd->on_query(client(1000), cb(query_for("big.test", 1, rrtype::kA, std::nullopt)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  const uint16_t id = parsed(io.sent[0].msg).id();
  fwd->on_reply(io.sent[0].ref, kUp0, cb(truncated(answer_to(query_for("big.test", id)))), at(0.5));
  EXPECT_TRUE(io.answers.empty());
  ASSERT_EQ(io.sent_tcp.size(), 1u);
  EXPECT_EQ(io.sent_tcp[0].ref, io.sent[0].ref);  // the same attempt, now over TCP
  EXPECT_EQ(io.sent_tcp[0].to, kUp0);
  EXPECT_EQ(parsed(io.sent_tcp[0].msg).id(), id);
  EXPECT_EQ(fwd->stats().tcp_retries, 1u);
  // Its own timer: 0.5 s + 0.9 s is past the UDP send's 1 s, not the TCP one's.
  fwd->on_tick(at(1.4));
  EXPECT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(fwd->stats().timeouts, 0u);

  // 40 records: more than 512 bytes, the full answer.
  const Bytes full = answer_to(query_for("big.test", id), 40);
  ASSERT_GT(full.size(), 512u);
  fwd->on_reply(io.sent[0].ref, kUp0, cb(full), at(1.5));
  ASSERT_EQ(io.answers.size(), 1u);
  const Message a = parsed(io.answers[0].msg);
  EXPECT_EQ(a.id(), 1);
  EXPECT_TRUE(a.tc());  // a classic UDP client gets 512 bytes and TC ...
  EXPECT_LE(io.answers[0].msg.size(), 512u);

  // ... a TCP client the whole answer, from the cache (the full one was kept).
  ClientKey tcp = client(1001);
  tcp.transport = ClientKey::Transport::kTcp;
  fwd->on_query(tcp, cb(query_for("big.test", 2, rrtype::kA, std::nullopt)), at(2));
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(fwd->stats().cache_hits, 1u);
  EXPECT_FALSE(parsed(io.answers[1].msg).tc());
  EXPECT_EQ(parsed(io.answers[1].msg).ancount(), 40);
}

TEST_F(ForwarderTest, TruncatedAnswerIsServedAsItIsWhenTcpCannotStart) {
  io.tcp_works = false;
  fwd->on_query(client(1000), cb(query_for("big.test", 1)), at(0));
  const uint16_t id = parsed(io.sent[0].msg).id();
  fwd->on_reply(io.sent[0].ref, kUp0, cb(truncated(answer_to(query_for("big.test", id)))), at(0.1));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_TRUE(parsed(io.answers[0].msg).tc());
  EXPECT_EQ(fwd->stats().tcp_retries, 0u);
  EXPECT_EQ(fwd->cache().size(), 0u);  // a TC answer is never cached
}

TEST_F(ForwarderTest, TcpRetryThatTimesOutFailsOverToTheNextUpstream) {
  fwd->on_query(client(1000), cb(query_for("big.test", 1)), at(0));
  const uint16_t id = parsed(io.sent[0].msg).id();
  fwd->on_reply(io.sent[0].ref, kUp0, cb(truncated(answer_to(query_for("big.test", id)))), at(0.1));
  ASSERT_EQ(io.sent_tcp.size(), 1u);
  fwd->on_tick(at(1.2));  // the TCP exchange's 1 s is over
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[1].to, kUp1);
  const uint16_t id1 = parsed(io.sent[1].msg).id();
  const Bytes tc1 = truncated(answer_to(query_for("big.test", id1)));
  fwd->on_reply(io.sent[1].ref, kUp1, cb(tc1), at(1.3));
  ASSERT_EQ(io.sent_tcp.size(), 2u);
  // TC again, over TCP (an odd upstream): served, not retried again.
  fwd->on_reply(io.sent[1].ref, kUp1, cb(tc1), at(1.4));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_TRUE(parsed(io.answers[0].msg).tc());
  EXPECT_EQ(io.sent_tcp.size(), 2u);
}

TEST_F(ForwarderTest, SnapshotHasWhatTheControlApiShows) {
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  fwd->on_tick(at(1));  // upstream 0 times out; upstream 1 is asked
  ASSERT_EQ(io.sent.size(), 2u);
  const uint16_t id = parsed(io.sent[1].msg).id();
  fwd->on_reply(io.sent[1].ref, kUp1, cb(answer_to(query_for("a.test", id))), at(1.004));
  fwd->on_query(client(1000), cb(query_for("a.test", 2)), at(2));               // cache hit
  fwd->on_query(client(1000), cb(query_for("host.containers.internal", 3)), at(2));  // built-in
  const DnsStatsSnapshot s = fwd->snapshot();
  EXPECT_EQ(s.queries, 3u);
  EXPECT_EQ(s.cache_hits, 1u);
  EXPECT_EQ(s.cache_misses, 1u);
  EXPECT_EQ(s.cache_entries, 1u);
  EXPECT_EQ(s.builtin, 1u);
  EXPECT_EQ(s.upstream_queries, 2u);
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.servfail, 0u);
  ASSERT_EQ(s.upstreams.size(), 2u);
  EXPECT_EQ(s.upstreams[0].address, "127.0.0.1:5353");
  EXPECT_FALSE(s.upstreams[0].healthy);
  EXPECT_EQ(s.upstreams[0].timeouts, 1u);
  EXPECT_EQ(s.upstreams[0].latency_us, 0u);  // never answered
  EXPECT_TRUE(s.upstreams[1].healthy);
  EXPECT_EQ(s.upstreams[1].replies, 1u);
  EXPECT_EQ(s.upstreams[1].latency_us, 4000u);
}

// A relay (or a resolver that forwards back) hands our own upstream query
// to the guest side: same question, same random ID.
TEST_F(ForwarderTest, OwnQueryComingBackIsALoopDroppedAndTheNextUpstreamAskedAtOnce) {
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].to, kUp0);
  // The looped copy arrives as a client query, from wherever the loop ends.
  fwd->on_query(client(40000), cb(io.sent[0].msg), at(0.01));
  EXPECT_EQ(fwd->stats().loops, 1u);
  EXPECT_TRUE(io.answers.empty());  // not answered: an answer would go round again
  EXPECT_TRUE(io.is_closed(io.sent[0].ref));
  ASSERT_EQ(io.sent.size(), 2u);  // failover without waiting for the timeout
  EXPECT_EQ(io.sent[1].to, kUp1);
  ASSERT_EQ(io.loops.size(), 1u);
  EXPECT_EQ(io.loops[0], kUp0);
  EXPECT_TRUE(fwd->upstreams().stats(0).looping);
  EXPECT_EQ(fwd->stats().timeouts, 0u);  // a loop is not a timeout
  const uint16_t id = parsed(io.sent[1].msg).id();
  fwd->on_reply(io.sent[1].ref, kUp1, cb(answer_to(query_for("a.test", id))), at(0.02));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(io.answers[0].to.port, 1000);

  // Later questions skip the looping upstream; no second log line.
  fwd->on_query(client(1000), cb(query_for("b.test", 2)), at(1));
  ASSERT_EQ(io.sent.size(), 3u);
  EXPECT_EQ(io.sent[2].to, kUp1);
  EXPECT_EQ(io.loops.size(), 1u);
}

TEST_F(ForwarderTest, OnlyUpstreamLoopingMeansServfailNotAWait) {
  make({}, {kUp0});
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  fwd->on_query(client(40000), cb(io.sent[0].msg), at(0.01));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(parsed(io.answers[0].msg).rcode(), rcode::kServFail);
  EXPECT_EQ(parsed(io.answers[0].msg).id(), 1);
  fwd->on_query(client(1000), cb(query_for("b.test", 2)), at(1));
  EXPECT_EQ(io.sent.size(), 1u);  // nothing fed to the loop
  ASSERT_EQ(io.answers.size(), 2u);
  EXPECT_EQ(parsed(io.answers[1].msg).rcode(), rcode::kServFail);
}

TEST_F(ForwarderTest, SameQuestionWithAnotherIdIsCoalescedNotALoop) {
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  const uint16_t id = parsed(io.sent[0].msg).id();
  fwd->on_query(client(1001), cb(query_for("a.test", static_cast<uint16_t>(id + 1))), at(0.01));
  EXPECT_EQ(fwd->stats().loops, 0u);
  EXPECT_EQ(fwd->stats().coalesced, 1u);
}

Bytes with_cd(Bytes q) {
  q[3] |= 0x10;  // CD (RFC 4035 3.2.2)
  return q;
}

// A CD=1 answer was not validated upstream: a CD=0 client asking the same
// question later is not served it from the cache.
TEST_F(ForwarderTest, CdAnswerIsNeverServedToACdZeroClient) {
  fwd->on_query(client(1000), cb(with_cd(query_for("a.test", 1))), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_TRUE(parsed(io.sent[0].msg).cd());
  fwd->on_reply(io.sent[0].ref, kUp0, cb(answer_to(io.sent[0].msg)), at(0.01));
  ASSERT_EQ(io.answers.size(), 1u);

  fwd->on_query(client(1001), cb(query_for("a.test", 2)), at(1));
  ASSERT_EQ(io.sent.size(), 2u);  // asked upstream, with CD=0
  EXPECT_FALSE(parsed(io.sent[1].msg).cd());
  EXPECT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(fwd->stats().cache_hits, 0u);
  // A CD=1 client still gets the CD=1 answer from the cache.
  fwd->on_query(client(1002), cb(with_cd(query_for("a.test", 3))), at(1));
  EXPECT_EQ(fwd->stats().cache_hits, 1u);
}

// Nor does a CD=0 client wait on a CD=1 question in flight, or the reverse.
TEST_F(ForwarderTest, CdAndNonCdQuestionsInFlightAreNotCoalesced) {
  fwd->on_query(client(1000), cb(with_cd(query_for("a.test", 1))), at(0));
  fwd->on_query(client(1001), cb(query_for("a.test", 2)), at(0));
  fwd->on_query(client(1002), cb(with_cd(query_for("a.test", 3))), at(0));
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(fwd->stats().coalesced, 1u);  // only the second CD=1 client
  EXPECT_TRUE(parsed(io.sent[0].msg).cd());
  EXPECT_FALSE(parsed(io.sent[1].msg).cd());
  fwd->on_reply(io.sent[1].ref, kUp0, cb(answer_to(io.sent[1].msg)), at(0.01));
  ASSERT_EQ(io.answers.size(), 1u);
  EXPECT_EQ(io.answers[0].to.port, 1001);
  EXPECT_FALSE(parsed(io.answers[0].msg).cd());
}

// The guest knows the question it has pending but not our upstream ID:
// asking it again with every ID must not pass for a loop (it used to:
// one of the 65536 was the attempt's), nor make the upstream be left out.
TEST_F(ForwarderTest, GuestRepeatingAPendingQuestionWithEveryIdCannotFakeALoop) {
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  for (uint32_t id = 0; id <= 0xffff; ++id) {
    fwd->on_query(client(2000), cb(query_for("a.test", static_cast<uint16_t>(id))), at(0.01));
  }
  EXPECT_EQ(fwd->stats().loops, 0u);
  EXPECT_TRUE(io.loops.empty());
  EXPECT_FALSE(fwd->upstreams().stats(0).looping);
  EXPECT_FALSE(io.is_closed(io.sent[0].ref));
  EXPECT_EQ(io.sent.size(), 1u);  // no failover either
  // The real answer still comes back to the first client (first in line).
  const size_t before = io.answers.size();
  fwd->on_reply(io.sent[0].ref, kUp0, cb(answer_to(io.sent[0].msg)), at(0.02));
  ASSERT_GT(io.answers.size(), before);
  EXPECT_EQ(io.answers[before].to.port, 1000);
  EXPECT_EQ(parsed(io.answers[before].msg).rcode(), rcode::kNoError);
}

// What marks our query is its nonce, not its ID: a relay that renumbers it
// (and keeps its OPT record) still shows as a loop.
TEST_F(ForwarderTest, LoopIsSeenThroughARelayThatChangesTheId) {
  fwd->on_query(client(1000), cb(query_for("a.test", 1)), at(0));
  ASSERT_EQ(io.sent.size(), 1u);
  const auto e = parsed(io.sent[0].msg).edns();
  ASSERT_TRUE(e.has_value());
  const auto nonce = find_edns_option(*e, kLoopNonceOption);
  ASSERT_TRUE(nonce.has_value());
  EXPECT_EQ(nonce->size(), 8u);
  Bytes looped = io.sent[0].msg;
  set_id(mb(looped), static_cast<uint16_t>(parsed(looped).id() ^ 0x5a5a));
  fwd->on_query(client(40000), cb(looped), at(0.01));
  EXPECT_EQ(fwd->stats().loops, 1u);
  ASSERT_EQ(io.sent.size(), 2u);
  EXPECT_EQ(io.sent[1].to, kUp1);
  // A fresh nonce for every attempt.
  EXPECT_NE(to_vec(*find_edns_option(*parsed(io.sent[1].msg).edns(), kLoopNonceOption)),
            to_vec(*nonce));
}

}  // namespace
}  // namespace tapir::dns
