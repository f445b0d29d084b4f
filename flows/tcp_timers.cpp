// The one deadline a connection may have (its table's, flows/flow_table.hpp): SYN
// retransmission, retransmission after RTO with exponential backoff, the
// zero-window probe and its limit (kMaxWindowProbes), and the idle limit
// of half-closed flows.

#include "base/log.hpp"
#include "flows/tcp_conn.hpp"

namespace tapir::flows {

using namespace tcp;  // the helpers in flows/tcp_conn.hpp
namespace tf = wire::tcp_flag;

void TcpFlows::on_tick(MonoTime now, loop::FrameSink& tx) {
  table_.expire(now, [&](Flow& f) { on_timer(f, now, tx); });
}

void TcpFlows::on_timer(Flow& f, MonoTime now, loop::FrameSink& tx) {
  switch (f.state) {
    case State::kFree:
    case State::kConnecting: return;
    case State::kSynReceived:
    case State::kSynSent:
      if (++f.retries > kMaxSynRetries) {
        ++stats_.timeouts;
        if (f.state == State::kSynReceived) send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
        return release(f, true);
      }
      send_control(f, f.state == State::kSynSent ? tf::kSyn : (tf::kSyn | tf::kAck), f.iss, tx,
                   true);
      arm(f, now + Duration::seconds(int64_t{1} << std::min<int>(f.retries, 5)));
      return;
    case State::kEstablished: break;
  }
  if (f.in_flight() != 0) {
    if (++f.retries > kMaxRetries) {
      ++stats_.timeouts;
      LOG_DEBUG("TCP: the guest stopped acknowledging; resetting the connection");
      send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
      return release(f, true);
    }
    ++stats_.retransmits;
    rewind(f);
    f.rto = Duration::nanos(std::min(f.rto.ns * 2, kMaxRto.ns));
    arm(f, now + f.rto);
    return push(f, now, tx);
  }
  if (f.snd_wnd == 0 && !f.fin_acked) {
    // Zero-window probe: an ACK below snd_una makes the guest answer with
    // its current window. A window shut for kMaxWindowProbes probes ends
    // the flow, so a guest cannot pin host socket memory forever.
    if (++f.probes > kMaxWindowProbes) {
      ++stats_.timeouts;
      ++stats_.window_timeouts;
      LOG_DEBUG("TCP: the guest's window stayed shut; resetting the connection");
      send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
      return release(f, true);
    }
    ++stats_.window_probes;
    send_control(f, tf::kAck, f.snd_una - 1, tx);
    f.rto = Duration::nanos(std::min(f.rto.ns * 2, kMaxRto.ns));
    arm(f, now + f.rto);
    return;
  }
  if (f.guest_fin || f.fin_acked) {
    if (now - f.last_activity >= kClosingIdle) {
      ++stats_.timeouts;
      send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
      return release(f, true);
    }
    arm(f, f.last_activity + kClosingIdle);
  }
}

}  // namespace tapir::flows
