// Every frame of the real captures in tests/data/ (see its README) must
// parse cleanly through the whole wire layer and carry checksums that
// verify — they were captured with offloads off, so the kernel computed
// every checksum in software. And the virtio_net_hdr frames a real tap
// handed out must decode to what the kernel meant.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/tcp.hpp"
#include "wire/tcp_options.hpp"
#include "wire/udp.hpp"
#include "wire/virtio_net_hdr.hpp"
#include "tests/unit/test_util.hpp"

namespace tapir::wire {
namespace {

// Parses one frame fully; returns "" or what went wrong.
template <class Addr>
std::string check_l4(uint8_t proto, ConstBytes l4, const Addr& src, const Addr& dst) {
  switch (proto) {
    case ipproto::kTcp: {
      auto tcp = TcpView::parse(l4);
      if (!tcp) return std::string("tcp: ") + parse_error_name(tcp.error());
      auto opts = TcpOptions::parse(tcp->options());
      if (!opts) return std::string("tcp options: ") + parse_error_name(opts.error());
      if (!tcp->checksum_ok(src, dst)) return "tcp checksum";
      return "";
    }
    case ipproto::kUdp: {
      auto udp = UdpView::parse(l4);
      if (!udp) return std::string("udp: ") + parse_error_name(udp.error());
      if (!udp->checksum_ok(src, dst)) return "udp checksum";
      return "";
    }
    case ipproto::kIcmp: {
      if constexpr (std::is_same_v<Addr, Ipv4Addr>) {
        auto icmp = Icmp4View::parse(l4);
        if (!icmp) return std::string("icmp4: ") + parse_error_name(icmp.error());
        if (!icmp->checksum_ok()) return "icmp4 checksum";
      }
      return "";
    }
    case ipproto::kIcmpv6: {
      if constexpr (std::is_same_v<Addr, Ipv6Addr>) {
        auto icmp = Icmp6View::parse(l4);
        if (!icmp) return std::string("icmp6: ") + parse_error_name(icmp.error());
        if (!icmp->checksum_ok(src, dst)) return "icmp6 checksum";
      }
      return "";
    }
    default: return "unexpected protocol " + std::to_string(proto);
  }
}

std::string check_frame(ConstBytes frame) {
  auto eth = EthernetView::parse(frame);
  if (!eth) return std::string("ethernet: ") + parse_error_name(eth.error());
  switch (eth->ethertype()) {
    case ethertype::kArp: {
      auto arp = ArpView::parse(eth->payload());
      return arp ? "" : std::string("arp: ") + parse_error_name(arp.error());
    }
    case ethertype::kIpv4: {
      auto ip = Ipv4View::parse(eth->payload());
      if (!ip) return std::string("ipv4: ") + parse_error_name(ip.error());
      if (!ip->header_checksum_ok()) return "ipv4 header checksum";
      if (ip->is_fragment()) return "";  // the L4 checksum spans all fragments
      return check_l4(ip->protocol(), ip->payload(), ip->source(), ip->destination());
    }
    case ethertype::kIpv6: {
      auto ip = Ipv6View::parse(eth->payload());
      if (!ip) return std::string("ipv6: ") + parse_error_name(ip.error());
      if (ip->is_fragment()) return "";
      return check_l4(ip->upper_protocol(), ip->upper_payload(), ip->source(), ip->destination());
    }
    default: return "unexpected ethertype " + std::to_string(eth->ethertype());
  }
}

class CapturedFrames : public testing::TestWithParam<const char*> {};

TEST_P(CapturedFrames, EveryFrameParsesAndVerifies) {
  const auto frames = test::pcap_frames(GetParam());
  ASSERT_GE(frames.size(), 5u) << GetParam() << " missing or nearly empty";
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(check_frame(as_bytes(frames[i])), "") << GetParam() << " frame " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(TestsData, CapturedFrames,
                         testing::Values("arp.pcap", "icmp.pcap", "ndp.pcap", "tcp.pcap",
                                         "udp.pcap", "dns.pcap", "dhcp.pcap", "dhcp6.pcap"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           return n.substr(0, n.find('.'));
                         });

TEST(CapturedFrames, CorruptedByteIsCaught) {
  // The check above could not pass on a bad frame: flip a payload byte of a
  // captured TCP segment and the checksum must fail.
  auto frames = test::pcap_frames("tcp.pcap");
  ASSERT_FALSE(frames.empty());
  auto f = frames[0];
  f.back() ^= 0x01;
  EXPECT_EQ(check_frame(as_bytes(f)), "tcp checksum");
}

struct VnetCase {
  const char* file;
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};

TEST(CapturedVnet, HeadersFromARealTap) {
  // Values as listed in tests/data/vnet/frames.txt for these captures.
  const VnetCase cases[] = {
      {"tso4-1.bin", vnet_flag::kNeedsCsum, vnet_gso::kTcpv4, 66, 1448, 34, 16},
      {"tso6-1.bin", vnet_flag::kNeedsCsum, vnet_gso::kTcpv6, 86, 1428, 54, 16},
      {"uso4-1.bin", vnet_flag::kNeedsCsum, vnet_gso::kUdpL4, 42, 1400, 34, 6},
      {"udp4-1.bin", vnet_flag::kNeedsCsum, vnet_gso::kNone, 0, 0, 34, 6},
      {"tcpsyn6-1.bin", vnet_flag::kNeedsCsum, vnet_gso::kNone, 0, 0, 54, 16},
      {"icmp4-1.bin", 0, vnet_gso::kNone, 0, 0, 0, 0},
  };
  for (const auto& c : cases) {
    const auto bytes = test::read_file(test::data_path(std::string("vnet/") + c.file));
    ASSERT_GT(bytes.size(), kVirtioNetHdrLen) << c.file;
    auto h = VirtioNetHdrView::parse(as_bytes(bytes));
    ASSERT_TRUE(h) << c.file;
    EXPECT_EQ(h->flags(), c.flags) << c.file;
    EXPECT_EQ(h->gso_type(), c.gso_type) << c.file;
    EXPECT_EQ(h->gso_size(), c.gso_size) << c.file;
    if (c.gso_type != vnet_gso::kNone) {
      EXPECT_EQ(h->hdr_len(), c.hdr_len) << c.file;
    }
    if (h->needs_csum()) {
      EXPECT_EQ(h->csum_start(), c.csum_start) << c.file;
      EXPECT_EQ(h->csum_offset(), c.csum_offset) << c.file;
    }
    EXPECT_TRUE(h->validate_against_frame(bytes.size() - kVirtioNetHdrLen)) << c.file;
    // The frame behind the header is a well-formed Ethernet frame.
    auto eth = EthernetView::parse(as_bytes(bytes).subspan(kVirtioNetHdrLen));
    EXPECT_TRUE(eth) << c.file;
  }
}

}  // namespace
}  // namespace tapir::wire
