#pragma once
// Prefixes and the address plan every module agrees on.
//
// NAT mode (slirp4netns-compatible), for a network N = --cidr (default
// 10.0.2.0/24) and the IPv6 prefix P (default fd00::/64):
//
//   N+2   gateway: the host as the guest sees it (maps to host loopback)
//   N+3   DNS forwarder
//   N+15  first DHCP lease
//   N+100 the guest's recommended address (what -c configures)
//   P::2  IPv6 gateway, P::3 IPv6 DNS
//
// The gateway's MAC follows libslirp's convention, 52:55 followed by the
// gateway's IPv4 address (52:55:0a:00:02:02 for 10.0.2.2), so a guest that
// moves from slirp4netns to tapir keeps a stable neighbour entry.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wire/addr.hpp"

namespace tapir::wire {

struct Ipv4Prefix {
  Ipv4Addr addr;
  uint8_t len = 0;  // 0..32

  // "a.b.c.d/n". Does not require a network address; see is_network().
  static std::optional<Ipv4Prefix> parse(std::string_view text);
  std::string to_string() const;

  constexpr uint32_t mask_bits() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  constexpr Ipv4Addr mask() const { return {mask_bits()}; }
  constexpr Ipv4Addr network() const { return {addr.value & mask_bits()}; }
  constexpr Ipv4Addr broadcast() const { return {addr.value | ~mask_bits()}; }
  constexpr bool is_network() const { return addr == network(); }
  constexpr bool contains(Ipv4Addr a) const { return (a.value & mask_bits()) == network().value; }
  // The address `n` past the network address (N+n).
  constexpr Ipv4Addr host(uint32_t n) const { return {network().value + n}; }
  bool operator==(const Ipv4Prefix&) const = default;
};

struct Ipv6Prefix {
  Ipv6Addr addr;
  uint8_t len = 0;  // 0..128

  // "x::y/n". Does not require the host bits to be zero; see is_network().
  static std::optional<Ipv6Prefix> parse(std::string_view text);
  std::string to_string() const;

  Ipv6Addr network() const;
  bool is_network() const { return addr == network(); }
  bool contains(const Ipv6Addr& a) const;
  // The network address with its last 32 bits set to `n` (P::n for small n).
  Ipv6Addr host(uint32_t n) const;
  bool operator==(const Ipv6Prefix&) const = default;
};

struct AddressPlan {
  Ipv4Prefix net4{Ipv4Addr::from_octets(10, 0, 2, 0), 24};
  Ipv4Addr gateway4 = Ipv4Addr::from_octets(10, 0, 2, 2);
  Ipv4Addr dns4 = Ipv4Addr::from_octets(10, 0, 2, 3);
  Ipv4Addr dhcp_start4 = Ipv4Addr::from_octets(10, 0, 2, 15);
  Ipv4Addr guest4 = Ipv4Addr::from_octets(10, 0, 2, 100);

  bool ipv6 = false;
  Ipv6Prefix net6{Ipv6Addr{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, 64};
  Ipv6Addr gateway6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
  Ipv6Addr dns6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}};

  MacAddr gateway_mac{{0x52, 0x55, 10, 0, 2, 2}};
  uint32_t mtu = 1500;

  // The NAT plan for `net4` (a network address) and `net6`.
  static AddressPlan nat(Ipv4Prefix net4, Ipv6Prefix net6, bool ipv6);
  // The gateway's IPv6 link-local address, derived from gateway_mac
  // (modified EUI-64, RFC 4291 2.5.1): the source of router advertisements.
  Ipv6Addr gateway_link_local6() const;
};

}  // namespace tapir::wire
