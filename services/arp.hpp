#pragma once
// ARP responder (RFC 826, RFC 5227): tapir answers for the addresses the
// guest reaches through it.
//
// Theory of operation. Behind the tap there is one guest and tapir; every
// in-subnet address other than the guest's own is, from the guest's point of
// view, somewhere tapir leads to (the gateway maps to the host, the DNS
// address to the forwarder, the rest of the subnet to host loopback in NAT
// mode, DESIGN.md "Address plans"). So tapir answers a request for any
// address of the subnet except:
//   * the network and broadcast addresses;
//   * the guest's own: the address it sends from (learned here and from
//     DHCP), and addresses bound to a DHCP client (another MAC in the guest,
//     say a bridge, answers for itself);
//   * a probe (RFC 5227 2.1.1: sender IP 0.0.0.0) for any address but the
//     gateway and DNS addresses: the guest is checking that an address it
//     wants is unused (udhcpc and NetworkManager probe the address DHCP
//     offered), and answering would make it decline the address. The
//     gateway and DNS addresses really are in use, so a probe for them is
//     answered, as RFC 5227 wants, and the guest learns not to take them;
//   * gratuitous ARP (RFC 5227 3, "announcement": sender IP == target IP, in
//     request or reply form): the guest announcing itself, learned, never
//     answered.
// Replies are RFC 826's: the sender fields become the target fields and the
// sender becomes tapir's gateway MAC with the requested address, unicast to
// the requester's MAC (the Ethernet source of the request).
//
// What is learned: the guest's MAC from every ARP message it sends, and its
// IPv4 address from every one with a non-zero in-subnet sender address.

#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "services/guest_state.hpp"
#include "services/service_config.hpp"

namespace tapir::services {

// The 42-byte reply (no padding: a tap does not need the 60-byte minimum).
inline constexpr size_t kArpReplyLen = wire::kEthernetHeaderLen + wire::kArpLen;

// Handles one ARP message the guest sent (`arp` parsed from eth.payload()).
// Writes the reply at the start of `out` and returns its length, or 0 when
// there is nothing to answer. Learns the guest's MAC and address into
// `state`. `now` decides which DHCP leases are still bound.
ServiceResult arp_reply(const wire::EthernetView& eth, const wire::ArpView& arp,
                        const ServiceConfig& cfg, GuestState& state, MonoTime now,
                        wire::MutBytes out);

// Whether tapir answers ARP for `target` (a request with a real sender).
bool arp_answers_for(wire::Ipv4Addr target, const ServiceConfig& cfg, const GuestState& state,
                     MonoTime now);

}  // namespace tapir::services
