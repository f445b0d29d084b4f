#pragma once
// TCP translation (NAT mode): the guest's TCP connections become ordinary
// host sockets, with no TCP stack and no payload buffers of our own.
//
// Theory of operation (DESIGN.md "Data path").
//
// tapir sits between two real TCP endpoints: the guest's kernel on the tap
// and a host kernel socket. It terminates neither stream in memory; it only
// translates sequence numbers and acknowledgements between them.
//
// * Opening. A guest SYN opens a non-blocking host socket and connects it.
//   Only when the host connect succeeds does the guest get its SYN-ACK, so
//   the guest sees exactly what the host saw: refused -> RST, unreachable
//   -> ICMP unreachable. (Towards the guest, for port forwarding, the same
//   flow starts with our SYN and waits for the guest's SYN-ACK.)
//
// * Host -> guest. Data stays in the host socket's receive queue until the
//   guest acknowledges it. We copy it into frames with MSG_PEEK, reading
//   from SO_PEEK_OFF (the bytes already sent, unacknowledged), and discard
//   it with MSG_TRUNC when the guest's ACK covers it. Retransmitting is
//   rewinding: snd_nxt goes back to snd_una, the peek offset back to 0.
//   Before Linux 6.9 a TCP socket has no SO_PEEK_OFF: every peek then
//   starts at the queue's head and copies the bytes in flight into a
//   scratch buffer first; a peek that returns only those means "nothing new"
//   (would-block), never end of stream. Urgent data stays in the stream
//   (SO_OOBINLINE); a read stops short at its mark, so consumes repeat.
//   The guest's advertised window bounds what is in flight; the kernel's
//   receive queue is the only buffer, so a slow guest slows the host peer
//   down through TCP itself. A zero window is probed with an ACK below
//   snd_una, which makes the guest repeat its window.
//
// * Guest -> host. A segment at rcv_nxt is written to the host socket, and
//   only what send() accepted is acknowledged; the rest the guest will
//   send again. The window we advertise is the host socket's free send
//   buffer, so normally send() takes everything. Out-of-order segments (the
//   guest retransmitting after a loss) are dropped with a duplicate ACK.
//
// * Offloads. With a vnet header, the guest hands us TSO segments of up to
//   64 KiB, with partial checksums we need not verify: one send() each.
//   Towards the guest we build segments of up to 64 KiB with GSO metadata
//   and a partial checksum (only the pseudo-header is summed), so the guest
//   receives 64 KiB at a time even at MTU 1500. Without a vnet header,
//   frames are MSS-sized with full checksums.
//
// * Closing. Guest FIN -> shutdown(SHUT_WR); host end of stream (a peek
//   of an empty queue that returns 0) -> our FIN once every byte before it
//   was sent; both
//   directions close independently (half-close). Guest RST -> the host
//   socket is closed with SO_LINGER 0 (the peer sees a reset). Host error
//   (reset, timeout) -> RST to the guest. A flow ends when both FINs are
//   acknowledged, or on a reset.
//
// * Timers. The flow table's wheel (10 ms buckets), driven by the engine's
//   tick, holds at most one deadline per flow: SYN retransmission,
//   retransmission (RTO, exponential backoff), zero-window probes (at most
//   kMaxWindowProbes, then a reset), and the idle limit of half-closed
//   flows. Sequence numbers start at RFC 6528 values.
//
// The flows live in a FlowTable (flows/flow_table.hpp, the one UDP and ICMP
// echo use, which documents how its slot states relate to TCP's):
// preallocated (--max-flows), indexed by a keyed hash of the 4-tuple; at
// the cap a new SYN gets a RST, a counter and a rate-limited log line.
//
// The code is split by concern; flows/tcp_conn.hpp holds the connection
// (its state table) and says which file does what.

#include <array>
#include <cstdint>
#include <vector>

#include "base/clock.hpp"
#include "base/fd.hpp"
#include "flows/flow_hash.hpp"
#include "flows/flow_table.hpp"
#include "flows/forward_sink.hpp"
#include "flows/nat.hpp"
#include "flows/tcp_host.hpp"
#include "loop/socket_watcher.hpp"
#include "services/guest_state.hpp"
#include "tap/tap_io.hpp"
#include "wire/addr.hpp"
#include "wire/ethernet.hpp"
#include "wire/guest_packet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace tapir::flows {

// Takes the service end of a guest TCP connection to the DNS address
// (dns/io/service); false when it cannot (at its cap).
class StreamService {
 public:
  virtual ~StreamService() = default;
  virtual bool adopt_stream(Fd fd, MonoTime now) = 0;
};

struct TcpConfig {
  NatConfig nat;
  size_t max_flows = 65536;
  OutboundAddrs outbound;
  // Fixed hash and ISN secrets (tests and fuzzing reproduce runs); 0 draws
  // random ones, as tapir must.
  uint64_t fixed_secret = 0;
};

struct TcpStats {
  uint64_t created = 0;    // connections the guest opened
  uint64_t forwarded = 0;  // connections opened towards the guest
  uint64_t closed = 0;
  uint64_t refused = 0;        // host said ECONNREFUSED: RST to the guest
  uint64_t unreachable = 0;    // ICMP unreachable to the guest
  MartianCounters martians;    // segments to refused destinations (flows/nat.hpp): RST
  uint64_t table_full = 0;     // SYN refused at --max-flows
  uint64_t socket_errors = 0;  // socket()/connect() failed locally (e.g. out of fds)
  uint64_t segments_in = 0;
  uint64_t bytes_to_host = 0;
  uint64_t segments_out = 0;  // data segments to the guest (a GSO frame counts once)
  uint64_t bytes_to_guest = 0;
  uint64_t retransmits = 0;       // rewinds after a timeout
  uint64_t fast_retransmits = 0;  // rewinds after three duplicate ACKs
  uint64_t partial_sends = 0;     // the host socket took less than the segment
  uint64_t out_of_order = 0;      // guest segments beyond rcv_nxt, dropped
  uint64_t resets_to_guest = 0;
  uint64_t resets_from_guest = 0;
  uint64_t no_flow = 0;    // segments for no known connection: RST
  uint64_t late_fins = 0;  // a bare FIN repeated after its flow ended: ACKed
  uint64_t bad_checksum = 0;
  uint64_t bad_segment = 0;  // invalid in the flow's state: dropped
  uint64_t timeouts = 0;     // flows given up (retransmissions, idle)
  uint64_t window_probes = 0;
  uint64_t window_timeouts = 0;  // of timeouts: a window that stayed shut past kMaxWindowProbes
  uint64_t tx_full = 0;          // a segment waited: every transmit buffer busy
};

class TcpFlows final : public loop::SocketClient, public ForwardSink {
 public:
  // `guest` is the one record of the guest (the services learn into it;
  // stack::Stack owns it) and outlives the flows.
  TcpFlows(TcpConfig cfg, TcpHost& host, const services::GuestState& guest);
  ~TcpFlows() override;
  TcpFlows(const TcpFlows&) = delete;
  TcpFlows& operator=(const TcpFlows&) = delete;

  void set_watcher(loop::SocketWatcher* w) { watcher_ = w; }
  void set_streams(StreamService* dns) { dns_ = dns; }

  // A segment from the guest (`p` is TCP). `meta.needs_csum`: the guest's
  // kernel left the checksum to us and vouches for the data; otherwise it
  // is verified. `dns_stream`: the segment is for the DNS address, port 53
  // (the dispatcher's routing decides it, stack/route.cpp): a connection it
  // opens is a stream to the DNS service (set_streams), or none at all
  // without one (--disable-dns).
  void on_guest(const wire::GuestPacket& p, const tap::FrameMeta& meta, bool dns_stream,
                MonoTime now, loop::FrameSink& tx);
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;
  void on_tick(MonoTime now, loop::FrameSink& tx);
  void on_batch_end(MonoTime now, loop::FrameSink& tx);

  // Port forwarding (tcp_forward.cpp): a connection towards the guest (our
  // SYN), to the guest's MAC as the services learnt it (refused while it
  // is unknown; the port forwarder waits for it).
  bool forward_tcp(Fd conn, const ForwardTarget& target, MonoTime now,
                   loop::FrameSink& tx) override;

  // Closes every host socket (at exit; the engine's polls are cancelled).
  void close_all();

  size_t size() const { return table_.size(); }
  const TcpStats& stats() const { return stats_; }

  // Limits (see the state table in flows/tcp_conn.hpp).
  static constexpr Duration kMinRto = Duration::millis(200);
  static constexpr Duration kMaxRto = Duration::seconds(30);
  static constexpr int kMaxRetries = 12;  // ~2 minutes of backoff, then RST
  static constexpr int kMaxSynRetries = 5;
  // Zero-window probes before the flow is reset. RFC 9293 3.8.6.1 lets a
  // receiver keep its window shut as long as it answers the probes, but
  // here the unread host data sits in a host socket (kernel memory) the
  // guest does not pay for: ~7 minutes of backoff (capped at kMaxRto),
  // as a user timeout would bound it (RFC 5482), then RST both ways.
  static constexpr int kMaxWindowProbes = 20;
  static constexpr Duration kClosingIdle = Duration::seconds(120);

 private:
  // Defined in flows/tcp_conn.hpp, with the state table.
  enum class State : uint8_t;
  struct Flow;
  struct Seg;

  // Guest -> host (tcp_input.cpp).
  void on_segment(const Seg& s, MonoTime now, loop::FrameSink& tx);
  void on_syn_sent(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx);
  void on_ack(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx);
  void on_data(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx);
  void maybe_finish(Flow& f, loop::FrameSink& tx);

  // A guest SYN becomes a host connection (tcp_open.cpp). DNS over TCP to
  // the DNS address is the one special case: the routing decides it
  // (Seg::dns_stream), open_dns_stream() opens the stream to the DNS service.
  void on_new_syn(const Seg& s, MonoTime now, loop::FrameSink& tx);
  int open_dns_stream(MonoTime now);
  void on_connected(Flow& f, MonoTime now, loop::FrameSink& tx);
  void on_connect_error(Flow& f, int err, loop::FrameSink& tx);

  // Host -> guest and every frame we send (tcp_output.cpp).
  void push(Flow& f, MonoTime now, loop::FrameSink& tx);
  void rewind(Flow& f);
  void host_error(Flow& f, int err, loop::FrameSink& tx);
  bool send_control(Flow& f, uint8_t flags, uint32_t seq, loop::FrameSink& tx,
                    bool syn_options = false);
  void send_reset_for(const Seg& s, loop::FrameSink& tx);
  void send_late_fin_ack(const Seg& s, loop::FrameSink& tx);
  void send_icmp_unreachable(const Flow& f, bool host, loop::FrameSink& tx);
  uint32_t advertised_window(const Flow& f) const;

  // Timers (tcp_timers.cpp).
  void on_timer(Flow& f, MonoTime now, loop::FrameSink& tx);

  // Table, host socket state, batch bookkeeping (tcp_flows.cpp).
  Flow* allocate(const FlowKey& key, size_t hash, MonoTime now);
  void release(Flow& f, bool reset_host);
  const FlowKey& key(const Flow& f) const;
  void start_watch(Flow& f);
  uint32_t initial_sequence(const FlowKey& key, MonoTime now) const;
  void set_events(Flow& f, unsigned events);
  void arm(Flow& f, MonoTime at);
  void refresh_window(Flow& f);
  void want_ack(Flow& f);
  void watch_room(Flow& f);

  TcpConfig cfg_;
  TcpHost& host_;
  const services::GuestState& guest_;
  loop::SocketWatcher* watcher_ = nullptr;
  StreamService* dns_ = nullptr;
  FlowHasher isn_hasher_;
  FlowTable<FlowKey, Flow> table_;
  std::vector<uint64_t> dirty_;     // cookies of flows owing an ACK at batch end
  std::vector<uint64_t> tx_wait_;   // cookies of flows that ran out of transmit buffers
  std::vector<std::byte> scratch_;  // peek fallback without SO_PEEK_OFF
  TcpStats stats_;
};

}  // namespace tapir::flows
