#pragma once
// ICMP and ICMPv6 error messages from tapir to the guest ("network
// unreachable", "administratively prohibited"), sent as if by the gateway.
//
// The body quotes the offending packet so the guest's stack can match the
// error to its socket: the IP header and the first 8 bytes of the payload
// for ICMPv4 (RFC 792; RFC 1812 4.3.2.3 allows more, we stay small), and
// as much as fits in the minimum MTU of 1280 for ICMPv6 (RFC 4443 2.4(c)).

#include <cstddef>
#include <cstdint>

#include "wire/addr.hpp"
#include "wire/address_plan.hpp"
#include "wire/bytes.hpp"
#include "wire/guest_packet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace tapir::flows {

// Writes the whole frame into `out` (>= 1514 bytes); returns its length.
// `info` is the rest of the ICMP header: the next-hop MTU of a
// "fragmentation needed" (RFC 1191) or an ICMPv6 "packet too big".
size_t build_icmp4_error(wire::MutBytes out, const wire::AddressPlan& plan,
                         const wire::MacAddr& guest_mac, const wire::Ipv4View& offending,
                         uint8_t type, uint8_t code, uint32_t info = 0);
size_t build_icmp6_error(wire::MutBytes out, const wire::AddressPlan& plan,
                         const wire::MacAddr& guest_mac, const wire::Ipv6View& offending,
                         uint8_t type, uint8_t code, uint32_t info = 0);

// Why tapir refuses a guest packet itself, as the ICMP error of the
// packet's family says it: "network unreachable" (ICMPv6 "no route"), or
// "administratively prohibited", to the guest MAC that sent `offending`.
enum class Refusal : uint8_t { kUnreachable, kProhibited };
size_t build_refusal(wire::MutBytes out, const wire::AddressPlan& plan,
                     const wire::GuestPacket& offending, Refusal why);

// The same, for a packet tapir did not keep (a flow's connection attempt or
// datagram): the offending IP header is rebuilt from the flow's addresses
// (`guest` -> `dst`, of the family of `guest`), followed by `l4_head`, the
// start of its transport header as the guest's stack will match it.
// Returns 0 if it cannot be built.
size_t build_icmp_error_for_flow(wire::MutBytes out, const wire::AddressPlan& plan,
                                 const wire::MacAddr& guest_mac, const wire::IpAddr& guest,
                                 const wire::IpAddr& dst, uint8_t protocol,
                                 wire::ConstBytes l4_head, uint8_t type, uint8_t code,
                                 uint32_t info = 0);

}  // namespace tapir::flows
