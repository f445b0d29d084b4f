#pragma once
// One TCP connection of the translation (flows/tcp_flows.hpp): its state,
// its sequence numbers in both directions, and the small helpers every part
// of the TCP code shares. Included only by flows/tcp_*.cpp.
//
// Which file does what:
//   tcp_flows.cpp    the flows in their FlowTable (flows/flow_table.hpp:
//                    slots, keyed index, cookies, deadlines), the host
//                    socket's readiness (on_socket) and the batch end
//                    (coalesced ACKs, flows waiting for buffers)
//   tcp_input.cpp    guest -> host: segments from the guest, by state
//   tcp_open.cpp     a guest SYN becomes a host connection (NAT, DNS over
//                    TCP), and the connect's outcome
//   tcp_output.cpp   host -> guest: data pushed from the host socket, and
//                    every frame we send (ACK, SYN, FIN, RST, ICMP)
//   tcp_timers.cpp   SYN retransmission, RTO, zero-window probes, idle limit
//   tcp_forward.cpp  port forwarding: a connection towards the guest
//
// Connection states, and the events that move a connection between them:
//
//   state         meaning                       left by
//   ------------  ----------------------------  --------------------------------
//   kFree         slot unused (the table's      a guest SYN (on_new_syn) ->
//                 FREE), or just inserted       kConnecting; an accepted
//                 (NEW), not yet given a state  forwarded connection
//                                               (forward_tcp) -> kSynSent
//   kConnecting   host connect in progress      connect succeeds (on_connected:
//                 (POLLOUT awaited); the guest  our SYN-ACK) -> kSynReceived;
//                 has no answer yet             connect fails (RST or ICMP
//                                               unreachable), guest RST at
//                                               rcv_nxt -> kFree
//   kSynReceived  host connected, our SYN-ACK   the guest's ACK of our SYN (it
//                 sent (repeated on timeout)    may carry data) -> kEstablished;
//                                               RST, kMaxSynRetries -> kFree
//   kSynSent      forwarded: our SYN sent to    the guest's SYN-ACK (our ACK)
//                 the guest (repeated on        -> kEstablished; its RST, an
//                 timeout)                      unanswered SYN -> kFree
//   kEstablished  data both ways (below)        both FINs acknowledged
//                                               (maybe_finish), RST either way,
//                                               a host error, the timers'
//                                               limits (RST) -> kFree
//
// What each allows from the guest: kConnecting ignores a repeated SYN (the
// SYN-ACK waits for the host); kSynReceived answers a repeated SYN with the
// SYN-ACK again; kEstablished takes ACKs, data at rcv_nxt, FIN and RST.
// The flags refine kEstablished into the half-closed cases:
//
//   guest_fin   the guest's FIN was taken: the host socket was shut for
//               writing; later guest data is only acknowledged again.
//   host_eof    the host peer finished; fin_seq is where our FIN goes,
//               fin_sent once it is in flight, fin_acked once the guest
//               acknowledged it.
//   guest_fin && fin_acked: the flow ends (no TIME-WAIT: the guest keeps
//               that state, tapir needs none).
//
// How these relate to the table's slot states (flows/flow_table.hpp): a
// connection is NEW only inside on_new_syn / forward_tcp, which either give
// it a state and a watch (ACTIVE) or erase it again; every state but kFree
// is ACTIVE; release() erases it (FREE), and its cookie goes stale.
//
// Timers (tcp_timers.cpp), at most one per connection (the table's
// deadline): kSynReceived and kSynSent repeat their SYN; kEstablished
// retransmits (RTO), probes a zero window, or ends a half-closed flow left
// idle; kConnecting has none (the host's own connect timeout answers).

#include <poll.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "flows/tcp_flows.hpp"
#include "wire/tcp.hpp"

namespace tapir::flows {

enum class TcpFlows::State : uint8_t { kFree, kConnecting, kSynReceived, kSynSent, kEstablished };

// The key, the cookie and the deadline are the table's (key(f),
// table_.cookie(f), arm()).
struct TcpFlows::Flow {
  wire::MacAddr mac;
  State state = State::kFree;
  int fd = -1;
  loop::WatchHandle watch;
  unsigned events = 0;
  // Towards the guest (our sequence space).
  uint32_t iss = 0;
  uint32_t snd_una = 0;    // oldest byte the guest has not acknowledged
  uint32_t snd_nxt = 0;    // next byte to send
  uint32_t snd_max = 0;    // highest snd_nxt so far (ACKs up to it are valid)
  uint32_t snd_wnd = 0;    // the guest's window, in bytes
  uint32_t fin_seq = 0;    // valid with host_eof
  uint16_t mss = 536;      // segment size towards the guest
  uint8_t snd_wscale = 0;  // the guest's shift
  uint8_t rcv_wscale = 0;  // ours
  // From the guest.
  uint32_t irs = 0;
  uint32_t rcv_nxt = 0;  // next byte expected = everything the host took
  size_t room = 0;       // host socket's free send space (estimate)
  size_t sndbuf = 0;     // its send buffer
  size_t adv_room = 0;   // the window last advertised, in bytes
  uint32_t acked = 0;    // the rcv_nxt our last segment acknowledged
  // Flags.
  bool guest_fin = false;
  bool host_eof = false;
  bool fin_sent = false;
  bool fin_acked = false;
  bool peek_offset = true;  // SO_PEEK_OFF works on this socket
  bool send_blocked = false;
  bool ack_due = false;
  bool tx_waiting = false;
  uint8_t dupacks = 0;
  uint8_t retries = 0;
  uint8_t probes = 0;  // zero-window probes since the window was last open
  Duration rto = kMinRto;
  MonoTime last_activity{};

  uint32_t in_flight() const { return snd_nxt - snd_una; }
};

inline const FlowKey& TcpFlows::key(const Flow& f) const {
  return table_.key(f);
}
inline void TcpFlows::arm(Flow& f, MonoTime at) {
  table_.arm(f, at);
}

struct TcpFlows::Seg {
  FlowKey key;
  wire::MacAddr mac;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  wire::ConstBytes options;
  wire::ConstBytes payload;
  bool dns_stream = false;  // to the DNS address, port 53 (on_guest)
  bool has(uint8_t f) const { return (flags & f) != 0; }
};

namespace tcp {

inline constexpr uint8_t kOurWindowScale = 7;  // up to 8 MiB of window
inline constexpr Duration kSynRto = Duration::seconds(1);

inline bool seq_lt(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) < 0;
}
inline bool seq_le(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) <= 0;
}
inline bool seq_gt(uint32_t a, uint32_t b) {
  return seq_lt(b, a);
}
inline bool seq_ge(uint32_t a, uint32_t b) {
  return seq_le(b, a);
}

// Guest-facing segment size: what the guest asked for, within our MTU.
inline uint16_t clamp_mss(std::optional<uint16_t> asked, bool v6, uint32_t mtu) {
  const uint32_t ours = mtu - (v6 ? 60 : 40);
  const uint32_t m = std::min<uint32_t>(asked.value_or(v6 ? 1220 : 536), ours);
  return static_cast<uint16_t>(std::max<uint32_t>(m, 64));
}

}  // namespace tcp
}  // namespace tapir::flows
