#include "wire/arp.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/ethernet.hpp"

namespace tapir::wire {
namespace {

// Frames captured with tcpdump on a veth pair between two private network
// namespaces, each side a Linux kernel: the "guest" 52:54:00:12:34:56 /
// 10.0.2.100 and the "gateway" 52:55:0a:00:02:02 / 10.0.2.2.

// `ping 10.0.2.2` from the guest: who-has 10.0.2.2 tell 10.0.2.100.
// clang-format off
const std::vector<uint8_t> kRequestFrame = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,              // Ethernet destination: broadcast
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,              // Ethernet source 52:54:00:12:34:56
    0x08, 0x06,                                      // EtherType ARP
    0x00, 0x01,                                      // hardware type 1 (Ethernet)
    0x08, 0x00,                                      // protocol type 0x0800 (IPv4)
    0x06, 0x04,                                      // hardware length 6, protocol length 4
    0x00, 0x01,                                      // operation 1 (request)
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,              // sender MAC 52:54:00:12:34:56
    0x0a, 0x00, 0x02, 0x64,                          // sender IP 10.0.2.100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,              // target MAC 00:00:00:00:00:00 (unknown)
    0x0a, 0x00, 0x02, 0x02,                          // target IP 10.0.2.2
};
// clang-format on

// The gateway's kernel answering it: 10.0.2.2 is-at 52:55:0a:00:02:02.
// clang-format off
const std::vector<uint8_t> kReplyFrame = {
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,              // Ethernet destination 52:54:00:12:34:56
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,              // Ethernet source 52:55:0a:00:02:02
    0x08, 0x06,                                      // EtherType ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04,              // Ethernet, IPv4, 6, 4
    0x00, 0x02,                                      // operation 2 (reply)
    0x52, 0x55, 0x0a, 0x00, 0x02, 0x02,              // sender MAC 52:55:0a:00:02:02
    0x0a, 0x00, 0x02, 0x02,                          // sender IP 10.0.2.2
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,              // target MAC 52:54:00:12:34:56
    0x0a, 0x00, 0x02, 0x64,                          // target IP 10.0.2.100
};
// clang-format on

// `arping -D 10.0.2.15` from the guest: an RFC 5227 probe, sender IP 0.0.0.0.
// clang-format off
const std::vector<uint8_t> kProbeFrame = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,              // Ethernet destination: broadcast
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,              // Ethernet source 52:54:00:12:34:56
    0x08, 0x06,                                      // EtherType ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04,              // Ethernet, IPv4, 6, 4
    0x00, 0x01,                                      // operation 1 (request)
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,              // sender MAC 52:54:00:12:34:56
    0x00, 0x00, 0x00, 0x00,                          // sender IP 0.0.0.0 (probe)
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,              // target MAC ff:ff:ff:ff:ff:ff (arping fills it)
    0x0a, 0x00, 0x02, 0x0f,                          // target IP 10.0.2.15
};
// clang-format on

ConstBytes arp_of(const std::vector<uint8_t>& frame) {
  return as_bytes(frame).subspan(kEthernetHeaderLen);
}

TEST(ArpView, ParsesRequest) {
  auto arp = ArpView::parse(arp_of(kRequestFrame));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), arp_op::kRequest);
  EXPECT_EQ(arp->sender_mac().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(arp->sender_ip(), Ipv4Addr::from_octets(10, 0, 2, 100));
  EXPECT_TRUE(arp->target_mac().is_zero());
  EXPECT_EQ(arp->target_ip(), Ipv4Addr::from_octets(10, 0, 2, 2));
  EXPECT_EQ(arp->bytes().size(), kArpLen);
}

TEST(ArpView, ParsesReply) {
  auto arp = ArpView::parse(arp_of(kReplyFrame));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), arp_op::kReply);
  EXPECT_EQ(arp->sender_mac().to_string(), "52:55:0a:00:02:02");
  EXPECT_EQ(arp->sender_ip(), Ipv4Addr::from_octets(10, 0, 2, 2));
  EXPECT_EQ(arp->target_mac().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(arp->target_ip(), Ipv4Addr::from_octets(10, 0, 2, 100));
}

TEST(ArpView, ParsesProbe) {
  auto arp = ArpView::parse(arp_of(kProbeFrame));
  ASSERT_TRUE(arp);
  EXPECT_TRUE(arp->sender_ip().is_unspecified());
  EXPECT_TRUE(arp->target_mac().is_broadcast());
  EXPECT_EQ(arp->target_ip(), Ipv4Addr::from_octets(10, 0, 2, 15));
}

TEST(ArpView, RoundTripIsByteExact) {
  for (const auto* frame : {&kRequestFrame, &kReplyFrame, &kProbeFrame}) {
    auto arp = ArpView::parse(arp_of(*frame));
    ASSERT_TRUE(arp);
    std::vector<uint8_t> out(ArpRepr::buffer_len());
    ArpRepr::parse(*arp).emit(as_writable_bytes(out));
    EXPECT_EQ(out, std::vector<uint8_t>(frame->begin() + kEthernetHeaderLen, frame->end()));
  }
}

TEST(ArpRepr, BuildsTheReplyTheGatewaySent) {
  const ArpRepr reply{arp_op::kReply, *MacAddr::parse("52:55:0a:00:02:02"),
                      Ipv4Addr::from_octets(10, 0, 2, 2), *MacAddr::parse("52:54:00:12:34:56"),
                      Ipv4Addr::from_octets(10, 0, 2, 100)};
  std::vector<uint8_t> out(ArpRepr::buffer_len());
  reply.emit(as_writable_bytes(out));
  EXPECT_EQ(out, std::vector<uint8_t>(kReplyFrame.begin() + kEthernetHeaderLen, kReplyFrame.end()));
}

TEST(ArpView, EthernetPaddingIsNotPartOfTheMessage) {
  // A 60-byte minimum frame carries 18 bytes of padding after the 28.
  std::vector<uint8_t> padded(kRequestFrame.begin() + kEthernetHeaderLen, kRequestFrame.end());
  padded.resize(46, 0);
  auto arp = ArpView::parse(as_bytes(padded));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->bytes().size(), kArpLen);
  EXPECT_EQ(arp->target_ip(), Ipv4Addr::from_octets(10, 0, 2, 2));
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

// The request with byte `at` set to `value` (offsets into the ARP message).
std::vector<uint8_t> request_with(size_t at, uint8_t value) {
  std::vector<uint8_t> b(kRequestFrame.begin() + kEthernetHeaderLen, kRequestFrame.end());
  b[at] = value;
  return b;
}

TEST(ArpView, MalformedInputs) {
  const std::vector<uint8_t> request(kRequestFrame.begin() + kEthernetHeaderLen,
                                     kRequestFrame.end());
  const std::vector<Malformed> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"7 bytes", std::vector<uint8_t>(request.begin(), request.begin() + 7),
       ParseError::kTruncated},
      {"type prefix only", std::vector<uint8_t>(request.begin(), request.begin() + 8),
       ParseError::kTruncated},
      {"27 bytes", std::vector<uint8_t>(request.begin(), request.begin() + 27),
       ParseError::kTruncated},
      {"hardware type 6 (IEEE 802)", request_with(1, 6), ParseError::kUnsupported},
      {"protocol type IPv6",
       [] {
         auto b = request_with(2, 0x86);
         b[3] = 0xdd;
         return b;
       }(),
       ParseError::kUnsupported},
      {"hardware length 8", request_with(4, 8), ParseError::kUnsupported},
      {"protocol length 16", request_with(5, 16), ParseError::kUnsupported},
      // Type is judged before length: a short ARP for another protocol is
      // unsupported, not truncated.
      {"short IEEE 802 ARP",
       {0x00, 0x06, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00},
       ParseError::kUnsupported},
  };
  for (const auto& c : cases) {
    auto r = ArpView::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(ArpView, OperationIsNotJudged) {
  // RARP (3) parses; the ARP responder decides what it answers.
  const auto rarp = request_with(7, 3);
  auto arp = ArpView::parse(as_bytes(rarp));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), 3);
}

}  // namespace
}  // namespace tapir::wire
