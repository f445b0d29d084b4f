#include "app/outbound.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <cstring>

namespace tapir::app {
namespace {

// The first address of `family` on interface `name`; false if none.
bool interface_address(const std::string& name, int family, sockaddr_storage& out) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) < 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != family || name != i->ifa_name) continue;
    if (family == AF_INET6) {
      // A link-local address cannot be the source towards other links.
      const auto* a6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);  // NOLINT
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;
      std::memcpy(&out, a6, sizeof *a6);
    } else {
      std::memcpy(&out, i->ifa_addr, sizeof(sockaddr_in));
    }
    found = true;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

Expected<flows::OutboundAddrs, std::string> resolve_outbound(const std::string& v4, const std::string& v6) {
  flows::OutboundAddrs out;
  if (!v4.empty()) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (::inet_pton(AF_INET, v4.c_str(), &a.sin_addr) != 1) {
      sockaddr_storage ss{};
      if (!interface_address(v4, AF_INET, ss)) {
        return unexpected(std::string("outbound-addr has to be valid ipv4 address or interface name."));
      }
      std::memcpy(&a, &ss, sizeof a);
      a.sin_port = 0;
    }
    out.v4 = a;
  }
  if (!v6.empty()) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, v6.c_str(), &a.sin6_addr) != 1) {
      sockaddr_storage ss{};
      if (!interface_address(v6, AF_INET6, ss)) {
        return unexpected(std::string("outbound-addr6 has to be valid ipv6 address or interface name."));
      }
      std::memcpy(&a, &ss, sizeof a);
      a.sin6_port = 0;
    }
    out.v6 = a;
  }
  return out;
}

}  // namespace tapir::app
