#include "wire/icmp6.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/ethernet.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// Frames captured with tcpdump on a veth pair between two private network
// namespaces, each side a Linux kernel: the "guest" 52:54:00:12:34:56 /
// fd00::100 and the "gateway" 52:55:0a:00:02:02 / fd00::2, which routes to
// 2001:db8:1::/64 over a link with MTU 1280.

// `ping -6 -c 1 fd00::2`: echo request.
// clang-format off
const std::vector<uint8_t> kEchoRequestFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x0f, 0x15, 0xdb,              // IPv6, traffic class 0, flow label 0xf15db
    0x00, 0x40, 0x3a, 0x40,              // payload length 64, next header ICMPv6, hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x80,                                // ICMPv6 type 128 (echo request)
    0x00,                                // code 0
    0xd0, 0xf2,                          // checksum 0xd0f2
    0x14, 0x8d,                          // identifier 0x148d
    0x00, 0x01,                          // sequence 1
    0xdb, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // ping's timestamp
    0xfc, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,  // ping's pattern 0x10..0x37
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// The gateway's echo reply.
// clang-format off
const std::vector<uint8_t> kEchoReplyFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x01, 0x0a, 0x30,              // IPv6, traffic class 0, flow label 0x10a30
    0x00, 0x40, 0x3a, 0x40,              // payload length 64, next header ICMPv6, hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x81,                                // ICMPv6 type 129 (echo reply)
    0x00,                                // code 0
    0xcf, 0xf2,                          // checksum 0xcff2
    0x14, 0x8d,                          // identifier 0x148d (echoed)
    0x00, 0x01,                          // sequence 1 (echoed)
    0xdb, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // the request's data, echoed
    0xfc, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// Before that ping: the guest resolving fd00::2 (RFC 4861 4.3).
// clang-format off
const std::vector<uint8_t> kNeighborSolicitationFrame = {
    0x33, 0x33, 0xff, 0x00, 0x00, 0x02,  // Ethernet destination 33:33:ff:00:00:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x00, 0x00, 0x00,              // IPv6, traffic class 0, flow label 0
    0x00, 0x20, 0x3a, 0xff,              // payload length 32, next header ICMPv6, hop limit 255
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination ff02::1:ff00:2 (solicited-node)
    0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02,
    0x87,                                // ICMPv6 type 135 (neighbor solicitation)
    0x00,                                // code 0
    0xf7, 0xdc,                          // checksum 0xf7dc
    0x00, 0x00, 0x00, 0x00,              // reserved
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // target fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x01, 0x01,                          // option: source link-layer address, length 1 (8 bytes)
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  //   52:54:00:12:34:56
};
// clang-format on

// The gateway's answer.
// clang-format off
const std::vector<uint8_t> kNeighborAdvertisementFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x00, 0x00, 0x00,              // IPv6, traffic class 0, flow label 0
    0x00, 0x20, 0x3a, 0xff,              // payload length 32, next header ICMPv6, hop limit 255
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x88,                                // ICMPv6 type 136 (neighbor advertisement)
    0x00,                                // code 0
    0x3f, 0x45,                          // checksum 0x3f45
    0xe0, 0x00, 0x00, 0x00,              // flags R (router), S (solicited), O (override)
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // target fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x02, 0x01,                          // option: target link-layer address, length 1
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  //   52:55:0a:00:02:02
};
// clang-format on

// `rdisc6 -1 a0` in the guest: a router solicitation with no options.
// clang-format off
const std::vector<uint8_t> kRouterSolicitationFrame = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0x02,  // Ethernet destination 33:33:00:00:00:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x06, 0x17, 0x12,              // IPv6, traffic class 0, flow label 0x61712
    0x00, 0x08, 0x3a, 0xff,              // payload length 8, next header ICMPv6, hop limit 255
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fe80::5054:ff:fe12:3456
    0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination ff02::2 (all routers)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x85,                                // ICMPv6 type 133 (router solicitation)
    0x00,                                // code 0
    0xf9, 0x7a,                          // checksum 0xf97a
    0x00, 0x00, 0x00, 0x00,              // reserved
};
// clang-format on

// `echo hello > /dev/udp/fd00::2/9`: the gateway's port unreachable,
// quoting the whole 54-byte UDP packet.
// clang-format off
const std::vector<uint8_t> kPortUnreachableFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x07, 0xef, 0x84,              // IPv6, traffic class 0, flow label 0x7ef84
    0x00, 0x3e, 0x3a, 0x40,              // payload length 62, next header ICMPv6, hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x01,                                // ICMPv6 type 1 (destination unreachable)
    0x04,                                // code 4 (port unreachable)
    0xd1, 0x5f,                          // checksum 0xd15f
    0x00, 0x00, 0x00, 0x00,              // unused
    0x60, 0x07, 0xe1, 0x65,              // invoking packet: IPv6, flow label 0x7e165
    0x00, 0x0e, 0x11, 0x40,              //   payload length 14, next header UDP, hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //   source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //   destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xa5, 0x4a, 0x00, 0x09,              //   UDP source port 42314, destination port 9
    0x00, 0x0e, 0xfb, 0x22,              //   UDP length 14, checksum 0xfb22
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a,  //   "hello\n"
};
// clang-format on

// `ping -6 -c 1 -t 1 2001:db8:1::2`: the gateway's time exceeded.
// clang-format off
const std::vector<uint8_t> kTimeExceededFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x05, 0x89, 0x45,              // IPv6, traffic class 0, flow label 0x58945
    0x00, 0x70, 0x3a, 0x40,              // payload length 112, next header ICMPv6, hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x03,                                // ICMPv6 type 3 (time exceeded)
    0x00,                                // code 0 (hop limit exceeded in transit)
    0xf4, 0x5a,                          // checksum 0xf45a
    0x00, 0x00, 0x00, 0x00,              // unused
    0x60, 0x00, 0x73, 0x2f,              // invoking packet: IPv6, flow label 0x0732f
    0x00, 0x40, 0x3a, 0x01,              //   payload length 64, next header ICMPv6, hop limit 1
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //   source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00,  //   destination 2001:db8:1::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x80, 0x00, 0x65, 0x14,              //   ICMPv6 echo request, checksum 0x6514
    0x14, 0x90, 0x00, 0x01,              //   identifier 0x1490, sequence 1
    0xdb, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  //   ping's data
    0x37, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// `ping -6 -c 1 -s 1400 2001:db8:1::2`: the gateway's packet too big, first
// 16 of its 1240 bytes (the ICMPv6 message only; the whole message is in
// tests/fuzz/corpus/icmp6/packet_too_big_mtu_1280.bin).
// clang-format off
const std::vector<uint8_t> kPacketTooBigPrefix = {
    0x02,                                // ICMPv6 type 2 (packet too big)
    0x00,                                // code 0
    0xc4, 0xf8,                          // checksum 0xc4f8 (over all 1240 bytes)
    0x00, 0x00, 0x05, 0x00,              // MTU 1280
    0x60, 0x00, 0x73, 0x2f,              // invoking packet: IPv6, flow label 0x0732f
    0x05, 0x80, 0x3a, 0x40,              //   payload length 1408, next header ICMPv6, hop limit 64
};
// clang-format on

struct Message {
  Ipv6Addr src;
  Ipv6Addr dst;
  ConstBytes icmp;
};

// The ICMPv6 message of a captured frame and the addresses it was sent with.
Message icmp_of(const std::vector<uint8_t>& frame) {
  auto ip = Ipv6View::parse(as_bytes(frame).subspan(kEthernetHeaderLen));
  TAPIR_CHECK(ip.has_value() && ip->upper_protocol() == ipproto::kIcmpv6);
  return {ip->source(), ip->destination(), ip->upper_payload()};
}

std::vector<uint8_t> copy_of(ConstBytes b) {
  std::vector<uint8_t> v(b.size());
  store_bytes(as_writable_bytes(v), 0, b);
  return v;
}

TEST(Icmp6View, ParsesEchoRequest) {
  const Message m = icmp_of(kEchoRequestFrame);
  auto icmp = Icmp6View::parse(m.icmp);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmp6_type::kEchoRequest);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->checksum(), 0xd0f2);
  EXPECT_TRUE(icmp->checksum_ok(m.src, m.dst));
  EXPECT_TRUE(icmp->is_echo());
  EXPECT_FALSE(icmp->is_error());
  EXPECT_EQ(icmp->identifier(), 0x148d);
  EXPECT_EQ(icmp->sequence(), 1);
  EXPECT_EQ(icmp->body().size(), 56u);
}

TEST(Icmp6View, ChecksumCoversThePseudoHeader) {
  const Message m = icmp_of(kEchoRequestFrame);
  auto icmp = Icmp6View::parse(m.icmp);
  ASSERT_TRUE(icmp);
  // The same bytes "from" another address do not verify.
  EXPECT_FALSE(icmp->checksum_ok(*Ipv6Addr::parse("fd00::101"), m.dst));
  EXPECT_FALSE(icmp->checksum_ok(m.src, *Ipv6Addr::parse("fd00::3")));
  // Swapped addresses sum the same (addition commutes).
  EXPECT_TRUE(icmp->checksum_ok(m.dst, m.src));
  auto corrupt = copy_of(m.icmp);
  corrupt[30] ^= 0x80;
  EXPECT_FALSE(Icmp6View::parse(as_bytes(corrupt))->checksum_ok(m.src, m.dst));
}

TEST(Icmp6View, ParsesNeighborDiscoveryMessages) {
  struct Case {
    const std::vector<uint8_t>* frame;
    uint8_t type;
    uint32_t rest_of_header;
    size_t body_len;
  };
  const Case cases[] = {
      {&kNeighborSolicitationFrame, icmp6_type::kNeighborSolicitation, 0, 24},
      {&kNeighborAdvertisementFrame, icmp6_type::kNeighborAdvertisement, 0xe0000000u, 24},
      {&kRouterSolicitationFrame, icmp6_type::kRouterSolicitation, 0, 0},
  };
  for (const auto& c : cases) {
    const Message m = icmp_of(*c.frame);
    auto icmp = Icmp6View::parse(m.icmp);
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), c.type);
    EXPECT_EQ(icmp->code(), 0);
    EXPECT_TRUE(icmp->checksum_ok(m.src, m.dst)) << int{c.type};
    EXPECT_FALSE(icmp->is_error());
    EXPECT_FALSE(icmp->is_echo());
    EXPECT_EQ(icmp->rest_of_header(), c.rest_of_header);
    EXPECT_EQ(icmp->body().size(), c.body_len);
  }
}

TEST(Icmp6View, ParsesErrorsAndTheirInvokingPacket) {
  struct Case {
    const std::vector<uint8_t>* frame;
    uint8_t type;
    uint8_t code;
    const char* invoking_dst;
    uint8_t invoking_protocol;
  };
  const Case cases[] = {
      {&kPortUnreachableFrame, icmp6_type::kDestUnreachable, icmp6_unreach::kPort, "fd00::2",
       ipproto::kUdp},
      {&kTimeExceededFrame, icmp6_type::kTimeExceeded, icmp6_time_exceeded::kHopLimit,
       "2001:db8:1::2", ipproto::kIcmpv6},
  };
  for (const auto& c : cases) {
    const Message m = icmp_of(*c.frame);
    auto icmp = Icmp6View::parse(m.icmp);
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), c.type);
    EXPECT_EQ(icmp->code(), c.code);
    EXPECT_TRUE(icmp->is_error());
    EXPECT_TRUE(icmp->checksum_ok(m.src, m.dst));
    auto inner = Ipv6View::parse(icmp->invoking_packet());
    ASSERT_TRUE(inner) << c.invoking_dst;
    EXPECT_EQ(inner->source(), *Ipv6Addr::parse("fd00::100"));
    EXPECT_EQ(inner->destination(), *Ipv6Addr::parse(c.invoking_dst));
    EXPECT_EQ(inner->upper_protocol(), c.invoking_protocol);
  }
}

TEST(Icmp6View, PacketTooBigCarriesTheMtu) {
  auto icmp = Icmp6View::parse(as_bytes(kPacketTooBigPrefix));
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmp6_type::kPacketTooBig);
  EXPECT_TRUE(icmp->is_error());
  EXPECT_EQ(icmp->mtu(), 1280u);
  EXPECT_EQ(icmp->invoking_packet().size(), 8u);
}

TEST(Icmp6EchoRepr, RoundTripIsByteExact) {
  for (const auto* frame : {&kEchoRequestFrame, &kEchoReplyFrame}) {
    const Message m = icmp_of(*frame);
    const auto msg = copy_of(m.icmp);
    auto repr = Icmp6EchoRepr::parse(*Icmp6View::parse(as_bytes(msg)));
    ASSERT_TRUE(repr);
    auto out = msg;
    repr->emit(as_writable_bytes(out));
    icmp6_fill_checksum(as_writable_bytes(out), m.src, m.dst);
    EXPECT_EQ(out, msg);
  }
}

TEST(Icmp6EchoRepr, BuildsTheReplyTheGatewaySent) {
  const Message req_msg = icmp_of(kEchoRequestFrame);
  auto request = Icmp6View::parse(req_msg.icmp);
  ASSERT_TRUE(request);
  auto req = Icmp6EchoRepr::parse(*request);
  ASSERT_TRUE(req);
  const Icmp6EchoRepr reply{icmp6_type::kEchoReply, req->identifier, req->sequence};
  std::vector<uint8_t> out(Icmp6EchoRepr::buffer_len() + request->body().size());
  reply.emit(as_writable_bytes(out));
  store_bytes(as_writable_bytes(out), Icmp6EchoRepr::buffer_len(), request->body());
  icmp6_fill_checksum(as_writable_bytes(out), req_msg.dst, req_msg.src);
  EXPECT_EQ(out, copy_of(icmp_of(kEchoReplyFrame).icmp));
}

TEST(Icmp6ErrorRepr, RoundTripIsByteExact) {
  for (const auto* frame : {&kPortUnreachableFrame, &kTimeExceededFrame}) {
    const Message m = icmp_of(*frame);
    const auto msg = copy_of(m.icmp);
    auto repr = Icmp6ErrorRepr::parse(*Icmp6View::parse(as_bytes(msg)));
    ASSERT_TRUE(repr);
    auto out = msg;
    repr->emit(as_writable_bytes(out));
    icmp6_fill_checksum(as_writable_bytes(out), m.src, m.dst);
    EXPECT_EQ(out, msg);
  }
  auto ptb = Icmp6ErrorRepr::parse(*Icmp6View::parse(as_bytes(kPacketTooBigPrefix)));
  ASSERT_TRUE(ptb);
  EXPECT_EQ(ptb->type, icmp6_type::kPacketTooBig);
  EXPECT_EQ(ptb->rest_of_header, 1280u);
}

TEST(Icmp6ErrorRepr, BuildsThePortUnreachableTheGatewaySent) {
  const Message m = icmp_of(kPortUnreachableFrame);
  const ConstBytes quote = m.icmp.subspan(Icmp6ErrorRepr::buffer_len());
  Ipv6Repr ip;
  ip.src = m.src;
  ip.dst = m.dst;
  ip.next_header = ipproto::kIcmpv6;
  ip.flow_label = 0x7ef84;
  ip.payload_len = Icmp6ErrorRepr::buffer_len() + quote.size();
  const Icmp6ErrorRepr err{icmp6_type::kDestUnreachable, icmp6_unreach::kPort, 0};

  std::vector<uint8_t> out(ip.total_len());
  const MutBytes o = as_writable_bytes(out);
  ip.emit(o);
  const MutBytes icmp = o.subspan(Ipv6Repr::buffer_len());
  err.emit(icmp);
  store_bytes(icmp, Icmp6ErrorRepr::buffer_len(), quote);
  icmp6_fill_checksum(icmp, ip.src, ip.dst);
  EXPECT_EQ(out, std::vector<uint8_t>(kPortUnreachableFrame.begin() + kEthernetHeaderLen,
                                      kPortUnreachableFrame.end()));
}

TEST(Icmp6View, TruncatedInputs) {
  const auto rs = copy_of(icmp_of(kRouterSolicitationFrame).icmp);  // exactly 8 bytes
  for (size_t n = 0; n < kIcmp6HeaderLen; ++n) {
    std::vector<uint8_t> cut(rs.begin(), rs.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = Icmp6View::parse(as_bytes(cut));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::kTruncated) << n;
  }
  EXPECT_TRUE(Icmp6View::parse(as_bytes(rs)));
}

struct WrongKind {
  const char* name;
  std::vector<uint8_t> bytes;
  bool echo_ok;
  bool error_ok;
};

TEST(Icmp6Reprs, AcceptOnlyTheirKinds) {
  const std::vector<WrongKind> cases = {
      {"echo request", {128, 0, 0, 0, 0, 1, 0, 1}, true, false},
      {"echo reply", {129, 0, 0, 0, 0, 1, 0, 1}, true, false},
      {"dest unreachable", {1, 4, 0, 0, 0, 0, 0, 0}, false, true},
      {"packet too big", {2, 0, 0, 0, 0, 0, 5, 0}, false, true},
      {"time exceeded", {3, 1, 0, 0, 0, 0, 0, 0}, false, true},
      {"parameter problem", {4, 1, 0, 0, 0, 0, 0, 40}, false, true},
      {"unassigned error type 100", {100, 0, 0, 0, 0, 0, 0, 0}, false, true},
      {"router solicitation", {133, 0, 0, 0, 0, 0, 0, 0}, false, false},
      {"neighbor advertisement", {136, 0, 0, 0, 0x60, 0, 0, 0}, false, false},
      {"redirect", {137, 0, 0, 0, 0, 0, 0, 0}, false, false},
  };
  for (const auto& c : cases) {
    auto v = Icmp6View::parse(as_bytes(c.bytes));
    ASSERT_TRUE(v) << c.name;
    auto echo = Icmp6EchoRepr::parse(*v);
    auto err = Icmp6ErrorRepr::parse(*v);
    EXPECT_EQ(echo.has_value(), c.echo_ok) << c.name;
    EXPECT_EQ(err.has_value(), c.error_ok) << c.name;
    if (!echo) {
      EXPECT_EQ(echo.error(), ParseError::kUnsupported) << c.name;
    }
    if (!err) {
      EXPECT_EQ(err.error(), ParseError::kUnsupported) << c.name;
    }
  }
}

}  // namespace
}  // namespace tapir::wire
