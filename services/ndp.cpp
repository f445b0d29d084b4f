#include "services/ndp.hpp"

#include <algorithm>
#include <array>

#include "services/dhcp6.hpp"
#include "services/frame.hpp"
#include "services/ndp_options.hpp"
#include "wire/proto.hpp"

namespace tapir::services {

using namespace tapir::wire;

namespace {

const Ipv6Addr kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

bool is_own(const Ipv6Addr& a, const ServiceConfig& cfg) {
  return a == cfg.plan.gateway6 || a == cfg.plan.dns6 || a == cfg.plan.gateway_link_local6();
}

// The solicited-node multicast prefix ff02::1:ff00:0/104 (RFC 4291 2.7.1).
bool is_solicited_node(const Ipv6Addr& a) {
  static const Ipv6Addr base{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0}};
  for (size_t i = 0; i < 13; ++i) {
    if (a.octets[i] != base.octets[i]) return false;
  }
  return true;
}

// A Neighbor Advertisement for `target` to `dst`.
size_t build_na(const ServiceConfig& cfg, const Ipv6Addr& target, const Ipv6Addr& dst,
                const MacAddr& dst_mac, uint8_t flags, MutBytes out) {
  const size_t icmp_len = kNaLen + ndp_opt::kLinkAddrLen;
  if (kL4v6Offset + icmp_len > out.size()) return 0;
  MutBytes msg = out.subspan(kL4v6Offset, icmp_len);
  store_u8(msg, 0, icmp6_type::kNeighborAdvertisement);
  store_u8(msg, 1, 0);
  store_be16(msg, 2, 0);
  store_be32(msg, 4, uint32_t{flags} << 24);
  target.store(msg, 8);
  NdpOptionWriter w(msg.subspan(kNaLen));
  TAPIR_CHECK(w.put_link_addr(ndp_opt::kTargetLinkAddr, cfg.plan.gateway_mac));
  return finish_icmp6(out, {cfg.plan.gateway_mac, dst_mac}, target, dst, kNdpHopLimit, icmp_len);
}

ServiceResult on_solicitation(const EthernetView& eth, const Ipv6View& ip, const Icmp6View& icmp,
                              const ServiceConfig& cfg, GuestState& state, MonoTime now,
                              MutBytes out) {
  const ConstBytes msg = icmp.bytes();
  if (msg.size() < kNsLen) return unexpected(ParseError::kTruncated);
  auto opts = NdpOptions::parse(msg.subspan(kNsLen));
  if (!opts) return unexpected(opts.error());
  const Ipv6Addr target = Ipv6Addr::load(msg, 8);
  if (target.is_multicast()) return size_t{0};
  const Ipv6Addr src = ip.source();
  if (src.is_unspecified()) {
    // RFC 4861 7.1.1: a DAD probe goes to a solicited-node address and
    // carries no source link-layer address.
    if (!is_solicited_node(ip.destination()) || opts->source_link_addr) return size_t{0};
    if (!is_own(target, cfg)) {
      state.learn_ip6(target);  // the guest is claiming it
      return size_t{0};
    }
    // RFC 4861 7.2.4: answer a probe to all-nodes, Solicited clear.
    return build_na(cfg, target, kAllNodes, kAllNodes.multicast_mac(), kNaRouter | kNaOverride,
                    out);
  }
  if (src.is_multicast()) return size_t{0};
  state.learn_ip6(src);
  if (!ndp_answers_for(target, cfg, state, now)) return size_t{0};
  const MacAddr dst_mac = opts->source_link_addr.value_or(eth.source());
  if (dst_mac.is_multicast()) return size_t{0};
  return build_na(cfg, target, src, dst_mac, kNaRouter | kNaSolicited | kNaOverride, out);
}

ServiceResult on_router_solicitation(const EthernetView& eth, const Ipv6View& ip,
                                     const Icmp6View& icmp, const ServiceConfig& cfg,
                                     MutBytes out) {
  const ConstBytes msg = icmp.bytes();
  if (msg.size() < kRsLen) return unexpected(ParseError::kTruncated);
  auto opts = NdpOptions::parse(msg.subspan(kRsLen));
  if (!opts) return unexpected(opts.error());
  const Ipv6Addr src = ip.source();
  if (src.is_unspecified()) {
    if (opts->source_link_addr) return size_t{0};  // RFC 4861 6.1.1
    return build_unsolicited_ra(cfg, out);
  }
  if (src.is_multicast()) return size_t{0};
  const MacAddr dst_mac = opts->source_link_addr.value_or(eth.source());
  if (dst_mac.is_multicast()) return size_t{0};
  return build_router_advertisement(cfg, src, dst_mac, out);
}

void on_advertisement(const Icmp6View& icmp, GuestState& state) {
  const ConstBytes msg = icmp.bytes();
  if (msg.size() < kNaLen) return;
  if (!NdpOptions::parse(msg.subspan(kNaLen))) return;
  state.learn_ip6(Ipv6Addr::load(msg, 8));  // the guest announces its own address
}

}  // namespace

bool ndp_answers_for(const Ipv6Addr& target, const ServiceConfig& cfg, const GuestState& state,
                     MonoTime now) {
  if (!cfg.plan.ipv6) return false;
  if (is_own(target, cfg)) return true;
  if (!cfg.plan.net6.contains(target)) return false;
  if (target == cfg.plan.net6.network()) return false;  // subnet-router anycast (RFC 4291 2.6.1)
  if (state.owns_ip6(target)) return false;
  return !dhcp6_address_bound(target, cfg, state, now);
}

ServiceResult ndp_reply(const EthernetView& eth, const Ipv6View& ip, const Icmp6View& icmp,
                        const ServiceConfig& cfg, GuestState& state, MonoTime now, MutBytes out) {
  if (!cfg.plan.ipv6) return size_t{0};
  const uint8_t type = icmp.type();
  if (type != icmp6_type::kRouterSolicitation && type != icmp6_type::kNeighborSolicitation &&
      type != icmp6_type::kNeighborAdvertisement) {
    return size_t{0};
  }
  if (ip.upper_protocol() != ipproto::kIcmpv6 || ip.is_fragment()) return size_t{0};
  if (ip.hop_limit() != kNdpHopLimit || icmp.code() != 0) return size_t{0};
  if (!icmp.checksum_ok(ip.source(), ip.destination())) return size_t{0};
  if (eth.source().is_multicast()) return size_t{0};
  state.mac = eth.source();
  switch (type) {
    case icmp6_type::kRouterSolicitation:
      if (!cfg.ndp) return size_t{0};
      return on_router_solicitation(eth, ip, icmp, cfg, out);
    case icmp6_type::kNeighborSolicitation:
      return on_solicitation(eth, ip, icmp, cfg, state, now, out);
    default: on_advertisement(icmp, state); return size_t{0};
  }
}

size_t build_router_advertisement(const ServiceConfig& cfg, const Ipv6Addr& dst,
                                  const MacAddr& dst_mac, MutBytes out) {
  if (!cfg.plan.ipv6 || !cfg.ndp || out.size() < kL4v6Offset + kRaLen) return 0;
  // The message is at most the link MTU minus the IPv6 header.
  const size_t room =
      std::min(out.size() - kL4v6Offset,
               size_t{cfg.plan.mtu} > kIpv6HeaderLen ? cfg.plan.mtu - kIpv6HeaderLen : size_t{0});
  if (room < kRaLen) return 0;
  MutBytes msg = out.subspan(kL4v6Offset, room);
  store_u8(msg, 0, icmp6_type::kRouterAdvertisement);
  store_u8(msg, 1, 0);
  store_be16(msg, 2, 0);
  store_u8(msg, 4, kRaCurHopLimit);
  store_u8(msg, 5, cfg.dhcpv6 ? uint8_t{kRaManaged | kRaOther} : uint8_t{0});
  store_be16(msg, 6, kRouterLifetime);
  store_be32(msg, 8, 0);   // reachable time: unspecified
  store_be32(msg, 12, 0);  // retrans timer: unspecified

  NdpOptionWriter w(msg.subspan(kRaLen));
  (void)w.put_link_addr(ndp_opt::kSourceLinkAddr, cfg.plan.gateway_mac);
  (void)w.put_mtu(cfg.plan.mtu);
  uint8_t flags = ndp_opt::kPrefixOnLink;
  if (cfg.plan.net6.len == 64) flags |= ndp_opt::kPrefixAutonomous;
  (void)w.put_prefix_info(cfg.plan.net6, flags, kPrefixValidLifetime, kPrefixPreferredLifetime);
  const std::array<Ipv6Addr, 1> dns{cfg.plan.dns6};
  (void)w.put_rdnss(kDnsOptionLifetime, dns);
  if (!cfg.plan.search.empty()) (void)w.put_dnssl(kDnsOptionLifetime, cfg.plan.search);

  return finish_icmp6(out, {cfg.plan.gateway_mac, dst_mac}, cfg.plan.gateway_link_local6(), dst,
                      kNdpHopLimit, kRaLen + w.len());
}

size_t build_unsolicited_ra(const ServiceConfig& cfg, MutBytes out) {
  return build_router_advertisement(cfg, kAllNodes, kAllNodes.multicast_mac(), out);
}

Duration unsolicited_ra_delay(uint32_t sent, uint32_t random) {
  if (sent == 0) return Duration{};
  const int64_t min_ms = kMinRtrAdvInterval.to_millis();
  const int64_t span_ms = kMaxRtrAdvInterval.to_millis() - min_ms + 1;
  Duration d =
      Duration::millis(min_ms + static_cast<int64_t>(random % static_cast<uint32_t>(span_ms)));
  if (sent < kMaxInitialRtrAdvertisements && d > kMaxInitialRtrAdvertInterval) {
    d = kMaxInitialRtrAdvertInterval;
  }
  return d;
}

}  // namespace tapir::services
