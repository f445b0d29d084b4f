#include "dns/query_log.hpp"

#include <gtest/gtest.h>

#include <string>

#include "forwarder_fixtures.hpp"

namespace tapir::dns {
namespace {

using namespace tapir::dns::test;  // NOLINT: the shared fixtures

TEST(DnsQueryLog, JsonEscapesEveryByteThatIsNotPrintableAscii) {
  EXPECT_EQ(json_escape("example.test"), "example.test");
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape(std::string("\x00\x1f\x7f", 3)), "\\u0000\\u001f\\u007f");
  EXPECT_EQ(json_escape("\xc3\xa9\xff"), "\\u00c3\\u00a9\\u00ff");
  EXPECT_EQ(json_escape("tab\there\n"), "tab\\u0009here\\u000a");
}

// Labels byte for byte: a dot and a backslash inside one escaped as in a
// zone file, then everything JSON needs, non-ASCII as \u00XX.
TEST(DnsQueryLog, JsonNameKeepsEveryByteOfEveryLabel) {
  Bytes q = query_for("xxxxx.test", 1);
  const uint8_t label[] = {'a', '.', 'b', '\\', 0xc3};
  for (size_t i = 0; i < sizeof label; ++i) q[13 + i] = label[i];
  EXPECT_EQ(json_name(parsed(q).qname()), R"(a\\.b\\\\\u00c3.test)");
  EXPECT_EQ(json_name(parsed(query_for("Example.TEST", 1)).qname()), "Example.TEST");
}

TEST(DnsQueryLog, Rfc3339UtcWithMilliseconds) {
  EXPECT_EQ(rfc3339_utc_ms({0, 0}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_utc_ms({1796228650, 123999}), "2026-12-02T16:24:10.123Z");
}

TEST(DnsQueryLog, TextLineIsTheOldOne) {
  const Bytes a = answer_to(query_for("example.test", 1));
  EXPECT_EQ(query_log_text("10.0.2.100:40000", cb(a)),
            "dns: 10.0.2.100:40000 example.test type 1 -> rcode 0, 1 answers");
  EXPECT_EQ(query_log_text("tcp#0", cb(Bytes{1, 2})), "dns: tcp#0 -> malformed answer");
}

TEST(DnsQueryLog, JsonLineForAnUpstreamAnswer) {
  const Bytes a = answer_to(query_for("example.test", 1), 2);
  const AnswerInfo info{Outcome::kUpstream, FailReason::kNone, &kUp0, Duration::micros(1500)};
  EXPECT_EQ(query_log_json({1796228650, 5000}, "10.0.2.100:40000", cb(a), info),
            R"({"time":"2026-12-02T16:24:10.005Z","client":"10.0.2.100:40000",)"
            R"("name":"example.test","type":1,"outcome":"upstream","rcode":0,"answers":2,)"
            R"("upstream":"127.0.0.1:5353","latency_ms":1.500})");
}

TEST(DnsQueryLog, JsonLineForServfailStaleAndOddNames) {
  Bytes q = query_for("x.test", 1);
  q[13] = '"';  // the label "x" becomes "\""
  const Bytes a = answer_to(q, 0, rcode::kServFail);
  EXPECT_EQ(query_log_json({0, 0}, "[fd00::100]:53", cb(a), {Outcome::kServfail, FailReason::kDeadline}),
            R"({"time":"1970-01-01T00:00:00.000Z","client":"[fd00::100]:53",)"
            R"("name":"\".test","type":1,"outcome":"servfail","rcode":2,"answers":0,)"
            R"("reason":"deadline"})");
  const Bytes s = answer_to(query_for("example.test", 1));
  EXPECT_EQ(query_log_json({0, 0}, "c", cb(s), {Outcome::kStale, FailReason::kExhausted}),
            R"({"time":"1970-01-01T00:00:00.000Z","client":"c","name":"example.test",)"
            R"("type":1,"outcome":"stale","rcode":0,"answers":1,"reason":"exhausted"})");
  EXPECT_EQ(query_log_json({0, 0}, "c", cb(Bytes{1}), {Outcome::kCache}),
            R"({"time":"1970-01-01T00:00:00.000Z","client":"c","outcome":"malformed"})");
}

}  // namespace
}  // namespace tapir::dns
