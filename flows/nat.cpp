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

MapResult map_destination4(const NatConfig& cfg, wire::Ipv4Addr dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len) {
  const auto& p = cfg.plan;
  if (dst == p.dns4) return MapResult::kLocal;
  if (p.net4.contains(dst) && dst != p.net4.broadcast()) {
    if (cfg.disable_host_loopback) return MapResult::kUnreachable;
    fill4(0x7f000001, port, out, out_len);  // 127.0.0.1
    return MapResult::kHost;
  }
  fill4(dst.value, port, out, out_len);
  return MapResult::kHost;
}

MapResult map_destination6(const NatConfig& cfg, const wire::Ipv6Addr& dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len) {
  const auto& p = cfg.plan;
  if (dst == p.dns6) return MapResult::kLocal;
  if (p.net6.contains(dst) || dst == p.gateway_link_local6()) {
    if (cfg.disable_host_loopback) return MapResult::kUnreachable;
    fill6(wire::Ipv6Addr{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}}, port, out, out_len);
    return MapResult::kHost;
  }
  fill6(dst, port, out, out_len);
  return MapResult::kHost;
}

}  // namespace tapir::flows
