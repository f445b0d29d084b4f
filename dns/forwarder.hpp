#pragma once
// The DNS forwarder as a pure state machine: client queries in, answers and
// upstream queries out. No sockets, no clock: the engine's glue
// (dns/io/service) owns both and calls in with `now`.
//
// Theory of operation.
//
// on_query(client, bytes, now) decides, in this order (DESIGN.md "DNS forwarder"):
//   1. fewer than 12 bytes, or QR set          -> dropped (never answer a
//      response: two forwarders pointed at each other stop bouncing);
//   2. does not parse                          -> FORMERR (RFC 1035 4.1.1);
//      OPCODE other than QUERY                 -> NOTIMP;
//      QDCOUNT != 1                            -> FORMERR (RFC 9619: exactly one);
//   3. a built-in name (builtin.hpp)           -> answered, never forwarded;
//   4. a cache hit (cache.hpp)                 -> answered; in the last tenth
//      of the entry's TTL it is also prefetched (a background query,
//      forwarder_refresh.cpp); an expired entry in its recheck window
//      after a stale answer is answered stale (TTL 30) and refreshed
//      in the background the same way;
//   5. the question's upstream set (route_table.hpp: the longest
//      --dns-route domain it is under, else the default set):
//      a `local` route                         -> NXDOMAIN, never forwarded;
//      no upstream in the set                  -> SERVFAIL;
//   6. the same question already in flight     -> the client waits on it
//      (coalescing: one upstream query for many clients, keyed like the
//      cache by lower-cased QNAME, QTYPE, QCLASS, DO and CD: a CD=0 client
//      never waits on a CD=1 question, RFC 4035 3.2.2) — unless it carries
//      the loop nonce of one of the question's open attempts: then it is
//      our own query come back (a forwarding loop, below) and is dropped;
//   7. otherwise a new pending query: a fresh random ID (RFC 5452 9.2;
//      the source port is that of a pooled connected socket, which dns/io
//      retires after a few uses, so ports keep changing) is
//      sent to that set's UpstreamSet::pick(), plus a probe copy to an
//      unhealthy upstream of the set whose re-probe time has come.
//
// Each routed domain has an UpstreamSet of its own, with the default
// set's failover, health, re-probing and loop holdoff; the one cache
// serves them all, since a question's set follows from its name alone.
//
// A pending query is a sequence of attempts, each to one upstream with its
// own ID. An attempt that goes unanswered for attempt_timeout marks its
// upstream unhealthy and the next untried upstream is asked; an earlier
// attempt stays open until the query ends, so a late answer from a slow
// first upstream still counts. When no answer has come by total_deadline,
// or every upstream of the set failed, each waiting client gets the
// expired cache entry for its question if the cache still keeps one
// (serve-stale, RFC 8767: TTL 30; CacheConfig::stale_max), else SERVFAIL:
// a failure is never NXDOMAIN.
//
//   attempt   opened by          ends on
//   live      send_query()       reply (query done), timeout or error -> timed out
//   timed out timeout/error      reply (still accepted), query done
//
// on_reply(attempt, from, bytes, now) accepts a reply only through
// check_reply() (source address and port, ID, QR, question); anything
// else is counted and ignored, and the real answer may still come. An
// accepted reply goes into the cache and is rewritten for every waiting
// client: its own ID and question case (0x20), OPT removed for a client
// that sent none (RFC 6891 7), clamped to the client's UDP size (512
// without EDNS, RFC 1035 4.2.1; the EDNS size otherwise, RFC 6891 6.2.5),
// TC set when answers had to go.
//
// A truncated upstream answer (TC over UDP) is not served: the attempt
// asks the same upstream the same question again over TCP (RFC 7766 5;
// ForwarderIo::send_query_tcp), with its attempt timer started afresh,
// and the full answer is cached and rewritten for the clients as above —
// clamped again for UDP clients, who then see TC and may come back over
// TCP themselves. If TCP cannot start, the truncated answer is served.
//
// Forwarding loops. An upstream that leads back to tapir's own DNS address
// (a relay or port forward into the guest, a resolver in the guest that
// forwards to 10.0.2.3, tapir nested under a misconfigured one) shows as a
// client query carrying the question and the loop nonce of an attempt
// still open: every upstream query carries, in an EDNS option of the
// Local/Experimental range (kLoopNonceOption, RFC 6891 9; responders
// ignore options they do not know, RFC 6891 6.1.2), 64 bits drawn for
// that attempt from a keyed hash the guest cannot compute. The ID alone
// would not do: a guest that repeats a pending question with all 65536
// IDs would hit the attempt's, and make tapir refuse a working upstream.
// The nonce is matched whatever the ID, so a relay that renumbers the
// query (but keeps its OPT record) is caught too. Such a query is
// dropped — never forwarded again, so the loop ends here — its attempt is
// closed, its upstream is left out for UpstreamSetConfig::loop_holdoff
// (UpstreamSet::on_loop) and the next upstream is asked at once.
// Upstream *addresses* are not refused: the same address (10.0.2.3) is
// tapir's own inside its guest but a different, working tapir when this
// one runs nested, since its sockets live in the caller's namespace.
//
// Timers: on_tick(now) runs every timeout that is due; the glue calls it
// often enough for the precision it wants (dns/io/service: every 100 ms while
// pending() > 0), so the forwarder needs no timer of its own.
//
// Memory and allocation. Pending queries, their attempts and the waiting
// clients live in pools sized once in the constructor (max_pending,
// max_waiters); the question index is a fixed array of chain heads with
// the chain links inside the pool, hashed with a per-process random key
// (keyed_hash.hpp) so a guest cannot aim for one chain. Nothing on the
// query, reply or tick path allocates, with two exceptions: Cache::insert (cache.hpp: one entry
// per distinct answer) and the glue's own socket. Answers are built in a
// scratch buffer owned by the forwarder and handed to ForwarderIo::answer,
// valid only during that call.

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "dns/builtin.hpp"
#include "dns/cache.hpp"
#include "dns/endpoint.hpp"
#include "dns/keyed_hash.hpp"
#include "dns/message.hpp"
#include "dns/message_build.hpp"
#include "dns/route_table.hpp"
#include "dns/upstream_set.hpp"
#include "wire/addr.hpp"

namespace tapir::dns {

// Who asked: where the answer goes. The MAC and `conn` are the glue's
// (which frame to build, which TCP connection); the forwarder only
// compares keys, to recognise a client's retransmission.
struct ClientKey {
  enum class Transport : uint8_t { kUdp, kTcp };
  Transport transport = Transport::kUdp;
  bool ipv6 = false;
  wire::Ipv4Addr addr4;
  wire::Ipv6Addr addr6;
  uint16_t port = 0;
  wire::MacAddr mac;
  uint64_t conn = 0;

  bool operator==(const ClientKey& o) const {
    return transport == o.transport && ipv6 == o.ipv6 && port == o.port && conn == o.conn &&
           (ipv6 ? addr6 == o.addr6 : addr4 == o.addr4);
  }
};

// One upstream attempt, as the glue sees it: `index` is dense in
// [0, Forwarder::attempt_capacity()) so the glue can keep its sockets in a
// plain array; `generation` tells a reused index from the old one.
struct AttemptRef {
  uint32_t index = 0;
  uint32_t generation = 0;
  uint64_t pack() const { return (uint64_t{generation} << 32) | index; }
  static AttemptRef unpack(uint64_t v) {
    return {static_cast<uint32_t>(v & 0xffffffffu), static_cast<uint32_t>(v >> 32)};
  }
  bool operator==(const AttemptRef&) const = default;
};

// How an answer came about, for the query log (dns/query_log.hpp).
enum class Outcome : uint8_t {
  kBuiltin,   // a built-in name or --add-host
  kHosts,     // a hosts file
  kCache,     // a fresh cache entry
  kStale,     // an expired cache entry (serve-stale, RFC 8767)
  kUpstream,  // an upstream's answer, whatever its RCODE
  kServfail,  // our own SERVFAIL (AnswerInfo::reason says why)
  kLocal,     // NXDOMAIN under a DOMAIN=local route
  kFormerr,
  kNotimp,
};
// Why no upstream answered (a SERVFAIL, or a stale answer instead).
enum class FailReason : uint8_t {
  kNone,
  kDeadline,     // total_deadline passed
  kExhausted,    // every upstream of the set failed or timed out
  kNoUpstream,   // the set has no upstream
  kNoRoom,       // no pending query or waiter slot free
};
struct AnswerInfo {
  Outcome outcome = Outcome::kUpstream;
  FailReason reason = FailReason::kNone;
  const Endpoint* upstream = nullptr;  // kUpstream: who answered (valid during the call)
  Duration latency{};                  // kUpstream: since the answering attempt was sent
};

// What the forwarder asks of the glue. Calls may nest inside any of the
// forwarder's entry points; none of them may call back into the forwarder.
class ForwarderIo {
 public:
  virtual ~ForwarderIo() = default;
  // Send `msg` (valid only during the call) to `client`; `info` says how
  // it came about (for the query log).
  virtual void answer(const ClientKey& client, ConstBytes msg, const AnswerInfo& info) = 0;
  // Open a socket for `attempt` to `to`, send `query`; false if that
  // failed (the forwarder counts it and moves on to the next upstream).
  virtual bool send_query(AttemptRef attempt, const Endpoint& to, ConstBytes query) = 0;
  // The attempt's UDP answer was truncated (TC): replace its socket by a
  // TCP connection to the same upstream and send `query` there (the glue
  // adds the 2-byte length, RFC 1035 4.2.2); its answer comes back through
  // Forwarder::on_reply with the same AttemptRef. False if that could not
  // even start: the truncated answer is then delivered as it is.
  virtual bool send_query_tcp(AttemptRef attempt, const Endpoint& to, ConstBytes query) {
    (void)attempt, (void)to, (void)query;
    return false;
  }
  // The attempt is over: close its socket. Replies after this are not wanted.
  virtual void close_query(AttemptRef attempt) = 0;
  // `upstream` sent one of our own queries back to us: a forwarding loop.
  // Called once per episode (UpstreamSet::on_loop), for the glue to log.
  virtual void loop_detected(const Endpoint& upstream) { (void)upstream; }
};

struct ForwarderConfig {
  Duration attempt_timeout = Duration::millis(1000);
  // Well under glibc's 5 s first-try timeout (resolv.conf(5) "timeout"),
  // so the client hears SERVFAIL before it gives up on us and retries.
  Duration total_deadline = Duration::millis(2500);
  size_t max_pending = 256;    // distinct questions in flight (each holds up to kMaxAttempts sockets)
  size_t max_waiters = 4096;   // clients waiting on them, in all
  size_t max_udp_answer = 65535;  // an extra cap on UDP answers (the glue's MTU budget)
  CacheConfig cache;
  UpstreamSetConfig upstream;
  RouteTable routes;  // --dns-route
  bool prefetch = true;  // refresh entries hit in the last tenth of their TTL (Cache, CacheHit)
  uint64_t seed = 0;  // for query IDs, loop nonces and the index hashes; 0: std::random_device
};

struct ForwarderStats {
  uint64_t queries = 0;  // client queries handed in
  uint64_t dropped = 0;  // short, or a response (QR)
  uint64_t formerr = 0;
  uint64_t notimp = 0;
  uint64_t builtin = 0;
  uint64_t cache_hits = 0;
  uint64_t coalesced = 0;      // joined a question already in flight
  uint64_t retransmits = 0;    // same client and ID already waiting: ignored
  uint64_t upstream_queries = 0;
  uint64_t send_failures = 0;  // ForwarderIo::send_query returned false
  uint64_t probes = 0;
  uint64_t replies = 0;        // accepted upstream replies
  uint64_t rejected_replies = 0;  // by check_reply or for a finished attempt
  uint64_t timeouts = 0;       // attempts that timed out or failed
  uint64_t servfail = 0;       // SERVFAILs sent (deadline, no upstream, no room)
  uint64_t answers = 0;        // every answer handed to ForwarderIo::answer
  uint64_t pool_full = 0;      // no room for a pending query or a waiter
  uint64_t loops = 0;          // our own upstream queries that came back from a client: dropped
  uint64_t tcp_retries = 0;    // truncated UDP answers asked again over TCP
  uint64_t routed = 0;         // questions sent to a --dns-route set
  uint64_t local = 0;          // NXDOMAIN for a name under a DOMAIN=local route
  uint64_t stale = 0;          // expired answers served (serve-stale) instead of SERVFAIL
  uint64_t prefetch = 0;       // background queries for entries near expiry
  uint64_t refreshes = 0;      // background queries for entries served stale
};

// What `stats` in the control API reports about the forwarder: a copy,
// taken when asked (Forwarder::snapshot, DnsService::snapshot); plain
// numbers, nothing that points back into the forwarder.
struct UpstreamSnapshot {
  std::string route;        // the --dns-route domain of its set; empty: the default set
  std::string address;      // "127.0.0.1:53", "[fe80::1%eth0]:53" (Endpoint::to_string)
  uint64_t queries = 0;     // attempts sent to it (probes included)
  uint64_t replies = 0;     // accepted replies
  uint64_t timeouts = 0;    // attempts that timed out or failed
  uint64_t loops = 0;       // our own queries it sent back to us
  uint64_t latency_us = 0;  // EWMA of reply times (gain 1/8, as TCP's SRTT); 0: no reply yet
  bool healthy = true;      // false: moved back after a timeout, re-probed
  bool looping = false;     // left out after a forwarding loop
};

struct DnsStatsSnapshot {
  uint64_t queries = 0;           // client queries, UDP and TCP
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;      // looked up and not found (or expired)
  uint64_t cache_entries = 0;
  uint64_t builtin = 0;           // answered from the built-in names
  uint64_t upstream_queries = 0;  // attempts sent upstream (failovers and probes included)
  uint64_t coalesced = 0;         // joined the same question in flight
  uint64_t timeouts = 0;          // upstream attempts that timed out or failed
  uint64_t servfail = 0;          // SERVFAILs sent to clients
  uint64_t formerr = 0;
  uint64_t dropped = 0;           // too short, or a response
  uint64_t loops = 0;             // forwarding loops caught
  uint64_t tcp_retries = 0;       // truncated UDP answers asked again over TCP
  uint64_t routed = 0;            // questions sent to a --dns-route set
  uint64_t local = 0;             // NXDOMAIN under a DOMAIN=local route
  uint64_t stale = 0;             // expired answers served instead of SERVFAIL (RFC 8767)
  uint64_t prefetch = 0;          // entries refreshed in the background before expiry
  uint64_t refreshes = 0;         // entries served stale, refreshed in the background
  uint64_t tcp_streams = 0;       // guest TCP connections open now (DnsService only)
  uint64_t tcp_streams_total = 0;  // ... adopted in all (DnsService only)
  std::vector<UpstreamSnapshot> upstreams;  // the default set, then each route's; in preference order
};

class Forwarder {
 public:
  static constexpr size_t kMaxAttempts = 4;
  // Largest message the forwarder builds or relays (a TCP message's limit).
  static constexpr size_t kMaxMessage = 65535;

  Forwarder(ForwarderConfig config, BuiltinNames builtin, ForwarderIo& io);

  // The hosts files' entries (BuiltinNames::set_hosts), on every reload.
  void set_hosts(std::vector<HostEntry> entries) { builtin_.set_hosts(std::move(entries)); }
  // The default set's upstreams (resolv.conf reloads); routed sets are fixed.
  void set_upstreams(const std::vector<Endpoint>& upstreams) { sets_[0].set_upstreams(upstreams); }

  // True when the client now waits on an upstream query: exactly one
  // ForwarderIo::answer for it comes later. False when it was answered
  // during the call, or dropped (never answered).
  bool on_query(const ClientKey& client, ConstBytes query, MonoTime now);
  void on_reply(AttemptRef attempt, const Endpoint& from, ConstBytes reply, MonoTime now);
  // The attempt's socket failed (ICMP unreachable shows as ECONNREFUSED on a
  // connected UDP socket): treated as a timeout now, so failover is immediate.
  void on_attempt_error(AttemptRef attempt, MonoTime now);
  void on_tick(MonoTime now);

  size_t attempt_capacity() const { return pending_.size() * kMaxAttempts; }
  size_t pending() const { return pending_used_; }

  const ForwarderStats& stats() const { return stats_; }
  // Allocates (the upstream list): for the control API, not the data path.
  DnsStatsSnapshot snapshot() const;
  const Cache& cache() const { return cache_; }
  const UpstreamSet& upstreams() const { return sets_[0]; }
  // Route i's set (RouteTable::routes() order).
  const UpstreamSet& route_upstreams(size_t i) const { return sets_.at(i + 1); }

 private:
  struct Attempt {
    uint32_t generation = 0;
    bool open = false;
    bool live = false;  // open and not yet timed out
    bool tcp = false;   // retried over TCP after a truncated UDP answer
    uint16_t id = 0;
    uint64_t nonce = 0;  // carried in kLoopNonceOption: how a looped copy is known
    uint8_t upstream = 0;
    Endpoint to;
    MonoTime sent{};
  };
  struct Pending {
    bool active = false;
    Name qname;  // as the first client spelled it; compared case-insensitively
    uint16_t qtype = 0;
    uint16_t qclass = 0;
    bool dnssec_ok = false;
    bool rd = true;
    bool cd = false;
    uint64_t hash = 0;
    int32_t next_in_bucket = -1;
    int32_t waiters = -1;  // head of the waiter list
    uint64_t tried = 0;    // UpstreamSet::pick bitmask
    uint16_t set = 0;      // index in sets_: 0 default, 1 + route
    MonoTime deadline{};
    std::array<Attempt, kMaxAttempts> attempts{};
  };
  struct Waiter {
    ClientKey client;
    uint16_t id = 0;
    bool rd = true;
    bool cd = false;
    bool edns = false;
    size_t udp_limit = kClassicUdpSize;  // 0: no limit (TCP)
    Name qname;  // the client's spelling
    int32_t next = -1;
  };

  uint64_t question_hash(const Name& name, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
                         bool checking_disabled) const;
  int32_t find_pending(const Name& name, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
                       bool checking_disabled, uint64_t hash) const;
  int32_t new_pending();
  void finish_pending(uint32_t slot);
  static void fill_waiter(Waiter& w, const ClientKey& client, const Message& query);
  bool add_waiter(Pending& p, const ClientKey& client, const Message& query);
  // Sends the next attempt (pick order); false when no upstream is left.
  bool send_next(uint32_t slot, MonoTime now);
  // The attempt's upstream is still where it was in its set (a reload
  // may have renumbered the default set): only then is it blamed or credited.
  bool still_listed(const Pending& p, const Attempt& a) const;
  bool send_attempt(uint32_t slot, size_t upstream, MonoTime now);
  void attempt_failed(uint32_t slot, Attempt& a, MonoTime now);
  // After an attempt stopped being live: the next upstream, or the end.
  void continue_after(uint32_t slot, MonoTime now);
  // True if `query` carries the loop nonce of one of the pending
  // question's open attempts (a loop; handled here).
  bool own_query_came_back(uint32_t slot, const Message& query, MonoTime now);
  Attempt* find_attempt(AttemptRef ref, uint32_t* slot);
  // Answers every waiting client — from an expired cache entry if one is
  // kept (serve-stale), else SERVFAIL — and ends the query.
  void fail_pending(uint32_t slot, MonoTime now, FailReason why);
  // Rewrites scratch_[0, len) for `w` and hands it to the glue.
  void deliver(const Waiter& w, size_t len, const AnswerInfo& info);
  // The index in sets_ of the set that answers `qname`; nullopt under a
  // DOMAIN=local route (never forwarded).
  std::optional<uint16_t> set_for(const Name& qname) const;
  // A new pending query for `query`'s question, asked of `set`, linked
  // into the index; no waiter yet. -1 when the pool is full.
  int32_t open_pending(const Message& query, uint16_t set, uint64_t hash, MonoTime now);
  // A background query for `query`'s question (prefetch, or the refresh of
  // an entry served stale; forwarder_refresh.cpp): sent unless the set is
  // empty, the question is already in flight (one at a time) or there is
  // no room. Nobody waits on it; its answer only goes into the cache.
  bool refresh(const Message& query, MonoTime now);
  // The kept expired answer to `query` (a client's, rebuilt), in
  // scratch_, stale (Cache::lookup_stale); nullopt if none.
  std::optional<size_t> serve_stale(ConstBytes query, MonoTime now);
  // Asks the attempt's upstream again over TCP; false if the glue could not.
  bool retry_over_tcp(uint32_t slot, Attempt& a, AttemptRef ref, MonoTime now);
  // The pending question as it is asked upstream (ID and nonce unset).
  static QuerySpec question_of(const Pending& p);
  size_t build_attempt_query(const Pending& p, const Attempt& a);
  void answer_error(const ClientKey& client, ConstBytes query, uint8_t rcode,
                    const AnswerInfo& info);

  ForwarderConfig config_;
  BuiltinNames builtin_;
  ForwarderIo& io_;
  Cache cache_;
  // [0] the default set, [1 + i] route i's (empty for a local route).
  std::vector<UpstreamSet> sets_;
  std::mt19937_64 rng_;
  KeyedHash index_hash_;  // the question index
  KeyedHash nonce_key_;   // loop nonces: nonce_key_(attempt counter)
  uint64_t nonces_ = 0;
  std::vector<Pending> pending_;
  std::vector<int32_t> free_pending_;
  size_t pending_used_ = 0;
  std::vector<int32_t> buckets_;  // power of two, chain heads into pending_
  std::vector<Waiter> waiters_;
  int32_t free_waiters_ = -1;
  std::vector<std::byte> scratch_;   // answers to clients
  std::vector<std::byte> upstream_;  // a copy of an accepted reply, or a query being built
  ForwarderStats stats_;
};

}  // namespace tapir::dns
