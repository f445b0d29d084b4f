// A guest SYN becomes a host connection: the destination is mapped (NAT),
// a flow allocated and a non-blocking connect started (or, for DNS over
// TCP, a stream to the DNS service opened); the guest hears the outcome —
// SYN-ACK, RST or ICMP unreachable — only when the host has it.

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "flows/tcp_conn.hpp"
#include "wire/tcp_options.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

namespace {

// The NAT decision for either family (flows/nat.hpp).
MapResult map_dst(const NatConfig& nat, const wire::IpAddr& dst, uint16_t port,
                  sockaddr_storage& to, socklen_t& to_len, Martian& why) {
  return dst.v6 ? map_destination6(nat, dst.as_v6(), port, to, to_len, why)
                : map_destination4(nat, dst.as_v4(), port, to, to_len, why);
}

}  // namespace

void TcpFlows::on_new_syn(const Seg& s, MonoTime now, loop::FrameSink& tx) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  Martian why{};
  const MapResult m = map_dst(cfg_.nat, s.key.dst, s.key.dst_port, to, to_len, why);
  if (m == MapResult::kMartian) {
    // No host socket, ever: answered as a closed port (RFC 9293 3.10.7.1),
    // except for multicast and broadcast (RFC 1122 4.2.3.10: discarded).
    stats_.martians.count(why);
    if (martian_answered(why)) send_reset_for(s, tx);
    return;
  }
  const bool dns = s.dns_stream;  // the routing said so (stack/route.cpp)
  if (m == MapResult::kLocal && !dns) return send_reset_for(s, tx);  // nothing listens there
  if (dns && dns_ == nullptr) return;  // --disable-dns: nothing answers at all
  if (table_.full()) {
    ++stats_.table_full;
    static RateLimit rl(1, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now,
                 "TCP flow table full (%zu flows, --max-flows): new connections refused",
                 table_.size());
    return send_reset_for(s, tx);
  }
  Flow* fp = allocate(s.key, table_.hash(s.key), now);
  if (fp == nullptr) return send_reset_for(s, tx);
  Flow& f = *fp;
  f.mac = s.mac;
  f.irs = s.seq;
  f.rcv_nxt = s.seq + 1;
  wire::TcpOptions opts;
  if (auto o = wire::TcpOptions::parse(s.options)) opts = *o;
  f.mss = clamp_mss(opts.mss, s.key.v6(), cfg_.nat.plan.mtu);
  if (opts.window_scale) {
    f.snd_wscale = std::min<uint8_t>(*opts.window_scale, wire::kTcpMaxWindowScale);
    f.rcv_wscale = kOurWindowScale;
  }
  f.snd_wnd = s.window;
  f.iss = initial_sequence(s.key, now);
  f.snd_una = f.snd_nxt = f.snd_max = f.iss;
  f.state = State::kConnecting;
  ++stats_.created;

  if (m == MapResult::kUnreachable) {
    send_icmp_unreachable(f, false, tx);
    return release(f, false);
  }
  bool in_progress = false;
  int fd;
  if (dns) {
    fd = open_dns_stream(now);
  } else {
    fd = host_.connect(to, to_len, cfg_.outbound, in_progress);
  }
  if (fd < 0) {
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
      ++stats_.socket_errors;
      static RateLimit rl(5, Duration::seconds(10));
      TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "TCP: cannot open a host socket: %s",
                   strerrordesc_np(-fd));
    }
    return on_connect_error(f, -fd, tx);
  }
  f.fd = fd;
  f.events = in_progress ? POLLOUT : (POLLIN | POLLRDHUP);
  start_watch(f);
  if (!f.watch.valid()) {
    ++stats_.socket_errors;
    send_reset_for(s, tx);
    return release(f, true);
  }
  if (!in_progress) on_connected(f, now, tx);
}

// --- DNS over TCP ----------------------------------------------------------
//
// The one TCP destination tapir answers itself: a guest connection to the
// DNS address on port 53 (DNS over TCP, RFC 7766) is a flow like any other,
// but its host socket is our end of a local socket pair whose other end the
// DNS service (dns/io) adopts. The routing decides which connections
// those are (stack/route.cpp); everything else TCP knows of the case is here.

// Our end of a new stream to the DNS service, or -errno (-ECONNREFUSED: the
// service would not take it, at its cap).
int TcpFlows::open_dns_stream(MonoTime now) {
  int ours = -1;
  int theirs = -1;
  if (int r = host_.local_pair(ours, theirs); r < 0) return r;
  if (!dns_->adopt_stream(Fd(theirs), now)) {
    host_.close(ours, true);
    return -ECONNREFUSED;
  }
  return ours;
}

// --- the host connect's outcome ------------------------------------------

void TcpFlows::on_connected(Flow& f, MonoTime now, loop::FrameSink& tx) {
  f.state = State::kSynReceived;
  set_events(f, POLLIN | POLLRDHUP);
  f.peek_offset = host_.set_peek_offset(f.fd, 0);
  refresh_window(f);
  f.snd_nxt = f.snd_max = f.iss + 1;
  send_control(f, tf::kSyn | tf::kAck, f.iss, tx, true);
  arm(f, now + kSynRto);
}

void TcpFlows::on_connect_error(Flow& f, int err, loop::FrameSink& tx) {
  if (err == ENETUNREACH || err == EHOSTUNREACH || err == ETIMEDOUT || err == EHOSTDOWN) {
    send_icmp_unreachable(f, err != ENETUNREACH, tx);
  } else {
    if (err == ECONNREFUSED) ++stats_.refused;
    // RST|ACK for the guest's SYN (RFC 9293 3.10.7.1).
    f.snd_nxt = 0;
    send_control(f, tf::kRst | tf::kAck, 0, tx);
  }
  release(f, false);
}

}  // namespace tapir::flows
