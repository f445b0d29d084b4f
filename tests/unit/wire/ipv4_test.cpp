#include "wire/ipv4.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// Frames captured with tcpdump on a veth pair between two private network
// namespaces, each side a Linux kernel: the "guest" 52:54:00:12:34:56 /
// 10.0.2.100 and the "gateway" 52:55:0a:00:02:02 / 10.0.2.2.

// `ping -c 1 10.0.2.2`: ICMP echo request.
// clang-format off
const std::vector<uint8_t> kEchoRequestFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x08, 0x00,                          // EtherType IPv4
    0x45,                                // version 4, IHL 5 (20 bytes)
    0x00,                                // DSCP 0, ECN 0
    0x00, 0x54,                          // total length 84
    0xbb, 0xad,                          // identification 0xbbad
    0x40, 0x00,                          // flags DF, fragment offset 0
    0x40,                                // TTL 64
    0x01,                                // protocol 1 (ICMP)
    0x66, 0x96,                          // header checksum 0x6696
    0x0a, 0x00, 0x02, 0x64,              // source 10.0.2.100
    0x0a, 0x00, 0x02, 0x02,              // destination 10.0.2.2
    0x08, 0x00, 0xae, 0x08,              // ICMP echo request, code 0, checksum 0xae08
    0x14, 0x84, 0x00, 0x01,              // identifier 0x1484, sequence 1
    0xda, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // ping's timestamp
    0x94, 0x4f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,  // ping's pattern 0x10..0x37
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// `ping -c 1 -R 10.0.2.2`: the gateway's echo reply, with a 40-byte Record
// Route option (RFC 791 3.1) filled in by both kernels. No DF on the reply.
// clang-format off
const std::vector<uint8_t> kRecordRouteReplyFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet source 52:55:0a:00:02:02
    0x08, 0x00,                          // EtherType IPv4
    0x4f,                                // version 4, IHL 15 (60 bytes)
    0x00,                                // DSCP 0, ECN 0
    0x00, 0x7c,                          // total length 124
    0x44, 0x78,                          // identification 0x4478
    0x00, 0x00,                          // flags none, fragment offset 0
    0x40,                                // TTL 64
    0x01,                                // protocol 1 (ICMP)
    0x94, 0x58,                          // header checksum 0x9458
    0x0a, 0x00, 0x02, 0x02,              // source 10.0.2.2
    0x0a, 0x00, 0x02, 0x64,              // destination 10.0.2.100
    0x07, 0x27, 0x10,                    // option Record Route, length 39, pointer 16
    0x0a, 0x00, 0x02, 0x64,              //   route[0] 10.0.2.100
    0x0a, 0x00, 0x02, 0x02,              //   route[1] 10.0.2.2
    0x0a, 0x00, 0x02, 0x02,              //   route[2] 10.0.2.2
    0x00, 0x00, 0x00, 0x00,              //   route[3..8] empty
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00,                                // option End of Option List
    0x00, 0x00, 0xf3, 0xf3,              // ICMP echo reply, code 0, checksum 0xf3f3
    0x14, 0x85, 0x00, 0x01,              // identifier 0x1485, sequence 1
    0xda, 0xe4, 0x07, 0x6b, 0x00, 0x00, 0x00, 0x00,  // ping's timestamp
    0x56, 0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,  // ping's pattern 0x10..0x37
    0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
    0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
};
// clang-format on

// `ping -c 1 -s 3000 10.0.2.2` over a 1500-byte MTU: the last of three
// fragments, 48 bytes of ICMP data at byte 2960.
// clang-format off
const std::vector<uint8_t> kLastFragmentFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0x00,                          // version 4, IHL 5; DSCP 0, ECN 0
    0x00, 0x44,                          // total length 68
    0xbb, 0xaf,                          // identification 0xbbaf (same in all three)
    0x01, 0x72,                          // flags none (last), fragment offset 370 (2960 bytes)
    0x40, 0x01,                          // TTL 64, protocol 1 (ICMP)
    0xa5, 0x32,                          // header checksum 0xa532
    0x0a, 0x00, 0x02, 0x64,              // source 10.0.2.100
    0x0a, 0x00, 0x02, 0x02,              // destination 10.0.2.2
    0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,  // ping's pattern, not an ICMP header
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
    0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
};
// clang-format on

// `echo hello > /dev/udp/10.0.2.2/9`: a 48-byte frame, which a real NIC
// would pad to 60 bytes (the test adds the padding).
// clang-format off
const std::vector<uint8_t> kUdpFrame = {
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,  // Ethernet destination 52:55:0a:00:02:02
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // Ethernet source 52:54:00:12:34:56
    0x08, 0x00,                          // EtherType IPv4
    0x45, 0x00,                          // version 4, IHL 5; DSCP 0, ECN 0
    0x00, 0x22,                          // total length 34
    0xc7, 0x2e,                          // identification 0xc72e
    0x40, 0x00,                          // flags DF, fragment offset 0
    0x40, 0x11,                          // TTL 64, protocol 17 (UDP)
    0x5b, 0x37,                          // header checksum 0x5b37
    0x0a, 0x00, 0x02, 0x64,              // source 10.0.2.100
    0x0a, 0x00, 0x02, 0x02,              // destination 10.0.2.2
    0x9c, 0x14, 0x00, 0x09,              // UDP source port 39956, destination port 9
    0x00, 0x0e, 0x18, 0x85,              // UDP length 14, checksum 0x1885
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x0a,  // "hello\n"
};
// clang-format on

std::vector<uint8_t> ip_of(const std::vector<uint8_t>& frame) {
  return {frame.begin() + kEthernetHeaderLen, frame.end()};
}

// `base` with some bytes replaced: {offset, value} pairs.
std::vector<uint8_t> with(std::vector<uint8_t> base,
                          std::initializer_list<std::pair<size_t, uint8_t>> changes) {
  for (auto [at, value] : changes) base.at(at) = value;
  return base;
}

std::vector<uint8_t> first(const std::vector<uint8_t>& base, size_t n) {
  return {base.begin(), base.begin() + static_cast<std::ptrdiff_t>(n)};
}

TEST(Ipv4View, ParsesEchoRequest) {
  const auto pkt = ip_of(kEchoRequestFrame);
  auto ip = Ipv4View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->version(), 4);
  EXPECT_EQ(ip->header_len(), 20u);
  EXPECT_EQ(ip->dscp(), 0);
  EXPECT_EQ(ip->ecn(), 0);
  EXPECT_EQ(ip->total_length(), 84);
  EXPECT_EQ(ip->identification(), 0xbbad);
  EXPECT_TRUE(ip->dont_fragment());
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_FALSE(ip->reserved_flag());
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->ttl(), 64);
  EXPECT_EQ(ip->protocol(), ipproto::kIcmp);
  EXPECT_EQ(ip->header_checksum(), 0x6696);
  EXPECT_TRUE(ip->header_checksum_ok());
  EXPECT_EQ(ip->source(), Ipv4Addr::from_octets(10, 0, 2, 100));
  EXPECT_EQ(ip->destination(), Ipv4Addr::from_octets(10, 0, 2, 2));
  EXPECT_TRUE(ip->options().empty());
  ASSERT_EQ(ip->payload().size(), 64u);
  EXPECT_EQ(ip->payload().data(), as_bytes(pkt).data() + 20);
  EXPECT_EQ(ip->bytes().size(), pkt.size());
}

TEST(Ipv4View, ExposesOptionsAndSkipsThem) {
  const auto pkt = ip_of(kRecordRouteReplyFrame);
  auto ip = Ipv4View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_len(), 60u);
  EXPECT_FALSE(ip->dont_fragment());
  EXPECT_TRUE(ip->header_checksum_ok());  // the checksum covers the options
  ASSERT_EQ(ip->options().size(), 40u);
  EXPECT_EQ(ip->options()[0], std::byte{0x07});  // Record Route
  EXPECT_EQ(ip->options()[1], std::byte{39});
  ASSERT_EQ(ip->payload().size(), 64u);
  EXPECT_EQ(ip->payload()[0], std::byte{0x00});  // ICMP echo reply
  EXPECT_EQ(ip->payload().data(), as_bytes(pkt).data() + 60);
}

TEST(Ipv4View, ParsesLastFragment) {
  const auto pkt = ip_of(kLastFragmentFrame);
  auto ip = Ipv4View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_FALSE(ip->dont_fragment());
  EXPECT_EQ(ip->fragment_offset(), 370);
  EXPECT_EQ(ip->fragment_offset_bytes(), 2960u);
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_TRUE(ip->header_checksum_ok());
  EXPECT_EQ(ip->payload().size(), 48u);
}

TEST(Ipv4View, FirstFragmentIsAFragment) {
  // The first fragment of the same datagram has flags 0x2000 (MF, offset 0);
  // put that word on a 20-byte copy of the header (total length 20).
  auto hdr =
      with(first(ip_of(kLastFragmentFrame), 20), {{2, 0x00}, {3, 0x14}, {6, 0x20}, {7, 0x00}});
  auto ip = Ipv4View::parse(as_bytes(hdr));
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_TRUE(ip->is_fragment());
}

TEST(Ipv4View, EthernetPaddingIsExcludedFromPayload) {
  auto padded = ip_of(kUdpFrame);
  padded.resize(60 - kEthernetHeaderLen, 0);  // 46 bytes: 34 of datagram, 12 of padding
  auto ip = Ipv4View::parse(as_bytes(padded));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->total_length(), 34);
  EXPECT_EQ(ip->bytes().size(), 34u);
  EXPECT_EQ(ip->payload().size(), 14u);  // the UDP header and "hello\n"
  EXPECT_EQ(ip->protocol(), ipproto::kUdp);
}

TEST(Ipv4View, ChecksumDetectsCorruption) {
  auto pkt = ip_of(kEchoRequestFrame);
  pkt[8] = 63;  // TTL changed without a checksum update
  auto ip = Ipv4View::parse(as_bytes(pkt));
  ASSERT_TRUE(ip);
  EXPECT_FALSE(ip->header_checksum_ok());
  // Only the header is covered: corrupting the payload does not matter.
  auto pkt2 = ip_of(kEchoRequestFrame);
  pkt2[40] ^= 0xff;
  EXPECT_TRUE(Ipv4View::parse(as_bytes(pkt2))->header_checksum_ok());
}

TEST(Ipv4View, RoundTripIsByteExact) {
  for (const auto* frame : {&kEchoRequestFrame, &kUdpFrame}) {
    const auto pkt = ip_of(*frame);
    auto ip = Ipv4View::parse(as_bytes(pkt));
    ASSERT_TRUE(ip);
    const Ipv4Repr repr = Ipv4Repr::parse(*ip);
    EXPECT_EQ(repr.total_len(), pkt.size());
    std::vector<uint8_t> out(Ipv4Repr::buffer_len());
    repr.emit(as_writable_bytes(out));
    EXPECT_EQ(out, first(pkt, 20));  // checksum included
  }
}

TEST(Ipv4Repr, EmitsAHeaderWithARightChecksum) {
  Ipv4Repr r;
  r.src = Ipv4Addr::from_octets(10, 0, 2, 100);
  r.dst = Ipv4Addr::from_octets(10, 0, 2, 2);
  r.protocol = ipproto::kIcmp;
  r.identification = 0xbbad;
  r.payload_len = 64;
  std::vector<uint8_t> out(Ipv4Repr::buffer_len());
  r.emit(as_writable_bytes(out));
  EXPECT_EQ(out, first(ip_of(kEchoRequestFrame), 20));  // defaults: TTL 64, DF

  r.dscp = 46;  // EF
  r.ecn = 2;    // ECT(0)
  r.dont_fragment = false;
  r.emit(as_writable_bytes(out));
  EXPECT_EQ(out[1], (46 << 2) | 2);
  EXPECT_EQ(out[6], 0x00);
  EXPECT_EQ(internet_checksum(as_bytes(out)), 0);
}

TEST(Ipv4Repr, ParseOfOptionsHeaderGivesPayloadAfterOptions) {
  const auto pkt = ip_of(kRecordRouteReplyFrame);
  const Ipv4Repr r = Ipv4Repr::parse(*Ipv4View::parse(as_bytes(pkt)));
  EXPECT_EQ(r.payload_len, 64u);
  EXPECT_FALSE(r.dont_fragment);
}

TEST(Ipv4MutView, NatRewriteKeepsTheChecksumRight) {
  auto pkt = ip_of(kEchoRequestFrame);
  auto mut = Ipv4MutView::parse(as_writable_bytes(pkt));
  ASSERT_TRUE(mut);
  // Outbound NAT: the guest's address becomes the host's.
  const Ipv4Addr host = Ipv4Addr::from_octets(192, 0, 2, 2);
  mut->set_source(host);
  Ipv4View v = mut->view();
  EXPECT_EQ(v.source(), host);
  EXPECT_TRUE(v.header_checksum_ok());
  // The incremental update gives what a full recomputation gives.
  Ipv4Repr full = Ipv4Repr::parse(v);
  std::vector<uint8_t> recomputed(Ipv4Repr::buffer_len());
  full.emit(as_writable_bytes(recomputed));
  EXPECT_EQ(v.header_checksum(), (recomputed[10] << 8) | recomputed[11]);

  mut->set_destination(Ipv4Addr::from_octets(203, 0, 113, 7));
  EXPECT_TRUE(mut->view().header_checksum_ok());
  // And back again: the original bytes.
  mut->set_source(Ipv4Addr::from_octets(10, 0, 2, 100));
  mut->set_destination(Ipv4Addr::from_octets(10, 0, 2, 2));
  EXPECT_EQ(pkt, ip_of(kEchoRequestFrame));
  EXPECT_EQ(mut->payload().size(), 64u);
}

TEST(Ipv4MutView, RewriteWorksWithOptions) {
  auto pkt = ip_of(kRecordRouteReplyFrame);
  auto mut = Ipv4MutView::parse(as_writable_bytes(pkt));
  ASSERT_TRUE(mut);
  mut->set_destination(Ipv4Addr::from_octets(198, 51, 100, 1));
  EXPECT_TRUE(mut->view().header_checksum_ok());
  EXPECT_EQ(mut->payload().size(), 64u);
}

TEST(Ipv4MutView, RejectsWhatTheViewRejects) {
  auto pkt = with(ip_of(kEchoRequestFrame), {{0, 0x65}});
  auto mut = Ipv4MutView::parse(as_writable_bytes(pkt));
  ASSERT_FALSE(mut);
  EXPECT_EQ(mut.error(), ParseError::kBadVersion);
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

TEST(Ipv4View, MalformedInputs) {
  const auto echo = ip_of(kEchoRequestFrame);     // 84 bytes, IHL 5
  const auto rr = ip_of(kRecordRouteReplyFrame);  // 124 bytes, IHL 15
  const std::vector<Malformed> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"19 bytes", first(echo, 19), ParseError::kTruncated},
      {"19 bytes of version 6", first(with(echo, {{0, 0x60}}), 19), ParseError::kTruncated},
      {"version 6", with(echo, {{0, 0x65}}), ParseError::kBadVersion},
      {"version 0", with(echo, {{0, 0x05}}), ParseError::kBadVersion},
      {"version 15", with(echo, {{0, 0xf5}}), ParseError::kBadVersion},
      {"IHL 0", with(echo, {{0, 0x40}}), ParseError::kBadHeaderLength},
      {"IHL 4", with(echo, {{0, 0x44}}), ParseError::kBadHeaderLength},
      {"options cut short (IHL 15, 59 bytes)", first(rr, 59), ParseError::kBadHeaderLength},
      {"IHL 15 over a 40-byte packet", first(with(echo, {{0, 0x4f}}), 40),
       ParseError::kBadHeaderLength},
      {"total length 0", with(echo, {{2, 0}, {3, 0}}), ParseError::kBadLength},
      {"total length 19 < IHL*4", with(echo, {{2, 0}, {3, 19}}), ParseError::kBadLength},
      {"total length 59 < IHL*4 of 60", with(rr, {{2, 0}, {3, 59}}), ParseError::kBadLength},
      {"total length 85 > 84 bytes", with(echo, {{3, 85}}), ParseError::kBadLength},
      {"total length 65535", with(echo, {{2, 0xff}, {3, 0xff}}), ParseError::kBadLength},
      {"datagram cut short by one byte", first(echo, 83), ParseError::kBadLength},
  };
  for (const auto& c : cases) {
    auto r = Ipv4View::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(Ipv4View, EdgeLengthsThatAreValid) {
  const auto echo = ip_of(kEchoRequestFrame);
  // A bare header (total length 20, no payload).
  auto bare = with(first(echo, 20), {{2, 0}, {3, 20}});
  auto ip = Ipv4View::parse(as_bytes(bare));
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->payload().empty());
  // A 60-byte header with nothing after it.
  auto rr_header = with(first(ip_of(kRecordRouteReplyFrame), 60), {{2, 0}, {3, 60}});
  ip = Ipv4View::parse(as_bytes(rr_header));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->options().size(), 40u);
  EXPECT_TRUE(ip->payload().empty());
}

}  // namespace
}  // namespace tapir::wire
