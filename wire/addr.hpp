#pragma once
// Address value types: MacAddr, Ipv4Addr, Ipv6Addr, and IpAddr (either family).
//
// Small, trivially copyable, ordered and hashable. They hold addresses in a
// byte-order-neutral form (bytes for MAC/IPv6, a host-order integer for
// IPv4) and convert to and from wire bytes and text. Text parsing is strict
// (no "010.1.2.3" octal, no trailing junk) because these parse operator
// input: command-line flags and API requests.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire/bytes.hpp"

struct sockaddr_storage;

namespace tapir::wire {

struct MacAddr {
  std::array<uint8_t, 6> octets{};

  static constexpr MacAddr broadcast() { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  // Reads 6 bytes at `off` (bounds-checked).
  static MacAddr load(ConstBytes b, size_t off);
  void store(MutBytes b, size_t off) const;

  // "52:54:00:12:34:56" (colons; hex digits in either case; exactly 6 groups of 2).
  static std::optional<MacAddr> parse(std::string_view text);
  std::string to_string() const;  // lowercase, colon separated

  constexpr bool is_broadcast() const { return *this == broadcast(); }
  constexpr bool is_multicast() const { return (octets[0] & 0x01) != 0; }  // includes broadcast
  constexpr bool is_zero() const { return *this == MacAddr{}; }
  constexpr auto operator<=>(const MacAddr&) const = default;
};

struct Ipv4Addr {
  uint32_t value = 0;  // host order: 10.0.2.2 is 0x0a000202

  static constexpr Ipv4Addr from_octets(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | uint32_t{d}};
  }
  static Ipv4Addr load(ConstBytes b, size_t off) { return {load_be32(b, off)}; }
  void store(MutBytes b, size_t off) const { store_be32(b, off, value); }

  // Dotted quad, exactly four decimal parts 0-255 with no leading zeros.
  static std::optional<Ipv4Addr> parse(std::string_view text);
  std::string to_string() const;

  constexpr bool is_unspecified() const { return value == 0; }
  constexpr bool is_loopback() const { return (value >> 24) == 127; }
  constexpr bool is_multicast() const { return (value >> 28) == 0xe; }
  constexpr bool is_broadcast() const { return value == 0xffffffffu; }
  constexpr bool is_link_local() const { return (value >> 16) == 0xa9fe; }  // 169.254/16
  constexpr auto operator<=>(const Ipv4Addr&) const = default;
};

struct Ipv6Addr {
  std::array<uint8_t, 16> octets{};

  static Ipv6Addr load(ConstBytes b, size_t off);
  void store(MutBytes b, size_t off) const;

  // RFC 4291 2.2 text forms, including "::" and embedded IPv4 ("::ffff:1.2.3.4").
  static std::optional<Ipv6Addr> parse(std::string_view text);
  std::string to_string() const;  // RFC 5952 canonical form

  constexpr bool is_unspecified() const { return *this == Ipv6Addr{}; }
  constexpr bool is_loopback() const {
    return *this == Ipv6Addr{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  }
  constexpr bool is_multicast() const { return octets[0] == 0xff; }
  constexpr bool is_link_local() const { return octets[0] == 0xfe && (octets[1] & 0xc0) == 0x80; }
  // ff02::1:ffXX:XXXX for this address (RFC 4291 2.7.1).
  Ipv6Addr solicited_node() const;
  // 33:33:xx:xx:xx:xx for a multicast address (RFC 2464 7).
  MacAddr multicast_mac() const;
  constexpr auto operator<=>(const Ipv6Addr&) const = default;
};

// An IPv4 or IPv6 address: the one address type flow keys, forwarding rules
// and sockaddr conversion share, so code that does not care about the family
// is written once. IPv4 lives in the first 4 bytes (network order), the rest
// zero, so two IpAddr compare and hash by their bytes alone.
struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  static IpAddr from(Ipv4Addr a);
  static IpAddr from(const Ipv6Addr& a);
  // Dotted quad or IPv6 text (no brackets); nullopt otherwise.
  static std::optional<IpAddr> parse(std::string_view text);
  std::string to_string() const;

  Ipv4Addr as_v4() const;                             // meaningful when !v6
  Ipv6Addr as_v6() const { return Ipv6Addr{bytes}; }  // meaningful when v6
  // 0.0.0.0 or :: (every byte zero, whichever the family).
  bool is_unspecified() const { return bytes == std::array<uint8_t, 16>{}; }
  bool operator==(const IpAddr&) const = default;
};

// `a`:`port` as a sockaddr_in / sockaddr_in6 in `out`; returns its length.
unsigned to_sockaddr(const IpAddr& a, uint16_t port, sockaddr_storage& out);
// The address and port of an AF_INET / AF_INET6 sockaddr (an IPv4-mapped
// IPv6 address stays IPv6); nullopt for any other family.
struct IpEndpoint {
  IpAddr addr;
  uint16_t port = 0;
};
std::optional<IpEndpoint> from_sockaddr(const sockaddr_storage& ss);

}  // namespace tapir::wire
