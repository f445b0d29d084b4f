// The forwarder's tables (forwarder.hpp, "Memory and allocation"): the
// index of questions in flight, the pending-query pool and the waiting
// clients' pool, all sized in the constructor.
#include "dns/forwarder.hpp"

#include <cstring>

namespace tapir::dns {

uint64_t Forwarder::question_hash(const Name& name, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
                                  bool checking_disabled) const {
  return index_hash_(QuestionKey(name, qtype, qclass, dnssec_ok, checking_disabled).view());
}

int32_t Forwarder::find_pending(const Name& name, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
                                bool checking_disabled, uint64_t hash) const {
  for (int32_t i = buckets_[hash & (buckets_.size() - 1)]; i >= 0;) {
    const Pending& p = pending_[static_cast<size_t>(i)];
    if (p.hash == hash && p.qtype == qtype && p.qclass == qclass && p.dnssec_ok == dnssec_ok &&
        p.cd == checking_disabled && p.qname.equals_ci(name)) {
      return i;
    }
    i = p.next_in_bucket;
  }
  return -1;
}

int32_t Forwarder::new_pending() {
  if (free_pending_.empty()) return -1;
  const int32_t slot = free_pending_.back();
  free_pending_.pop_back();
  ++pending_used_;
  Pending& p = pending_[static_cast<size_t>(slot)];
  // Attempts keep their generations across reuse: an old AttemptRef never
  // matches a new attempt in the same place.
  p.active = true;
  p.waiters = -1;
  p.tried = 0;
  p.next_in_bucket = -1;
  for (Attempt& a : p.attempts) a.open = a.live = false;
  return slot;
}

void Forwarder::finish_pending(uint32_t slot) {
  Pending& p = pending_[slot];
  for (size_t k = 0; k < kMaxAttempts; ++k) {
    Attempt& a = p.attempts[k];
    if (!a.open) continue;
    a.open = a.live = false;
    io_.close_query({static_cast<uint32_t>(slot * kMaxAttempts + k), a.generation});
  }
  while (p.waiters >= 0) {
    const int32_t w = p.waiters;
    p.waiters = waiters_[static_cast<size_t>(w)].next;
    waiters_[static_cast<size_t>(w)].next = free_waiters_;
    free_waiters_ = w;
  }
  int32_t* link = &buckets_[p.hash & (buckets_.size() - 1)];
  while (*link >= 0 && *link != static_cast<int32_t>(slot)) {
    link = &pending_[static_cast<size_t>(*link)].next_in_bucket;
  }
  if (*link == static_cast<int32_t>(slot)) *link = p.next_in_bucket;
  p.active = false;
  free_pending_.push_back(static_cast<int32_t>(slot));
  --pending_used_;
}

void Forwarder::fill_waiter(Waiter& w, const ClientKey& client, const Message& query) {
  const auto e = query.edns();
  w.client = client;
  w.id = query.id();
  w.rd = query.rd();
  w.cd = query.cd();
  w.edns = e.has_value();
  w.udp_limit = client.transport == ClientKey::Transport::kTcp
                    ? 0
                    : (e ? e->effective_udp_size() : kClassicUdpSize);
  w.qname = query.qname();
}

bool Forwarder::add_waiter(Pending& p, const ClientKey& client, const Message& query) {
  if (free_waiters_ < 0) return false;
  const int32_t i = free_waiters_;
  Waiter& w = waiters_[static_cast<size_t>(i)];
  free_waiters_ = w.next;
  fill_waiter(w, client, query);
  // Appended, so clients are answered in the order they asked.
  w.next = -1;
  int32_t* link = &p.waiters;
  while (*link >= 0) link = &waiters_[static_cast<size_t>(*link)].next;
  *link = i;
  return true;
}

}  // namespace tapir::dns
