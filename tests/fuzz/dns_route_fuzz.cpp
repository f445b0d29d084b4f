// Fuzz target: the --dns-route table (RouteTable::add and match) on
// arbitrary text, one value per line. Whatever is accepted keeps the
// table's promises: domains in lower case, never the root, local routes
// without upstreams and routed ones with 1..kMaxUpstreams, each upstream
// printing to a form parse_upstream reads back; and match() returns the
// longest domain that the name is or ends in, or nothing when none is.
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/resolv_conf.hpp"
#include "dns/route_table.hpp"
#include "dns/upstream_set.hpp"

namespace {

using tapir::dns::Name;
using tapir::dns::RouteTable;

void check_match(const RouteTable& t, const Name& qname) {
  const auto m = t.match(qname);
  size_t longest = 0;
  bool any = false;
  for (const auto& r : t.routes()) {
    if (qname.ends_with_ci(r.domain)) {
      any = true;
      if (r.domain.size() > longest) longest = r.domain.size();
    }
  }
  if (any != m.has_value()) __builtin_trap();
  if (m) {
    const Name& d = t.routes().at(*m).domain;
    if (!qname.ends_with_ci(d) || d.size() != longest) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  RouteTable t;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const size_t before = t.routes().size();
    auto r = t.add(line);
    if (!r && (r.error().empty() || r.error().find('\n') != std::string::npos)) __builtin_trap();
    if (!r && t.routes().size() != before) __builtin_trap();
    // The line's DOMAIN (or the whole line) as a question name.
    if (auto q = Name::from_text(line.substr(0, line.find('=')))) check_match(t, *q);
    start = end + 1;
  }
  for (const auto& route : t.routes()) {
    if (route.domain.is_root()) __builtin_trap();
    Name lower = route.domain;
    lower.to_lower();
    if (!(lower == route.domain)) __builtin_trap();
    if (route.local != route.upstreams.empty()) __builtin_trap();
    if (route.upstreams.size() > tapir::dns::UpstreamSet::kMaxUpstreams) __builtin_trap();
    for (const auto& e : route.upstreams) {
      auto again = tapir::dns::parse_upstream(e.to_string());
      if (!again || !(*again == e)) __builtin_trap();
    }
    check_match(t, route.domain);
  }
  if (t.routes().size() > RouteTable::kMaxRoutes) __builtin_trap();
  return 0;
}
