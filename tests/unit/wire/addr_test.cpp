#include "wire/addr.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tapir::wire {
namespace {

TEST(MacAddr, ParsesAndPrints) {
  auto m = MacAddr::parse("52:54:00:AB:cd:0f");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), "52:54:00:ab:cd:0f");
  EXPECT_FALSE(m->is_multicast());
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::parse("33:33:00:00:00:01")->is_multicast());
}

TEST(MacAddr, RejectsMalformed) {
  for (const char* bad : {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56",
                          "5:54:00:12:34:566", "52:54:00:12:34:5g", "52:54:00:12:34:56 "}) {
    EXPECT_FALSE(MacAddr::parse(bad)) << bad;
  }
}

TEST(Ipv4Addr, ParsesAndPrints) {
  auto a = Ipv4Addr::parse("10.0.2.100");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, 0x0a000264u);
  EXPECT_EQ(a->to_string(), "10.0.2.100");
  EXPECT_EQ(*a, Ipv4Addr::from_octets(10, 0, 2, 100));
  EXPECT_TRUE(Ipv4Addr::parse("127.0.0.53")->is_loopback());
  EXPECT_TRUE(Ipv4Addr::parse("0.0.0.0")->is_unspecified());
  EXPECT_TRUE(Ipv4Addr::parse("224.0.0.1")->is_multicast());
  EXPECT_TRUE(Ipv4Addr::parse("169.254.1.1")->is_link_local());
}

TEST(Ipv4Addr, RejectsMalformed) {
  for (const char* bad : {"", "10.0.2", "10.0.2.1.5", "10.0.2.256", "010.0.2.1", "10.0.2.1/24",
                          "10..2.1", " 10.0.2.1", "10.0.2.1 ", "1e1.0.0.1", "10.0.2.-1"}) {
    EXPECT_FALSE(Ipv4Addr::parse(bad)) << bad;
  }
}

TEST(Ipv6Addr, ParsesAndPrintsCanonically) {
  auto a = Ipv6Addr::parse("2001:DB8:0:0:1:0:0:1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "2001:db8::1:0:0:1");  // RFC 5952 4.2.3: first longest run
  EXPECT_EQ(Ipv6Addr::parse("::ffff:192.0.2.1")->to_string(), "::ffff:192.0.2.1");
  EXPECT_TRUE(Ipv6Addr::parse("::1")->is_loopback());
  EXPECT_TRUE(Ipv6Addr::parse("fe80::1")->is_link_local());
  EXPECT_TRUE(Ipv6Addr::parse("ff02::1")->is_multicast());
  EXPECT_FALSE(Ipv6Addr::parse("fd00::1:2::3"));
  EXPECT_FALSE(Ipv6Addr::parse("fd00::/64"));
  EXPECT_FALSE(Ipv6Addr::parse(std::string_view("fd00::1\0", 8)));
}

TEST(Ipv6Addr, SolicitedNodeAndMulticastMac) {
  auto a = *Ipv6Addr::parse("fd00::5054:ff:fe12:3456");
  EXPECT_EQ(a.solicited_node().to_string(), "ff02::1:ff12:3456");                  // RFC 4291 2.7.1
  EXPECT_EQ(a.solicited_node().multicast_mac().to_string(), "33:33:ff:12:34:56");  // RFC 2464 7
}

TEST(IpAddr, HoldsEitherFamilyAndComparesByBytes) {
  const IpAddr a4 = *IpAddr::parse("10.0.2.2");
  EXPECT_FALSE(a4.v6);
  EXPECT_EQ(a4.as_v4(), Ipv4Addr::from_octets(10, 0, 2, 2));
  EXPECT_EQ(a4.to_string(), "10.0.2.2");
  EXPECT_EQ(a4, IpAddr::from(Ipv4Addr::from_octets(10, 0, 2, 2)));
  const IpAddr a6 = *IpAddr::parse("fd00::2");
  EXPECT_TRUE(a6.v6);
  EXPECT_EQ(a6.to_string(), "fd00::2");
  EXPECT_EQ(a6.as_v6(), *Ipv6Addr::parse("fd00::2"));
  // The same 16 bytes in the other family are another address.
  IpAddr other = a4;
  other.v6 = true;
  EXPECT_NE(other, a4);
  EXPECT_FALSE(IpAddr::parse("[fd00::2]"));
  EXPECT_FALSE(IpAddr::parse("10.0.2"));
}

TEST(IpAddr, RoundTripsThroughSockaddr) {
  for (const char* text : {"10.0.2.2", "127.0.0.1", "fd00::3", "::ffff:10.0.2.2"}) {
    const IpAddr a = *IpAddr::parse(text);
    sockaddr_storage ss;
    const unsigned len = to_sockaddr(a, 5353, ss);
    EXPECT_EQ(len, a.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) << text;
    EXPECT_EQ(ss.ss_family, a.v6 ? AF_INET6 : AF_INET) << text;
    const auto back = from_sockaddr(ss);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back->addr, a) << text;  // a mapped address stays IPv6
    EXPECT_EQ(back->port, 5353) << text;
  }
  const auto* sin = [] {
    static sockaddr_storage ss;
    to_sockaddr(*IpAddr::parse("192.0.2.1"), 80, ss);
    return reinterpret_cast<const sockaddr_in*>(&ss);
  }();
  EXPECT_EQ(ntohl(sin->sin_addr.s_addr), 0xc0000201u);  // network order on the wire
  EXPECT_EQ(ntohs(sin->sin_port), 80);
  sockaddr_storage unix_ss{};
  unix_ss.ss_family = AF_UNIX;
  EXPECT_FALSE(from_sockaddr(unix_ss));
}

}  // namespace
}  // namespace tapir::wire
