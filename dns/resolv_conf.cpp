#include "dns/resolv_conf.hpp"

#include <algorithm>
#include <optional>

#include "dns/text.hpp"

namespace tapir::dns {
namespace {

constexpr uint16_t kDnsPortDefault = 53;
constexpr size_t kMaxScopeLen = 15;  // IFNAMSIZ - 1

// A line's blank-separated words, up to a comment word ('#' or ';').
std::vector<std::string_view> tokens(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (auto t = next_word(line, &pos); !t.empty() && t[0] != '#' && t[0] != ';';
       t = next_word(line, &pos)) {
    out.push_back(t);
  }
  return out;
}

bool scope_ok(std::string_view s) {
  if (s.empty() || s.size() > kMaxScopeLen) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '@' || c == ':';
    if (!ok) return false;
  }
  return true;
}

// An address with an optional %scope (IPv6 only), no port.
Expected<Endpoint, UpstreamError> parse_address(std::string_view text, uint16_t port) {
  const size_t pct = text.find('%');
  const std::string_view addr = text.substr(0, pct);
  if (auto v4 = wire::Ipv4Addr::parse(addr)) {
    if (pct != std::string_view::npos) return unexpected(UpstreamError::kBadScope);
    return Endpoint::ipv4(*v4, port);
  }
  auto v6 = wire::Ipv6Addr::parse(addr);
  if (!v6) return unexpected(UpstreamError::kBadAddress);
  std::string scope;
  if (pct != std::string_view::npos) {
    const std::string_view s = text.substr(pct + 1);
    if (!scope_ok(s)) return unexpected(UpstreamError::kBadScope);
    scope = std::string(s);
  }
  return Endpoint::ipv6(*v6, port, std::move(scope));
}

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

const char* upstream_error_name(UpstreamError e) noexcept {
  switch (e) {
    case UpstreamError::kEmpty: return "empty address";
    case UpstreamError::kBadAddress: return "not an IPv4 or IPv6 address";
    case UpstreamError::kBadPort: return "bad port (1-65535)";
    case UpstreamError::kBadScope: return "bad %scope (an IPv6 interface name or number)";
  }
  return "unknown";
}

Expected<Endpoint, UpstreamError> parse_upstream(std::string_view text) {
  if (text.empty()) return unexpected(UpstreamError::kEmpty);
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return unexpected(UpstreamError::kBadAddress);
    const std::string_view inner = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    uint16_t port = kDnsPortDefault;
    if (!rest.empty()) {
      if (rest.front() != ':') return unexpected(UpstreamError::kBadPort);
      auto p = parse_port(rest.substr(1));
      if (!p) return unexpected(UpstreamError::kBadPort);
      port = *p;
    }
    auto e = parse_address(inner, port);
    if (e && !e->is_ipv6()) return unexpected(UpstreamError::kBadAddress);  // [1.2.3.4]
    return e;
  }
  const size_t first = text.find(':');
  if (first != std::string_view::npos && text.find(':', first + 1) == std::string_view::npos) {
    // Exactly one colon: IPv4:PORT.
    auto p = parse_port(text.substr(first + 1));
    auto e = parse_address(text.substr(0, first), p.value_or(kDnsPortDefault));
    if (!e) return e;
    if (!p) return unexpected(UpstreamError::kBadPort);
    return e;
  }
  return parse_address(text, kDnsPortDefault);
}

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf rc;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const auto t = tokens(line);
    if (t.empty()) continue;  // blank or comment
    const std::string_view key = t[0];
    if (key == "nameserver") {
      std::optional<Endpoint> e;
      if (t.size() >= 2) {
        if (auto parsed = parse_address(t[1], kDnsPortDefault)) e = std::move(*parsed);
      }
      if (e) {
        rc.nameservers.push_back(std::move(*e));
      } else {
        ++rc.bad_nameservers;
      }
    } else if (key == "search" || key == "domain") {
      rc.search.clear();
      const size_t n = key == "domain" ? std::min<size_t>(t.size(), 2) : t.size();
      for (size_t i = 1; i < n; ++i) rc.search.emplace_back(t[i]);
    } else if (key == "options") {
      for (size_t i = 1; i < t.size(); ++i) rc.options.emplace_back(t[i]);
    } else {
      ++rc.ignored_lines;
    }
  }
  return rc;
}

}  // namespace tapir::dns
