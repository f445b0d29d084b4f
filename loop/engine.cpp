#include "loop/engine.hpp"

#include <poll.h>

#include <optional>

#include "base/check.hpp"

namespace tapir::loop {

Engine::Engine(Ring ring, const EngineConfig& cfg, LoopHandler& handler)
    : ring_(std::move(ring)), cfg_(cfg), handler_(handler) {
  sockets_.resize(cfg.socket_slots);
  for (uint32_t i = 0; i < cfg.socket_slots; ++i) free_sockets_.push_back(cfg.socket_slots - 1 - i);
  tick_ts_.tv_sec = cfg.tick.ns / 1000000000;
  tick_ts_.tv_nsec = cfg.tick.ns % 1000000000;
}

SysResult<std::unique_ptr<Engine>> Engine::create(const EngineConfig& cfg, LoopHandler& handler) {
  TAPIR_CHECK(cfg.routed_in_flight < Tag::kMaxSlot && cfg.socket_slots < Tag::kMaxSlot);
  const unsigned entries =
      cfg.ring_entries != 0
          ? cfg.ring_entries
          : 2 * (cfg.routed_in_flight + static_cast<unsigned>(cfg.watch_fds.size()) + 8);
  auto ring = Ring::create(entries);
  if (!ring) return unexpected(ring.error());
  return std::unique_ptr<Engine>(new Engine(std::move(*ring), cfg, handler));
}

void Engine::route(Op op, CompletionHandler& h) {
  const auto i = static_cast<size_t>(op);
  TAPIR_CHECK(i < routes_.size() && op != Op::kWatch && op != Op::kTick && op != Op::kSocket &&
              op != Op::kCancel && op != Op::kUpdate && op != Op::kNone);
  routes_[i] = &h;
}

void Engine::track(io_uring_sqe* sqe, const Tag& tag) {
  io_uring_sqe_set_data64(sqe, tag.pack());
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
  track(sqe, Tag{Op::kSocket, slot, s.generation});
  s.armed = true;
}

void Engine::free_socket_slot(uint32_t slot) {
  SocketSlot& s = sockets_[slot];
  TAPIR_CHECK(s.taken && !s.active && !s.armed && !s.in_callback);  // freed once per watch()
  s.taken = false;
  s.fd = -1;
  s.client = nullptr;
  free_sockets_.push_back(slot);
  --socket_slots_used_;
}

void Engine::unwatch(WatchHandle h) {
  if (!h.valid() || h.slot >= sockets_.size()) return;
  SocketSlot& s = sockets_[h.slot];
  if (s.generation != h.generation || !s.active) return;
  s.active = false;
  s.client = nullptr;
  if (s.armed) {
    // The slot comes free when the poll's last completion (no F_MORE)
    // arrives. An ASYNC_CANCEL, not a POLL_REMOVE: while the kernel is
    // still delivering a wakeup to the poll (its task work not yet run —
    // with DEFER_TASKRUN, until this thread next waits), POLL_REMOVE fails
    // with -EALREADY and leaves a multishot poll armed for good, holding the
    // socket's file open after close(). A cancel marks the poll and its
    // owner ends it.
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, Tag{Op::kSocket, h.slot, s.generation}.pack(), 0);
    track(sqe, Tag{Op::kCancel, 0, 0});
  } else if (!s.in_callback) {
    free_socket_slot(h.slot);
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
  post_update(h.slot);
}

void Engine::post_update(uint32_t slot) {
  SocketSlot& s = sockets_[slot];
  io_uring_sqe* sqe = ring_.sqe();
  const uint64_t data = Tag{Op::kSocket, slot, s.generation}.pack();
  // new_user_data must be 0 unless IORING_POLL_UPDATE_USER_DATA (else EINVAL).
  io_uring_prep_poll_update(sqe, data, 0, s.events,
                            IORING_POLL_UPDATE_EVENTS | IORING_POLL_ADD_MULTI);
  track(sqe, Tag{Op::kUpdate, slot, s.generation});
}

void Engine::on_update(const Tag& tag, const io_uring_cqe& cqe) {
  // -EALREADY: the kernel was delivering a wakeup to the poll and kept it
  // as it was; ask again (the wakeup's task work runs before the next
  // submission is issued, as this thread waits in between). -ENOENT: the
  // poll ended meanwhile, and its last completion re-arms it with s.events.
  if (cqe.res != -EALREADY || tag.slot >= sockets_.size()) return;
  SocketSlot& s = sockets_[tag.slot];
  if (s.generation != tag.generation || !s.active || !s.armed) return;
  ++stats_.update_retries;
  post_update(tag.slot);
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
    s.client->on_socket(s.cookie, static_cast<unsigned>(cqe.res), now, *tx_);
  } else if (s.active && cqe.res < 0 && cqe.res != -ECANCELED) {
    s.client->on_socket(s.cookie, POLLERR, now, *tx_);
  }
  s.in_callback = false;
  // The client may have unwatched from inside on_socket (the slot is not
  // reused meanwhile: it is not on the free list while armed or in_callback).
  if (!s.armed) {
    if (s.active) {
      post_socket_poll(tag.slot);  // the kernel ended the multishot (e.g. CQ overflow): re-arm
    } else {
      free_socket_slot(tag.slot);
    }
  }
}

void Engine::post_tick() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
  track(sqe, Tag{Op::kTick, 0, 0});
}

void Engine::rearm_watch(size_t i) {
  TAPIR_CHECK(i < cfg_.watch_fds.size());
  if (cfg_.watch_fds[i] < 0) return;  // not in use: never fires
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_add(sqe, cfg_.watch_fds[i], POLLIN);
  track(sqe, Tag{Op::kWatch, static_cast<uint32_t>(i), 0});
}

SysResult<void> Engine::start() {
  TAPIR_CHECK(tx_ != nullptr);
  for (size_t i = 0; i < cfg_.watch_fds.size(); ++i) rearm_watch(i);
  post_tick();
  handler_.on_tick(mono_now(), *tx_);
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
        case Op::kWatch:
          if (!fired) fired = tag.slot;
          break;
        case Op::kTick:
          handler_.on_tick(now, *tx_);
          post_tick();
          break;
        case Op::kSocket: on_socket(tag, *cqe, now); break;
        case Op::kUpdate: on_update(tag, *cqe); break;
        case Op::kCancel:
        case Op::kNone: break;
        default:
          if (CompletionHandler* h = routes_[static_cast<size_t>(tag.op) % routes_.size()]) {
            h->on_completion(tag, *cqe, now);
          } else {
            ++stats_.stale_completions;
          }
          break;
      }
    }
    io_uring_cq_advance(ring_.raw(), seen);
    handler_.on_batch_end(now, *tx_);
    if (fired) return *fired;
    if (stop_code_ != kNoStop) return stop_code_;
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
        free_socket_slot(tag.slot);
      }
    }
    io_uring_cq_advance(ring_.raw(), seen);
    idle_rounds = seen == 0 ? idle_rounds + 1 : 0;
  }
}

}  // namespace tapir::loop
