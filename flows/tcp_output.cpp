// Host -> guest: the data a host socket holds, pushed to the guest as
// segments (peeked, consumed only when acknowledged), and every frame the
// TCP translation sends — ACK, SYN, FIN, RST, ICMP unreachable — built
// through wire::TcpFrameRepr with the checksum mode the tap allows.

#include <cerrno>
#include <cstring>

#include "base/check.hpp"
#include "base/log.hpp"
#include "flows/icmp_errors.hpp"
#include "flows/tcp_conn.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/proto.hpp"
#include "wire/tcp_frame.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

namespace {

// A frame from the destination the guest used to the guest, with the
// flow's ports; the caller sets the rest of the TCP header.
wire::TcpFrameRepr frame_to_guest(const FlowKey& key, const wire::MacAddr& guest_mac,
                                  const wire::MacAddr& gw_mac) {
  wire::TcpFrameRepr fr;
  fr.src_mac = gw_mac;
  fr.dst_mac = guest_mac;
  fr.src = key.dst;
  fr.dst = key.guest;
  fr.tcp.src_port = key.dst_port;
  fr.tcp.dst_port = key.guest_port;
  return fr;
}

// Sends a frame built in the buffer from the last acquire(): with a vnet
// header the checksum is left partial and a payload larger than the MSS
// becomes one GSO frame; without, it is complete.
void send_frame(const wire::TcpFrameRepr& fr, wire::MutBytes out, loop::FrameSink& tx) {
  wire::VirtioNetHdrRepr vnet;
  const size_t len = fr.emit(out, wire::ChecksumCaps::for_tap(tx.has_vnet_hdr()), vnet);
  TAPIR_CHECK(len != 0);  // tapir's own options always fit
  tx.send(len, vnet);
}

}  // namespace

// --- frames to the guest --------------------------------------------------

uint32_t TcpFlows::advertised_window(const Flow& f) const {
  const size_t limit = size_t{0xffff} << f.rcv_wscale;
  return static_cast<uint32_t>(std::min(f.room, limit) >> f.rcv_wscale);
}

bool TcpFlows::send_control(Flow& f, uint8_t flags, uint32_t seq, loop::FrameSink& tx,
                            bool syn_options) {
  wire::MutBytes out = tx.acquire();
  if (out.empty()) {
    ++stats_.tx_full;
    return false;
  }
  wire::TcpFrameRepr fr = frame_to_guest(key(f), f.mac, cfg_.nat.plan.gateway_mac);
  wire::TcpRepr& t = fr.tcp;
  t.seq = seq;
  t.ack = (flags & tf::kAck) != 0 ? f.rcv_nxt : 0;
  t.flags = flags;
  if ((flags & tf::kSyn) != 0) {
    // Window fields in SYNs are never scaled.
    t.window = static_cast<uint16_t>(std::min<size_t>(f.room, 0xffff));
    if (syn_options) {
      t.options.mss = static_cast<uint16_t>(cfg_.nat.plan.mtu - (key(f).v6() ? 60 : 40));
      if (f.rcv_wscale != 0) t.options.window_scale = f.rcv_wscale;
    }
  } else {
    t.window = static_cast<uint16_t>(advertised_window(f));
  }
  send_frame(fr, out, tx);
  if ((flags & tf::kAck) != 0) {
    f.ack_due = false;
    f.acked = f.rcv_nxt;
    f.adv_room = (flags & tf::kSyn) != 0 ? t.window : size_t{t.window} << f.rcv_wscale;
  }
  if ((flags & tf::kRst) != 0) ++stats_.resets_to_guest;
  return true;
}

void TcpFlows::send_reset_for(const Seg& seg, loop::FrameSink& tx) {
  if (seg.has(tf::kRst)) return;
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  wire::TcpFrameRepr fr = frame_to_guest(seg.key, seg.mac, cfg_.nat.plan.gateway_mac);
  if (seg.has(tf::kAck)) {
    fr.tcp.seq = seg.ack;
    fr.tcp.flags = tf::kRst;
  } else {
    fr.tcp.seq = 0;
    fr.tcp.ack = seg.seq + static_cast<uint32_t>(seg.payload.size()) + (seg.has(tf::kSyn) ? 1 : 0) +
                 (seg.has(tf::kFin) ? 1 : 0);
    fr.tcp.flags = tf::kRst | tf::kAck;
  }
  send_frame(fr, out, tx);
  ++stats_.resets_to_guest;
}

void TcpFlows::send_late_fin_ack(const Seg& seg, loop::FrameSink& tx) {
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  wire::TcpFrameRepr fr = frame_to_guest(seg.key, seg.mac, cfg_.nat.plan.gateway_mac);
  fr.tcp.seq = seg.ack;
  fr.tcp.ack = seg.seq + 1;
  fr.tcp.flags = tf::kAck;
  send_frame(fr, out, tx);
}

// ICMP unreachable for a connection attempt, quoting a SYN like the guest's.
void TcpFlows::send_icmp_unreachable(const Flow& f, bool host, loop::FrameSink& tx) {
  const FlowKey& k = key(f);
  wire::TcpRepr quoted;
  quoted.src_port = k.guest_port;
  quoted.dst_port = k.dst_port;
  quoted.seq = f.irs;
  quoted.flags = tf::kSyn;
  std::array<std::byte, wire::kTcpHeaderLen> syn{};
  const bool wrote = quoted.emit(wire::MutBytes(syn));
  TAPIR_CHECK(wrote);
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  const uint8_t type =
      k.v6() ? wire::icmp6_type::kDestUnreachable : wire::icmp4_type::kDestUnreachable;
  const uint8_t code = k.v6()
                           ? (host ? wire::icmp6_unreach::kAddress : wire::icmp6_unreach::kNoRoute)
                           : (host ? wire::icmp4_unreach::kHost : wire::icmp4_unreach::kNet);
  const size_t len = build_icmp_error_for_flow(out, cfg_.nat.plan, f.mac, k.guest, k.dst,
                                               wire::ipproto::kTcp, syn, type, code);
  if (len == 0) return tx.cancel();
  tx.send(len);
  ++stats_.unreachable;
}

// --- host data to the guest -----------------------------------------------

void TcpFlows::rewind(Flow& f) {
  f.snd_nxt = f.snd_una;
  if (!f.fin_acked) f.fin_sent = false;
  if (f.peek_offset) f.peek_offset = host_.set_peek_offset(f.fd, 0);
}

void TcpFlows::push(Flow& f, MonoTime now, loop::FrameSink& tx) {
  if (f.state != State::kEstablished || f.fin_sent) return;
  const FlowKey& k = key(f);
  const bool v6 = k.v6();
  const bool vnet = tx.has_vnet_hdr();
  const size_t max_payload = vnet ? wire::TcpFrameRepr::max_payload(v6) : f.mss;
  while (!f.fin_sent) {
    if (f.host_eof && f.snd_nxt == f.fin_seq) {
      if (!send_control(f, tf::kFin | tf::kAck, f.snd_nxt, tx)) break;
      f.fin_sent = true;
      f.snd_nxt = f.fin_seq + 1;
      if (seq_gt(f.snd_nxt, f.snd_max)) f.snd_max = f.snd_nxt;
      if (!table_.armed(f)) arm(f, now + f.rto);
      break;
    }
    const uint32_t flight = f.in_flight();
    if (flight >= f.snd_wnd) {
      // Window full or zero: an ACK reopens it; a zero window is probed.
      if (f.snd_wnd == 0 && !table_.armed(f)) arm(f, now + f.rto);
      break;
    }
    size_t want = std::min<size_t>(f.snd_wnd - flight, max_payload);
    // Whole segments only, as a NIC would cut them: no runt at the end.
    if (want > f.mss) want -= want % f.mss;
    if (!f.peek_offset) {
      if (scratch_.empty()) scratch_.resize(size_t{4} << 20);
      if (flight >= scratch_.size()) break;
    }
    wire::MutBytes out = tx.acquire();
    if (out.empty()) {
      ++stats_.tx_full;
      if (!f.tx_waiting) {
        f.tx_waiting = true;
        tx_wait_.push_back(table_.cookie(f));
      }
      break;
    }
    wire::TcpFrameRepr fr = frame_to_guest(k, f.mac, cfg_.nat.plan.gateway_mac);
    std::byte* dst = out.data() + fr.payload_offset();
    // Without a peek offset the peek starts at the queue's head: what is in
    // flight goes to the scratch buffer first.
    const size_t skip = f.peek_offset ? 0 : flight;
    const ssize_t r = host_.peek(f.fd, scratch_.data(), skip, dst, want);
    if (r == -EAGAIN || r == -EWOULDBLOCK) {
      tx.cancel();
      break;
    }
    if (r < 0) {
      tx.cancel();
      return host_error(f, static_cast<int>(-r), tx);
    }
    if (r == 0) {
      // End of stream: only a read of an empty queue says 0. (Without a
      // peek offset, the queue still holds what is in flight at the end of
      // the stream too; the FIN waits until the guest acknowledged it.)
      tx.cancel();
      f.host_eof = true;
      f.fin_seq = f.snd_nxt;
      continue;  // the FIN goes out at the top of the loop
    }
    if (static_cast<size_t>(r) <= skip) {
      // Nothing beyond what was sent (or the urgent mark stopped the read
      // right there): would-block, never end of stream. The guest's ACK
      // brings the next push.
      tx.cancel();
      break;
    }
    const ssize_t n = r - static_cast<ssize_t>(skip);
    fr.tcp.seq = f.snd_nxt;
    fr.tcp.ack = f.rcv_nxt;
    fr.tcp.flags = tf::kAck | (static_cast<size_t>(n) < want ? tf::kPsh : 0);
    fr.tcp.window = static_cast<uint16_t>(advertised_window(f));
    fr.payload_len = static_cast<size_t>(n);
    fr.gso_size = f.mss;
    send_frame(fr, out, tx);
    f.ack_due = false;
    f.acked = f.rcv_nxt;
    f.adv_room = size_t{fr.tcp.window} << f.rcv_wscale;
    ++stats_.segments_out;
    stats_.bytes_to_guest += static_cast<uint64_t>(n);
    f.snd_nxt += static_cast<uint32_t>(n);
    if (seq_gt(f.snd_nxt, f.snd_max)) f.snd_max = f.snd_nxt;
    if (!table_.armed(f)) arm(f, now + f.rto);
    // Drained for now; POLLIN brings more. (A read cut short at the urgent
    // mark resumes when the guest acknowledges it.)
    if (static_cast<size_t>(n) < want) break;
  }
}

void TcpFlows::host_error(Flow& f, int err, loop::FrameSink& tx) {
  LOG_DEBUG("TCP: host connection error (%s): resetting the guest's connection",
            strerrordesc_np(err));
  send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
  release(f, false);
}

}  // namespace tapir::flows
