#include "tap/tap_io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "base/check.hpp"
#include "base/log.hpp"
#include "wire/checksum.hpp"

namespace tapir::tap {

using loop::Op;
using loop::Tag;

Expected<void, wire::ParseError> complete_partial_checksum(wire::MutBytes frame, uint16_t csum_start,
                                                           uint16_t csum_offset) {
  const size_t at = size_t{csum_start} + csum_offset;
  if (csum_start >= frame.size() || at + 2 > frame.size()) {
    return unexpected(wire::ParseError::kBadVnetHeader);
  }
  // A result of 0 goes out as 0xffff, the same value in ones' complement:
  // for UDP, 0 means "no checksum" (RFC 768), which IPv6 forbids (RFC 8200
  // 8.1). Linux's skb_checksum_help() does the same for every protocol.
  const uint16_t sum = wire::internet_checksum(frame.subspan(csum_start));
  wire::store_be16(frame, at, sum == 0 ? 0xffff : sum);
  return {};
}

void FrameMeta::complete_checksum(wire::MutBytes frame) {
  if (!needs_csum) return;
  needs_csum = false;
  // Cannot fail: validate_against_frame() checked the offsets.
  (void)complete_partial_checksum(frame, csum_start, csum_offset);
}

// --- TxQueue ---------------------------------------------------------------

void TxQueue::init(uint32_t slots, size_t vnet_len) {
  vnet_len_ = vnet_len;
  slots_.resize(slots);
  for (uint32_t i = 0; i < slots; ++i) {
    slots_[i].buf = std::make_unique<std::byte[]>(kFrameBufLen);
    free_.push_back(slots - 1 - i);
  }
}

std::unique_ptr<TxQueue> TxQueue::detached(uint32_t slots, Sink sink) {
  auto q = std::make_unique<TxQueue>();
  q->detached_ = true;
  q->sink_ = std::move(sink);
  q->init(slots, wire::kVirtioNetHdrLen);
  return q;
}

wire::MutBytes TxQueue::acquire() {
  TAPIR_CHECK(pending_ < 0);
  if (free_.empty()) {
    ++no_buffer_;
    return {};
  }
  const uint32_t s = free_.back();
  free_.pop_back();
  slots_[s].busy = true;
  pending_ = static_cast<int32_t>(s);
  return {slots_[s].buf.get() + vnet_len_, kFrameBufLen - vnet_len_};
}

void TxQueue::cancel() {
  TAPIR_CHECK(pending_ >= 0);
  const uint32_t s = static_cast<uint32_t>(pending_);
  pending_ = -1;
  slots_[s].busy = false;
  free_.push_back(s);
}

void TxQueue::send(size_t len, const wire::VirtioNetHdrRepr& vnet) {
  TAPIR_CHECK(pending_ >= 0 && len > 0 && len <= kFrameBufLen - vnet_len_);
  const uint32_t s = static_cast<uint32_t>(pending_);
  pending_ = -1;
  Slot& slot = slots_[s];
  const wire::ConstBytes frame{slot.buf.get() + vnet_len_, len};
  if (frame_tap_ != nullptr) frame_tap_->on_frame(frame, true);
  ++sent_;
  bytes_sent_ += len;
  if (detached_) {
    if (sink_) sink_(frame, vnet);
    slot.busy = false;
    free_.push_back(s);
    return;
  }
  if (vnet_len_ != 0) {
    // Little-endian fields (virtio 1.0 on x86 and every tap since 4.x with
    // TUNSETVNETLE unset: the host's order, which is little-endian here).
    vnet.emit({slot.buf.get(), vnet_len_}, vnet_len_);
  } else {
    TAPIR_CHECK(vnet.gso_type == wire::vnet_gso::kNone &&
                (vnet.flags & wire::vnet_flag::kNeedsCsum) == 0);
  }
  io_uring_sqe* sqe = engine_->sqe();
  io_uring_prep_write(sqe, tap_fd_, slot.buf.get(), static_cast<unsigned>(vnet_len_ + len), 0);
  engine_->track(sqe, Tag{Op::kTapWrite, s, ++slot.generation});
}

void TxQueue::complete(const Tag& tag, int res) {
  if (tag.slot >= slots_.size() || slots_[tag.slot].generation != tag.generation) return;
  slots_[tag.slot].busy = false;
  free_.push_back(tag.slot);
  if (res < 0) {
    static RateLimit rl(5, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, mono_now(), "tap write failed: %s", strerrordesc_np(-res));
  }
}

// --- TapIo -----------------------------------------------------------------

TapIo::TapIo(const TapIoConfig& cfg, loop::Engine& engine, FrameHandler& handler)
    : cfg_(cfg), engine_(engine), handler_(handler) {
  rx_ = std::make_unique<std::byte[]>(kFrameBufLen);
  tx_.engine_ = &engine;
  tx_.tap_fd_ = cfg.tap_fd;
  tx_.init(cfg.tx_slots, cfg.vnet_hdr_len);
}

SysResult<std::unique_ptr<TapIo>> TapIo::create(const TapIoConfig& cfg, loop::Engine& engine,
                                                FrameHandler& handler) {
  TAPIR_CHECK(cfg.rx_batch > 0 && cfg.tx_slots > 0 && cfg.tx_slots < Tag::kMaxSlot);
  // io_uring retries a read that would block by polling, instead of parking
  // a kernel worker thread in a blocking read.
  const int fl = ::fcntl(cfg.tap_fd, F_GETFL);
  if (fl < 0 || ::fcntl(cfg.tap_fd, F_SETFL, fl | O_NONBLOCK) < 0) return sys_error("fcntl tap O_NONBLOCK");
  std::unique_ptr<TapIo> io(new TapIo(cfg, engine, handler));
  engine.route(Op::kTapRead, *io);
  engine.route(Op::kTapWrite, *io);
  engine.set_frame_sink(io->tx_);
  return io;
}

void TapIo::start() { post_poll(); }

void TapIo::post_poll() {
  io_uring_sqe* sqe = engine_.sqe();
  io_uring_prep_poll_multishot(sqe, cfg_.tap_fd, POLLIN);
  engine_.track(sqe, Tag{Op::kTapRead, kPollSlot, ++rx_generation_});
  poll_armed_ = true;
}

void TapIo::on_completion(const Tag& tag, const io_uring_cqe& cqe, MonoTime now) {
  if (tag.op == Op::kTapWrite) return tx_.complete(tag, cqe.res);
  // The tap is read with plain read(2) calls on readiness, in a loop, not
  // with several io_uring reads in flight: completions of concurrent reads
  // on one fd may arrive in another order than the frames, and TCP needs
  // the guest's frames in the order it sent them. A batch is bounded so
  // that host sockets get their turn; a NOP brings the loop back for the rest.
  if (tag.slot == kPollSlot && (cqe.flags & IORING_CQE_F_MORE) == 0) poll_armed_ = false;
  if (tag.slot == kNopSlot) nop_posted_ = false;
  if (tag.slot == kPollSlot && cqe.res < 0 && cqe.res != -ECANCELED) ++stats_.read_errors;
  drain(now);
  if (gone_) {
    engine_.stop(kTapGone);
  } else if (!poll_armed_) {
    post_poll();
  }
}

void TapIo::drain(MonoTime now) {
  std::byte* buf = rx_.get();
  for (uint32_t i = 0; i < cfg_.rx_batch; ++i) {
    const ssize_t n = ::read(cfg_.tap_fd, buf, kFrameBufLen);
    if (n > 0) {
      ++stats_.frames_in;
      stats_.bytes_in += static_cast<uint64_t>(n);
      deliver({buf, static_cast<size_t>(n)}, now);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n == 0 || errno == EBADFD || errno == EIO || errno == ENODEV) {
      // The device is gone (its namespace died, or it was deleted): reading
      // again would fail at once, forever.
      gone_ = true;
      return;
    }
    ++stats_.read_errors;
    static RateLimit rl(5, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "tap read failed: %s", strerrordesc_np(errno));
    return;
  }
  // More may be waiting: come back after the other completions.
  if (!nop_posted_) {
    io_uring_sqe* sqe = engine_.sqe();
    io_uring_prep_nop(sqe);
    engine_.track(sqe, Tag{Op::kTapRead, kNopSlot, 0});
    nop_posted_ = true;
  }
}

void TapIo::deliver(wire::MutBytes all, MonoTime now) {
  if (frame_tap_ != nullptr) frame_tap_->on_frame(all.subspan(std::min(all.size(), cfg_.vnet_hdr_len)), false);
  auto f = parse_tap_frame(all, cfg_.vnet_hdr_len);
  if (!f) return stats_.drops.count(f.error());
  handler_.on_frame(f->frame, f->meta, now, tx_);
}

Expected<TapFrame, wire::ParseError> parse_tap_frame(wire::MutBytes all, size_t vnet_hdr_len) {
  TapFrame f;
  if (vnet_hdr_len == 0) {
    f.frame = all;
    return f;
  }
  auto h = wire::VirtioNetHdrView::parse(all, vnet_hdr_len);
  if (!h) return unexpected(h.error());
  f.frame = all.subspan(vnet_hdr_len);
  if (auto v = h->validate_against_frame(f.frame.size()); !v) return unexpected(v.error());
  if (h->gso_type() != wire::vnet_gso::kNone) f.meta.gso_size = h->gso_size();
  if (h->needs_csum()) {
    f.meta.needs_csum = true;
    f.meta.csum_start = h->csum_start();
    f.meta.csum_offset = h->csum_offset();
  }
  return f;
}

}  // namespace tapir::tap
