// Port forwarding (flows/forward_sink.hpp): a connection accepted on a
// published host port is carried into the guest as a flow that starts
// with our SYN (kSynSent) and, once the guest answers, is spliced exactly
// like one the guest opened.

#include "flows/tcp_conn.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

bool TcpFlows::forward_tcp(Fd conn, const ForwardTarget& t, MonoTime now, loop::FrameSink& tx) {
  FlowKey key;
  key.guest = t.guest;
  key.dst = t.peer;
  key.guest_port = t.guest_port;
  key.dst_port = t.peer_port;
  const size_t h = table_.hash(key);
  if (!guest_.mac || table_.full() || table_.find(key, h) != nullptr) {
    if (table_.full()) ++stats_.table_full;
    host_.close(conn.release(), true);
    return false;
  }
  Flow* fp = allocate(key, h, now);
  if (fp == nullptr) {
    host_.close(conn.release(), true);
    return false;
  }
  Flow& f = *fp;
  f.mac = *guest_.mac;
  f.fd = conn.release();
  f.state = State::kSynSent;
  f.mss = clamp_mss(std::nullopt, key.v6(), cfg_.nat.plan.mtu);
  f.rcv_wscale = kOurWindowScale;
  f.iss = initial_sequence(key, now);
  f.snd_una = f.iss;
  f.snd_nxt = f.snd_max = f.iss + 1;
  f.events = POLLIN | POLLRDHUP;
  start_watch(f);
  if (!f.watch.valid()) {
    ++stats_.socket_errors;
    release(f, true);
    return false;
  }
  f.peek_offset = host_.set_peek_offset(f.fd, 0);
  refresh_window(f);
  send_control(f, tf::kSyn, f.iss, tx, true);
  arm(f, now + kSynRto);
  ++stats_.forwarded;
  return true;
}

}  // namespace tapir::flows
