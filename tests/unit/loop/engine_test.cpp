// The engine loop without a tap: host-socket watches (socketpairs stand in
// for host sockets), lifecycle watches (an eventfd ends run), the tick, and
// the drain at shutdown.

#include "loop/engine.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tapir::loop {
namespace {

void stop(int efd) {
  const uint64_t one = 1;
  ASSERT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

// A loop with nothing to send: every acquire() finds no buffer.
class NullSink final : public FrameSink {
 public:
  wire::MutBytes acquire() override { return {}; }
  void send(size_t, const wire::VirtioNetHdrRepr&) override {}
  void cancel() override {}
  bool has_vnet_hdr() const override { return true; }
  size_t free_slots() const override { return 0; }
};

class Ticks : public LoopHandler {
 public:
  void on_tick(MonoTime, FrameSink&) override { ++ticks; }
  int ticks = 0;
};

// An engine with a null frame sink, started.
struct Rig {
  Ticks handler;
  NullSink sink;
  std::unique_ptr<Engine> engine;
  explicit Rig(const EngineConfig& cfg) {
    auto e = Engine::create(cfg, handler);
    EXPECT_TRUE(e) << e.error().message();
    engine = std::move(*e);
    engine->set_frame_sink(sink);
    EXPECT_TRUE(engine->start());
  }
};

// Counts readiness; unwatches itself after `limit` calls.
class Reader : public SocketClient {
 public:
  Reader(Engine*& e, int efd) : engine_(e), efd_(efd) {}
  void on_socket(uint64_t cookie, unsigned revents, MonoTime, FrameSink&) override {
    ++calls;
    last_cookie = cookie;
    if (revents & POLLIN) {
      char buf[64];
      while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) ++datagrams;
    }
    if (datagrams >= 2 && handle.valid()) {
      engine_->unwatch(handle);
      handle = {};
      stop(efd_);
    }
  }
  int fd = -1;
  WatchHandle handle;
  int calls = 0;
  int datagrams = 0;
  uint64_t last_cookie = 0;

 private:
  Engine*& engine_;
  int efd_;
};

TEST(Engine, WatchesHostSocketsUntilUnwatched) {
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  EngineConfig cfg;
  cfg.watch_fds = {efd};
  cfg.socket_slots = 2;
  Rig rig(cfg);
  EXPECT_EQ(rig.handler.ticks, 1);  // on_tick runs once at start
  Engine* raw = rig.engine.get();

  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
  Reader reader(raw, efd);
  reader.fd = sv[0];
  reader.handle = raw->watch(sv[0], POLLIN, reader, 77);
  ASSERT_TRUE(reader.handle.valid());
  EXPECT_EQ(raw->watched_sockets(), 1u);
  ASSERT_EQ(::send(sv[1], "a", 1, 0), 1);
  ASSERT_EQ(::send(sv[1], "b", 1, 0), 1);
  ASSERT_TRUE(raw->run_until_watch());
  EXPECT_EQ(reader.datagrams, 2);
  EXPECT_EQ(reader.last_cookie, 77u);
  const int calls = reader.calls;

  // After unwatch, more data raises no callback; once the kernel confirmed
  // the removal the slot is free again and can be reused.
  ASSERT_EQ(::send(sv[1], "c", 1, 0), 1);
  uint64_t drain;
  ASSERT_EQ(::read(efd, &drain, sizeof drain), static_cast<ssize_t>(sizeof drain));
  raw->rearm_watch(0);  // lifecycle watches are one-shot
  Reader other(raw, efd);
  int sv2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv2), 0);
  other.fd = sv2[0];
  other.handle = raw->watch(sv2[0], POLLIN, other, 78);
  ASSERT_TRUE(other.handle.valid());
  ASSERT_EQ(::send(sv2[1], "x", 1, 0), 1);
  ASSERT_EQ(::send(sv2[1], "y", 1, 0), 1);
  ASSERT_TRUE(raw->run_until_watch());
  EXPECT_EQ(reader.calls, calls);  // the unwatched client heard nothing more
  EXPECT_EQ(other.datagrams, 2);
  // Shutdown drains every submission — multishot polls included, whose
  // several completions count as one, and the tick, which cancel-any does
  // not reach — rather than giving up after its bounded rounds.
  raw->shutdown();
  EXPECT_EQ(raw->in_flight(), 0u);
  EXPECT_EQ(raw->watched_sockets(), 0u);
  for (int fd : {sv[0], sv[1], sv2[0], sv2[1], efd}) ::close(fd);
}

TEST(Engine, WatchReportsFullSlotTable) {
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  EngineConfig cfg;
  cfg.watch_fds = {efd};
  cfg.socket_slots = 1;
  Rig rig(cfg);
  Engine* raw = rig.engine.get();
  Reader r(raw, efd);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_TRUE(raw->watch(sv[0], POLLIN, r, 1).valid());
  EXPECT_FALSE(raw->watch(sv[1], POLLIN, r, 2).valid());
  raw->shutdown();
  for (int fd : {sv[0], sv[1], efd}) ::close(fd);
}

}  // namespace
}  // namespace tapir::loop
