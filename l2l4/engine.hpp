#pragma once
// The engine loop: one thread, one io_uring ring, the tap on one side.
//
// Theory of operation (DESIGN.md "Data path"). A multishot poll on the
// (non-blocking) tap says when frames wait; the engine then reads them in
// order, a bounded batch at a time, each with its virtio_net_hdr in front.
// (Several io_uring reads in flight on one fd may complete out of order,
// which TCP would pay for with retransmissions.) The engine strips the
// header, notes GSO and partial-checksum metadata (FrameMeta), and hands
// the Ethernet frame to the FrameHandler, which may
// queue replies through TxQueue: a fixed pool of transmit buffers, each
// written to the tap with its own vnet header. `now` is sampled once per
// batch of completions. One timeout drives FrameHandler::on_tick.
//
// Every submission carries a Tag {op, slot, generation}; a slot is reused
// only after its completion arrived, and its generation changes on every
// reuse, so a stale completion can never reach a newer buffer.
//
// Lifecycle fds (exit-fd, signalfd, pidfd) are watched with poll
// submissions on the same ring; when one fires, run() returns its index.
//
// Nothing here allocates after create().

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "l2l4/uring.hpp"
#include "l2l4/wire/bytes.hpp"
#include "l2l4/wire/parse_error.hpp"

namespace tapir::l2l4 {

inline constexpr size_t kVnetHdrLen = 12;
// Room for a 64 KiB GSO frame plus its Ethernet and vnet headers.
inline constexpr size_t kFrameBufLen = 65536 + 256;

// What a frame to the guest carries in its vnet header (zero: a plain
// frame with complete checksums).
struct TxMeta {
  uint8_t gso_type = 0;     // wire::vnet_gso::k*
  uint16_t gso_size = 0;    // payload bytes per segment
  uint16_t hdr_len = 0;     // Ethernet + IP + L4 header bytes
  bool partial_csum = false;  // the L4 field holds only the pseudo-header sum
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};

// Receives a copy of every frame in both directions (--pcap).
class FrameTap {
 public:
  virtual ~FrameTap() = default;
  virtual void on_frame(wire::ConstBytes frame, bool to_guest) = 0;
};

class TxQueue {
 public:
  // A queue that is not attached to a tap (unit tests, fuzzing): send()
  // hands the frame to `sink` (may be empty) and frees the slot at once.
  using Sink = std::function<void(wire::ConstBytes frame, const TxMeta& meta)>;
  static std::unique_ptr<TxQueue> detached(uint32_t slots, Sink sink);

  // A buffer for one Ethernet frame, or an empty span when every transmit
  // buffer is in flight (the caller drops its reply and counts it).
  wire::MutBytes acquire();
  // Queues the buffer from the last acquire() with `len` (> 0) bytes of frame.
  void send(size_t len) { send(len, TxMeta{}); }
  // The same, with offload metadata for the guest (needs a vnet header;
  // without one the caller must not build GSO frames: has_vnet_hdr()).
  void send(size_t len, const TxMeta& meta);
  // Returns the buffer from the last acquire() unsent.
  void cancel();

  bool has_vnet_hdr() const { return vnet_len_ != 0 || detached_; }
  size_t free_slots() const { return free_.size(); }
  uint64_t sent() const { return sent_; }
  uint64_t bytes_sent() const { return bytes_sent_; }  // frame bytes, without vnet headers
  uint64_t no_buffer() const { return no_buffer_; }

 private:
  friend class Engine;
  struct Slot {
    std::unique_ptr<std::byte[]> buf;
    uint32_t generation = 0;
    bool busy = false;
  };
  Ring* ring_ = nullptr;
  uint64_t* inflight_ = nullptr;  // the engine's count
  int tap_fd_ = -1;
  size_t vnet_len_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  int32_t pending_ = -1;  // slot handed out by acquire(), not yet sent
  bool detached_ = false;
  Sink sink_;
  FrameTap* frame_tap_ = nullptr;
  uint64_t sent_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t no_buffer_ = 0;
  void complete(const Tag& tag, int res);
};

// Something that owns host sockets (a DNS forwarder, a UDP or TCP flow) and
// wants to hear when one is ready. The engine never reads or writes the
// socket itself: the client does its own non-blocking syscalls.
class SocketClient {
 public:
  virtual ~SocketClient() = default;
  // `revents` are poll(2) bits (POLLIN, POLLOUT, POLLERR, POLLHUP, ...).
  virtual void on_socket(uint64_t cookie, unsigned revents, MonoTime now, TxQueue& tx) = 0;
};

// A registration made by Engine::watch(). Generation-checked: an old handle
// can never reach a slot that was reused.
struct WatchHandle {
  uint32_t slot = 0;
  uint32_t generation = 0;
  bool valid() const { return generation != 0; }
};

// Readiness notifications for host sockets; the Engine is the real one.
class SocketWatcher {
 public:
  virtual ~SocketWatcher() = default;
  virtual WatchHandle watch(int fd, unsigned events, SocketClient& client, uint64_t cookie) = 0;
  virtual void unwatch(WatchHandle h) = 0;
  // Changes the poll(2) events a registration waits for.
  virtual void set_events(WatchHandle h, unsigned events) = 0;
};


// What the vnet header said about a frame from the guest.
struct FrameMeta {
  // Non-zero for a segmentation-offload frame (one large TCP or UDP segment).
  uint16_t gso_size = 0;
  // NEEDS_CSUM: the L4 checksum field holds only the pseudo-header sum. The
  // guest kernel vouches for the data, so only code that verifies checksums
  // (the built-in services) needs complete_checksum(); the data path, which
  // hands payloads to host sockets, never pays for it.
  bool needs_csum = false;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  // Completes the checksum in place if it is partial (once: afterwards
  // needs_csum is false). The engine checked the offsets fit the frame.
  void complete_checksum(wire::MutBytes frame);
};

class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // `frame` starts at the Ethernet header and is valid only during the call;
  // `meta` says whether it is a GSO frame and whether its checksum is partial.
  virtual void on_frame(wire::MutBytes frame, FrameMeta& meta, MonoTime now, TxQueue& tx) = 0;
  // Called every tick interval (and once when the loop starts).
  virtual void on_tick(MonoTime now, TxQueue& tx) = 0;
  // Called after each batch of completions: the place to send what the
  // batch made due once (coalesced ACKs) and to use freed transmit buffers.
  virtual void on_batch_end(MonoTime /*now*/, TxQueue& /*tx*/) {}
};

struct EngineConfig {
  int tap_fd = -1;
  size_t vnet_hdr_len = kVnetHdrLen;  // 0 for a tap without IFF_VNET_HDR
  // run_until_watch() returns when one is readable or hangs up; a negative
  // entry is a watch that is not in use (it keeps the others' indices).
  std::vector<int> watch_fds;
  // Drives retransmission timers: their resolution.
  Duration tick = Duration::millis(20);
  uint32_t rx_batch = 64;  // frames read per turn before other work runs
  uint32_t tx_slots = 256;  // allocated untouched: only the bytes used are resident
  uint32_t socket_slots = 4096;
  // Submission queue entries; 0 sizes the ring from tx_slots and the watches.
  // The completion queue is twice as long; the engine survives it
  // overflowing (multishot polls end without F_MORE and are re-armed).
  unsigned ring_entries = 0;
};

struct EngineStats {
  uint64_t frames_in = 0;
  uint64_t bytes_in = 0;
  uint64_t stale_completions = 0;
  uint64_t read_errors = 0;
  wire::DropCounters drops;  // malformed vnet headers
};

class Engine final : public SocketWatcher {
 public:
  static SysResult<std::unique_ptr<Engine>> create(const EngineConfig& cfg, FrameHandler& handler);

  // Posts every read, watch and the tick and submits them; after this the
  // loop is armed (that is when -r FD may be signalled).
  SysResult<void> start();
  // Serves until a watched fd fires; returns its index in
  // EngineConfig::watch_fds. That watch is then disarmed until rearm_watch().
  // Returns kTapGone when the tap stopped working (its namespace died).
  SysResult<size_t> run_until_watch();
  static constexpr size_t kTapGone = ~size_t{0};
  void rearm_watch(size_t index);

  // Host sockets. watch() registers a multishot poll for `events` on `fd`;
  // `client.on_socket(cookie, ...)` runs for each readiness. unwatch() ends it;
  // the slot is reused only after the kernel confirmed the end, and the fd
  // must stay open until then (close it after unwatch(): the engine holds no
  // reference once the removal is submitted, but the kernel might). Returns
  // an invalid handle when every socket slot is in use.
  WatchHandle watch(int fd, unsigned events, SocketClient& client, uint64_t cookie) override;
  void unwatch(WatchHandle h) override;
  void set_events(WatchHandle h, unsigned events) override;
  // --pcap: every frame read from or written to the tap goes to `tap` too.
  void set_frame_tap(FrameTap* tap) {
    frame_tap_ = tap;
    tx_.frame_tap_ = tap;
  }
  size_t watched_sockets() const { return socket_slots_used_; }
  // Submissions whose last completion has not arrived (0 after shutdown()).
  uint64_t in_flight() const { return inflight_; }
  // Cancels everything in flight and waits for the completions, so that no
  // request still holds the tap when its fd is closed: the kernel tears a
  // ring down asynchronously, and until then the tap would stay busy.
  void shutdown();

  const EngineStats& stats() const { return stats_; }
  const TxQueue& tx() const { return tx_; }
  const char* ring_mode() const { return ring_.setup_mode(); }

 private:
  Engine(Ring ring, const EngineConfig& cfg, FrameHandler& handler);
  void post_tap_poll();
  void drain_tap(MonoTime now);
  void on_tap_ready(const Tag& tag, const io_uring_cqe& cqe, MonoTime now);
  static constexpr uint32_t kTapPollSlot = 0;
  static constexpr uint32_t kTapNopSlot = 1;
  void post_tick();
  void deliver(wire::MutBytes with_vnet_hdr, MonoTime now);
  void post_socket_poll(uint32_t slot);
  void on_socket(const Tag& tag, const io_uring_cqe& cqe, MonoTime now);
  void free_slot(uint32_t slot);  // exactly once per watch()

  Ring ring_;
  EngineConfig cfg_;
  FrameHandler& handler_;
  TxQueue tx_;
  std::unique_ptr<std::byte[]> rx_;  // one frame: each is handled before the next read
  uint32_t rx_generation_ = 0;
  bool tap_poll_armed_ = false;
  bool tap_nop_posted_ = false;
  struct SocketSlot {
    SocketClient* client = nullptr;
    uint64_t cookie = 0;
    int fd = -1;
    unsigned events = 0;
    uint32_t generation = 0;
    bool active = false;    // registered and wanted
    bool armed = false;     // a multishot poll is in the kernel
    bool in_callback = false;  // on_socket() is calling its client: it frees the slot
    bool taken = false;        // between watch() and the slot's one free
  };
  std::vector<SocketSlot> sockets_;
  std::vector<uint32_t> free_sockets_;
  size_t socket_slots_used_ = 0;
  uint64_t inflight_ = 0;  // submissions whose completion has not arrived
  bool tap_gone_ = false;
  FrameTap* frame_tap_ = nullptr;
  __kernel_timespec tick_ts_{};
  EngineStats stats_;
};

// Completes a partial checksum in place: the field at csum_start +
// csum_offset holds the pseudo-header sum, and the ones' complement of the
// sum from csum_start to the end replaces it (virtio 1.0, 5.1.6.2).
// Errors: kBadVnetHeader if the offsets do not fit the frame.
Expected<void, wire::ParseError> complete_partial_checksum(wire::MutBytes frame, uint16_t csum_start,
                                                           uint16_t csum_offset);

}  // namespace tapir::l2l4
