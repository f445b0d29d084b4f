#include "services/dhcp4.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>

#include "services/dhcp4_options.hpp"
#include "services_test_util.hpp"

namespace tapir::services {
namespace {

using namespace tapir::wire;
using namespace tapir::services::test;

// dhcp.pcap (tests/data/README.md): guest MAC 52:54:00:12:34:56.
constexpr size_t kUdhcpcDiscover = 0;  // MSZ 576, PRL 1 3 6 12 15 28 42, client id
constexpr size_t kUdhcpcRequest = 2;   // requested 10.0.2.41 (dnsmasq's), server id 10.0.2.2
constexpr size_t kDhclientDiscover = 4;  // PRL 1 28 2 3 15 6 119 12 44 47 26 121 42, hostname
constexpr size_t kDhclientRequest = 6;   // requested 10.0.2.41, server id 10.0.2.2
constexpr size_t kDhclientRelease = 8;   // ciaddr 10.0.2.41, from 10.0.2.100


// Offsets into a captured frame (Ethernet, 20-byte IPv4, UDP, DHCP).
constexpr size_t kUdpOff = 14 + 20;
constexpr size_t kMsgOff = kUdpOff + 8;

using Options = std::map<uint8_t, std::vector<uint8_t>>;

// Every option of a reply (RFC 3396 instances concatenated); fails on a
// malformed area.
Options options_of(const std::vector<uint8_t>& msg) {
  Options o;
  size_t i = kDhcp4OptionsOffset;
  bool end = false;
  while (i < msg.size()) {
    const uint8_t code = msg[i];
    if (code == 0) {
      ++i;
      continue;
    }
    if (code == 255) {
      end = true;
      break;
    }
    EXPECT_LT(i + 1, msg.size());
    const size_t len = msg[i + 1];
    EXPECT_LE(i + 2 + len, msg.size());
    auto& v = o[code];
    v.insert(v.end(), msg.begin() + static_cast<ptrdiff_t>(i + 2),
             msg.begin() + static_cast<ptrdiff_t>(i + 2 + len));
    i += 2 + len;
  }
  EXPECT_TRUE(end) << "no End option";
  return o;
}

std::vector<uint8_t> u32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}
std::vector<uint8_t> addr(const char* s) { return u32(v4(s).value); }
std::vector<uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }

// Recomputes the UDP checksum of a captured frame after an edit.
void refresh_udp(Frame& f) {
  auto ip = Ipv4View::parse(as_bytes(f).subspan(kEthernetHeaderLen));
  const size_t udp_len = ip->payload().size();
  fill_udp_checksum(as_writable_bytes(f).subspan(kUdpOff, udp_len), ip->source(),
                    ip->destination());
}

// Offset of option `code` in a captured frame (its code byte), or 0.
size_t find_option(const Frame& f, uint8_t code) {
  size_t i = kMsgOff + kDhcp4OptionsOffset;
  while (i < f.size() && f[i] != 255) {
    if (f[i] == 0) {
      ++i;
      continue;
    }
    if (f[i] == code) return i;
    i += 2 + size_t{f[i + 1]};
  }
  return code == 255 ? i : 0;
}

// Replaces the data of an option of the same length.
void set_option(Frame& f, uint8_t code, const std::vector<uint8_t>& data) {
  const size_t at = find_option(f, code);
  ASSERT_NE(at, 0u);
  ASSERT_EQ(f[at + 1], data.size());
  std::copy(data.begin(), data.end(), f.begin() + static_cast<ptrdiff_t>(at + 2));
  refresh_udp(f);
}

// Appends an option where End was (the captured messages are zero-padded).
void add_option(Frame& f, uint8_t code, const std::vector<uint8_t>& data) {
  const size_t at = find_option(f, 255);
  ASSERT_LT(at + 3 + data.size(), f.size());
  f[at] = code;
  f[at + 1] = static_cast<uint8_t>(data.size());
  std::copy(data.begin(), data.end(), f.begin() + static_cast<ptrdiff_t>(at + 2));
  f[at + 2 + data.size()] = 255;
  refresh_udp(f);
}

void set_field32(Frame& f, size_t off, uint32_t v) {
  store_be32(as_writable_bytes(f), kMsgOff + off, v);
  refresh_udp(f);
}
void set_field16(Frame& f, size_t off, uint16_t v) {
  store_be16(as_writable_bytes(f), kMsgOff + off, v);
  refresh_udp(f);
}

struct Outcome {
  ServiceResult result{size_t{0}};
  std::array<std::byte, kReplyBufferLen> out{};
  std::optional<Udp4Reply> reply;
  Options opts;
};

Outcome feed(const Frame& f, const ServiceConfig& cfg, GuestState& state,
             MonoTime now = MonoTime{Duration::seconds(100).ns}) {
  Outcome o;
  auto eth = EthernetView::parse(bytes_of(f));
  auto ip = Ipv4View::parse(eth->payload());
  auto udp = UdpView::parse(ip->payload());
  EXPECT_TRUE(udp);
  o.result = dhcp4_reply(*eth, *ip, *udp, cfg, state, now, o.out);
  if (o.result && *o.result > 0) {
    o.reply = parse_udp4(ConstBytes(o.out).first(*o.result));
    EXPECT_TRUE(o.reply) << "reply does not parse or has a bad checksum";
    if (o.reply) o.opts = options_of(o.reply->payload);
  }
  return o;
}

uint8_t msg_type(const Outcome& o) {
  auto it = o.opts.find(dhcp4_opt::kMessageType);
  return it == o.opts.end() || it->second.size() != 1 ? 0 : it->second[0];
}

Ipv4Addr yiaddr(const Outcome& o) {
  return Ipv4Addr::load(as_bytes(o.reply->payload), Dhcp4View::kYiaddrOffset);
}

TEST(Dhcp4Server, UdhcpcDiscoverGetsOfferFieldByField) {
  const auto cfg = default_config();
  GuestState state;
  const Frame req = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  const Outcome o = feed(req, cfg, state);
  ASSERT_TRUE(o.result);
  ASSERT_TRUE(o.reply);
  const Udp4Reply& r = *o.reply;
  // RFC 2131 4.1: no broadcast flag, ciaddr 0 -> unicast to yiaddr/chaddr.
  EXPECT_EQ(r.eth_src, kGatewayMac);
  EXPECT_EQ(r.eth_dst, kGuestMac);
  EXPECT_EQ(r.src, v4("10.0.2.2"));
  EXPECT_EQ(r.dst, v4("10.0.2.15"));
  EXPECT_EQ(r.sport, 67);
  EXPECT_EQ(r.dport, 68);
  // udhcpc's Maximum Message Size is 576: the DHCP message fits in 548.
  EXPECT_GE(r.payload.size(), kDhcp4MinMessageLen);
  EXPECT_LE(r.payload.size(), 548u);
  const ConstBytes m = as_bytes(r.payload);
  EXPECT_EQ(load_u8(m, 0), dhcp4_op::kBootReply);
  EXPECT_EQ(load_u8(m, 1), 1);
  EXPECT_EQ(load_u8(m, 2), 6);
  EXPECT_EQ(load_be32(m, 4), 0x5238dd3du);  // xid
  EXPECT_EQ(load_be16(m, 10), 0);           // flags copied
  EXPECT_EQ(Ipv4Addr::load(m, 12), v4("0.0.0.0"));
  EXPECT_EQ(yiaddr(o), v4("10.0.2.15"));
  EXPECT_EQ(MacAddr::load(m, 28), kGuestMac);
  EXPECT_EQ(load_be32(m, 236), kDhcp4MagicCookie);

  EXPECT_EQ(msg_type(o), dhcp4_msg::kOffer);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kServerId), addr("10.0.2.2"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kLeaseTime), u32(86400));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kRenewalTime), u32(43200));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kRebindingTime), u32(75600));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kSubnetMask), addr("255.255.255.0"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kRouter), addr("10.0.2.2"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kDnsServer), addr("10.0.2.3"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kDomainName), text("tapir.test"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kBroadcastAddr), addr("10.0.2.255"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kInterfaceMtu), (std::vector<uint8_t>{0x05, 0xdc}));
  const std::vector<uint8_t> search = {5, 't', 'a', 'p', 'i', 'r', 4,   't', 'e', 's', 't', 0,
                                       7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,   'c', 'o', 'm', 0};
  EXPECT_EQ(o.opts.at(dhcp4_opt::kDomainSearch), search);
  EXPECT_EQ(o.opts.count(dhcp4_opt::kHostname), 0u);       // no hostname configured
  EXPECT_EQ(o.opts.count(dhcp4_opt::kClasslessRoutes), 0u);  // gateway on-subnet
  EXPECT_EQ(o.opts.count(dhcp4_opt::kRapidCommit), 0u);
  // Offered, not yet bound: ARP still answers for it, the guest has no address.
  EXPECT_FALSE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state, MonoTime{}));
}

TEST(Dhcp4Server, RequestedOptionsComeFirstInClientOrder) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(capture_frame("dhcp.pcap", kDhclientDiscover), cfg, state);
  ASSERT_TRUE(o.reply);
  // After 53, 54, 51, 58, 59: dhclient's order 1 28 (2) 3 15 6 119 ...
  const auto& p = o.reply->payload;
  std::vector<uint8_t> codes;
  for (size_t i = kDhcp4OptionsOffset; i < p.size() && p[i] != 255; i += 2 + size_t{p[i + 1]}) {
    codes.push_back(p[i]);
  }
  const std::vector<uint8_t> want = {53, 54, 51, 58, 59, 1, 28, 3, 15, 6, 119, 26};
  EXPECT_EQ(codes, want);
}

TEST(Dhcp4Server, HostnameWhenConfigured) {
  auto cfg = default_config();
  cfg.hostname = "box";
  GuestState state;
  const Outcome o = feed(capture_frame("dhcp.pcap", kDhclientDiscover), cfg, state);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kHostname), text("box"));
}

TEST(Dhcp4Server, CapturedRequestForAnotherServersAddressIsNaked) {
  // udhcpc requests 10.0.2.41, which dnsmasq offered in the capture; tapir
  // offered 10.0.2.15, so this is the "wrong address" case.
  const auto cfg = default_config();
  GuestState state;
  (void)feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state);
  const Outcome o = feed(capture_frame("dhcp.pcap", kUdhcpcRequest), cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kNak);
  // RFC 2131 4.1: NAKs are broadcast; no yiaddr, no lease options.
  EXPECT_EQ(o.reply->dst, v4("255.255.255.255"));
  EXPECT_EQ(o.reply->eth_dst, MacAddr::broadcast());
  EXPECT_EQ(yiaddr(o), v4("0.0.0.0"));
  EXPECT_EQ(o.opts.at(dhcp4_opt::kServerId), addr("10.0.2.2"));
  EXPECT_EQ(o.opts.count(dhcp4_opt::kLeaseTime), 0u);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kMessage), text("address not available"));
  EXPECT_FALSE(state.ip4);
}

TEST(Dhcp4Server, UdhcpcDiscoverRequestAck) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome offer = feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state);
  ASSERT_EQ(yiaddr(offer), v4("10.0.2.15"));
  Frame req = capture_frame("dhcp.pcap", kUdhcpcRequest);
  set_option(req, dhcp4_opt::kRequestedIp, addr("10.0.2.15"));
  const MonoTime now{Duration::seconds(101).ns};
  const Outcome o = feed(req, cfg, state, now);
  ASSERT_TRUE(o.reply);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kAck);
  EXPECT_EQ(yiaddr(o), v4("10.0.2.15"));
  EXPECT_EQ(o.reply->dst, v4("10.0.2.15"));
  EXPECT_EQ(o.reply->eth_dst, kGuestMac);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kLeaseTime), u32(86400));
  ASSERT_TRUE(state.ip4);
  EXPECT_EQ(*state.ip4, v4("10.0.2.15"));
  EXPECT_TRUE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state, now));
  EXPECT_FALSE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state,
                                   now + Duration::seconds(86400)));
}

TEST(Dhcp4Server, DhclientDiscoverRequestReleaseThenSameAddressAgain) {
  const auto cfg = default_config();
  GuestState state;
  ASSERT_EQ(yiaddr(feed(capture_frame("dhcp.pcap", kDhclientDiscover), cfg, state)),
            v4("10.0.2.15"));
  Frame req = capture_frame("dhcp.pcap", kDhclientRequest);
  set_option(req, dhcp4_opt::kRequestedIp, addr("10.0.2.15"));
  const Outcome ack = feed(req, cfg, state);
  EXPECT_EQ(msg_type(ack), dhcp4_msg::kAck);
  EXPECT_TRUE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state, MonoTime{}));

  // The captured RELEASE names 10.0.2.41: not this client's, ignored.
  Frame rel = capture_frame("dhcp.pcap", kDhclientRelease);
  Outcome o = feed(rel, cfg, state);
  ASSERT_TRUE(o.result);
  EXPECT_EQ(*o.result, 0u);
  EXPECT_TRUE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state, MonoTime{}));
  set_field32(rel, Dhcp4View::kCiaddrOffset, v4("10.0.2.15").value);
  o = feed(rel, cfg, state);
  ASSERT_TRUE(o.result);
  EXPECT_EQ(*o.result, 0u);  // RELEASE is never answered
  EXPECT_FALSE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state, MonoTime{}));
  EXPECT_FALSE(state.ip4);
  // Stable per MAC: the next DISCOVER gets the same address.
  EXPECT_EQ(yiaddr(feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state)),
            v4("10.0.2.15"));
}

TEST(Dhcp4Server, OtherMacsGetNextAddresses) {
  const auto cfg = default_config();
  GuestState state;
  Frame d = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  EXPECT_EQ(yiaddr(feed(d, cfg, state)), v4("10.0.2.15"));
  MacAddr{{0x52, 0x54, 0, 0, 0, 0x77}}.store(as_writable_bytes(d),
                                             kMsgOff + Dhcp4View::kChaddrOffset);
  refresh_udp(d);
  const Outcome o = feed(d, cfg, state);
  EXPECT_EQ(yiaddr(o), v4("10.0.2.16"));
  EXPECT_EQ(o.reply->eth_dst, (MacAddr{{0x52, 0x54, 0, 0, 0, 0x77}}));
  // And the first MAC still gets its own.
  EXPECT_EQ(yiaddr(feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state)),
            v4("10.0.2.15"));
}

TEST(Dhcp4Server, PoolExhaustionIsSilent) {
  const auto cfg = default_config();
  GuestState state;
  const MonoTime now{Duration::seconds(100).ns};
  for (size_t i = 0; i < kMaxLeases4; ++i) {
    state.leases4.set(i, MacAddr{{2, 0, 0, 0, 0, static_cast<uint8_t>(i)}}, LeaseState::kBound,
                      now + Duration::seconds(1000));
  }
  const Outcome o = feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state, now);
  ASSERT_TRUE(o.result);
  EXPECT_EQ(*o.result, 0u);
  // After they expire, a slot is reclaimed.
  const Outcome later = feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state,
                             now + Duration::seconds(1001));
  EXPECT_EQ(msg_type(later), dhcp4_msg::kOffer);
}

TEST(Dhcp4Server, RequestNamingAnotherServerIsNaked) {
  const auto cfg = default_config();
  GuestState state;
  Frame req = capture_frame("dhcp.pcap", kUdhcpcRequest);
  set_option(req, dhcp4_opt::kServerId, addr("10.0.2.1"));
  const Outcome o = feed(req, cfg, state);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kNak);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kMessage), text("wrong server"));
}

TEST(Dhcp4Server, InitRebootForOffSubnetAddressIsNaked) {
  const auto cfg = default_config();
  GuestState state;
  Frame req = capture_frame("dhcp.pcap", kUdhcpcRequest);
  set_option(req, dhcp4_opt::kRequestedIp, addr("192.168.1.20"));
  const Outcome o = feed(req, cfg, state);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kNak);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kMessage), text("wrong network"));
}

TEST(Dhcp4Server, InitRebootAfterRestartKeepsAFreePoolAddress) {
  // A client that held 10.0.2.17 before tapir restarted gets it back.
  const auto cfg = default_config();
  GuestState state;
  Frame req = capture_frame("dhcp.pcap", kUdhcpcRequest);
  set_option(req, dhcp4_opt::kRequestedIp, addr("10.0.2.17"));
  const Outcome o = feed(req, cfg, state);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kAck);
  EXPECT_EQ(yiaddr(o), v4("10.0.2.17"));
}

TEST(Dhcp4Server, RenewingIsAckedUnicastToCiaddr) {
  const auto cfg = default_config();
  GuestState state;
  Frame req = capture_frame("dhcp.pcap", kUdhcpcRequest);
  set_option(req, dhcp4_opt::kRequestedIp, addr("10.0.2.15"));
  ASSERT_EQ(msg_type(feed(req, cfg, state)), dhcp4_msg::kAck);
  // RENEWING: ciaddr set, neither requested IP nor server id (turned into
  // Pad-free unknown options of the same length).
  set_option(req, dhcp4_opt::kRequestedIp, addr("10.0.2.15"));
  const size_t at50 = find_option(req, dhcp4_opt::kRequestedIp);
  const size_t at54 = find_option(req, dhcp4_opt::kServerId);
  req[at50] = 250;
  req[at54] = 251;
  set_field32(req, Dhcp4View::kCiaddrOffset, v4("10.0.2.15").value);
  set_field16(req, Dhcp4View::kFlagsOffset, kDhcp4BroadcastFlag);  // ciaddr wins over it
  const Outcome o = feed(req, cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kAck);
  EXPECT_EQ(o.reply->dst, v4("10.0.2.15"));
  EXPECT_EQ(o.reply->eth_dst, kGuestMac);
  const ConstBytes m = as_bytes(o.reply->payload);
  EXPECT_EQ(Ipv4Addr::load(m, Dhcp4View::kCiaddrOffset), v4("10.0.2.15"));
}

TEST(Dhcp4Server, BroadcastFlagGivesBroadcastOffer) {
  const auto cfg = default_config();
  GuestState state;
  Frame d = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  set_field16(d, Dhcp4View::kFlagsOffset, kDhcp4BroadcastFlag);
  const Outcome o = feed(d, cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_EQ(o.reply->dst, v4("255.255.255.255"));
  EXPECT_EQ(o.reply->eth_dst, MacAddr::broadcast());
  EXPECT_EQ(load_be16(as_bytes(o.reply->payload), Dhcp4View::kFlagsOffset), kDhcp4BroadcastFlag);
}

TEST(Dhcp4Server, RapidCommitDiscoverIsAcked) {
  const auto cfg = default_config();
  GuestState state;
  Frame d = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  add_option(d, dhcp4_opt::kRapidCommit, {});
  const Outcome o = feed(d, cfg, state);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kAck);
  EXPECT_EQ(o.opts.count(dhcp4_opt::kRapidCommit), 1u);
  EXPECT_TRUE(o.opts.at(dhcp4_opt::kRapidCommit).empty());
  EXPECT_TRUE(dhcp4_address_bound(v4("10.0.2.15"), cfg, state, MonoTime{}));
}

TEST(Dhcp4Server, InformGetsConfigurationWithoutLease) {
  const auto cfg = default_config();
  GuestState state;
  Frame d = capture_frame("dhcp.pcap", kDhclientDiscover);
  set_option(d, dhcp4_opt::kMessageType, {dhcp4_msg::kInform});
  set_field32(d, Dhcp4View::kCiaddrOffset, v4("10.0.2.100").value);
  const Outcome o = feed(d, cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_EQ(msg_type(o), dhcp4_msg::kAck);
  EXPECT_EQ(o.reply->dst, v4("10.0.2.100"));
  EXPECT_EQ(yiaddr(o), v4("0.0.0.0"));
  EXPECT_EQ(o.opts.count(dhcp4_opt::kLeaseTime), 0u);
  EXPECT_EQ(o.opts.count(dhcp4_opt::kRenewalTime), 0u);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kDnsServer), addr("10.0.2.3"));
  EXPECT_EQ(*state.ip4, v4("10.0.2.100"));
}

TEST(Dhcp4Server, DeclinedAddressIsNotOfferedAgain) {
  const auto cfg = default_config();
  GuestState state;
  ASSERT_EQ(yiaddr(feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state)),
            v4("10.0.2.15"));
  Frame dec = capture_frame("dhcp.pcap", kUdhcpcRequest);
  set_option(dec, dhcp4_opt::kMessageType, {dhcp4_msg::kDecline});
  set_option(dec, dhcp4_opt::kRequestedIp, addr("10.0.2.15"));
  const Outcome none = feed(dec, cfg, state);
  ASSERT_TRUE(none.result);
  EXPECT_EQ(*none.result, 0u);
  EXPECT_EQ(yiaddr(feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state)),
            v4("10.0.2.16"));
}

TEST(Dhcp4Server, UnrequestedOptionsThatDoNotFitAreLeftOut) {
  auto cfg = default_config();
  cfg.plan.search.clear();
  for (int i = 0; i < 12; ++i) {
    cfg.plan.search.push_back("a-rather-long-search-domain-" + std::to_string(i) + ".example");
  }
  GuestState state;
  // udhcpc (MSZ 576) did not ask for 119: it would not fit, so it is absent.
  Outcome o = feed(capture_frame("dhcp.pcap", kUdhcpcDiscover), cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_LE(o.reply->payload.size(), 548u);
  EXPECT_EQ(o.opts.count(dhcp4_opt::kDomainSearch), 0u);
  EXPECT_EQ(o.opts.at(dhcp4_opt::kDnsServer), addr("10.0.2.3"));
  // With room (Maximum Message Size 1500) it is sent, split per RFC 3396.
  Frame big = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  set_option(big, dhcp4_opt::kMaxMessageSize, {0x05, 0xdc});
  o = feed(big, cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_GT(o.reply->payload.size(), 548u);
  EXPECT_LE(o.reply->payload.size() + 28, 1500u);
  ASSERT_EQ(o.opts.count(dhcp4_opt::kDomainSearch), 1u);
  EXPECT_GT(o.opts.at(dhcp4_opt::kDomainSearch).size(), 255u);
}

TEST(Dhcp4Server, ClasslessRoutesWhenGatewayIsOffSubnet) {
  auto cfg = default_config();
  cfg.plan.gateway4 = v4("192.168.100.1");
  GuestState state;
  const Outcome o = feed(capture_frame("dhcp.pcap", kDhclientDiscover), cfg, state);
  const std::vector<uint8_t> want = {32, 192, 168, 100, 1, 0, 0, 0, 0,
                                     0,  192, 168, 100, 1};
  EXPECT_EQ(o.opts.at(dhcp4_opt::kClasslessRoutes), want);
}

TEST(Dhcp4Server, IgnoresWhatIsNotForIt) {
  auto cfg = default_config();
  GuestState state;
  Frame d = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  // DHCP turned off.
  cfg.dhcp = false;
  Outcome o = feed(d, cfg, state);
  ASSERT_TRUE(o.result);
  EXPECT_EQ(*o.result, 0u);
  cfg.dhcp = true;
  // A server's own message type from the guest.
  Frame offer = d;
  set_option(offer, dhcp4_opt::kMessageType, {dhcp4_msg::kOffer});
  o = feed(offer, cfg, state);
  EXPECT_EQ(*o.result, 0u);
  // Relayed (giaddr set).
  Frame relayed = d;
  set_field32(relayed, Dhcp4View::kGiaddrOffset, v4("10.0.2.1").value);
  o = feed(relayed, cfg, state);
  EXPECT_EQ(*o.result, 0u);
  // A corrupted datagram (UDP checksum no longer matches).
  Frame bad = d;
  bad[kMsgOff + Dhcp4View::kSecsOffset] ^= 0x10;
  o = feed(bad, cfg, state);
  EXPECT_EQ(*o.result, 0u);
  // BOOTREPLY op.
  Frame reply = d;
  reply[kMsgOff] = dhcp4_op::kBootReply;
  refresh_udp(reply);
  o = feed(reply, cfg, state);
  EXPECT_EQ(*o.result, 0u);
}

TEST(Dhcp4Server, MalformedMessageIsAParseError) {
  const auto cfg = default_config();
  GuestState state;
  Frame d = capture_frame("dhcp.pcap", kUdhcpcDiscover);
  // Option 57 claims more bytes than the message has left.
  const size_t end = find_option(d, 255);
  const size_t last = d.size() - 2;
  d[end] = 0;  // End becomes Pad; the walk continues into the zero padding
  d[last] = dhcp4_opt::kMaxMessageSize;
  d[last + 1] = 9;
  refresh_udp(d);
  const Outcome o = feed(d, cfg, state);
  ASSERT_FALSE(o.result);
  EXPECT_EQ(o.result.error(), ParseError::kBadOption);
}

}  // namespace
}  // namespace tapir::services
