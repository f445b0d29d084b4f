#pragma once
// The flow table: a preallocated, keyed, open-addressed table of flows,
// with the cookie the engine's socket watches carry and the deadlines of
// the flows on one timer wheel (loop/timer_wheel). TCP connections, UDP
// flows and ICMP echo flows each live in one, with one key (FlowKey).
//
// Flow lifecycle. A slot is in one of these states; the owner (TcpFlows,
// UdpFlows, IcmpEchoFlows) moves it with insert(), watch/arm, and erase():
//
//   State    In index  Watch  Deadline  Entered by              Left by
//   -------  --------  -----  --------  ----------------------  -------------------------
//   FREE     no        no     no        start; erase()          insert() -> NEW
//   NEW      yes       no     no        insert() (the key was   socket opened and watched
//                                       not found, a slot free)   -> ACTIVE; or erase()
//   ACTIVE   yes       yes*   yes**     the owner watched its   the deadline fired and the
//                                       socket, arm()ed it        flow was idle -> erase();
//                                                               the owner closes it
//                                                               (listener gone; TCP: both
//                                                               FINs acked, a reset, a
//                                                               host error) -> erase()
//   (*) a reverse UDP flow of a forwarding rule borrows the rule's socket
//       and watches none.
//   (**) UDP and ICMP echo always have one (the idle timeout); a TCP
//       connection only while its state needs one (SYN or data
//       retransmission, a window probe, the idle limit of a half-closed
//       flow: flows/tcp_conn.hpp), and moves or cancels it as it goes.
//
// TCP's own states (flows/tcp_conn.hpp) all live inside NEW and ACTIVE: a
// SYN (or a forwarded connection) inserts the flow, which gets its state
// and its watch in the same call (ACTIVE) or is erased again (refused,
// unreachable, no socket); kFree marks a TCP slot that is FREE, or NEW
// before that call gave it its state.
//
// A deadline that fires for a flow that was busy since is moved on
// (arm() from the callback) instead of being re-armed on every datagram:
// the per-packet path touches only the flow's timestamp.
//
// The cookie of a flow (cookie()) is its slot and its slot's generation;
// erase() moves the generation on, so a completion that still names an
// erased flow finds nothing (by_cookie() returns null) even after the slot
// was reused.
//
// Index. Linear probing over a power of two at least twice the capacity,
// with backward-shift deletion (no tombstones, so lookups stay short however
// many flows come and go). The hash is keyed (flows/flow_hash.hpp): a guest
// cannot choose keys that pile into one run.
//
// The key type needs operator== and a function found by argument-dependent
// lookup: `size_t flow_key_hash(const FlowHasher&, const Key&)`. The flow
// type must be default-constructible; insert() hands out a fresh one.
//
// Nothing allocates after construction.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/clock.hpp"
#include "flows/flow_hash.hpp"
#include "loop/timer_wheel.hpp"
#include "wire/addr.hpp"

namespace tapir::flows {

// The key of a UDP flow, an ICMP echo flow (guest_port is the echo
// identifier, dst_port 0) and a TCP connection: the guest's view of it.
struct FlowKey {
  wire::IpAddr guest;  // the guest's address; its family is the flow's
  wire::IpAddr dst;    // the destination the guest used
  uint16_t guest_port = 0;
  uint16_t dst_port = 0;
  bool v6() const { return guest.v6; }
  bool operator==(const FlowKey&) const = default;
};

inline size_t flow_key_hash(const FlowHasher& h, const FlowKey& k) {
  return h({FlowHasher::word(k.guest.bytes, 0), FlowHasher::word(k.guest.bytes, 1),
            FlowHasher::word(k.dst.bytes, 0), FlowHasher::word(k.dst.bytes, 1),
            (uint64_t{k.guest_port} << 32) | (uint64_t{k.dst_port} << 16) | (k.v6() ? 1u : 0u)});
}

template <class Key, class Flow>
class FlowTable {
 public:
  // `capacity` flows at most (0: every insert() fails); deadlines in
  // buckets of `granularity`.
  FlowTable(size_t capacity, FlowHasher hasher, Duration granularity, size_t buckets = 256)
      : capacity_(capacity),
        hasher_(hasher),
        flows_(capacity == 0 ? 1 : capacity),
        meta_(flows_.size()),
        timers_(flows_.size(), granularity, buckets) {
    size_t n = 16;
    while (n < 2 * flows_.size()) n <<= 1;
    index_.assign(n, 0);
    mask_ = n - 1;
    free_.reserve(flows_.size());
    for (size_t i = flows_.size(); i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
  }

  size_t size() const { return used_; }
  size_t capacity() const { return capacity_; }
  bool full() const { return used_ >= capacity_; }

  size_t hash(const Key& k) const { return flow_key_hash(hasher_, k); }
  Flow* find(const Key& k) { return find(k, hash(k)); }
  Flow* find(const Key& k, size_t h) {
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const uint32_t e = index_[i];
      if (e == 0) return nullptr;
      const Meta& m = meta_[e - 1];
      if (m.hash == h && m.key == k) return &flows_[e - 1];
    }
  }
  // A fresh flow for `k` (which is not in the table), or null when full.
  Flow* insert(const Key& k) { return insert(k, hash(k)); }
  Flow* insert(const Key& k, size_t h) {
    if (full() || free_.empty()) return nullptr;
    const uint32_t slot = free_.back();
    free_.pop_back();
    Meta& m = meta_[slot];
    m.key = k;
    m.hash = h;
    m.live = true;
    ++m.generation;
    flows_[slot] = Flow{};
    size_t i = h & mask_;
    while (index_[i] != 0) i = (i + 1) & mask_;
    index_[i] = slot + 1;
    ++used_;
    return &flows_[slot];
  }
  // Back to FREE: out of the index, its deadline cancelled, its cookie
  // stale. The owner has unwatched and closed what the flow held.
  void erase(Flow& f) {
    const uint32_t s = slot(f);
    Meta& m = meta_[s];
    if (!m.live) return;
    timers_.cancel(s);
    index_erase(s);
    m.live = false;
    ++m.generation;
    free_.push_back(s);
    --used_;
  }

  const Key& key(const Flow& f) const { return meta_[slot(f)].key; }
  uint32_t slot(const Flow& f) const { return static_cast<uint32_t>(&f - flows_.data()); }
  bool live(uint32_t s) const { return s < meta_.size() && meta_[s].live; }
  Flow& at(uint32_t s) { return flows_[s]; }

  // What a socket watch carries: generation << 32 | slot.
  uint64_t cookie(const Flow& f) const {
    const uint32_t s = slot(f);
    return (uint64_t{meta_[s].generation} << 32) | s;
  }
  // The live flow a cookie names, or null (erased meanwhile).
  Flow* by_cookie(uint64_t c) {
    const auto s = static_cast<uint32_t>(c & 0xffffffffu);
    if (!live(s) || meta_[s].generation != static_cast<uint32_t>(c >> 32)) return nullptr;
    return &flows_[s];
  }

  // At most one deadline per flow (a new one replaces the old).
  void arm(Flow& f, MonoTime at) { timers_.arm(slot(f), at); }
  void cancel(Flow& f) { timers_.cancel(slot(f)); }
  bool armed(const Flow& f) const { return timers_.armed(slot(f)); }
  MonoTime deadline(const Flow& f) const { return timers_.deadline(slot(f)); }
  // Calls fire(flow) for each deadline <= now. fire may arm() the flow
  // again, or erase() it, and touch no other flow's deadline.
  template <class F>
  void expire(MonoTime now, F&& fire) {
    timers_.expire(now, [&](uint32_t s) {
      if (meta_[s].live) fire(flows_[s]);
    });
  }
  // Calls f(flow) for every live flow; f may erase() the flow it is given.
  template <class F>
  void for_each(F&& f) {
    for (size_t s = 0; s < flows_.size(); ++s) {
      if (meta_[s].live) f(flows_[s]);
    }
  }

 private:
  struct Meta {
    Key key{};
    size_t hash = 0;
    uint32_t generation = 0;
    bool live = false;
  };

  void index_erase(uint32_t s) {
    size_t i = meta_[s].hash & mask_;
    while (index_[i] != s + 1) i = (i + 1) & mask_;
    size_t j = i;
    while (true) {
      j = (j + 1) & mask_;
      if (index_[j] == 0) break;
      const size_t home = meta_[index_[j] - 1].hash & mask_;
      // Move j back to i unless its home lies cyclically in (i, j].
      const bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        index_[i] = index_[j];
        i = j;
      }
    }
    index_[i] = 0;
  }

  size_t capacity_;
  FlowHasher hasher_;
  std::vector<Flow> flows_;
  std::vector<Meta> meta_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> index_;  // slot + 1; 0 = empty
  size_t mask_ = 0;
  size_t used_ = 0;
  loop::TimerWheel timers_;
};

}  // namespace tapir::flows
