// Fuzz target: the port forwarder's rule table (flows/port_forward) with
// real listening sockets: sequences of add / remove / list, TCP clients
// connecting to forwarded ports (accepted and handed on, refused, or held
// while the guest's MAC is unknown), UDP datagrams to them, and time
// passing. The parsers in front of it (-p, the control API) have their own
// targets (cli_fuzz, api_fuzz); this one is about the table behind them.
//
// The sockets are real, so the target first moves into a network namespace
// of its own (a user namespace makes that unprivileged): its loopback is
// private, so the ports it binds can neither collide with nor reach
// anything else on the machine. Without user namespaces it says so once
// and checks only the rules that need no socket.
//
// Checks, against a model of the table:
//   * ids go up from 1 and are never reused; remove() is true exactly for
//     a listed id; list() is the model, in id order, with each rule as added
//     and the guest address resolved as the header says;
//   * add() fails with kBadRule exactly for a bad rule, with kBind
//     (EADDRNOTAVAIL) for an address that is not local, (EADDRINUSE)
//     exactly when a listed rule of the same protocol holds the port on the
//     same address or a wildcard of its family, and succeeds otherwise — so
//     a removed rule's port is free at once;
//   * a TCP client reaches a listed rule and is refused by a removed one; a
//     connection handed to the TCP translation carries a rule's guest
//     address and port and the gateway as its source (the client is on
//     loopback); the ARP request sent while the guest's MAC is unknown asks
//     for the guest's address;
//   * every fd is closed once the forwarder is gone.
//
// Input: events, each an opcode byte and its operands:
//   0 a b c        add: a = proto (bit 0), host address (bits 1-3), port
//                  (bits 4-5; 3 means 0); b = guest address (bits 0-1: the
//                  guest's, fixed IPv4, fixed IPv6), guest_v6 (bit 2), guest
//                  port 0 (bit 3)
//   1 k            remove the k-th listed rule (k >= 0x80: an unlisted id)
//   2              list
//   3 a            TCP connect to host address/port as in add's `a`
//   4 a            UDP datagram to host address/port as in add's `a`
//   5              serve ready sockets
//   6 f            guest's MAC known (bit 0), TCP translation takes
//                  connections (bit 1), TCP translation present (bit 2)
//   7 n            time passes: n x 100 ms, the timer's turn
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "flows/port_forward.hpp"
#include "tap/tap_io.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/proto.hpp"
#include "tests/support/fake_watcher.hpp"

namespace {

using namespace tapir;
using flows::FwdProto;
using wire::IpAddr;

// Names the line of a failed check, then crashes for libFuzzer.
void check(bool ok, int line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
  __builtin_trap();
}

bool own_namespace() {
  static const bool ok = [] {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
      std::fprintf(stderr,
                   "port_forward_fuzz: no user namespace (%s): socket paths not exercised\n",
                   strerror(errno));
      return false;
    }
    // Loopback starts down in a new namespace.
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    bool up = s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    up = up && ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    if (s >= 0) ::close(s);
    if (!up)
      std::fprintf(stderr, "port_forward_fuzz: cannot bring lo up: socket paths not exercised\n");
    return up;
  }();
  return ok;
}

// Host addresses: wildcards, loopback, and one that is not local.
IpAddr host_addr(uint8_t a) {
  switch ((a >> 1) & 7) {
    case 0: return IpAddr::from(wire::Ipv4Addr{});
    case 1: return IpAddr::from(wire::Ipv4Addr::from_octets(127, 0, 0, 1));
    case 2: return IpAddr::from(wire::Ipv4Addr::from_octets(127, 0, 0, 2));
    case 3: return IpAddr::from(wire::Ipv6Addr{});
    case 4: return *IpAddr::parse("::1");
    case 5: return IpAddr::from(wire::Ipv4Addr::from_octets(192, 0, 2, 1));  // not local
    default: return IpAddr::from(wire::Ipv4Addr::from_octets(127, 0, 0, 1));
  }
}
uint16_t host_port(uint8_t a) {
  const int p = (a >> 4) & 3;
  return p == 3 ? 0 : static_cast<uint16_t>(20000 + p);
}
bool is_wildcard(const IpAddr& a) {
  for (uint8_t b : a.bytes) {
    if (b != 0) return false;
  }
  return true;
}
bool is_local(const IpAddr& a) {
  if (a.v6) return is_wildcard(a) || a == *IpAddr::parse("::1");
  return is_wildcard(a) || a.bytes[0] == 127;
}
// Linux's bind conflict for two listening sockets of one protocol: the same
// port, the same family (IPv6 sockets are V6ONLY), and the same address or
// a wildcard on either side.
bool conflicts(const flows::ForwardRule& x, const flows::ForwardRule& y) {
  return x.proto == y.proto && x.host_port == y.host_port && x.host_addr.v6 == y.host_addr.v6 &&
         (x.host_addr == y.host_addr || is_wildcard(x.host_addr) || is_wildcard(y.host_addr));
}
// Which listed rule a client to addr:port reaches, if any.
const flows::ForwardRule* reached(const std::map<uint32_t, flows::ForwardRule>& model,
                                  FwdProto proto, const IpAddr& addr, uint16_t port) {
  for (const auto& [id, r] : model) {
    if (r.proto == proto && r.host_port == port && r.host_addr.v6 == addr.v6 &&
        (r.host_addr == addr || is_wildcard(r.host_addr))) {
      return &r;
    }
  }
  return nullptr;
}

sockaddr_storage to_sockaddr(const IpAddr& a, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  if (a.v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  }
  return ss;
}

constexpr size_t kWatchSlots = 12;

struct Sink final : flows::ForwardSink {
  bool take = true;
  std::vector<Fd> conns;
  std::vector<flows::ForwardTarget> targets;
  bool forward_tcp(Fd conn, const flows::ForwardTarget& t, MonoTime, loop::FrameSink&) override {
    targets.push_back(t);
    if (!take) return false;
    conns.push_back(std::move(conn));
    return true;
  }
};

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)own_namespace();  // before libFuzzer starts its threads: unshare needs a single thread
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const bool sockets = own_namespace();
  const int fd_mark = ::dup(0);
  ::close(fd_mark);
  Input in{data, size};

  const auto plan = wire::AddressPlan::nat({wire::Ipv4Addr::from_octets(10, 0, 2, 0), 24},
                                           *wire::Ipv6Prefix::parse("fd00::/64"), (size & 1) == 0);
  const wire::MacAddr guest_mac{{0x52, 0x54, 0, 0xab, 0xcd, 0xef}};
  bool mac_known = false;
  std::vector<int> clients;
  std::map<uint32_t, flows::ForwardRule> model;
  std::vector<flows::ForwardRule> ever;  // every rule added: held connections outlive removal
  {
    Sink sink;
    std::vector<wire::Ipv4Addr> asked;
    auto tx = tap::TxQueue::detached(2, [&](wire::ConstBytes frame, const wire::VirtioNetHdrRepr&) {
      // The only frames: ARP requests for the guest's address.
      auto eth = wire::EthernetView::parse(frame);
      check(eth.has_value() && eth->ethertype() == wire::ethertype::kArp &&
            eth->source() == plan.gateway_mac);
      auto arp = wire::ArpView::parse(eth->payload());
      check(arp.has_value() && arp->operation() == wire::arp_op::kRequest);
      asked.push_back(arp->target_ip());
    });
    testing::FakeWatcher watcher;
    watcher.max_slots = kWatchSlots;
    watcher.strict = true;
    flows::PortForwarder fwd(plan, [&] {
      flows::GuestInfo g;
      if (mac_known) g.mac = guest_mac;
      return g;
    });
    fwd.set_engine(&watcher);
    fwd.set_tcp(&sink);
    uint32_t last_id = 0;
    MonoTime now = mono_now();

    auto expected_guest = [&](const flows::ForwardRule& r) {
      return r.guest_addr ? *r.guest_addr : fwd.guest_address(r.guest_v6);
    };
    auto serve = [&] {
      for (int round = 0; round < 4; ++round) {
        bool any = false;
        for (size_t i = 0; i < watcher.watches.size(); ++i) {
          const testing::FakeWatcher::Watch e = watcher.watches[i];
          if (!e.active || e.cookie == 0) continue;  // the timer: time is the script's
          pollfd p{e.fd, static_cast<short>(e.events), 0};
          if (::poll(&p, 1, 0) != 1 || p.revents == 0) continue;
          any = true;
          fwd.on_socket(e.cookie, static_cast<unsigned>(p.revents), now, *tx);
        }
        if (!any) break;
      }
    };

    for (int steps = 0; in.n > 0 && steps < 48; ++steps) {
      const uint8_t op = in.u8() % 8;
      switch (op) {
        case 0: {
          const uint8_t a = in.u8(), b = in.u8();
          flows::ForwardRule r;
          r.proto = (a & 1) != 0 ? FwdProto::kUdp : FwdProto::kTcp;
          r.host_addr = host_addr(a);
          r.host_port = host_port(a);
          r.guest_v6 = (b & 4) != 0;
          if ((b & 3) == 1) r.guest_addr = IpAddr::from(wire::Ipv4Addr::from_octets(10, 0, 2, 50));
          if ((b & 3) == 2) r.guest_addr = *IpAddr::parse("fd00::50");
          r.guest_port = (b & 8) != 0 ? 0 : static_cast<uint16_t>(8000 + (b >> 4));
          const bool bad = r.host_port == 0 || r.guest_port == 0 ||
                           (r.guest_addr && r.guest_addr->v6 != r.guest_v6) ||
                           (r.guest_v6 && !plan.ipv6);
          bool conflict = false;
          for (const auto& [id, m] : model) conflict = conflict || conflicts(m, r);
          if (!sockets && !bad) break;  // it would bind in the machine's own namespace
          auto got = fwd.add(r);
          if (bad) {
            check(!got && got.error().error == flows::ForwardError::kBadRule);
          } else if (!is_local(r.host_addr)) {
            // Checked before the port (inet_bind).
            check(!got && got.error().error == flows::ForwardError::kBind &&
                  got.error().errno_value == EADDRNOTAVAIL);
          } else if (conflict) {
            check(!got && got.error().error == flows::ForwardError::kBind &&
                  got.error().errno_value == EADDRINUSE);
          } else if (!got) {
            // Only the watcher's slots may run out.
            check(got.error().error == flows::ForwardError::kTableFull &&
                  fwd.size() + 1 >= kWatchSlots);
          } else {
            check(*got > last_id);
            last_id = *got;
            model.emplace(*got, r);
            ever.push_back(r);
          }
          check(fwd.size() == model.size());
          break;
        }
        case 1: {
          const uint8_t k = in.u8();
          if (k >= 0x80 || model.empty()) {
            const uint32_t id = k >= 0xc0 ? last_id + 1 + (k & 3) : 0;
            check(!fwd.remove(id));
            break;
          }
          auto it = model.begin();
          std::advance(it, k % model.size());
          check(fwd.remove(it->first));
          check(!fwd.remove(it->first));
          model.erase(it);
          check(fwd.size() == model.size());
          break;
        }
        case 2: {
          const auto list = fwd.list();
          check(list.size() == model.size());
          auto it = model.begin();
          for (const auto& e : list) {
            check(e.id == it->first);
            const flows::ForwardRule& r = it->second;
            check(e.rule.proto == r.proto && e.rule.host_addr == r.host_addr &&
                  e.rule.host_port == r.host_port && e.rule.guest_addr == r.guest_addr &&
                  e.rule.guest_v6 == r.guest_v6 && e.rule.guest_port == r.guest_port);
            check(e.guest_addr == expected_guest(r) && e.guest_addr.v6 == r.guest_v6);
            ++it;
          }
          break;
        }
        case 3:
        case 4: {
          const bool udp = op == 4;
          const uint8_t a = in.u8();
          if (!sockets) break;
          IpAddr to = host_addr(a);
          if (is_wildcard(to) || !is_local(to))
            to = to.v6 ? *IpAddr::parse("::1") : *IpAddr::parse("127.0.0.1");
          const uint16_t port = host_port(a) == 0 ? 20000 : host_port(a);
          socklen_t len = 0;
          const sockaddr_storage ss = to_sockaddr(to, port, len);
          const int c = ::socket(to.v6 ? AF_INET6 : AF_INET,
                                 (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
          check(c >= 0);
          if (udp) {
            const char d[] = "datagram";
            (void)::sendto(c, d, sizeof d, 0, reinterpret_cast<const sockaddr*>(&ss), len);
            ::close(c);
            break;
          }
          // Loopback: a listening socket takes it at once, none refuses it.
          const bool ok = ::connect(c, reinterpret_cast<const sockaddr*>(&ss), len) == 0;
          check(ok == (reached(model, FwdProto::kTcp, to, port) != nullptr));
          if (ok && clients.size() < 16) {
            clients.push_back(c);
          } else {
            ::close(c);
          }
          break;
        }
        case 5: serve(); break;
        case 6: {
          const uint8_t f = in.u8();
          mac_known = (f & 1) != 0;
          sink.take = (f & 2) != 0;
          fwd.set_tcp((f & 4) != 0 ? &sink : nullptr);
          break;
        }
        case 7:
          now = now + Duration::millis(100 * int64_t{in.u8()});
          fwd.on_socket(0, POLLIN, now, *tx);
          break;
      }
    }
    serve();
    // Every connection handed on went to one of the rules' guest ends, from
    // the gateway (its client was on loopback).
    for (const flows::ForwardTarget& t : sink.targets) {
      const IpAddr gw = t.v6() ? IpAddr::from(plan.gateway6) : IpAddr::from(plan.gateway4);
      check(t.peer == gw && t.peer_port != 0);
      // The guest's own address, with or without its MAC known at the time.
      const IpAddr eui64 = IpAddr::from(flows::eui64_address(plan.net6, guest_mac));
      const IpAddr guest_default = t.v6() ? (t.guest == eui64 ? t.guest : IpAddr::from(plan.net6.host(100)))
                                          : IpAddr::from(plan.guest4);
      bool found = false;
      for (const flows::ForwardRule& r : ever) {
        found = found ||
                (r.proto == FwdProto::kTcp && r.guest_v6 == t.v6() && r.guest_port == t.guest_port &&
                 (r.guest_addr ? *r.guest_addr : guest_default) == t.guest);
      }
      check(found);
    }
    for (const wire::Ipv4Addr a : asked) {
      bool found = a == plan.guest4;
      for (const flows::ForwardRule& r : ever)
        found = found || (r.guest_addr && !r.guest_v6 && r.guest_addr->as_v4() == a);
      check(found);
    }
  }
  for (int c : clients) ::close(c);
  const int after = ::dup(0);
  ::close(after);
  check(after == fd_mark);
  return 0;
}
