#include "services/arp.hpp"

#include <gtest/gtest.h>

#include <array>

#include "services/dhcp4.hpp"
#include "services_test_util.hpp"

namespace tapir::services {
namespace {

using namespace tapir::wire;
using namespace tapir::services::test;

// arp.pcap (tests/data/README.md): the guest 52:54:00:12:34:56 / 10.0.2.100.
constexpr size_t kRequestGateway = 0;        // who-has 10.0.2.2 tell 10.0.2.100
constexpr size_t kRequestGatewayArping = 4;  // the same from arping (target MAC ff:..)
constexpr size_t kProbe = 6;                 // who-has 10.0.2.100 tell 0.0.0.0
constexpr size_t kGratuitousRequest = 7;     // who-has 10.0.2.100 tell 10.0.2.100
constexpr size_t kGratuitousReply = 8;       // 10.0.2.100 is-at 52:54:00:12:34:56
constexpr size_t kGuestReply = 10;           // the guest answering the host

struct Outcome {
  ServiceResult result;
  std::array<std::byte, kReplyBufferLen> out{};
};

Outcome feed(const Frame& f, const ServiceConfig& cfg, GuestState& state,
         MonoTime now = MonoTime{}) {
  Outcome r{size_t{0}, {}};
  auto eth = EthernetView::parse(bytes_of(f));
  EXPECT_TRUE(eth);
  auto arp = ArpView::parse(eth->payload());
  EXPECT_TRUE(arp);
  r.result = arp_reply(*eth, *arp, cfg, state, now, r.out);
  return r;
}

// The same request with another target address.
Frame retarget(Frame f, Ipv4Addr target) {
  target.store(as_writable_bytes(f), kEthernetHeaderLen + ArpView::kTargetIpOffset);
  return f;
}

void expect_reply(const Outcome& r, Ipv4Addr answered, Ipv4Addr to_ip) {
  ASSERT_TRUE(r.result);
  ASSERT_EQ(*r.result, kArpReplyLen);
  const ConstBytes frame = ConstBytes(r.out).first(*r.result);
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->destination(), kGuestMac);
  EXPECT_EQ(eth->source(), kGatewayMac);
  EXPECT_EQ(eth->ethertype(), 0x0806);
  auto arp = ArpView::parse(eth->payload());
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), arp_op::kReply);
  EXPECT_EQ(arp->sender_mac(), kGatewayMac);
  EXPECT_EQ(arp->sender_ip(), answered);
  EXPECT_EQ(arp->target_mac(), kGuestMac);
  EXPECT_EQ(arp->target_ip(), to_ip);
}

TEST(ArpResponder, AnswersCapturedRequestForGateway) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome r = feed(capture_frame("arp.pcap", kRequestGateway), cfg, state);
  expect_reply(r, v4("10.0.2.2"), v4("10.0.2.100"));
  ASSERT_TRUE(state.mac);
  EXPECT_EQ(*state.mac, kGuestMac);
  ASSERT_TRUE(state.ip4);
  EXPECT_EQ(*state.ip4, v4("10.0.2.100"));
}

TEST(ArpResponder, AnswersArpingRequest) {
  const auto cfg = default_config();
  GuestState state;
  expect_reply(feed(capture_frame("arp.pcap", kRequestGatewayArping), cfg, state), v4("10.0.2.2"),
               v4("10.0.2.100"));
}

TEST(ArpResponder, AnswersDnsAndOtherSubnetAddresses) {
  const auto cfg = default_config();
  GuestState state;
  const Frame req = capture_frame("arp.pcap", kRequestGateway);
  expect_reply(feed(retarget(req, v4("10.0.2.3")), cfg, state), v4("10.0.2.3"), v4("10.0.2.100"));
  expect_reply(feed(retarget(req, v4("10.0.2.77")), cfg, state), v4("10.0.2.77"),
               v4("10.0.2.100"));
  expect_reply(feed(retarget(req, v4("10.0.2.254")), cfg, state), v4("10.0.2.254"),
               v4("10.0.2.100"));
}

TEST(ArpResponder, IgnoresOutOfSubnetNetworkAndBroadcast) {
  const auto cfg = default_config();
  GuestState state;
  const Frame req = capture_frame("arp.pcap", kRequestGateway);
  for (const char* t : {"10.0.3.2", "198.51.100.1", "10.0.2.0", "10.0.2.255", "0.0.0.0"}) {
    const Outcome r = feed(retarget(req, v4(t)), cfg, state);
    ASSERT_TRUE(r.result) << t;
    EXPECT_EQ(*r.result, 0u) << t;
  }
}

TEST(ArpResponder, NeverAnswersForTheGuestsOwnAddress) {
  const auto cfg = default_config();
  GuestState state;
  state.ip4 = v4("10.0.2.15");
  const Frame req = retarget(capture_frame("arp.pcap", kRequestGateway), v4("10.0.2.15"));
  // The frame's sender (10.0.2.100) is learned as the guest's address too.
  Outcome r = feed(req, cfg, state);
  ASSERT_TRUE(r.result);
  expect_reply(r, v4("10.0.2.15"), v4("10.0.2.100"));  // 10.0.2.100 replaced the old address
  r = feed(retarget(req, v4("10.0.2.100")), cfg, state);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
}

TEST(ArpResponder, NeverAnswersForAnAddressBoundByDhcp) {
  const auto cfg = default_config();
  GuestState state;
  const MonoTime now{1000};
  state.leases4.set(0, mac("52:54:00:aa:bb:cc"), LeaseState::kBound, now + Duration::seconds(60));
  ASSERT_EQ(*dhcp4_slot_address(cfg.plan, 0), v4("10.0.2.15"));
  const Frame req = retarget(capture_frame("arp.pcap", kRequestGateway), v4("10.0.2.15"));
  Outcome r = feed(req, cfg, state, now);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
  // Once the lease has expired the address is free and answered again.
  r = feed(req, cfg, state, now + Duration::seconds(61));
  expect_reply(r, v4("10.0.2.15"), v4("10.0.2.100"));
}

TEST(ArpResponder, NeverAnswersCapturedProbeForGuestAddress) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome r = feed(capture_frame("arp.pcap", kProbe), cfg, state);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
  EXPECT_FALSE(state.ip4);  // a probe's 0.0.0.0 is nobody's address
  EXPECT_EQ(*state.mac, kGuestMac);
  // A probe for any other ordinary address is not answered either.
  const Outcome r2 = feed(retarget(capture_frame("arp.pcap", kProbe), v4("10.0.2.15")), cfg, state);
  ASSERT_TRUE(r2.result);
  EXPECT_EQ(*r2.result, 0u);
}

TEST(ArpResponder, AnswersProbeForGatewayWithZeroTarget) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome r = feed(retarget(capture_frame("arp.pcap", kProbe), v4("10.0.2.2")), cfg, state);
  expect_reply(r, v4("10.0.2.2"), v4("0.0.0.0"));
}

TEST(ArpResponder, LearnsButNeverAnswersGratuitous) {
  const auto cfg = default_config();
  for (size_t idx : {kGratuitousRequest, kGratuitousReply}) {
    GuestState state;
    const Outcome r = feed(capture_frame("arp.pcap", idx), cfg, state);
    ASSERT_TRUE(r.result);
    EXPECT_EQ(*r.result, 0u) << idx;
    ASSERT_TRUE(state.ip4);
    EXPECT_EQ(*state.ip4, v4("10.0.2.100"));
  }
}

TEST(ArpResponder, IgnoresRepliesButLearns) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome r = feed(capture_frame("arp.pcap", kGuestReply), cfg, state);
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, 0u);
  EXPECT_EQ(*state.ip4, v4("10.0.2.100"));
}

TEST(ArpResponder, NoReplyWhenBufferTooSmall) {
  const auto cfg = default_config();
  GuestState state;
  const Frame f = capture_frame("arp.pcap", kRequestGateway);
  auto eth = EthernetView::parse(bytes_of(f));
  auto arp = ArpView::parse(eth->payload());
  std::array<std::byte, kArpReplyLen - 1> small{};
  auto r = arp_reply(*eth, *arp, cfg, state, MonoTime{}, small);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 0u);
}

TEST(ArpResponder, AnswersForFollowsPlan) {
  auto cfg = default_config();
  cfg.plan = AddressPlan::nat(*Ipv4Prefix::parse("192.168.7.0/24"), cfg.plan.net6, false);
  GuestState state;
  EXPECT_TRUE(arp_answers_for(v4("192.168.7.2"), cfg, state, MonoTime{}));
  EXPECT_TRUE(arp_answers_for(v4("192.168.7.3"), cfg, state, MonoTime{}));
  EXPECT_FALSE(arp_answers_for(v4("10.0.2.2"), cfg, state, MonoTime{}));
}

}  // namespace
}  // namespace tapir::services
