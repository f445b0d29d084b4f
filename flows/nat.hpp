#pragma once
// NAT address mapping (DESIGN.md "Address plans", NAT mode): where a guest
// packet to a given destination goes on the host, and back. In this order:
//
//   the DNS address        -> not a flow: the DNS forwarder's
//   a martian destination  -> refused, whatever the flags (below)
//   the gateway (N+2, fd00::2) and any other in-subnet address
//                          -> host loopback (127.0.0.1 / ::1), unless
//                             --disable-host-loopback, then "unreachable"
//   anything else          -> itself
//
// Martians: a guest flow (TCP, UDP, ping) is never connected to a
// loopback, unspecified, multicast, broadcast or reserved destination —
// the gateway mapping above is the only way to the host's loopback. A
// guest with a raw socket could otherwise address 127.0.0.1 or ::1
// directly and reach the host's loopback services past
// --disable-host-loopback (RFC 1122 3.2.1.3 and RFC 6890 list them as never
// valid destinations on a link; RFC 4291 2.5.2, 2.5.3, 2.7 for IPv6).
//   IPv4: 0/8, 127/8, 224/4 (multicast), 240/4 (reserved, with
//         255.255.255.255 counted as broadcast), the plan's subnet broadcast
//   IPv6: ::/96 (::, ::1 and the deprecated IPv4-compatible addresses,
//         RFC 4291 2.5.5.1), ::ffff:0:0/96, ff00::/8
// IPv4-mapped destinations are refused entirely, not only those of IPv4
// martians: on the wire they are never a valid IPv6 destination (RFC 4291
// 2.5.5.2), and on a host AF_INET6 socket they would reach IPv4 — an IPv6
// guest flow would escape every IPv4 rule (the subnet, the gateway mapping)
// and could address 127.0.0.1 as ::ffff:127.0.0.1.
//
// Replies keep the destination the guest used as their source, so the guest
// sees 10.0.2.2 answer, not 127.0.0.1.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/reason_counters.hpp"
#include "wire/address_plan.hpp"

namespace tapir::flows {

enum class MapResult {
  kHost,         // `out` is the host address to use
  kUnreachable,  // host loopback, prohibited by --disable-host-loopback
  kLocal,        // for tapir itself (the DNS address): not a flow
  kMartian,      // never a flow: `why` says which kind
};

// Why a destination is refused (see above).
enum class Martian : uint8_t {
  kLoopback,     // 127/8, ::1
  kUnspecified,  // 0/8, ::
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255, the subnet broadcast
  kReserved,     // 240/4
  kV4Mapped,     // ::ffff:0:0/96, ::/96 (IPv4-compatible)
};
inline constexpr size_t kMartianCount = 6;
// The name in the API's stats: "loopback", "v4_mapped", ...
const char* martian_name(Martian m);
// Whether the guest is told (TCP RST, ICMP unreachable). Not for multicast
// and broadcast: no ICMP error about such a datagram (RFC 1122 3.2.2,
// RFC 4443 2.4(e)), a SYN to one is silently discarded (RFC 1122
// 4.2.3.10), and a reply from such a source would be a martian itself.
constexpr bool martian_answered(Martian m) {
  return m != Martian::kMulticast && m != Martian::kBroadcast;
}

// Per-reason drop counters, one set per flow module.
using MartianCounters = ReasonCounters<Martian, kMartianCount>;

// The martian kind of a destination, if it is one.
std::optional<Martian> martian4(const wire::AddressPlan& plan, wire::Ipv4Addr dst);
std::optional<Martian> martian6(const wire::Ipv6Addr& dst);

struct NatConfig {
  wire::AddressPlan plan;
  bool disable_host_loopback = false;
};

// `port` in host order. `out` gets a sockaddr_in / sockaddr_in6 and
// `out_len` (kHost); `why` the reason (kMartian).
MapResult map_destination4(const NatConfig& cfg, wire::Ipv4Addr dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len, Martian& why);
MapResult map_destination6(const NatConfig& cfg, const wire::Ipv6Addr& dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len, Martian& why);
// Either of the two, by dst's family.
MapResult map_destination(const NatConfig& cfg, const wire::IpAddr& dst, uint16_t port,
                          sockaddr_storage& out, socklen_t& out_len, Martian& why);

}  // namespace tapir::flows
