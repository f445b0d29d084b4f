#include "services/dhcp6.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <vector>

#include "services/dhcp6_options.hpp"
#include "services/frame.hpp"
#include "services_test_util.hpp"

namespace tapir::services {
namespace {

using namespace tapir::wire;
using namespace tapir::services::test;

// dhcp6.pcap (tests/data/README.md): dhclient -6 on the guest,
// fe80::5054:ff:fe12:3456 -> ff02::1:2. Its client DUID is DUID-LLT
// (type 1) of 52:54:00:12:34:56; dnsmasq was the server.
constexpr size_t kSolicit = 5;     // ORO 23 24 39 31, IA_NA IAID 1193046
constexpr size_t kRequest = 7;     // server id = dnsmasq's, IA_NA with fd00::48
constexpr size_t kRelease = 9;     // server id = dnsmasq's, IA_NA with fd00::48
constexpr size_t kInfoRequest = 12;

using Tlvs = std::vector<std::pair<uint16_t, std::vector<uint8_t>>>;

Tlvs tlvs_of(ConstBytes area) {
  Tlvs t;
  for (size_t i = 0; i + 4 <= area.size();) {
    const uint16_t code = load_be16(area, i);
    const size_t len = load_be16(area, i + 2);
    EXPECT_LE(i + 4 + len, area.size());
    if (i + 4 + len > area.size()) break;
    std::vector<uint8_t> d;
    for (std::byte b : area.subspan(i + 4, len)) d.push_back(static_cast<uint8_t>(b));
    t.emplace_back(code, d);
    i += 4 + len;
  }
  return t;
}

const std::vector<uint8_t>* find(const Tlvs& t, uint16_t code) {
  for (const auto& [c, d] : t) {
    if (c == code) return &d;
  }
  return nullptr;
}

std::vector<uint8_t> tlv(uint16_t code, const std::vector<uint8_t>& d) {
  // Sized up front and filled by index: g++ 12 misreports vector::insert
  // here (-Warray-bounds).
  std::vector<uint8_t> o(4 + d.size());
  o[0] = static_cast<uint8_t>(code >> 8);
  o[1] = static_cast<uint8_t>(code);
  o[2] = static_cast<uint8_t>(d.size() >> 8);
  o[3] = static_cast<uint8_t>(d.size());
  for (size_t i = 0; i < d.size(); ++i) o[4 + i] = d[i];
  return o;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& more) {
  const size_t at = to.size();
  to.resize(at + more.size());
  for (size_t i = 0; i < more.size(); ++i) to[at + i] = more[i];
}

// A captured client frame with its DHCPv6 message rebuilt by `edit`.
template <class Edit>
Frame rebuild(const Frame& f, uint8_t msg_type, Edit&& edit) {
  auto eth = EthernetView::parse(bytes_of(f));
  auto ip = Ipv6View::parse(eth->payload());
  auto udp = UdpView::parse(ip->upper_payload());
  const ConstBytes msg = udp->payload();
  Tlvs t = tlvs_of(msg.subspan(4));
  edit(t);
  std::vector<uint8_t> payload = {msg_type, static_cast<uint8_t>(msg[1]),
                                  static_cast<uint8_t>(msg[2]), static_cast<uint8_t>(msg[3])};
  for (const auto& [c, d] : t) {
    append(payload, tlv(c, d));
  }
  Frame out(kUdp6PayloadOffset + payload.size());
  std::copy(payload.begin(), payload.end(), out.begin() + kUdp6PayloadOffset);
  finish_udp6(as_writable_bytes(out), {eth->source(), eth->destination()}, ip->source(),
              ip->destination(), udp->source_port(), udp->destination_port(), payload.size(),
              ip->hop_limit());
  return out;
}

void set_tlv(Tlvs& t, uint16_t code, const std::vector<uint8_t>& d) {
  for (auto& [c, v] : t) {
    if (c == code) {
      v = d;
      return;
    }
  }
  t.emplace_back(code, d);
}

void drop_tlv(Tlvs& t, uint16_t code) {
  std::erase_if(t, [&](const auto& p) { return p.first == code; });
}

std::vector<uint8_t> our_duid() {
  const auto d = dhcp6_server_duid(default_config().plan);
  return {d.begin(), d.end()};
}

std::vector<uint8_t> ia_na(uint32_t iaid, const std::vector<Ipv6Addr>& addrs) {
  std::vector<uint8_t> d = {static_cast<uint8_t>(iaid >> 24), static_cast<uint8_t>(iaid >> 16),
                            static_cast<uint8_t>(iaid >> 8), static_cast<uint8_t>(iaid),
                            0, 0, 0, 0, 0, 0, 0, 0};
  for (const auto& a : addrs) {
    std::vector<uint8_t> ia(a.octets.begin(), a.octets.end());
    ia.resize(24, 0);
    append(d, tlv(dhcp6_opt::kIaAddr, ia));
  }
  return d;
}

struct Outcome {
  ServiceResult result{size_t{0}};
  std::array<std::byte, kReplyBufferLen> out{};
  std::optional<Udp6Reply> reply;
  uint8_t type = 0;
  uint32_t xid = 0;
  Tlvs opts;
};

Outcome feed(const Frame& f, const ServiceConfig& cfg, GuestState& state,
             MonoTime now = MonoTime{Duration::seconds(50).ns}) {
  Outcome o;
  auto eth = EthernetView::parse(bytes_of(f));
  auto ip = Ipv6View::parse(eth->payload());
  auto udp = UdpView::parse(ip->upper_payload());
  EXPECT_TRUE(udp);
  o.result = dhcp6_reply(*eth, *ip, *udp, cfg, state, now, o.out);
  if (o.result && *o.result > 0) {
    o.reply = parse_udp6(ConstBytes(o.out).first(*o.result));
    EXPECT_TRUE(o.reply);
    if (o.reply) {
      const ConstBytes m = as_bytes(o.reply->payload);
      o.type = load_u8(m, 0);
      o.xid = load_be32(m, 0) & 0xffffff;
      o.opts = tlvs_of(m.subspan(4));
    }
  }
  return o;
}

// The address and lifetimes in a reply's IA_NA, or the IA's status code.
struct IaView {
  uint32_t iaid = 0, t1 = 0, t2 = 0;
  std::vector<std::tuple<Ipv6Addr, uint32_t, uint32_t>> addrs;
  std::optional<uint16_t> status;
};

IaView ia_of(const Outcome& o) {
  IaView v;
  const auto* ia = find(o.opts, dhcp6_opt::kIaNa);
  EXPECT_NE(ia, nullptr);
  if (ia == nullptr || ia->size() < 12) return v;
  const ConstBytes d = as_bytes(*ia);
  v.iaid = load_be32(d, 0);
  v.t1 = load_be32(d, 4);
  v.t2 = load_be32(d, 8);
  for (const auto& [c, data] : tlvs_of(d.subspan(12))) {
    if (c == dhcp6_opt::kIaAddr) {
      const ConstBytes a = as_bytes(data);
      v.addrs.emplace_back(Ipv6Addr::load(a, 0), load_be32(a, 16), load_be32(a, 20));
    } else if (c == dhcp6_opt::kStatusCode) {
      v.status = load_be16(as_bytes(data), 0);
    }
  }
  return v;
}

std::optional<uint16_t> status_of(const Outcome& o) {
  const auto* s = find(o.opts, dhcp6_opt::kStatusCode);
  if (s == nullptr || s->size() < 2) return std::nullopt;
  return load_be16(as_bytes(*s), 0);
}

TEST(Dhcp6Server, CapturedSolicitGetsAdvertiseFieldByField) {
  const auto cfg = default_config();
  GuestState state;
  const Frame req = capture_frame("dhcp6.pcap", kSolicit);
  const Outcome o = feed(req, cfg, state);
  ASSERT_TRUE(o.reply);
  EXPECT_EQ(o.reply->eth_src, kGatewayMac);
  EXPECT_EQ(o.reply->eth_dst, kGuestMac);
  EXPECT_EQ(o.reply->src, cfg.plan.gateway_link_local6());
  EXPECT_EQ(o.reply->dst, v6("fe80::5054:ff:fe12:3456"));
  EXPECT_EQ(o.reply->sport, 547);
  EXPECT_EQ(o.reply->dport, 546);
  EXPECT_EQ(o.type, dhcp6_msg::kAdvertise);
  EXPECT_EQ(o.xid, 0xa7945du);
  // The client's identifier echoed; ours a DUID-LL of the gateway MAC.
  auto in = Dhcp6Message::parse(UdpView::parse(Ipv6View::parse(EthernetView::parse(bytes_of(req))
                                                                     ->payload())
                                                    ->upper_payload())
                                    ->payload());
  ASSERT_TRUE(in);
  const auto* cid = find(o.opts, dhcp6_opt::kClientId);
  ASSERT_NE(cid, nullptr);
  EXPECT_EQ(cid->size(), in->client_id->size());
  EXPECT_TRUE(std::equal(cid->begin(), cid->end(), in->client_id->begin(),
                         [](uint8_t a, std::byte b) { return a == static_cast<uint8_t>(b); }));
  const std::vector<uint8_t> sid = {0, 3, 0, 1, 0x52, 0x55, 0x0a, 0, 2, 2};
  EXPECT_EQ(*find(o.opts, dhcp6_opt::kServerId), sid);
  const IaView ia = ia_of(o);
  EXPECT_EQ(ia.iaid, 1193046u);
  EXPECT_EQ(ia.t1, 43200u);
  EXPECT_EQ(ia.t2, 75600u);
  ASSERT_EQ(ia.addrs.size(), 1u);
  EXPECT_EQ(std::get<0>(ia.addrs[0]), v6("fd00::15"));
  EXPECT_EQ(std::get<1>(ia.addrs[0]), 86400u);
  EXPECT_EQ(std::get<2>(ia.addrs[0]), 86400u);
  EXPECT_EQ(*find(o.opts, dhcp6_opt::kPreference), std::vector<uint8_t>{255});
  const auto dns = v6("fd00::3");
  EXPECT_EQ(*find(o.opts, dhcp6_opt::kDnsServers),
            std::vector<uint8_t>(dns.octets.begin(), dns.octets.end()));
  const std::vector<uint8_t> domains = {5, 't', 'a', 'p', 'i', 'r', 4,   't', 'e', 's', 't', 0,
                                        7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,   'c', 'o', 'm', 0};
  EXPECT_EQ(*find(o.opts, dhcp6_opt::kDomainList), domains);
  EXPECT_EQ(find(o.opts, dhcp6_opt::kRapidCommit), nullptr);
  EXPECT_FALSE(dhcp6_address_bound(v6("fd00::15"), cfg, state, MonoTime{}));
}

TEST(Dhcp6Server, RapidCommitSolicitGetsReply) {
  const auto cfg = default_config();
  GuestState state;
  const Frame req = rebuild(capture_frame("dhcp6.pcap", kSolicit), dhcp6_msg::kSolicit,
                            [](Tlvs& t) { set_tlv(t, dhcp6_opt::kRapidCommit, {}); });
  const Outcome o = feed(req, cfg, state);
  EXPECT_EQ(o.type, dhcp6_msg::kReply);
  EXPECT_NE(find(o.opts, dhcp6_opt::kRapidCommit), nullptr);
  EXPECT_EQ(find(o.opts, dhcp6_opt::kPreference), nullptr);
  EXPECT_EQ(std::get<0>(ia_of(o).addrs.at(0)), v6("fd00::15"));
  EXPECT_TRUE(dhcp6_address_bound(v6("fd00::15"), cfg, state, MonoTime{}));
  EXPECT_TRUE(state.owns_ip6(v6("fd00::15")));
}

TEST(Dhcp6Server, CapturedRequestForAnotherServerIsDropped) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(capture_frame("dhcp6.pcap", kRequest), cfg, state);
  ASSERT_TRUE(o.result);
  EXPECT_EQ(*o.result, 0u);
}

TEST(Dhcp6Server, SolicitRequestReplyStableAddress) {
  const auto cfg = default_config();
  GuestState state;
  (void)feed(capture_frame("dhcp6.pcap", kSolicit), cfg, state);
  const Frame req = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kRequest,
                            [](Tlvs& t) {
                              set_tlv(t, dhcp6_opt::kServerId, our_duid());
                              set_tlv(t, dhcp6_opt::kIaNa, ia_na(1193046, {v6("fd00::15")}));
                            });
  const Outcome o = feed(req, cfg, state);
  EXPECT_EQ(o.type, dhcp6_msg::kReply);
  EXPECT_EQ(o.xid, 0x3fdf93u);
  const IaView ia = ia_of(o);
  ASSERT_EQ(ia.addrs.size(), 1u);
  EXPECT_EQ(std::get<0>(ia.addrs[0]), v6("fd00::15"));
  EXPECT_TRUE(dhcp6_address_bound(v6("fd00::15"), cfg, state, MonoTime{}));
  // Another SOLICIT from the same DUID: the same address.
  EXPECT_EQ(std::get<0>(ia_of(feed(capture_frame("dhcp6.pcap", kSolicit), cfg, state)).addrs[0]),
            v6("fd00::15"));
}

TEST(Dhcp6Server, RequestWithForeignAddressIsNotOnLink) {
  const auto cfg = default_config();
  GuestState state;
  const Frame req = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kRequest,
                            [](Tlvs& t) {
                              set_tlv(t, dhcp6_opt::kServerId, our_duid());
                              set_tlv(t, dhcp6_opt::kIaNa, ia_na(7, {v6("2001:db8::5")}));
                            });
  const IaView ia = ia_of(feed(req, cfg, state));
  EXPECT_TRUE(ia.addrs.empty());
  EXPECT_EQ(ia.status, dhcp6_status::kNotOnLink);
  EXPECT_EQ(ia.iaid, 7u);
}

TEST(Dhcp6Server, RenewZeroesOtherAddresses) {
  const auto cfg = default_config();
  GuestState state;
  // The captured REQUEST's fd00::48 (dnsmasq's) is in the prefix: it is
  // accepted, and the client gets its own slot's address.
  const Frame renew = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kRenew,
                              [](Tlvs& t) { set_tlv(t, dhcp6_opt::kServerId, our_duid()); });
  const IaView ia = ia_of(feed(renew, cfg, state));
  ASSERT_EQ(ia.addrs.size(), 2u);
  EXPECT_EQ(ia.addrs[0], std::make_tuple(v6("fd00::15"), 86400u, 86400u));
  EXPECT_EQ(ia.addrs[1], std::make_tuple(v6("fd00::48"), 0u, 0u));
  // REBIND must not name a server; without one it is answered the same way.
  const Frame rebind = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kRebind,
                               [](Tlvs& t) { drop_tlv(t, dhcp6_opt::kServerId); });
  EXPECT_EQ(ia_of(feed(rebind, cfg, state)).addrs.size(), 2u);
  const Frame bad_rebind = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kRebind,
                                   [](Tlvs&) {});
  EXPECT_EQ(*feed(bad_rebind, cfg, state).result, 0u);
}

TEST(Dhcp6Server, ConfirmChecksOnLink) {
  const auto cfg = default_config();
  GuestState state;
  const Frame good = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kConfirm,
                             [](Tlvs& t) { drop_tlv(t, dhcp6_opt::kServerId); });
  Outcome o = feed(good, cfg, state);
  EXPECT_EQ(o.type, dhcp6_msg::kReply);
  EXPECT_EQ(status_of(o), dhcp6_status::kSuccess);
  const Frame bad = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kConfirm,
                            [](Tlvs& t) {
                              drop_tlv(t, dhcp6_opt::kServerId);
                              set_tlv(t, dhcp6_opt::kIaNa, ia_na(1, {v6("fd01::48")}));
                            });
  o = feed(bad, cfg, state);
  EXPECT_EQ(status_of(o), dhcp6_status::kNotOnLink);
  const Frame empty = rebuild(capture_frame("dhcp6.pcap", kRequest), dhcp6_msg::kConfirm,
                              [](Tlvs& t) {
                                drop_tlv(t, dhcp6_opt::kServerId);
                                set_tlv(t, dhcp6_opt::kIaNa, ia_na(1, {}));
                              });
  EXPECT_EQ(*feed(empty, cfg, state).result, 0u);
}

TEST(Dhcp6Server, CapturedInformationRequestGetsConfiguration) {
  const auto cfg = default_config();
  GuestState state;
  const Outcome o = feed(capture_frame("dhcp6.pcap", kInfoRequest), cfg, state);
  EXPECT_EQ(o.type, dhcp6_msg::kReply);
  EXPECT_EQ(o.xid, 0x7b23c6u);
  EXPECT_EQ(find(o.opts, dhcp6_opt::kIaNa), nullptr);
  EXPECT_NE(find(o.opts, dhcp6_opt::kDnsServers), nullptr);
  EXPECT_NE(find(o.opts, dhcp6_opt::kDomainList), nullptr);
  EXPECT_EQ(*find(o.opts, dhcp6_opt::kInfoRefreshTime), (std::vector<uint8_t>{0, 1, 0x51, 0x80}));
}

TEST(Dhcp6Server, ReleaseFreesButKeepsTheSlot) {
  const auto cfg = default_config();
  GuestState state;
  const Frame rapid = rebuild(capture_frame("dhcp6.pcap", kSolicit), dhcp6_msg::kSolicit,
                              [](Tlvs& t) { set_tlv(t, dhcp6_opt::kRapidCommit, {}); });
  (void)feed(rapid, cfg, state);
  ASSERT_TRUE(dhcp6_address_bound(v6("fd00::15"), cfg, state, MonoTime{}));
  EXPECT_EQ(*feed(capture_frame("dhcp6.pcap", kRelease), cfg, state).result, 0u);  // not our id
  const Frame rel = rebuild(capture_frame("dhcp6.pcap", kRelease), dhcp6_msg::kRelease,
                            [](Tlvs& t) {
                              set_tlv(t, dhcp6_opt::kServerId, our_duid());
                              set_tlv(t, dhcp6_opt::kIaNa, ia_na(1193046, {v6("fd00::15")}));
                            });
  const Outcome o = feed(rel, cfg, state);
  EXPECT_EQ(o.type, dhcp6_msg::kReply);
  EXPECT_EQ(status_of(o), dhcp6_status::kSuccess);
  EXPECT_FALSE(dhcp6_address_bound(v6("fd00::15"), cfg, state, MonoTime{}));
  EXPECT_EQ(std::get<0>(ia_of(feed(capture_frame("dhcp6.pcap", kSolicit), cfg, state)).addrs[0]),
            v6("fd00::15"));
}

TEST(Dhcp6Server, ValidationDrops) {
  auto cfg = default_config();
  GuestState state;
  const Frame sol = capture_frame("dhcp6.pcap", kSolicit);
  // SOLICIT without a client id, or with a server id.
  EXPECT_EQ(*feed(rebuild(sol, dhcp6_msg::kSolicit,
                          [](Tlvs& t) { drop_tlv(t, dhcp6_opt::kClientId); }),
                  cfg, state)
                 .result,
            0u);
  EXPECT_EQ(*feed(rebuild(sol, dhcp6_msg::kSolicit,
                          [](Tlvs& t) { set_tlv(t, dhcp6_opt::kServerId, our_duid()); }),
                  cfg, state)
                 .result,
            0u);
  // Server-to-client types.
  EXPECT_EQ(*feed(rebuild(sol, dhcp6_msg::kAdvertise, [](Tlvs&) {}), cfg, state).result, 0u);
  // DHCPv6 or IPv6 off.
  cfg.dhcpv6 = false;
  EXPECT_EQ(*feed(sol, cfg, state).result, 0u);
  EXPECT_EQ(*feed(sol, default_config(false), state).result, 0u);
}

TEST(Dhcp6Server, MalformedMessagesAreParseErrors) {
  const auto cfg = default_config();
  GuestState state;
  const Frame sol = capture_frame("dhcp6.pcap", kSolicit);
  const Outcome o = feed(rebuild(sol, dhcp6_msg::kSolicit,
                                 [](Tlvs& t) { set_tlv(t, dhcp6_opt::kIaNa, {1, 2, 3}); }),
                         cfg, state);
  ASSERT_FALSE(o.result);
  EXPECT_EQ(o.result.error(), ParseError::kBadOption);
  const Outcome relay = feed(rebuild(sol, dhcp6_msg::kRelayForw, [](Tlvs&) {}), cfg, state);
  ASSERT_FALSE(relay.result);
  EXPECT_EQ(relay.result.error(), ParseError::kUnsupported);
}

TEST(Dhcp6Options, MalformedMessagesGiveExactErrors) {
  struct Case {
    const char* name;
    std::vector<uint8_t> msg;
    ParseError error;
  };
  const std::vector<Case> cases = {
      {"short header", {1, 0, 0}, ParseError::kTruncated},
      {"relay-forw", {12, 0, 0, 0}, ParseError::kUnsupported},
      {"option header cut", {1, 0, 0, 1, 0, 1, 0}, ParseError::kBadOption},
      {"option data past end", {1, 0, 0, 1, 0, 8, 0, 5, 0, 0}, ParseError::kBadOption},
      {"empty client id", {1, 0, 0, 1, 0, 1, 0, 0}, ParseError::kBadOption},
      {"odd ORO", {1, 0, 0, 1, 0, 6, 0, 3, 0, 23, 0}, ParseError::kBadOption},
      {"elapsed time of 1", {1, 0, 0, 1, 0, 8, 0, 1, 0}, ParseError::kBadOption},
      {"rapid commit with data", {1, 0, 0, 1, 0, 14, 0, 1, 0}, ParseError::kBadOption},
      {"IA_NA of 11", {1, 0, 0, 1, 0, 3, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kBadOption},
      {"IAADDR of 23 in IA_NA",
       {1, 0, 0, 1, 0, 3, 0, 39, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 5, 0, 23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kBadOption},
      {"IA_NA option past its IA",
       {1, 0, 0, 1, 0, 3, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 13, 0, 9},
       ParseError::kBadOption},
  };
  for (const auto& c : cases) {
    auto r = Dhcp6Message::parse(as_bytes(c.msg));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name;
  }
  std::vector<uint8_t> long_duid = {1, 0, 0, 1, 0, 1, 0, 131};
  long_duid.resize(long_duid.size() + 131, 7);
  EXPECT_EQ(Dhcp6Message::parse(as_bytes(long_duid)).error(), ParseError::kBadOption);
}

TEST(Dhcp6Options, EveryCapturedClientMessageParses) {
  const auto frames = tapir::test::pcap_frames("dhcp6.pcap");
  ASSERT_GE(frames.size(), 13u);
  const std::map<size_t, uint8_t> want = {{kSolicit, dhcp6_msg::kSolicit},
                                          {kRequest, dhcp6_msg::kRequest},
                                          {kRelease, dhcp6_msg::kRelease},
                                          {kInfoRequest, dhcp6_msg::kInformationRequest}};
  for (const auto& [idx, type] : want) {
    auto m = Dhcp6Message::parse(as_bytes(frames[idx]).subspan(62));
    ASSERT_TRUE(m) << idx;
    EXPECT_EQ(m->msg_type, type);
    EXPECT_TRUE(m->client_id);
  }
  auto req = Dhcp6Message::parse(as_bytes(frames[kRequest]).subspan(62));
  ASSERT_TRUE(req->ia_na);
  EXPECT_EQ(req->ia_na->iaid, 1193046u);
  ASSERT_EQ(req->ia_na->addr_count, 1u);
  EXPECT_EQ(req->ia_na->addrs[0].addr, v6("fd00::48"));
  EXPECT_EQ(req->ia_na->addrs[0].preferred, 7200u);
  EXPECT_EQ(req->ia_na->addrs[0].valid, 7500u);
  EXPECT_TRUE(req->requested(dhcp6_opt::kDnsServers));
  EXPECT_TRUE(req->requested(dhcp6_opt::kDomainList));
}

TEST(Dhcp6OptionWriter, NestedOptionsAndRefusals) {
  std::array<std::byte, 32> area{};
  Dhcp6OptionWriter w(area);
  auto mark = w.begin(dhcp6_opt::kIaNa, 12);
  ASSERT_TRUE(mark);
  EXPECT_TRUE(w.put_status(dhcp6_status::kNoAddrsAvail, nullptr));
  w.end(*mark);
  EXPECT_EQ(w.len(), 4u + 12 + 6);
  EXPECT_EQ(load_be16(area, 2), 18);
  EXPECT_FALSE(w.put(dhcp6_opt::kDnsServers, ConstBytes(area).first(16)));
  EXPECT_EQ(w.len(), 22u);
  auto m = Dhcp6Message::parse([&] {
    static std::array<std::byte, 36> msg{};
    msg[0] = std::byte{1};
    std::copy(area.begin(), area.begin() + 22, msg.begin() + 4);
    return ConstBytes(msg).first(26);
  }());
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->ia_na);
  EXPECT_EQ(m->ia_na->addr_count, 0u);
}

}  // namespace
}  // namespace tapir::services
