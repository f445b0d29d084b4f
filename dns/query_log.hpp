#pragma once
// The query log's lines (--dns-log, --dns-log-format): one per answer the
// forwarder hands out, built from the answer and its AnswerInfo. Pure:
// the glue (dns/io/service) supplies the time and the client's name and
// writes the line.
//
//   text (the default, unchanged since --dns-log began):
//     dns: 10.0.2.100:40000 example.test type 1 -> rcode 0, 1 answers
//   json (one object per line, JSON Lines):
//     {"time":"2026-12-02T16:24:10.123Z","client":"10.0.2.100:40000",
//      "name":"example.test","type":1,"outcome":"upstream","rcode":0,
//      "answers":1,"upstream":"127.0.0.1:53","latency_ms":1.234}
//     "truncated":true when TC is set; "reason" (deadline, exhausted,
//     no_upstream, no_room) for a SERVFAIL of ours and for a stale answer
//     served because the upstreams failed; "upstream" and "latency_ms"
//     only when an upstream answered. A name is its labels joined by dots,
//     byte for byte, a dot or backslash inside a label escaped with a
//     backslash (RFC 1035 5.1); in JSON `"` and `\` are escaped, and every
//     control character and every byte outside ASCII is written \u00XX
//     (the byte as its code point), so a line is always valid JSON (and
//     ASCII) whatever the guest asked.
//     An answer that does not parse: "outcome":"malformed" and no name.

#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "dns/forwarder.hpp"

namespace tapir::dns {

enum class LogFormat : uint8_t { kText, kJson };

const char* outcome_name(Outcome o) noexcept;
const char* fail_reason_name(FailReason r) noexcept;

// `s` as the inside of a JSON string (RFC 8259 7), ASCII only.
std::string json_escape(std::string_view s);
// `name` for the JSON line, escaped (above).
std::string json_name(const Name& name);
// "2026-12-02T16:24:10.123Z" (RFC 3339, UTC, milliseconds).
std::string rfc3339_utc_ms(WallTime t);

// The text line, without the log's own "tapir: info: " prefix.
std::string query_log_text(std::string_view client, ConstBytes answer);
// The JSON line, without a newline.
std::string query_log_json(WallTime t, std::string_view client, ConstBytes answer,
                           const AnswerInfo& info);

}  // namespace tapir::dns
