#include "wire/tcp_frame.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

const MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddr kGatewayMac{{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}};

TcpFrameRepr frame(bool v6, size_t payload_len) {
  TcpFrameRepr f;
  f.src_mac = kGatewayMac;
  f.dst_mac = kGuestMac;
  if (v6) {
    f.src = IpAddr::from(*Ipv6Addr::parse("2001:db8::2"));
    f.dst = IpAddr::from(*Ipv6Addr::parse("fd00::100"));
  } else {
    f.src = IpAddr::from(Ipv4Addr::from_octets(192, 0, 2, 2));
    f.dst = IpAddr::from(Ipv4Addr::from_octets(10, 0, 2, 100));
  }
  f.tcp.src_port = 5001;
  f.tcp.dst_port = 40001;
  f.tcp.seq = 0x01020304;
  f.tcp.ack = 0xa0b0c0d0;
  f.tcp.flags = tcp_flag::kAck | tcp_flag::kPsh;
  f.tcp.window = 502;
  f.payload_len = payload_len;
  return f;
}

// A buffer with `n` payload bytes already at the frame's payload offset.
std::vector<std::byte> buffer_with_payload(const TcpFrameRepr& f) {
  std::vector<std::byte> buf(f.buffer_len() + 16, std::byte{0xee});
  for (size_t i = 0; i < f.payload_len; ++i)
    buf[f.payload_offset() + i] = std::byte(static_cast<uint8_t>(i * 7));
  return buf;
}

struct Parsed {
  EthernetView eth;
  TcpView tcp;
  IpAddr src, dst;
  size_t ip_payload_len;
};

Parsed parse_frame(ConstBytes b) {
  auto eth = EthernetView::parse(b);
  EXPECT_TRUE(eth);
  if (eth->ethertype() == ethertype::kIpv6) {
    auto ip = Ipv6View::parse(eth->payload());
    EXPECT_TRUE(ip);
    EXPECT_EQ(ip->next_header(), ipproto::kTcp);
    EXPECT_EQ(ip->hop_limit(), 64);
    auto tcp = TcpView::parse(ip->upper_payload());
    EXPECT_TRUE(tcp);
    return {*eth, *tcp, IpAddr::from(ip->source()), IpAddr::from(ip->destination()),
            ip->payload_length()};
  }
  auto ip = Ipv4View::parse(eth->payload());
  EXPECT_TRUE(ip);
  EXPECT_TRUE(ip->header_checksum_ok());
  EXPECT_EQ(ip->protocol(), ipproto::kTcp);
  EXPECT_EQ(ip->ttl(), 64);
  EXPECT_TRUE(ip->dont_fragment());
  auto tcp = TcpView::parse(ip->payload());
  EXPECT_TRUE(tcp);
  return {*eth, *tcp, IpAddr::from(ip->source()), IpAddr::from(ip->destination()),
          size_t{ip->total_length()} - kIpv4MinHeaderLen};
}

bool checksum_ok(const Parsed& p) {
  return p.src.v6 ? p.tcp.checksum_ok(p.src.as_v6(), p.dst.as_v6())
                  : p.tcp.checksum_ok(p.src.as_v4(), p.dst.as_v4());
}

TEST(TcpFrame, SoftwareChecksumIsCompleteAndNeedsNoVnetMetadata) {
  for (bool v6 : {false, true}) {
    const TcpFrameRepr f = frame(v6, 1000);
    auto buf = buffer_with_payload(f);
    VirtioNetHdrRepr vnet = VirtioNetHdrRepr::data_valid();
    const size_t len = f.emit(MutBytes(buf), ChecksumCaps::software(), vnet);
    ASSERT_EQ(len, TcpFrameRepr::l4_offset(v6) + kTcpHeaderLen + 1000) << v6;
    EXPECT_EQ(vnet, VirtioNetHdrRepr::none());
    EXPECT_EQ(buf[len], std::byte{0xee});  // nothing past the frame
    const Parsed p = parse_frame(ConstBytes(buf).first(len));
    EXPECT_EQ(p.eth.source(), kGatewayMac);
    EXPECT_EQ(p.eth.destination(), kGuestMac);
    EXPECT_EQ(p.src, f.src);
    EXPECT_EQ(p.dst, f.dst);
    EXPECT_EQ(p.ip_payload_len, kTcpHeaderLen + 1000);
    EXPECT_TRUE(checksum_ok(p)) << v6;
    auto repr = TcpRepr::parse(p.tcp);
    ASSERT_TRUE(repr);
    EXPECT_EQ(*repr, f.tcp);
    ASSERT_EQ(p.tcp.payload().size(), 1000u);
    EXPECT_EQ(p.tcp.payload()[999], std::byte{(999 * 7) & 0xff});
  }
}

// With partial checksums the field holds the pseudo-header sum only: the
// guest's kernel finishes it over the segment (NEEDS_CSUM).
TEST(TcpFrame, PartialChecksumHoldsThePseudoHeaderSum) {
  for (bool v6 : {false, true}) {
    TcpFrameRepr f = frame(v6, 1000);
    f.gso_size = 1448;  // not exceeded: no GSO
    auto buf = buffer_with_payload(f);
    VirtioNetHdrRepr vnet;
    const size_t len = f.emit(MutBytes(buf), ChecksumCaps::partial(), vnet);
    ASSERT_NE(len, 0u);
    const size_t l4 = TcpFrameRepr::l4_offset(v6);
    EXPECT_EQ(vnet, VirtioNetHdrRepr::partial_checksum(static_cast<uint16_t>(l4),
                                                       TcpView::kChecksumOffset));
    const Parsed p = parse_frame(ConstBytes(buf).first(len));
    EXPECT_FALSE(checksum_ok(p));
    // Completing it as the kernel would: sum the segment over the partial
    // field and store the inverted result.
    MutBytes seg = MutBytes(buf).subspan(l4, len - l4);
    store_be16(seg, TcpView::kChecksumOffset, internet_checksum(seg));
    EXPECT_TRUE(checksum_ok(parse_frame(ConstBytes(buf).first(len)))) << v6;
  }
}

TEST(TcpFrame, PartialChecksumWithALargePayloadIsOneGsoFrame) {
  for (bool v6 : {false, true}) {
    TcpFrameRepr f = frame(v6, TcpFrameRepr::max_payload(v6));
    f.gso_size = 1448;
    auto buf = buffer_with_payload(f);
    VirtioNetHdrRepr vnet;
    const size_t len = f.emit(MutBytes(buf), ChecksumCaps::for_tap(true), vnet);
    ASSERT_NE(len, 0u);
    const uint16_t l4 = static_cast<uint16_t>(TcpFrameRepr::l4_offset(v6));
    EXPECT_EQ(vnet, VirtioNetHdrRepr::tcp_gso(v6 ? vnet_gso::kTcpv6 : vnet_gso::kTcpv4,
                                              static_cast<uint16_t>(l4 + kTcpHeaderLen), 1448, l4));
    const Parsed p = parse_frame(ConstBytes(buf).first(len));
    EXPECT_EQ(p.ip_payload_len, kTcpHeaderLen + TcpFrameRepr::max_payload(v6));
    EXPECT_EQ(p.ip_payload_len + (v6 ? 0 : kIpv4MinHeaderLen), 0xffffu);  // the IP length limit
  }
}

TEST(TcpFrame, SynOptionsGoBeforeThePayloadOffset) {
  TcpFrameRepr f = frame(false, 0);
  f.tcp.flags = tcp_flag::kSyn | tcp_flag::kAck;
  f.tcp.options.mss = 1460;
  f.tcp.options.window_scale = 7;
  EXPECT_EQ(f.payload_offset(), TcpFrameRepr::l4_offset(false) + kTcpHeaderLen + 8);
  std::vector<std::byte> buf(f.buffer_len());
  VirtioNetHdrRepr vnet;
  const size_t len = f.emit(MutBytes(buf), ChecksumCaps::software(), vnet);
  ASSERT_EQ(len, f.buffer_len());
  const Parsed p = parse_frame(ConstBytes(buf));
  EXPECT_TRUE(checksum_ok(p));
  EXPECT_EQ(p.tcp.header_len(), kTcpHeaderLen + 8);
  auto repr = TcpRepr::parse(p.tcp);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->options.mss, 1460);
  EXPECT_EQ(repr->options.window_scale, 7);
}

TEST(TcpFrame, OptionsThatDoNotFitWriteNothing) {
  TcpFrameRepr f = frame(true, 0);
  f.tcp.options.mss = 1460;
  f.tcp.options.timestamps = TcpTimestamps{1, 2};
  f.tcp.options.sack_count = kTcpMaxSackBlocks;
  ASSERT_FALSE(f.tcp.fits());
  std::vector<std::byte> buf(f.buffer_len(), std::byte{0xee});
  VirtioNetHdrRepr vnet;
  EXPECT_EQ(f.emit(MutBytes(buf), ChecksumCaps::software(), vnet), 0u);
  for (std::byte b : buf) ASSERT_EQ(b, std::byte{0xee});
}

}  // namespace
}  // namespace tapir::wire
