#pragma once
// Frames in and out of the tap, on the loop's ring.
//
// Theory of operation (DESIGN.md "Data path"). A multishot poll on the
// (non-blocking) tap says when frames wait; TapIo then reads them in order
// with read(2), a bounded batch at a time, each with its virtio_net_hdr in
// front. (Several io_uring reads in flight on one fd may complete out of
// order, which TCP would pay for with retransmissions.) It strips the
// header, notes GSO and partial-checksum metadata (FrameMeta), and hands
// the Ethernet frame to the FrameHandler, which may queue replies through
// the TxQueue: a fixed pool of transmit buffers, each written to the tap
// with its own vnet header by an io_uring write. A batch that hit its
// bound posts a NOP, so host sockets get their turn before the rest.
//
// Nothing here allocates after create().

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "loop/engine.hpp"
#include "loop/frame_sink.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"
#include "wire/virtio_net_hdr.hpp"

namespace tapir::tap {

// Room for a 64 KiB GSO frame plus its Ethernet and vnet headers.
inline constexpr size_t kFrameBufLen = 65536 + 256;

// Receives a copy of every frame in both directions (--pcap).
class FrameTap {
 public:
  virtual ~FrameTap() = default;
  virtual void on_frame(wire::ConstBytes frame, bool to_guest) = 0;
};

// The tap's transmit buffers. detached() makes one that is not attached to
// a tap (unit tests, fuzzing): send() hands the frame to a sink and frees
// the slot at once.
class TxQueue final : public loop::FrameSink {
 public:
  using Sink = std::function<void(wire::ConstBytes frame, const wire::VirtioNetHdrRepr& vnet)>;
  static std::unique_ptr<TxQueue> detached(uint32_t slots, Sink sink);

  wire::MutBytes acquire() override;
  using FrameSink::send;
  void send(size_t len, const wire::VirtioNetHdrRepr& vnet) override;
  void cancel() override;
  bool has_vnet_hdr() const override { return vnet_len_ != 0 || detached_; }
  size_t free_slots() const override { return free_.size(); }

  uint64_t sent() const { return sent_; }
  uint64_t bytes_sent() const { return bytes_sent_; }  // frame bytes, without vnet headers
  uint64_t no_buffer() const { return no_buffer_; }

 private:
  friend class TapIo;
  struct Slot {
    std::unique_ptr<std::byte[]> buf;
    uint32_t generation = 0;
    bool busy = false;
  };
  void init(uint32_t slots, size_t vnet_len);
  void complete(const loop::Tag& tag, int res);

  loop::Engine* engine_ = nullptr;
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
  // needs_csum is false). TapIo checked the offsets fit the frame.
  void complete_checksum(wire::MutBytes frame);
};

class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // `frame` starts at the Ethernet header and is valid only during the call;
  // `meta` says whether it is a GSO frame and whether its checksum is partial.
  virtual void on_frame(wire::MutBytes frame, FrameMeta& meta, MonoTime now, loop::FrameSink& tx) = 0;
};

struct TapIoConfig {
  int tap_fd = -1;
  size_t vnet_hdr_len = wire::kVirtioNetHdrLen;  // 0 for a tap without IFF_VNET_HDR
  uint32_t rx_batch = 64;   // frames read per turn before other work runs
  uint32_t tx_slots = 256;  // allocated untouched: only the bytes used are resident
};

struct TapStats {
  uint64_t frames_in = 0;
  uint64_t bytes_in = 0;
  uint64_t read_errors = 0;
  wire::DropCounters drops;  // malformed vnet headers
};

class TapIo final : public loop::CompletionHandler {
 public:
  // Makes the tap non-blocking, routes the tap's ops of `engine` here and
  // makes tx() the engine's frame sink. When the tap stops working (its
  // namespace died) the engine is stopped with kTapGone.
  static SysResult<std::unique_ptr<TapIo>> create(const TapIoConfig& cfg, loop::Engine& engine,
                                                  FrameHandler& handler);
  static constexpr size_t kTapGone = ~size_t{0};

  // Posts the first poll (before Engine::start()).
  void start();
  // --pcap: every frame read from or written to the tap goes to `tap` too.
  void set_frame_tap(FrameTap* tap) {
    frame_tap_ = tap;
    tx_.frame_tap_ = tap;
  }
  TxQueue& tx() { return tx_; }
  const TxQueue& tx() const { return tx_; }
  const TapStats& stats() const { return stats_; }

  void on_completion(const loop::Tag& tag, const io_uring_cqe& cqe, MonoTime now) override;

 private:
  TapIo(const TapIoConfig& cfg, loop::Engine& engine, FrameHandler& handler);
  static constexpr uint32_t kPollSlot = 0;
  static constexpr uint32_t kNopSlot = 1;
  void post_poll();
  void drain(MonoTime now);
  void deliver(wire::MutBytes with_vnet_hdr, MonoTime now);

  TapIoConfig cfg_;
  loop::Engine& engine_;
  FrameHandler& handler_;
  TxQueue tx_;
  std::unique_ptr<std::byte[]> rx_;  // one frame: each is handled before the next read
  uint32_t rx_generation_ = 0;
  bool poll_armed_ = false;
  bool nop_posted_ = false;
  bool gone_ = false;
  FrameTap* frame_tap_ = nullptr;
  TapStats stats_;
};

// What TapIo does with what one read returned (`with_vnet_hdr`: the vnet
// header of `vnet_hdr_len` bytes, then the frame; vnet_hdr_len 0 for a tap
// without IFF_VNET_HDR, when it is all frame and the metadata is empty):
// checks the header (VirtioNetHdrView::parse, validate_against_frame) and
// gives the frame after it with its metadata. A pure function, so that it
// can be tested and fuzzed without a tap (tests/fuzz/tap_frame_fuzz.cpp).
// Errors: those of parse() and validate_against_frame(), which TapIo counts.
struct TapFrame {
  wire::MutBytes frame;
  FrameMeta meta;
};
Expected<TapFrame, wire::ParseError> parse_tap_frame(wire::MutBytes with_vnet_hdr,
                                                     size_t vnet_hdr_len);

// Completes a partial checksum in place: the field at csum_start +
// csum_offset holds the pseudo-header sum, and the ones' complement of the
// sum from csum_start to the end replaces it (virtio 1.0, 5.1.6.2); a sum
// of 0 is stored as 0xffff (RFC 768).
// Errors: kBadVnetHeader if the offsets do not fit the frame.
Expected<void, wire::ParseError> complete_partial_checksum(wire::MutBytes frame, uint16_t csum_start,
                                                           uint16_t csum_offset);

}  // namespace tapir::tap
