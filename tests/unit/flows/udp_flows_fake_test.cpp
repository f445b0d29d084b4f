// UDP flows through the fake host (tests/support/fake_datagram_host.hpp):
// no kernel socket. What goes to the host, what comes back to the guest,
// ICMP errors, the table's cap and expiry, reverse flows, and the split of
// UDP segmentation offload frames.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <vector>

#include "flows/udp_flows.hpp"
#include "services/frame.hpp"
#include "tap/tap_io.hpp"
#include "tests/support/fake_datagram_host.hpp"
#include "tests/support/fake_watcher.hpp"
#include "tests/support/guest_frames.hpp"
#include "wire/guest_packet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/udp_gso.hpp"

namespace tapir::flows {
namespace {

using testing::FakeDatagramHost;
using testing::FakeDatagramSocket;
using Frame = std::vector<std::byte>;

const wire::IpAddr kG4 = wire::IpAddr::from(testing::kGuest4);
const wire::IpAddr kG6 = wire::IpAddr::from(testing::kGuest6);
const wire::IpAddr kFar4 = wire::IpAddr::from(wire::Ipv4Addr::from_octets(192, 0, 2, 1));
const wire::IpAddr kFar6 = *wire::IpAddr::parse("2001:db8::1");

std::string text(wire::ConstBytes b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}
wire::ConstBytes bytes(const std::string& s) {
  return wire::ConstBytes(reinterpret_cast<const std::byte*>(s.data()), s.size());
}

struct Rig {
  FakeDatagramHost host;
  testing::FakeWatcher watcher;
  NatConfig nat;
  UdpFlows flows;
  std::vector<Frame> out;  // frames to the guest
  std::unique_ptr<tap::TxQueue> tx;
  MonoTime now{Duration::seconds(1000).ns};

  explicit Rig(size_t cap = 16, bool disable_host_loopback = false)
      : nat(make_nat(disable_host_loopback)), flows(nat, cap, host, 0x5eed) {
    flows.set_engine(&watcher);
    tx = tap::TxQueue::detached(8, [this](wire::ConstBytes f, const wire::VirtioNetHdrRepr&) {
      out.emplace_back(f.begin(), f.end());
    });
  }
  static NatConfig make_nat(bool dhl) {
    NatConfig n;
    n.plan.ipv6 = true;
    n.disable_host_loopback = dhl;
    return n;
  }
  void guest(const Frame& f) {
    auto p = wire::classify(f);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->transport, wire::Transport::kUdp);
    flows.on_guest(*p, now, *tx);
  }
  // Readiness of fd's watch; false if it has none.
  bool ready(int fd, unsigned events = POLLIN) {
    testing::FakeWatcher::Watch* w = watcher.find(fd);
    if (w == nullptr) return false;
    w->client->on_socket(w->cookie, events, now, *tx);
    return true;
  }
};

// The UDP datagram in a frame to the guest: {source, payload}, checksums verified.
struct Seen {
  wire::IpAddr src, dst;
  uint16_t sport = 0, dport = 0;
  std::string payload;
};
Seen udp_to_guest(const Frame& f) {
  Seen s;
  auto eth = wire::EthernetView::parse(f);
  EXPECT_TRUE(eth);
  if (!eth) return s;
  EXPECT_EQ(eth->destination(), testing::kGuestMac);
  if (eth->ethertype() == wire::ethertype::kIpv6) {
    auto ip = wire::Ipv6View::parse(eth->payload());
    EXPECT_TRUE(ip);
    auto udp = wire::UdpView::parse(ip->upper_payload());
    EXPECT_TRUE(udp);
    EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
    s = {wire::IpAddr::from(ip->source()), wire::IpAddr::from(ip->destination()),
         udp->source_port(), udp->destination_port(), text(udp->payload())};
  } else {
    auto ip = wire::Ipv4View::parse(eth->payload());
    EXPECT_TRUE(ip);
    EXPECT_TRUE(ip->header_checksum_ok());
    auto udp = wire::UdpView::parse(ip->payload());
    EXPECT_TRUE(udp);
    EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
    s = {wire::IpAddr::from(ip->source()), wire::IpAddr::from(ip->destination()),
         udp->source_port(), udp->destination_port(), text(udp->payload())};
  }
  return s;
}

class UdpFakeFamilies : public ::testing::TestWithParam<bool> {};

TEST_P(UdpFakeFamilies, DatagramGoesToAConnectedSocketAndTheReplyComesBackFromTheDestination) {
  const bool v6 = GetParam();
  const wire::IpAddr g = v6 ? kG6 : kG4, far = v6 ? kFar6 : kFar4;
  Rig r;
  r.guest(testing::udp_frame(g, far, 40000, 7000, "hello"));
  ASSERT_EQ(r.host.sockets.size(), 1u);
  FakeDatagramSocket& s = r.host.last();
  EXPECT_EQ(s.family, v6 ? AF_INET6 : AF_INET);
  ASSERT_TRUE(s.connected);
  auto peer = wire::from_sockaddr(s.peer);
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->addr, far);
  EXPECT_EQ(peer->port, 7000);
  ASSERT_EQ(s.sent.size(), 1u);
  EXPECT_EQ(text(s.sent[0]), "hello");
  // The same 5-tuple: the same socket.
  r.guest(testing::udp_frame(g, far, 40000, 7000, "again"));
  EXPECT_EQ(r.host.sockets.size(), 1u);
  EXPECT_EQ(s.sent.size(), 2u);
  EXPECT_EQ(r.flows.stats().to_host, 2u);

  FakeDatagramHost::deliver(s, bytes("world"));
  ASSERT_TRUE(r.ready(r.host.next_fd - 1));
  ASSERT_EQ(r.out.size(), 1u);
  const Seen seen = udp_to_guest(r.out[0]);
  EXPECT_EQ(seen.src, far);
  EXPECT_EQ(seen.dst, g);
  EXPECT_EQ(seen.sport, 7000);
  EXPECT_EQ(seen.dport, 40000);
  EXPECT_EQ(seen.payload, "world");
  EXPECT_EQ(r.flows.stats().to_guest, 1u);
  EXPECT_EQ(r.flows.stats().created, 1u);
}

TEST_P(UdpFakeFamilies, TheGatewayMapsToHostLoopback) {
  const bool v6 = GetParam();
  Rig r;
  const wire::IpAddr gw =
      v6 ? wire::IpAddr::from(r.nat.plan.gateway6) : wire::IpAddr::from(r.nat.plan.gateway4);
  r.guest(testing::udp_frame(v6 ? kG6 : kG4, gw, 40000, 9, "x"));
  ASSERT_EQ(r.host.sockets.size(), 1u);
  auto peer = wire::from_sockaddr(r.host.last().peer);
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->addr, v6 ? *wire::IpAddr::parse("::1") : *wire::IpAddr::parse("127.0.0.1"));
}

TEST_P(UdpFakeFamilies, PortUnreachableReachesTheGuestAsIcmpAndTheNextSendIsRefused) {
  const bool v6 = GetParam();
  const wire::IpAddr g = v6 ? kG6 : kG4, far = v6 ? kFar6 : kFar4;
  Rig r;
  r.guest(testing::udp_frame(g, far, 40000, 7000, "a"));
  FakeDatagramSocket& s = r.host.last();
  const int fd = r.host.next_fd - 1;
  FakeDatagramHost::icmp_error(
      s, v6 ? wire::icmp6_type::kDestUnreachable : wire::icmp4_type::kDestUnreachable,
      v6 ? wire::icmp6_unreach::kPort : wire::icmp4_unreach::kPort);
  // Without POLLERR seen yet, the guest's next datagram meets the socket error.
  r.guest(testing::udp_frame(g, far, 40000, 7000, "b"));
  EXPECT_EQ(r.flows.stats().refused, 1u);
  EXPECT_EQ(s.sent.size(), 1u);
  ASSERT_TRUE(r.ready(fd, POLLERR));
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.flows.stats().icmp_errors, 1u);
  auto eth = wire::EthernetView::parse(r.out[0]);
  ASSERT_TRUE(eth);
  if (v6) {
    auto ip = wire::Ipv6View::parse(eth->payload());
    ASSERT_TRUE(ip);
    auto icmp = wire::Icmp6View::parse(ip->upper_payload());
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), wire::icmp6_type::kDestUnreachable);
    EXPECT_EQ(icmp->code(), wire::icmp6_unreach::kPort);
    EXPECT_EQ(ip->destination(), testing::kGuest6);
  } else {
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    auto icmp = wire::Icmp4View::parse(ip->payload());
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), wire::icmp4_type::kDestUnreachable);
    EXPECT_EQ(icmp->code(), wire::icmp4_unreach::kPort);
    EXPECT_TRUE(icmp->checksum_ok());
    EXPECT_EQ(ip->destination(), testing::kGuest4);
    // The quoted datagram is the guest's: its ports, from its address.
    auto quoted = wire::Ipv4View::parse(icmp->bytes().subspan(8));
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->source(), testing::kGuest4);
    EXPECT_EQ(quoted->destination(), far.as_v4());
    EXPECT_EQ(wire::load_be16(quoted->payload(), 0), 40000);
    EXPECT_EQ(wire::load_be16(quoted->payload(), 2), 7000);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, UdpFakeFamilies, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? "v6" : "v4"; });

TEST(UdpFake, LocalErrorsOnTheQueueAreNotPassedOn) {
  Rig r;
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "a"));
  FakeDatagramHost::local_error(r.host.last());
  ASSERT_TRUE(r.ready(r.host.next_fd - 1, POLLERR));
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.flows.stats().icmp_errors, 0u);
}

TEST(UdpFake, AReplyTooBigForTheGuestsMtuIsDroppedAndCounted) {
  Rig r;
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "a"));
  FakeDatagramSocket& s = r.host.last();
  FakeDatagramHost::deliver(s, bytes(std::string(1473, 'x')));  // 1500 - 20 - 8 + 1
  FakeDatagramHost::deliver(s, bytes(std::string(1472, 'y')));
  ASSERT_TRUE(r.ready(r.host.next_fd - 1));
  EXPECT_EQ(r.flows.stats().too_big, 1u);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(udp_to_guest(r.out[0]).payload, std::string(1472, 'y'));
}

TEST(UdpFake, AtTheCapNewFlowsAreRefusedAndCounted) {
  Rig r(1);
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "a"));
  r.guest(testing::udp_frame(kG4, kFar4, 40001, 7000, "b"));
  EXPECT_EQ(r.host.sockets.size(), 1u);
  EXPECT_EQ(r.flows.stats().table_full, 1u);
  EXPECT_EQ(r.flows.size(), 1u);
  EXPECT_EQ(r.flows.max_flows(), 1u);
}

TEST(UdpFake, SocketFailuresAreCountedAndLeaveNothingOpen) {
  Rig r;
  r.host.open_error = -EMFILE;
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "a"));
  EXPECT_EQ(r.flows.stats().socket_errors, 1u);
  r.host.open_error = 0;
  r.host.connect_error = -ENETUNREACH;
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "a"));
  EXPECT_EQ(r.flows.stats().socket_errors, 2u);
  r.host.connect_error = 0;
  r.watcher.refuse = true;
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "a"));
  EXPECT_EQ(r.flows.stats().socket_errors, 3u);
  EXPECT_EQ(r.flows.size(), 0u);
  EXPECT_EQ(r.host.open_sockets(), 0u);
  EXPECT_EQ(r.host.double_closes, 0);
  EXPECT_EQ(r.flows.stats().to_host, 0u);
}

TEST(UdpFake, MartiansAndHostLoopbackNeverOpenASocket) {
  Rig r(16, /*disable_host_loopback=*/true);
  r.guest(testing::udp_frame(kG4, wire::IpAddr::from(r.nat.plan.gateway4), 40000, 53, "a"));
  EXPECT_EQ(r.flows.stats().unreachable, 1u);
  r.guest(testing::udp_frame(kG4, *wire::IpAddr::parse("127.0.0.1"), 40000, 53, "a"));
  r.guest(testing::udp_frame(kG6, *wire::IpAddr::parse("::1"), 40000, 53, "a"));
  r.guest(testing::udp_frame(kG4, *wire::IpAddr::parse("224.0.0.251"), 5353, 5353, "a"));
  EXPECT_EQ(r.flows.stats().martians.total(), 3u);
  EXPECT_TRUE(r.host.sockets.empty());
  // Net unreachable, two prohibited; nothing for multicast.
  ASSERT_EQ(r.out.size(), 3u);
}

TEST(UdpFake, IdleFlowsExpireAndAStaleCookieFindsNothing) {
  Rig r;
  r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "quiet"));
  const int quiet = r.host.next_fd - 1;
  const uint64_t old_cookie = r.watcher.find(quiet)->cookie;
  r.guest(testing::udp_frame(kG4, kFar4, 40001, 7000, "talks"));
  const int talks = r.host.next_fd - 1;
  FakeDatagramHost::deliver(r.host.sockets[talks], bytes("back"));
  ASSERT_TRUE(r.ready(talks));
  r.now = r.now + Duration::seconds(20);
  r.flows.expire(r.now);
  EXPECT_EQ(r.flows.size(), 2u);
  r.now = r.now + Duration::seconds(10);
  r.flows.expire(r.now);
  // 30 s without a reply: gone; the one that heard back lives 180 s.
  EXPECT_EQ(r.flows.size(), 1u);
  EXPECT_TRUE(r.host.sockets[quiet].closed);
  EXPECT_EQ(r.watcher.find(quiet), nullptr);
  EXPECT_EQ(r.flows.stats().expired, 1u);
  // Its slot is reused; the old cookie still names nothing.
  r.guest(testing::udp_frame(kG4, kFar4, 40002, 7000, "new"));
  FakeDatagramHost::deliver(r.host.last(), bytes("for the new flow"));
  const size_t before = r.out.size();
  r.flows.on_socket(old_cookie, POLLIN, r.now, *r.tx);
  EXPECT_EQ(r.out.size(), before);
  r.now = r.now + Duration::seconds(140);
  r.flows.expire(r.now);
  EXPECT_FALSE(r.host.sockets[talks].closed);  // 170 s since its reply
  r.now = r.now + Duration::seconds(10);
  r.flows.expire(r.now);
  EXPECT_TRUE(r.host.sockets[talks].closed);
  EXPECT_EQ(r.flows.size(), 0u);
  EXPECT_EQ(r.host.double_closes, 0);
}

TEST(UdpFake, ABusyFlowOutlivesItsFirstDeadline) {
  Rig r;
  for (int i = 0; i < 10; ++i) {
    r.guest(testing::udp_frame(kG4, kFar4, 40000, 7000, "tick"));
    r.now = r.now + Duration::seconds(10);
    r.flows.expire(r.now);
  }
  EXPECT_EQ(r.flows.size(), 1u);
  EXPECT_EQ(r.host.sockets.size(), 1u);
  EXPECT_EQ(r.flows.stats().expired, 0u);
}

TEST(UdpFake, ReverseFlowsCarryRepliesToTheClientThroughTheListener) {
  Rig r;
  const int listener = 7;
  UdpFlowKey key;
  key.guest = kG4;
  key.guest_port = 5000;
  key.dst = wire::IpAddr::from(r.nat.plan.gateway4);
  key.dst_port = 33333;
  UdpListenerRef from;
  from.rule = 3;
  from.fd = listener;
  from.client_len = wire::to_sockaddr(*wire::IpAddr::parse("127.0.0.1"), 33333, from.client);
  auto send_in = [&](const std::string& payload) {
    wire::MutBytes out = r.tx->acquire();
    ASSERT_FALSE(out.empty());
    std::memcpy(out.data() + services::kUdp4PayloadOffset, payload.data(), payload.size());
    r.flows.from_listener(key, testing::kGuestMac, from, out, payload.size(), r.now, *r.tx);
  };
  send_in("ping");
  ASSERT_EQ(r.out.size(), 1u);
  Seen s = udp_to_guest(r.out[0]);
  EXPECT_EQ(s.src, key.dst);
  EXPECT_EQ(s.dport, 5000);
  EXPECT_EQ(s.payload, "ping");
  EXPECT_EQ(r.flows.stats().reverse_created, 1u);
  // The guest answers: out through the listener, to the client.
  r.guest(testing::udp_frame(kG4, key.dst, 5000, 33333, "pong"));
  ASSERT_EQ(r.host.sockets.count(listener), 1u);
  ASSERT_EQ(r.host.sockets[listener].sent.size(), 1u);
  EXPECT_EQ(text(r.host.sockets[listener].sent[0]), "pong");
  auto to = wire::from_sockaddr(r.host.sockets[listener].peer);
  ASSERT_TRUE(to);
  EXPECT_EQ(to->port, 33333);
  EXPECT_EQ(r.host.open_sockets(), 0u);  // no socket of its own
  r.flows.close_listener(3);
  EXPECT_EQ(r.flows.size(), 0u);
  EXPECT_FALSE(r.host.sockets[listener].closed);  // the rule's, not ours to close
}

TEST(UdpFake, AGsoFrameIsSplitIntoItsDatagrams) {
  for (const bool v6 : {false, true}) {
    Rig r;
    const std::string payload =
        std::string(1000, 'a') + std::string(1000, 'b') + std::string(500, 'c');
    const Frame f = testing::udp_frame(v6 ? kG6 : kG4, v6 ? kFar6 : kFar4, 40000, 7000, payload);
    auto p = wire::classify(f, {.gso_size = 1000});
    ASSERT_TRUE(p);
    ASSERT_TRUE(wire::udp_gso_splittable(*p));
    std::vector<std::byte> scratch(tap::kFrameBufLen);
    auto err = wire::split_udp_gso(*p, wire::MutBytes(scratch), [&](const wire::GuestPacket& d) {
      r.flows.on_guest(d, r.now, *r.tx);
    });
    EXPECT_FALSE(err);
    ASSERT_EQ(r.host.sockets.size(), 1u);
    const auto& sent = r.host.last().sent;
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(text(sent[0]), std::string(1000, 'a'));
    EXPECT_EQ(text(sent[1]), std::string(1000, 'b'));
    EXPECT_EQ(text(sent[2]), std::string(500, 'c'));
  }
}

TEST(UdpFake, ClosingTheFlowsClosesEverySocketOnce) {
  FakeDatagramHost host;
  {
    testing::FakeWatcher watcher;
    NatConfig nat;
    UdpFlows flows(nat, 4, host, 1);
    flows.set_engine(&watcher);
    auto tx = tap::TxQueue::detached(4, [](wire::ConstBytes, const wire::VirtioNetHdrRepr&) {});
    for (uint16_t p = 1; p <= 3; ++p) {
      const Frame f = testing::udp_frame(kG4, kFar4, p, 7000, "x");
      auto pkt = wire::classify(f);
      ASSERT_TRUE(pkt);
      flows.on_guest(*pkt, MonoTime{}, *tx);
    }
    EXPECT_EQ(host.open_sockets(), 3u);
  }
  EXPECT_EQ(host.open_sockets(), 0u);
  EXPECT_EQ(host.double_closes, 0);
}

}  // namespace
}  // namespace tapir::flows
