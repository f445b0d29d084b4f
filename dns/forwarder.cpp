#include "dns/forwarder.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "base/check.hpp"
#include "dns/message_build.hpp"
#include "dns/message_edit.hpp"

namespace tapir::dns {
namespace {

uint64_t bit(size_t i) { return uint64_t{1} << i; }

// splitmix64's finaliser: turns the test seed into well-spread key words.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A table's keyed hash: random, or derived from the test seed (`salt`
// tells the tables apart).
KeyedHash hash_for(uint64_t seed, uint64_t salt) {
  if (seed == 0) return KeyedHash{};
  return KeyedHash(mix(seed ^ salt), mix(seed + salt + 1));
}

// The loop nonce of an upstream query, if it carries one (message_build.hpp).
std::optional<uint64_t> loop_nonce_of(const Message& m) {
  const auto e = m.edns();
  if (!e) return std::nullopt;
  const auto v = find_edns_option(*e, kLoopNonceOption);
  if (!v || v->size() != 8) return std::nullopt;
  return (uint64_t{wire::load_be32(*v, 0)} << 32) | wire::load_be32(*v, 4);
}

}  // namespace

Forwarder::Forwarder(ForwarderConfig config, BuiltinNames builtin, ForwarderIo& io)
    : config_(std::move(config)),
      builtin_(std::move(builtin)),
      io_(io),
      cache_(config_.cache, hash_for(config_.seed, 1)),
      sets_(config_.routes.routes().size() + 1, UpstreamSet(config_.upstream)),
      rng_(config_.seed != 0 ? config_.seed : (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()),
      index_hash_(hash_for(config_.seed, 2)),
      nonce_key_(hash_for(config_.seed, 3)),
      scratch_(kMaxMessage),
      upstream_(kMaxMessage) {
  const size_t np = std::max<size_t>(config_.max_pending, 1);
  pending_.resize(np);
  for (size_t i = np; i-- > 0;) free_pending_.push_back(static_cast<int32_t>(i));
  size_t nb = 16;
  while (nb < 2 * np) nb *= 2;
  buckets_.assign(nb, -1);
  waiters_.resize(std::max<size_t>(config_.max_waiters, 1));
  for (size_t i = waiters_.size(); i-- > 0;) {
    waiters_[i].next = free_waiters_;
    free_waiters_ = static_cast<int32_t>(i);
  }
  const auto& routes = config_.routes.routes();
  for (size_t i = 0; i < routes.size(); ++i) sets_[i + 1].set_upstreams(routes[i].upstreams);
}

bool Forwarder::still_listed(const Pending& p, const Attempt& a) const {
  const UpstreamSet& set = sets_[p.set];
  return a.upstream < set.size() && set.endpoint(a.upstream) == a.to;
}

bool Forwarder::on_query(const ClientKey& client, ConstBytes query, MonoTime now) {
  ++stats_.queries;
  if (query.size() < kHeaderLen ||
      (wire::load_be16(query, Message::kFlagsOffset) & Message::kFlagQr) != 0) {
    ++stats_.dropped;
    return false;
  }
  auto m = Message::parse(query);
  if (!m) {
    ++stats_.formerr;
    answer_error(client, query, rcode::kFormErr, {Outcome::kFormerr});
    return false;
  }
  if (m->opcode() != opcode::kQuery) {
    ++stats_.notimp;
    answer_error(client, query, rcode::kNotImp, {Outcome::kNotimp});
    return false;
  }
  const auto q = m->question();
  if (m->qdcount() != 1 || !q) {
    ++stats_.formerr;
    answer_error(client, query, rcode::kFormErr, {Outcome::kFormerr});
    return false;
  }
  const MutBytes scratch(scratch_);
  bool from_hosts = false;
  if (auto n = builtin_.answer(*m, scratch, &from_hosts)) {
    ++stats_.builtin;
    ++stats_.answers;
    io_.answer(client, scratch.first(*n), {from_hosts ? Outcome::kHosts : Outcome::kBuiltin});
    return false;
  }
  CacheHit hit;
  if (auto n = cache_.lookup(*m, now, scratch, &hit)) {
    Waiter w;
    fill_waiter(w, client, *m);
    if (hit.stale) {
      // In the recheck window after a failed refresh: stale at once, and
      // ask again in the background (RFC 8767 5).
      ++stats_.stale;
      deliver(w, *n, {Outcome::kStale});
      if (refresh(*m, now)) ++stats_.refreshes;
      return false;
    }
    ++stats_.cache_hits;
    deliver(w, *n, {Outcome::kCache});
    if (hit.prefetch && config_.prefetch && refresh(*m, now)) ++stats_.prefetch;
    return false;
  }
  const auto set_found = set_for(m->qname());
  if (!set_found) {
    // Only the built-in names live under a local domain (route_table.hpp).
    ++stats_.local;
    answer_error(client, query, rcode::kNxDomain, {Outcome::kLocal});
    return false;
  }
  const uint16_t set = *set_found;
  if (sets_[set].size() == 0) {
    ++stats_.servfail;
    answer_error(client, query, rcode::kServFail, {Outcome::kServfail, FailReason::kNoUpstream});
    return false;
  }

  const auto e = m->edns();
  const bool dnssec_ok = e && e->dnssec_ok;
  const bool cd = m->cd();
  const Name qname = m->qname();
  const uint64_t hash = question_hash(qname, q->qtype, q->qclass, dnssec_ok, cd);
  const AnswerInfo no_room{Outcome::kServfail, FailReason::kNoRoom};
  if (int32_t slot = find_pending(qname, q->qtype, q->qclass, dnssec_ok, cd, hash); slot >= 0) {
    if (own_query_came_back(static_cast<uint32_t>(slot), *m, now)) return false;
    Pending& p = pending_[static_cast<size_t>(slot)];
    for (int32_t i = p.waiters; i >= 0; i = waiters_[static_cast<size_t>(i)].next) {
      const Waiter& w = waiters_[static_cast<size_t>(i)];
      if (w.id == m->id() && w.client == client) {
        ++stats_.retransmits;  // the answer is on its way; one is enough
        return false;
      }
    }
    if (!add_waiter(p, client, *m)) {
      ++stats_.pool_full;
      ++stats_.servfail;
      answer_error(client, query, rcode::kServFail, no_room);
      return false;
    }
    ++stats_.coalesced;
    return true;
  }

  const int32_t s = open_pending(*m, set, hash, now);
  if (s < 0) {
    ++stats_.pool_full;
    ++stats_.servfail;
    answer_error(client, query, rcode::kServFail, no_room);
    return false;
  }
  const auto slot = static_cast<uint32_t>(s);
  Pending& p = pending_[slot];
  if (!add_waiter(p, client, *m)) {
    finish_pending(slot);
    ++stats_.pool_full;
    ++stats_.servfail;
    answer_error(client, query, rcode::kServFail, no_room);
    return false;
  }
  if (set != 0) ++stats_.routed;
  if (!send_next(slot, now)) {
    fail_pending(slot, now, FailReason::kExhausted);
    return false;
  }
  // Re-probe an unhealthy upstream with a copy of this real query
  // (upstream_set.hpp); whichever answers first wins.
  if (auto j = sets_[set].take_probe(now); j && (p.tried & bit(*j)) == 0) {
    if (send_attempt(slot, *j, now)) ++stats_.probes;
  }
  return true;
}

bool Forwarder::send_next(uint32_t slot, MonoTime now) {
  Pending& p = pending_[slot];
  while (auto i = sets_[p.set].pick(p.tried)) {
    if (send_attempt(slot, *i, now)) return true;
    // No free attempt: nothing else can be sent for this query.
    if (std::none_of(p.attempts.begin(), p.attempts.end(), [](const Attempt& a) { return !a.open; })) {
      return false;
    }
  }
  return false;
}

bool Forwarder::send_attempt(uint32_t slot, size_t upstream, MonoTime now) {
  Pending& p = pending_[slot];
  size_t k = 0;
  while (k < kMaxAttempts && p.attempts[k].open) ++k;
  if (k == kMaxAttempts) return false;
  p.tried |= bit(upstream);

  Attempt& a = p.attempts[k];
  // RFC 5452 9.2: an unpredictable ID for every query that leaves.
  a.id = static_cast<uint16_t>(rng_());
  // The loop nonce: a keyed hash of a counter, so no number of them seen
  // tells the next one (unlike the generator behind the IDs).
  const uint64_t count = ++nonces_;
  std::array<char, sizeof count> word{};
  std::memcpy(word.data(), &count, sizeof count);
  a.nonce = nonce_key_(std::string_view(word.data(), word.size()));
  const size_t len = build_attempt_query(p, a);

  if (++a.generation == 0) a.generation = 1;
  a.tcp = false;
  a.upstream = static_cast<uint8_t>(upstream);
  a.to = sets_[p.set].endpoint(upstream);
  a.sent = now;
  const AttemptRef ref{static_cast<uint32_t>(slot * kMaxAttempts + k), a.generation};
  sets_[p.set].on_sent(upstream);
  ++stats_.upstream_queries;
  if (!io_.send_query(ref, a.to, ConstBytes(upstream_).first(len))) {
    ++stats_.send_failures;
    return false;
  }
  a.open = a.live = true;
  return true;
}

// The question as the pending query asks it upstream, DO included: the
// cache key includes DO, so the answer must match it.
QuerySpec Forwarder::question_of(const Pending& p) {
  return QuerySpec{.qname = p.qname,
                   .qtype = p.qtype,
                   .qclass = p.qclass,
                   .rd = p.rd,
                   .cd = p.cd,
                   .dnssec_ok = p.dnssec_ok,
                   .loop_nonce = std::nullopt};
}

size_t Forwarder::build_attempt_query(const Pending& p, const Attempt& a) {
  QuerySpec spec = question_of(p);
  spec.id = a.id;
  spec.loop_nonce = a.nonce;
  const auto len = build_query(MutBytes(upstream_), spec);
  TAPIR_CHECK(len.has_value());  // one question in 64 KiB always fits
  return *len;
}

bool Forwarder::retry_over_tcp(uint32_t slot, Attempt& a, AttemptRef ref, MonoTime now) {
  // The same ID and nonce: the TCP connection is ours alone, check_reply
  // still matches ID and question on what comes back, and a loop is still seen.
  const size_t len = build_attempt_query(pending_[slot], a);
  if (!io_.send_query_tcp(ref, a.to, ConstBytes(upstream_).first(len))) return false;
  ++stats_.tcp_retries;
  a.tcp = true;
  a.live = true;  // a fresh attempt timer for the TCP exchange
  a.sent = now;
  return true;
}

Forwarder::Attempt* Forwarder::find_attempt(AttemptRef ref, uint32_t* slot) {
  const size_t s = ref.index / kMaxAttempts;
  if (s >= pending_.size() || !pending_[s].active) return nullptr;
  Attempt& a = pending_[s].attempts[ref.index % kMaxAttempts];
  if (!a.open || a.generation != ref.generation) return nullptr;
  *slot = static_cast<uint32_t>(s);
  return &a;
}

void Forwarder::attempt_failed(uint32_t slot, Attempt& a, MonoTime now) {
  a.live = false;
  ++stats_.timeouts;
  // A reload may have renumbered the upstreams: only blame the one we asked.
  if (still_listed(pending_[slot], a)) sets_[pending_[slot].set].on_timeout(a.upstream, now);
  continue_after(slot, now);
}

void Forwarder::continue_after(uint32_t slot, MonoTime now) {
  Pending& p = pending_[slot];
  if (std::any_of(p.attempts.begin(), p.attempts.end(), [](const Attempt& x) { return x.live; })) {
    return;
  }
  if (send_next(slot, now)) return;
  // Nothing left to ask. Earlier attempts may still answer late; if none is
  // open either, there is nothing to wait for.
  if (std::none_of(p.attempts.begin(), p.attempts.end(), [](const Attempt& x) { return x.open; })) {
    fail_pending(slot, now, FailReason::kExhausted);
  }
}

bool Forwarder::own_query_came_back(uint32_t slot, const Message& query, MonoTime now) {
  // Only the nonce counts: the guest can try every ID, it cannot guess 64
  // keyed bits; and a relay that gives the query a new ID still shows.
  const auto nonce = loop_nonce_of(query);
  if (!nonce) return false;
  Pending& p = pending_[slot];
  for (size_t k = 0; k < kMaxAttempts; ++k) {
    Attempt& a = p.attempts[k];
    if (!a.open || a.nonce != *nonce) continue;
    ++stats_.loops;
    // Blame the upstream only if the list still has it where it was.
    if (still_listed(p, a) && sets_[p.set].on_loop(a.upstream, now)) {
      io_.loop_detected(a.to);
    }
    const bool was_live = a.live;
    a.open = a.live = false;
    io_.close_query({static_cast<uint32_t>(slot * kMaxAttempts + k), a.generation});
    if (was_live) {
      continue_after(slot, now);
    } else if (std::none_of(p.attempts.begin(), p.attempts.end(),
                            [](const Attempt& x) { return x.open; })) {
      if (!send_next(slot, now)) fail_pending(slot, now, FailReason::kExhausted);
    }
    return true;
  }
  return false;
}

void Forwarder::on_attempt_error(AttemptRef ref, MonoTime now) {
  uint32_t slot = 0;
  Attempt* a = find_attempt(ref, &slot);
  if (a == nullptr) return;
  // The socket is useless now: close it and free its attempt for the next upstream.
  a->open = false;
  io_.close_query(ref);
  if (a->live) {
    attempt_failed(slot, *a, now);
  } else if (std::none_of(pending_[slot].attempts.begin(), pending_[slot].attempts.end(),
                          [](const Attempt& x) { return x.open; })) {
    if (!send_next(slot, now)) fail_pending(slot, now, FailReason::kExhausted);
  }
}

void Forwarder::on_reply(AttemptRef ref, const Endpoint& from, ConstBytes reply, MonoTime now) {
  uint32_t slot = 0;
  Attempt* a = find_attempt(ref, &slot);
  if (a == nullptr) {
    ++stats_.rejected_replies;
    return;
  }
  Pending& p = pending_[slot];
  const OutstandingQuery q{a->to, a->id, p.qname, p.qtype, p.qclass};
  if (check_reply(q, from, reply) != ReplyCheck::kMatch) {
    ++stats_.rejected_replies;
    return;
  }
  ++stats_.replies;
  if (still_listed(p, *a)) sets_[p.set].on_reply(a->upstream, now - a->sent);
  // check_reply parsed it; the message proper, without trailing bytes.
  const auto parsed = Message::parse(reply);
  if (parsed->tc() && !a->tcp && retry_over_tcp(slot, *a, ref, now)) return;
  const ConstBytes msg = parsed->bytes();
  cache_.insert(msg, p.dnssec_ok, p.cd, now);
  const AnswerInfo info{Outcome::kUpstream, FailReason::kNone, &a->to, now - a->sent};
  for (int32_t i = p.waiters; i >= 0; i = waiters_[static_cast<size_t>(i)].next) {
    std::memcpy(scratch_.data(), msg.data(), msg.size());
    deliver(waiters_[static_cast<size_t>(i)], msg.size(), info);
  }
  finish_pending(slot);
}

void Forwarder::on_tick(MonoTime now) {
  for (UpstreamSet& set : sets_) set.expire_loops(now);
  if (pending_used_ == 0) return;
  for (uint32_t slot = 0; slot < pending_.size(); ++slot) {
    Pending& p = pending_[slot];
    if (!p.active) continue;
    if (now >= p.deadline) {
      fail_pending(slot, now, FailReason::kDeadline);
      continue;
    }
    for (Attempt& a : p.attempts) {
      if (a.live && now >= a.sent + config_.attempt_timeout) {
        attempt_failed(slot, a, now);
        if (!p.active) break;
      }
    }
  }
}

void Forwarder::fail_pending(uint32_t slot, MonoTime now, FailReason why) {
  const Pending& p = pending_[slot];
  for (int32_t i = p.waiters; i >= 0; i = waiters_[static_cast<size_t>(i)].next) {
    const Waiter& w = waiters_[static_cast<size_t>(i)];
    // Rebuild the client's query from what we kept: the key of a stale
    // answer (RFC 8767), or the question of a SERVFAIL (RFC 1035 4.1.1;
    // DESIGN.md: a failure is never NXDOMAIN).
    QuerySpec spec = question_of(p);
    spec.id = w.id;
    spec.qname = w.qname;  // the client's spelling
    spec.rd = w.rd;
    spec.cd = w.cd;
    spec.edns_udp_size = w.edns ? std::optional<uint16_t>(kAdvertisedUdpSize) : std::nullopt;
    const auto qlen = build_query(MutBytes(upstream_), spec);
    TAPIR_CHECK(qlen.has_value());
    const ConstBytes rebuilt = ConstBytes(upstream_).first(*qlen);
    if (auto n = serve_stale(rebuilt, now)) {
      ++stats_.stale;
      deliver(w, *n, {Outcome::kStale, why});
      continue;
    }
    const auto n = build_error_response(MutBytes(scratch_), rebuilt, rcode::kServFail);
    TAPIR_CHECK(n.has_value());
    ++stats_.servfail;
    ++stats_.answers;
    io_.answer(w.client, ConstBytes(scratch_).first(*n), {Outcome::kServfail, why});
  }
  finish_pending(slot);
}

void Forwarder::deliver(const Waiter& w, size_t len, const AnswerInfo& info) {
  const MutBytes all(scratch_);
  set_id(all.first(len), w.id);
  copy_question_case(all.first(len), w.qname);  // false only for a compressed question: keep it
  if (!w.edns) {
    if (auto n = remove_opt(all.first(len))) len = *n;
  }
  if (w.udp_limit != 0) {
    const size_t limit = std::min(w.udp_limit, config_.max_udp_answer);
    if (auto n = clamp_to_size(all.first(len), limit)) len = *n;
  }
  ++stats_.answers;
  io_.answer(w.client, all.first(len), info);
}

DnsStatsSnapshot Forwarder::snapshot() const {
  DnsStatsSnapshot s;
  s.queries = stats_.queries;
  s.cache_hits = stats_.cache_hits;
  s.cache_misses = cache_.stats().misses;
  s.cache_entries = cache_.size();
  s.builtin = stats_.builtin;
  s.upstream_queries = stats_.upstream_queries;
  s.coalesced = stats_.coalesced;
  s.timeouts = stats_.timeouts;
  s.servfail = stats_.servfail;
  s.formerr = stats_.formerr;
  s.dropped = stats_.dropped;
  s.loops = stats_.loops;
  s.tcp_retries = stats_.tcp_retries;
  s.routed = stats_.routed;
  s.local = stats_.local;
  s.stale = stats_.stale;
  s.prefetch = stats_.prefetch;
  s.refreshes = stats_.refreshes;
  for (size_t k = 0; k < sets_.size(); ++k) {
    const UpstreamSet& set = sets_[k];
    for (size_t i = 0; i < set.size(); ++i) {
      const UpstreamStats& u = set.stats(i);
      UpstreamSnapshot o;
      if (k != 0) o.route = config_.routes.routes()[k - 1].domain.to_string();
      o.address = set.endpoint(i).to_string();
      o.queries = u.queries;
      o.replies = u.replies;
      o.timeouts = u.timeouts;
      o.loops = u.loops;
      o.latency_us = u.srtt.ns > 0 ? static_cast<uint64_t>(u.srtt.ns) / 1000 : 0;
      o.healthy = u.healthy;
      o.looping = u.looping;
      s.upstreams.push_back(std::move(o));
    }
  }
  return s;
}

void Forwarder::answer_error(const ClientKey& client, ConstBytes query, uint8_t rcode,
                             const AnswerInfo& info) {
  const MutBytes scratch(scratch_);
  if (auto n = build_error_response(scratch, query, rcode)) {
    ++stats_.answers;
    io_.answer(client, scratch.first(*n), info);
  }
}

}  // namespace tapir::dns
