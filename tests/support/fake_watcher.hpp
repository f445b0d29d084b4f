#pragma once
// The engine's socket watches (loop::SocketWatcher) without an engine: the
// fake hosts' tests and fuzz targets deliver readiness by hand.

#include <cstdint>
#include <vector>

#include "loop/socket_watcher.hpp"

namespace tapir::testing {

// Records watches instead of polling; tests deliver readiness by hand.
class FakeWatcher final : public loop::SocketWatcher {
 public:
  struct Watch {
    int fd = -1;
    unsigned events = 0;
    loop::SocketClient* client = nullptr;
    uint64_t cookie = 0;
    bool active = false;
  };
  std::vector<Watch> watches;
  bool refuse = false;

  loop::WatchHandle watch(int fd, unsigned events, loop::SocketClient& c,
                          uint64_t cookie) override {
    if (refuse) return {};
    watches.push_back({fd, events, &c, cookie, true});
    return {static_cast<uint32_t>(watches.size() - 1), 1};
  }
  void unwatch(loop::WatchHandle h) override {
    if (h.valid() && h.slot < watches.size()) watches[h.slot].active = false;
  }
  void set_events(loop::WatchHandle h, unsigned events) override {
    if (h.valid() && h.slot < watches.size()) watches[h.slot].events = events;
  }
  // The active watch on fd, or nullptr.
  Watch* find(int fd) {
    for (auto& w : watches) {
      if (w.active && w.fd == fd) return &w;
    }
    return nullptr;
  }
};

}  // namespace tapir::testing
