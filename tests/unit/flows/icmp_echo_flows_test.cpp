// ICMP echo to other hosts through the fake host's ping sockets
// (tests/support/fake_datagram_host.hpp): no kernel socket. The kernel
// rewrites the echo identifier to the socket's own; the guest must see its
// own come back, with a checksum that verifies.

#include "flows/icmp_echo_flows.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <vector>

#include "tap/tap_io.hpp"
#include "tests/support/fake_datagram_host.hpp"
#include "tests/support/fake_watcher.hpp"
#include "tests/support/guest_frames.hpp"

namespace tapir::flows {
namespace {

using testing::FakeDatagramHost;
using testing::FakeDatagramSocket;
using Frame = std::vector<std::byte>;

const wire::IpAddr kG4 = wire::IpAddr::from(testing::kGuest4);
const wire::IpAddr kG6 = wire::IpAddr::from(testing::kGuest6);
const wire::IpAddr kFar4 = wire::IpAddr::from(wire::Ipv4Addr::from_octets(192, 0, 2, 1));
const wire::IpAddr kFar6 = *wire::IpAddr::parse("2001:db8::1");

struct Rig {
  FakeDatagramHost host;
  testing::FakeWatcher watcher;
  NatConfig nat;
  IcmpEchoFlows flows;
  std::vector<Frame> out;
  std::unique_ptr<tap::TxQueue> tx;
  MonoTime now{Duration::seconds(1000).ns};

  explicit Rig(size_t cap = 16) : nat(make_nat()), flows(nat, cap, host, 0x5eed) {
    flows.set_engine(&watcher);
    tx = tap::TxQueue::detached(8, [this](wire::ConstBytes f, const wire::VirtioNetHdrRepr&) {
      out.emplace_back(f.begin(), f.end());
    });
  }
  static NatConfig make_nat() {
    NatConfig n;
    n.plan.ipv6 = true;
    return n;
  }
  void guest(const Frame& f) {
    auto p = wire::classify(f);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->transport, wire::Transport::kIcmp);
    flows.on_guest(*p, now, *tx);
  }
  bool ready(int fd) {
    testing::FakeWatcher::Watch* w = watcher.find(fd);
    if (w == nullptr) return false;
    w->client->on_socket(w->cookie, POLLIN, now, *tx);
    return true;
  }
};

// {type, identifier, sequence, source} of an ICMP message to the guest, its checksum verified.
struct Seen {
  uint8_t type = 0, code = 0;
  uint16_t id = 0, seq = 0;
  wire::IpAddr src;
  std::string data;
};
Seen icmp_to_guest(const Frame& f) {
  Seen s;
  auto eth = wire::EthernetView::parse(f);
  EXPECT_TRUE(eth);
  if (!eth) return s;
  EXPECT_EQ(eth->destination(), testing::kGuestMac);
  if (eth->ethertype() == wire::ethertype::kIpv6) {
    auto ip = wire::Ipv6View::parse(eth->payload());
    EXPECT_TRUE(ip);
    auto m = wire::Icmp6View::parse(ip->upper_payload());
    EXPECT_TRUE(m);
    EXPECT_TRUE(m->checksum_ok(ip->source(), ip->destination()));
    EXPECT_EQ(ip->destination(), testing::kGuest6);
    s = {m->type(), m->code(), m->identifier(), m->sequence(), wire::IpAddr::from(ip->source()),
         {}};
    s.data.assign(reinterpret_cast<const char*>(m->body().data()), m->body().size());
  } else {
    auto ip = wire::Ipv4View::parse(eth->payload());
    EXPECT_TRUE(ip);
    EXPECT_TRUE(ip->header_checksum_ok());
    auto m = wire::Icmp4View::parse(ip->payload());
    EXPECT_TRUE(m);
    EXPECT_TRUE(m->checksum_ok());
    EXPECT_EQ(ip->destination(), testing::kGuest4);
    s = {m->type(), m->code(), m->identifier(), m->sequence(), wire::IpAddr::from(ip->source()),
         {}};
    s.data.assign(reinterpret_cast<const char*>(m->body().data()), m->body().size());
  }
  return s;
}

class EchoFamilies : public ::testing::TestWithParam<bool> {};

TEST_P(EchoFamilies, TheGuestsIdentifierComesBackThoughTheSocketUsedItsOwn) {
  const bool v6 = GetParam();
  Rig r;
  r.guest(testing::echo_frame(v6 ? kG6 : kG4, v6 ? kFar6 : kFar4, 0x1234, 7, "abcdefgh"));
  ASSERT_EQ(r.host.sockets.size(), 1u);
  FakeDatagramSocket& s = r.host.last();
  EXPECT_TRUE(s.ping());
  EXPECT_EQ(s.family, v6 ? AF_INET6 : AF_INET);
  auto peer = wire::from_sockaddr(s.peer);
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->addr, v6 ? kFar6 : kFar4);
  ASSERT_EQ(s.sent.size(), 1u);
  EXPECT_EQ(wire::load_be16(s.sent[0], 4), s.ident);  // the kernel's, on the wire
  EXPECT_NE(s.ident, 0x1234);
  EXPECT_EQ(r.flows.stats().to_host, 1u);

  ASSERT_TRUE(FakeDatagramHost::echo_reply(s));
  ASSERT_TRUE(r.ready(r.host.next_fd - 1));
  ASSERT_EQ(r.out.size(), 1u);
  const Seen seen = icmp_to_guest(r.out[0]);
  EXPECT_EQ(seen.type, v6 ? wire::icmp6_type::kEchoReply : wire::icmp4_type::kEchoReply);
  EXPECT_EQ(seen.id, 0x1234);
  EXPECT_EQ(seen.seq, 7);
  EXPECT_EQ(seen.src, v6 ? kFar6 : kFar4);
  EXPECT_EQ(seen.data, "abcdefgh");
  EXPECT_EQ(r.flows.stats().to_guest, 1u);

  // The next request of the same ping: the same socket. Another identifier: another.
  r.guest(testing::echo_frame(v6 ? kG6 : kG4, v6 ? kFar6 : kFar4, 0x1234, 8, "x"));
  EXPECT_EQ(r.host.sockets.size(), 1u);
  r.guest(testing::echo_frame(v6 ? kG6 : kG4, v6 ? kFar6 : kFar4, 0x1235, 1, "x"));
  EXPECT_EQ(r.host.sockets.size(), 2u);
  EXPECT_EQ(r.flows.stats().created, 2u);
}

TEST_P(EchoFamilies, WithoutPingSocketsTheGuestHearsAdministrativelyProhibited) {
  const bool v6 = GetParam();
  Rig r;
  r.host.open_error = -EACCES;  // outside net.ipv4.ping_group_range
  r.guest(testing::echo_frame(v6 ? kG6 : kG4, v6 ? kFar6 : kFar4, 1, 1, "x"));
  EXPECT_EQ(r.flows.stats().prohibited, 1u);
  ASSERT_EQ(r.out.size(), 1u);
  const Seen seen = icmp_to_guest(r.out[0]);
  EXPECT_EQ(seen.type,
            v6 ? wire::icmp6_type::kDestUnreachable : wire::icmp4_type::kDestUnreachable);
  EXPECT_EQ(seen.code,
            v6 ? wire::icmp6_unreach::kAdminProhibited : wire::icmp4_unreach::kAdminProhibited);
  EXPECT_EQ(r.flows.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Families, EchoFamilies, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? "v6" : "v4"; });

TEST(IcmpEchoFlows, RuntAndOversizedRepliesAreDropped) {
  Rig r;
  r.guest(testing::echo_frame(kG4, kFar4, 9, 1, "x"));
  FakeDatagramSocket& s = r.host.last();
  FakeDatagramHost::deliver(s, std::vector<std::byte>(4));
  FakeDatagramHost::deliver(s, std::vector<std::byte>(1500));  // MTU 1500 less 20: 1480 fit
  ASSERT_TRUE(FakeDatagramHost::echo_reply(s));
  ASSERT_TRUE(r.ready(r.host.next_fd - 1));
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(icmp_to_guest(r.out[0]).id, 9);
}

TEST(IcmpEchoFlows, AHardErrorOnThePingSocketEndsTheReadAndIsNotPassedOn) {
  Rig r;
  r.guest(testing::echo_frame(kG4, kFar4, 9, 1, "x"));
  FakeDatagramSocket& s = r.host.last();
  FakeDatagramHost::icmp_error(s, wire::icmp4_type::kDestUnreachable,
                               wire::icmp4_unreach::kAdminProhibited);
  ASSERT_TRUE(FakeDatagramHost::echo_reply(s));
  ASSERT_TRUE(r.ready(r.host.next_fd - 1));  // reads the error: nothing to the guest
  EXPECT_TRUE(r.out.empty());
  ASSERT_TRUE(r.ready(r.host.next_fd - 1));  // the reply queued behind it
  EXPECT_EQ(r.out.size(), 1u);
}

TEST(IcmpEchoFlows, CapMartiansAndUnreachable) {
  Rig r(1);
  r.guest(testing::echo_frame(kG4, kFar4, 1, 1, "x"));
  r.guest(testing::echo_frame(kG4, kFar4, 2, 1, "x"));
  EXPECT_EQ(r.flows.stats().table_full, 1u);
  EXPECT_EQ(r.host.sockets.size(), 1u);
  r.guest(testing::echo_frame(kG4, *wire::IpAddr::parse("127.0.0.1"), 3, 1, "x"));
  r.guest(testing::echo_frame(kG6, *wire::IpAddr::parse("ff02::1"), 3, 1, "x"));
  EXPECT_EQ(r.flows.stats().martians.total(), 2u);
  EXPECT_EQ(r.out.size(), 1u);  // prohibited for loopback, nothing for multicast
  EXPECT_EQ(r.host.sockets.size(), 1u);
}

TEST(IcmpEchoFlows, IdleFlowsExpireAfterThirtySeconds) {
  Rig r;
  r.guest(testing::echo_frame(kG4, kFar4, 1, 1, "x"));
  const int fd = r.host.next_fd - 1;
  r.now = r.now + Duration::seconds(20);
  r.guest(testing::echo_frame(kG4, kFar4, 1, 2, "x"));
  r.now = r.now + Duration::seconds(20);
  r.flows.expire(r.now);
  EXPECT_EQ(r.flows.size(), 1u);  // busy 20 s ago
  r.now = r.now + Duration::seconds(10);
  r.flows.expire(r.now);
  EXPECT_EQ(r.flows.size(), 0u);
  EXPECT_TRUE(r.host.sockets[fd].closed);
  EXPECT_EQ(r.watcher.find(fd), nullptr);
  EXPECT_EQ(r.flows.stats().expired, 1u);
  EXPECT_EQ(r.host.double_closes, 0);
}

TEST(IcmpEchoFlows, ConnectAndWatchFailuresAreCounted) {
  Rig r;
  r.host.connect_error = -ENETUNREACH;
  r.guest(testing::echo_frame(kG4, kFar4, 1, 1, "x"));
  r.host.connect_error = 0;
  r.watcher.refuse = true;
  r.guest(testing::echo_frame(kG4, kFar4, 1, 1, "x"));
  EXPECT_EQ(r.flows.stats().socket_errors, 2u);
  EXPECT_EQ(r.host.open_sockets(), 0u);
  EXPECT_EQ(r.flows.size(), 0u);
}

}  // namespace
}  // namespace tapir::flows
