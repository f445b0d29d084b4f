#include "flows/nat.hpp"

#include <cstring>

namespace tapir::flows {
namespace {

void fill4(uint32_t host_order_addr, uint16_t port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  auto* sin = reinterpret_cast<sockaddr_in*>(&out);  // NOLINT: sockaddr_storage is made for this
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  sin->sin_addr.s_addr = htonl(host_order_addr);
  len = sizeof(sockaddr_in);
}

void fill6(const wire::Ipv6Addr& a, uint16_t port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);  // NOLINT
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, a.octets.data(), 16);
  len = sizeof(sockaddr_in6);
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

uint64_t MartianCounters::total() const {
  uint64_t t = 0;
  for (uint64_t v : n) t += v;
  return t;
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
  if (p.net4.contains(dst)) {
    if (cfg.disable_host_loopback) return MapResult::kUnreachable;
    fill4(0x7f000001, port, out, out_len);  // 127.0.0.1
    return MapResult::kHost;
  }
  fill4(dst.value, port, out, out_len);
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
  if (p.net6.contains(dst) || dst == p.gateway_link_local6()) {
    if (cfg.disable_host_loopback) return MapResult::kUnreachable;
    fill6(wire::Ipv6Addr{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, port, out, out_len);
    return MapResult::kHost;
  }
  fill6(dst, port, out, out_len);
  return MapResult::kHost;
}

}  // namespace tapir::flows
