#include "wire/address_plan.hpp"

#include <charconv>

namespace tapir::wire {
namespace {

// Splits "addr/len"; len is decimal without sign or leading zeros.
bool split_prefix(std::string_view text, std::string_view& addr, unsigned& len, unsigned max) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  addr = text.substr(0, slash);
  const std::string_view digits = text.substr(slash + 1);
  if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits[0] == '0')) return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
  return ec == std::errc() && end == digits.data() + digits.size() && len <= max;
}

}  // namespace

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view text) {
  std::string_view a;
  unsigned len = 0;
  if (!split_prefix(text, a, len, 32)) return std::nullopt;
  auto addr = Ipv4Addr::parse(a);
  if (!addr) return std::nullopt;
  return Ipv4Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Ipv4Prefix::to_string() const {
  return addr.to_string() + "/" + std::to_string(len);
}

std::optional<Ipv6Prefix> Ipv6Prefix::parse(std::string_view text) {
  std::string_view a;
  unsigned len = 0;
  if (!split_prefix(text, a, len, 128)) return std::nullopt;
  auto addr = Ipv6Addr::parse(a);
  if (!addr) return std::nullopt;
  return Ipv6Prefix{*addr, static_cast<uint8_t>(len)};
}

std::string Ipv6Prefix::to_string() const {
  return addr.to_string() + "/" + std::to_string(len);
}

Ipv6Addr Ipv6Prefix::network() const {
  Ipv6Addr n = addr;
  for (size_t i = 0; i < 16; ++i) {
    const int bits = static_cast<int>(len) - static_cast<int>(i) * 8;
    if (bits >= 8) continue;
    n.octets[i] = bits <= 0 ? uint8_t{0} : static_cast<uint8_t>(n.octets[i] & (0xff << (8 - bits)));
  }
  return n;
}

bool Ipv6Prefix::contains(const Ipv6Addr& a) const {
  return Ipv6Prefix{a, len}.network() == network();
}

Ipv6Addr Ipv6Prefix::host(uint32_t n) const {
  Ipv6Addr h = network();
  h.octets[12] = static_cast<uint8_t>(h.octets[12] | (n >> 24));
  h.octets[13] = static_cast<uint8_t>(h.octets[13] | ((n >> 16) & 0xff));
  h.octets[14] = static_cast<uint8_t>(h.octets[14] | ((n >> 8) & 0xff));
  h.octets[15] = static_cast<uint8_t>(h.octets[15] | (n & 0xff));
  return h;
}

AddressPlan AddressPlan::nat(Ipv4Prefix net4, Ipv6Prefix net6, bool ipv6) {
  AddressPlan p;
  p.net4 = Ipv4Prefix{net4.network(), net4.len};
  p.gateway4 = p.net4.host(2);
  p.dns4 = p.net4.host(3);
  p.dhcp_start4 = p.net4.host(15);
  p.guest4 = p.net4.host(100);
  p.ipv6 = ipv6;
  p.net6 = Ipv6Prefix{net6.network(), net6.len};
  p.gateway6 = p.net6.host(2);
  p.dns6 = p.net6.host(3);
  p.dhcp_start6 = p.net6.host(0x15);
  p.guest6 = p.net6.host(100);
  p.loopback4 = p.net4;
  p.loopback6 = p.net6;
  const uint32_t g = p.gateway4.value;
  p.gateway_mac = MacAddr{{0x52, 0x55, static_cast<uint8_t>(g >> 24), static_cast<uint8_t>(g >> 16),
                           static_cast<uint8_t>(g >> 8), static_cast<uint8_t>(g)}};
  return p;
}

Ipv6Addr AddressPlan::gateway_link_local6() const {
  const auto& m = gateway_mac.octets;
  return Ipv6Addr{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(m[0] ^ 0x02), m[1], m[2],
                   0xff, 0xfe, m[3], m[4], m[5]}};
}

std::optional<Ipv6Addr> offset_low32(const Ipv6Addr& a, uint32_t n) {
  const uint32_t low = load_be32(as_bytes(a.octets), 12);
  if (low + n < low) return std::nullopt;
  Ipv6Addr r = a;
  store_be32(as_writable_bytes(r.octets), 12, low + n);
  return r;
}

}  // namespace tapir::wire
