#pragma once
// Readiness of host sockets: what flows and the DNS forwarder use of the
// loop instead of the Engine itself (loop/engine.hpp is the real one).

#include <cstdint>

#include "base/clock.hpp"
#include "loop/frame_sink.hpp"

namespace tapir::loop {

// Something that owns host sockets (a DNS forwarder, a UDP or TCP flow) and
// wants to hear when one is ready. The loop never reads or writes the
// socket itself: the client does its own non-blocking syscalls.
class SocketClient {
 public:
  virtual ~SocketClient() = default;
  // `revents` are poll(2) bits (POLLIN, POLLOUT, POLLERR, POLLHUP, ...).
  virtual void on_socket(uint64_t cookie, unsigned revents, MonoTime now, FrameSink& tx) = 0;
};

// A registration made by SocketWatcher::watch(). Generation-checked: an old
// handle can never reach a slot that was reused.
struct WatchHandle {
  uint32_t slot = 0;
  uint32_t generation = 0;
  bool valid() const { return generation != 0; }
};

class SocketWatcher {
 public:
  virtual ~SocketWatcher() = default;
  // Registers `fd` for `events`; `client.on_socket(cookie, ...)` runs for
  // each readiness until unwatch(). Returns an invalid handle when every
  // slot is in use. The fd must stay open until unwatch() returned.
  virtual WatchHandle watch(int fd, unsigned events, SocketClient& client, uint64_t cookie) = 0;
  virtual void unwatch(WatchHandle h) = 0;
  // Changes the poll(2) events a registration waits for.
  virtual void set_events(WatchHandle h, unsigned events) = 0;
};

}  // namespace tapir::loop
