// The engine loop without a tap: host-socket watches (socketpairs stand in
// for host sockets), lifecycle watches (an eventfd ends run), the tick, and
// the drain at shutdown.

#include "loop/engine.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

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

// Unwatches itself in its first callback, as a flow that ends on an error
// does; counts calls.
class OneShot : public SocketClient {
 public:
  void on_socket(uint64_t cookie, unsigned, MonoTime, FrameSink&) override {
    ++calls[cookie];
    if (handles[cookie].valid()) {
      engine->unwatch(handles[cookie]);
      handles[cookie] = {};
      ++unwatched;
    }
  }
  Engine* engine = nullptr;
  std::vector<WatchHandle> handles;
  std::vector<int> calls;
  size_t unwatched = 0;
};

// Stops the loop at the end of the first batch in which `done()` holds.
class StopWhen : public LoopHandler {
 public:
  StopWhen(int efd, std::function<bool()> done) : efd_(efd), done_(std::move(done)) {}
  void on_tick(MonoTime, FrameSink&) override {}
  void on_batch_end(MonoTime, FrameSink&) override {
    if (!stopped_ && done_ && done_()) {
      stopped_ = true;
      stop(efd_);
    }
  }

 private:
  int efd_;
  std::function<bool()> done_;
  bool stopped_ = false;
};

// DESIGN.md: a slot is freed exactly once, also when the last completion
// of a multishot poll (no F_MORE) reaches a client that unwatches inside
// its callback. A ring whose completion queue holds 32 entries and
// thousands of sockets made ready at once: the kernel ends most multishot
// polls (it cannot post their completion with F_MORE), and each of those
// final completions reaches a client that unwatches.
TEST(Engine, ASlotIsFreedOnceWhenTheLastCompletionMeetsAnUnwatch) {
  constexpr int kSockets = 3000;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Engine* raw = nullptr;
  OneShot client;
  size_t idle = 0;
  StopWhen handler(efd, [&] { return client.unwatched == kSockets && raw->in_flight() == idle; });
  EngineConfig cfg;
  cfg.watch_fds = {efd};
  cfg.socket_slots = 2 * kSockets;
  cfg.routed_in_flight = 4;
  cfg.ring_entries = 16;  // completion queue: 32 entries
  auto engine = Engine::create(cfg, handler);
  ASSERT_TRUE(engine);
  raw = engine->get();
  NullSink sink;
  raw->set_frame_sink(sink);
  client.engine = raw;
  ASSERT_TRUE(raw->start());
  idle = raw->in_flight();  // the lifecycle watch and the tick

  // Every socket readable before its poll goes in: all of them complete
  // in the first round, far more than the completion queue holds.
  std::vector<int> fds;
  client.calls.assign(kSockets, 0);
  for (int i = 0; i < kSockets; ++i) {
    const int fd = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(fd, 0) << "eventfd " << i << ": " << std::strerror(errno);
    fds.push_back(fd);
    client.handles.push_back(raw->watch(fd, POLLIN, client, static_cast<uint64_t>(i)));
    ASSERT_TRUE(client.handles.back().valid());
  }
  EXPECT_EQ(raw->watched_sockets(), static_cast<size_t>(kSockets));
  ASSERT_TRUE(raw->run_until_watch());
  // Every client heard of its socket once, unwatched, and every removal
  // and final completion arrived.
  EXPECT_EQ(client.unwatched, static_cast<size_t>(kSockets));
  for (int i = 0; i < kSockets; ++i)
    EXPECT_EQ(client.calls[static_cast<size_t>(i)], 1) << "socket " << i;
  EXPECT_EQ(raw->watched_sockets(), 0u);
  EXPECT_EQ(raw->in_flight(), idle - 1);  // the lifecycle watch fired and waits for rearm_watch()

  // The slots are free once each: as many new watches get distinct ones.
  std::vector<bool> seen(cfg.socket_slots, false);
  OneShot quiet;
  quiet.engine = raw;
  for (int i = 0; i < kSockets; ++i) {
    const WatchHandle h = raw->watch(fds[static_cast<size_t>(i)], POLLOUT, quiet, 0);
    ASSERT_TRUE(h.valid());
    ASSERT_FALSE(seen[h.slot]) << "slot " << h.slot << " handed out twice";
    seen[h.slot] = true;
  }
  EXPECT_EQ(raw->watched_sockets(), static_cast<size_t>(kSockets));
  raw->shutdown();
  EXPECT_EQ(raw->in_flight(), 0u);
  EXPECT_EQ(raw->watched_sockets(), 0u);
  for (int fd : fds) ::close(fd);
  ::close(efd);
}

// Records what it was told; reads what arrives.
class Recorder : public SocketClient {
 public:
  void on_socket(uint64_t, unsigned revents, MonoTime, FrameSink&) override {
    ++calls;
    seen |= revents;
    char buf[64];
    while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }
  int fd = -1;
  int calls = 0;
  unsigned seen = 0;
};

// One round of the loop: it submits what is queued, waits, handles one
// batch of completions, and returns because the lifecycle watch fired.
void round(Engine& e, int efd) {
  stop(efd);
  ASSERT_TRUE(e.run_until_watch());
  uint64_t v = 0;
  ASSERT_EQ(::read(efd, &v, sizeof v), static_cast<ssize_t>(sizeof v));
  e.rearm_watch(0);
}

// A wakeup the kernel has not finished delivering holds a poll: its task
// work waits for the ring's thread (with DEFER_TASKRUN, until the loop next
// waits). IORING_OP_POLL_REMOVE fails on such a poll with -EALREADY and
// leaves it armed, and a multishot poll left armed keeps its socket's file
// open after close(): a guest's DNS stream never saw its EOF. An unwatch
// must end the poll whatever the kernel is doing with it.
TEST(Engine, AnUnwatchDuringAPendingWakeupStillEndsThePoll) {
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  EngineConfig cfg;
  cfg.watch_fds = {efd};
  Rig rig(cfg);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  Recorder client;
  client.fd = sv[0];
  const WatchHandle h = rig.engine->watch(sv[0], POLLIN, client, 7);
  round(*rig.engine, efd);  // the poll is armed in the kernel
  ASSERT_EQ(client.calls, 0);

  ASSERT_EQ(::write(sv[1], "x", 1), 1);  // a wakeup, its delivery pending
  rig.engine->unwatch(h);
  ::close(sv[0]);
  for (int i = 0; i < 10 && rig.engine->watched_sockets() != 0; ++i) round(*rig.engine, efd);
  EXPECT_EQ(rig.engine->watched_sockets(), 0u) << "the poll was never removed";
  EXPECT_EQ(client.calls, 0);  // nothing reaches a client after its unwatch
  // Closed for good: EOF, or a reset as "x" went unread; not "try again".
  char c = 0;
  const ssize_t n = ::recv(sv[1], &c, 1, MSG_DONTWAIT);
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET))
      << "the closed socket is still open: " << (n < 0 ? std::strerror(errno) : "data");
  rig.engine->shutdown();
  EXPECT_EQ(rig.engine->in_flight(), 0u);
  ::close(sv[1]);
  ::close(efd);
}

// The same for a change of events (IORING_POLL_UPDATE_EVENTS fails the
// same way): the new events take effect, as the DNS stream and TCP need
// POLLOUT to arrive once they asked for it.
TEST(Engine, AnEventChangeDuringAPendingWakeupTakesEffect) {
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  EngineConfig cfg;
  cfg.watch_fds = {efd};
  Rig rig(cfg);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  Recorder client;
  client.fd = sv[0];
  const WatchHandle h = rig.engine->watch(sv[0], POLLIN, client, 7);
  round(*rig.engine, efd);

  ASSERT_EQ(::write(sv[1], "x", 1), 1);
  rig.engine->set_events(h, POLLIN | POLLOUT);  // sv[0] is writable all along
  for (int i = 0; i < 10 && (client.seen & POLLOUT) == 0; ++i) round(*rig.engine, efd);
  EXPECT_NE(client.seen & POLLOUT, 0u) << "the change of events was lost";
  rig.engine->unwatch(h);
  rig.engine->shutdown();
  EXPECT_EQ(rig.engine->in_flight(), 0u);
  EXPECT_EQ(rig.engine->watched_sockets(), 0u);
  ::close(sv[0]);
  ::close(sv[1]);
  ::close(efd);
}

}  // namespace
}  // namespace tapir::loop
