#pragma once
// Prefixes, and the address plan: the one description of the guest's network
// that services, DNS and flows read. It is data, not arithmetic: whoever sets
// the network up fills it in once, and nothing downstream derives an address
// of its own from a prefix.
//
// NAT mode (slirp4netns-compatible) fills it from --cidr N (default
// 10.0.2.0/24) and the IPv6 prefix P (default fd00::/64), see nat():
//
//   N+2   gateway: the host as the guest sees it; every address of the
//         guest's link but the DNS address maps to the host's loopback
//   N+3   DNS forwarder
//   N+15  first DHCP lease
//   N+100 the guest's recommended address (what -c configures)
//   P::2  IPv6 gateway, P::3 IPv6 DNS, P::15 first DHCPv6 lease,
//   P::64 (host 100, as N+100) the guest's IPv6 address until its own is known
//
// Passthrough mode (pasta's plan) fills the same fields from the host's
// addresses, routes and resolv.conf.
//
// The gateway's MAC follows libslirp's convention, 52:55 followed by the
// gateway's IPv4 address (52:55:0a:00:02:02 for 10.0.2.2), so a guest that
// moves from slirp4netns to tapir keeps a stable neighbour entry.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  // IPv4: the guest's link and the addresses tapir answers for on it.
  Ipv4Prefix net4{Ipv4Addr::from_octets(10, 0, 2, 0), 24};
  Ipv4Addr gateway4 = Ipv4Addr::from_octets(10, 0, 2, 2);
  Ipv4Addr dns4 = Ipv4Addr::from_octets(10, 0, 2, 3);
  Ipv4Addr dhcp_start4 = Ipv4Addr::from_octets(10, 0, 2, 15);  // leases count up from here
  Ipv4Addr guest4 = Ipv4Addr::from_octets(10, 0, 2, 100);      // what -c configures

  // IPv6 (used only when `ipv6`).
  bool ipv6 = false;
  Ipv6Prefix net6{Ipv6Addr{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, 64};
  Ipv6Addr gateway6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};
  Ipv6Addr dns6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}};
  Ipv6Addr dhcp_start6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15}};
  // Where a published port reaches the guest over IPv6 before its own
  // address (SLAAC from its MAC) is known.
  Ipv6Addr guest6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64}};

  // Destinations that reach the host's own loopback (127.0.0.1, ::1)
  // rather than themselves (unless --disable-host-loopback); nullopt: none.
  // NAT: the whole link. The gateway's IPv6 link-local address maps with
  // loopback6 (a guest may use it as its router's address).
  std::optional<Ipv4Prefix> loopback4 = net4;
  std::optional<Ipv6Prefix> loopback6 = net6;

  MacAddr gateway_mac{{0x52, 0x55, 10, 0, 2, 2}};
  uint32_t mtu = 1500;
  // DNS search list for the guest, most preferred first (--search); the
  // first entry is also the DHCPv4 domain name.
  std::vector<std::string> search;

  // The NAT plan for `net4` (a network address) and `net6`.
  static AddressPlan nat(Ipv4Prefix net4, Ipv6Prefix net6, bool ipv6);
  // The gateway's IPv6 link-local address, derived from gateway_mac
  // (modified EUI-64, RFC 4291 2.5.1): the source of router advertisements.
  Ipv6Addr gateway_link_local6() const;
  // Whether a guest packet to `dst` is for the host's loopback (above).
  bool maps_to_host_loopback(Ipv4Addr dst) const { return loopback4 && loopback4->contains(dst); }
  bool maps_to_host_loopback(const Ipv6Addr& dst) const {
    return loopback6 && (loopback6->contains(dst) || dst == gateway_link_local6());
  }
  bool operator==(const AddressPlan&) const = default;
};

// `a` with `n` added to its last 32 bits (the DHCPv6 pool: start + slot);
// nullopt when that carries out of them.
std::optional<Ipv6Addr> offset_low32(const Ipv6Addr& a, uint32_t n);

}  // namespace tapir::wire
