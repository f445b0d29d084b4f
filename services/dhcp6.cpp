#include "services/dhcp6.hpp"

#include <algorithm>
#include <array>

#include "services/domain_list.hpp"
#include "services/frame.hpp"

namespace tapir::services {

using namespace tapir::wire;

namespace {

const Ipv6Addr kAllDhcpAgents{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2}};
constexpr uint8_t kMaxPreference = 255;

std::optional<size_t> slot_of(const AddressPlan& p, const Ipv6Addr& a) {
  for (size_t i = 0; i < kMaxLeases6; ++i) {
    if (dhcp6_slot_address(p, i) == a) return i;
  }
  return std::nullopt;
}

// What goes into the reply.
struct Plan {
  uint8_t type = 0;  // kAdvertise or kReply; 0: no reply
  bool rapid = false;
  bool preference = false;
  // IA_NA: none, an address, or a status inside it.
  bool ia = false;
  std::optional<Ipv6Addr> ia_addr;
  uint16_t ia_status = dhcp6_status::kSuccess;
  bool zero_others = false;        // list the client's other addresses with lifetimes 0
  std::optional<uint16_t> status;  // top-level Status Code
};

// The client's slot (choosing one if needed), set to `state`.
std::optional<Ipv6Addr> lease_for(const Duid& duid, LeaseState ls, const ServiceConfig& cfg,
                                  GuestState& gs, MonoTime now) {
  const auto slot = gs.leases6.choose(duid, std::nullopt, now, [&](size_t i) {
    return dhcp6_slot_address(cfg.plan, i).has_value();
  });
  if (!slot) return std::nullopt;
  const auto& lease = gs.leases6.at(*slot);
  const bool bound = lease.client == duid && lease.bound(now);
  if (ls == LeaseState::kOffered && bound) ls = LeaseState::kBound;  // keep the binding
  const Duration hold =
      ls == LeaseState::kBound ? Duration::seconds(cfg.lease_time) : kAdvertiseHold;
  gs.leases6.set(*slot, duid, ls, now + hold);
  const Ipv6Addr a = *dhcp6_slot_address(cfg.plan, *slot);
  if (ls == LeaseState::kBound) gs.learn_ip6(a);
  return a;
}

bool all_on_link(const Dhcp6Message& m, const ServiceConfig& cfg) {
  for (size_t i = 0; i < m.all_addr_count; ++i) {
    if (!cfg.plan.net6.contains(m.all_addrs[i])) return false;
  }
  return true;
}

void assign(Plan& p, const Duid& duid, LeaseState ls, const ServiceConfig& cfg, GuestState& gs,
            MonoTime now) {
  p.ia = true;
  p.ia_addr = lease_for(duid, ls, cfg, gs, now);
  if (!p.ia_addr) p.ia_status = dhcp6_status::kNoAddrsAvail;
}

Plan decide(const Dhcp6Message& m, const Duid* duid, bool server_is_us, const ServiceConfig& cfg,
            GuestState& gs, MonoTime now) {
  Plan p;
  p.type = dhcp6_msg::kReply;
  switch (m.msg_type) {
    case dhcp6_msg::kSolicit:
      if (duid == nullptr || m.server_id) return {};
      if (m.rapid_commit) {
        p.rapid = true;
      } else {
        p.type = dhcp6_msg::kAdvertise;
        p.preference = true;
      }
      if (m.ia_na)
        assign(p, *duid, p.rapid ? LeaseState::kBound : LeaseState::kOffered, cfg, gs, now);
      return p;
    case dhcp6_msg::kRequest:
      if (duid == nullptr || !server_is_us) return {};
      if (m.ia_na) {
        if (!all_on_link(m, cfg)) {
          p.ia = true;
          p.ia_status = dhcp6_status::kNotOnLink;
        } else {
          assign(p, *duid, LeaseState::kBound, cfg, gs, now);
        }
      }
      return p;
    case dhcp6_msg::kRenew:
    case dhcp6_msg::kRebind:
      if (duid == nullptr) return {};
      if (m.msg_type == dhcp6_msg::kRenew ? !server_is_us : m.server_id.has_value()) return {};
      if (m.ia_na) {
        assign(p, *duid, LeaseState::kBound, cfg, gs, now);
        p.zero_others = true;
      }
      return p;
    case dhcp6_msg::kConfirm:
      if (duid == nullptr || m.server_id || m.all_addr_count == 0) return {};
      p.status = all_on_link(m, cfg) ? dhcp6_status::kSuccess : dhcp6_status::kNotOnLink;
      return p;
    case dhcp6_msg::kInformationRequest:
      if (m.server_id && !server_is_us) return {};
      return p;
    case dhcp6_msg::kRelease:
    case dhcp6_msg::kDecline: {
      if (duid == nullptr || !server_is_us) return {};
      for (size_t i = 0; i < m.all_addr_count; ++i) {
        const auto slot = slot_of(cfg.plan, m.all_addrs[i]);
        if (!slot) continue;
        auto& lease = gs.leases6.at(*slot);
        if (m.msg_type == dhcp6_msg::kDecline) {
          gs.leases6.set(*slot, Duid{}, LeaseState::kDeclined,
                         now + Duration::seconds(cfg.lease_time));
        } else if (lease.client == *duid) {
          lease.state = LeaseState::kReleased;
        }
      }
      p.status = dhcp6_status::kSuccess;
      return p;
    }
    default: return {};
  }
}

bool put_iaaddr(Dhcp6OptionWriter& w, const Ipv6Addr& a, uint32_t preferred, uint32_t valid) {
  auto mark = w.begin(dhcp6_opt::kIaAddr, dhcp6_opt::kIaAddrFixedLen);
  if (!mark) return false;
  MutBytes d = w.data_at(*mark, dhcp6_opt::kIaAddrFixedLen);
  a.store(d, 0);
  store_be32(d, 16, preferred);
  store_be32(d, 20, valid);
  w.end(*mark);
  return true;
}

// The IA_NA of the reply; false (nothing written) when it does not fit.
bool put_ia_na(Dhcp6OptionWriter& w, const Dhcp6Message& m, const Plan& p,
               const ServiceConfig& cfg) {
  const size_t start = w.len();
  auto mark = w.begin(dhcp6_opt::kIaNa, dhcp6_opt::kIaNaFixedLen);
  if (!mark) return false;
  MutBytes d = w.data_at(*mark, dhcp6_opt::kIaNaFixedLen);
  store_be32(d, 0, m.ia_na->iaid);
  bool ok = true;
  if (p.ia_addr) {
    store_be32(d, 4, cfg.renewal_time());
    store_be32(d, 8, cfg.rebinding_time());
    ok = put_iaaddr(w, *p.ia_addr, cfg.lease_time, cfg.lease_time);
    if (p.zero_others) {
      for (size_t i = 0; ok && i < m.ia_na->addr_count; ++i) {
        if (m.ia_na->addrs[i].addr != *p.ia_addr) ok = put_iaaddr(w, m.ia_na->addrs[i].addr, 0, 0);
      }
    }
  } else {
    ok = w.put_status(p.ia_status, p.ia_status == dhcp6_status::kNotOnLink
                                       ? "address not on link"
                                       : "no addresses available");
  }
  if (!ok) {
    w.truncate(start);
    return false;
  }
  w.end(*mark);
  return true;
}

size_t build(const EthernetView& eth, const Ipv6View& ip, const Dhcp6Message& m, const Plan& p,
             const ServiceConfig& cfg, MutBytes out) {
  const size_t mtu_room = cfg.plan.mtu > kIpv6HeaderLen + kUdpHeaderLen
                              ? cfg.plan.mtu - kIpv6HeaderLen - kUdpHeaderLen
                              : 0;
  if (out.size() < kUdp6PayloadOffset + kDhcp6HeaderLen) return 0;
  const size_t room = std::min(out.size() - kUdp6PayloadOffset, mtu_room);
  if (room < kDhcp6HeaderLen) return 0;
  MutBytes msg = out.subspan(kUdp6PayloadOffset, room);
  store_be32(msg, 0, (uint32_t{p.type} << 24) | m.transaction_id);
  Dhcp6OptionWriter w(msg.subspan(kDhcp6HeaderLen));
  // The identifiers are required; without room for them there is no reply.
  if (m.client_id && !w.put(dhcp6_opt::kClientId, *m.client_id)) return 0;
  const auto duid = dhcp6_server_duid(cfg.plan);
  if (!w.put(dhcp6_opt::kServerId, as_bytes(duid))) return 0;
  if (p.ia && m.ia_na && !put_ia_na(w, m, p, cfg)) return 0;
  if (p.status && !w.put_status(*p.status, nullptr)) return 0;
  if (p.rapid && !w.put(dhcp6_opt::kRapidCommit, {})) return 0;
  if (p.preference && !w.put_u8(dhcp6_opt::kPreference, kMaxPreference)) return 0;
  std::array<std::byte, 16> dns{};
  cfg.plan.dns6.store(dns, 0);
  (void)w.put(dhcp6_opt::kDnsServers, dns);
  if (!cfg.plan.search.empty()) {
    std::array<std::byte, 1024> buf{};
    if (auto n = encode_domain_list(cfg.plan.search, buf, /*compress=*/false)) {
      (void)w.put(dhcp6_opt::kDomainList, ConstBytes(buf).first(*n));
    }
  }
  if (m.msg_type == dhcp6_msg::kInformationRequest) {
    (void)w.put_u32(dhcp6_opt::kInfoRefreshTime, cfg.lease_time);
  }
  return finish_udp6(out, {cfg.plan.gateway_mac, eth.source()}, cfg.plan.gateway_link_local6(),
                     ip.source(), kDhcp6ServerPort, kDhcp6ClientPort, kDhcp6HeaderLen + w.len(),
                     kIpv6DefaultHopLimit);
}

}  // namespace

std::array<uint8_t, kServerDuidLen> dhcp6_server_duid(const AddressPlan& plan) {
  const auto& mac = plan.gateway_mac.octets;
  return {0, 3, 0, 1, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]};
}

std::optional<Ipv6Addr> dhcp6_slot_address(const AddressPlan& plan, size_t slot) {
  if (slot >= kMaxLeases6) return std::nullopt;
  const auto a = wire::offset_low32(plan.dhcp_start6, static_cast<uint32_t>(slot));
  if (!a) return std::nullopt;
  if (!plan.net6.contains(*a) || *a == plan.gateway6 || *a == plan.dns6) return std::nullopt;
  return *a;
}

bool dhcp6_address_bound(const Ipv6Addr& a, const ServiceConfig& cfg, const GuestState& state,
                         MonoTime now) {
  const auto slot = slot_of(cfg.plan, a);
  return slot && state.leases6.at(*slot).bound(now);
}

ServiceResult dhcp6_reply(const EthernetView& eth, const Ipv6View& ip, const UdpView& udp,
                          const ServiceConfig& cfg, GuestState& state, MonoTime now, MutBytes out) {
  if (!cfg.plan.ipv6 || !cfg.dhcpv6) return size_t{0};
  if (udp.destination_port() != kDhcp6ServerPort || ip.is_fragment()) return size_t{0};
  const Ipv6Addr dst = ip.destination();
  if (dst != kAllDhcpAgents && dst != cfg.plan.gateway_link_local6() && dst != cfg.plan.gateway6) {
    return size_t{0};
  }
  if (ip.source().is_unspecified() || ip.source().is_multicast()) return size_t{0};
  if (eth.source().is_multicast()) return size_t{0};
  if (!udp.checksum_ok(ip.source(), dst)) return size_t{0};
  auto parsed = Dhcp6Message::parse(udp.payload());
  if (!parsed) return unexpected(parsed.error());
  const Dhcp6Message& m = *parsed;

  std::optional<Duid> duid;
  if (m.client_id) duid = Duid::from(*m.client_id);
  const auto ours = dhcp6_server_duid(cfg.plan);
  const bool server_is_us =
      m.server_id && m.server_id->size() == ours.size() &&
      std::equal(ours.begin(), ours.end(), m.server_id->begin(),
                 [](uint8_t a, std::byte b) { return a == static_cast<uint8_t>(b); });
  state.mac = eth.source();
  state.learn_ip6(ip.source());

  const Plan p = decide(m, duid ? &*duid : nullptr, server_is_us, cfg, state, now);
  if (p.type == 0) return size_t{0};
  return build(eth, ip, m, p, cfg, out);
}

}  // namespace tapir::services
