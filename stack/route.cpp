#include "stack/route.hpp"

#include "services/icmp_echo.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"

namespace tapir::stack {
namespace {

using L3 = Route::L3;
using Dst = Route::Dst;
using Gso = Route::Gso;
using When = Route::When;
using T = Target;
constexpr auto kNone = wire::Transport::kNone;
constexpr auto kUdp = wire::Transport::kUdp;
constexpr auto kTcp = wire::Transport::kTcp;
constexpr auto kIcmp = wire::Transport::kIcmp;

constexpr uint16_t kAll = 0xffff;
constexpr uint16_t kDns = 53;     // RFC 1035 4.2
constexpr uint16_t kDhcp4 = 67;   // RFC 2131 4.1: the server's port
constexpr uint16_t kDhcp6 = 547;  // RFC 8415 7.2: the servers' and relays' port
constexpr uint16_t kEcho4 = wire::icmp4_type::kEchoRequest;
constexpr uint16_t kEcho6 = wire::icmp6_type::kEchoRequest;
constexpr uint16_t kRs = wire::icmp6_type::kRouterSolicitation;  // RS, RA, NS, NA, Redirect
constexpr uint16_t kRedirect = wire::icmp6_type::kRedirect;

// The routing policy. "port": the UDP/TCP destination port or the ICMP
// type, lo..hi. "gso": what a segmentation-offload frame does with the row.
// The flows take no unspecified source (a guest sends from 0.0.0.0 or ::
// only to configure itself); the NAT mapping refuses martian destinations
// (flows/nat.hpp) in that one place, not here.
constexpr Route kRoutes[] = {
    // l3      l4     dst             port/type      gso         when           target
    {L3::kArp, kNone, Dst::kAny,       0, kAll,       Gso::kWhole, When::kAlways,    T::kArp},
    {L3::kIp,  kTcp,  Dst::kDns,       kDns, kDns,    Gso::kWhole, When::kSourceSet, T::kDnsStream},
    {L3::kIp,  kTcp,  Dst::kAny,       0, kAll,       Gso::kWhole, When::kSourceSet, T::kTcpFlows},
    {L3::kIp,  kUdp,  Dst::kDns,       kDns, kDns,    Gso::kSplit, When::kAlways,    T::kDnsUdp},
    {L3::kIpv4, kUdp, Dst::kAny,       kDhcp4, kDhcp4, Gso::kWhole, When::kDhcp4,    T::kDhcp4},
    {L3::kIpv6, kUdp, Dst::kAny,       kDhcp6, kDhcp6, Gso::kWhole, When::kDhcp6,    T::kDhcp6},
    {L3::kIp,  kUdp,  Dst::kAny,       0, kAll,       Gso::kSplit, When::kSourceSet, T::kUdpFlows},
    {L3::kIpv6, kIcmp, Dst::kAny,      kRs, kRedirect, Gso::kNo,   When::kAlways,    T::kNdp},
    {L3::kIp,  kIcmp, Dst::kLocalEcho, 0, kAll,       Gso::kNo,    When::kAlways,    T::kLocalEcho},
    {L3::kIpv4, kIcmp, Dst::kAny,      kEcho4, kEcho4, Gso::kNo,   When::kAlways,    T::kEchoFlows},
    {L3::kIpv6, kIcmp, Dst::kAny,      kEcho6, kEcho6, Gso::kNo,   When::kAlways,    T::kEchoFlows},
};

constexpr Route kNoRoute{L3::kIp, kNone, Dst::kAny, 0, kAll, Gso::kWhole, When::kAlways,
                         T::kNoDataPath};

bool l3_matches(L3 l3, wire::Net net) {
  switch (l3) {
    case L3::kArp: return net == wire::Net::kArp;
    case L3::kIpv4: return net == wire::Net::kIpv4;
    case L3::kIpv6: return net == wire::Net::kIpv6;
    case L3::kIp: return net == wire::Net::kIpv4 || net == wire::Net::kIpv6;
  }
  return false;
}

bool dst_matches(Dst dst, const wire::GuestPacket& p, const services::ServiceConfig& cfg) {
  switch (dst) {
    case Dst::kAny: return true;
    case Dst::kDns:
      return p.dst ==
             (p.v6() ? wire::IpAddr::from(cfg.plan.dns6) : wire::IpAddr::from(cfg.plan.dns4));
    case Dst::kLocalEcho:
      return p.v6() ? services::is_local_echo_target(p.ip6->destination(), cfg)
                    : services::is_local_echo_target(p.ip4->destination(), cfg);
  }
  return false;
}

bool when_holds(When when, const wire::GuestPacket& p, const services::ServiceConfig& cfg) {
  switch (when) {
    case When::kAlways: return true;
    case When::kSourceSet: return !p.src.is_unspecified();
    case When::kDhcp4: return cfg.dhcp;
    case When::kDhcp6: return cfg.dhcpv6;
  }
  return false;
}

bool matches(const Route& r, const wire::GuestPacket& p, const services::ServiceConfig& cfg) {
  if (!l3_matches(r.l3, p.net) || r.l4 != p.transport) return false;
  if (p.gso_size != 0 && r.gso == Gso::kNo) return false;
  const uint16_t key = p.transport == kIcmp ? p.icmp_type : p.dst_port;
  if (key < r.lo || key > r.hi) return false;
  return dst_matches(r.dst, p, cfg) && when_holds(r.when, p, cfg);
}

}  // namespace

const char* target_name(Target t) {
  switch (t) {
    case T::kArp: return "arp";
    case T::kDhcp4: return "dhcp4";
    case T::kDhcp6: return "dhcp6";
    case T::kNdp: return "ndp";
    case T::kLocalEcho: return "local_echo";
    case T::kDnsUdp: return "dns_udp";
    case T::kDnsStream: return "dns_stream";
    case T::kUdpFlows: return "udp_flows";
    case T::kTcpFlows: return "tcp_flows";
    case T::kEchoFlows: return "echo_flows";
    case T::kNoDataPath: return "no_data_path";
  }
  return "?";
}

std::span<const Route> routes() { return kRoutes; }

const Route& route(const wire::GuestPacket& p, const services::ServiceConfig& cfg) {
  for (const Route& r : kRoutes) {
    if (matches(r, p, cfg)) return r;
  }
  return kNoRoute;
}

}  // namespace tapir::stack
