#include "dns/builtin.hpp"

#include "dns/message_build.hpp"

namespace tapir::dns {
namespace {

constexpr std::string_view kHostNames[] = {"host.containers.internal", "host.docker.internal"};
constexpr std::string_view kGatewayName = "gateway.containers.internal";
constexpr std::string_view kHostGateway = "host-gateway";

ConstBytes text_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};  // NOLINT: chars as bytes
}

char hex_digit(unsigned v) {
  return "0123456789abcdef"[v & 0xfu];
}

// The reverse name, if `q` is one, as an address (first: IPv6?).
struct ReverseAddr {
  bool v6 = false;
  wire::Ipv4Addr a4;
  wire::Ipv6Addr a6;
};

std::optional<ReverseAddr> parse_reverse(const Name& q) {
  // Labels in order; the reverse labels are single digits or 1-3 digit octets.
  std::string_view labels[40];
  size_t n = 0;
  const ConstBytes w = q.wire();
  for (size_t i = 0; wire::load_u8(w, i) != 0; i += 1u + wire::load_u8(w, i)) {
    if (n == 40) return std::nullopt;
    const auto* p = reinterpret_cast<const char*>(w.data()) + i + 1;  // NOLINT: bytes as chars
    labels[n++] = std::string_view(p, wire::load_u8(w, i));
  }
  auto ieq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (ascii_lower(static_cast<uint8_t>(a[i])) != static_cast<uint8_t>(b[i])) return false;
    }
    return true;
  };
  ReverseAddr r;
  if (n == 6 && ieq(labels[4], "in-addr") && ieq(labels[5], "arpa")) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      const std::string_view l = labels[3 - i];
      if (l.size() > 3 || (l.size() > 1 && l[0] == '0')) return std::nullopt;
      unsigned octet = 0;
      for (char c : l) {
        if (c < '0' || c > '9') return std::nullopt;
        octet = octet * 10 + static_cast<unsigned>(c - '0');
      }
      if (octet > 255) return std::nullopt;
      v = (v << 8) | octet;
    }
    r.a4 = wire::Ipv4Addr{v};
    return r;
  }
  if (n == 34 && ieq(labels[32], "ip6") && ieq(labels[33], "arpa")) {
    r.v6 = true;
    for (size_t i = 0; i < 32; ++i) {
      const std::string_view l = labels[31 - i];
      if (l.size() != 1) return std::nullopt;
      const auto c = ascii_lower(static_cast<uint8_t>(l[0]));
      unsigned d = 0;
      if (c >= '0' && c <= '9') {
        d = c - unsigned{'0'};
      } else if (c >= 'a' && c <= 'f') {
        d = c - unsigned{'a'} + 10;
      } else {
        return std::nullopt;
      }
      auto& o = r.a6.octets[i / 2];
      o = static_cast<uint8_t>(i % 2 == 0 ? d << 4 : o | d);
    }
    return r;
  }
  return std::nullopt;
}

}  // namespace

const char* add_host_error_name(AddHostError e) noexcept {
  switch (e) {
    case AddHostError::kBadSyntax: return "expected NAME:ADDR";
    case AddHostError::kBadName: return "bad host name";
    case AddHostError::kBadAddress: return "bad address (IPv4, IPv6 or host-gateway)";
    case AddHostError::kNoHostAddress: return "host-gateway, but no host address is configured";
  }
  return "unknown";
}

Name reverse_name(wire::Ipv4Addr addr) {
  Name n;
  for (int shift = 0; shift < 32; shift += 8) {
    const std::string octet = std::to_string((addr.value >> shift) & 0xffu);
    n.append_label(text_bytes(octet));
  }
  n.append_label(text_bytes("in-addr"));
  n.append_label(text_bytes("arpa"));
  return n;
}

Name reverse_name(const wire::Ipv6Addr& addr) {
  Name n;
  for (size_t i = 32; i-- > 0;) {
    const uint8_t o = addr.octets[i / 2];
    const char digit = hex_digit(i % 2 == 0 ? o >> 4u : o);
    n.append_label(text_bytes(std::string_view(&digit, 1)));
  }
  n.append_label(text_bytes("ip6"));
  n.append_label(text_bytes("arpa"));
  return n;
}

BuiltinNames::BuiltinNames(const BuiltinConfig& config) : config_(config) {
  for (std::string_view text : kHostNames) {
    const Name name = *Name::from_text(text);
    if (config.host4) add(name, *config.host4);
    if (config.host6) add(name, *config.host6);
  }
  const Name gateway = *Name::from_text(kGatewayName);
  if (config.gateway4) add(gateway, *config.gateway4);
  if (config.gateway6) add(gateway, *config.gateway6);
}

void BuiltinNames::add(const Name& name, wire::Ipv4Addr addr) {
  entries_.push_back({name, false, addr, {}});
}
void BuiltinNames::add(const Name& name, const wire::Ipv6Addr& addr) {
  entries_.push_back({name, true, {}, addr});
}

Expected<void, AddHostError> BuiltinNames::add_host(std::string_view spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return unexpected(AddHostError::kBadSyntax);
  const std::string_view name_text = spec.substr(0, colon);
  std::string_view addr = spec.substr(colon + 1);
  auto name = Name::from_text(name_text);
  if (name_text.empty() || !name || name->is_root()) return unexpected(AddHostError::kBadName);
  if (addr == kHostGateway) {
    if (!config_.host4 && !config_.host6) return unexpected(AddHostError::kNoHostAddress);
    if (config_.host4) add(*name, *config_.host4);
    if (config_.host6) add(*name, *config_.host6);
    return {};
  }
  if (auto v4 = wire::Ipv4Addr::parse(addr)) {
    add(*name, *v4);
    return {};
  }
  if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
    addr = addr.substr(1, addr.size() - 2);
  }
  if (auto v6 = wire::Ipv6Addr::parse(addr)) {
    add(*name, *v6);
    return {};
  }
  return unexpected(AddHostError::kBadAddress);
}

std::optional<size_t> BuiltinNames::answer(const Message& query, MutBytes out,
                                           bool* from_hosts) const {
  const auto q = query.question();
  if (query.qr() || query.opcode() != opcode::kQuery || query.qdcount() != 1 || !q) {
    return std::nullopt;
  }
  if (q->qclass != kClassIn && q->qclass != rrtype::kAny) return std::nullopt;
  if (auto n = answer_from(entries_, query, out)) return n;
  if (hosts_.empty()) return std::nullopt;
  auto n = answer_from(hosts_, query, out);
  if (n && from_hosts != nullptr) *from_hosts = true;
  return n;
}

std::optional<size_t> BuiltinNames::answer_from(const std::vector<HostEntry>& table,
                                                const Message& query, MutBytes out) const {
  const auto q = query.question();
  const Name qname = query.qname();
  const bool want_a = q->qtype == rrtype::kA || q->qtype == rrtype::kAny;
  const bool want_aaaa = q->qtype == rrtype::kAaaa || q->qtype == rrtype::kAny;
  const bool want_ptr = q->qtype == rrtype::kPtr || q->qtype == rrtype::kAny;

  bool mine = false;
  for (const HostEntry& e : table) mine = mine || e.name.equals_ci(qname);
  if (mine) {
    ResponseBuilder rb(out, query, rcode::kNoError, true);
    for (const HostEntry& e : table) {
      if (!e.name.equals_ci(qname)) continue;
      if (!e.v6 && want_a) rb.add_a(config_.ttl, e.a4);
      if (e.v6 && want_aaaa) rb.add_aaaa(config_.ttl, e.a6);
    }
    return rb.finish();
  }

  const auto rev = parse_reverse(qname);
  if (!rev) return std::nullopt;
  for (const HostEntry& e : table) {
    const bool same = e.v6 == rev->v6 && (e.v6 ? e.a6 == rev->a6 : e.a4 == rev->a4);
    if (!same) continue;
    ResponseBuilder rb(out, query, rcode::kNoError, true);
    if (want_ptr) rb.add_ptr(config_.ttl, e.name);
    return rb.finish();
  }
  return std::nullopt;
}

}  // namespace tapir::dns
