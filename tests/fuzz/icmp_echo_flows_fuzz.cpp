// Fuzz target: the frame dispatcher's echo branches and ICMP echo flows
// through ping sockets, driven through the fake host
// (tests/support/fake_datagram_host.hpp: no kernel; its ping sockets put
// their own identifier on the wire, as Linux's do). The input is a script:
//
//   op % 8 == 0  a guest frame: u16 length (little-endian), then the frame
//   1            readiness: watch index
//   2            the clock moves: byte * 500 ms, then the tick
//   3            the host side: socket index, what (the peer's echo reply
//                to the last request, raw bytes of some length, a runt,
//                one too big, an ICMP error, a socket error)
//   4            failures from now on: bits for open() (EACCES, EPERM,
//                EMFILE), connect(), watch()
//   5..7         a well-formed echo request: family, destination index
//                (far, gateway, DNS, loopback, multicast, ...),
//                identifier, sequence, data length
//
// Invariants checked: every frame to the guest parses and its ICMP
// checksum verifies; an echo reply carries an identifier the guest used,
// never the socket's; the flow count never exceeds the cap; every active
// watch is on an open socket; no socket is closed twice; when the flows
// go, every socket they opened is closed.
#include <poll.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "flows/icmp_echo_flows.hpp"
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

std::set<uint16_t> g_ids;  // identifiers the guest used

void note_identifier(wire::ConstBytes f) {
  auto eth = wire::EthernetView::parse(f);
  if (!eth) return;
  if (auto ip4 = wire::Ipv4View::parse(eth->payload())) {
    if (auto m = wire::Icmp4View::parse(ip4->payload())) g_ids.insert(m->identifier());
  }
  if (auto ip6 = wire::Ipv6View::parse(eth->payload())) {
    if (auto m = wire::Icmp6View::parse(ip6->upper_payload())) g_ids.insert(m->identifier());
  }
}

void check_sent(wire::ConstBytes f, const wire::VirtioNetHdrRepr&) {
  auto eth = wire::EthernetView::parse(f);
  if (!eth) __builtin_trap();
  if (eth->ethertype() == wire::ethertype::kIpv4) {
    auto ip = wire::Ipv4View::parse(eth->payload());
    if (!ip || !ip->header_checksum_ok() || ip->protocol() != wire::ipproto::kIcmp)
      __builtin_trap();
    auto icmp = wire::Icmp4View::parse(ip->payload());
    if (!icmp || !icmp->checksum_ok()) __builtin_trap();
    if (icmp->type() == wire::icmp4_type::kEchoReply && g_ids.count(icmp->identifier()) == 0)
      __builtin_trap();
  } else if (eth->ethertype() == wire::ethertype::kIpv6) {
    auto ip = wire::Ipv6View::parse(eth->payload());
    if (!ip || ip->upper_protocol() != wire::ipproto::kIcmpv6) __builtin_trap();
    auto icmp = wire::Icmp6View::parse(ip->upper_payload());
    if (!icmp || !icmp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    if (icmp->type() == wire::icmp6_type::kEchoReply && g_ids.count(icmp->identifier()) == 0)
      __builtin_trap();
  } else {
    __builtin_trap();
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
  MonoTime now{Duration::seconds(1000).ns};
  g_ids.clear();
  {
    testing::FakeWatcher watcher;
    IcmpEchoFlows echo(NatConfig{cfg.plan, false}, kMaxFlows, host, 0x5eed);
    echo.set_engine(&watcher);
    services::GuestState guest;
    stack::ServiceDispatcher dispatcher(cfg, guest);
    dispatcher.set_echo(&echo);
    std::vector<std::byte> frame;

    Reader in{data, size};
    for (int steps = 0; !in.empty() && steps < 512; ++steps) {
      const uint8_t op = in.u8();
      switch (op % 8) {
        case 0: {
          tap::FrameMeta meta;
          const size_t len = std::min<size_t>(in.u16(), in.n);
          frame.assign(reinterpret_cast<const std::byte*>(in.p),
                       reinterpret_cast<const std::byte*>(in.p) + len);
          in.p += len;
          in.n -= len;
          // What the guest may echo back: the identifiers in its requests.
          note_identifier(frame);
          dispatcher.on_frame(frame, meta, now, *tx);
          break;
        }
        case 1: {
          const uint8_t idx = in.u8();
          if (watcher.watches.empty()) break;
          auto& w = watcher.watches[idx % watcher.watches.size()];
          if (!w.active) break;
          w.client->on_socket(w.cookie, POLLIN, now, *tx);
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
          switch (what % 6) {
            case 0: (void)testing::FakeDatagramHost::echo_reply(s); break;
            case 1: s.rx.emplace_back(size_t{in.u8()}, std::byte{0}); break;
            case 2: s.rx.emplace_back(size_t{in.u8()} % 8, std::byte{0}); break;
            case 3: s.rx.emplace_back(1400 + size_t{in.u8()}, std::byte{0}); break;
            case 4: testing::FakeDatagramHost::icmp_error(s, in.u8(), in.u8()); break;
            case 5: s.pending_error = -EHOSTUNREACH; break;
          }
          break;
        }
        case 4: {
          const uint8_t bits = in.u8();
          static const int kOpen[] = {0, -EACCES, -EPERM, -EMFILE};
          host.open_error = kOpen[bits & 3];
          host.connect_error = (bits & 4) != 0 ? -ENETUNREACH : 0;
          watcher.refuse = (bits & 8) != 0;
          break;
        }
        default: {
          const uint8_t fam = in.u8();
          const bool v6 = (fam & 1) != 0;
          const wire::IpAddr dst = destination(v6, static_cast<uint8_t>(fam >> 1), cfg.plan);
          const uint16_t id = in.u16();
          const uint16_t seq = in.u16();
          const std::string body(size_t{in.u8()} * 5, 'p');
          const wire::IpAddr src =
              v6 ? wire::IpAddr::from(testing::kGuest6) : wire::IpAddr::from(testing::kGuest4);
          g_ids.insert(id);
          frame = testing::echo_frame(src, dst, id, seq, body);
          tap::FrameMeta meta;
          dispatcher.on_frame(frame, meta, now, *tx);
          break;
        }
      }
      if (echo.size() > kMaxFlows) __builtin_trap();
      for (const auto& w : watcher.watches) {
        if (!w.active) continue;
        auto s = host.sockets.find(w.fd);
        if (s == host.sockets.end() || s->second.closed) __builtin_trap();
      }
      if (host.double_closes != 0) __builtin_trap();
    }
  }
  if (host.open_sockets() != 0 || host.double_closes != 0) __builtin_trap();
  return 0;
}
