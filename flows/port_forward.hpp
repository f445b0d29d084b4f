#pragma once
// Port forwarding into the guest (-p/--publish and the control API's
// add_hostfwd): listening sockets in tapir's own (the caller's) network
// namespace, whose traffic is carried to a port of the guest.
//
// Theory of operation. Each rule is one listening socket, bound when the
// rule is added (so "address in use" is the caller's error, at once) and
// watched on the engine; the rule id is the watch cookie. A TCP listener
// accepts what is pending (a bounded number per wake) and hands every
// connection to the ForwardSink (the TCP translation, flows/tcp_flows),
// which opens the connection towards the guest. A UDP listener reads its
// datagrams straight into transmit buffers and gives them to UdpFlows as
// reverse flows (flows/udp_flows), which also carries the guest's replies
// back out through this socket.
//
// What the guest sees as the source (DESIGN.md "Address plans"): the
// client's real address and port; a client on host loopback (127/8, ::1)
// appears as the gateway (10.0.2.2 / fd00::2), as does a client whose
// address family is not the guest's (an IPv6 client of a rule whose guest
// address is IPv4, and the reverse).
//
// The guest address of a rule is either fixed or "the guest's": resolved
// on every connection or datagram through GuestInfo, i.e. the address the
// guest took (DHCP/ARP) or else the plan's recommended one (10.0.2.100);
// for IPv6, the prefix with the guest's modified EUI-64 interface id (what
// SLAAC gives a Linux guest by default).
//
// A TCP connection needs the guest's MAC (TCP is never taken from a
// broadcast frame). A guest that only serves may not have said a word
// yet: then the connection waits (at most kMacWait, at most kMaxPending
// of them) while the gateway asks for the guest's address by ARP, and
// goes on as soon as the services have learnt the MAC. UDP goes to the
// broadcast MAC meanwhile, which the guest accepts.
//
// Rules are numbered from 1 in the order they were added; an id is never
// reused. Removing a rule closes its listener: further connections to
// that port are refused by the kernel. Connections already carried are
// not affected.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/expected.hpp"
#include "base/fd.hpp"
#include "flows/forward_sink.hpp"
#include "flows/udp_flows.hpp"
#include "loop/socket_watcher.hpp"
#include "wire/address_plan.hpp"

namespace tapir::flows {

using wire::IpAddr;

enum class FwdProto : uint8_t { kTcp, kUdp };

struct ForwardRule {
  FwdProto proto = FwdProto::kTcp;
  IpAddr host_addr;  // default 0.0.0.0
  uint16_t host_port = 0;
  // nullopt: the guest's address in the family `guest_v6` says.
  std::optional<IpAddr> guest_addr;
  bool guest_v6 = false;
  uint16_t guest_port = 0;
};

struct ForwardEntry {
  uint32_t id = 0;
  ForwardRule rule;
  IpAddr guest_addr;  // resolved now, when the rule has none of its own
};

enum class ForwardError : uint8_t {
  kBadRule,    // port 0, or an IPv6 guest address while IPv6 is off
  kBind,       // socket/bind/listen failed (errno in ForwardFailure)
  kTableFull,  // kMaxRules, or no engine watch slot left
};

struct ForwardFailure {
  ForwardError error = ForwardError::kBadRule;
  int errno_value = 0;
  std::string message() const;
};

// What the guest is, as far as tapir knows now.
struct GuestInfo {
  std::optional<wire::MacAddr> mac;
  std::optional<wire::Ipv4Addr> ip4;  // from DHCP/ARP
};

// The table the control API drives (app/api); PortForwarder is the real one.
class ForwardTable {
 public:
  virtual ~ForwardTable() = default;
  virtual Expected<uint32_t, ForwardFailure> add(const ForwardRule& rule) = 0;
  // false: no rule with that id.
  virtual bool remove(uint32_t id) = 0;
  // In id order.
  virtual std::vector<ForwardEntry> list() const = 0;
};

struct PortForwardStats {
  uint64_t tcp_accepted = 0;
  uint64_t tcp_refused = 0;  // the sink could not carry it, or there is no sink (reset)
  uint64_t accept_errors = 0;
  uint64_t udp_datagrams = 0;
  uint64_t udp_dropped = 0;  // too big for the guest's MTU, or no transmit buffer
  uint64_t recv_errors = 0;
  uint64_t waited_for_mac = 0;  // TCP connections held until the guest's MAC was known
};

class PortForwarder final : public ForwardTable, public loop::SocketClient {
 public:
  static constexpr size_t kMaxRules = 1024;
  static constexpr size_t kMaxPending = 64;
  static constexpr Duration kMacWait = Duration::seconds(3);

  PortForwarder(const wire::AddressPlan& plan, std::function<GuestInfo()> guest);
  ~PortForwarder() override;
  // Also creates the solicitation timer's fd and its watch, so that
  // everything is open before the sandbox locks (an add_hostfwd later needs
  // only sockets).
  void set_engine(loop::SocketWatcher* e);
  // The TCP translation; nullptr: accepted connections are reset and counted.
  void set_tcp(ForwardSink* sink) { tcp_ = sink; }
  // The UDP flows; nullptr: datagrams are read and dropped.
  void set_udp(UdpFlows* udp) { udp_ = udp; }

  Expected<uint32_t, ForwardFailure> add(const ForwardRule& rule) override;
  bool remove(uint32_t id) override;
  std::vector<ForwardEntry> list() const override;
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;

  const PortForwardStats& stats() const { return stats_; }
  size_t size() const { return rules_.size(); }

  // The guest's address for a rule without one (see the theory above).
  IpAddr guest_address(bool v6) const;
  // What the guest sees as the source for a client at `client` when the
  // guest address family is `guest_v6`; false for an unknown family.
  bool map_peer(const sockaddr_storage& client, bool guest_v6, IpAddr& addr, uint16_t& port) const;

 private:
  struct Rule {
    ForwardRule rule;
    Fd fd;
    loop::WatchHandle watch;
  };
  void on_tcp(uint32_t id, Rule& r, MonoTime now, loop::FrameSink& tx);
  void on_udp(uint32_t id, Rule& r, MonoTime now, loop::FrameSink& tx);
  // Connections waiting for the guest's MAC.
  struct Pending {
    Fd conn;
    ForwardTarget target;
    MonoTime deadline{};
  };
  void hold(Fd conn, const ForwardTarget& t, MonoTime now, loop::FrameSink& tx);
  void on_timer(MonoTime now, loop::FrameSink& tx);
  void solicit(const ForwardTarget& t, MonoTime now, loop::FrameSink& tx);
  void set_timer(bool on);
  void open_timer();
  static constexpr uint64_t kTimerCookie = 0;  // rule ids start at 1

  wire::AddressPlan plan_;
  std::function<GuestInfo()> guest_;
  loop::SocketWatcher* engine_ = nullptr;
  ForwardSink* tcp_ = nullptr;
  UdpFlows* udp_ = nullptr;
  std::map<uint32_t, Rule> rules_;
  uint32_t next_id_ = 1;
  std::vector<Pending> pending_;
  Fd timer_;
  loop::WatchHandle timer_watch_;
  bool timer_on_ = false;
  MonoTime next_solicit_{};
  PortForwardStats stats_;
};

// The modified EUI-64 address for `mac` in the /64 `prefix` (RFC 4291
// 2.5.1): what the guest's SLAAC picks by default.
wire::Ipv6Addr eui64_address(const wire::Ipv6Prefix& prefix, const wire::MacAddr& mac);

}  // namespace tapir::flows
