#pragma once
// The engine's socket watches (loop::SocketWatcher) without an engine: the
// fake hosts' tests and fuzz targets deliver readiness by hand.
//
// Like the engine, it reuses the slot of an ended watch with a new
// generation, so a handle that outlived its watch is told apart from the
// watch now in that slot: using one (unwatch, set_events) is counted in
// `stale`, and with `strict` set it aborts, which a fuzz target reports as
// a finding. `max_slots` bounds the watches as the engine's ring does.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "loop/socket_watcher.hpp"

namespace tapir::testing {

class FakeWatcher final : public loop::SocketWatcher {
 public:
  struct Watch {
    int fd = -1;
    unsigned events = 0;
    loop::SocketClient* client = nullptr;
    uint64_t cookie = 0;
    bool active = false;
    uint32_t generation = 0;
  };
  std::vector<Watch> watches;  // by slot; ended watches stay until reused
  bool refuse = false;         // every watch() fails, as when the engine is full
  size_t max_slots = std::numeric_limits<size_t>::max();
  bool strict = false;
  uint64_t stale = 0;

  loop::WatchHandle watch(int fd, unsigned events, loop::SocketClient& c,
                          uint64_t cookie) override {
    if (refuse) return {};
    if (strict && fd < 0) fail("a watch of a negative fd");
    size_t slot = 0;
    while (slot < watches.size() && watches[slot].active) ++slot;
    if (slot == watches.size()) {
      if (watches.size() >= max_slots) return {};
      watches.emplace_back();
    }
    Watch& w = watches[slot];
    w = Watch{fd, events, &c, cookie, true, w.generation + 1};
    return {static_cast<uint32_t>(slot), w.generation};
  }
  void unwatch(loop::WatchHandle h) override {
    if (Watch* w = live(h)) w->active = false;
  }
  void set_events(loop::WatchHandle h, unsigned events) override {
    if (Watch* w = live(h)) w->events = events;
  }
  // The active watch on fd, or nullptr.
  Watch* find(int fd) {
    for (auto& w : watches) {
      if (w.active && w.fd == fd) return &w;
    }
    return nullptr;
  }
  size_t active_count() const {
    size_t n = 0;
    for (const auto& w : watches) n += w.active ? 1 : 0;
    return n;
  }

 private:
  Watch* live(loop::WatchHandle h) {
    if (h.valid() && h.slot < watches.size()) {
      Watch& w = watches[h.slot];
      if (w.active && w.generation == h.generation) return &w;
    }
    ++stale;
    if (strict) fail("a stale or invalid watch handle was used");
    return nullptr;
  }
  [[noreturn]] static void fail(const char* what) {
    std::fprintf(stderr, "FakeWatcher: %s\n", what);
    std::abort();
  }
};

}  // namespace tapir::testing
