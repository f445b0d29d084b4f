#include "wire/ipv6.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>
#include <vector>

#include "wire/ethernet.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// Frames captured with tcpdump on a veth pair between two private network
// namespaces, each side a Linux kernel: the "guest" 52:54:00:12:34:56 /
// fd00::100 and the "gateway" 52:55:0a:00:02:02 / fd00::2.

// `ping -6 -c 1 fd00::2`: ICMPv6 echo request, no extension headers.
// clang-format off
const std::vector<uint8_t> kEchoRequestFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x0f, 0x15, 0xdb,              // version 6, traffic class 0, flow label 0xf15db
    0x00, 0x40,                          // payload length 64
    0x3a,                                // next header 58 (ICMPv6)
    0x40,                                // hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x80, 0x00, 0xd0, 0xf2,              // ICMPv6 echo request, code 0, checksum 0xd0f2
    0x14, 0x8d, 0x00, 0x01,              // identifier 0x148d, sequence 1
    0xdb, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // ping's timestamp
    0xfc, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,  // ping's pattern 0x10..0x37
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// The guest kernel's MLDv2 report after the link came up: a Hop-by-Hop
// header carrying Router Alert (RFC 2711), as MLD requires (RFC 3810 5).
// clang-format off
const std::vector<uint8_t> kMldReportFrame = {
    0x33, 0x33, 0x00, 0x00, 0x00, 0x16,  // Ethernet destination 33:33:00:00:00:16
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x00, 0x00, 0x00,              // version 6, traffic class 0, flow label 0
    0x00, 0x38,                          // payload length 56
    0x00,                                // next header 0 (Hop-by-Hop)
    0x01,                                // hop limit 1
    0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fe80::5054:ff:fe12:3456
    0x50, 0x54, 0x00, 0xff, 0xfe, 0x12, 0x34, 0x56,
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination ff02::16 (MLDv2 routers)
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16,
    0x3a, 0x00,                          // Hop-by-Hop: next header 58, hdr ext len 0 (8 bytes)
    0x05, 0x02, 0x00, 0x00,              //   Router Alert, length 2, value 0 (MLD)
    0x01, 0x00,                          //   PadN, length 0
    0x8f, 0x00, 0xb5, 0xca,              // ICMPv6 type 143 (MLDv2 report), checksum 0xb5ca
    0x00, 0x00, 0x00, 0x02,              // reserved, 2 records
    0x04, 0x00, 0x00, 0x00,              // record: change to exclude, no sources
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //   ff02::1:ff00:100
    0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x01, 0x00,
    0x04, 0x00, 0x00, 0x00,              // record: change to exclude, no sources
    0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  //   ff02::1:ff12:3456
    0x00, 0x00, 0x00, 0x01, 0xff, 0x12, 0x34, 0x56,
};
// clang-format on

// A UDP socket with IPV6_HOPOPTS and IPV6_DSTOPTS set (PadN options only),
// sending "tapir" to fd00::2 port 9: Hop-by-Hop, Destination Options, UDP.
// clang-format off
const std::vector<uint8_t> kUdpHbhDstFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x02, 0x89, 0x3d,              // version 6, traffic class 0, flow label 0x2893d
    0x00, 0x1d,                          // payload length 29
    0x00,                                // next header 0 (Hop-by-Hop)
    0x40,                                // hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x3c, 0x00,                          // Hop-by-Hop: next header 60, hdr ext len 0 (8 bytes)
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  //   PadN, length 4
    0x11, 0x00,                          // Destination Options: next header 17, hdr ext len 0
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  //   PadN, length 4
    0xac, 0x26, 0x00, 0x09,              // UDP source port 44070, destination port 9
    0x00, 0x0d, 0x01, 0xd6,              // UDP length 13, checksum 0x01d6
    0x74, 0x61, 0x70, 0x69, 0x72,        // "tapir"
};
// clang-format on

// The same socket sending 2000 bytes: the kernel fragments it and puts both
// option headers in the unfragmentable part. First fragment, cut after 8
// bytes of UDP data (payload length re-stated: 1456 as captured, now 40).
// clang-format off
const std::vector<uint8_t> kChainFirstFragmentFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x02, 0x89, 0x3d,              // version 6, traffic class 0, flow label 0x2893d
    0x00, 0x28,                          // payload length 40 (cut; 1456 as captured)
    0x00,                                // next header 0 (Hop-by-Hop)
    0x40,                                // hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x3c, 0x00,                          // Hop-by-Hop: next header 60, hdr ext len 0 (8 bytes)
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  //   PadN, length 4
    0x2c, 0x00,                          // Destination Options: next header 44, hdr ext len 0
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  //   PadN, length 4
    0x11, 0x00,                          // Fragment: next header 17, reserved
    0x00, 0x01,                          //   offset 0, M 1
    0xbf, 0xf3, 0xd9, 0x0b,              //   identification 0xbff3d90b
    0xac, 0x26, 0x00, 0x09,              // UDP source port 44070, destination port 9
    0x07, 0xd8, 0xb2, 0x74,              // UDP length 2008, checksum 0xb274
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,  // "xxxxxxxx"
};
// clang-format on

// Its second and last fragment, cut after 16 bytes of data (payload
// length re-stated: 600 as captured, now 40).
// clang-format off
const std::vector<uint8_t> kChainLastFragmentFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x02, 0x89, 0x3d,              // version 6, traffic class 0, flow label 0x2893d
    0x00, 0x28,                          // payload length 40 (cut; 600 as captured)
    0x00,                                // next header 0 (Hop-by-Hop)
    0x40,                                // hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x3c, 0x00,                          // Hop-by-Hop: next header 60, hdr ext len 0 (8 bytes)
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  //   PadN, length 4
    0x2c, 0x00,                          // Destination Options: next header 44, hdr ext len 0
    0x01, 0x04, 0x00, 0x00, 0x00, 0x00,  //   PadN, length 4
    0x11, 0x00,                          // Fragment: next header 17, reserved
    0x05, 0x98,                          //   offset 179 (1432 bytes), M 0
    0xbf, 0xf3, 0xd9, 0x0b,              //   identification 0xbff3d90b
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,  // UDP data, not a header
    0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78, 0x78,
};
// clang-format on

// `ping -6 -c 1 -s 3000 fd00::2`: the last of three fragments, whole.
// clang-format off
const std::vector<uint8_t> kFragmentFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x86, 0xdd,                          // EtherType IPv6
    0x60, 0x0f, 0x15, 0xdb,              // version 6, traffic class 0, flow label 0xf15db
    0x00, 0x78,                          // payload length 120
    0x2c,                                // next header 44 (Fragment)
    0x40,                                // hop limit 64
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // source fd00::100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // destination fd00::2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0x3a, 0x00,                          // Fragment: next header 58, reserved
    0x0b, 0x50,                          //   offset 362 (2896 bytes), M 0
    0x93, 0xe3, 0x22, 0x46,              //   identification 0x93e32246
    0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,  // ping's pattern, not an ICMPv6 header
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
    0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
    0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77,
    0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
    0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
};
// clang-format on

std::vector<uint8_t> ip_of(const std::vector<uint8_t>& frame) {
  return {frame.begin() + kEthernetHeaderLen, frame.end()};
}

std::vector<uint8_t> first(const std::vector<uint8_t>& base, size_t n) {
  return {base.begin(), base.begin() + static_cast<std::ptrdiff_t>(n)};
}

std::vector<uint8_t> with(std::vector<uint8_t> base,
                          std::initializer_list<std::pair<size_t, uint8_t>> changes) {
  for (auto [at, value] : changes) base.at(at) = value;
  return base;
}

// Hand-built chains: the echo request's fixed header with next header `nh`,
// then `rest`, payload length set to fit. ext() makes one 8-byte generic
// extension header (PadN inside) naming `next` as what follows it.
std::vector<uint8_t> packet(uint8_t nh, const std::vector<uint8_t>& rest) {
  auto p = first(ip_of(kEchoRequestFrame), kIpv6HeaderLen);
  p[4] = static_cast<uint8_t>(rest.size() >> 8);
  p[5] = static_cast<uint8_t>(rest.size() & 0xff);
  p[6] = nh;
  p.insert(p.end(), rest.begin(), rest.end());
  return p;
}
std::vector<uint8_t> ext(uint8_t next) {
  return {next, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00};
}
std::vector<uint8_t> frag(uint8_t next, uint16_t offset_units, bool more, uint32_t id) {
  const auto word = static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0));
  return {next,
          0x00,
          static_cast<uint8_t>(word >> 8),
          static_cast<uint8_t>(word & 0xff),
          static_cast<uint8_t>(id >> 24),
          static_cast<uint8_t>((id >> 16) & 0xff),
          static_cast<uint8_t>((id >> 8) & 0xff),
          static_cast<uint8_t>(id & 0xff)};
}
std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
// `n` Destination Options headers, the last naming `last`.
std::vector<uint8_t> dst_chain(size_t n, uint8_t last) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < n; ++i) {
    auto e = ext(i + 1 == n ? last : ipproto::kDestOptions);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}
const std::vector<uint8_t> kUdpHeader = {0x30, 0x39, 0x00, 0x09, 0x00, 0x08, 0x00, 0x00};

TEST(Ipv6View, ParsesEchoRequest) {
  const auto pkt = ip_of(kEchoRequestFrame);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->version(), 6);
  EXPECT_EQ(ip->traffic_class(), 0);
  EXPECT_EQ(ip->flow_label(), 0xf15dbu);
  EXPECT_EQ(ip->payload_length(), 64);
  EXPECT_EQ(ip->next_header(), ipproto::kIcmpv6);
  EXPECT_EQ(ip->hop_limit(), 64);
  EXPECT_EQ(ip->source(), *Ipv6Addr::parse("fd00::100"));
  EXPECT_EQ(ip->destination(), *Ipv6Addr::parse("fd00::2"));
  EXPECT_EQ(ip->upper_protocol(), ipproto::kIcmpv6);
  EXPECT_EQ(ip->extension_headers_len(), 0u);
  EXPECT_EQ(ip->extension_header_count(), 0u);
  EXPECT_EQ(ip->upper_payload().size(), 64u);
  EXPECT_EQ(ip->upper_payload().data(), as_bytes(pkt).data() + 40);
  EXPECT_FALSE(ip->has_fragment_header());
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_TRUE(ip->fragment_data().empty());
}

TEST(Ipv6View, WalksHopByHopFirst) {
  const auto pkt = ip_of(kMldReportFrame);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->next_header(), ipproto::kHopByHop);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kIcmpv6);
  EXPECT_EQ(ip->extension_headers_len(), 8u);
  EXPECT_EQ(ip->extension_header_count(), 1u);
  ASSERT_EQ(ip->upper_payload().size(), 48u);
  EXPECT_EQ(ip->upper_payload()[0], std::byte{143});  // MLDv2 report
}

TEST(Ipv6View, WalksHopByHopAndDestinationOptions) {
  const auto pkt = ip_of(kUdpHbhDstFrame);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kUdp);
  EXPECT_EQ(ip->extension_headers_len(), 16u);
  EXPECT_EQ(ip->extension_header_count(), 2u);
  EXPECT_EQ(ip->upper_payload().size(), 13u);  // UDP header and "tapir"
  EXPECT_EQ(ip->upper_payload().data(), as_bytes(pkt).data() + 56);
  EXPECT_FALSE(ip->has_fragment_header());
}

TEST(Ipv6View, WalksHopByHopDestinationOptionsFragmentFirst) {
  const auto pkt = ip_of(kChainFirstFragmentFrame);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->extension_header_count(), 3u);
  EXPECT_EQ(ip->extension_headers_len(), 24u);
  // Offset 0: the walk goes on past the Fragment header to UDP.
  EXPECT_EQ(ip->upper_protocol(), ipproto::kUdp);
  EXPECT_EQ(ip->upper_payload().size(), 16u);
  ASSERT_TRUE(ip->has_fragment_header());
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_TRUE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_identification(), 0xbff3d90bu);
  EXPECT_EQ(ip->fragment_next_header(), ipproto::kUdp);
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->fragment_data().data(), ip->upper_payload().data());
}

TEST(Ipv6View, StopsAtAFragmentHeaderWithNonZeroOffset) {
  const auto pkt = ip_of(kChainLastFragmentFrame);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->extension_header_count(), 3u);
  EXPECT_EQ(ip->extension_headers_len(), 24u);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kUdp);  // of the reassembled datagram
  EXPECT_EQ(ip->fragment_offset(), 179);
  EXPECT_EQ(ip->fragment_offset_bytes(), 1432u);
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->fragment_identification(), 0xbff3d90bu);
  EXPECT_EQ(ip->upper_payload().size(), 16u);
  EXPECT_EQ(ip->fragment_data().size(), 16u);
}

TEST(Ipv6View, ParsesLoneFragmentHeader) {
  const auto pkt = ip_of(kFragmentFrame);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->next_header(), ipproto::kFragment);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kIcmpv6);
  EXPECT_EQ(ip->fragment_offset(), 362);
  EXPECT_EQ(ip->fragment_offset_bytes(), 2896u);
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_identification(), 0x93e32246u);
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->upper_payload().size(), 112u);
}

TEST(Ipv6View, DataAfterANonFirstFragmentIsNotWalked) {
  // Offset 1 and data that looks like a Hop-by-Hop header running past the
  // end: it is data, so the packet is fine.
  const auto pkt = packet(ipproto::kFragment,
                          cat({frag(ipproto::kTcp, 1, false, 7), {0x00, 0xff, 0, 0, 0, 0, 0, 0}}));
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kTcp);
  EXPECT_EQ(ip->upper_payload().size(), 8u);
}

TEST(Ipv6View, AtomicFragmentIsNotAFragment) {
  // RFC 6946: offset 0 and M clear.
  const auto pkt = packet(ipproto::kFragment, cat({frag(ipproto::kUdp, 0, false, 42), kUdpHeader}));
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->has_fragment_header());
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->fragment_identification(), 42u);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kUdp);
}

TEST(Ipv6View, RoutingAndAuthenticationHeaderLengths) {
  // Routing: (1+1)*8 = 16 bytes. AH: payload len 4 -> (4+2)*4 = 24 bytes.
  std::vector<uint8_t> routing = {ipproto::kAh, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uint8_t> ah(24, 0);
  ah[0] = ipproto::kUdp;
  ah[1] = 4;
  const auto pkt = packet(ipproto::kRouting, cat({routing, ah, kUdpHeader}));
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->extension_headers_len(), 40u);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kUdp);
  EXPECT_EQ(ip->upper_payload().size(), 8u);
}

TEST(Ipv6View, EspAndNoNextHeaderEndTheWalk) {
  const auto esp = packet(ipproto::kDestOptions, cat({ext(ipproto::kEsp), {1, 2, 3, 4}}));
  auto ip = Ipv6View::parse(as_bytes(esp));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kEsp);
  EXPECT_EQ(ip->upper_payload().size(), 4u);

  const auto none = packet(ipproto::kNoNextHeader, {});
  ip = Ipv6View::parse(as_bytes(none));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kNoNextHeader);
  EXPECT_TRUE(ip->upper_payload().empty());
}

TEST(Ipv6View, EightHeadersAreTheLimit) {
  const auto pkt =
      packet(ipproto::kHopByHop,
             cat({ext(ipproto::kDestOptions), dst_chain(7, ipproto::kUdp), kUdpHeader}));
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->extension_header_count(), kMaxExtensionHeaders);
  EXPECT_EQ(ip->extension_headers_len(), 64u);
  EXPECT_EQ(ip->upper_protocol(), ipproto::kUdp);
}

TEST(Ipv6View, EthernetPaddingIsExcluded) {
  auto pkt = ip_of(kUdpHbhDstFrame);  // 69 bytes: 83-byte frame
  pkt.resize(pkt.size() + 3, 0);
  auto ip = Ipv6View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->bytes().size(), 69u);
  EXPECT_EQ(ip->upper_payload().size(), 13u);
}

TEST(Ipv6View, RoundTripIsByteExact) {
  for (const auto* frame : {&kEchoRequestFrame, &kMldReportFrame, &kUdpHbhDstFrame,
                            &kChainFirstFragmentFrame, &kChainLastFragmentFrame, &kFragmentFrame}) {
    const auto pkt = ip_of(*frame);
    auto ip = Ipv6View::parse(as_bytes(pkt));
    ASSERT_TRUE(ip);
    const Ipv6Repr repr = Ipv6Repr::parse(*ip);
    EXPECT_EQ(repr.total_len(), pkt.size());
    std::vector<uint8_t> out(Ipv6Repr::buffer_len());
    repr.emit(as_writable_bytes(out));
    EXPECT_EQ(out, first(pkt, kIpv6HeaderLen));
  }
}

TEST(Ipv6Repr, EmitsTheEchoRequestHeader) {
  Ipv6Repr r;
  r.src = *Ipv6Addr::parse("fd00::100");
  r.dst = *Ipv6Addr::parse("fd00::2");
  r.next_header = ipproto::kIcmpv6;
  r.flow_label = 0xf15db;
  r.payload_len = 64;
  std::vector<uint8_t> out(Ipv6Repr::buffer_len());
  r.emit(as_writable_bytes(out));  // hop limit 64 by default
  EXPECT_EQ(out, first(ip_of(kEchoRequestFrame), kIpv6HeaderLen));

  r.traffic_class = 0xb8;  // DSCP 46 (EF), ECN 0
  r.emit(as_writable_bytes(out));
  auto ip = Ipv6View::parse(as_bytes(out).first(kIpv6HeaderLen));
  ASSERT_FALSE(ip);  // payload_len 64 but no payload: only the header was written
  std::vector<uint8_t> whole(r.total_len());
  r.emit(as_writable_bytes(whole));
  ip = Ipv6View::parse(as_bytes(whole));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->dscp(), 46);
  EXPECT_EQ(ip->ecn(), 0);
  EXPECT_EQ(ip->flow_label(), 0xf15dbu);
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

TEST(Ipv6View, MalformedInputs) {
  const auto echo = ip_of(kEchoRequestFrame);  // 104 bytes, payload length 64
  const auto udp = ip_of(kUdpHbhDstFrame);     // HbH, DestOpts, UDP; payload length 29
  const std::vector<Malformed> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"39 bytes", first(echo, 39), ParseError::kTruncated},
      {"version 4", with(echo, {{0, 0x40}}), ParseError::kBadVersion},
      {"version 0", with(echo, {{0, 0x00}}), ParseError::kBadVersion},
      {"version 7", with(echo, {{0, 0x70}}), ParseError::kBadVersion},
      {"payload length 65 > 64 bytes", with(echo, {{5, 65}}), ParseError::kBadLength},
      {"payload length 65535", with(echo, {{4, 0xff}, {5, 0xff}}), ParseError::kBadLength},
      {"cut short by one byte", first(echo, 103), ParseError::kBadLength},
      {"Hop-by-Hop after Destination Options",
       packet(ipproto::kDestOptions,
              cat({ext(ipproto::kHopByHop), ext(ipproto::kUdp), kUdpHeader})),
       ParseError::kBadExtensionHeader},
      {"Hop-by-Hop twice",
       packet(ipproto::kHopByHop, cat({ext(ipproto::kHopByHop), ext(ipproto::kUdp), kUdpHeader})),
       ParseError::kBadExtensionHeader},
      {"Hop-by-Hop after a Fragment header",
       packet(ipproto::kFragment, cat({frag(ipproto::kHopByHop, 0, true, 1), ext(ipproto::kUdp)})),
       ParseError::kBadExtensionHeader},
      {"Hop-by-Hop hdr ext len 1 (16 bytes), 8 present",
       packet(ipproto::kHopByHop, {ipproto::kUdp, 1, 1, 4, 0, 0, 0, 0}),
       ParseError::kBadExtensionHeader},
      {"Destination Options header cut by payload length", with(udp, {{5, 12}}),
       ParseError::kBadExtensionHeader},
      {"4 bytes where an extension header should be",
       packet(ipproto::kDestOptions, {ipproto::kUdp, 0, 1, 2}), ParseError::kBadExtensionHeader},
      {"payload length 0 with Hop-by-Hop (jumbogram)", with(first(udp, 40), {{4, 0}, {5, 0}}),
       ParseError::kBadExtensionHeader},
      {"Fragment header of 6 bytes", packet(ipproto::kFragment, {ipproto::kUdp, 0, 0, 1, 0, 0}),
       ParseError::kBadExtensionHeader},
      {"AH of 24 bytes, 16 present",
       packet(ipproto::kAh, {ipproto::kUdp, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
       ParseError::kBadExtensionHeader},
      {"two Fragment headers",
       packet(ipproto::kFragment, cat({frag(ipproto::kFragment, 0, false, 1),
                                       frag(ipproto::kUdp, 0, true, 2), kUdpHeader})),
       ParseError::kBadExtensionHeader},
      {"first fragment with its chain cut",
       packet(ipproto::kFragment,
              cat({frag(ipproto::kDestOptions, 0, true, 3), {ipproto::kUdp, 0}})),
       ParseError::kBadExtensionHeader},
      {"9 Destination Options headers",
       packet(ipproto::kDestOptions, cat({dst_chain(9, ipproto::kUdp), kUdpHeader})),
       ParseError::kExtensionHeaderLimit},
      {"Hop-by-Hop and 8 Destination Options headers",
       packet(ipproto::kHopByHop,
              cat({ext(ipproto::kDestOptions), dst_chain(8, ipproto::kUdp), kUdpHeader})),
       ParseError::kExtensionHeaderLimit},
      // The limit is judged before the ninth header's bytes are looked at.
      {"8 headers naming a ninth that is not there",
       packet(ipproto::kDestOptions, dst_chain(8, ipproto::kRouting)),
       ParseError::kExtensionHeaderLimit},
  };
  for (const auto& c : cases) {
    auto r = Ipv6View::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

}  // namespace
}  // namespace tapir::wire
