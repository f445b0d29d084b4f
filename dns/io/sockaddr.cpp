#include "dns/io/sockaddr.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>

namespace tapir::dns {

bool to_sockaddr(const dns::Endpoint& e, sockaddr_storage& ss, socklen_t& len) {
  std::memset(&ss, 0, sizeof ss);
  if (!e.is_ipv6()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);  // NOLINT: the sockaddr API
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    sin->sin_addr.s_addr = htonl(e.v4.value);
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);  // NOLINT: the sockaddr API
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(e.port);
  std::memcpy(&sin6->sin6_addr, e.v6.octets.data(), 16);
  if (!e.scope.empty()) {
    // RFC 4007 11: an interface name, or its number.
    unsigned idx = if_nametoindex(e.scope.c_str());
    if (idx == 0) {
      char* end = nullptr;
      const unsigned long v = std::strtoul(e.scope.c_str(), &end, 10);
      if (end == e.scope.c_str() || *end != '\0' || v == 0) return false;
      idx = static_cast<unsigned>(v);
    }
    sin6->sin6_scope_id = idx;
  }
  len = sizeof(sockaddr_in6);
  return true;
}

dns::Endpoint from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);  // NOLINT: the sockaddr API
    wire::Ipv6Addr a;
    std::memcpy(a.octets.data(), &sin6->sin6_addr, 16);
    return dns::Endpoint::ipv6(a, ntohs(sin6->sin6_port));
  }
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);  // NOLINT: the sockaddr API
  return dns::Endpoint::ipv4({ntohl(sin->sin_addr.s_addr)}, ntohs(sin->sin_port));
}

}  // namespace tapir::dns
