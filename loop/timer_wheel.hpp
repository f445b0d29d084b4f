#pragma once
// A hashed timer wheel: at most one deadline per id (a flow slot), driven
// by the engine's one periodic timeout (DESIGN.md "Data path").
//
// Deadlines fall into buckets of `granularity`; expire() walks the buckets
// between the last call and `now`. A deadline further away than the wheel
// spans stays in its bucket and is passed over until it is due, so there
// is no limit on how far ahead one can be. Arming, cancelling and firing
// are O(1); nothing allocates after construction.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/clock.hpp"

namespace tapir::loop {

class TimerWheel {
 public:
  TimerWheel(size_t ids, Duration granularity, size_t buckets = 1024);

  // Sets id's deadline (replacing any earlier one).
  void arm(uint32_t id, MonoTime at);
  void cancel(uint32_t id);
  bool armed(uint32_t id) const { return nodes_[id].bucket != kNone; }
  MonoTime deadline(uint32_t id) const { return nodes_[id].at; }

  // Calls fire(id) for every deadline <= now, each once. fire may arm or
  // cancel its own id, and no other.
  template <class F>
  void expire(MonoTime now, F&& fire);

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  struct Node {
    MonoTime at{};
    uint32_t prev = kNone;
    uint32_t next = kNone;
    uint32_t bucket = kNone;
  };
  int64_t tick_of(MonoTime t) const { return t.ns / granularity_.ns; }
  uint32_t bucket_of(int64_t tick) const {
    const int64_t n = static_cast<int64_t>(heads_.size());
    return static_cast<uint32_t>(((tick % n) + n) % n);
  }
  void link(uint32_t id, uint32_t bucket);
  void unlink(uint32_t id);

  Duration granularity_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> heads_;
  int64_t next_tick_ = -1;  // the first tick expire() has not walked yet
};

template <class F>
void TimerWheel::expire(MonoTime now, F&& fire) {
  const int64_t last = tick_of(now);
  const int64_t n = static_cast<int64_t>(heads_.size());
  int64_t from = next_tick_ < 0 ? last - n + 1 : next_tick_;  // first call: every bucket
  if (last - from >= n) from = last - n + 1;  // every bucket once
  // What fire() arms from here on lands after this walk (see arm()).
  next_tick_ = last + 1;
  for (int64_t t = from; t <= last; ++t) {
    const uint32_t b = bucket_of(t);
    // Detach the bucket: what fire() re-arms lands in a list we are not walking.
    uint32_t id = heads_[b];
    heads_[b] = kNone;
    while (id != kNone) {
      const uint32_t next = nodes_[id].next;
      nodes_[id].prev = nodes_[id].next = kNone;
      nodes_[id].bucket = kNone;
      if (nodes_[id].at <= now) {
        fire(id);
      } else {
        link(id, bucket_of(tick_of(nodes_[id].at)));
      }
      id = next;
    }
  }
}

}  // namespace tapir::loop
