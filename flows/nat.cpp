#include "flows/nat.hpp"

namespace tapir::flows {
namespace {

void fill(const wire::IpAddr& a, uint16_t port, sockaddr_storage& out, socklen_t& len) {
  len = static_cast<socklen_t>(wire::to_sockaddr(a, port, out));
}

}  // namespace

const char* martian_name(Martian m) {
  switch (m) {
    case Martian::kLoopback: return "loopback";
    case Martian::kUnspecified: return "unspecified";
    case Martian::kMulticast: return "multicast";
    case Martian::kBroadcast: return "broadcast";
    case Martian::kReserved: return "reserved";
    case Martian::kV4Mapped: return "v4_mapped";
  }
  return "?";
}


std::optional<Martian> martian4(const wire::AddressPlan& plan, wire::Ipv4Addr dst) {
  const uint32_t top = dst.value >> 24;
  if (top == 0) return Martian::kUnspecified;  // 0/8, "this network" (RFC 1122 3.2.1.3)
  if (dst.is_loopback()) return Martian::kLoopback;
  if (dst.is_multicast()) return Martian::kMulticast;
  if (dst.is_broadcast() || dst == plan.net4.broadcast()) return Martian::kBroadcast;
  if (top >= 240) return Martian::kReserved;  // 240/4 (RFC 1112 4)
  return std::nullopt;
}

std::optional<Martian> martian6(const wire::Ipv6Addr& dst) {
  const auto& o = dst.octets;
  if (dst.is_multicast()) return Martian::kMulticast;
  bool zero80 = true;  // the first 80 bits
  for (size_t i = 0; i < 10; ++i) zero80 = zero80 && o[i] == 0;
  if (!zero80) return std::nullopt;
  if (o[10] == 0xff && o[11] == 0xff) return Martian::kV4Mapped;  // ::ffff:0:0/96
  if (o[10] != 0 || o[11] != 0) return std::nullopt;
  if (dst.is_unspecified()) return Martian::kUnspecified;
  if (dst.is_loopback()) return Martian::kLoopback;
  return Martian::kV4Mapped;  // the rest of ::/96: IPv4-compatible, deprecated
}

MapResult map_destination4(const NatConfig& cfg, wire::Ipv4Addr dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len, Martian& why) {
  const auto& p = cfg.plan;
  if (dst == p.dns4) return MapResult::kLocal;
  if (auto m = martian4(p, dst)) {
    why = *m;
    return MapResult::kMartian;
  }
  if (p.maps_to_host_loopback(dst)) {
    if (cfg.disable_host_loopback) return MapResult::kUnreachable;
    fill(wire::IpAddr::from(wire::Ipv4Addr::from_octets(127, 0, 0, 1)), port, out, out_len);
    return MapResult::kHost;
  }
  fill(wire::IpAddr::from(dst), port, out, out_len);
  return MapResult::kHost;
}

MapResult map_destination6(const NatConfig& cfg, const wire::Ipv6Addr& dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len, Martian& why) {
  const auto& p = cfg.plan;
  if (dst == p.dns6) return MapResult::kLocal;
  if (auto m = martian6(dst)) {
    why = *m;
    return MapResult::kMartian;
  }
  if (p.maps_to_host_loopback(dst)) {
    if (cfg.disable_host_loopback) return MapResult::kUnreachable;
    fill(wire::IpAddr::from(wire::Ipv6Addr{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}), port,
         out, out_len);
    return MapResult::kHost;
  }
  fill(wire::IpAddr::from(dst), port, out, out_len);
  return MapResult::kHost;
}

MapResult map_destination(const NatConfig& cfg, const wire::IpAddr& dst, uint16_t port,
                          sockaddr_storage& out, socklen_t& out_len, Martian& why) {
  return dst.v6 ? map_destination6(cfg, dst.as_v6(), port, out, out_len, why)
                : map_destination4(cfg, dst.as_v4(), port, out, out_len, why);
}

}  // namespace tapir::flows
