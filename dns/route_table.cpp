#include "dns/route_table.hpp"

#include "dns/resolv_conf.hpp"
#include "dns/upstream_set.hpp"

namespace tapir::dns {

Expected<void, std::string> RouteTable::add(std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos) {
    return unexpected(std::string("expected DOMAIN=ADDR[:PORT] or DOMAIN=local"));
  }
  const std::string_view domain_text = spec.substr(0, eq);
  const std::string_view target = spec.substr(eq + 1);
  auto domain = Name::from_text(domain_text);
  if (!domain) {
    std::string why = "\"";
    why.append(domain_text);
    why += "\" is not a domain name (empty label, label over 63 or name over 255 octets)";
    return unexpected(std::move(why));
  }
  if (domain->is_root()) {
    return unexpected(std::string("the root is the default set: use --dns-upstream for it"));
  }
  domain->to_lower();
  const bool local = target == "local";
  std::optional<Endpoint> upstream;
  if (!local) {
    auto e = parse_upstream(target);
    if (!e) {
      std::string why = "upstream \"";
      why.append(target);
      why += "\": ";
      why += upstream_error_name(e.error());
      return unexpected(std::move(why));
    }
    upstream = std::move(*e);
  }

  DnsRoute* route = nullptr;
  for (DnsRoute& r : routes_) {
    if (r.domain == *domain) route = &r;
  }
  if (route == nullptr) {
    if (routes_.size() >= kMaxRoutes) {
      return unexpected("more than " + std::to_string(kMaxRoutes) + " routed domains");
    }
    routes_.push_back(DnsRoute{*domain, local, {}});
    route = &routes_.back();
  } else if (route->local != local) {
    return unexpected(domain->to_string() + " is routed both to local and to an upstream");
  }
  if (upstream) {
    for (const Endpoint& e : route->upstreams) {
      if (e == *upstream) return {};  // listed twice: one is enough
    }
    if (route->upstreams.size() >= UpstreamSet::kMaxUpstreams) {
      return unexpected("more than " + std::to_string(UpstreamSet::kMaxUpstreams) + " upstreams for " +
                        domain->to_string());
    }
    route->upstreams.push_back(std::move(*upstream));
  }
  return {};
}

std::optional<size_t> RouteTable::match(const Name& qname) const {
  std::optional<size_t> best;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Name& d = routes_[i].domain;
    // Matching suffixes of one name: the longer one has more labels.
    if ((!best || d.size() > routes_[*best].domain.size()) && qname.ends_with_ci(d)) best = i;
  }
  return best;
}

}  // namespace tapir::dns
