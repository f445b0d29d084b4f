#include "services/icmp_echo.hpp"

#include "wire/proto.hpp"
#include "services/frame.hpp"

namespace tapir::services {

using namespace tapir::wire;

bool is_local_echo_target(Ipv4Addr dst, const ServiceConfig& cfg) {
  return dst == cfg.plan.gateway4 || dst == cfg.plan.dns4;
}

bool is_local_echo_target(const Ipv6Addr& dst, const ServiceConfig& cfg) {
  if (!cfg.plan.ipv6) return false;
  return dst == cfg.plan.gateway6 || dst == cfg.plan.dns6 ||
         dst == cfg.plan.gateway_link_local6();
}

ServiceResult icmp4_echo_reply(const EthernetView& eth, const Ipv4View& ip,
                               const Icmp4View& icmp, const ServiceConfig& cfg, MutBytes out) {
  if (ip.protocol() != ipproto::kIcmp || ip.is_fragment()) return size_t{0};
  if (icmp.type() != icmp4_type::kEchoRequest || icmp.code() != 0) return size_t{0};
  if (!is_local_echo_target(ip.destination(), cfg)) return size_t{0};
  const Ipv4Addr src = ip.source();
  if (src.is_unspecified() || src.is_multicast() || src.is_broadcast()) return size_t{0};
  if (!icmp.checksum_ok()) return size_t{0};
  const size_t len = icmp.bytes().size();
  if (kL4v4Offset + len > out.size()) return size_t{0};

  MutBytes msg = out.subspan(kL4v4Offset, len);
  Icmp4EchoRepr{icmp4_type::kEchoReply, icmp.identifier(), icmp.sequence()}.emit(msg);
  store_bytes(msg, kIcmp4HeaderLen, icmp.body());
  icmp4_fill_checksum(msg);
  return finish_ipv4(out, {cfg.plan.gateway_mac, eth.source()}, ip.destination(), ip.source(),
                     ipproto::kIcmp, len);
}

ServiceResult icmp6_echo_reply(const EthernetView& eth, const Ipv6View& ip,
                               const Icmp6View& icmp, const ServiceConfig& cfg, MutBytes out) {
  if (ip.upper_protocol() != ipproto::kIcmpv6 || ip.is_fragment()) return size_t{0};
  if (icmp.type() != icmp6_type::kEchoRequest || icmp.code() != 0) return size_t{0};
  if (!is_local_echo_target(ip.destination(), cfg)) return size_t{0};
  if (ip.source().is_unspecified() || ip.source().is_multicast()) return size_t{0};
  if (!icmp.checksum_ok(ip.source(), ip.destination())) return size_t{0};
  const size_t len = icmp.bytes().size();
  if (kL4v6Offset + len > out.size()) return size_t{0};

  MutBytes msg = out.subspan(kL4v6Offset, len);
  Icmp6EchoRepr{icmp6_type::kEchoReply, icmp.identifier(), icmp.sequence()}.emit(msg);
  store_bytes(msg, kIcmp6HeaderLen, icmp.body());
  return finish_icmp6(out, {cfg.plan.gateway_mac, eth.source()}, ip.destination(), ip.source(),
                      kIpv6DefaultHopLimit, len);
}

}  // namespace tapir::services
