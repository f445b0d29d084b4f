#include "dns/upstream_set.hpp"

namespace tapir::dns {
namespace {

bool tried_bit(uint64_t tried, size_t i) {
  return ((tried >> i) & 1u) != 0;
}

}  // namespace

void UpstreamSet::set_upstreams(const std::vector<Endpoint>& upstreams) {
  std::vector<Entry> next;
  for (const Endpoint& e : upstreams) {
    if (next.size() == kMaxUpstreams) break;
    Entry entry{e, {}, {}};
    for (const Entry& old : entries_) {
      if (old.endpoint == e) entry = old;
    }
    next.push_back(entry);
  }
  entries_ = std::move(next);
}

std::optional<size_t> UpstreamSet::pick(uint64_t tried) const {
  std::optional<size_t> fallback;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (tried_bit(tried, i) || entries_[i].stats.looping) continue;
    if (entries_[i].stats.healthy) return i;
    if (!fallback) fallback = i;
  }
  return fallback;
}

std::optional<size_t> UpstreamSet::take_probe(MonoTime now) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    Entry& e = entries_[i];
    if (e.stats.healthy || e.stats.looping || now < e.next_probe) continue;
    e.next_probe = now + config_.reprobe_interval;
    return i;
  }
  return std::nullopt;
}

void UpstreamSet::on_sent(size_t i) {
  ++entries_.at(i).stats.queries;
}

void UpstreamSet::on_reply(size_t i, Duration rtt) {
  UpstreamStats& s = entries_.at(i).stats;
  ++s.replies;
  s.healthy = true;
  // SRTT <- SRTT + (RTT - SRTT) / 8 (RFC 6298 2.3); the first sample is taken as is.
  s.srtt = s.replies == 1 ? rtt : Duration::nanos(s.srtt.ns + (rtt.ns - s.srtt.ns) / 8);
}

void UpstreamSet::on_timeout(size_t i, MonoTime now) {
  Entry& e = entries_.at(i);
  ++e.stats.timeouts;
  if (e.stats.healthy || now >= e.next_probe) e.next_probe = now + config_.reprobe_interval;
  e.stats.healthy = false;
}

bool UpstreamSet::on_loop(size_t i, MonoTime now) {
  UpstreamStats& s = entries_.at(i).stats;
  ++s.loops;
  entries_[i].loop_until = now + config_.loop_holdoff;
  const bool first = !s.looping;
  s.looping = true;
  return first;
}

void UpstreamSet::expire_loops(MonoTime now) {
  for (Entry& e : entries_) {
    if (e.stats.looping && now >= e.loop_until) e.stats.looping = false;
  }
}

OutstandingQuery OutstandingQuery::from_sent(const Endpoint& to, const Message& sent) {
  const auto q = sent.question();
  TAPIR_CHECK(q.has_value());
  return {to, sent.id(), sent.qname(), q->qtype, q->qclass};
}

const char* reply_check_name(ReplyCheck c) noexcept {
  switch (c) {
    case ReplyCheck::kMatch: return "match";
    case ReplyCheck::kWrongSource: return "wrong_source";
    case ReplyCheck::kMalformed: return "malformed";
    case ReplyCheck::kWrongId: return "wrong_id";
    case ReplyCheck::kNotResponse: return "not_response";
    case ReplyCheck::kWrongQuestion: return "wrong_question";
  }
  return "unknown";
}

ReplyCheck check_reply(const OutstandingQuery& q, const Endpoint& from, ConstBytes reply) {
  if (!from.same_address_port(q.upstream)) return ReplyCheck::kWrongSource;
  if (reply.size() < kHeaderLen) return ReplyCheck::kMalformed;
  // The ID before a full parse: most spoofing attempts stop here, cheaply.
  if (wire::load_be16(reply, Message::kIdOffset) != q.id) return ReplyCheck::kWrongId;
  auto m = Message::parse(reply);
  if (!m) return ReplyCheck::kMalformed;
  if (!m->qr()) return ReplyCheck::kNotResponse;
  const auto question = m->question();
  if (m->qdcount() != 1 || !question || question->qtype != q.qtype ||
      question->qclass != q.qclass || !m->qname().equals_ci(q.qname)) {
    return ReplyCheck::kWrongQuestion;
  }
  return ReplyCheck::kMatch;
}

}  // namespace tapir::dns
