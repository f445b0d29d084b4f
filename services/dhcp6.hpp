#pragma once
// DHCPv6 server (RFC 8415) for the guest behind the tap.
//
// Theory of operation. tapir's server DUID is a DUID-LL (RFC 8415 11.4)
// made from the gateway MAC, so it is the same on every run with the same
// plan and a client's saved state stays valid. Addresses are stateful
// leases from the plan's prefix, one per client DUID, from a fixed table
// (GuestState::leases6): slot i is P::(0x15 + i) (fd00::15, fd00::16, ...,
// the same "15" as the IPv4 pool), stable for as long as the DUID keeps its
// slot. Only the first IA_NA of a message is given an address; IA_TA and
// IA_PD are not served (the guest is a host, not a router).
//
//   SOLICIT      -> ADVERTISE (Preference 255: take it at once, 18.2.1),
//                   or REPLY with Rapid Commit when the client asks (18.3.1).
//   REQUEST      -> REPLY with the client's address; an IA naming an address
//                   outside the prefix gets NotOnLink (the client goes back
//                   to SOLICIT).
//   RENEW/REBIND -> REPLY with the client's address and fresh lifetimes;
//                   any other address the client lists comes back with
//                   lifetimes 0 so it stops using it (18.3.4, 18.3.5).
//   CONFIRM      -> REPLY Success when every address is in the prefix, else
//                   NotOnLink (18.3.3); no addresses: no reply.
//   INFORMATION-REQUEST -> REPLY with configuration only (18.3.6).
//   RELEASE, DECLINE    -> REPLY Success (18.3.7, 18.3.8); the lease is
//                   released (the slot stays the client's) or the address
//                   marked unusable for a lease time.
// Validation (16): a Client Identifier is required everywhere but
// INFORMATION-REQUEST; SOLICIT, CONFIRM and REBIND must not carry a Server
// Identifier; REQUEST, RENEW, RELEASE and DECLINE must carry ours. Messages
// that fail are dropped without a reply.
//
// Every reply carries the client's and tapir's identifiers, DNS servers
// (23, the plan's dns6) and the domain list (24, uncompressed, RFC 8415
// 10) when there is a search list. T1/T2 and lifetimes follow the lease
// time of ServiceConfig. Replies go from the gateway's link-local address,
// port 547, to the client's source address and MAC, port 546 (18.3.10).

#include <optional>

#include "services/dhcp6_options.hpp"
#include "services/guest_state.hpp"
#include "services/service_config.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace tapir::services {

// DUID-LL: type 3, hardware type 1 (Ethernet), the MAC.
inline constexpr size_t kServerDuidLen = 10;
// How long an advertised address is held for the client's REQUEST.
inline constexpr Duration kAdvertiseHold = Duration::seconds(60);

// Handles a UDP datagram the guest sent (udp parsed from ip.upper_payload()).
// Returns 0 for datagrams not to port 547, when DHCPv6 or IPv6 is off, for
// messages dropped by validation and for a bad UDP checksum; parse errors
// of the DHCPv6 message are returned (kTruncated, kUnsupported, kBadOption).
ServiceResult dhcp6_reply(const wire::EthernetView& eth, const wire::Ipv6View& ip,
                          const wire::UdpView& udp, const ServiceConfig& cfg, GuestState& state,
                          MonoTime now, wire::MutBytes out);

// tapir's server DUID for this plan.
std::array<uint8_t, kServerDuidLen> dhcp6_server_duid(const wire::AddressPlan& plan);
// The address of lease slot `slot`, or nullopt when the plan leaves none.
std::optional<wire::Ipv6Addr> dhcp6_slot_address(const wire::AddressPlan& plan, size_t slot);
// Whether `a` is bound (replied to, not expired) to some client.
bool dhcp6_address_bound(const wire::Ipv6Addr& a, const ServiceConfig& cfg, const GuestState& state,
                         MonoTime now);

}  // namespace tapir::services
