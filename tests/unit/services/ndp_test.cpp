#include "services/ndp.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "services/dhcp6.hpp"
#include "services/ndp_options.hpp"
#include "services_test_util.hpp"

namespace tapir::services {
namespace {

using namespace tapir::wire;
using namespace tapir::services::test;

// ndp.pcap (tests/data/README.md): guest 52:54:00:12:34:56, fd00::100,
// fe80::5054:ff:fe12:3456.
constexpr size_t kNsFromGlobal = 0;     // fd00::100 -> ff02::1:ff00:2, who has fd00::2, SLLA
constexpr size_t kNsFromLinkLocal = 4;  // fe80::... -> ff02::1:ff00:2, who has fd00::2
constexpr size_t kGuestNa = 7;          // fd00::100 advertises itself to fd00::2
constexpr size_t kRs = 13;              // rdisc6: fe80::... -> ff02::2, no options
constexpr size_t kDadProbe101 = 18;     // :: -> ff02::1:ff00:101, who has fd00::101, nonce
constexpr size_t kDadProbeSlaac = 19;   // :: -> ..., who has fd00::5054:ff:fe12:3456

struct Outcome {
  ServiceResult result{size_t{0}};
  std::array<std::byte, kReplyBufferLen> out{};
};

Outcome feed(const Frame& f, const ServiceConfig& cfg, GuestState& state) {
  Outcome o;
  auto eth = EthernetView::parse(bytes_of(f));
  auto ip = Ipv6View::parse(eth->payload());
  EXPECT_TRUE(ip);
  auto icmp = Icmp6View::parse(ip->upper_payload());
  EXPECT_TRUE(icmp);
  o.result = ndp_reply(*eth, *ip, *icmp, cfg, state, MonoTime{}, o.out);
  return o;
}

struct Parsed {
  MacAddr eth_src, eth_dst;
  Ipv6Addr src, dst;
  uint8_t hop_limit;
  std::vector<uint8_t> icmp;
};

Parsed parse_reply(const Outcome& o) {
  EXPECT_TRUE(o.result);
  const ConstBytes frame = ConstBytes(o.out).first(*o.result);
  auto eth = EthernetView::parse(frame);
  auto ip = Ipv6View::parse(eth->payload());
  EXPECT_TRUE(ip);
  EXPECT_EQ(ip->payload_length() + 54u, frame.size());
  auto icmp = Icmp6View::parse(ip->upper_payload());
  EXPECT_TRUE(icmp);
  EXPECT_TRUE(icmp->checksum_ok(ip->source(), ip->destination()));
  Parsed p{eth->source(), eth->destination(), ip->source(), ip->destination(), ip->hop_limit(), {}};
  for (std::byte b : icmp->bytes()) p.icmp.push_back(static_cast<uint8_t>(b));
  return p;
}

// Recomputes the ICMPv6 checksum of a captured frame after an edit.
void refresh(Frame& f) {
  auto ip = Ipv6View::parse(as_bytes(f).subspan(14));
  icmp6_fill_checksum(as_writable_bytes(f).subspan(54, ip->upper_payload().size()), ip->source(),
                      ip->destination());
}

void expect_na(const Parsed& p, const Ipv6Addr& target, const Ipv6Addr& dst, const MacAddr& dst_mac,
               uint8_t flags) {
  EXPECT_EQ(p.eth_src, kGatewayMac);
  EXPECT_EQ(p.eth_dst, dst_mac);
  EXPECT_EQ(p.src, target);
  EXPECT_EQ(p.dst, dst);
  EXPECT_EQ(p.hop_limit, 255);
  ASSERT_EQ(p.icmp.size(), 32u);
  EXPECT_EQ(p.icmp[0], icmp6_type::kNeighborAdvertisement);
  EXPECT_EQ(p.icmp[1], 0);
  EXPECT_EQ(p.icmp[4], flags);
  EXPECT_EQ(Ipv6Addr::load(as_bytes(p.icmp), 8), target);
  auto opts = NdpOptions::parse(as_bytes(p.icmp).subspan(24));
  ASSERT_TRUE(opts);
  ASSERT_TRUE(opts->target_link_addr);
  EXPECT_EQ(*opts->target_link_addr, kGatewayMac);
}

TEST(NdpResponder, CapturedNsForGatewayGetsSolicitedNa) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(capture_frame("ndp.pcap", kNsFromGlobal), cfg, state);
  expect_na(parse_reply(o), v6("fd00::2"), v6("fd00::100"), kGuestMac,
            kNaRouter | kNaSolicited | kNaOverride);
  EXPECT_TRUE(state.owns_ip6(v6("fd00::100")));
  const Outcome ll = feed(capture_frame("ndp.pcap", kNsFromLinkLocal), cfg, state);
  expect_na(parse_reply(ll), v6("fd00::2"), v6("fe80::5054:ff:fe12:3456"), kGuestMac,
            kNaRouter | kNaSolicited | kNaOverride);
}

Frame retarget(Frame f, const Ipv6Addr& target) {
  target.store(as_writable_bytes(f), 54 + 8);
  refresh(f);
  return f;
}

TEST(NdpResponder, AnswersDnsLinkLocalAndOnLinkButNotGuestOrForeign) {
  const auto cfg = default_config();
  GuestState state;
  const Frame ns = capture_frame("ndp.pcap", kNsFromGlobal);
  for (const Ipv6Addr& t : {v6("fd00::3"), cfg.plan.gateway_link_local6(), v6("fd00::99")}) {
    expect_na(parse_reply(feed(retarget(ns, t), cfg, state)), t, v6("fd00::100"), kGuestMac,
              kNaRouter | kNaSolicited | kNaOverride);
  }
  for (const char* t : {"fd00::100", "fd01::2", "fe80::1", "fd00::"}) {
    const Outcome o = feed(retarget(ns, v6(t)), cfg, state);
    ASSERT_TRUE(o.result);
    EXPECT_EQ(*o.result, 0u) << t;
  }
}

TEST(NdpResponder, DadProbesAreLearnedNeverAnswered) {
  const auto cfg = default_config();
  GuestState state;
  for (size_t idx : {kDadProbe101, kDadProbeSlaac}) {
    const Outcome o = feed(capture_frame("ndp.pcap", idx), cfg, state);
    ASSERT_TRUE(o.result);
    EXPECT_EQ(*o.result, 0u);
  }
  EXPECT_TRUE(state.owns_ip6(v6("fd00::101")));
  EXPECT_TRUE(state.owns_ip6(v6("fd00::5054:ff:fe12:3456")));
  // Afterwards an NS for the probed address is not answered either.
  const Outcome o = feed(retarget(capture_frame("ndp.pcap", kNsFromGlobal), v6("fd00::101")), cfg,
                         state);
  EXPECT_EQ(*o.result, 0u);
}

TEST(NdpResponder, DadProbeForGatewayIsAnsweredToAllNodes) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(retarget(capture_frame("ndp.pcap", kDadProbe101), v6("fd00::2")), cfg,
                         state);
  expect_na(parse_reply(o), v6("fd00::2"), v6("ff02::1"), mac("33:33:00:00:00:01"),
            kNaRouter | kNaOverride);
}

TEST(NdpResponder, LearnsFromGuestAdvertisements) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(capture_frame("ndp.pcap", kGuestNa), cfg, state);
  EXPECT_EQ(*o.result, 0u);
  EXPECT_TRUE(state.owns_ip6(v6("fd00::100")));
}

TEST(NdpResponder, CapturedRsGetsUnicastRaFieldByField) {
  auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(capture_frame("ndp.pcap", kRs), cfg, state);
  const Parsed p = parse_reply(o);
  EXPECT_EQ(p.eth_src, kGatewayMac);
  EXPECT_EQ(p.eth_dst, kGuestMac);
  EXPECT_EQ(p.src, cfg.plan.gateway_link_local6());
  EXPECT_EQ(p.src, v6("fe80::5055:aff:fe00:202"));
  EXPECT_EQ(p.dst, v6("fe80::5054:ff:fe12:3456"));
  EXPECT_EQ(p.hop_limit, 255);
  const ConstBytes m = as_bytes(p.icmp);
  EXPECT_EQ(load_u8(m, 0), icmp6_type::kRouterAdvertisement);
  EXPECT_EQ(load_u8(m, 4), 64);
  EXPECT_EQ(load_u8(m, 5), kRaManaged | kRaOther);  // DHCPv6 is on
  EXPECT_EQ(load_be16(m, 6), 1800);
  // Options in order: SLLA, MTU, prefix, RDNSS, DNSSL.
  ConstBytes opts = m.subspan(kRaLen);
  auto parsed = NdpOptions::parse(opts);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->count, 5u);
  EXPECT_EQ(*parsed->source_link_addr, kGatewayMac);
  EXPECT_EQ(*parsed->mtu, 1500u);
  const ConstBytes prefix = opts.subspan(16, 32);
  EXPECT_EQ(load_u8(prefix, 0), ndp_opt::kPrefixInfo);
  EXPECT_EQ(load_u8(prefix, 2), 64);
  EXPECT_EQ(load_u8(prefix, 3), ndp_opt::kPrefixOnLink | ndp_opt::kPrefixAutonomous);
  EXPECT_EQ(load_be32(prefix, 4), kPrefixValidLifetime);
  EXPECT_EQ(load_be32(prefix, 8), kPrefixPreferredLifetime);
  EXPECT_EQ(Ipv6Addr::load(prefix, 16), v6("fd00::"));
  const ConstBytes rdnss = opts.subspan(48, 24);
  EXPECT_EQ(load_u8(rdnss, 0), ndp_opt::kRdnss);
  EXPECT_EQ(load_u8(rdnss, 1), 3);
  EXPECT_EQ(load_be32(rdnss, 4), kDnsOptionLifetime);
  EXPECT_EQ(Ipv6Addr::load(rdnss, 8), v6("fd00::3"));
  const ConstBytes dnssl = opts.subspan(72);
  EXPECT_EQ(load_u8(dnssl, 0), ndp_opt::kDnssl);
  // 8 + "tapir.test" (12) + "example.com" (13) = 33 -> 40 bytes = 5 units.
  EXPECT_EQ(load_u8(dnssl, 1), 5);
  EXPECT_EQ(dnssl.size(), 40u);
  EXPECT_EQ(load_u8(dnssl, 8), 5);
  EXPECT_EQ(load_u8(dnssl, 8 + 12), 7);
  EXPECT_EQ(load_u8(dnssl, 39), 0);  // padding
}

TEST(NdpResponder, FlagsFollowDhcpv6AndPrefixLength) {
  auto cfg = default_config();
  cfg.dhcpv6 = false;
  cfg.plan.net6 = *Ipv6Prefix::parse("fd00::/56");
  cfg.plan.search.clear();
  std::array<std::byte, kReplyBufferLen> out{};
  const size_t n = build_unsolicited_ra(cfg, out);
  ASSERT_GT(n, 0u);
  auto eth = EthernetView::parse(ConstBytes(out).first(n));
  EXPECT_EQ(eth->destination(), mac("33:33:00:00:00:01"));
  auto ip = Ipv6View::parse(eth->payload());
  EXPECT_EQ(ip->destination(), v6("ff02::1"));
  const ConstBytes m = ip->upper_payload();
  EXPECT_EQ(load_u8(m, 5), 0);  // neither M nor O
  EXPECT_EQ(load_u8(m, kRaLen + 16 + 3), ndp_opt::kPrefixOnLink);  // no SLAAC on a /56
  EXPECT_EQ(NdpOptions::parse(m.subspan(kRaLen))->count, 4u);     // no DNSSL
}

TEST(NdpResponder, NothingWhenOffOrInvalid) {
  auto cfg = default_config();
  GuestState state;
  const Frame rs = capture_frame("ndp.pcap", kRs);
  cfg.ndp = false;
  EXPECT_EQ(*feed(rs, cfg, state).result, 0u);
  cfg.ndp = true;
  EXPECT_EQ(*feed(rs, default_config(false), state).result, 0u);
  Frame hop = rs;
  hop[14 + 7] = 64;  // hop limit: forwarded, not from the link
  EXPECT_EQ(*feed(hop, cfg, state).result, 0u);
  Frame code = rs;
  code[54 + 1] = 1;
  refresh(code);
  EXPECT_EQ(*feed(code, cfg, state).result, 0u);
  Frame sum = rs;
  sum[54 + 4] ^= 1;  // reserved byte changed, checksum not
  EXPECT_EQ(*feed(sum, cfg, state).result, 0u);
}

TEST(NdpResponder, ZeroLengthOptionIsAParseError) {
  const auto cfg = default_config();
  GuestState state;
  Frame ns = capture_frame("ndp.pcap", kNsFromGlobal);
  ns[54 + 24 + 1] = 0;  // SLLA length 0
  refresh(ns);
  const Outcome o = feed(ns, cfg, state);
  ASSERT_FALSE(o.result);
  EXPECT_EQ(o.result.error(), ParseError::kBadOption);
}

TEST(NdpOptions, MalformedAreasGiveExactErrors) {
  struct Case {
    const char* name;
    std::vector<uint8_t> area;
  };
  const std::vector<Case> cases = {
      {"one byte", {1}},
      {"length zero", {1, 0, 0, 0, 0, 0, 0, 0}},
      {"past the end", {1, 2, 0, 0, 0, 0, 0, 0}},
      {"slla of two units", {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"mtu of two units", {5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {"prefix info of one unit", {3, 1, 64, 0xc0, 0, 0, 0, 0}},
      {"good then cut", {14, 1, 1, 2, 3, 4, 5, 6, 25, 3, 0, 0}},
  };
  for (const auto& c : cases) {
    auto r = NdpOptions::parse(as_bytes(c.area));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), ParseError::kBadOption) << c.name;
  }
  const std::vector<uint8_t> ok = {99, 1, 0, 0, 0, 0, 0, 0, 14, 1, 1, 2, 3, 4, 5, 6};
  auto r = NdpOptions::parse(as_bytes(ok));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->count, 2u);
  EXPECT_TRUE(r->nonce);
  EXPECT_TRUE(NdpOptions::parse({}));
}

TEST(NdpOptions, WriterRoundTripAndRefusesWhatDoesNotFit) {
  std::array<std::byte, 24> area{};
  NdpOptionWriter w(area);
  EXPECT_TRUE(w.put_link_addr(ndp_opt::kSourceLinkAddr, kGuestMac));
  EXPECT_TRUE(w.put_mtu(9000));
  EXPECT_FALSE(w.put_prefix_info(*Ipv6Prefix::parse("fd00::/64"), 0xc0, 1, 1));
  const std::array<Ipv6Addr, 1> dns{v6("fd00::3")};
  EXPECT_FALSE(w.put_rdnss(1, dns));  // 24 bytes, 8 left
  EXPECT_EQ(w.len(), 16u);
  auto r = NdpOptions::parse(ConstBytes(area).first(w.len()));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->source_link_addr, kGuestMac);
  EXPECT_EQ(*r->mtu, 9000u);
}

TEST(UnsolicitedRa, IntervalsFollowRfc4861) {
  EXPECT_EQ(unsolicited_ra_delay(0, 12345), Duration{});
  // The first three are at most 16 s apart.
  EXPECT_EQ(unsolicited_ra_delay(1, 0), kMaxInitialRtrAdvertInterval);
  EXPECT_EQ(unsolicited_ra_delay(2, 0xffffffffu), kMaxInitialRtrAdvertInterval);
  // Then uniform in [198 s, 600 s].
  EXPECT_EQ(unsolicited_ra_delay(3, 0), kMinRtrAdvInterval);
  EXPECT_EQ(unsolicited_ra_delay(3, 402000), kMaxRtrAdvInterval);
  for (uint32_t r : {1u, 77777u, 0xdeadbeefu, 0xffffffffu}) {
    const Duration d = unsolicited_ra_delay(10, r);
    EXPECT_GE(d, kMinRtrAdvInterval);
    EXPECT_LE(d, kMaxRtrAdvInterval);
  }
}

}  // namespace
}  // namespace tapir::services
