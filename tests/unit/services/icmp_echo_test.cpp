#include "services/icmp_echo.hpp"

#include <gtest/gtest.h>

#include <array>

#include "services_test_util.hpp"

namespace tapir::services {
namespace {

using namespace tapir::wire;
using namespace tapir::services::test;

// arp.pcap frame 2: ping 10.0.2.2 from 10.0.2.100 (id 26582, seq 1, 56 data bytes).
// ndp.pcap frame 2: ping -6 fd00::2 from fd00::100 (id 26806, seq 1).
constexpr size_t kPing4 = 2;
constexpr size_t kPing6 = 2;

struct Outcome {
  ServiceResult result{size_t{0}};
  std::array<std::byte, kReplyBufferLen> out{};
};

Outcome ping4(const Frame& f, const ServiceConfig& cfg) {
  Outcome r;
  auto eth = EthernetView::parse(bytes_of(f));
  auto ip = Ipv4View::parse(eth->payload());
  auto icmp = Icmp4View::parse(ip->payload());
  EXPECT_TRUE(icmp);
  r.result = icmp4_echo_reply(*eth, *ip, *icmp, cfg, r.out);
  return r;
}

Outcome ping6(const Frame& f, const ServiceConfig& cfg) {
  Outcome r;
  auto eth = EthernetView::parse(bytes_of(f));
  auto ip = Ipv6View::parse(eth->payload());
  auto icmp = Icmp6View::parse(ip->upper_payload());
  EXPECT_TRUE(icmp);
  r.result = icmp6_echo_reply(*eth, *ip, *icmp, cfg, r.out);
  return r;
}

Frame with_v4_dst(Frame f, Ipv4Addr dst) {
  // Rewrite through the mutable view so the header checksum stays right.
  auto ip = Ipv4MutView::parse(as_writable_bytes(f).subspan(kEthernetHeaderLen));
  ip->set_destination(dst);
  return f;
}

TEST(IcmpEcho, AnswersCapturedPingToGateway) {
  const auto cfg = default_config();
  const Frame req = capture_frame("arp.pcap", kPing4);
  const Outcome r = ping4(req, cfg);
  ASSERT_TRUE(r.result);
  ASSERT_EQ(*r.result, req.size());
  const ConstBytes frame = ConstBytes(r.out).first(*r.result);
  auto eth = EthernetView::parse(frame);
  EXPECT_EQ(eth->source(), kGatewayMac);
  EXPECT_EQ(eth->destination(), kGuestMac);
  auto ip = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->header_checksum_ok());
  EXPECT_EQ(ip->source(), v4("10.0.2.2"));
  EXPECT_EQ(ip->destination(), v4("10.0.2.100"));
  EXPECT_EQ(ip->ttl(), 64);
  auto icmp = Icmp4View::parse(ip->payload());
  ASSERT_TRUE(icmp);
  EXPECT_TRUE(icmp->checksum_ok());
  EXPECT_EQ(icmp->type(), icmp4_type::kEchoReply);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->identifier(), 26582);
  EXPECT_EQ(icmp->sequence(), 1);
  // The data comes back unchanged.
  auto req_ip = Ipv4View::parse(EthernetView::parse(bytes_of(req))->payload());
  const ConstBytes want = Icmp4View::parse(req_ip->payload())->body();
  ASSERT_EQ(icmp->body().size(), want.size());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), icmp->body().begin()));
}

TEST(IcmpEcho, AnswersPingToDnsButNotElsewhere) {
  const auto cfg = default_config();
  const Frame req = capture_frame("arp.pcap", kPing4);
  const Outcome dns = ping4(with_v4_dst(req, v4("10.0.2.3")), cfg);
  ASSERT_TRUE(dns.result);
  EXPECT_EQ(*dns.result, req.size());
  for (const char* d : {"10.0.2.4", "198.51.100.8", "10.0.2.100"}) {
    const Outcome r = ping4(with_v4_dst(req, v4(d)), cfg);
    ASSERT_TRUE(r.result);
    EXPECT_EQ(*r.result, 0u) << d;
  }
}

TEST(IcmpEcho, DropsCorruptedPing) {
  const auto cfg = default_config();
  Frame req = capture_frame("arp.pcap", kPing4);
  req.back() ^= 0x01;  // last data byte: the ICMP checksum no longer matches
  const Outcome r = ping4(req, cfg);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
}

TEST(IcmpEcho, IgnoresEchoReplies) {
  const auto cfg = default_config();
  const Outcome r = ping4(capture_frame("arp.pcap", 3), cfg);  // the host's reply
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
}

TEST(IcmpEcho, AnswersCapturedPing6ToGateway) {
  const auto cfg = default_config();
  const Frame req = capture_frame("ndp.pcap", kPing6);
  const Outcome r = ping6(req, cfg);
  ASSERT_TRUE(r.result);
  ASSERT_EQ(*r.result, req.size());
  auto eth = EthernetView::parse(ConstBytes(r.out).first(*r.result));
  EXPECT_EQ(eth->destination(), kGuestMac);
  auto ip = Ipv6View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->source(), v6("fd00::2"));
  EXPECT_EQ(ip->destination(), v6("fd00::100"));
  auto icmp = Icmp6View::parse(ip->upper_payload());
  ASSERT_TRUE(icmp);
  EXPECT_TRUE(icmp->checksum_ok(ip->source(), ip->destination()));
  EXPECT_EQ(icmp->type(), icmp6_type::kEchoReply);
  EXPECT_EQ(icmp->identifier(), 26806);
  EXPECT_EQ(icmp->sequence(), 1);
}

TEST(IcmpEcho, NoIpv6AnswersWhenIpv6IsOff) {
  const auto cfg = default_config(/*ipv6=*/false);
  const Outcome r = ping6(capture_frame("ndp.pcap", kPing6), cfg);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
}

TEST(IcmpEcho, LocalTargets) {
  const auto cfg = default_config();
  EXPECT_TRUE(is_local_echo_target(v6("fd00::3"), cfg));
  EXPECT_TRUE(is_local_echo_target(cfg.plan.gateway_link_local6(), cfg));
  EXPECT_FALSE(is_local_echo_target(v6("fd00::4"), cfg));
}

TEST(IcmpEcho, NoReplyWhenBufferTooSmall) {
  const auto cfg = default_config();
  const Frame req = capture_frame("arp.pcap", kPing4);
  auto eth = EthernetView::parse(bytes_of(req));
  auto ip = Ipv4View::parse(eth->payload());
  auto icmp = Icmp4View::parse(ip->payload());
  std::array<std::byte, 60> small{};
  auto r = icmp4_echo_reply(*eth, *ip, *icmp, cfg, small);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
}

}  // namespace
}  // namespace tapir::services
