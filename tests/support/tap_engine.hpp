#pragma once
// An engine with the tap's reader and writer on it, for unit tests that
// drive flows through a socket standing in for the tap (one end of a
// SOCK_SEQPACKET socketpair keeps frame boundaries, as a tap does). It is a
// SocketWatcher itself, so flows can watch their sockets on it.

#include <memory>
#include <optional>

#include "loop/engine.hpp"
#include "tap/tap_io.hpp"

namespace tapir::test {

class TapEngine final : public loop::SocketWatcher {
 public:
  // Empty if the ring or the tap setup failed.
  static std::optional<std::unique_ptr<TapEngine>> create(int tap_fd, const loop::EngineConfig& cfg,
                                                          tap::FrameHandler& frames,
                                                          loop::LoopHandler& loop) {
    auto e = loop::Engine::create(cfg, loop);
    if (!e) return std::nullopt;
    tap::TapIoConfig tc;
    tc.tap_fd = tap_fd;
    auto io = tap::TapIo::create(tc, **e, frames);
    if (!io) return std::nullopt;
    auto t = std::unique_ptr<TapEngine>(new TapEngine);
    t->engine_ = std::move(*e);
    t->io_ = std::move(*io);
    return t;
  }

  SysResult<void> start() {
    io_->start();
    return engine_->start();
  }
  SysResult<size_t> run_until_watch() { return engine_->run_until_watch(); }
  void rearm_watch(size_t i) { engine_->rearm_watch(i); }
  void shutdown() { engine_->shutdown(); }
  uint64_t in_flight() const { return engine_->in_flight(); }
  size_t watched_sockets() const { return engine_->watched_sockets(); }
  tap::TxQueue& tx() { return io_->tx(); }

  loop::WatchHandle watch(int fd, unsigned events, loop::SocketClient& c, uint64_t cookie) override {
    return engine_->watch(fd, events, c, cookie);
  }
  void unwatch(loop::WatchHandle h) override { engine_->unwatch(h); }
  void set_events(loop::WatchHandle h, unsigned events) override { engine_->set_events(h, events); }

 private:
  TapEngine() = default;
  std::unique_ptr<loop::Engine> engine_;
  std::unique_ptr<tap::TapIo> io_;
};

}  // namespace tapir::test
