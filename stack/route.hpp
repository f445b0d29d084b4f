#pragma once
// Where a classified guest frame (wire/guest_packet.hpp) goes: the whole
// routing policy of the dispatcher (stack/dispatch), as one ordered table in
// route.cpp. The first row that matches the frame decides its target; a
// frame no row matches has no data path.
//
// A row matches on the network layer (ARP, IPv4, IPv6 or either IP), the
// transport, the kind of destination (any, the plan's DNS address, or a
// local echo target: the gateway and DNS addresses,
// services::is_local_echo_target), a range of UDP/TCP destination ports or
// of ICMP types, what it asks of the frame or the configuration (a
// specified source, the DHCP responders switched on), and whether a
// segmentation-offload frame takes it: whole, split into its datagrams
// (UDP_SEGMENT, wire/udp_gso.hpp), or not at all.

#include <cstdint>
#include <span>

#include "services/service_config.hpp"
#include "wire/guest_packet.hpp"

namespace tapir::stack {

enum class Target : uint8_t {
  kArp,         // services::arp_reply
  kDhcp4,       // services::dhcp4_reply
  kDhcp6,       // services::dhcp6_reply
  kNdp,         // services::ndp_reply
  kLocalEcho,   // services::icmp4_echo_reply / icmp6_echo_reply
  kDnsUdp,      // dns::DnsService::on_udp
  kDnsStream,   // flows::TcpFlows::on_guest, as a stream to the DNS service
  kUdpFlows,    // flows::UdpFlows::on_guest
  kTcpFlows,    // flows::TcpFlows::on_guest
  kEchoFlows,   // flows::IcmpEchoFlows::on_guest
  kNoDataPath,  // nothing translates it: counted
};
// "arp", "dns_udp", ...: for logs and test messages.
const char* target_name(Target t);

struct Route {
  enum class L3 : uint8_t { kArp, kIpv4, kIpv6, kIp };
  enum class Dst : uint8_t { kAny, kDns, kLocalEcho };
  enum class Gso : uint8_t { kNo, kWhole, kSplit };
  enum class When : uint8_t { kAlways, kSourceSet, kDhcp4, kDhcp6 };

  L3 l3;
  wire::Transport l4;
  Dst dst;
  uint16_t lo;  // destination port (UDP, TCP) or ICMP type: lo..hi
  uint16_t hi;
  Gso gso;
  When when;
  Target target;
};

// The table, in the order it is matched.
std::span<const Route> routes();
// The first row of routes() that `p` matches under `cfg`; a kNoDataPath
// route when none does.
const Route& route(const wire::GuestPacket& p, const services::ServiceConfig& cfg);

}  // namespace tapir::stack
