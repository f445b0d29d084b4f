#include "wire/udp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// Captured with tcpdump on a veth between two private namespaces
// (192.0.2.1 / 2001:db8::1 -> 192.0.2.2 / 2001:db8::2, tx checksum offload
// off so the checksums are complete), sent by
// `echo "udp payload v4" | socat -u - UDP4-SENDTO:192.0.2.2:5353,sourceport=40003`.
// UDP datagram only (the IPv4 header is stripped).
const Ipv4Addr kSrc4 = Ipv4Addr::from_octets(192, 0, 2, 1);
const Ipv4Addr kDst4 = Ipv4Addr::from_octets(192, 0, 2, 2);
const std::vector<uint8_t> kUdpV4 = {
    0x9c, 0x43,  // source port 40003
    0x14, 0xe9,  // destination port 5353
    0x00, 0x17,  // length 23 = 8 + 15
    0xa7, 0x86,  // checksum
    'u',  'd',  'p', ' ', 'p', 'a', 'y', 'l', 'o', 'a', 'd', ' ', 'v', '4', '\n',
};

// Same exchange over IPv6: UDP6-SENDTO:[2001:db8::2]:5354,sourceport=40004.
const Ipv6Addr kSrc6 = *Ipv6Addr::parse("2001:db8::1");
const Ipv6Addr kDst6 = *Ipv6Addr::parse("2001:db8::2");
const std::vector<uint8_t> kUdpV6 = {
    0x9c, 0x44,  // source port 40004
    0x14, 0xea,  // destination port 5354
    0x00, 0x17,  // length 23
    0xd0, 0x11,  // checksum
    'u',  'd',  'p', ' ', 'p', 'a', 'y', 'l', 'o', 'a', 'd', ' ', 'v', '6', '\n',
};

// Read from a tap with IFF_VNET_HDR and checksum offload on (TUN_F_CSUM):
// the kernel in the namespace (192.0.2.2) sent it to 192.0.2.1 with
// virtio_net_hdr NEEDS_CSUM, so the checksum field holds only the folded
// pseudo-header sum, for the reader to complete.
const std::vector<uint8_t> kUdpV4PartialCsum = {
    0x9c, 0x54,  // source port 40020
    0x14, 0xe9,  // destination port 5353
    0x00, 0x14,  // length 20 = 8 + 12
    0x84, 0x29,  // pseudo-header sum, not a checksum
    'u',  'd',  'p', ' ', 'v', 'i', 'a', ' ', 't', 'a', 'p', '\n',
};

std::string text(ConstBytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};  // NOLINT: bytes as chars
}

TEST(UdpView, ParsesFields) {
  auto udp = UdpView::parse(as_bytes(kUdpV4));
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->source_port(), 40003);
  EXPECT_EQ(udp->destination_port(), 5353);
  EXPECT_EQ(udp->length(), 23);
  EXPECT_EQ(udp->checksum(), 0xa786);
  EXPECT_EQ(text(udp->payload()), "udp payload v4\n");
  EXPECT_EQ(udp->bytes().size(), 23u);
}

TEST(UdpView, ChecksumOfCapturedDatagramsIsOk) {
  auto v4 = UdpView::parse(as_bytes(kUdpV4));
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->checksum_ok(kSrc4, kDst4));
  EXPECT_FALSE(v4->checksum_ok(kDst4, Ipv4Addr::from_octets(192, 0, 2, 3)));

  auto v6 = UdpView::parse(as_bytes(kUdpV6));
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->checksum_ok(kSrc6, kDst6));
  EXPECT_FALSE(v6->checksum_ok(kSrc6, *Ipv6Addr::parse("2001:db8::3")));
}

TEST(UdpView, CorruptedPayloadFailsChecksum) {
  auto bytes = kUdpV4;
  bytes[10] ^= 0x01;
  auto udp = UdpView::parse(as_bytes(bytes));
  ASSERT_TRUE(udp);
  EXPECT_FALSE(udp->checksum_ok(kSrc4, kDst4));
}

TEST(UdpView, ZeroChecksumMeansNoneOverIpv4ButIsInvalidOverIpv6) {
  auto v4 = kUdpV4;
  v4[6] = v4[7] = 0;
  auto u4 = UdpView::parse(as_bytes(v4));
  ASSERT_TRUE(u4);
  EXPECT_TRUE(u4->checksum_ok(kSrc4, kDst4));  // RFC 768: sender computed none

  auto v6 = kUdpV6;
  v6[6] = v6[7] = 0;
  auto u6 = UdpView::parse(as_bytes(v6));
  ASSERT_TRUE(u6);
  EXPECT_FALSE(u6->checksum_ok(kSrc6, kDst6));  // RFC 8200 8.1
}

TEST(UdpView, BytesPastTheLengthFieldAreNotPayload) {
  auto padded = kUdpV4;
  padded.insert(padded.end(), {0xde, 0xad, 0xbe, 0xef});
  auto udp = UdpView::parse(as_bytes(padded));
  ASSERT_TRUE(udp);
  EXPECT_EQ(text(udp->payload()), "udp payload v4\n");
  EXPECT_EQ(udp->bytes().size(), 23u);
  EXPECT_TRUE(udp->checksum_ok(kSrc4, kDst4));  // the padding is not summed
}

TEST(UdpView, HeaderOnlyDatagramHasEmptyPayload) {
  const std::vector<uint8_t> b = {0x00, 0x35, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00};
  auto udp = UdpView::parse(as_bytes(b));
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->payload().empty());
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

TEST(UdpView, MalformedInputs) {
  const std::vector<Malformed> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"7 bytes", {0x9c, 0x43, 0x14, 0xe9, 0x00, 0x08, 0x00}, ParseError::kTruncated},
      {"length 0 (jumbogram)",
       {0x9c, 0x43, 0x14, 0xe9, 0x00, 0x00, 0x00, 0x00},
       ParseError::kBadLength},
      {"length 7 < header",
       {0x9c, 0x43, 0x14, 0xe9, 0x00, 0x07, 0x00, 0x00},
       ParseError::kBadLength},
      {"length 9 with 8 bytes",
       {0x9c, 0x43, 0x14, 0xe9, 0x00, 0x09, 0x00, 0x00},
       ParseError::kBadLength},
      {"length 24 with 23 bytes",
       {0x9c, 0x43, 0x14, 0xe9, 0x00, 0x18, 0xa7, 0x86, 'u', 'd', 'p', ' ',
        'p',  'a',  'y',  'l',  'o',  'a',  'd',  ' ',  'v', '4', '\n'},
       ParseError::kBadLength},
      {"length 0xffff with 8 bytes", {0, 1, 0, 2, 0xff, 0xff, 0, 0}, ParseError::kBadLength},
  };
  for (const auto& c : cases) {
    auto r = UdpView::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

// parse -> UdpRepr -> emit gives the header back (checksum field 0); with
// the payload copied in, fill_udp_checksum() gives the captured bytes.
void expect_round_trip(const std::vector<uint8_t>& captured, auto fill) {
  auto udp = UdpView::parse(as_bytes(captured));
  ASSERT_TRUE(udp);
  const UdpRepr repr = UdpRepr::parse(*udp);
  ASSERT_EQ(repr.buffer_len(), captured.size());
  std::vector<uint8_t> out(repr.buffer_len(), 0xee);
  repr.emit(as_writable_bytes(out));
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + 6),
            std::vector<uint8_t>(captured.begin(), captured.begin() + 6));
  EXPECT_EQ(out[6], 0);
  EXPECT_EQ(out[7], 0);
  std::copy(captured.begin() + 8, captured.end(), out.begin() + 8);
  fill(as_writable_bytes(out));
  EXPECT_EQ(out, captured);
}

TEST(UdpRepr, RoundTripV4) {
  expect_round_trip(kUdpV4, [](MutBytes d) { fill_udp_checksum(d, kSrc4, kDst4); });
}

TEST(UdpRepr, RoundTripV6) {
  expect_round_trip(kUdpV6, [](MutBytes d) { fill_udp_checksum(d, kSrc6, kDst6); });
}

TEST(UdpRepr, EmitsLengthFromPayloadLen) {
  const UdpRepr repr{.src_port = 53, .dst_port = 40000, .payload_len = 512};
  EXPECT_EQ(UdpRepr::header_len(), 8u);
  EXPECT_EQ(repr.buffer_len(), 520u);
  std::vector<uint8_t> out(8);
  repr.emit(as_writable_bytes(out));
  EXPECT_EQ(out, (std::vector<uint8_t>{0x00, 0x35, 0x9c, 0x40, 0x02, 0x08, 0x00, 0x00}));
}

TEST(UdpChecksum, OffloadedDatagramCarriesThePseudoHeaderSum) {
  // What a NEEDS_CSUM frame holds, and that completing it verifies.
  const Ipv4Addr from = Ipv4Addr::from_octets(192, 0, 2, 2);
  const Ipv4Addr to = Ipv4Addr::from_octets(192, 0, 2, 1);
  Checksum pseudo;
  pseudo.add_ipv4_pseudo(from, to, ipproto::kUdp, static_cast<uint16_t>(kUdpV4PartialCsum.size()));
  EXPECT_EQ(pseudo.sum(), 0x8429);

  auto bytes = kUdpV4PartialCsum;
  ASSERT_FALSE(UdpView::parse(as_bytes(bytes))->checksum_ok(from, to));
  fill_udp_checksum(as_writable_bytes(bytes), from, to);
  auto udp = UdpView::parse(as_bytes(bytes));
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->checksum_ok(from, to));
}

// A payload word chosen so the computed checksum is 0: it must go on the
// wire as 0xffff (RFC 768), which still verifies, over both IP versions.
template <class Addr>
void expect_zero_maps_to_ffff(const Addr& src, const Addr& dst) {
  std::vector<uint8_t> d(10, 0);
  UdpRepr{.src_port = 1234, .dst_port = 5678, .payload_len = 2}.emit(as_writable_bytes(d));
  // Checksum with a zero payload word is ~S; putting ~S in the payload makes
  // the sum S + ~S = 0xffff, whose complement is 0.
  fill_udp_checksum(as_writable_bytes(d), src, dst);
  const uint16_t not_s = static_cast<uint16_t>((d[6] << 8) | d[7]);
  d[8] = static_cast<uint8_t>(not_s >> 8);
  d[9] = static_cast<uint8_t>(not_s & 0xff);
  fill_udp_checksum(as_writable_bytes(d), src, dst);
  EXPECT_EQ(d[6], 0xff);
  EXPECT_EQ(d[7], 0xff);
  auto udp = UdpView::parse(as_bytes(d));
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->checksum_ok(src, dst));
}

TEST(UdpChecksum, ComputedZeroIsSentAsFfff) {
  expect_zero_maps_to_ffff(kSrc4, kDst4);
  expect_zero_maps_to_ffff(kSrc6, kDst6);
}

}  // namespace
}  // namespace tapir::wire
