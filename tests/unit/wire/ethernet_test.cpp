#include "wire/ethernet.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// An ARP request in the shape a guest kernel sends it (built by hand; the
// real captures are exercised in fixtures_test.cpp): who-has 10.0.2.2 tell
// 10.0.2.100.
const std::vector<uint8_t> kArpRequestFrame = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // destination: broadcast
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,  // source: 52:54:00:12:34:56
    0x08, 0x06,                          // EtherType: ARP
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,  // htype 1, ptype IPv4, hlen 6, plen 4, op request
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x0a, 0x00, 0x02, 0x64,  // sender 10.0.2.100
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x02, 0x02,  // target 10.0.2.2
};

TEST(EthernetView, ParsesFields) {
  auto eth = EthernetView::parse(as_bytes(kArpRequestFrame));
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->destination().is_broadcast());
  EXPECT_EQ(eth->source().to_string(), "52:54:00:12:34:56");
  EXPECT_EQ(eth->ethertype(), ethertype::kArp);
  EXPECT_EQ(eth->payload().size(), kArpRequestFrame.size() - kEthernetHeaderLen);
}

TEST(EthernetView, RoundTrip) {
  auto eth = EthernetView::parse(as_bytes(kArpRequestFrame));
  ASSERT_TRUE(eth);
  std::vector<uint8_t> out(kEthernetHeaderLen);
  EthernetRepr::parse(*eth).emit(as_writable_bytes(out));
  EXPECT_EQ(out, std::vector<uint8_t>(kArpRequestFrame.begin(), kArpRequestFrame.begin() + 14));
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

TEST(EthernetView, MalformedInputs) {
  const std::vector<Malformed> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"13 bytes", std::vector<uint8_t>(13, 0), ParseError::kTruncated},
      {"802.1Q tag",
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00},
       ParseError::kVlanTagged},
      {"802.1ad tag", {0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0x88, 0xa8}, ParseError::kVlanTagged},
      {"0x9100 tag", {0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0x91, 0x00}, ParseError::kVlanTagged},
  };
  for (const auto& c : cases) {
    auto r = EthernetView::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(EthernetView, HeaderOnlyFrameHasEmptyPayload) {
  std::vector<uint8_t> f(kArpRequestFrame.begin(), kArpRequestFrame.begin() + 14);
  auto eth = EthernetView::parse(as_bytes(f));
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->payload().empty());
}

}  // namespace
}  // namespace tapir::wire
