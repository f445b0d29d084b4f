// The TCP flows in their table (flows/flow_table.hpp; see flows/tcp_conn.hpp
// for which file does what): allocation and release, the cookies the
// socket watcher hands back, and the two entry points that are not the
// guest's frames: a host socket's readiness and the end of a batch.

#include "flows/tcp_conn.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

// --- table -----------------------------------------------------------------

TcpFlows::TcpFlows(TcpConfig cfg, TcpHost& host, const services::GuestState& guest)
    : cfg_(std::move(cfg)),
      host_(host),
      guest_(guest),
      isn_hasher_(cfg_.fixed_secret != 0 ? FlowHasher(~cfg_.fixed_secret) : FlowHasher()),
      // 10 ms buckets (kMinRto is 200 ms); 1024 of them span ~10 s.
      table_(cfg_.max_flows,
             cfg_.fixed_secret != 0 ? FlowHasher(cfg_.fixed_secret) : FlowHasher(),
             Duration::millis(10), 1024) {
  dirty_.reserve(256);
  tx_wait_.reserve(256);
}

TcpFlows::~TcpFlows() {
  close_all();
}

void TcpFlows::close_all() {
  table_.for_each([&](Flow& f) {
    if (f.fd >= 0) host_.close(f.fd, false);
    f.fd = -1;
    f.state = State::kFree;
    table_.erase(f);
  });
}

// RFC 6528: a 4 µs clock plus a keyed hash of the connection's 4-tuple.
uint32_t TcpFlows::initial_sequence(const FlowKey& k, MonoTime now) const {
  const uint64_t f =
      isn_hasher_({FlowHasher::word(k.guest.bytes, 0), FlowHasher::word(k.guest.bytes, 1),
                   FlowHasher::word(k.dst.bytes, 0), FlowHasher::word(k.dst.bytes, 1),
                   (uint64_t{k.guest_port} << 16) | k.dst_port});
  return static_cast<uint32_t>(now.ns / 4000) + static_cast<uint32_t>(f);
}

// A fresh flow (the table's NEW) for `key`, not in the table; null when full.
TcpFlows::Flow* TcpFlows::allocate(const FlowKey& key, size_t h, MonoTime now) {
  Flow* f = table_.insert(key, h);
  if (f != nullptr) f->last_activity = now;
  return f;
}

// Back to the table's FREE: the watch and the host socket go, the deadline
// is cancelled and the cookie goes stale.
void TcpFlows::release(Flow& f, bool reset_host) {
  if (watcher_ != nullptr) watcher_->unwatch(f.watch);
  if (f.fd >= 0) host_.close(f.fd, reset_host);
  f.fd = -1;
  f.state = State::kFree;
  table_.erase(f);
  ++stats_.closed;
}

// The host socket's watch, with the flow's cookie; f.watch stays invalid
// when it cannot be watched (or there is no watcher).
void TcpFlows::start_watch(Flow& f) {
  if (watcher_ != nullptr) f.watch = watcher_->watch(f.fd, f.events, *this, table_.cookie(f));
}

void TcpFlows::set_events(Flow& f, unsigned events) {
  if (f.events == events) return;
  f.events = events;
  if (watcher_ != nullptr) watcher_->set_events(f.watch, events);
}

void TcpFlows::refresh_window(Flow& f) {
  const TcpHost::SendRoom r = host_.send_room(f.fd);
  f.room = r.room;
  f.sndbuf = r.buffer;
}

// A window too small for the guest to send into must grow again without
// waiting for the guest: watch the host socket drain. Below an eighth of
// the buffer the kernel does not call the socket writable, so arming the
// poll now marks it as waited for (SOCK_NOSPACE), and the wakeup comes
// when it drains; the kernel also grows a send buffer only for a writer it
// has seen wait.
void TcpFlows::watch_room(Flow& f) {
  if (f.room < f.sndbuf / 8) set_events(f, f.events | POLLOUT);
}

void TcpFlows::want_ack(Flow& f) {
  if (f.ack_due) return;
  f.ack_due = true;
  dirty_.push_back(table_.cookie(f));
}

// --- host socket readiness and the batch end ------------------------------

void TcpFlows::on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) {
  Flow* fp = table_.by_cookie(cookie);
  if (fp == nullptr || fp->state == State::kFree) return;  // released meanwhile
  Flow& f = *fp;
  if (f.state == State::kConnecting) {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) return;
    const int r = host_.connect_result(f.fd);
    if (r == 0) return on_connected(f, now, tx);
    return on_connect_error(f, -r, tx);
  }
  if ((revents & POLLERR) != 0) {
    const int r = host_.connect_result(f.fd);
    if (r != 0) return host_error(f, -r, tx);
  }
  if ((revents & POLLOUT) != 0) {
    // The host socket drained (the kernel calls it writable once at most
    // two thirds of its buffer are queued): tell the guest its window grew.
    set_events(f, f.events & ~static_cast<unsigned>(POLLOUT));
    refresh_window(f);
    f.send_blocked = false;
    if (f.state == State::kEstablished && f.room > f.adv_room &&
        !send_control(f, tf::kAck, f.snd_nxt, tx)) {
      want_ack(f);
    }
  }
  if ((revents & (POLLIN | POLLRDHUP | POLLHUP)) != 0) push(f, now, tx);
}

void TcpFlows::on_batch_end(MonoTime now, loop::FrameSink& tx) {
  std::vector<uint64_t> due;
  due.swap(dirty_);
  for (uint64_t cookie : due) {
    Flow* fp = table_.by_cookie(cookie);
    if (fp == nullptr || fp->state == State::kFree || !fp->ack_due) continue;
    Flow& f = *fp;
    refresh_window(f);
    if (!send_control(f, tf::kAck, f.snd_nxt, tx)) {
      // No transmit buffer: the next batch end (a write completed) tries again.
      dirty_.push_back(cookie);
      continue;
    }
    watch_room(f);
    maybe_finish(f, tx);
  }
  if (dirty_.empty()) {
    due.clear();
    dirty_.swap(due);  // keep the capacity
  }
  if (tx_wait_.empty() || tx.free_slots() == 0) return;
  std::vector<uint64_t> waiting;
  waiting.swap(tx_wait_);
  for (uint64_t cookie : waiting) {
    Flow* fp = table_.by_cookie(cookie);
    if (fp == nullptr) continue;  // released meanwhile
    fp->tx_waiting = false;
    if (fp->state != State::kFree) push(*fp, now, tx);
  }
  if (tx_wait_.empty()) {
    waiting.clear();
    tx_wait_.swap(waiting);  // keep the capacity
  }
}

}  // namespace tapir::flows
