#include "wire/address_plan.hpp"

#include <gtest/gtest.h>

namespace tapir::wire {
namespace {

TEST(Ipv4Prefix, ParsesAndComputes) {
  auto p = Ipv4Prefix::parse("10.0.135.128/25");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_network());
  EXPECT_EQ(p->mask().to_string(), "255.255.255.128");
  EXPECT_EQ(p->host(100).to_string(), "10.0.135.228");
  EXPECT_TRUE(p->contains(*Ipv4Addr::parse("10.0.135.255")));
  EXPECT_FALSE(p->contains(*Ipv4Addr::parse("10.0.135.127")));
  EXPECT_FALSE(Ipv4Prefix::parse("10.0.2.100/24")->is_network());
  for (const char* bad : {"10.0.2.0", "10.0.2.0/", "10.0.2.0/33", "10.0.2.0/024", "10.0.2/24",
                          "10.0.2.0/2a", "10.0.2.0/-1"}) {
    EXPECT_FALSE(Ipv4Prefix::parse(bad)) << bad;
  }
  EXPECT_EQ(Ipv4Prefix::parse("0.0.0.0/0")->mask_bits(), 0u);
}

TEST(Ipv6Prefix, ParsesAndComputes) {
  auto p = Ipv6Prefix::parse("fd00:1:2:3::/64");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_network());
  EXPECT_EQ(p->host(3).to_string(), "fd00:1:2:3::3");
  EXPECT_TRUE(p->contains(*Ipv6Addr::parse("fd00:1:2:3:ffff::1")));
  EXPECT_FALSE(p->contains(*Ipv6Addr::parse("fd00:1:2:4::1")));
  EXPECT_EQ(Ipv6Prefix::parse("2001:db8::1/61")->network().to_string(), "2001:db8::");
  EXPECT_FALSE(Ipv6Prefix::parse("fd00::/129"));
}

TEST(AddressPlan, DefaultsMatchSlirp4netns) {
  const AddressPlan p;
  EXPECT_EQ(p.gateway4.to_string(), "10.0.2.2");
  EXPECT_EQ(p.dns4.to_string(), "10.0.2.3");
  EXPECT_EQ(p.guest4.to_string(), "10.0.2.100");
  EXPECT_EQ(p.dhcp_start4.to_string(), "10.0.2.15");
  EXPECT_EQ(p.gateway6.to_string(), "fd00::2");
  EXPECT_EQ(p.dns6.to_string(), "fd00::3");
  EXPECT_EQ(p.gateway_mac.to_string(), "52:55:0a:00:02:02");
  const AddressPlan n =
      AddressPlan::nat(*Ipv4Prefix::parse("10.0.2.0/24"), *Ipv6Prefix::parse("fd00::/64"), false);
  EXPECT_EQ(n.gateway4, p.gateway4);
  EXPECT_EQ(n.gateway_mac, p.gateway_mac);
  EXPECT_EQ(n.gateway6, p.gateway6);
}

TEST(AddressPlan, CidrMovesEverything) {
  const AddressPlan p = AddressPlan::nat(*Ipv4Prefix::parse("10.0.135.128/25"),
                                         *Ipv6Prefix::parse("fd00:aa::/64"), true);
  EXPECT_EQ(p.gateway4.to_string(), "10.0.135.130");
  EXPECT_EQ(p.dns4.to_string(), "10.0.135.131");
  EXPECT_EQ(p.guest4.to_string(), "10.0.135.228");
  EXPECT_EQ(p.gateway_mac.to_string(), "52:55:0a:00:87:82");
  EXPECT_EQ(p.dns6.to_string(), "fd00:aa::3");
  EXPECT_EQ(p.dhcp_start6.to_string(), "fd00:aa::15");
  EXPECT_EQ(p.guest6.to_string(), "fd00:aa::64");
  EXPECT_EQ(p.gateway_link_local6().to_string(), "fe80::5055:aff:fe00:8782");
  // The whole link maps to the host's loopback, and nothing else.
  ASSERT_TRUE(p.loopback4 && p.loopback6);
  EXPECT_EQ(p.loopback4->to_string(), "10.0.135.128/25");
  EXPECT_EQ(p.loopback6->to_string(), "fd00:aa::/64");
  EXPECT_TRUE(p.maps_to_host_loopback(*Ipv4Addr::parse("10.0.135.255")));
  EXPECT_FALSE(p.maps_to_host_loopback(*Ipv4Addr::parse("10.0.135.127")));
  EXPECT_TRUE(p.maps_to_host_loopback(*Ipv6Addr::parse("fd00:aa::1234")));
  EXPECT_TRUE(p.maps_to_host_loopback(p.gateway_link_local6()));
  EXPECT_FALSE(p.maps_to_host_loopback(*Ipv6Addr::parse("fd00:ab::2")));
}

TEST(AddressPlan, TheDefaultIsTheDefaultNatPlan) {
  // Every field, the search list and MTU included: a plan built field by
  // field and nat() agree, so nothing depends on which one a caller used.
  EXPECT_EQ(AddressPlan{}, AddressPlan::nat(*Ipv4Prefix::parse("10.0.2.0/24"),
                                            *Ipv6Prefix::parse("fd00::/64"), false));
}

TEST(AddressPlan, OffsetLow32StaysInTheLow32Bits) {
  EXPECT_EQ(offset_low32(*Ipv6Addr::parse("fd00::15"), 3)->to_string(), "fd00::18");
  EXPECT_EQ(offset_low32(*Ipv6Addr::parse("fd00::ffff:ffff"), 0)->to_string(), "fd00::ffff:ffff");
  EXPECT_FALSE(offset_low32(*Ipv6Addr::parse("fd00::ffff:ffff"), 1));
}

}  // namespace
}  // namespace tapir::wire
