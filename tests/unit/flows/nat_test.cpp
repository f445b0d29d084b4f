// The NAT mapping's one rule for martian destinations (flows/nat.hpp): no
// guest flow reaches a loopback, unspecified, multicast, broadcast or
// reserved address, whatever --disable-host-loopback says; the gateway is
// the only way to the host's loopback.

#include "flows/nat.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace tapir::flows {
namespace {

wire::Ipv4Addr v4(const char* s) {
  return *wire::Ipv4Addr::parse(s);
}
wire::Ipv6Addr v6(const char* s) {
  return *wire::Ipv6Addr::parse(s);
}

NatConfig config(bool disable_host_loopback) {
  NatConfig c;
  c.plan = wire::AddressPlan::nat(*wire::Ipv4Prefix::parse("10.0.2.0/24"),
                                  *wire::Ipv6Prefix::parse("fd00::/64"), true);
  c.disable_host_loopback = disable_host_loopback;
  return c;
}

std::string host4(const sockaddr_storage& ss) {
  char buf[INET_ADDRSTRLEN];
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);  // NOLINT
  return inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
}
std::string host6(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN];
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);  // NOLINT
  return inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
}

TEST(Nat, Ipv4MartiansAreRefusedWhateverTheFlags) {
  const struct {
    const char* addr;
    Martian why;
  } cases[] = {
      {"127.0.0.1", Martian::kLoopback},        {"127.255.0.9", Martian::kLoopback},
      {"0.0.0.0", Martian::kUnspecified},       {"0.1.2.3", Martian::kUnspecified},
      {"224.0.0.1", Martian::kMulticast},       {"239.255.255.250", Martian::kMulticast},
      {"255.255.255.255", Martian::kBroadcast}, {"10.0.2.255", Martian::kBroadcast},
      {"240.0.0.1", Martian::kReserved},        {"254.1.1.1", Martian::kReserved},
  };
  for (bool dhl : {false, true}) {
    const NatConfig cfg = config(dhl);
    for (const auto& c : cases) {
      sockaddr_storage out{};
      socklen_t len = 0;
      Martian why{};
      EXPECT_EQ(map_destination4(cfg, v4(c.addr), 80, out, len, why), MapResult::kMartian)
          << c.addr;
      EXPECT_EQ(why, c.why) << c.addr;
      EXPECT_EQ(len, 0u) << c.addr << ": no host address for a martian";
    }
  }
}

TEST(Nat, Ipv6MartiansAreRefusedWhateverTheFlags) {
  const struct {
    const char* addr;
    Martian why;
  } cases[] = {
      {"::1", Martian::kLoopback},
      {"::", Martian::kUnspecified},
      {"ff02::1", Martian::kMulticast},
      {"ff0e::fb", Martian::kMulticast},
      // IPv4-mapped: refused entirely, not only the mapped IPv4 martians.
      {"::ffff:127.0.0.1", Martian::kV4Mapped},
      {"::ffff:0.0.0.0", Martian::kV4Mapped},
      {"::ffff:10.0.2.2", Martian::kV4Mapped},
      {"::ffff:192.0.2.1", Martian::kV4Mapped},
      // IPv4-compatible (deprecated, RFC 4291 2.5.5.1).
      {"::127.0.0.1", Martian::kV4Mapped},
      {"::192.0.2.1", Martian::kV4Mapped},
  };
  for (bool dhl : {false, true}) {
    const NatConfig cfg = config(dhl);
    for (const auto& c : cases) {
      sockaddr_storage out{};
      socklen_t len = 0;
      Martian why{};
      EXPECT_EQ(map_destination6(cfg, v6(c.addr), 80, out, len, why), MapResult::kMartian)
          << c.addr;
      EXPECT_EQ(why, c.why) << c.addr;
    }
  }
}

TEST(Nat, OnlyTheGatewayMappingReachesHostLoopback) {
  const NatConfig cfg = config(false);
  sockaddr_storage out{};
  socklen_t len = 0;
  Martian why{};
  ASSERT_EQ(map_destination4(cfg, v4("10.0.2.2"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host4(out), "127.0.0.1");
  ASSERT_EQ(map_destination6(cfg, v6("fd00::2"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host6(out), "::1");
  // Ordinary destinations are themselves; the DNS address is tapir's.
  ASSERT_EQ(map_destination4(cfg, v4("192.0.2.1"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host4(out), "192.0.2.1");
  ASSERT_EQ(map_destination6(cfg, v6("2001:db8::1"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host6(out), "2001:db8::1");
  // Not martians: addresses that merely look like the special ones.
  ASSERT_EQ(map_destination6(cfg, v6("::1:0:0:1"), 80, out, len, why), MapResult::kHost);
  ASSERT_EQ(map_destination6(cfg, v6("64:ff9b::7f00:1"), 80, out, len, why), MapResult::kHost);
  ASSERT_EQ(map_destination4(cfg, v4("223.255.255.255"), 80, out, len, why), MapResult::kHost);
  ASSERT_EQ(map_destination4(cfg, v4("1.0.0.1"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(map_destination4(cfg, v4("10.0.2.3"), 53, out, len, why), MapResult::kLocal);
  EXPECT_EQ(map_destination6(cfg, v6("fd00::3"), 53, out, len, why), MapResult::kLocal);
  // --disable-host-loopback closes the gateway mapping too.
  const NatConfig dhl = config(true);
  EXPECT_EQ(map_destination4(dhl, v4("10.0.2.2"), 80, out, len, why), MapResult::kUnreachable);
  EXPECT_EQ(map_destination6(dhl, v6("fd00::2"), 80, out, len, why), MapResult::kUnreachable);
}

// The mapping reads the plan's data, not the NAT arithmetic: a plan that
// maps only its gateway (as passthrough mode's will) sends the rest of the
// link to itself, and one that maps nothing reaches no loopback at all.
TEST(Nat, TheHostLoopbackMappingIsThePlans) {
  NatConfig cfg = config(false);
  sockaddr_storage out{};
  socklen_t len = 0;
  Martian why{};
  cfg.plan.loopback4 = wire::Ipv4Prefix{cfg.plan.gateway4, 32};
  cfg.plan.loopback6 = wire::Ipv6Prefix{cfg.plan.gateway6, 128};
  ASSERT_EQ(map_destination4(cfg, v4("10.0.2.2"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host4(out), "127.0.0.1");
  ASSERT_EQ(map_destination4(cfg, v4("10.0.2.7"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host4(out), "10.0.2.7");
  ASSERT_EQ(map_destination6(cfg, v6("fd00::2"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host6(out), "::1");
  ASSERT_EQ(map_destination6(cfg, v6("fd00::7"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host6(out), "fd00::7");
  cfg.plan.loopback4.reset();
  cfg.plan.loopback6.reset();
  ASSERT_EQ(map_destination4(cfg, v4("10.0.2.2"), 80, out, len, why), MapResult::kHost);
  EXPECT_EQ(host4(out), "10.0.2.2");
  ASSERT_EQ(map_destination6(cfg, cfg.plan.gateway_link_local6(), 80, out, len, why),
            MapResult::kHost);
  EXPECT_EQ(host6(out), cfg.plan.gateway_link_local6().to_string());
}

TEST(Nat, MulticastAndBroadcastAreNotAnswered) {
  EXPECT_FALSE(martian_answered(Martian::kMulticast));
  EXPECT_FALSE(martian_answered(Martian::kBroadcast));
  for (Martian m :
       {Martian::kLoopback, Martian::kUnspecified, Martian::kReserved, Martian::kV4Mapped}) {
    EXPECT_TRUE(martian_answered(m)) << martian_name(m);
  }
  MartianCounters c;
  c.count(Martian::kLoopback);
  c.count(Martian::kLoopback);
  c.count(Martian::kV4Mapped);
  EXPECT_EQ(c[Martian::kLoopback], 2u);
  EXPECT_EQ(c.total(), 3u);
  EXPECT_STREQ(martian_name(Martian::kV4Mapped), "v4_mapped");
}

}  // namespace
}  // namespace tapir::flows
