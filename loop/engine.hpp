#pragma once
// The event loop: one thread, one io_uring ring.
//
// Theory of operation (DESIGN.md "Data path"). Everything tapir waits for
// is a submission on this ring: the tap's reads and writes (tap/tap_io,
// which routes its completions here through CompletionHandler), multishot
// polls on host sockets (SocketWatcher), polls on the lifecycle fds
// (exit-fd, signalfd, pidfd), and one periodic timeout, the tick, that
// drives every timer (LoopHandler::on_tick). `now` is sampled once per
// batch of completions; after each batch LoopHandler::on_batch_end runs
// (coalesced ACKs go out there).
//
// Every submission carries a Tag {op, slot, generation} (loop/uring.hpp);
// a slot is reused only after its last completion arrived, and its
// generation changes on every reuse, so a stale completion can never reach
// a newer buffer or socket. in_flight() counts submissions whose last
// completion has not arrived; shutdown() drains them all.
//
// Nothing here allocates after create().

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "loop/frame_sink.hpp"
#include "loop/socket_watcher.hpp"
#include "loop/uring.hpp"

namespace tapir::loop {

// Ticks and batch ends: the engine's owner (the stack's dispatcher).
class LoopHandler {
 public:
  virtual ~LoopHandler() = default;
  // Every tick interval (and once when the loop starts).
  virtual void on_tick(MonoTime now, FrameSink& tx) = 0;
  // After each batch of completions: the place to send what the batch made
  // due once (coalesced ACKs) and to use freed transmit buffers.
  virtual void on_batch_end(MonoTime /*now*/, FrameSink& /*tx*/) {}
};

// The owner of an op's submissions (the tap's reads and writes).
class CompletionHandler {
 public:
  virtual ~CompletionHandler() = default;
  virtual void on_completion(const Tag& tag, const io_uring_cqe& cqe, MonoTime now) = 0;
};

struct EngineConfig {
  // run_until_watch() returns when one is readable or hangs up; a negative
  // entry is a watch that is not in use (it keeps the others' indices).
  std::vector<int> watch_fds;
  // Drives retransmission timers: their resolution.
  Duration tick = Duration::millis(20);
  uint32_t socket_slots = 4096;
  // Submissions routed ops may have in flight at once (the tap's transmit
  // buffers): sizes the ring.
  uint32_t routed_in_flight = 256;
  // Submission queue entries; 0 sizes the ring from routed_in_flight and the
  // watches. The completion queue is twice as long; the engine survives it
  // overflowing (multishot polls end without F_MORE and are re-armed).
  unsigned ring_entries = 0;
};

struct EngineStats {
  uint64_t stale_completions = 0;
  uint64_t update_retries = 0;  // event changes asked again after -EALREADY
};

class Engine final : public SocketWatcher {
 public:
  static SysResult<std::unique_ptr<Engine>> create(const EngineConfig& cfg, LoopHandler& handler);

  // Completions of `op` go to `h` (before start(); the tap's ops).
  void route(Op op, CompletionHandler& h);
  // The frames to the guest that on_socket / on_tick callbacks may send
  // (before start()).
  void set_frame_sink(FrameSink& tx) { tx_ = &tx; }
  // For routed ops: a free submission entry, and its tag once prepared
  // (counted in in_flight() until its last completion).
  io_uring_sqe* sqe() { return ring_.sqe(); }
  void track(io_uring_sqe* sqe, const Tag& tag);

  // Posts every watch and the tick and submits them, with what routed
  // owners posted before; after this the loop is armed (that is when -r FD
  // may be signalled).
  SysResult<void> start();
  // Serves until a watched fd fires; returns its index in
  // EngineConfig::watch_fds. That watch is then disarmed until rearm_watch().
  // Returns the code given to stop() when an owner stopped the loop.
  SysResult<size_t> run_until_watch();
  void rearm_watch(size_t index);
  // Ends run_until_watch() after the current batch with `code`.
  void stop(size_t code) { stop_code_ = code; }
  static constexpr size_t kNoStop = ~size_t{0} - 1;

  // Host sockets: a multishot poll per watch. The slot is reused only after
  // the kernel confirmed the poll's end (close the fd after unwatch(): the
  // engine holds no reference once the removal is submitted, but the kernel
  // might until then).
  WatchHandle watch(int fd, unsigned events, SocketClient& client, uint64_t cookie) override;
  void unwatch(WatchHandle h) override;
  void set_events(WatchHandle h, unsigned events) override;
  size_t watched_sockets() const { return socket_slots_used_; }
  // Submissions whose last completion has not arrived (0 after shutdown()).
  uint64_t in_flight() const { return inflight_; }
  // Cancels everything in flight and waits for the completions, so that no
  // request still holds the tap when its fd is closed: the kernel tears a
  // ring down asynchronously, and until then the tap would stay busy.
  void shutdown();

  const EngineStats& stats() const { return stats_; }
  const char* ring_mode() const { return ring_.setup_mode(); }
  const Ring& ring() const { return ring_; }

 private:
  Engine(Ring ring, const EngineConfig& cfg, LoopHandler& handler);
  void post_tick();
  void post_socket_poll(uint32_t slot);
  void post_update(uint32_t slot);
  void on_update(const Tag& tag, const io_uring_cqe& cqe);
  void on_socket(const Tag& tag, const io_uring_cqe& cqe, MonoTime now);
  void free_socket_slot(uint32_t slot);  // exactly once per watch()

  Ring ring_;
  EngineConfig cfg_;
  LoopHandler& handler_;
  FrameSink* tx_ = nullptr;
  std::array<CompletionHandler*, 8> routes_{};
  struct SocketSlot {
    SocketClient* client = nullptr;
    uint64_t cookie = 0;
    int fd = -1;
    unsigned events = 0;
    uint32_t generation = 0;
    bool active = false;       // registered and wanted
    bool armed = false;        // a multishot poll is in the kernel
    bool in_callback = false;  // on_socket() is calling its client: it frees the slot
    bool taken = false;        // between watch() and the slot's one free
  };
  std::vector<SocketSlot> sockets_;
  std::vector<uint32_t> free_sockets_;
  size_t socket_slots_used_ = 0;
  uint64_t inflight_ = 0;  // submissions whose last completion has not arrived
  size_t stop_code_ = kNoStop;
  __kernel_timespec tick_ts_{};
  EngineStats stats_;
};

}  // namespace tapir::loop
