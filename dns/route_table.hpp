#pragma once
// Split DNS: which upstream set a question goes to (--dns-route).
//
// Theory of operation. A route sends every name at or under DOMAIN to its
// own upstreams instead of the default set (resolv.conf or
// --dns-upstream), as dnsmasq's server=/DOMAIN/ADDR and CoreDNS's stub
// domains do; the corporate-VPN case is the reason: names under the VPN's
// domain must reach only the VPN's resolver, everything else the ISP's.
//
//   --dns-route DOMAIN=ADDR[:PORT]   ADDR as --dns-upstream reads it
//                                    (IPv6 bare, or [ADDR]:PORT, %scope)
//   --dns-route DOMAIN=local         answered only from the built-in names
//                                    and --add-host; anything else there is
//                                    NXDOMAIN, and nothing is sent upstream
//
// Repeating a DOMAIN adds upstreams to its set, in order (the set's
// preference and failover order, as the default set's). A DOMAIN is
// matched by whole labels, ASCII case-insensitively (RFC 4343): the route
// for corp.example covers corp.example and a.corp.example, not
// xcorp.example. The longest matching DOMAIN wins, so a.corp.example=X
// beats corp.example=Y for b.a.corp.example. Reverse zones are domains
// like any other (2.0.192.in-addr.arpa, 8.b.d.0.1.0.0.2.ip6.arpa).
//
// add() refuses, with one line saying why: no '=', a DOMAIN that is not a
// name (empty label, label over 63, name over 255) or is the root (the
// root is the default set: --dns-upstream), a bad address, a DOMAIN both
// `local` and routed to an address, more than UpstreamSet::kMaxUpstreams
// upstreams for one DOMAIN, more than kMaxRoutes domains.
//
// match() is a walk over the routes (few, and set at start): the
// forwarder calls it once per question that reaches upstream.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "dns/endpoint.hpp"
#include "dns/name.hpp"

namespace tapir::dns {

struct DnsRoute {
  Name domain;  // lower case
  bool local = false;
  std::vector<Endpoint> upstreams;  // in the order given; empty when local
};

class RouteTable {
 public:
  static constexpr size_t kMaxRoutes = 1024;

  // One --dns-route value. The error is one line, without the option's name.
  Expected<void, std::string> add(std::string_view spec);

  // The index in routes() of the longest DOMAIN that `qname` is or ends
  // in; nullopt: the default set.
  std::optional<size_t> match(const Name& qname) const;

  const std::vector<DnsRoute>& routes() const { return routes_; }
  bool empty() const { return routes_.empty(); }

 private:
  std::vector<DnsRoute> routes_;
};

}  // namespace tapir::dns
