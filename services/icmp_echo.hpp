#pragma once
// Echo replies for tapir's own addresses (RFC 792, RFC 4443 4.1-4.2).
//
// Theory of operation. A ping to the gateway or DNS address (IPv4: N+2,
// N+3; IPv6: P::2, P::3 and the gateway's link-local address) is answered
// here, not by the host: it works with --disable-host-loopback, without
// ping sockets, and tells the guest that tapir itself is alive, as
// slirp4netns does. The reply copies identifier, sequence and data, swaps
// the addresses and MACs, and carries TTL / hop limit 64.
//
// Only whole, well-formed requests are answered: a fragment, a non-zero
// code or a bad checksum gets no reply (RFC 1122 3.2.2.6 lets a host drop
// them; a reply built from corrupted data would only confuse). Echo
// requests to other addresses return 0: those are the engine's, which sends
// them through a ping socket.
//
// The caller has parsed the layers (Ethernet, IP, ICMP): icmp is parsed
// from ip.payload() / ip.upper_payload().

#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "services/service_config.hpp"

namespace tapir::services {

// Whether an echo request to `dst` is answered locally.
bool is_local_echo_target(wire::Ipv4Addr dst, const ServiceConfig& cfg);
bool is_local_echo_target(const wire::Ipv6Addr& dst, const ServiceConfig& cfg);

// Writes the echo reply at the start of `out` and returns its length, or
// 0: not an echo request to a local address, malformed (see above), or the
// reply does not fit `out`.
ServiceResult icmp4_echo_reply(const wire::EthernetView& eth, const wire::Ipv4View& ip,
                               const wire::Icmp4View& icmp, const ServiceConfig& cfg,
                               wire::MutBytes out);
ServiceResult icmp6_echo_reply(const wire::EthernetView& eth, const wire::Ipv6View& ip,
                               const wire::Icmp6View& icmp, const ServiceConfig& cfg,
                               wire::MutBytes out);

}  // namespace tapir::services
