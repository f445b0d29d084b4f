#pragma once
// Upstream resolvers with health, as a pure state machine, and the
// anti-spoofing check for their replies.
//
// Theory of operation. The forwarder owns the sockets and timers; this
// class only decides. Upstreams keep the configured order (resolv.conf
// order, or --dns-upstream order), which is the preference order.
//
//   state     pick() offers it            leaves on
//   healthy   in order, before any other  on_timeout -> unhealthy
//   unhealthy only when no untried        on_reply -> healthy
//             healthy one is left ("moved
//             back"), in configured order
//
// One timeout marks an upstream unhealthy, so the next query skips a dead
// first nameserver at once instead of waiting out its timeout again (the
// classic glibc stall). It comes back by re-probing: take_probe(now)
// hands out an unhealthy upstream whose probe time has come (and pushes
// that time one interval on), and the forwarder sends it a copy of a real
// query alongside the normal attempt; a reply (on_reply) makes it healthy
// again, a timeout schedules the next probe. A query's attempts are
// tracked by the caller in a bitmask of tried indices (kMaxUpstreams).
//
// An upstream caught in a forwarding loop (on_loop: our own query came
// back to us from the guest side, forwarder.hpp) is "looping": pick() and
// take_probe() leave it out entirely — it is never a fallback — until
// loop_holdoff has passed (expire_loops), so a list whose only upstream
// loops answers SERVFAIL at once instead of feeding the loop.
//
// Latency is an EWMA of reply times with gain 1/8, as TCP's SRTT (RFC 6298
// 2), for stats only. set_upstreams() on a resolv.conf reload keeps the
// health and stats of upstreams that are still listed.
//
// check_reply() is the acceptance test for a UDP reply (RFC 5452 4.3,
// 9.1): it must come from the address and port the query went to, carry
// the query's ID, be a response, and repeat the question (name compared
// case-insensitively, so an upstream's 0x20 case handling never breaks
// matching; type and class exactly). Anything else is ignored and
// counted, and the real answer can still arrive.

#include <cstdint>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "dns/endpoint.hpp"
#include "dns/message.hpp"

namespace tapir::dns {

struct UpstreamSetConfig {
  Duration reprobe_interval = Duration::seconds(10);
  // How long an upstream found in a forwarding loop is left out before it
  // is tried again (a loop usually lasts until someone edits a config; a
  // false alarm — a guest query that happened to repeat one of ours,
  // 1 in 65 536 — costs no more than this).
  Duration loop_holdoff = Duration::seconds(300);
};

struct UpstreamStats {
  uint64_t queries = 0;  // on_sent
  uint64_t replies = 0;
  uint64_t timeouts = 0;
  uint64_t loops = 0;  // times it sent one of our own queries back to us
  Duration srtt{};  // 0 until the first reply
  bool healthy = true;
  bool looping = false;  // left out by pick() and take_probe() until loop_until
};

class UpstreamSet {
 public:
  static constexpr size_t kMaxUpstreams = 64;  // the tried-bitmask width

  explicit UpstreamSet(UpstreamSetConfig config = {}) : config_(config) {}

  // Replaces the list (only the first kMaxUpstreams are used); upstreams
  // equal to one already present keep its state.
  void set_upstreams(const std::vector<Endpoint>& upstreams);
  size_t size() const { return entries_.size(); }
  const Endpoint& endpoint(size_t i) const { return entries_.at(i).endpoint; }
  const UpstreamStats& stats(size_t i) const { return entries_.at(i).stats; }

  // The upstream for a query's next attempt: the first healthy one whose
  // bit is not set in `tried`, else the first unhealthy untried one;
  // nullopt when every upstream has been tried.
  std::optional<size_t> pick(uint64_t tried) const;

  // An unhealthy upstream due for a probe, if any; its next probe is then
  // one interval later.
  std::optional<size_t> take_probe(MonoTime now);

  void on_sent(size_t i);
  void on_reply(size_t i, Duration rtt);
  void on_timeout(size_t i, MonoTime now);
  // Returns true the first time (per episode), for the caller to log it.
  bool on_loop(size_t i, MonoTime now);
  void expire_loops(MonoTime now);

 private:
  struct Entry {
    Endpoint endpoint;
    UpstreamStats stats;
    MonoTime next_probe{};
    MonoTime loop_until{};
  };
  UpstreamSetConfig config_;
  std::vector<Entry> entries_;
};

// What the forwarder remembers about a query it sent upstream.
struct OutstandingQuery {
  Endpoint upstream;
  uint16_t id = 0;
  Name qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;

  // From the query as sent (it must have parsed and have a question).
  static OutstandingQuery from_sent(const Endpoint& to, const Message& sent);
};

enum class ReplyCheck : uint8_t {
  kMatch,
  kWrongSource,  // other address or port than the query went to
  kMalformed,    // shorter than a header, or does not parse
  kWrongId,
  kNotResponse,    // QR clear
  kWrongQuestion,  // other (or no) question
};
const char* reply_check_name(ReplyCheck c) noexcept;

ReplyCheck check_reply(const OutstandingQuery& q, const Endpoint& from, ConstBytes reply);

}  // namespace tapir::dns
