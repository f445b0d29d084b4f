// Fuzz target: the frame dispatcher's UDP branches (GSO frames included)
// and the UDP flows with their reverse flows from forwarded ports, driven
// through the fake host (tests/support/fake_datagram_host.hpp: no
// kernel). The input is a script of operations:
//
//   op % 8 == 0  a guest frame: u16 length (little-endian), then the frame;
//                op bit 7 set: the vnet header said GSO, u16 gso_size next
//   1            readiness: watch index, poll bits
//   2            the clock moves: byte * 500 ms, then the tick
//   3            the host side: socket index, what (a datagram of some
//                length, one too big for the guest, an ICMP error of each
//                kind, a local error, a socket error)
//   4            failures from now on: bits for open(), connect(), watch()
//   5            a datagram from a forwarded port (reverse flow): family,
//                rule, client port, guest port, length
//   6            a forwarding rule goes away: rule
//   7            a well-formed guest datagram: family, destination index
//                (far, gateway, DNS, loopback, multicast, ...), ports,
//                length; bit 7 of the op: as a GSO frame, segment size byte
//
// Invariants checked: every frame to the guest parses and its UDP or ICMP
// checksum verifies; the flow count never exceeds the cap; every active
// watch is on a socket that is open; no socket is closed twice; when the
// flows go, every socket they opened is closed.
#include <poll.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "flows/udp_flows.hpp"
#include "services/frame.hpp"
#include "stack/dispatch.hpp"
#include "tap/tap_io.hpp"
#include "tests/support/fake_datagram_host.hpp"
#include "tests/support/fake_watcher.hpp"
#include "tests/support/guest_frames.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"

namespace {

using namespace tapir;
using namespace tapir::flows;

constexpr size_t kMaxFlows = 8;

struct Reader {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
};

void check_sent(wire::ConstBytes f, const wire::VirtioNetHdrRepr&) {
  auto eth = wire::EthernetView::parse(f);
  if (!eth) __builtin_trap();
  if (eth->ethertype() == wire::ethertype::kIpv4) {
    auto ip = wire::Ipv4View::parse(eth->payload());
    if (!ip || !ip->header_checksum_ok()) __builtin_trap();
    if (ip->protocol() == wire::ipproto::kUdp) {
      auto udp = wire::UdpView::parse(ip->payload());
      if (!udp || !udp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    } else if (ip->protocol() == wire::ipproto::kIcmp) {
      auto icmp = wire::Icmp4View::parse(ip->payload());
      if (!icmp || !icmp->checksum_ok()) __builtin_trap();
    }
  } else if (eth->ethertype() == wire::ethertype::kIpv6) {
    auto ip = wire::Ipv6View::parse(eth->payload());
    if (!ip) __builtin_trap();
    if (ip->upper_protocol() == wire::ipproto::kUdp) {
      auto udp = wire::UdpView::parse(ip->upper_payload());
      if (!udp || !udp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    } else if (ip->upper_protocol() == wire::ipproto::kIcmpv6) {
      auto icmp = wire::Icmp6View::parse(ip->upper_payload());
      if (!icmp || !icmp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    }
  } else {
    __builtin_trap();  // the flows send nothing else
  }
}

// Destinations a guest aims at: far away, tapir's own, and martians.
wire::IpAddr destination(bool v6, uint8_t i, const wire::AddressPlan& plan) {
  static const char* const k4[] = {"192.0.2.1",   "198.51.100.7",    "127.0.0.1", "0.0.0.0",
                                   "224.0.0.251", "255.255.255.255", "240.0.0.1", "10.0.2.255"};
  static const char* const k6[] = {"2001:db8::1", "2001:db8::2",      "::1",     "::",
                                   "ff02::fb",    "::ffff:127.0.0.1", "fe80::2", "fd00::3"};
  if (i % 10 == 8)
    return v6 ? wire::IpAddr::from(plan.gateway6) : wire::IpAddr::from(plan.gateway4);
  if (i % 10 == 9) return v6 ? wire::IpAddr::from(plan.dns6) : wire::IpAddr::from(plan.dns4);
  return *wire::IpAddr::parse(v6 ? k6[i % 10] : k4[i % 10]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  testing::FakeDatagramHost host;
  auto tx = tap::TxQueue::detached(8, check_sent);
  services::ServiceConfig cfg;
  cfg.plan.ipv6 = true;
  cfg.plan.mtu = 1500;
  MonoTime now{Duration::seconds(1000).ns};
  {
    testing::FakeWatcher watcher;
    UdpFlows udp(NatConfig{cfg.plan, false}, kMaxFlows, host, 0x5eed);
    udp.set_engine(&watcher);
    services::GuestState guest;
    stack::ServiceDispatcher dispatcher(cfg, guest);
    dispatcher.set_udp(&udp);
    std::vector<std::byte> frame;

    Reader in{data, size};
    for (int steps = 0; !in.empty() && steps < 512; ++steps) {
      const uint8_t op = in.u8();
      switch (op % 8) {
        case 0: {
          tap::FrameMeta meta;
          if ((op & 0x80) != 0) meta.gso_size = std::max<uint16_t>(in.u16(), 1);
          const size_t len = std::min<size_t>(in.u16(), in.n);
          frame.assign(reinterpret_cast<const std::byte*>(in.p),
                       reinterpret_cast<const std::byte*>(in.p) + len);
          in.p += len;
          in.n -= len;
          dispatcher.on_frame(frame, meta, now, *tx);
          break;
        }
        case 1: {
          const uint8_t idx = in.u8();
          const uint8_t ev = in.u8();
          if (watcher.watches.empty()) break;
          auto& w = watcher.watches[idx % watcher.watches.size()];
          if (!w.active) break;
          unsigned events = 0;
          if (ev & 1) events |= POLLIN;
          if (ev & 2) events |= POLLERR;
          if (ev & 4) events |= POLLHUP;
          w.client->on_socket(w.cookie, events, now, *tx);
          break;
        }
        case 2:
          now = now + Duration::millis(500 * int64_t{in.u8()});
          dispatcher.on_tick(now, *tx);
          break;
        case 3: {
          const uint8_t idx = in.u8();
          const uint8_t what = in.u8();
          if (host.sockets.empty()) break;
          auto it = host.sockets.begin();
          std::advance(it, idx % host.sockets.size());
          testing::FakeDatagramSocket& s = it->second;
          const bool v6 = s.v6();
          switch (what % 8) {
            case 0: s.rx.emplace_back(size_t{in.u8()} * 6, std::byte{'r'}); break;
            case 1: s.rx.emplace_back(1400 + size_t{in.u8()}, std::byte{'b'}); break;
            case 2:
              testing::FakeDatagramHost::icmp_error(
                  s, v6 ? wire::icmp6_type::kDestUnreachable : wire::icmp4_type::kDestUnreachable,
                  in.u8() % 16);
              break;
            case 3:
              testing::FakeDatagramHost::icmp_error(
                  s, v6 ? wire::icmp6_type::kPacketTooBig : wire::icmp4_type::kDestUnreachable,
                  v6 ? 0 : wire::icmp4_unreach::kFragmentationNeeded, 500u + 4u * in.u8());
              break;
            case 4:
              testing::FakeDatagramHost::icmp_error(
                  s, v6 ? wire::icmp6_type::kTimeExceeded : wire::icmp4_type::kTimeExceeded, 0);
              break;
            case 5: testing::FakeDatagramHost::icmp_error(s, in.u8(), in.u8(), in.u16()); break;
            case 6: testing::FakeDatagramHost::local_error(s); break;
            case 7: s.pending_error = -ECONNREFUSED; break;
          }
          break;
        }
        case 4: {
          const uint8_t bits = in.u8();
          host.open_error = (bits & 1) != 0 ? -EMFILE : 0;
          host.connect_error = (bits & 2) != 0 ? -ENETUNREACH : 0;
          watcher.refuse = (bits & 4) != 0;
          break;
        }
        case 5: {
          const bool v6 = (in.u8() & 1) != 0;
          const uint32_t rule = in.u8() % 4;
          const uint16_t client_port = in.u16();
          const uint16_t guest_port = in.u16();
          const size_t len = std::min<size_t>(in.u8() * 6u, cfg.plan.mtu - 48);
          wire::MutBytes out = tx->acquire();
          if (out.empty()) break;
          UdpFlowKey key;
          key.guest =
              v6 ? wire::IpAddr::from(testing::kGuest6) : wire::IpAddr::from(testing::kGuest4);
          key.guest_port = guest_port;
          key.dst =
              v6 ? wire::IpAddr::from(cfg.plan.gateway6) : wire::IpAddr::from(cfg.plan.gateway4);
          key.dst_port = client_port;
          UdpListenerRef from;
          from.rule = rule;
          from.fd = 10 + static_cast<int>(rule);  // the rule's listener: not the fake's own
          from.client_len = wire::to_sockaddr(*wire::IpAddr::parse(v6 ? "::1" : "127.0.0.1"),
                                              client_port, from.client);
          const size_t off = v6 ? services::kUdp6PayloadOffset : services::kUdp4PayloadOffset;
          std::memset(out.data() + off, 'f', len);
          udp.from_listener(key, testing::kGuestMac, from, out, len, now, *tx);
          break;
        }
        case 6: udp.close_listener(in.u8() % 4); break;
        case 7: {
          const uint8_t fam = in.u8();
          const bool v6 = (fam & 1) != 0;
          const wire::IpAddr dst = destination(v6, static_cast<uint8_t>(fam >> 1), cfg.plan);
          const uint16_t sport = in.u16();
          const uint16_t dport = in.u16();
          const std::string payload(size_t{in.u8()} * 11, 'g');
          const wire::IpAddr src =
              v6 ? wire::IpAddr::from(testing::kGuest6) : wire::IpAddr::from(testing::kGuest4);
          frame = testing::udp_frame(src, dst, sport, dport, payload);
          tap::FrameMeta meta;
          if ((op & 0x80) != 0) meta.gso_size = static_cast<uint16_t>(1 + in.u8());
          dispatcher.on_frame(frame, meta, now, *tx);
          break;
        }
        default: break;
      }
      if (udp.size() > kMaxFlows) __builtin_trap();
      for (const auto& w : watcher.watches) {
        if (!w.active) continue;
        auto s = host.sockets.find(w.fd);
        if (s == host.sockets.end() || s->second.closed) __builtin_trap();
      }
      if (host.double_closes != 0) __builtin_trap();
    }
  }
  // The flows are gone: so is every socket they opened, each closed once.
  if (host.open_sockets() != 0 || host.double_closes != 0) __builtin_trap();
  for (const auto& [fd, s] : host.sockets) {
    if (s.borrowed && s.closed) __builtin_trap();  // a listener is the forwarder's to close
    (void)fd;
  }
  return 0;
}
