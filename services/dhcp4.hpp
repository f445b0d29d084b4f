#pragma once
// DHCPv4 server (RFC 2131, options RFC 2132) for the guest behind the tap.
//
// Theory of operation. tapir is the only DHCP server on the link, and
// its server identifier is the gateway address (N+2), as in libslirp.
// Leases come from a fixed table (GuestState::leases4): slot i is address
// dhcp_start4 + i (N+15 upward), skipping the gateway, DNS and
// recommended-guest addresses and anything outside the subnet; a client
// (keyed by its MAC, chaddr) keeps its slot, so it gets the same address on
// every DISCOVER for tapir's lifetime.
//
//   DISCOVER  -> OFFER of the client's slot (its Requested IP if that is
//                free), held for kOfferHold; with Rapid Commit (RFC 4039)
//                -> ACK, bound at once.
//   REQUEST   selecting (server id present): server id not ours, or the
//                requested address not the one offered -> NAK; else ACK.
//             init-reboot (requested IP, no server id, ciaddr 0) and
//             renewing/rebinding (ciaddr set): ACK when the address is the
//                client's or free in the pool (a restarted tapir forgot its
//                table; the client keeps its address), else NAK.
//   INFORM    -> ACK with configuration only (RFC 2131 4.3.5: no lease).
//   RELEASE   the lease is released (the slot stays the client's).
//   DECLINE   the address is marked unusable for a lease time.
// Foreign server id: RFC 2131 4.3.2 has the other servers stay silent, but
// a tap has exactly one server, so a REQUEST naming another one comes from
// a client with state from another network; a NAK sends it back to
// DISCOVER at once instead of after its retransmission timeouts.
//
// Options, in priority order: 53, 54, 51/58/59 (not for INFORM), 80 (rapid
// commit), then the options in the client's Parameter Request List in its
// order, then the configuration it did not ask for: 1, 3, 6, 15 (first
// search domain), 26 (MTU), 28, 119 (RFC 3397, compressed), 12 (hostname,
// when set), 121 (RFC 3442, only when the gateway is off-subnet: never in
// NAT mode, where the gateway is N+2; possible in passthrough mode with a
// host whose gateway lies outside its prefix — then 121 also carries the
// default route, because a client that gets 121 ignores 3). An option that
// does not fit is left out, never truncated. The message is limited by the
// client's Maximum Message Size (57, taken as the IP datagram size, as
// dnsmasq does, and at least 576), the MTU and `out`; it is padded to the
// 300-byte BOOTP minimum.
//
// Addressing (RFC 2131 4.1): giaddr set -> not answered (there is no relay
// on a tap); NAK -> broadcast; ciaddr set -> unicast to ciaddr; broadcast
// flag -> 255.255.255.255 and ff:ff:ff:ff:ff:ff; otherwise unicast to
// yiaddr and chaddr (the tap delivers it; clients read with packet
// sockets). The source is always gateway4:67, the gateway MAC.

#include <optional>

#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/udp.hpp"
#include "services/dhcp4_options.hpp"
#include "services/guest_state.hpp"
#include "services/service_config.hpp"

namespace tapir::services {

// How long an offered address is held for the client's REQUEST.
inline constexpr Duration kOfferHold = Duration::seconds(60);

// Handles a UDP datagram the guest sent (udp parsed from ip.payload()).
// Returns 0 for datagrams not to port 67, when DHCP is off, for messages
// that want no answer and for a bad UDP checksum; parse errors of the DHCP
// message itself are returned (kTruncated, kBadMagic, kUnsupported,
// kBadOption).
ServiceResult dhcp4_reply(const wire::EthernetView& eth, const wire::Ipv4View& ip,
                          const wire::UdpView& udp, const ServiceConfig& cfg, GuestState& state,
                          MonoTime now, wire::MutBytes out);

// The address of lease slot `slot`, or nullopt when the plan leaves none.
std::optional<wire::Ipv4Addr> dhcp4_slot_address(const wire::AddressPlan& plan, size_t slot);
// Whether `a` is bound (ACKed, not expired) to some client.
bool dhcp4_address_bound(wire::Ipv4Addr a, const ServiceConfig& cfg, const GuestState& state,
                         MonoTime now);

}  // namespace tapir::services
