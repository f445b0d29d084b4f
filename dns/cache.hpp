#pragma once
// The forwarder's answer cache: positive and negative (RFC 2308), LRU-bounded.
//
// Theory of operation. The cache stores upstream answers as the bytes the
// upstream sent (trailing bytes dropped), keyed by the question: the
// lower-cased QNAME (RFC 4343), QTYPE, QCLASS, the client's DO bit
// (RFC 3225: a DO=1 client wants the DNSSEC records a DO=0 answer lacks)
// and its CD bit (RFC 4035 3.2.2: a CD=1 answer is not validated, so it is
// never served to a CD=0 client, who relies on the upstream's validation).
// The index hashes the key with a per-cache secret (keyed_hash.hpp), so a
// guest cannot choose names that collide in it.
//
// insert() decides what may be kept: a response (QR) to a standard query
// with one question, not truncated (a TC answer is incomplete, RFC 2181
// 9), with RCODE NOERROR or NXDOMAIN, whose question name is stored
// uncompressed. TTLs are rewritten in the stored copy once, at insert:
//   * positive answers (NOERROR with answers): each TTL capped into
//     [min_ttl, max_ttl]; the entry lives as long as the smallest one;
//   * negative answers (NXDOMAIN, or NOERROR/NODATA with no answers):
//     RFC 2308 5 — the negative TTL is min(SOA TTL, SOA MINIMUM) of the SOA
//     in the authority section, capped into [min_ttl, max_negative_ttl];
//     no SOA, no caching (RFC 2308 5). Every TTL in the copy is lowered to
//     at most that value, so what is served never outlives the entry.
// OPT's "TTL" carries EDNS flags and is never touched. An entry whose
// lifetime is 0 is not stored (TTL 0 means "use once", RFC 1035 3.2.1).
//
// lookup() serves a client's parsed query: it copies the stored answer
// into the caller's buffer, subtracts the whole seconds elapsed since
// insert from every TTL (answer, authority and additional; not OPT), and
// puts in the client's ID and the client's spelling of the question
// (0x20 mixed case), so every served answer looks like it was made for
// this client. An expired entry is removed on the lookup that finds it —
// unless serve-stale keeps it (below).
//
// Serve stale (RFC 8767). With stale_max > 0 an expired entry stays (LRU
// and max_entries bound it as any other) until stale_max past its expiry;
// lookup() treats it as a miss, and lookup_stale() — the forwarder's call
// when every upstream failed — serves it with every TTL set to
// kStaleTtl (RFC 8767 4: 30 s) and starts its recheck window: for
// kStaleRecheck after that, lookup() with a CacheHit serves the entry
// stale at once (CacheHit::stale), so clients do not wait out the
// upstreams' deadline again while the forwarder refreshes it in the
// background (RFC 8767 5, the failure recheck timer). A fresh insert
// replaces the entry and ends all of it.
//
// Prefetch. A fresh hit in the last tenth of the entry's lifetime (its
// TTL when stored) sets CacheHit::prefetch: the forwarder asks upstream
// again in the background, so a name in use never expires.
//
// Time is the engine's MonoTime, passed in: the cache never reads a clock.
//
// Memory and allocation: insert() allocates (the list node, the key
// string, the answer vector, the index node; the index may rehash), and
// eviction frees. lookup() never allocates: the key is built in a stack
// buffer and found by heterogeneous (string_view) lookup, and the answer
// is copied into the caller's buffer. Worst case memory is about
// max_entries * (max_answer_bytes + ~400 bytes of key and bookkeeping).
// max_entries == 0 disables the cache: insert() stores nothing.

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "dns/keyed_hash.hpp"
#include "dns/message.hpp"

namespace tapir::dns {

struct CacheConfig {
  size_t max_entries = 10000;  // --dns-cache-size; 0 disables
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 86400;           // one day
  uint32_t max_negative_ttl = 10800;  // RFC 2308 5: "1 to 3 hours"
  size_t max_answer_bytes = 16384;    // larger answers (TCP) are not kept
  // --dns-stale-max: how long past expiry an entry is kept to be served
  // stale (RFC 8767: 1 to 3 days suggested); 0 turns serve-stale off.
  uint32_t stale_max = 86400;
};

// RFC 8767 4: the TTL of a stale answer.
inline constexpr uint32_t kStaleTtl = 30;
// RFC 8767 5: after a failed refresh, how long stale answers come at once.
inline constexpr Duration kStaleRecheck = Duration::seconds(30);

// What lookup() found, besides the answer.
struct CacheHit {
  bool stale = false;     // an expired entry in its recheck window, TTLs kStaleTtl
  bool prefetch = false;  // fresh, in the last tenth of its lifetime: refresh it
};

enum class CacheVerdict : uint8_t {
  kStored,
  kDisabled,      // max_entries == 0
  kMalformed,     // does not parse
  kNotCacheable,  // not a response, TC, opcode, RCODE, qdcount != 1, compressed QNAME
  kNoSoa,         // negative answer without an SOA (RFC 2308 5)
  kZeroTtl,       // lifetime 0 after caps
  kTooLarge,      // over max_answer_bytes
};

// The key of a question, as the cache and the forwarder's in-flight index
// both use it: the lower-cased QNAME in wire form, QTYPE, QCLASS, DO, CD.
class QuestionKey {
 public:
  QuestionKey(Name name, uint16_t qtype, uint16_t qclass, bool dnssec_ok, bool checking_disabled);
  std::string_view view() const { return {buf_.data(), len_}; }

 private:
  std::array<char, kMaxNameLen + 6> buf_;
  size_t len_ = 0;
};

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;  // includes expired entries found
  uint64_t inserts = 0;
  uint64_t evictions = 0;  // LRU, to stay within max_entries
  uint64_t expired = 0;   // removed: past expiry (and stale_max)
  uint64_t stale = 0;     // answers served stale (lookup_stale, CacheHit::stale)
};

class Cache {
 public:
  // `hash`: the index's keyed hash; the default draws a random key.
  explicit Cache(CacheConfig config = {}, KeyedHash hash = {});

  // Keeps `answer` (an upstream's reply, exactly the message bytes) for the
  // question it carries, asked by a client with DO = `dnssec_ok` and CD =
  // `checking_disabled`. Replaces an entry with the same key.
  CacheVerdict insert(ConstBytes answer, bool dnssec_ok, bool checking_disabled, MonoTime now);

  // The cached answer to `query`, written to `out` ready to send to that
  // client (before any clamp to its UDP size). Returns the length, or
  // nullopt on a miss, an expired entry, or `out` too small for it. With
  // `hit`: an expired entry in its recheck window is served stale, and
  // `*hit` says so, or that a fresh one is due for a prefetch.
  std::optional<size_t> lookup(const Message& query, MonoTime now, MutBytes out,
                               CacheHit* hit = nullptr);
  // The expired entry for `query`, kept within stale_max, served stale
  // (every TTL kStaleTtl) and its recheck window started; nullopt if there
  // is none (or serve-stale is off, or the entry is fresh).
  std::optional<size_t> lookup_stale(const Message& query, MonoTime now, MutBytes out);

  size_t size() const { return lru_.size(); }
  const CacheStats& stats() const { return stats_; }
  const CacheConfig& config() const { return config_; }
  void clear();

  // The index's hash of a key (tests: it depends on the cache's secret).
  uint64_t index_hash(const QuestionKey& key) const { return index_.hash_function()(key.view()); }

 private:
  struct Entry {
    std::string key;
    std::vector<uint8_t> answer;
    MonoTime stored;
    MonoTime expires;
    MonoTime recheck_until{};  // served stale at once before this (lookup_stale)
  };
  using List = std::list<Entry>;
  struct KeyHash {
    using is_transparent = void;
    KeyedHash hash;
    size_t operator()(std::string_view s) const { return static_cast<size_t>(hash(s)); }
  };
  struct KeyEq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };

  void erase(List::iterator it);
  // The entry for `query`'s key, or lru_.end().
  List::iterator find(const Message& query);
  // An expired entry past stale_max goes (counted); true if it went.
  bool drop_if_gone(List::iterator it, MonoTime now);
  // Copies the entry out for `query`, TTLs aged (or all kStaleTtl), and
  // makes it the most recently used; nullopt if `out` is too small.
  std::optional<size_t> serve(List::iterator it, const Message& query, MonoTime now, MutBytes out,
                              bool stale);

  CacheConfig config_;
  CacheStats stats_;
  List lru_;  // front: most recently used
  // Keys view Entry::key inside the list node, which never moves.
  std::unordered_map<std::string_view, List::iterator, KeyHash, KeyEq> index_;
};

const char* cache_verdict_name(CacheVerdict v) noexcept;

}  // namespace tapir::dns
