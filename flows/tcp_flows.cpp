// The TCP flow table (see flows/tcp_conn.hpp for which file does what):
// slots, the keyed index, the cookies the socket watcher hands back, and
// the two entry points that are not the guest's frames: a host socket's
// readiness and the end of a batch.

#include "flows/tcp_conn.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

// --- table -----------------------------------------------------------------

TcpFlows::TcpFlows(TcpConfig cfg, TcpHost& host)
    : cfg_(std::move(cfg)),
      host_(host),
      hasher_(cfg_.fixed_secret != 0 ? FlowHasher(cfg_.fixed_secret) : FlowHasher()),
      isn_hasher_(cfg_.fixed_secret != 0 ? FlowHasher(~cfg_.fixed_secret) : FlowHasher()),
      flows_(std::max<size_t>(cfg_.max_flows, 1)),
      timers_(flows_.size(), Duration::millis(10)) {
  size_t cap = 16;
  while (cap < 2 * flows_.size()) cap <<= 1;
  index_.assign(cap, 0);
  index_mask_ = cap - 1;
  free_.reserve(flows_.size());
  for (size_t i = flows_.size(); i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
  dirty_.reserve(256);
  tx_wait_.reserve(256);
}

TcpFlows::~TcpFlows() {
  close_all();
}

void TcpFlows::close_all() {
  for (Flow& f : flows_) {
    if (f.state == State::kFree) continue;
    if (f.fd >= 0) host_.close(f.fd, false);
    f.fd = -1;
    f.state = State::kFree;
  }
  used_ = 0;
}

size_t TcpFlows::hash(const TcpFlowKey& k) const {
  return hasher_(
      {FlowHasher::word(k.guest.bytes, 0), FlowHasher::word(k.guest.bytes, 1),
       FlowHasher::word(k.dst.bytes, 0), FlowHasher::word(k.dst.bytes, 1),
       (uint64_t{k.guest_port} << 32) | (uint64_t{k.dst_port} << 16) | (k.v6() ? 1u : 0u)});
}

// RFC 6528: a 4 µs clock plus a keyed hash of the connection's 4-tuple.
uint32_t TcpFlows::initial_sequence(const TcpFlowKey& k, MonoTime now) const {
  const uint64_t f =
      isn_hasher_({FlowHasher::word(k.guest.bytes, 0), FlowHasher::word(k.guest.bytes, 1),
                   FlowHasher::word(k.dst.bytes, 0), FlowHasher::word(k.dst.bytes, 1),
                   (uint64_t{k.guest_port} << 16) | k.dst_port});
  return static_cast<uint32_t>(now.ns / 4000) + static_cast<uint32_t>(f);
}

TcpFlows::Flow* TcpFlows::find(const TcpFlowKey& key, size_t h) {
  for (size_t i = h & index_mask_;; i = (i + 1) & index_mask_) {
    const uint32_t e = index_[i];
    if (e == 0) return nullptr;
    Flow& f = flows_[e - 1];
    if (f.hash == h && f.key == key) return &f;
  }
}

TcpFlows::Flow* TcpFlows::allocate(const TcpFlowKey& key, size_t h, MonoTime now) {
  if (free_.empty()) return nullptr;
  const uint32_t slot = free_.back();
  free_.pop_back();
  Flow& f = flows_[slot];
  const uint32_t gen = f.generation + 1;
  f = Flow{};
  f.generation = gen;
  f.key = key;
  f.hash = h;
  f.last_activity = now;
  size_t i = h & index_mask_;
  while (index_[i] != 0) i = (i + 1) & index_mask_;
  index_[i] = slot + 1;
  ++used_;
  return &f;
}

// Linear probing with backward-shift deletion: no tombstones, so lookups
// stay short however many flows come and go.
void TcpFlows::index_erase(uint32_t slot) {
  size_t i = flows_[slot].hash & index_mask_;
  while (index_[i] != slot + 1) i = (i + 1) & index_mask_;
  size_t j = i;
  while (true) {
    j = (j + 1) & index_mask_;
    if (index_[j] == 0) break;
    const size_t home = flows_[index_[j] - 1].hash & index_mask_;
    // Move j back to i unless its home lies cyclically in (i, j].
    const bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = 0;
}

void TcpFlows::release(Flow& f, bool reset_host) {
  const uint32_t slot = static_cast<uint32_t>(&f - flows_.data());
  if (watcher_ != nullptr) watcher_->unwatch(f.watch);
  if (f.fd >= 0) host_.close(f.fd, reset_host);
  f.fd = -1;
  timers_.cancel(slot);
  index_erase(slot);
  f.state = State::kFree;
  ++f.generation;
  free_.push_back(slot);
  --used_;
  ++stats_.closed;
}

void TcpFlows::set_events(Flow& f, unsigned events) {
  if (f.events == events) return;
  f.events = events;
  if (watcher_ != nullptr) watcher_->set_events(f.watch, events);
}

void TcpFlows::arm(Flow& f, MonoTime at) {
  timers_.arm(static_cast<uint32_t>(&f - flows_.data()), at);
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
  dirty_.push_back(static_cast<uint32_t>(&f - flows_.data()));
}

// --- host socket readiness and the batch end ------------------------------

void TcpFlows::on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) {
  const uint32_t slot = static_cast<uint32_t>(cookie & 0xffffffffu);
  if (slot >= flows_.size()) return;
  Flow& f = flows_[slot];
  if (f.state == State::kFree || f.generation != static_cast<uint32_t>(cookie >> kCookieGenShift))
    return;
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
  std::vector<uint32_t> due;
  due.swap(dirty_);
  for (uint32_t slot : due) {
    Flow& f = flows_[slot];
    if (f.state == State::kFree || !f.ack_due) continue;
    refresh_window(f);
    if (!send_control(f, tf::kAck, f.snd_nxt, tx)) {
      dirty_.push_back(
          slot);  // no transmit buffer: the next batch end (a write completed) tries again
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
  std::vector<uint32_t> waiting;
  waiting.swap(tx_wait_);
  for (uint32_t slot : waiting) {
    Flow& f = flows_[slot];
    f.tx_waiting = false;
    if (f.state != State::kFree) push(f, now, tx);
  }
  if (tx_wait_.empty()) {
    waiting.clear();
    tx_wait_.swap(waiting);  // keep the capacity
  }
}

}  // namespace tapir::flows
