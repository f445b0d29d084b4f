#pragma once
// ICMP / ICMPv6 echo to hosts other than tapir's own addresses, through
// unprivileged ping sockets (socket(AF_INET{,6}, SOCK_DGRAM, IPPROTO_ICMP{V6})).
//
// Theory of operation. One connected ping socket per {guest address,
// destination, echo identifier}. The kernel owns the identifier on the
// wire (it is the socket's "port") and fills the checksum; replies come
// back carrying that identifier, so tapir writes the guest's own back and
// recomputes the checksum before framing the reply from the destination
// the guest pinged. Ping sockets need the caller's gid inside
// net.ipv4.ping_group_range (which also governs ICMPv6): where it is not,
// tapir says so once in the log and answers each echo request with
// "administratively prohibited" instead of silence. Echo to host loopback
// with --disable-host-loopback gets "network unreachable", as slirp4netns;
// echo to a martian destination (flows/nat.hpp) "administratively
// prohibited", or nothing if it was multicast or broadcast.
//
// The flows live in a FlowTable (flows/flow_table.hpp, which documents
// their lifecycle), keyed by FlowKey with the echo identifier as the
// guest's port; the ping sockets are reached through a DatagramHost
// (flows/datagram_host.hpp), the kernel's or a test's fake.

#include <cstdint>

#include "base/clock.hpp"
#include "flows/datagram_host.hpp"
#include "flows/flow_table.hpp"
#include "flows/nat.hpp"
#include "loop/socket_watcher.hpp"
#include "wire/guest_packet.hpp"

namespace tapir::flows {

struct EchoFlowStats {
  uint64_t created = 0;
  uint64_t expired = 0;
  uint64_t to_host = 0;
  uint64_t to_guest = 0;
  uint64_t prohibited = 0;   // answered "administratively prohibited"
  uint64_t unreachable = 0;  // answered "network unreachable"
  MartianCounters martians;  // refused destinations (flows/nat.hpp)
  uint64_t socket_errors = 0;
  uint64_t table_full = 0;
};

class IcmpEchoFlows final : public loop::SocketClient {
 public:
  // `fixed_secret` != 0: a fixed hash secret (tests and fuzzing reproduce runs).
  IcmpEchoFlows(NatConfig nat, size_t max_flows, DatagramHost& host, uint64_t fixed_secret = 0);
  ~IcmpEchoFlows() override;
  void set_engine(loop::SocketWatcher* e) { engine_ = e; }

  // An echo request from the guest to a destination that is not tapir's
  // (`p`'s transport is the family's ICMP; other types are ignored).
  void on_guest(const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx);
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;
  // Expires idle flows; call from the tick (once a second is enough).
  void expire(MonoTime now);

  size_t size() const { return table_.size(); }
  size_t max_flows() const { return table_.capacity(); }
  const EchoFlowStats& stats() const { return stats_; }
  static constexpr Duration kIdleTimeout = Duration::seconds(30);

 private:
  struct Flow {
    int fd = -1;
    loop::WatchHandle watch;
    wire::MacAddr guest_mac;
    MonoTime last{};
  };
  // Finds or opens the flow; null when there is none (`prohibited`: ping
  // sockets are not allowed).
  Flow* flow_for(const FlowKey& key, const sockaddr_storage& to, socklen_t to_len,
                 const wire::MacAddr& mac, MonoTime now, bool& prohibited);

  NatConfig nat_;
  DatagramHost& host_;
  loop::SocketWatcher* engine_ = nullptr;
  FlowTable<FlowKey, Flow> table_;
  bool told_prohibited_ = false;
  EchoFlowStats stats_;
};

}  // namespace tapir::flows
