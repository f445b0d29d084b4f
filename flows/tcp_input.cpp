// Guest -> host: a segment from the guest, checked, found in the table and
// taken as its connection's state allows (flows/tcp_conn.hpp): its ACK
// releases host data the guest has, its data and FIN go into the host
// socket, and what the host took is acknowledged.

#include "base/log.hpp"
#include "flows/tcp_conn.hpp"
#include "wire/tcp_options.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

namespace {

// The parts of a guest segment that do not depend on the IP version.
template <class Seg>
void fill_segment(Seg& s, const wire::EthernetView& eth, const wire::TcpView& tcp) {
  s.key.guest_port = tcp.source_port();
  s.key.dst_port = tcp.destination_port();
  s.mac = eth.source();
  s.seq = tcp.sequence_number();
  s.ack = tcp.acknowledgment_number();
  s.flags = tcp.flags();
  s.window = tcp.window();
  s.options = tcp.options();
  s.payload = tcp.payload();
}

// The martian decision for either family (flows/nat.hpp).
std::optional<Martian> martian_dst(const wire::AddressPlan& plan, const wire::IpAddr& dst) {
  return dst.v6 ? martian6(dst.as_v6()) : martian4(plan, dst.as_v4());
}

}  // namespace

void TcpFlows::on_guest(const wire::GuestPacket& p, const tap::FrameMeta& meta, bool dns_stream,
                        MonoTime now, loop::FrameSink& tx) {
  if (!meta.needs_csum && !p.tcp_checksum_ok()) {
    ++stats_.bad_checksum;
    return;
  }
  Seg s;
  s.key.guest = p.src;
  s.key.dst = p.dst;
  s.dns_stream = dns_stream;
  fill_segment(s, p.eth, *p.tcp);
  on_segment(s, now, tx);
}

void TcpFlows::on_segment(const Seg& s, MonoTime now, loop::FrameSink& tx) {
  ++stats_.segments_in;
  Flow* fp = table_.find(s.key);
  if (fp == nullptr) {
    if (s.has(tf::kSyn) && !s.has(tf::kAck) && !s.has(tf::kRst) && !s.has(tf::kFin)) {
      return on_new_syn(s, now, tx);
    }
    // No reply from a multicast or broadcast source (RFC 1122 4.2.3.10);
    // other martians get the closed port's reset below, like any stranger.
    if (const auto martian = martian_dst(cfg_.nat.plan, s.key.dst)) {
      stats_.martians.count(*martian);
      if (!martian_answered(*martian)) return;
    }
    if (s.has(tf::kFin) && s.has(tf::kAck) && !s.has(tf::kSyn) && !s.has(tf::kRst) &&
        s.payload.empty()) {
      // A bare FIN repeated after the flow ended: our ACK of it was lost
      // (a full receive queue in the guest drops frames). Acknowledge it,
      // as TIME-WAIT would, rather than reset a connection that closed well.
      ++stats_.late_fins;
      return send_late_fin_ack(s, tx);
    }
    if (!s.has(tf::kRst)) {
      ++stats_.no_flow;
      send_reset_for(s, tx);
    }
    return;
  }
  Flow& f = *fp;
  f.last_activity = now;
  if (s.has(tf::kRst)) {
    bool acceptable;
    if (f.state == State::kSynSent) {
      acceptable = s.has(tf::kAck) && s.ack == f.iss + 1;
    } else if (f.state == State::kConnecting) {
      acceptable = s.seq == f.rcv_nxt;
    } else {
      const uint32_t wnd = std::max<uint32_t>(static_cast<uint32_t>(f.adv_room), 1);
      acceptable = seq_ge(s.seq, f.rcv_nxt) && seq_lt(s.seq, f.rcv_nxt + wnd);
    }
    if (!acceptable) return static_cast<void>(++stats_.bad_segment);
    ++stats_.resets_from_guest;
    return release(f, true);
  }
  switch (f.state) {
    case State::kFree: return;
    case State::kConnecting: return;  // the SYN-ACK waits for the host
    case State::kSynSent: return on_syn_sent(f, s, now, tx);
    case State::kSynReceived:
      if (s.has(tf::kSyn)) {
        if (!s.has(tf::kAck) && s.seq == f.irs)
          send_control(f, tf::kSyn | tf::kAck, f.iss, tx, true);
        return;
      }
      if (!s.has(tf::kAck)) return static_cast<void>(++stats_.bad_segment);
      if (s.ack != f.iss + 1) {
        ++stats_.bad_segment;
        return send_reset_for(s, tx);
      }
      f.state = State::kEstablished;
      f.snd_una = f.iss + 1;
      f.snd_wnd = uint32_t{s.window} << f.snd_wscale;
      f.retries = 0;
      f.rto = kMinRto;
      table_.cancel(f);
      break;
    case State::kEstablished:
      if (s.has(tf::kSyn)) {
        // A repeated SYN (our SYN-ACK was slow); anything else is invalid.
        if (s.seq != f.irs) ++stats_.bad_segment;
        return want_ack(f);
      }
      if (!s.has(tf::kAck)) return static_cast<void>(++stats_.bad_segment);
      break;
  }
  // Either step may release the flow (its cookie then goes stale).
  const uint64_t cookie = table_.cookie(f);
  on_ack(f, s, now, tx);
  if (table_.by_cookie(cookie) == nullptr) return;
  on_data(f, s, now, tx);
  if (table_.by_cookie(cookie) == nullptr) return;
  maybe_finish(f, tx);
}

void TcpFlows::on_syn_sent(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx) {
  if (s.has(tf::kAck) && s.ack != f.iss + 1) return send_reset_for(s, tx);
  if (!s.has(tf::kSyn) || !s.has(tf::kAck)) return static_cast<void>(++stats_.bad_segment);
  f.irs = s.seq;
  f.rcv_nxt = s.seq + 1;
  wire::TcpOptions opts;
  if (auto o = wire::TcpOptions::parse(s.options)) opts = *o;
  f.mss = clamp_mss(opts.mss, key(f).v6(), cfg_.nat.plan.mtu);
  if (opts.window_scale) {
    f.snd_wscale = std::min<uint8_t>(*opts.window_scale, wire::kTcpMaxWindowScale);
  } else {
    f.snd_wscale = f.rcv_wscale = 0;
  }
  f.snd_wnd = s.window;
  f.snd_una = f.iss + 1;
  f.state = State::kEstablished;
  f.retries = 0;
  f.rto = kMinRto;
  table_.cancel(f);
  refresh_window(f);
  send_control(f, tf::kAck, f.snd_nxt, tx);
  push(f, now, tx);
}

// The guest's acknowledgement and window.
void TcpFlows::on_ack(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx) {
  const uint32_t ack = s.ack;
  if (seq_gt(ack, f.snd_max)) {
    ++stats_.bad_segment;  // acknowledges what we never sent
    return want_ack(f);
  }
  const uint32_t wnd = uint32_t{s.window} << f.snd_wscale;
  bool progress = false;
  if (seq_gt(ack, f.snd_una)) {
    const uint32_t data_end = (f.host_eof && seq_gt(ack, f.fin_seq)) ? f.fin_seq : ack;
    const uint32_t n = data_end - f.snd_una;
    // A consume stops short at the urgent mark: repeat until all n are
    // taken, or snd_una and the socket's queue would disagree from now on.
    for (uint32_t left = n; left > 0;) {
      const ssize_t r = host_.consume(f.fd, left);
      if (r <= 0 || static_cast<size_t>(r) > left)
        return host_error(f, r < 0 ? static_cast<int>(-r) : EIO, tx);
      left -= static_cast<uint32_t>(r);
    }
    if (f.host_eof && seq_gt(ack, f.fin_seq)) f.fin_acked = f.fin_sent = true;
    f.snd_una = ack;
    if (seq_lt(f.snd_nxt, ack)) f.snd_nxt = ack;  // acknowledges bytes sent before a rewind
    f.dupacks = 0;
    f.retries = 0;
    f.rto = kMinRto;
    progress = true;
  } else if (ack == f.snd_una && s.payload.empty() && !s.has(tf::kFin) && wnd == f.snd_wnd &&
             f.in_flight() != 0) {
    if (++f.dupacks == 3) {
      ++stats_.fast_retransmits;
      rewind(f);
    }
  }
  f.snd_wnd = wnd;
  if (wnd != 0) f.probes = 0;
  if (f.in_flight() != 0) {
    if (progress || !table_.armed(f)) arm(f, now + f.rto);
  } else if (f.guest_fin || f.fin_acked) {
    if (!table_.armed(f)) arm(f, f.last_activity + kClosingIdle);  // half-closed: idle limit
  } else {
    table_.cancel(f);
  }
  push(f, now, tx);
}

// The guest's data and FIN, into the host socket.
void TcpFlows::on_data(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx) {
  (void)now;
  const size_t len = s.payload.size();
  const bool fin = s.has(tf::kFin);
  if (len == 0 && !fin) {
    // A segment below rcv_nxt is a window probe (or a keepalive): answer it
    // with our window (RFC 9293 3.10.7.4).
    if (seq_lt(s.seq, f.rcv_nxt)) want_ack(f);
    return;
  }
  if (f.guest_fin) return want_ack(f);  // a retransmission after the FIN
  if (seq_gt(s.seq, f.rcv_nxt)) {
    // A gap: something before it was not taken. A duplicate ACK at once
    // (not coalesced) lets the guest retransmit fast.
    ++stats_.out_of_order;
    send_control(f, tf::kAck, f.snd_nxt, tx);
    return;
  }
  const uint32_t skip = f.rcv_nxt - s.seq;
  if (skip > len || (skip == len && !fin)) return want_ack(f);  // all seen before
  wire::ConstBytes data = s.payload.subspan(skip);
  if (!data.empty()) {
    ssize_t n = host_.send(f.fd, data.data(), data.size());
    if (n == -EAGAIN) n = 0;
    if (n < 0) return host_error(f, static_cast<int>(-n), tx);
    f.rcv_nxt += static_cast<uint32_t>(n);
    stats_.bytes_to_host += static_cast<uint64_t>(n);
    f.room = f.room > static_cast<size_t>(n) ? f.room - static_cast<size_t>(n) : 0;
    if (static_cast<size_t>(n) < data.size()) {
      // The host socket is full: acknowledge what it took, and tell the
      // guest the new window when it drains (POLLOUT).
      ++stats_.partial_sends;
      f.send_blocked = true;
      set_events(f, f.events | POLLOUT);  // send() saw it full: a wakeup will come
      return want_ack(f);
    }
  }
  if (fin) {
    host_.shutdown_write(f.fd);
    f.guest_fin = true;
    f.rcv_nxt += 1;
    if (!table_.armed(f)) arm(f, now + kClosingIdle);
  }
  want_ack(f);
}

// Both FINs are acknowledged: the flow ends, but only after the guest has
// the ACK of its own FIN (and of any data just before it), which would
// otherwise still wait for the batch end, and be lost with the flow.
void TcpFlows::maybe_finish(Flow& f, loop::FrameSink& tx) {
  if (!f.guest_fin || !f.fin_acked) return;
  if (f.acked != f.rcv_nxt && !send_control(f, tf::kAck, f.snd_nxt, tx)) {
    want_ack(f);  // no transmit buffer: the batch end tries again
    return;
  }
  release(f, false);
}

}  // namespace tapir::flows
