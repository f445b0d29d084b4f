#pragma once
// UDP flows (NAT mode): each guest 5-tuple gets one connected, non-blocking
// host socket, so the kernel demultiplexes replies and filters strangers.
//
// Theory of operation. A datagram from the guest to a destination that
// maps to the host (flows/nat.hpp) looks its flow up by {guest address and
// port, destination address and port}; a new flow opens a socket, connects
// it to the mapped destination and asks the engine to watch it. Replies
// are read straight into a transmit buffer at the payload offset and the
// Ethernet/IP/UDP headers are put in front (services/frame.hpp), with the
// destination the guest used as the source. Flows expire like conntrack's:
// 30 s after the last datagram, 180 s once both sides have spoken. The
// table is bounded (--max-udp-flows, default 4096: every flow holds a host
// ephemeral port, which the host's other users share); at the cap new
// flows are refused, counted and logged. ICMP errors the host side
// receives for a flow (port unreachable, fragmentation needed, packet too
// big, ...) come from the socket's error queue (IP_RECVERR) and go to the
// guest as ICMP from the gateway.
//
// The flows live in a FlowTable (flows/flow_table.hpp, which documents
// their lifecycle); the host sockets are reached through a DatagramHost
// (flows/datagram_host.hpp), the kernel's or a test's fake.

#include <cstdint>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "flows/datagram_host.hpp"
#include "flows/flow_table.hpp"
#include "flows/nat.hpp"
#include "loop/socket_watcher.hpp"
#include "wire/addr.hpp"
#include "wire/guest_packet.hpp"

namespace tapir::flows {

using UdpFlowKey = FlowKey;

struct UdpFlowStats {
  uint64_t created = 0;
  uint64_t expired = 0;
  uint64_t to_host = 0;       // datagrams sent on host sockets
  uint64_t to_guest = 0;      // datagrams delivered to the guest
  uint64_t send_errors = 0;
  uint64_t refused = 0;       // ECONNREFUSED from the host side
  uint64_t socket_errors = 0; // socket()/connect() failed (e.g. out of fds)
  uint64_t table_full = 0;    // refused at --max-udp-flows
  uint64_t unreachable = 0;   // host loopback with --disable-host-loopback: ICMP net unreachable
  MartianCounters martians;   // refused destinations (flows/nat.hpp): ICMP admin prohibited
  uint64_t too_big = 0;       // reply larger than the guest's MTU allows
  uint64_t icmp_errors = 0;   // ICMP errors from the host side passed on to the guest
  uint64_t reverse_created = 0;  // reverse flows (forwarded UDP ports)
  uint64_t from_listener = 0;    // datagrams from forwarded ports to the guest
};

// Where a forwarded datagram came from: the rule's listening socket and
// the real client's address (for sendto()).
struct UdpListenerRef {
  uint32_t rule = 0;  // PortForwarder's rule id
  int fd = -1;        // borrowed: the rule's listening socket
  sockaddr_storage client{};
  socklen_t client_len = 0;
};

class UdpFlows final : public loop::SocketClient {
 public:
  // `fixed_secret` != 0: a fixed hash secret (tests and fuzzing reproduce runs).
  UdpFlows(NatConfig nat, size_t max_flows, DatagramHost& host, uint64_t fixed_secret = 0);
  ~UdpFlows() override;
  void set_engine(loop::SocketWatcher* e) { engine_ = e; }

  // A guest datagram for a host destination (not for tapir's services):
  // `p` is UDP, and no segmentation-offload frame (the dispatcher splits
  // those into their datagrams, wire/udp_gso.hpp). `tx` carries "network
  // unreachable" back when the destination is host loopback and
  // --disable-host-loopback is set (as slirp4netns), and "administratively
  // prohibited" for a unicast martian (flows/nat.hpp).
  void on_guest(const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx);
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;

  // A datagram of `len` bytes that the caller read into `out` (from
  // tx.acquire()) at the UDP payload offset (services/frame.hpp) for
  // key.v6(). `key` is the guest's view: guest = the forwarding target,
  // dst = the client's mapped address and port. Sends the frame (or
  // cancels the buffer when the reverse flow cannot be kept).
  void from_listener(const UdpFlowKey& key, const wire::MacAddr& guest_mac,
                     const UdpListenerRef& from, wire::MutBytes out, size_t len, MonoTime now,
                     loop::FrameSink& tx);
  // Ends the reverse flows of forwarding rule `rule` (its socket closes).
  void close_listener(uint32_t rule);
  // Expires idle flows; call from the tick (once a second is enough).
  void expire(MonoTime now);

  size_t size() const { return table_.size(); }
  size_t max_flows() const { return table_.capacity(); }
  const UdpFlowStats& stats() const { return stats_; }

  static constexpr Duration kIdleTimeout = Duration::seconds(30);
  static constexpr Duration kStreamTimeout = Duration::seconds(180);

 private:
  struct Flow {
    int fd = -1;  // -1 for a reverse flow
    loop::WatchHandle watch;
    wire::MacAddr guest_mac;
    MonoTime last{};
    bool replied = false;
    // Reverse flows: the listening socket and client (listener.fd >= 0).
    UdpListenerRef listener;
    bool reverse() const { return listener.fd >= 0; }
  };
  Flow* open_flow(const UdpFlowKey& key, const sockaddr_storage& to, socklen_t to_len,
                  const wire::MacAddr& guest_mac, MonoTime now);
  void send_to_host(Flow& f, wire::ConstBytes payload, MonoTime now);
  void drain_errors(Flow& f, loop::FrameSink& tx);
  void close_flow(Flow& f);
  void log_full(MonoTime now, const char* what);

  NatConfig nat_;
  DatagramHost& host_;
  loop::SocketWatcher* engine_ = nullptr;
  FlowTable<UdpFlowKey, Flow> table_;
  UdpFlowStats stats_;
};

}  // namespace tapir::flows
