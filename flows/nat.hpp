#pragma once
// NAT address mapping (DESIGN.md "Address plans", NAT mode): where a guest
// packet to a given destination goes on the host, and back.
//
//   the gateway (N+2, fd00::2) and any other in-subnet address except the
//   DNS address            -> host loopback (127.0.0.1 / ::1), unless
//                             --disable-host-loopback, then "unreachable"
//   the DNS address        -> not a flow: the DNS forwarder's
//   anything else          -> itself
//
// Replies keep the destination the guest used as their source, so the guest
// sees 10.0.2.2 answer, not 127.0.0.1.

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>

#include "wire/address_plan.hpp"

namespace tapir::flows {

enum class MapResult {
  kHost,         // `out` is the host address to use
  kUnreachable,  // host loopback, prohibited by --disable-host-loopback
  kLocal,        // for tapir itself (the DNS address): not a flow
};

struct NatConfig {
  wire::AddressPlan plan;
  bool disable_host_loopback = false;
};

// `port` in host order. `out` gets a sockaddr_in / sockaddr_in6 and `out_len`.
MapResult map_destination4(const NatConfig& cfg, wire::Ipv4Addr dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len);
MapResult map_destination6(const NatConfig& cfg, const wire::Ipv6Addr& dst, uint16_t port,
                           sockaddr_storage& out, socklen_t& out_len);

}  // namespace tapir::flows
