#include "services/dhcp4.hpp"

#include <algorithm>
#include <array>
#include <bitset>

#include "services/domain_list.hpp"
#include "services/frame.hpp"

namespace tapir::services {

using namespace tapir::wire;

namespace {

constexpr size_t kIpUdpLen = kIpv4MinHeaderLen + kUdpHeaderLen;  // 28
constexpr size_t kSearchScratch = 1024;

// What the server answers, and to whom (RFC 2131 4.1).
struct Decision {
  uint8_t type = 0;  // kOffer, kAck, kNak; 0: no reply
  Ipv4Addr yiaddr;
  Ipv4Addr ciaddr;
  bool lease = false;             // options 51/58/59
  bool rapid = false;             // option 80
  const char* message = nullptr;  // option 56 (NAK)
  Ipv4Addr dst_ip = Ipv4Addr{0xffffffffu};
  MacAddr dst_mac = MacAddr::broadcast();
};

std::optional<size_t> slot_of(const AddressPlan& p, Ipv4Addr a) {
  if (a.value < p.dhcp_start4.value) return std::nullopt;
  const uint32_t i = a.value - p.dhcp_start4.value;
  if (i >= kMaxLeases4 || dhcp4_slot_address(p, i) != a) return std::nullopt;
  return size_t{i};
}

// Binds `req` to `mac` when it is the client's or free; nullopt otherwise.
std::optional<Ipv4Addr> grant(Ipv4Addr req, MacAddr mac, const ServiceConfig& cfg,
                              GuestState& state, MonoTime now) {
  const auto slot = slot_of(cfg.plan, req);
  if (!slot) return std::nullopt;
  auto& lease = state.leases4.at(*slot);
  const bool own = lease.client == mac && lease.state != LeaseState::kFree &&
                   lease.state != LeaseState::kDeclined;
  if (!own && !lease.reclaimable(now)) return std::nullopt;
  // A client holds one slot: moving to another frees the old one.
  if (auto old = state.leases4.find(mac); old && *old != *slot) {
    state.leases4.at(*old).state = LeaseState::kReleased;
  }
  state.leases4.set(*slot, mac, LeaseState::kBound, now + Duration::seconds(cfg.lease_time));
  state.ip4 = req;
  return req;
}

Decision nak(const char* why) {
  Decision d;
  d.type = dhcp4_msg::kNak;
  d.message = why;
  return d;  // RFC 2131 4.1: a NAK is broadcast when giaddr is 0
}

// RFC 2131 4.1 for an OFFER or ACK.
void address(Decision& d, const Dhcp4View& m) {
  if (!m.ciaddr().is_unspecified()) {
    d.dst_ip = m.ciaddr();
    d.dst_mac = m.chaddr();
  } else if (m.broadcast()) {
    d.dst_ip = Ipv4Addr{0xffffffffu};
    d.dst_mac = MacAddr::broadcast();
  } else {
    d.dst_ip = d.yiaddr;
    d.dst_mac = m.chaddr();
  }
}

Decision on_discover(const Dhcp4View& m, const ServiceConfig& cfg, GuestState& state,
                     MonoTime now) {
  const Dhcp4Options& o = m.options();
  const MacAddr mac = m.chaddr();
  const std::optional<size_t> wanted =
      o.requested_ip ? slot_of(cfg.plan, *o.requested_ip) : std::nullopt;
  const auto slot = state.leases4.choose(
      mac, wanted, now, [&](size_t i) { return dhcp4_slot_address(cfg.plan, i).has_value(); });
  if (!slot) return {};  // pool exhausted: stay silent (RFC 2131 4.3.1 allows it)
  const Ipv4Addr addr = *dhcp4_slot_address(cfg.plan, *slot);
  Decision d;
  d.lease = true;
  if (o.rapid_commit) {  // RFC 4039 3: ACK at once
    if (!grant(addr, mac, cfg, state, now)) return {};
    d.type = dhcp4_msg::kAck;
    d.rapid = true;
  } else {
    auto& lease = state.leases4.at(*slot);
    const bool bound =
        lease.client == mac && lease.active(now) && lease.state == LeaseState::kBound;
    if (!bound) state.leases4.set(*slot, mac, LeaseState::kOffered, now + kOfferHold);
    d.type = dhcp4_msg::kOffer;
  }
  d.yiaddr = addr;
  address(d, m);
  return d;
}

Decision on_request(const Dhcp4View& m, const ServiceConfig& cfg, GuestState& state, MonoTime now) {
  const Dhcp4Options& o = m.options();
  if (o.server_id && *o.server_id != cfg.plan.gateway4) return nak("wrong server");
  Ipv4Addr req;
  if (o.requested_ip) {
    req = *o.requested_ip;  // selecting, init-reboot
  } else if (!m.ciaddr().is_unspecified()) {
    req = m.ciaddr();  // renewing, rebinding
  } else {
    return {};  // RFC 2131 4.3.2: not a valid REQUEST in any state
  }
  if (!cfg.plan.net4.contains(req)) return nak("wrong network");
  if (!grant(req, m.chaddr(), cfg, state, now)) return nak("address not available");
  Decision d;
  d.type = dhcp4_msg::kAck;
  d.lease = true;
  d.yiaddr = req;
  d.ciaddr = m.ciaddr();
  address(d, m);
  return d;
}

Decision on_inform(const Dhcp4View& m, GuestState& state) {
  Decision d;
  d.type = dhcp4_msg::kAck;  // RFC 2131 4.3.5: no yiaddr, no lease
  d.ciaddr = m.ciaddr();
  if (!m.ciaddr().is_unspecified()) state.ip4 = m.ciaddr();
  address(d, m);
  return d;
}

void on_release(const Dhcp4View& m, const ServiceConfig& cfg, GuestState& state) {
  const Dhcp4Options& o = m.options();
  if (o.server_id && *o.server_id != cfg.plan.gateway4) return;
  const auto slot = state.leases4.find(m.chaddr());
  if (!slot || dhcp4_slot_address(cfg.plan, *slot) != m.ciaddr()) return;
  state.leases4.at(*slot).state = LeaseState::kReleased;
  if (state.ip4 == m.ciaddr()) state.ip4.reset();
}

void on_decline(const Dhcp4View& m, const ServiceConfig& cfg, GuestState& state, MonoTime now) {
  const Dhcp4Options& o = m.options();
  if (o.server_id && *o.server_id != cfg.plan.gateway4) return;
  if (!o.requested_ip) return;
  const auto slot = slot_of(cfg.plan, *o.requested_ip);
  if (!slot) return;
  state.leases4.set(*slot, MacAddr{}, LeaseState::kDeclined,
                    now + Duration::seconds(cfg.lease_time));
  if (state.ip4 == *o.requested_ip) state.ip4.reset();
}

// One configuration option; false when it does not apply or does not fit.
bool put_config(Dhcp4OptionWriter& w, uint8_t code, const ServiceConfig& cfg) {
  const AddressPlan& p = cfg.plan;
  switch (code) {
    case dhcp4_opt::kSubnetMask: return w.put_addr(code, p.net4.mask());
    case dhcp4_opt::kRouter: return w.put_addr(code, p.gateway4);
    case dhcp4_opt::kDnsServer: return w.put_addr(code, p.dns4);
    case dhcp4_opt::kBroadcastAddr: return w.put_addr(code, p.net4.broadcast());
    case dhcp4_opt::kInterfaceMtu:
      if (p.mtu < 68 || p.mtu > 0xffff) return false;
      return w.put_u16(code, static_cast<uint16_t>(p.mtu));
    case dhcp4_opt::kHostname:
      if (cfg.hostname.empty() || cfg.hostname.size() > 255) return false;
      return w.put(code, as_bytes({reinterpret_cast<const uint8_t*>(cfg.hostname.data()),  // NOLINT
                                   cfg.hostname.size()}));
    case dhcp4_opt::kDomainName: {
      if (cfg.plan.search.empty()) return false;
      const std::string& d = cfg.plan.search.front();
      if (d.empty() || d.size() > 255) return false;
      return w.put(code,
                   as_bytes({reinterpret_cast<const uint8_t*>(d.data()), d.size()}));  // NOLINT
    }
    case dhcp4_opt::kDomainSearch: {
      if (cfg.plan.search.empty()) return false;
      std::array<std::byte, kSearchScratch> buf{};
      const auto len = encode_domain_list(cfg.plan.search, buf, /*compress=*/true);
      if (!len) return false;
      return w.put_long(code, ConstBytes(buf).first(*len));
    }
    case dhcp4_opt::kClasslessRoutes: {
      if (p.net4.contains(p.gateway4)) return false;
      // RFC 3442: {32, gateway, router 0.0.0.0} makes the gateway on-link;
      // {0, router gateway} is the default route.
      std::array<std::byte, 14> buf{};
      store_u8(buf, 0, 32);
      p.gateway4.store(buf, 1);
      store_be32(buf, 5, 0);
      store_u8(buf, 9, 0);
      p.gateway4.store(buf, 10);
      return w.put(code, buf);
    }
    default: return false;
  }
}

// The configuration options sent without being asked for, in this order.
constexpr std::array<uint8_t, 9> kUnrequested = {
    dhcp4_opt::kSubnetMask,   dhcp4_opt::kRouter,       dhcp4_opt::kDnsServer,
    dhcp4_opt::kDomainName,   dhcp4_opt::kInterfaceMtu, dhcp4_opt::kBroadcastAddr,
    dhcp4_opt::kDomainSearch, dhcp4_opt::kHostname,     dhcp4_opt::kClasslessRoutes,
};

size_t build(const Dhcp4View& m, const Decision& d, const ServiceConfig& cfg, MutBytes out) {
  // RFC 2131 2 / RFC 2132 9.10: the client takes 576-byte datagrams, or
  // its Maximum Message Size; never more than the link or `out` allows.
  size_t max_ip = kDhcp4MinMaxMessage;
  if (m.options().max_message_size && *m.options().max_message_size > max_ip) {
    max_ip = *m.options().max_message_size;
  }
  max_ip = std::min<size_t>(max_ip, cfg.plan.mtu);
  if (out.size() < kUdp4PayloadOffset) return 0;
  const size_t max_msg =
      std::min(max_ip - std::min(max_ip, kIpUdpLen), out.size() - kUdp4PayloadOffset);
  if (max_msg < kDhcp4MinMessageLen) return 0;

  MutBytes msg = out.subspan(kUdp4PayloadOffset, max_msg);
  std::fill(msg.begin(), msg.end(), std::byte{0});
  store_u8(msg, Dhcp4View::kOpOffset, dhcp4_op::kBootReply);
  store_u8(msg, Dhcp4View::kHtypeOffset, 1);
  store_u8(msg, Dhcp4View::kHlenOffset, 6);
  store_be32(msg, Dhcp4View::kXidOffset, m.xid());
  store_be16(msg, Dhcp4View::kFlagsOffset, m.flags());
  if (d.type != dhcp4_msg::kNak) {
    d.ciaddr.store(msg, Dhcp4View::kCiaddrOffset);
    d.yiaddr.store(msg, Dhcp4View::kYiaddrOffset);
  }
  m.giaddr().store(msg, Dhcp4View::kGiaddrOffset);
  store_bytes(msg, Dhcp4View::kChaddrOffset, m.chaddr_field());
  store_be32(msg, Dhcp4View::kCookieOffset, kDhcp4MagicCookie);

  Dhcp4OptionWriter w(msg.subspan(kDhcp4OptionsOffset));
  // The options a reply cannot do without fit in any legal size.
  TAPIR_CHECK(w.put_u8(dhcp4_opt::kMessageType, d.type));
  TAPIR_CHECK(w.put_addr(dhcp4_opt::kServerId, cfg.plan.gateway4));
  if (d.type == dhcp4_msg::kNak) {
    if (d.message != nullptr) {
      const std::string_view text(d.message);
      (void)w.put(dhcp4_opt::kMessage, as_bytes({reinterpret_cast<const uint8_t*>(text.data()),
                                                 text.size()}));  // NOLINT
    }
  } else {
    if (d.lease) {
      TAPIR_CHECK(w.put_u32(dhcp4_opt::kLeaseTime, cfg.lease_time));
      TAPIR_CHECK(w.put_u32(dhcp4_opt::kRenewalTime, cfg.renewal_time()));
      TAPIR_CHECK(w.put_u32(dhcp4_opt::kRebindingTime, cfg.rebinding_time()));
    }
    if (d.rapid) TAPIR_CHECK(w.put_flag(dhcp4_opt::kRapidCommit));
    std::bitset<256> tried;
    const Dhcp4Options& o = m.options();
    for (size_t i = 0; i < o.params_len; ++i) {
      const uint8_t code = o.params[i];
      if (tried[code]) continue;
      tried[code] = true;
      (void)put_config(w, code, cfg);
    }
    for (uint8_t code : kUnrequested) {
      if (tried[code]) continue;
      tried[code] = true;
      (void)put_config(w, code, cfg);
    }
  }
  const size_t len = std::max(kDhcp4OptionsOffset + w.finish(), kDhcp4MinMessageLen);
  return finish_udp4(out, {cfg.plan.gateway_mac, d.dst_mac}, cfg.plan.gateway4, d.dst_ip,
                     kDhcp4ServerPort, kDhcp4ClientPort, len);
}

}  // namespace

std::optional<Ipv4Addr> dhcp4_slot_address(const AddressPlan& p, size_t slot) {
  if (slot >= kMaxLeases4) return std::nullopt;
  const Ipv4Addr a{p.dhcp_start4.value + static_cast<uint32_t>(slot)};
  if (a.value < p.dhcp_start4.value) return std::nullopt;  // wrapped
  if (!p.net4.contains(a) || a == p.net4.network() || a == p.net4.broadcast()) {
    return std::nullopt;
  }
  if (a == p.gateway4 || a == p.dns4 || a == p.guest4) return std::nullopt;
  return a;
}

bool dhcp4_address_bound(Ipv4Addr a, const ServiceConfig& cfg, const GuestState& state,
                         MonoTime now) {
  const auto slot = slot_of(cfg.plan, a);
  return slot && state.leases4.at(*slot).bound(now);
}

ServiceResult dhcp4_reply(const EthernetView& eth, const Ipv4View& ip, const UdpView& udp,
                          const ServiceConfig& cfg, GuestState& state, MonoTime now, MutBytes out) {
  if (!cfg.dhcp || udp.destination_port() != kDhcp4ServerPort) return size_t{0};
  if (ip.is_fragment() || !udp.checksum_ok(ip.source(), ip.destination())) return size_t{0};
  auto parsed = Dhcp4View::parse(udp.payload());
  if (!parsed) return unexpected(parsed.error());
  const Dhcp4View& m = *parsed;
  if (m.op() != dhcp4_op::kBootRequest) return size_t{0};
  if (!m.giaddr().is_unspecified()) return size_t{0};  // relayed: no relay on a tap
  if (m.chaddr().is_multicast() || m.chaddr().is_zero()) return size_t{0};
  state.mac = eth.source();

  Decision d;
  switch (m.options().message_type) {
    case dhcp4_msg::kDiscover: d = on_discover(m, cfg, state, now); break;
    case dhcp4_msg::kRequest: d = on_request(m, cfg, state, now); break;
    case dhcp4_msg::kInform: d = on_inform(m, state); break;
    case dhcp4_msg::kRelease: on_release(m, cfg, state); break;
    case dhcp4_msg::kDecline: on_decline(m, cfg, state, now); break;
    default: break;  // BOOTP (no type) and server-to-client types: not answered
  }
  if (d.type == 0) return size_t{0};
  return build(m, d, cfg, out);
}

}  // namespace tapir::services
