#pragma once
// An upstream resolver's address: IPv4 or IPv6 (with a %scope for
// link-local addresses), and a port. Plain value type; the forwarder turns
// it into a sockaddr (and the scope name into an interface index with
// if_nametoindex, which is I/O and so not done here).

#include <cstdint>
#include <string>

#include "wire/addr.hpp"

namespace tapir::dns {

struct Endpoint {
  enum class Family : uint8_t { kIpv4, kIpv6 };
  Family family = Family::kIpv4;
  wire::Ipv4Addr v4;
  wire::Ipv6Addr v6;
  uint16_t port = 53;
  // IPv6 zone (RFC 4007 11): an interface name ("eth0") or number ("2");
  // empty when none was given.
  std::string scope;

  static Endpoint ipv4(wire::Ipv4Addr a, uint16_t p = 53) {
    Endpoint e;
    e.v4 = a;
    e.port = p;
    return e;
  }
  static Endpoint ipv6(const wire::Ipv6Addr& a, uint16_t p = 53, std::string zone = {}) {
    Endpoint e;
    e.family = Family::kIpv6;
    e.v6 = a;
    e.port = p;
    e.scope = std::move(zone);
    return e;
  }

  bool is_ipv6() const { return family == Family::kIpv6; }
  bool is_loopback() const { return is_ipv6() ? v6.is_loopback() : v4.is_loopback(); }
  // Same address and port (the scope is not compared: a reply's source
  // carries an interface index, not the name the operator wrote).
  bool same_address_port(const Endpoint& o) const {
    if (family != o.family || port != o.port) return false;
    return is_ipv6() ? v6 == o.v6 : v4 == o.v4;
  }
  bool operator==(const Endpoint& o) const { return same_address_port(o) && scope == o.scope; }

  // "192.0.2.1:53", "[fe80::1%eth0]:53": the form --dns-upstream accepts.
  std::string to_string() const;
};

}  // namespace tapir::dns
