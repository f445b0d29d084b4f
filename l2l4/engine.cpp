#include "l2l4/engine.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>

#include <cstring>
#include <optional>

#include "base/check.hpp"
#include "base/log.hpp"
#include "l2l4/wire/checksum.hpp"
#include "l2l4/wire/virtio_net_hdr.hpp"

namespace tapir::l2l4 {

Expected<void, wire::ParseError> complete_partial_checksum(wire::MutBytes frame, uint16_t csum_start,
                                                           uint16_t csum_offset) {
  const size_t at = size_t{csum_start} + csum_offset;
  if (csum_start >= frame.size() || at + 2 > frame.size()) {
    return unexpected(wire::ParseError::kBadVnetHeader);
  }
  const uint16_t sum = wire::internet_checksum(frame.subspan(csum_start));
  wire::store_be16(frame, at, sum);
  return {};
}

// --- TxQueue ---------------------------------------------------------------

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

std::unique_ptr<TxQueue> TxQueue::detached(uint32_t slots, Sink sink) {
  auto q = std::make_unique<TxQueue>();
  q->detached_ = true;
  q->sink_ = std::move(sink);
  q->vnet_len_ = kVnetHdrLen;
  q->slots_.resize(slots);
  for (uint32_t i = 0; i < slots; ++i) {
    q->slots_[i].buf = std::make_unique<std::byte[]>(kFrameBufLen);
    q->free_.push_back(slots - 1 - i);
  }
  return q;
}

void TxQueue::send(size_t len, const TxMeta& meta) {
  TAPIR_CHECK(pending_ >= 0 && len > 0 && len <= kFrameBufLen - vnet_len_);
  const uint32_t s = static_cast<uint32_t>(pending_);
  pending_ = -1;
  Slot& slot = slots_[s];
  const wire::ConstBytes frame{slot.buf.get() + vnet_len_, len};
  if (frame_tap_ != nullptr) frame_tap_->on_frame(frame, true);
  ++sent_;
  bytes_sent_ += len;
  if (detached_) {
    if (sink_) sink_(frame, meta);
    slot.busy = false;
    free_.push_back(s);
    return;
  }
  if (vnet_len_ != 0) {
    // Little-endian fields (virtio 1.0 on x86 and every tap since 4.x with
    // TUNSETVNETLE unset: the host's order, which is little-endian here).
    wire::MutBytes h{slot.buf.get(), vnet_len_};
    std::memset(h.data(), 0, vnet_len_);
    uint8_t flags = meta.partial_csum ? wire::vnet_flag::kNeedsCsum : 0;
    h[wire::VirtioNetHdrView::kFlagsOffset] = std::byte{flags};
    h[wire::VirtioNetHdrView::kGsoTypeOffset] = std::byte{meta.gso_type};
    wire::store_le16(h, wire::VirtioNetHdrView::kHdrLenOffset, meta.hdr_len);
    wire::store_le16(h, wire::VirtioNetHdrView::kGsoSizeOffset, meta.gso_size);
    wire::store_le16(h, wire::VirtioNetHdrView::kCsumStartOffset, meta.csum_start);
    wire::store_le16(h, wire::VirtioNetHdrView::kCsumOffsetOffset, meta.csum_offset);
  } else {
    TAPIR_CHECK(meta.gso_type == 0 && !meta.partial_csum);
  }
  io_uring_sqe* sqe = ring_->sqe();
  io_uring_prep_write(sqe, tap_fd_, slot.buf.get(), static_cast<unsigned>(vnet_len_ + len), 0);
  io_uring_sqe_set_data64(sqe, Tag{Op::kTapWrite, s, ++slot.generation}.pack());
  ++*inflight_;
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

// --- Engine ----------------------------------------------------------------

Engine::Engine(Ring ring, const EngineConfig& cfg, FrameHandler& handler)
    : ring_(std::move(ring)), cfg_(cfg), handler_(handler) {
  rx_ = std::make_unique<std::byte[]>(kFrameBufLen);
  tx_.ring_ = &ring_;
  tx_.inflight_ = &inflight_;
  tx_.tap_fd_ = cfg.tap_fd;
  tx_.vnet_len_ = cfg.vnet_hdr_len;
  tx_.slots_.resize(cfg.tx_slots);
  for (uint32_t i = 0; i < cfg.tx_slots; ++i) {
    tx_.slots_[i].buf = std::make_unique<std::byte[]>(kFrameBufLen);
    tx_.free_.push_back(cfg.tx_slots - 1 - i);
  }
  sockets_.resize(cfg.socket_slots);
  for (uint32_t i = 0; i < cfg.socket_slots; ++i) free_sockets_.push_back(cfg.socket_slots - 1 - i);
  tick_ts_.tv_sec = cfg.tick.ns / 1000000000;
  tick_ts_.tv_nsec = cfg.tick.ns % 1000000000;
}

void FrameMeta::complete_checksum(wire::MutBytes frame) {
  if (!needs_csum) return;
  needs_csum = false;
  // Cannot fail: validate_against_frame() checked the offsets.
  (void)complete_partial_checksum(frame, csum_start, csum_offset);
}

void Engine::deliver(wire::MutBytes all, MonoTime now) {
  FrameMeta meta;
  if (frame_tap_ != nullptr) frame_tap_->on_frame(all.subspan(std::min(all.size(), cfg_.vnet_hdr_len)), false);
  if (cfg_.vnet_hdr_len == 0) return handler_.on_frame(all, meta, now, tx_);
  auto h = wire::VirtioNetHdrView::parse(all, cfg_.vnet_hdr_len);
  if (!h) return stats_.drops.count(h.error());
  wire::MutBytes frame = all.subspan(cfg_.vnet_hdr_len);
  if (auto v = h->validate_against_frame(frame.size()); !v) return stats_.drops.count(v.error());
  if (h->gso_type() != wire::vnet_gso::kNone) meta.gso_size = h->gso_size();
  if (h->needs_csum()) {
    meta.needs_csum = true;
    meta.csum_start = h->csum_start();
    meta.csum_offset = h->csum_offset();
  }
  handler_.on_frame(frame, meta, now, tx_);
}

SysResult<std::unique_ptr<Engine>> Engine::create(const EngineConfig& cfg, FrameHandler& handler) {
  TAPIR_CHECK(cfg.rx_batch > 0 && cfg.tx_slots > 0 && cfg.tx_slots < Tag::kMaxSlot &&
              cfg.socket_slots < Tag::kMaxSlot);
  // io_uring retries a read that would block by polling, instead of parking
  // a kernel worker thread in a blocking read.
  const int fl = ::fcntl(cfg.tap_fd, F_GETFL);
  if (fl < 0 || ::fcntl(cfg.tap_fd, F_SETFL, fl | O_NONBLOCK) < 0) return sys_error("fcntl tap O_NONBLOCK");
  const unsigned entries =
      cfg.ring_entries != 0 ? cfg.ring_entries
                            : 2 * (cfg.tx_slots + static_cast<unsigned>(cfg.watch_fds.size()) + 8);
  auto ring = Ring::create(entries);
  if (!ring) return unexpected(ring.error());
  return std::unique_ptr<Engine>(new Engine(std::move(*ring), cfg, handler));
}

void Engine::post_tap_poll() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_multishot(sqe, cfg_.tap_fd, POLLIN);
  io_uring_sqe_set_data64(sqe, Tag{Op::kTapRead, 0, ++rx_generation_}.pack());
  tap_poll_armed_ = true;
  ++inflight_;
}

WatchHandle Engine::watch(int fd, unsigned events, SocketClient& client, uint64_t cookie) {
  if (free_sockets_.empty()) return {};
  const uint32_t slot = free_sockets_.back();
  free_sockets_.pop_back();
  ++socket_slots_used_;
  SocketSlot& s = sockets_[slot];
  TAPIR_CHECK(!s.taken && !s.armed);  // a slot on the free list is free
  s.taken = true;
  s.client = &client;
  s.cookie = cookie;
  s.fd = fd;
  s.events = events;
  s.active = true;
  if (++s.generation == 0) s.generation = 1;  // 0 marks an invalid handle
  post_socket_poll(slot);
  return {slot, s.generation};
}

void Engine::post_socket_poll(uint32_t slot) {
  SocketSlot& s = sockets_[slot];
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_multishot(sqe, s.fd, s.events);
  io_uring_sqe_set_data64(sqe, Tag{Op::kSocket, slot, s.generation}.pack());
  s.armed = true;
  ++inflight_;
}

void Engine::unwatch(WatchHandle h) {
  if (!h.valid() || h.slot >= sockets_.size()) return;
  SocketSlot& s = sockets_[h.slot];
  if (s.generation != h.generation || !s.active) return;
  s.active = false;
  s.client = nullptr;
  if (s.armed) {
    // The slot comes free when the poll's last completion (no F_MORE) arrives.
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_poll_remove(sqe, Tag{Op::kSocket, h.slot, s.generation}.pack());
    io_uring_sqe_set_data64(sqe, Tag{Op::kCancel, 0, 0}.pack());
    ++inflight_;
  } else if (!s.in_callback) {
    free_slot(h.slot);
  }
  // else: the client unwatched from inside the callback for the poll's last
  // completion; on_socket() frees the slot once the callback returns.
}

void Engine::set_events(WatchHandle h, unsigned events) {
  if (!h.valid() || h.slot >= sockets_.size()) return;
  SocketSlot& s = sockets_[h.slot];
  if (s.generation != h.generation || !s.active || s.events == events) return;
  s.events = events;
  if (!s.armed) return;  // re-armed with the new events when its end arrives
  io_uring_sqe* sqe = ring_.sqe();
  const uint64_t data = Tag{Op::kSocket, h.slot, s.generation}.pack();
  // new_user_data must be 0 unless IORING_POLL_UPDATE_USER_DATA (else EINVAL).
  io_uring_prep_poll_update(sqe, data, 0, events, IORING_POLL_UPDATE_EVENTS | IORING_POLL_ADD_MULTI);
  io_uring_sqe_set_data64(sqe, Tag{Op::kCancel, 0, 0}.pack());
  ++inflight_;
}

void Engine::on_socket(const Tag& tag, const io_uring_cqe& cqe, MonoTime now) {
  if (tag.slot >= sockets_.size() || sockets_[tag.slot].generation != tag.generation) {
    ++stats_.stale_completions;
    return;
  }
  SocketSlot& s = sockets_[tag.slot];
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  if (!more) s.armed = false;
  // While the client runs, only this function may free the slot: an
  // unwatch() inside the callback for the last completion (no F_MORE, e.g.
  // after a CQ overflow) finds it unarmed, and freeing it there too would
  // put it on the free list twice — two later watches would share it.
  s.in_callback = true;
  if (s.active && cqe.res >= 0) {
    s.client->on_socket(s.cookie, static_cast<unsigned>(cqe.res), now, tx_);
  } else if (s.active && cqe.res < 0 && cqe.res != -ECANCELED) {
    s.client->on_socket(s.cookie, POLLERR, now, tx_);
  }
  s.in_callback = false;
  // The client may have unwatched from inside on_socket (the slot is not
  // reused meanwhile: it is not on the free list while armed or in_callback).
  if (!s.armed) {
    if (s.active) {
      post_socket_poll(tag.slot);  // the kernel ended the multishot (e.g. CQ overflow): re-arm
    } else {
      free_slot(tag.slot);
    }
  }
}

void Engine::free_slot(uint32_t slot) {
  SocketSlot& s = sockets_[slot];
  TAPIR_CHECK(s.taken && !s.active && !s.armed && !s.in_callback);  // freed once per watch()
  s.taken = false;
  s.fd = -1;
  s.client = nullptr;
  free_sockets_.push_back(slot);
  --socket_slots_used_;
}

void Engine::post_tick() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
  io_uring_sqe_set_data64(sqe, Tag{Op::kTick, 0, 0}.pack());
  ++inflight_;
}

// The tap is read with plain read(2) calls on readiness, in a loop, not
// with several io_uring reads in flight: completions of concurrent reads on
// one fd may arrive in another order than the frames, and TCP needs the
// guest's frames in the order it sent them. A batch is bounded so that
// host sockets get their turn; a NOP brings the loop back for the rest.
void Engine::on_tap_ready(const Tag& tag, const io_uring_cqe& cqe, MonoTime now) {
  if (tag.slot == kTapPollSlot && (cqe.flags & IORING_CQE_F_MORE) == 0) tap_poll_armed_ = false;
  if (tag.slot == kTapNopSlot) tap_nop_posted_ = false;
  if (tag.slot == kTapPollSlot && cqe.res < 0 && cqe.res != -ECANCELED) {
    ++stats_.read_errors;
  }
  drain_tap(now);
  if (!tap_gone_ && !tap_poll_armed_) post_tap_poll();
}

void Engine::drain_tap(MonoTime now) {
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
      tap_gone_ = true;
      return;
    }
    ++stats_.read_errors;
    static RateLimit rl(5, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "tap read failed: %s", strerrordesc_np(errno));
    return;
  }
  // More may be waiting: come back after the other completions.
  if (!tap_nop_posted_) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, Tag{Op::kTapRead, kTapNopSlot, 0}.pack());
    tap_nop_posted_ = true;
    ++inflight_;
  }
}

void Engine::rearm_watch(size_t i) {
  TAPIR_CHECK(i < cfg_.watch_fds.size());
  if (cfg_.watch_fds[i] < 0) return;  // not in use: never fires
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_add(sqe, cfg_.watch_fds[i], POLLIN);
  io_uring_sqe_set_data64(sqe, Tag{Op::kWatch, static_cast<uint32_t>(i), 0}.pack());
  ++inflight_;
}

SysResult<void> Engine::start() {
  post_tap_poll();
  for (size_t i = 0; i < cfg_.watch_fds.size(); ++i) rearm_watch(i);
  post_tick();
  handler_.on_tick(mono_now(), tx_);
  if (int r = io_uring_submit(ring_.raw()); r < 0) return sys_error("io_uring_submit", -r);
  return {};
}

SysResult<size_t> Engine::run_until_watch() {
  while (true) {
    if (auto r = ring_.submit_and_wait(); !r) return unexpected(r.error());
    const MonoTime now = mono_now();
    io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    std::optional<size_t> fired;
    io_uring_for_each_cqe(ring_.raw(), head, cqe) {
      ++seen;
      // A multishot submission completes many times; only its last
      // completion (no F_MORE) ends it.
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) --inflight_;
      const Tag tag = Tag::unpack(io_uring_cqe_get_data64(cqe));
      switch (tag.op) {
        case Op::kTapRead: on_tap_ready(tag, *cqe, now); break;
        case Op::kTapWrite: tx_.complete(tag, cqe->res); break;
        case Op::kWatch:
          if (!fired) fired = tag.slot;
          break;
        case Op::kTick:
          handler_.on_tick(now, tx_);
          post_tick();
          break;
        case Op::kSocket: on_socket(tag, *cqe, now); break;
        case Op::kCancel:
        case Op::kNone: break;
      }
    }
    io_uring_cq_advance(ring_.raw(), seen);
    handler_.on_batch_end(now, tx_);
    if (fired) return *fired;
    if (tap_gone_) return kTapGone;
  }
}

void Engine::shutdown() {
  // One cancel for everything (IORING_ASYNC_CANCEL_ANY, Linux 5.19) plus
  // the tick's removal; their own completions are not counted in inflight_.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, Tag{Op::kNone, 0, 0}.pack());
  // ASYNC_CANCEL does not reach timeouts: the tick would hold the drain up
  // to a whole interval. Remove it by its tag.
  sqe = ring_.sqe();
  io_uring_prep_timeout_remove(sqe, Tag{Op::kTick, 0, 0}.pack(), 0);
  io_uring_sqe_set_data64(sqe, Tag{Op::kNone, 0, 0}.pack());
  // Every request is cancellable, so this ends; it gives up only after
  // 100 rounds in a row without a completion. (Not a fixed number of
  // rounds: with many watched sockets the completions come a queue-full
  // at a time, and the rest wait in the kernel's overflow list.)
  for (int idle_rounds = 0; idle_rounds < 100 && inflight_ > 0;) {
    __kernel_timespec ts{0, 10 * 1000 * 1000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring_.raw(), &cqe, 1, &ts, nullptr);
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring_.raw(), head, cqe) {
      ++seen;
      const Tag tag = Tag::unpack(io_uring_cqe_get_data64(cqe));
      if (tag.op != Op::kNone && (cqe->flags & IORING_CQE_F_MORE) == 0) --inflight_;
      // A socket poll's last completion frees its slot; nobody hears of it.
      // (A slot whose poll already ended is free or was freed by on_socket.)
      if (tag.op == Op::kSocket && (cqe->flags & IORING_CQE_F_MORE) == 0 &&
          tag.slot < sockets_.size() && sockets_[tag.slot].generation == tag.generation &&
          sockets_[tag.slot].armed) {
        SocketSlot& s = sockets_[tag.slot];
        s.armed = false;
        s.active = false;
        free_slot(tag.slot);
      }
    }
    io_uring_cq_advance(ring_.raw(), seen);
    idle_rounds = seen == 0 ? idle_rounds + 1 : 0;
  }
}

}  // namespace tapir::l2l4
