// Background queries and serve-stale (forwarder.hpp; cache.hpp "Serve
// stale", "Prefetch").
//
// A background query is a pending query nobody waits on: the same
// attempts, failover, deadline and loop detection as a client's, and its
// answer goes into the cache like any other. Two things start one:
//   * prefetch: a fresh cache hit in the last tenth of the entry's TTL
//     (CacheHit::prefetch), so an entry in use is replaced before it
//     expires and its clients never see a miss;
//   * refresh: a hit on an expired entry in its recheck window
//     (CacheHit::stale), served stale at once; the refresh's answer, once
//     an upstream is back, replaces it.
// The question index makes it one at a time per question: while one is in
// flight (or a client's query for the same question), no other starts,
// and a client who asks meanwhile misses the cache and simply waits on it.
//
// Serve-stale proper happens when a client's query fails (fail_pending):
// every upstream of its set failed or the deadline passed. If the cache
// still keeps the expired entry (within stale_max), the client gets it
// with TTL 30 instead of SERVFAIL (RFC 8767 4), and the entry's recheck
// window starts.
#include "dns/forwarder.hpp"

namespace tapir::dns {

std::optional<uint16_t> Forwarder::set_for(const Name& qname) const {
  const auto route = config_.routes.match(qname);
  if (route && config_.routes.routes()[*route].local) return std::nullopt;
  return static_cast<uint16_t>(route ? *route + 1 : 0);
}

int32_t Forwarder::open_pending(const Message& query, uint16_t set, uint64_t hash, MonoTime now) {
  const int32_t s = new_pending();
  if (s < 0) return -1;
  const auto q = query.question();
  const auto e = query.edns();
  Pending& p = pending_[static_cast<size_t>(s)];
  p.qname = query.qname();
  p.qtype = q->qtype;
  p.qclass = q->qclass;
  p.dnssec_ok = e && e->dnssec_ok;
  p.rd = query.rd();
  p.cd = query.cd();
  p.hash = hash;
  p.set = set;
  p.deadline = now + config_.total_deadline;
  int32_t& head = buckets_[hash & (buckets_.size() - 1)];
  p.next_in_bucket = head;
  head = s;
  return s;
}

bool Forwarder::refresh(const Message& query, MonoTime now) {
  const auto set = set_for(query.qname());
  if (!set || sets_[*set].size() == 0) return false;
  const auto q = query.question();
  const auto e = query.edns();
  const bool dnssec_ok = e && e->dnssec_ok;
  const uint64_t hash = question_hash(query.qname(), q->qtype, q->qclass, dnssec_ok, query.cd());
  if (find_pending(query.qname(), q->qtype, q->qclass, dnssec_ok, query.cd(), hash) >= 0) {
    return false;  // already asked: one at a time
  }
  const int32_t s = open_pending(query, *set, hash, now);
  if (s < 0) {
    ++stats_.pool_full;
    return false;
  }
  const auto slot = static_cast<uint32_t>(s);
  if (*set != 0) ++stats_.routed;
  if (!send_next(slot, now)) {
    fail_pending(slot, now, FailReason::kExhausted);  // nobody to answer
    return false;
  }
  return true;
}

std::optional<size_t> Forwarder::serve_stale(ConstBytes query, MonoTime now) {
  const auto m = Message::parse(query);
  if (!m) return std::nullopt;
  return cache_.lookup_stale(*m, now, MutBytes(scratch_));
}

}  // namespace tapir::dns
