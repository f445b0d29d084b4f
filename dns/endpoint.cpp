#include "dns/endpoint.hpp"

namespace tapir::dns {

// Built with append: g++ 12 reports a false -Wrestrict on chained
// std::string operator+ at -O3.
std::string Endpoint::to_string() const {
  std::string s;
  if (is_ipv6()) {
    s.append("[").append(v6.to_string());
    if (!scope.empty()) s.append("%").append(scope);
    s.append("]");
  } else {
    s.append(v4.to_string());
  }
  s.append(":").append(std::to_string(port));
  return s;
}

}  // namespace tapir::dns
