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

#include <array>
#include <cstdint>
#include <unordered_map>

#include "base/clock.hpp"
#include "base/fd.hpp"
#include "loop/socket_watcher.hpp"
#include "flows/flow_hash.hpp"
#include "flows/nat.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

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
  IcmpEchoFlows(NatConfig nat, size_t max_flows) : nat_(std::move(nat)), max_flows_(max_flows) {}
  void set_engine(loop::SocketWatcher* e) { engine_ = e; }

  // An echo request from the guest to a destination that is not tapir's.
  void on_guest4(const wire::EthernetView& eth, const wire::Ipv4View& ip, const wire::Icmp4View& icmp,
                 MonoTime now, loop::FrameSink& tx);
  void on_guest6(const wire::EthernetView& eth, const wire::Ipv6View& ip, const wire::Icmp6View& icmp,
                 MonoTime now, loop::FrameSink& tx);
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;
  void expire(MonoTime now);

  size_t size() const { return flows_.size(); }
  size_t max_flows() const { return max_flows_; }
  const EchoFlowStats& stats() const { return stats_; }
  static constexpr Duration kIdleTimeout = Duration::seconds(30);

 private:
  struct Key {
    bool v6 = false;
    std::array<uint8_t, 16> guest{};
    std::array<uint8_t, 16> dst{};
    uint16_t id = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    FlowHasher hasher;
    size_t operator()(const Key& k) const noexcept;
  };
  struct Flow {
    Key key;
    Fd fd;
    loop::WatchHandle watch;
    wire::MacAddr guest_mac;
    MonoTime last{};
  };
  // Finds or opens the flow; on failure answers the guest and returns null.
  Flow* flow_for(const Key& key, const sockaddr_storage& to, socklen_t to_len,
                 const wire::MacAddr& mac, MonoTime now, bool& prohibited);

  NatConfig nat_;
  size_t max_flows_;
  loop::SocketWatcher* engine_ = nullptr;
  std::unordered_map<Key, uint64_t, KeyHash> index_;
  std::unordered_map<uint64_t, Flow> flows_;
  uint64_t next_id_ = 1;
  bool told_prohibited_ = false;
  EchoFlowStats stats_;
};

}  // namespace tapir::flows
