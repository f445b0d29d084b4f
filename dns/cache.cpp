#include "dns/cache.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "dns/message_edit.hpp"

namespace tapir::dns {
namespace {

constexpr int64_t kNanosPerSecond = 1000 * 1000 * 1000;

// RFC 2308 5: min(SOA TTL, SOA MINIMUM) of the first SOA in authority.
std::optional<uint32_t> negative_ttl(const Message& m) {
  for (const Record& r : m.records(Section::kAuthority)) {
    if (r.type != rrtype::kSoa) continue;
    auto minimum = soa_minimum(m, r);
    if (!minimum) return std::nullopt;
    return std::min(r.ttl, *minimum);
  }
  return std::nullopt;
}

}  // namespace

QuestionKey::QuestionKey(Name name, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
                         bool checking_disabled) {
  name.to_lower();
  const ConstBytes w = name.wire();
  std::memcpy(buf_.data(), w.data(), w.size());
  size_t n = w.size();
  buf_[n++] = static_cast<char>(qtype >> 8);
  buf_[n++] = static_cast<char>(qtype & 0xff);
  buf_[n++] = static_cast<char>(qclass >> 8);
  buf_[n++] = static_cast<char>(qclass & 0xff);
  buf_[n++] = dnssec_ok ? '\1' : '\0';
  buf_[n++] = checking_disabled ? '\1' : '\0';
  len_ = n;
}

const char* cache_verdict_name(CacheVerdict v) noexcept {
  switch (v) {
    case CacheVerdict::kStored: return "stored";
    case CacheVerdict::kDisabled: return "disabled";
    case CacheVerdict::kMalformed: return "malformed";
    case CacheVerdict::kNotCacheable: return "not_cacheable";
    case CacheVerdict::kNoSoa: return "no_soa";
    case CacheVerdict::kZeroTtl: return "zero_ttl";
    case CacheVerdict::kTooLarge: return "too_large";
  }
  return "unknown";
}

Cache::Cache(CacheConfig config, KeyedHash hash)
    : config_(config), index_(16, KeyHash{hash}, KeyEq{}) {}

CacheVerdict Cache::insert(ConstBytes answer, bool dnssec_ok, bool checking_disabled,
                           MonoTime now) {
  if (config_.max_entries == 0) return CacheVerdict::kDisabled;
  auto m = Message::parse(answer);
  if (!m) return CacheVerdict::kMalformed;
  if (!m->qr() || m->tc() || m->opcode() != opcode::kQuery || m->qdcount() != 1) {
    return CacheVerdict::kNotCacheable;
  }
  const uint16_t rc = m->rcode_full();
  if (rc != rcode::kNoError && rc != rcode::kNxDomain) return CacheVerdict::kNotCacheable;
  const Name qname = m->qname();
  if (read_name(m->bytes(), kHeaderLen, nullptr).value() != kHeaderLen + qname.size()) {
    return CacheVerdict::kNotCacheable;  // compressed QNAME: case restore needs it in place
  }
  if (m->size() > config_.max_answer_bytes) return CacheVerdict::kTooLarge;

  // Every TTL becomes min(max(ttl, lo), hi); the entry lives as long as
  // the smallest result. Negative: hi is the RFC 2308 negative TTL.
  const uint32_t lo = config_.min_ttl;
  uint32_t hi = std::max(config_.max_ttl, lo);
  if (rc == rcode::kNxDomain || m->ancount() == 0) {
    const auto neg = negative_ttl(*m);
    if (!neg) return CacheVerdict::kNoSoa;
    hi = std::min(std::max(*neg, lo), config_.max_negative_ttl);
  }
  std::vector<uint8_t> copy(m->size());
  std::memcpy(copy.data(), m->bytes().data(), m->size());
  uint32_t lifetime = hi;
  rewrite_ttls(wire::as_writable_bytes(copy), [&](uint32_t ttl) {
    const uint32_t out = std::min(std::max(ttl, lo), hi);
    lifetime = std::min(lifetime, out);
    return out;
  });
  if (lifetime == 0) return CacheVerdict::kZeroTtl;

  const auto q = m->question();
  const QuestionKey qkey(qname, q->qtype, q->qclass, dnssec_ok, checking_disabled);
  const std::string_view key = qkey.view();
  if (auto it = index_.find(key); it != index_.end()) erase(it->second);
  lru_.push_front(Entry{std::string(key), std::move(copy), now, now + Duration::seconds(lifetime)});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  ++stats_.inserts;
  while (lru_.size() > config_.max_entries) {
    erase(std::prev(lru_.end()));
    ++stats_.evictions;
  }
  return CacheVerdict::kStored;
}

Cache::List::iterator Cache::find(const Message& query) {
  const auto q = query.question();
  if (lru_.empty() || !q || query.qdcount() != 1) return lru_.end();
  const auto e = query.edns();
  const auto it = index_.find(
      QuestionKey(query.qname(), q->qtype, q->qclass, e && e->dnssec_ok, query.cd()).view());
  return it == index_.end() ? lru_.end() : it->second;
}

bool Cache::drop_if_gone(List::iterator it, MonoTime now) {
  if (now < it->expires + Duration::seconds(config_.stale_max)) return false;
  erase(it);
  ++stats_.expired;
  return true;
}

std::optional<size_t> Cache::lookup(const Message& query, MonoTime now, MutBytes out,
                                    CacheHit* hit) {
  const List::iterator entry = find(query);
  if (entry == lru_.end() || (now >= entry->expires && drop_if_gone(entry, now))) {
    ++stats_.misses;
    return std::nullopt;
  }
  if (now >= entry->expires) {
    // Kept for serve-stale: stale at once only in its recheck window.
    if (hit == nullptr || now >= entry->recheck_until) {
      ++stats_.misses;
      return std::nullopt;
    }
    const auto n = serve(entry, query, now, out, true);
    if (n) {
      ++stats_.stale;
      hit->stale = true;
    }
    return n;
  }
  const auto n = serve(entry, query, now, out, false);
  if (!n) {
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  if (hit != nullptr) {
    // The last tenth of the lifetime the entry was stored with.
    const Duration lifetime = entry->expires - entry->stored;
    hit->prefetch = now >= entry->expires + Duration::nanos(-lifetime.ns / 10);
  }
  return n;
}

std::optional<size_t> Cache::lookup_stale(const Message& query, MonoTime now, MutBytes out) {
  if (config_.stale_max == 0) return std::nullopt;
  const List::iterator entry = find(query);
  if (entry == lru_.end() || now < entry->expires || drop_if_gone(entry, now)) return std::nullopt;
  const auto n = serve(entry, query, now, out, true);
  if (!n) return std::nullopt;
  entry->recheck_until = now + kStaleRecheck;
  ++stats_.stale;
  return n;
}

std::optional<size_t> Cache::serve(List::iterator entry, const Message& query, MonoTime now,
                                   MutBytes out, bool stale) {
  const size_t len = entry->answer.size();
  if (out.size() < len) return std::nullopt;
  std::memcpy(out.data(), entry->answer.data(), len);
  const MutBytes msg = out.first(len);
  if (stale) {
    rewrite_ttls(msg, [](uint32_t) { return kStaleTtl; });
  } else {
    const int64_t elapsed_ns = std::max<int64_t>(0, (now - entry->stored).ns);
    const int64_t elapsed_s = std::min<int64_t>(elapsed_ns / kNanosPerSecond, UINT32_MAX);
    age_ttls(msg, static_cast<uint32_t>(elapsed_s));
  }
  set_id(msg, query.id());
  copy_question_case(msg, query.qname());
  lru_.splice(lru_.begin(), lru_, entry);
  return len;
}

void Cache::erase(List::iterator it) {
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

void Cache::clear() {
  index_.clear();
  lru_.clear();
}

}  // namespace tapir::dns
