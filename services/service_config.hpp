#pragma once
// What the built-in services hand out, and the result type they share.
//
// ServiceConfig is read-only to the responders: the address plan every
// module agrees on (wire/address_plan.hpp, with the DNS search list), the
// guest's hostname, the DHCP lease time and which services are on. The
// engine builds it once from the command line (--search, --hostname,
// --no-dhcp, --no-ndp, --no-dhcpv6, --enable-ipv6) and passes it to every
// call.
//
// Lease time: 24 hours, as libslirp (LEASE_TIME in bootp.c), so a guest
// moving from slirp4netns sees the same renewal rhythm. Nothing is lost by a
// long lease here: the address a MAC gets is stable for tapir's lifetime
// (GuestState), and a guest that outlives tapir outlives its network too.
// T1/T2 are the RFC 2131 4.4.5 defaults, 0.5 and 0.875 of it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "wire/address_plan.hpp"
#include "wire/parse_error.hpp"

namespace tapir::services {

inline constexpr uint32_t kDefaultLeaseTime = 24 * 3600;  // seconds; libslirp's LEASE_TIME

struct ServiceConfig {
  wire::AddressPlan plan;
  std::string hostname;                     // --hostname; empty: option 12 is not sent
  uint32_t lease_time = kDefaultLeaseTime;  // seconds, DHCPv4 and DHCPv6 alike
  bool dhcp = true;                         // DHCPv4 responder (--no-dhcp turns it off)
  bool ndp = true;     // router advertisements (--no-ndp); NS/NA is always answered
  bool dhcpv6 = true;  // DHCPv6 responder (--no-dhcpv6); also sets the RA's M/O flags

  uint32_t renewal_time() const { return lease_time / 2; }        // T1
  uint32_t rebinding_time() const { return lease_time / 8 * 7; }  // T2
};

// What a responder did with a frame: the length of the reply frame it wrote
// at the start of `out` (0: handled, nothing to send — not addressed to the
// service, or a message that wants no answer), or why the frame was
// malformed (the engine drops it and counts the reason in DropCounters).
// A reply never exceeds out.size(): when it would not fit, nothing is sent.
using ServiceResult = Expected<size_t, wire::ParseError>;

// Enough for any reply the services build at the default MTU: give every
// responder a buffer at least this large (a full Ethernet frame).
inline constexpr size_t kReplyBufferLen = 1514;

}  // namespace tapir::services
