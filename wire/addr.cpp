#include "wire/addr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>

namespace tapir::wire {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The fixed-size byte arrays of MacAddr and Ipv6Addr, at `off` in `b`.
template <size_t N>
void load_octets(ConstBytes b, size_t off, std::array<uint8_t, N>& octets) {
  TAPIR_CHECK(off + N <= b.size());
  for (size_t i = 0; i < N; ++i) octets[i] = static_cast<uint8_t>(b[off + i]);
}

template <size_t N>
void store_octets(MutBytes b, size_t off, const std::array<uint8_t, N>& octets) {
  TAPIR_CHECK(off + N <= b.size());
  for (size_t i = 0; i < N; ++i) b[off + i] = std::byte{octets[i]};
}

}  // namespace

MacAddr MacAddr::load(ConstBytes b, size_t off) {
  MacAddr m;
  load_octets(b, off, m.octets);
  return m;
}

void MacAddr::store(MutBytes b, size_t off) const { store_octets(b, off, octets); }

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  // "xx:xx:xx:xx:xx:xx" is exactly 17 characters.
  if (text.size() != 17) return std::nullopt;
  MacAddr m;
  for (size_t i = 0; i < 6; ++i) {
    const size_t p = i * 3;
    if (i > 0 && text[p - 1] != ':') return std::nullopt;
    const int hi = hex_value(text[p]);
    const int lo = hex_value(text[p + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    m.octets[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return m;
}

std::string MacAddr::to_string() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets[0], octets[1], octets[2],
                octets[3], octets[4], octets[5]);
  return buf;
}

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view text) {
  uint32_t value = 0;
  size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (pos >= text.size() || text[pos] != '.') return std::nullopt;
      ++pos;
    }
    const size_t start = pos;
    uint32_t n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && pos - start < 3) {
      n = n * 10 + static_cast<uint32_t>(text[pos] - '0');
      ++pos;
    }
    const size_t digits = pos - start;
    if (digits == 0 || n > 255) return std::nullopt;
    if (digits > 1 && text[start] == '0') return std::nullopt;  // no octal-looking parts
    value = (value << 8) | n;
  }
  if (pos != text.size()) return std::nullopt;
  return Ipv4Addr{value};
}

std::string Ipv4Addr::to_string() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value >> 24, (value >> 16) & 0xff,
                (value >> 8) & 0xff, value & 0xff);
  return buf;
}

Ipv6Addr Ipv6Addr::load(ConstBytes b, size_t off) {
  Ipv6Addr a;
  load_octets(b, off, a.octets);
  return a;
}

void Ipv6Addr::store(MutBytes b, size_t off) const { store_octets(b, off, octets); }

std::optional<Ipv6Addr> Ipv6Addr::parse(std::string_view text) {
  // inet_pton implements exactly RFC 4291 2.2 and needs a NUL-terminated
  // string; the longest valid text form is 45 characters.
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\0') return std::nullopt;
    buf[i] = text[i];
  }
  buf[text.size()] = '\0';
  Ipv6Addr a;
  if (inet_pton(AF_INET6, buf, a.octets.data()) != 1) return std::nullopt;
  return a;
}

std::string Ipv6Addr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  // glibc's inet_ntop produces the RFC 5952 form (longest zero run, lowercase).
  if (inet_ntop(AF_INET6, octets.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

Ipv6Addr Ipv6Addr::solicited_node() const {
  Ipv6Addr s{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0}};
  s.octets[13] = octets[13];
  s.octets[14] = octets[14];
  s.octets[15] = octets[15];
  return s;
}

MacAddr Ipv6Addr::multicast_mac() const {
  return {{0x33, 0x33, octets[12], octets[13], octets[14], octets[15]}};
}

IpAddr IpAddr::from(Ipv4Addr a) {
  IpAddr r;
  a.store(as_writable_bytes(r.bytes), 0);
  return r;
}

IpAddr IpAddr::from(const Ipv6Addr& a) {
  IpAddr r;
  r.v6 = true;
  r.bytes = a.octets;
  return r;
}

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (auto a = Ipv4Addr::parse(text)) return from(*a);
  if (auto a = Ipv6Addr::parse(text)) return from(*a);
  return std::nullopt;
}

std::string IpAddr::to_string() const {
  return v6 ? as_v6().to_string() : as_v4().to_string();
}

Ipv4Addr IpAddr::as_v4() const {
  return Ipv4Addr::load(as_bytes(bytes), 0);
}

unsigned to_sockaddr(const IpAddr& a, uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (a.v6) {
    auto* sin6 =
        reinterpret_cast<sockaddr_in6*>(&out);  // NOLINT: sockaddr_storage is made for this
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(&out);  // NOLINT
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
  return sizeof(sockaddr_in);
}

std::optional<IpEndpoint> from_sockaddr(const sockaddr_storage& ss) {
  IpEndpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);  // NOLINT
    std::memcpy(e.addr.bytes.data(), &sin->sin_addr, 4);
    e.port = ntohs(sin->sin_port);
    return e;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);  // NOLINT
    e.addr.v6 = true;
    std::memcpy(e.addr.bytes.data(), &sin6->sin6_addr, 16);
    e.port = ntohs(sin6->sin6_port);
    return e;
  }
  return std::nullopt;
}

}  // namespace tapir::wire
