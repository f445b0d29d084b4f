#include "wire/virtio_net_hdr.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/ethernet.hpp"
#include "wire/tcp.hpp"

namespace tapir::wire {
namespace {

// Read from a tap opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
// TUNSETVNETHDRSZ 12 and TUNSETOFFLOAD CSUM | TSO4 | TSO6, in a private
// namespace (Linux 6.18, x86-64): the kernel at 192.0.2.2 streaming data to
// a peer at 192.0.2.1 that had announced MSS 1460 and timestamps. One read
// returned this header and a 7294-byte frame (5 segments of 1448 bytes).
// The frame's first 66 bytes follow: Ethernet, IPv4, TCP with timestamps.
// clang-format off
const std::vector<uint8_t> kTso4Read = {
    0x01,        // flags: NEEDS_CSUM
    0x01,        // gso_type: TCPV4
    0x42, 0x00,  // hdr_len 66 (14 + 20 + 32), little-endian
    0xa8, 0x05,  // gso_size 1448 (MSS 1460 - 12 bytes of timestamps)
    0x22, 0x00,  // csum_start 34: the TCP header
    0x10, 0x00,  // csum_offset 16: the TCP checksum field
    0x00, 0x00,  // num_buffers (not written by the tap)
    // Ethernet: to 02:00:00:00:00:01 from 02:00:00:00:00:02, IPv4
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
    // IPv4: IHL 5, total length 7292, DF, TTL 64, TCP, 192.0.2.2 -> 192.0.2.1
    0x45, 0x00, 0x1c, 0x7c, 0x23, 0x77, 0x40, 0x00, 0x40, 0x06, 0x77, 0x01, 0xc0, 0x00, 0x02, 0x02,
    0xc0, 0x00, 0x02, 0x01,
    // TCP: 5002 -> 40010, seq, ack, data offset 8, PSH ACK, window 64,
    // checksum = pseudo-header sum only, NOP NOP TS
    0x13, 0x8a, 0x9c, 0x4a, 0x9d, 0xc7, 0xe9, 0xa7, 0x00, 0x0f, 0x42, 0x41, 0x80, 0x18, 0x00, 0x40,
    0xa0, 0x72, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x6c, 0xb9, 0xb0, 0x1f, 0x00, 0x00, 0x00, 0x03,
};
// clang-format on
constexpr size_t kTso4FrameLen = 7294;

// Same tap: the SYN-ACK, checksum left to the reader, no GSO.
const std::vector<uint8_t> kSynAckCsumHdr = {
    0x01,        // flags: NEEDS_CSUM
    0x00,        // gso_type: NONE
    0x00, 0x00,  // hdr_len 0
    0x00, 0x00,  // gso_size 0
    0x22, 0x00,  // csum_start 34
    0x10, 0x00,  // csum_offset 16
    0x00, 0x00,  // num_buffers
};
constexpr size_t kSynAckFrameLen = 74;

// Same tap: a UDP datagram, checksum left to the reader.
const std::vector<uint8_t> kUdpCsumHdr = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00,  // NEEDS_CSUM, no GSO
    0x22, 0x00,                          // csum_start 34: the UDP header
    0x06, 0x00,                          // csum_offset 6: the UDP checksum field
    0x00, 0x00,                          // num_buffers
};
constexpr size_t kUdpFrameLen = 54;

// A tap with no offloads enabled: every field 0.
const std::vector<uint8_t> kPlainHdr(12, 0);

TEST(VirtioNetHdrView, ParsesTso4HeaderFromTheKernel) {
  auto h = VirtioNetHdrView::parse(as_bytes(kTso4Read));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header_len(), kVirtioNetHdrLen);
  EXPECT_EQ(h->flags(), vnet_flag::kNeedsCsum);
  EXPECT_TRUE(h->needs_csum());
  EXPECT_FALSE(h->data_valid());
  EXPECT_FALSE(h->rsc_info());
  EXPECT_EQ(h->gso_type(), vnet_gso::kTcpv4);
  EXPECT_EQ(h->gso_protocol(), vnet_gso::kTcpv4);
  EXPECT_FALSE(h->gso_ecn());
  EXPECT_EQ(h->hdr_len(), 66);
  EXPECT_EQ(h->gso_size(), 1448);
  EXPECT_EQ(h->csum_start(), 34);
  EXPECT_EQ(h->csum_offset(), 16);
  EXPECT_EQ(h->num_buffers(), 0);
  EXPECT_TRUE(h->validate_against_frame(kTso4FrameLen));
}

TEST(VirtioNetHdrView, TsoFieldsAgreeWithTheFrame) {
  // csum_start is where the TCP header starts, hdr_len where its payload does.
  const ConstBytes frame = as_bytes(kTso4Read).subspan(kVirtioNetHdrLen);
  auto h = VirtioNetHdrView::parse(as_bytes(kTso4Read));
  ASSERT_TRUE(h);
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  auto tcp = TcpView::parse(frame.subspan(h->csum_start()));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->source_port(), 5002);
  EXPECT_EQ(h->csum_start() + tcp->header_len(), h->hdr_len());
  EXPECT_EQ(h->csum_start() + h->csum_offset(), h->csum_start() + TcpView::kChecksumOffset);
}

TEST(VirtioNetHdrView, ParsesChecksumOnlyHeaders) {
  auto syn_ack = VirtioNetHdrView::parse(as_bytes(kSynAckCsumHdr));
  ASSERT_TRUE(syn_ack);
  EXPECT_TRUE(syn_ack->needs_csum());
  EXPECT_EQ(syn_ack->gso_type(), vnet_gso::kNone);
  EXPECT_TRUE(syn_ack->validate_against_frame(kSynAckFrameLen));

  auto udp = VirtioNetHdrView::parse(as_bytes(kUdpCsumHdr));
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->csum_offset(), 6);
  EXPECT_TRUE(udp->validate_against_frame(kUdpFrameLen));

  auto plain = VirtioNetHdrView::parse(as_bytes(kPlainHdr));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->flags(), 0);
  EXPECT_TRUE(plain->validate_against_frame(0));
}

TEST(VirtioNetHdrView, LegacyTenByteLayout) {
  // The same bytes read as the 10-byte layout: num_buffers is frame data.
  auto h = VirtioNetHdrView::parse(as_bytes(kTso4Read), kVirtioNetHdrLegacyLen);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header_len(), kVirtioNetHdrLegacyLen);
  EXPECT_EQ(h->bytes().size(), 10u);
  EXPECT_EQ(h->gso_size(), 1448);
  EXPECT_EQ(h->num_buffers(), 0);

  const std::vector<uint8_t> ten(kTso4Read.begin(), kTso4Read.begin() + 10);
  EXPECT_TRUE(VirtioNetHdrView::parse(as_bytes(ten), kVirtioNetHdrLegacyLen));
  auto as12 = VirtioNetHdrView::parse(as_bytes(ten));
  ASSERT_FALSE(as12);
  EXPECT_EQ(as12.error(), ParseError::kTruncated);
}

TEST(VirtioNetHdrView, NumBuffersIsLittleEndian) {
  std::vector<uint8_t> b = kPlainHdr;
  b[10] = 0x01;
  b[11] = 0x02;
  EXPECT_EQ(VirtioNetHdrView::parse(as_bytes(b))->num_buffers(), 0x0201);
}

TEST(VirtioNetHdrView, AcceptsEveryKnownGsoType) {
  for (uint8_t type : {vnet_gso::kTcpv4, vnet_gso::kUdp, vnet_gso::kTcpv6, vnet_gso::kUdpL4,
                       static_cast<uint8_t>(vnet_gso::kTcpv4 | vnet_gso::kEcn),
                       static_cast<uint8_t>(vnet_gso::kTcpv6 | vnet_gso::kEcn)}) {
    std::vector<uint8_t> b = kTso4Read;
    b[1] = type;
    auto h = VirtioNetHdrView::parse(as_bytes(b));
    ASSERT_TRUE(h) << int{type};
    EXPECT_EQ(h->gso_ecn(), (type & vnet_gso::kEcn) != 0);
    EXPECT_EQ(h->gso_protocol(), type & 0x7f);
  }
}

std::vector<uint8_t> hdr(uint8_t flags, uint8_t gso_type, uint16_t gso_size, size_t len = 12) {
  std::vector<uint8_t> b(len, 0);
  b[0] = flags;
  b[1] = gso_type;
  if (len >= 6) {
    b[4] = static_cast<uint8_t>(gso_size & 0xff);
    b[5] = static_cast<uint8_t>(gso_size >> 8);
  }
  return b;
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  size_t hdr_size;
  ParseError error;
};

TEST(VirtioNetHdrView, MalformedInputs) {
  const std::vector<Malformed> cases = {
      {"empty", {}, 12, ParseError::kTruncated},
      {"11 bytes", hdr(0, 0, 0, 11), 12, ParseError::kTruncated},
      {"9 bytes, legacy", hdr(0, 0, 0, 9), 10, ParseError::kTruncated},
      {"gso_type 2 (unassigned)", hdr(1, 2, 1448), 12, ParseError::kBadVnetHeader},
      {"gso_type 6", hdr(1, 6, 1448), 12, ParseError::kBadVnetHeader},
      {"gso_type 0x7f", hdr(1, 0x7f, 1448), 12, ParseError::kBadVnetHeader},
      {"gso_type 0x82 (ECN | 2)", hdr(1, 0x82, 1448), 12, ParseError::kBadVnetHeader},
      {"ECN without a GSO type", hdr(1, vnet_gso::kEcn, 1448), 12, ParseError::kBadVnetHeader},
      {"TCPV4 with gso_size 0", hdr(1, vnet_gso::kTcpv4, 0), 12, ParseError::kBadVnetHeader},
      {"TCPV6 with gso_size 0", hdr(1, vnet_gso::kTcpv6, 0), 12, ParseError::kBadVnetHeader},
      {"UDP_L4 with gso_size 0, legacy", hdr(1, vnet_gso::kUdpL4, 0, 10), 10,
       ParseError::kBadVnetHeader},
      {"TCPV4|ECN with gso_size 0", hdr(1, 0x81, 0), 12, ParseError::kBadVnetHeader},
  };
  for (const auto& c : cases) {
    auto r = VirtioNetHdrView::parse(as_bytes(c.bytes), c.hdr_size);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(VirtioNetHdrView, ChecksumPositionMustLieInTheFrame) {
  struct Case {
    const char* name;
    uint8_t flags;
    uint16_t csum_start;
    uint16_t csum_offset;
    size_t frame_len;
    bool ok;
  };
  const Case cases[] = {
      {"TCP checksum, exactly fits", vnet_flag::kNeedsCsum, 34, 16, 52, true},
      {"TCP checksum, one byte short", vnet_flag::kNeedsCsum, 34, 16, 51, false},
      {"UDP checksum in a 54-byte frame", vnet_flag::kNeedsCsum, 34, 6, 54, true},
      {"start past the frame", vnet_flag::kNeedsCsum, 100, 0, 60, false},
      {"both fields 0xffff", vnet_flag::kNeedsCsum, 0xffff, 0xffff, 65535, false},
      {"empty frame", vnet_flag::kNeedsCsum, 0, 0, 0, false},
      {"no NEEDS_CSUM: positions ignored", vnet_flag::kDataValid, 0xffff, 0xffff, 0, true},
  };
  for (const Case& c : cases) {
    VirtioNetHdrRepr r;
    r.flags = c.flags;
    r.csum_start = c.csum_start;
    r.csum_offset = c.csum_offset;
    std::vector<uint8_t> b(12);
    r.emit(as_writable_bytes(b));
    auto h = VirtioNetHdrView::parse(as_bytes(b));
    ASSERT_TRUE(h) << c.name;
    auto v = h->validate_against_frame(c.frame_len);
    EXPECT_EQ(v.has_value(), c.ok) << c.name;
    if (!v) {
      EXPECT_EQ(v.error(), ParseError::kBadVnetHeader) << c.name;
    }
  }
}

TEST(VirtioNetHdrRepr, RoundTripsCapturedHeaders) {
  for (const auto* b : {&kTso4Read, &kSynAckCsumHdr, &kUdpCsumHdr, &kPlainHdr}) {
    for (size_t size : {kVirtioNetHdrLen, kVirtioNetHdrLegacyLen}) {
      auto h = VirtioNetHdrView::parse(as_bytes(*b), size);
      ASSERT_TRUE(h);
      std::vector<uint8_t> out(VirtioNetHdrRepr::buffer_len(size));
      VirtioNetHdrRepr::parse(*h).emit(as_writable_bytes(out), size);
      EXPECT_EQ(out, std::vector<uint8_t>(b->begin(), b->begin() + static_cast<ptrdiff_t>(size)));
    }
  }
}

TEST(VirtioNetHdrRepr, TcpGsoIsWhatLinuxHandsOut) {
  // tapir's TSO4 header for the same frame is the kernel's byte for byte.
  const VirtioNetHdrRepr r = VirtioNetHdrRepr::tcp_gso(vnet_gso::kTcpv4, 66, 1448, 34);
  EXPECT_EQ(r.flags, vnet_flag::kNeedsCsum);
  EXPECT_EQ(r.csum_offset, 16);
  std::vector<uint8_t> out(kVirtioNetHdrLen, 0xee);
  r.emit(as_writable_bytes(out));
  EXPECT_EQ(out, std::vector<uint8_t>(kTso4Read.begin(), kTso4Read.begin() + 12));
  auto h = VirtioNetHdrView::parse(as_bytes(out));
  ASSERT_TRUE(h);
  EXPECT_EQ(VirtioNetHdrRepr::parse(*h), r);
}

TEST(VirtioNetHdrRepr, TcpGsoOverIpv6) {
  // Ethernet 14 + IPv6 40 + TCP 32: the TCP header starts at 54.
  const VirtioNetHdrRepr r = VirtioNetHdrRepr::tcp_gso(vnet_gso::kTcpv6, 86, 1428, 54);
  std::vector<uint8_t> out(kVirtioNetHdrLen);
  r.emit(as_writable_bytes(out));
  EXPECT_EQ(out, (std::vector<uint8_t>{0x01, 0x04, 0x56, 0x00, 0x94, 0x05, 0x36, 0x00, 0x10, 0x00,
                                       0x00, 0x00}));
  auto h = VirtioNetHdrView::parse(as_bytes(out));
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->validate_against_frame(86));
}

TEST(VirtioNetHdrRepr, DataValidAndNone) {
  std::vector<uint8_t> out(kVirtioNetHdrLen, 0xee);
  VirtioNetHdrRepr::data_valid().emit(as_writable_bytes(out));
  EXPECT_EQ(out, (std::vector<uint8_t>{0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  VirtioNetHdrRepr::none().emit(as_writable_bytes(out));
  EXPECT_EQ(out, kPlainHdr);
}

TEST(VirtioNetHdrRepr, LegacyEmitLeavesTheFollowingBytesAlone) {
  std::vector<uint8_t> out(kVirtioNetHdrLen, 0xee);
  VirtioNetHdrRepr r = VirtioNetHdrRepr::tcp_gso(vnet_gso::kTcpv4, 66, 1448, 34);
  r.num_buffers = 7;
  r.emit(as_writable_bytes(out), kVirtioNetHdrLegacyLen);
  EXPECT_EQ(out, (std::vector<uint8_t>{0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00,
                                       0xee, 0xee}));
}

}  // namespace
}  // namespace tapir::wire
