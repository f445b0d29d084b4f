#include "dns/query_log.hpp"

#include <cstdio>
#include <ctime>

namespace tapir::dns {

const char* outcome_name(Outcome o) noexcept {
  switch (o) {
    case Outcome::kBuiltin: return "builtin";
    case Outcome::kHosts: return "hosts";
    case Outcome::kCache: return "cache";
    case Outcome::kStale: return "stale";
    case Outcome::kUpstream: return "upstream";
    case Outcome::kServfail: return "servfail";
    case Outcome::kLocal: return "local";
    case Outcome::kFormerr: return "formerr";
    case Outcome::kNotimp: return "notimp";
  }
  return "unknown";
}

const char* fail_reason_name(FailReason r) noexcept {
  switch (r) {
    case FailReason::kNone: return "none";
    case FailReason::kDeadline: return "deadline";
    case FailReason::kExhausted: return "exhausted";
    case FailReason::kNoUpstream: return "no_upstream";
    case FailReason::kNoRoom: return "no_room";
  }
  return "unknown";
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(ch);
    } else {
      // Control characters, DEL and every byte of a name that is not
      // ASCII: a name is bytes, not UTF-8, so each byte is its own code point.
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out.append(buf);
    }
  }
  return out;
}

std::string json_name(const Name& name) {
  if (name.is_root()) return ".";
  const ConstBytes w = name.wire();
  std::string labels;
  for (size_t i = 0; static_cast<uint8_t>(w[i]) != 0; i += 1u + static_cast<uint8_t>(w[i])) {
    if (i != 0) labels.push_back('.');
    for (size_t j = 1; j <= static_cast<uint8_t>(w[i]); ++j) {
      const char c = static_cast<char>(w[i + j]);
      // A dot or backslash inside a label, escaped as in a zone file
      // (RFC 1035 5.1), so the labels can be told apart again.
      if (c == '.' || c == '\\') labels.push_back('\\');
      labels.push_back(c);
    }
  }
  return json_escape(labels);
}

std::string rfc3339_utc_ms(WallTime t) {
  std::tm tm{};
  const std::time_t sec = static_cast<std::time_t>(t.sec);
  gmtime_r(&sec, &tm);
  char buf[96];  // room for any int the format allows; the result is 24
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>((t.usec / 1000) % 1000));
  return buf;
}

std::string query_log_text(std::string_view client, ConstBytes answer) {
  std::string line("dns: ");
  line.append(client);
  const auto m = Message::parse(answer);
  if (!m) return line.append(" -> malformed answer");
  const auto q = m->question();
  char tail[96];
  std::snprintf(tail, sizeof tail, " type %u -> rcode %u, %u answers%s", q ? q->qtype : 0U,
                m->rcode(), m->ancount(), m->tc() ? ", truncated" : "");
  return line.append(" ").append(m->qname().to_string()).append(tail);
}

std::string query_log_json(WallTime t, std::string_view client, ConstBytes answer,
                           const AnswerInfo& info) {
  std::string line("{\"time\":\"");
  line.append(rfc3339_utc_ms(t)).append("\",\"client\":\"").append(json_escape(client));
  const auto m = Message::parse(answer);
  if (!m) return line.append("\",\"outcome\":\"malformed\"}");
  const auto q = m->question();
  char num[64];
  std::snprintf(num, sizeof num, "\",\"type\":%u,\"outcome\":\"", q ? q->qtype : 0U);
  line.append("\",\"name\":\"").append(json_name(m->qname())).append(num);
  line.append(outcome_name(info.outcome));
  std::snprintf(num, sizeof num, "\",\"rcode\":%u,\"answers\":%u", m->rcode(), m->ancount());
  line.append(num);
  if (m->tc()) line.append(",\"truncated\":true");
  if (info.reason != FailReason::kNone) {
    line.append(",\"reason\":\"").append(fail_reason_name(info.reason)).append("\"");
  }
  if (info.outcome == Outcome::kUpstream && info.upstream != nullptr) {
    line.append(",\"upstream\":\"").append(json_escape(info.upstream->to_string())).append("\"");
    std::snprintf(num, sizeof num, ",\"latency_ms\":%.3f",
                  static_cast<double>(info.latency.ns) / 1e6);
    line.append(num);
  }
  return line.append("}");
}

}  // namespace tapir::dns
