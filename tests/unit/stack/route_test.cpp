// The routing table (stack/route): guest frames, classified as the
// dispatcher classifies them (wire::classify), and the target each gets.
// One case per row and family, the conditions that send a frame past a
// row, and the segmentation-offload column. The last test checks every row
// of the table is some case's answer, so a row added without a case fails.

#include "stack/route.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/support/guest_frames.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/proto.hpp"
#include "wire/tcp.hpp"
#include "wire/udp_gso.hpp"

namespace tapir::stack {
namespace {

using Frame = std::vector<std::byte>;
using Gso = Route::Gso;

services::ServiceConfig config() {
  services::ServiceConfig cfg;
  cfg.plan.ipv6 = true;
  return cfg;
}

const services::ServiceConfig kCfg = config();
using testing::kFar4;
using testing::kFar6;
const wire::IpAddr& kG4 = testing::kGuestIp4;
const wire::IpAddr& kG6 = testing::kGuestIp6;
const wire::IpAddr kAny4 = wire::IpAddr::from(wire::Ipv4Addr{});
const wire::IpAddr kAny6 = wire::IpAddr::from(wire::Ipv6Addr{});
const wire::IpAddr kDns4 = wire::IpAddr::from(kCfg.plan.dns4);
const wire::IpAddr kDns6 = wire::IpAddr::from(kCfg.plan.dns6);
const wire::IpAddr kGw4 = wire::IpAddr::from(kCfg.plan.gateway4);
const wire::IpAddr kGw6 = wire::IpAddr::from(kCfg.plan.gateway6);
const wire::IpAddr kGwLl6 = wire::IpAddr::from(kCfg.plan.gateway_link_local6());
const wire::IpAddr kBcast4 = wire::IpAddr::from(wire::Ipv4Addr{0xffffffffu});
const wire::IpAddr kAllRouters6 = *wire::IpAddr::parse("ff02::2");

Frame udp(const wire::IpAddr& src, const wire::IpAddr& dst, uint16_t dport,
          size_t len = 16) {
  return testing::udp_frame(src, dst, 40000, dport, std::string(len, 'q'));
}

Frame tcp(const wire::IpAddr& src, const wire::IpAddr& dst, uint16_t dport) {
  const size_t l4 = src.v6 ? 54 : 34;
  Frame f(l4 + wire::kTcpHeaderLen);
  wire::MutBytes t = wire::MutBytes(f).subspan(l4);
  wire::store_be16(t, 0, 40000);
  wire::store_be16(t, 2, dport);
  t[12] = std::byte{5 << 4};
  t[13] = std::byte{wire::tcp_flag::kSyn};
  wire::store_be16(t, 14, 65535);
  f = testing::wrap(src, dst, wire::ipproto::kTcp, std::move(f));
  t = wire::MutBytes(f).subspan(l4);
  if (src.v6) {
    wire::fill_tcp_checksum(t, src.as_v6(), dst.as_v6());
  } else {
    wire::fill_tcp_checksum(t, src.as_v4(), dst.as_v4());
  }
  return f;
}

Frame echo(const wire::IpAddr& src, const wire::IpAddr& dst) {
  return testing::echo_frame(src, dst, 7, 1, "ping");
}

// An ICMP message of `type` (code 0, 4 more bytes), checksum not filled:
// classify() does not look at it.
Frame icmp(const wire::IpAddr& src, const wire::IpAddr& dst, uint8_t type) {
  const size_t l4 = src.v6 ? 54 : 34;
  Frame f(l4 + 24);
  f[l4] = std::byte{type};
  return testing::wrap(src, dst, src.v6 ? wire::ipproto::kIcmpv6 : wire::ipproto::kIcmp,
                       std::move(f));
}

Frame arp() {
  Frame f(wire::kEthernetHeaderLen + wire::kArpLen);
  wire::EthernetRepr{wire::MacAddr::broadcast(), testing::kGuestMac, wire::ethertype::kArp}.emit(f);
  wire::ArpRepr{wire::arp_op::kRequest, testing::kGuestMac, testing::kGuest4, {},
                kCfg.plan.gateway4}
      .emit(wire::MutBytes(f).subspan(wire::kEthernetHeaderLen));
  return f;
}

// An IPv4 frame with the header changed by `edit`, its checksum refilled.
template <class Edit>
Frame edit4(Frame f, Edit&& edit) {
  wire::MutBytes ip = wire::MutBytes(f).subspan(wire::kEthernetHeaderLen, wire::kIpv4MinHeaderLen);
  edit(ip);
  wire::store_be16(ip, wire::Ipv4View::kChecksumOffset, 0);
  wire::store_be16(ip, wire::Ipv4View::kChecksumOffset, wire::internet_checksum(ip));
  return f;
}

struct Case {
  const char* what;
  Frame frame;
  Target want;
  uint16_t gso_size = 0;
  services::ServiceConfig cfg = kCfg;
};

services::ServiceConfig without_dhcp() {
  services::ServiceConfig c = kCfg;
  c.dhcp = false;
  c.dhcpv6 = false;
  return c;
}

std::vector<Case> cases() {
  using T = Target;
  return {
      {"ARP", arp(), T::kArp},
      // TCP
      {"TCP to dns4:53", tcp(kG4, kDns4, 53), T::kDnsStream},
      {"TCP to dns6:53", tcp(kG6, kDns6, 53), T::kDnsStream},
      {"TCP to dns4:80", tcp(kG4, kDns4, 80), T::kTcpFlows},
      {"TCP to dns6:80", tcp(kG6, kDns6, 80), T::kTcpFlows},
      {"TCP to far4:53", tcp(kG4, kFar4, 53), T::kTcpFlows},
      {"TCP to far6:53", tcp(kG6, kFar6, 53), T::kTcpFlows},
      {"TCP to the gateway", tcp(kG4, kGw4, 22), T::kTcpFlows},
      {"TCP from 0.0.0.0", tcp(kAny4, kFar4, 80), T::kNoDataPath},
      {"TCP from ::", tcp(kAny6, kFar6, 80), T::kNoDataPath},
      {"TCP from 0.0.0.0 to dns4:53", tcp(kAny4, kDns4, 53), T::kNoDataPath},
      {"TCP from :: to dns6:53", tcp(kAny6, kDns6, 53), T::kNoDataPath},
      // UDP
      {"UDP to dns4:53", udp(kG4, kDns4, 53), T::kDnsUdp},
      {"UDP to dns6:53", udp(kG6, kDns6, 53), T::kDnsUdp},
      {"UDP from 0.0.0.0 to dns4:53", udp(kAny4, kDns4, 53), T::kDnsUdp},
      {"UDP from :: to dns6:53", udp(kAny6, kDns6, 53), T::kDnsUdp},
      {"UDP to far4:53", udp(kG4, kFar4, 53), T::kUdpFlows},
      {"UDP to far6:53", udp(kG6, kFar6, 53), T::kUdpFlows},
      {"UDP to dns4:5353", udp(kG4, kDns4, 5353), T::kUdpFlows},
      {"UDP to dns6:5353", udp(kG6, kDns6, 5353), T::kUdpFlows},
      {"DHCPv4 discover", udp(kAny4, kBcast4, 67), T::kDhcp4},
      {"DHCPv4 renew", udp(kG4, kGw4, 67), T::kDhcp4},
      {"DHCPv4 off", udp(kG4, kGw4, 67), T::kUdpFlows, 0, without_dhcp()},
      {"DHCPv4 off, from 0.0.0.0", udp(kAny4, kBcast4, 67), T::kNoDataPath, 0, without_dhcp()},
      {"IPv6 UDP to port 67", udp(kG6, kFar6, 67), T::kUdpFlows},
      {"DHCPv6 solicit", udp(kG6, *wire::IpAddr::parse("ff02::1:2"), 547), T::kDhcp6},
      {"DHCPv6 off", udp(kG6, kFar6, 547), T::kUdpFlows, 0, without_dhcp()},
      {"IPv4 UDP to port 547", udp(kG4, kFar4, 547), T::kUdpFlows},
      {"UDP from 0.0.0.0", udp(kAny4, kFar4, 9), T::kNoDataPath},
      {"UDP from ::", udp(kAny6, kFar6, 9), T::kNoDataPath},
      // ICMP
      {"echo to gateway4", echo(kG4, kGw4), T::kLocalEcho},
      {"echo to dns4", echo(kG4, kDns4), T::kLocalEcho},
      {"echo to gateway6", echo(kG6, kGw6), T::kLocalEcho},
      {"echo to dns6", echo(kG6, kDns6), T::kLocalEcho},
      {"echo to the gateway's link-local", echo(kG6, kGwLl6), T::kLocalEcho},
      {"echo reply to gateway4", icmp(kG4, kGw4, wire::icmp4_type::kEchoReply), T::kLocalEcho},
      {"echo to far4", echo(kG4, kFar4), T::kEchoFlows},
      {"echo to far6", echo(kG6, kFar6), T::kEchoFlows},
      {"echo reply to far4", icmp(kG4, kFar4, wire::icmp4_type::kEchoReply), T::kNoDataPath},
      {"echo reply to far6", icmp(kG6, kFar6, wire::icmp6_type::kEchoReply), T::kNoDataPath},
      {"ICMPv4 type 133 to far4", icmp(kG4, kFar4, 133), T::kNoDataPath},
      {"router solicitation", icmp(kG6, kAllRouters6, wire::icmp6_type::kRouterSolicitation),
       T::kNdp},
      {"neighbor solicitation to the gateway", icmp(kG6, kGw6, 135), T::kNdp},
      {"redirect", icmp(kG6, kFar6, wire::icmp6_type::kRedirect), T::kNdp},
      {"ICMPv6 type 138", icmp(kG6, kFar6, 138), T::kNoDataPath},
      {"ICMPv6 type 132", icmp(kG6, kFar6, 132), T::kNoDataPath},
      // Not translated at all
      {"IPv4 fragment", edit4(udp(kG4, kFar4, 9), [](wire::MutBytes ip) {
         wire::store_be16(ip, wire::Ipv4View::kFlagsFragmentOffset,
                          wire::Ipv4View::kFlagMoreFragments);
       }),
       T::kNoDataPath},
      {"IPv4 GRE", edit4(udp(kG4, kFar4, 9), [](wire::MutBytes ip) {
         ip[wire::Ipv4View::kProtocolOffset] = std::byte{47};
       }),
       T::kNoDataPath},
      {"ICMPv6 in IPv4", edit4(echo(kG4, kFar4), [](wire::MutBytes ip) {
         ip[wire::Ipv4View::kProtocolOffset] = std::byte{wire::ipproto::kIcmpv6};
       }),
       T::kNoDataPath},
      {"IPv6 without --enable-ipv6", udp(kG6, kDns6, 53), T::kNoDataPath, 0, [] {
         services::ServiceConfig c = kCfg;
         c.plan.ipv6 = false;
         return c;
       }()},
      // Segmentation offload
      {"USO to dns4:53", udp(kG4, kDns4, 53, 300), T::kDnsUdp, 100},
      {"USO to dns6:53", udp(kG6, kDns6, 53, 300), T::kDnsUdp, 100},
      {"USO to far4", udp(kG4, kFar4, 9, 300), T::kUdpFlows, 100},
      {"USO to far6", udp(kG6, kFar6, 9, 300), T::kUdpFlows, 100},
      {"USO behind an IPv6 extension header",
       testing::udp6_hop_by_hop_frame(kG6, kFar6, 40000, 9, std::string(300, 'q')),
       T::kUdpFlows, 100},
      {"USO to the DHCPv4 port", udp(kG4, kBcast4, 67, 300), T::kDhcp4, 100},
      {"USO to the DHCPv6 port", udp(kG6, kFar6, 547, 300), T::kDhcp6, 100},
      {"TSO to far4", tcp(kG4, kFar4, 80), T::kTcpFlows, 1448},
      {"TSO to far6", tcp(kG6, kFar6, 80), T::kTcpFlows, 1428},
      {"TSO to dns4:53", tcp(kG4, kDns4, 53), T::kDnsStream, 1448},
      {"GSO ARP", arp(), T::kArp, 1448},
      {"GSO echo to gateway4", echo(kG4, kGw4), T::kNoDataPath, 1448},
      {"GSO echo to far6", echo(kG6, kFar6), T::kNoDataPath, 1428},
      {"GSO neighbor solicitation", icmp(kG6, kGw6, 135), T::kNoDataPath, 1428},
  };
}

// The row `c` takes, as the dispatcher classifies and routes it; null if
// its frame does not classify.
const Route* route_of(const Case& c) {
  auto p = wire::classify(c.frame, {.gso_size = c.gso_size, .ipv6 = c.cfg.plan.ipv6});
  if (!p) return nullptr;
  return &route(*p, c.cfg);
}

TEST(Route, EachFrameGetsItsTarget) {
  for (const Case& c : cases()) {
    const Route* r = route_of(c);
    ASSERT_NE(r, nullptr) << c.what;
    EXPECT_STREQ(target_name(r->target), target_name(c.want)) << c.what;
  }
}

// What a segmentation-offload frame does with its row: TCP goes whole to the
// flows, UDP to the DNS service or the flows is cut into its datagrams.
TEST(Route, SegmentationOffloadFramesAreTakenWholeOrSplit) {
  for (const Case& c : cases()) {
    if (c.gso_size == 0 || c.want == Target::kNoDataPath) continue;
    const Route* r = route_of(c);
    ASSERT_NE(r, nullptr) << c.what;
    const bool split = c.want == Target::kDnsUdp || c.want == Target::kUdpFlows;
    EXPECT_EQ(r->gso, split ? Gso::kSplit : Gso::kWhole) << c.what;
  }
}

// The ICMP rows refuse a GSO frame by themselves, not only because
// classify() leaves its ICMP unparsed.
TEST(Route, IcmpRowsTakeNoSegmentationOffloadFrame) {
  for (Frame f : {echo(kG4, kGw4), echo(kG4, kFar4), echo(kG6, kDns6), echo(kG6, kFar6),
                  icmp(kG6, kGw6, 135)}) {
    auto p = wire::classify(f);
    ASSERT_TRUE(p);
    ASSERT_NE(route(*p, kCfg).target, Target::kNoDataPath);
    p->gso_size = 1448;
    EXPECT_EQ(route(*p, kCfg).target, Target::kNoDataPath);
  }
}

TEST(Route, AUsoFrameBehindAnIpv6ExtensionHeaderCannotBeSplit) {
  const Frame f = testing::udp6_hop_by_hop_frame(kG6, kFar6, 40000, 9, std::string(300, 'q'));
  auto p = wire::classify(f, {.gso_size = 100});
  ASSERT_TRUE(p);
  EXPECT_FALSE(wire::udp_gso_splittable(*p));
  const Frame g = udp(kG6, kFar6, 9, 300);  // the packet views it: it must outlive them
  auto plain = wire::classify(g, {.gso_size = 100});
  ASSERT_TRUE(plain);
  EXPECT_TRUE(wire::udp_gso_splittable(*plain));
}

TEST(Route, EveryRowIsSomeCasesAnswer) {
  std::set<const Route*> hit;
  for (const Case& c : cases()) hit.insert(route_of(c));
  for (const Route& r : routes()) {
    EXPECT_TRUE(hit.count(&r) == 1) << "no case for the row to " << target_name(r.target);
  }
}

}  // namespace
}  // namespace tapir::stack
