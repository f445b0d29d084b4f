// Fuzz target: a whole Ethernet frame from the guest through every
// responder the engine would hand it to, with state carried across inputs
// (so lease tables and learned addresses fill up). A reply must fit the
// buffer and parse back as a frame.
#include <array>
#include <cstdint>

#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"
#include "services/arp.hpp"
#include "services/dhcp4.hpp"
#include "services/dhcp6.hpp"
#include "services/icmp_echo.hpp"
#include "services/ndp.hpp"

namespace {

using namespace tapir;
using namespace tapir::wire;
using namespace tapir::services;

void check(const ServiceResult& r, ConstBytes out) {
  if (!r || *r == 0) return;
  if (*r > out.size()) __builtin_trap();
  if (!EthernetView::parse(out.first(*r))) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ServiceConfig cfg = [] {
    ServiceConfig c;
    c.plan.ipv6 = true;
    c.plan.search = {"tapir.test", "example.com"};
    c.hostname = "guest";
    return c;
  }();
  static GuestState state;
  static int64_t tick = 0;
  const MonoTime now{Duration::seconds(++tick).ns};
  std::array<std::byte, kReplyBufferLen> out{};

  auto eth = EthernetView::parse(as_bytes({data, size}));
  if (!eth) return 0;
  if (eth->ethertype() == ethertype::kArp) {
    if (auto arp = ArpView::parse(eth->payload())) {
      check(arp_reply(*eth, *arp, cfg, state, now, out), out);
    }
  } else if (eth->ethertype() == ethertype::kIpv4) {
    auto ip = Ipv4View::parse(eth->payload());
    if (!ip) return 0;
    if (ip->protocol() == ipproto::kUdp) {
      if (auto udp = UdpView::parse(ip->payload())) {
        check(dhcp4_reply(*eth, *ip, *udp, cfg, state, now, out), out);
      }
    } else if (ip->protocol() == ipproto::kIcmp) {
      if (auto icmp = Icmp4View::parse(ip->payload())) {
        check(icmp4_echo_reply(*eth, *ip, *icmp, cfg, out), out);
      }
    }
  } else if (eth->ethertype() == ethertype::kIpv6) {
    auto ip = Ipv6View::parse(eth->payload());
    if (!ip) return 0;
    if (ip->upper_protocol() == ipproto::kUdp) {
      if (auto udp = UdpView::parse(ip->upper_payload())) {
        check(dhcp6_reply(*eth, *ip, *udp, cfg, state, now, out), out);
      }
    } else if (ip->upper_protocol() == ipproto::kIcmpv6) {
      if (auto icmp = Icmp6View::parse(ip->upper_payload())) {
        check(ndp_reply(*eth, *ip, *icmp, cfg, state, now, out), out);
        check(icmp6_echo_reply(*eth, *ip, *icmp, cfg, out), out);
      }
    }
  }
  return 0;
}
