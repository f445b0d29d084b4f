#include "wire/icmp4.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// Frames captured with tcpdump on a veth pair between two private network
// namespaces, each side a Linux kernel: the "guest" 52:54:00:12:34:56 /
// 10.0.2.100 and the "gateway" 52:55:0a:00:02:02 / 10.0.2.2, which routes
// to 192.0.2.0/24 over a link with MTU 1280 and has a "prohibit" route for
// 198.51.100.0/24.

// `ping -c 1 10.0.2.2`: echo request.
// clang-format off
const std::vector<uint8_t> kEchoRequestFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0x00, 0x00, 0x54,              // IPv4, IHL 5, DSCP 0, total length 84
    0xbb, 0xad, 0x40, 0x00,              // identification 0xbbad, DF
    0x40, 0x01, 0x66, 0x96,              // TTL 64, protocol ICMP, header checksum 0x6696
    0x0a, 0x00, 0x02, 0x64,              // source 10.0.2.100
    0x0a, 0x00, 0x02, 0x02,              // destination 10.0.2.2
    0x08,                                // ICMP type 8 (echo request)
    0x00,                                // code 0
    0xae, 0x08,                          // checksum 0xae08
    0x14, 0x84,                          // identifier 0x1484
    0x00, 0x01,                          // sequence 1
    0xda, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // ping's timestamp
    0x94, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,  // ping's pattern 0x10..0x37
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// The gateway's echo reply to it.
// clang-format off
const std::vector<uint8_t> kEchoReplyFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0x00, 0x00, 0x54,              // IPv4, IHL 5, DSCP 0, total length 84
    0x44, 0x77, 0x00, 0x00,              // identification 0x4477, no flags
    0x40, 0x01, 0x1d, 0xcd,              // TTL 64, protocol ICMP, header checksum 0x1dcd
    0x0a, 0x00, 0x02, 0x02,              // source 10.0.2.2
    0x0a, 0x00, 0x02, 0x64,              // destination 10.0.2.100
    0x00,                                // ICMP type 0 (echo reply)
    0x00,                                // code 0
    0xb6, 0x08,                          // checksum 0xb608
    0x14, 0x84,                          // identifier 0x1484 (echoed)
    0x00, 0x01,                          // sequence 1 (echoed)
    0xda, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // the request's data, echoed
    0x94, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// `echo hello > /dev/udp/10.0.2.2/9`: the gateway's port unreachable,
// quoting the whole 34-byte UDP datagram.
// clang-format off
const std::vector<uint8_t> kPortUnreachableFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0xc0, 0x00, 0x3e,              // IPv4, IHL 5, DSCP 48 (CS6), total length 62
    0x44, 0x7b, 0x00, 0x00,              // identification 0x447b, no flags
    0x40, 0x01, 0x1d, 0x1f,              // TTL 64, protocol ICMP, header checksum 0x1d1f
    0x0a, 0x00, 0x02, 0x02,              // source 10.0.2.2
    0x0a, 0x00, 0x02, 0x64,              // destination 10.0.2.100
    0x03,                                // ICMP type 3 (destination unreachable)
    0x03,                                // code 3 (port unreachable)
    0x04, 0x70,                          // checksum 0x0470
    0x00, 0x00, 0x00, 0x00,              // unused
    0x45, 0x00, 0x00, 0x22,              // invoking datagram: IPv4, total length 34
    0xc7, 0x2e, 0x40, 0x00,              //   identification 0xc72e, DF
    0x40, 0x11, 0x5b, 0x37,              //   TTL 64, protocol UDP, header checksum 0x5b37
    0x0a, 0x00, 0x02, 0x64,              //   source 10.0.2.100
    0x0a, 0x00, 0x02, 0x02,              //   destination 10.0.2.2
    0x9c, 0x14, 0x00, 0x09,              //   UDP source port 39956, destination port 9
    0x00, 0x0e, 0x18, 0x85,              //   UDP length 14, checksum 0x1885
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a,  //   "hello\n"
};
// clang-format on

// `ping -c 1 -W 1 -t 1 192.0.2.2`: the gateway's time exceeded (TTL 1
// reached it), quoting the whole 84-byte echo request.
// clang-format off
const std::vector<uint8_t> kTimeExceededFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0xc0, 0x00, 0x70,              // IPv4, IHL 5, DSCP 48 (CS6), total length 112
    0x44, 0x7c, 0x00, 0x00,              // identification 0x447c, no flags
    0x40, 0x01, 0x1c, 0xec,              // TTL 64, protocol ICMP, header checksum 0x1cec
    0x0a, 0x00, 0x02, 0x02,              // source 10.0.2.2
    0x0a, 0x00, 0x02, 0x64,              // destination 10.0.2.100
    0x0b,                                // ICMP type 11 (time exceeded)
    0x00,                                // code 0 (TTL exceeded in transit)
    0xf4, 0xff,                          // checksum 0xf4ff
    0x00, 0x00, 0x00, 0x00,              // unused
    0x45, 0x00, 0x00, 0x54,              // invoking datagram: IPv4, total length 84
    0x72, 0x6a, 0x40, 0x00,              //   identification 0x726a, DF
    0x01, 0x01, 0x38, 0xd9,              //   TTL 1, protocol ICMP, header checksum 0x38d9
    0x0a, 0x00, 0x02, 0x64,              //   source 10.0.2.100
    0xc0, 0x00, 0x02, 0x02,              //   destination 192.0.2.2
    0x08, 0x00, 0x0d, 0xbf,              //   ICMP echo request, checksum 0x0dbf
    0x14, 0x88, 0x00, 0x01,              //   identifier 0x1488, sequence 1
    0xda, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  //   ping's data
    0x34, 0x95, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// `ping -c 1 198.51.100.1` into the gateway's "prohibit" route.
// clang-format off
const std::vector<uint8_t> kAdminProhibitedFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0xc0, 0x00, 0x70,              // IPv4, IHL 5, DSCP 48 (CS6), total length 112
    0x44, 0x7e, 0x00, 0x00,              // identification 0x447e, no flags
    0x40, 0x01, 0x1c, 0xea,              // TTL 64, protocol ICMP, header checksum 0x1cea
    0x0a, 0x00, 0x02, 0x02,              // source 10.0.2.2
    0x0a, 0x00, 0x02, 0x64,              // destination 10.0.2.100
    0x03,                                // ICMP type 3 (destination unreachable)
    0x0d,                                // code 13 (communication administratively prohibited)
    0xfc, 0xf2,                          // checksum 0xfcf2
    0x00, 0x00, 0x00, 0x00,              // unused
    0x45, 0x00, 0x00, 0x54,              // invoking datagram: IPv4, total length 84
    0xec, 0x9c, 0x40, 0x00,              //   identification 0xec9c, DF
    0x40, 0x01, 0x17, 0x74,              //   TTL 64, protocol ICMP, header checksum 0x1774
    0x0a, 0x00, 0x02, 0x64,              //   source 10.0.2.100
    0xc6, 0x33, 0x64, 0x01,              //   destination 198.51.100.1
    0x08, 0x00, 0x6b, 0xa1,              //   ICMP echo request, checksum 0x6ba1
    0x14, 0x8a, 0x00, 0x01,              //   identifier 0x148a, sequence 1
    0xda, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  //   ping's data
    0xd6, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// `ping -c 1 -M do -s 1400 192.0.2.2`: the gateway's fragmentation needed
// (RFC 1191), first 36 of its 556 bytes (the ICMP message only; the whole
// quote is in tests/fuzz/corpus/icmp4/frag_needed_mtu_1280.bin).
// clang-format off
const std::vector<uint8_t> kFragNeededPrefix = {
    0x03,                                // ICMP type 3 (destination unreachable)
    0x04,                                // code 4 (fragmentation needed and DF set)
    0x0e, 0xc9,                          // checksum 0x0ec9 (over all 556 bytes)
    0x00, 0x00,                          // unused
    0x05, 0x00,                          // next-hop MTU 1280
    0x45, 0x00, 0x05, 0x94,              // invoking datagram: IPv4, total length 1428
    0x00, 0x00, 0x40, 0x00,              //   identification 0, DF
    0x40, 0x01, 0x67, 0x03,              //   TTL 64, protocol ICMP, header checksum 0x6703
    0x0a, 0x00, 0x02, 0x64,              //   source 10.0.2.100
    0xc0, 0x00, 0x02, 0x02,              //   destination 192.0.2.2
    0x08, 0x00, 0x50, 0x65,              //   ICMP echo request, checksum 0x5065
    0x14, 0x89, 0x00, 0x01,              //   identifier 0x1489, sequence 1
};
// clang-format on

// The ICMP message of a captured frame: the IPv4 payload.
ConstBytes icmp_of(const std::vector<uint8_t>& frame) {
  auto ip = Ipv4View::parse(as_bytes(frame).subspan(kEthernetHeaderLen));
  TAPIR_CHECK(ip.has_value() && ip->protocol() == ipproto::kIcmp);
  return ip->payload();
}

std::vector<uint8_t> copy_of(ConstBytes b) {
  std::vector<uint8_t> v(b.size());
  store_bytes(as_writable_bytes(v), 0, b);
  return v;
}

TEST(Icmp4View, ParsesEchoRequest) {
  auto icmp = Icmp4View::parse(icmp_of(kEchoRequestFrame));
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmp4_type::kEchoRequest);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->checksum(), 0xae08);
  EXPECT_TRUE(icmp->checksum_ok());
  EXPECT_TRUE(icmp->is_echo());
  EXPECT_FALSE(icmp->is_error());
  EXPECT_EQ(icmp->identifier(), 0x1484);
  EXPECT_EQ(icmp->sequence(), 1);
  EXPECT_EQ(icmp->rest_of_header(), 0x14840001u);
  EXPECT_EQ(icmp->body().size(), 56u);
  EXPECT_EQ(icmp->bytes().size(), 64u);
}

TEST(Icmp4View, ParsesEchoReply) {
  auto icmp = Icmp4View::parse(icmp_of(kEchoReplyFrame));
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmp4_type::kEchoReply);
  EXPECT_TRUE(icmp->checksum_ok());
  EXPECT_EQ(icmp->identifier(), 0x1484);
  EXPECT_EQ(icmp->sequence(), 1);
}

TEST(Icmp4View, ParsesErrorsAndTheirInvokingPacket) {
  struct Case {
    const std::vector<uint8_t>* frame;
    uint8_t type;
    uint8_t code;
    Ipv4Addr invoking_dst;
    uint8_t invoking_protocol;
  };
  const Case cases[] = {
      {&kPortUnreachableFrame, icmp4_type::kDestUnreachable, icmp4_unreach::kPort,
       Ipv4Addr::from_octets(10, 0, 2, 2), ipproto::kUdp},
      {&kTimeExceededFrame, icmp4_type::kTimeExceeded, icmp4_time_exceeded::kTtl,
       Ipv4Addr::from_octets(192, 0, 2, 2), ipproto::kIcmp},
      {&kAdminProhibitedFrame, icmp4_type::kDestUnreachable, icmp4_unreach::kAdminProhibited,
       Ipv4Addr::from_octets(198, 51, 100, 1), ipproto::kIcmp},
  };
  for (const auto& c : cases) {
    auto icmp = Icmp4View::parse(icmp_of(*c.frame));
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), c.type);
    EXPECT_EQ(icmp->code(), c.code);
    EXPECT_TRUE(icmp->is_error());
    EXPECT_FALSE(icmp->is_echo());
    EXPECT_TRUE(icmp->checksum_ok());
    EXPECT_EQ(icmp->rest_of_header(), 0u);
    // Linux quotes whole small datagrams, so the quote parses as one.
    auto inner = Ipv4View::parse(icmp->invoking_packet());
    ASSERT_TRUE(inner) << int{c.code};
    EXPECT_EQ(inner->source(), Ipv4Addr::from_octets(10, 0, 2, 100));
    EXPECT_EQ(inner->destination(), c.invoking_dst);
    EXPECT_EQ(inner->protocol(), c.invoking_protocol);
  }
}

TEST(Icmp4View, FragmentationNeededCarriesTheNextHopMtu) {
  auto icmp = Icmp4View::parse(as_bytes(kFragNeededPrefix));
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), icmp4_type::kDestUnreachable);
  EXPECT_EQ(icmp->code(), icmp4_unreach::kFragmentationNeeded);
  EXPECT_EQ(icmp->next_hop_mtu(), 1280);
  // A quote cut short (as routers do) is not a whole datagram: its total
  // length says 1428.
  auto inner = Ipv4View::parse(icmp->invoking_packet());
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error(), ParseError::kBadLength);
}

TEST(Icmp4View, ChecksumDetectsCorruption) {
  auto msg = copy_of(icmp_of(kEchoRequestFrame));
  msg[20] ^= 0x01;
  EXPECT_FALSE(Icmp4View::parse(as_bytes(msg))->checksum_ok());
  // Odd length: the last byte is summed as the high half of a word.
  auto odd = copy_of(icmp_of(kPortUnreachableFrame));  // 42 bytes
  odd.push_back(0x00);                                 // a zero byte changes nothing...
  EXPECT_TRUE(Icmp4View::parse(as_bytes(odd))->checksum_ok());
  odd.back() = 0x01;  // ...another does
  EXPECT_FALSE(Icmp4View::parse(as_bytes(odd))->checksum_ok());
}

TEST(Icmp4EchoRepr, RoundTripIsByteExact) {
  for (const auto* frame : {&kEchoRequestFrame, &kEchoReplyFrame}) {
    const auto msg = copy_of(icmp_of(*frame));
    auto repr = Icmp4EchoRepr::parse(*Icmp4View::parse(as_bytes(msg)));
    ASSERT_TRUE(repr);
    auto out = msg;
    repr->emit(as_writable_bytes(out));
    icmp4_fill_checksum(as_writable_bytes(out));
    EXPECT_EQ(out, msg);
  }
}

TEST(Icmp4EchoRepr, BuildsTheReplyTheGatewaySent) {
  // What tapir does for a ping to its gateway address: reply header, the
  // request's body, checksum over the whole.
  auto request = Icmp4View::parse(icmp_of(kEchoRequestFrame));
  ASSERT_TRUE(request);
  auto req = Icmp4EchoRepr::parse(*request);
  ASSERT_TRUE(req);
  const Icmp4EchoRepr reply{icmp4_type::kEchoReply, req->identifier, req->sequence};
  std::vector<uint8_t> out(Icmp4EchoRepr::buffer_len() + request->body().size());
  reply.emit(as_writable_bytes(out));
  store_bytes(as_writable_bytes(out), Icmp4EchoRepr::buffer_len(), request->body());
  icmp4_fill_checksum(as_writable_bytes(out));
  EXPECT_EQ(out, copy_of(icmp_of(kEchoReplyFrame)));
}

TEST(Icmp4ErrorRepr, RoundTripIsByteExact) {
  for (const auto* frame : {&kPortUnreachableFrame, &kTimeExceededFrame, &kAdminProhibitedFrame}) {
    const auto msg = copy_of(icmp_of(*frame));
    auto repr = Icmp4ErrorRepr::parse(*Icmp4View::parse(as_bytes(msg)));
    ASSERT_TRUE(repr);
    auto out = msg;
    repr->emit(as_writable_bytes(out));
    icmp4_fill_checksum(as_writable_bytes(out));
    EXPECT_EQ(out, msg);
  }
  auto frag = Icmp4ErrorRepr::parse(*Icmp4View::parse(as_bytes(kFragNeededPrefix)));
  ASSERT_TRUE(frag);
  EXPECT_EQ(frag->rest_of_header, 1280u);
}

TEST(Icmp4ErrorRepr, BuildsThePortUnreachableTheGatewaySent) {
  // The whole frame after Ethernet: IPv4 header, ICMP header, the quote.
  const Ipv4View invoking = *Ipv4View::parse(icmp_of(kPortUnreachableFrame).subspan(8));
  Ipv4Repr ip;
  ip.src = Ipv4Addr::from_octets(10, 0, 2, 2);
  ip.dst = Ipv4Addr::from_octets(10, 0, 2, 100);
  ip.protocol = ipproto::kIcmp;
  ip.identification = 0x447b;
  ip.dont_fragment = false;
  ip.dscp = 48;
  ip.payload_len = Icmp4ErrorRepr::buffer_len() + invoking.bytes().size();
  const Icmp4ErrorRepr err{icmp4_type::kDestUnreachable, icmp4_unreach::kPort, 0};

  std::vector<uint8_t> out(ip.total_len());
  const MutBytes o = as_writable_bytes(out);
  ip.emit(o);
  const MutBytes icmp = o.subspan(Ipv4Repr::buffer_len());
  err.emit(icmp);
  store_bytes(icmp, Icmp4ErrorRepr::buffer_len(), invoking.bytes());
  icmp4_fill_checksum(icmp);
  EXPECT_EQ(out, std::vector<uint8_t>(kPortUnreachableFrame.begin() + kEthernetHeaderLen,
                                      kPortUnreachableFrame.end()));
}

TEST(Icmp4View, TruncatedInputs) {
  const auto echo = copy_of(icmp_of(kEchoRequestFrame));
  for (size_t n = 0; n < kIcmp4HeaderLen; ++n) {
    std::vector<uint8_t> cut(echo.begin(), echo.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = Icmp4View::parse(as_bytes(cut));
    ASSERT_FALSE(r) << n;
    EXPECT_EQ(r.error(), ParseError::kTruncated) << n;
  }
  // Exactly the header: an echo with no data is fine.
  std::vector<uint8_t> header(echo.begin(), echo.begin() + 8);
  auto icmp = Icmp4View::parse(as_bytes(header));
  ASSERT_TRUE(icmp);
  EXPECT_TRUE(icmp->body().empty());
}

struct WrongKind {
  const char* name;
  std::vector<uint8_t> bytes;
  bool echo_ok;
  bool error_ok;
};

TEST(Icmp4Reprs, AcceptOnlyTheirKinds) {
  const std::vector<WrongKind> cases = {
      {"echo request", {8, 0, 0, 0, 0, 1, 0, 1}, true, false},
      {"echo reply", {0, 0, 0, 0, 0, 1, 0, 1}, true, false},
      {"dest unreachable", {3, 3, 0, 0, 0, 0, 0, 0}, false, true},
      {"source quench", {4, 0, 0, 0, 0, 0, 0, 0}, false, true},
      {"redirect", {5, 1, 0, 0, 10, 0, 2, 1}, false, true},
      {"time exceeded", {11, 1, 0, 0, 0, 0, 0, 0}, false, true},
      {"parameter problem", {12, 0, 0, 0, 20, 0, 0, 0}, false, true},
      {"timestamp request", {13, 0, 0, 0, 0, 0, 0, 0}, false, false},
      {"unassigned type 200", {200, 0, 0, 0, 0, 0, 0, 0}, false, false},
  };
  for (const auto& c : cases) {
    auto v = Icmp4View::parse(as_bytes(c.bytes));
    ASSERT_TRUE(v) << c.name;  // the view takes any type
    auto echo = Icmp4EchoRepr::parse(*v);
    auto err = Icmp4ErrorRepr::parse(*v);
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
