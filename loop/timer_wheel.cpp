#include "loop/timer_wheel.hpp"

#include "base/check.hpp"

namespace tapir::loop {

TimerWheel::TimerWheel(size_t ids, Duration granularity, size_t buckets)
    : granularity_(granularity), nodes_(ids), heads_(buckets, kNone) {
  TAPIR_CHECK(granularity.ns > 0 && buckets > 0);
}

void TimerWheel::link(uint32_t id, uint32_t bucket) {
  Node& n = nodes_[id];
  n.bucket = bucket;
  n.prev = kNone;
  n.next = heads_[bucket];
  if (n.next != kNone) nodes_[n.next].prev = id;
  heads_[bucket] = id;
}

void TimerWheel::unlink(uint32_t id) {
  Node& n = nodes_[id];
  if (n.prev != kNone) {
    nodes_[n.prev].next = n.next;
  } else {
    heads_[n.bucket] = n.next;
  }
  if (n.next != kNone) nodes_[n.next].prev = n.prev;
  n.prev = n.next = n.bucket = kNone;
}

void TimerWheel::arm(uint32_t id, MonoTime at) {
  if (nodes_[id].bucket != kNone) unlink(id);
  nodes_[id].at = at;
  int64_t t = tick_of(at);
  // A deadline in a bucket already walked fires at the next expire().
  if (next_tick_ >= 0 && t < next_tick_) t = next_tick_;
  link(id, bucket_of(t));
}

void TimerWheel::cancel(uint32_t id) {
  if (nodes_[id].bucket != kNone) unlink(id);
}

}  // namespace tapir::loop
