#pragma once
// Neighbor Discovery for the guest (RFC 4861), router advertisements with
// DNS options (RFC 8106), and what SLAAC needs (RFC 4862).
//
// Theory of operation. tapir is the guest's only router and only neighbour.
//
// Router Solicitation -> Router Advertisement from the gateway's link-local
// address (RFC 4861 4.2 requires a link-local source; it is derived from the
// gateway MAC, AddressPlan::gateway_link_local6()): hop limit 64, M and O
// set exactly when DHCPv6 is on (addresses and other configuration are then
// on offer there, RFC 4861 4.2), router lifetime 1800 s (3 x
// MaxRtrAdvInterval, 6.2.1), then the options: source link-layer address,
// MTU, prefix information for the plan's prefix (L set; A set when the
// prefix is a /64, the only length SLAAC forms addresses for on Ethernet,
// RFC 4862 5.5.3 / RFC 2464 4), RDNSS naming the DNS address and DNSSL with
// the search list (RFC 8106; lifetime 3 x MaxRtrAdvInterval, 5.1). An
// option that does not fit `out` is left out. A solicitation from a real
// address is answered unicast to it (6.2.6 allows it, and it spares the
// MAX_RA_DELAY_TIME random delay a multicast answer needs); one from :: is
// answered to all-nodes. Unsolicited RAs go to all-nodes; the engine sends
// them at start and then at unsolicited_ra_delay() intervals (6.2.4).
// --no-ndp turns off RAs only: neighbour discovery itself is needed by any
// IPv6 guest, as ARP is.
//
// Neighbor Solicitation -> Neighbor Advertisement (7.2.4) for the gateway,
// the DNS address, the gateway's link-local address and every other
// address of the prefix except the guest's own (learned from its NDP
// traffic, and DHCPv6-bound addresses): Router, Solicited and Override set,
// the gateway MAC as target link-layer address, sent to the solicitation's
// source. Duplicate Address Detection probes (source ::, RFC 4862 5.4.2)
// are answered only for tapir's own addresses (to all-nodes, S clear, as
// 7.2.4 says), which really are in use; a probe for any other address is
// the guest claiming it, so it is learned and never answered.
//
// Validation (6.1.1, 7.1.1, 7.1.2): hop limit 255 (the message was not
// forwarded), code 0, a good checksum, the fixed part present, no option of
// length 0, a non-multicast target, and for a source of :: a solicited-node
// destination and no source link-layer option. A message that fails
// silently gets no answer (0), except malformed lengths and options, which
// are ParseErrors so the engine counts them.

#include "wire/ethernet.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv6.hpp"
#include "services/guest_state.hpp"
#include "services/service_config.hpp"

namespace tapir::services {

// RFC 4861 6.2.1 defaults and 10 constants.
inline constexpr Duration kMaxRtrAdvInterval = Duration::seconds(600);
inline constexpr Duration kMinRtrAdvInterval = Duration::seconds(198);  // 0.33 x max
inline constexpr uint32_t kMaxInitialRtrAdvertisements = 3;
inline constexpr Duration kMaxInitialRtrAdvertInterval = Duration::seconds(16);
inline constexpr uint16_t kRouterLifetime = 1800;       // seconds, 3 x MaxRtrAdvInterval
inline constexpr uint32_t kPrefixValidLifetime = 2592000;     // 30 days (AdvValidLifetime)
inline constexpr uint32_t kPrefixPreferredLifetime = 604800;  // 7 days
inline constexpr uint32_t kDnsOptionLifetime = 1800;    // RFC 8106 5.1: >= 3 x MaxRtrAdvInterval
inline constexpr uint8_t kNdpHopLimit = 255;
inline constexpr uint8_t kRaCurHopLimit = 64;

// Sizes of the fixed parts (ICMPv6 header included).
inline constexpr size_t kRsLen = 8;
inline constexpr size_t kRaLen = 16;
inline constexpr size_t kNsLen = 24;
inline constexpr size_t kNaLen = 24;

// NA flags (RFC 4861 4.4), in the first byte after the checksum.
inline constexpr uint8_t kNaRouter = 0x80;
inline constexpr uint8_t kNaSolicited = 0x40;
inline constexpr uint8_t kNaOverride = 0x20;
// RA flags (RFC 4861 4.2).
inline constexpr uint8_t kRaManaged = 0x80;
inline constexpr uint8_t kRaOther = 0x40;

// Handles an ICMPv6 message the guest sent (icmp parsed from
// ip.upper_payload()): RS and NS are answered, NA and DAD probes are
// learned from, everything else returns 0 (echo is icmp_echo.hpp's).
ServiceResult ndp_reply(const wire::EthernetView& eth, const wire::Ipv6View& ip,
                        const wire::Icmp6View& icmp, const ServiceConfig& cfg, GuestState& state,
                        MonoTime now, wire::MutBytes out);

// A Router Advertisement to `dst` / `dst_mac`; returns the frame length, or
// 0 when IPv6 or RAs are off or `out` cannot hold the fixed part.
size_t build_router_advertisement(const ServiceConfig& cfg, const wire::Ipv6Addr& dst,
                                  const wire::MacAddr& dst_mac, wire::MutBytes out);
// The unsolicited one, to all-nodes (ff02::1, 33:33:00:00:00:01).
size_t build_unsolicited_ra(const ServiceConfig& cfg, wire::MutBytes out);

// How long after sending unsolicited RA number `sent` (1, 2, ...) to send
// the next one; 0 for sent == 0 (send the first at once). `random` is any
// uniformly random 32-bit value (the engine's, so this stays pure): the
// delay is uniform in [MinRtrAdvInterval, MaxRtrAdvInterval] (6.2.4), capped
// at MAX_INITIAL_RTR_ADVERT_INTERVAL for the first
// MAX_INITIAL_RTR_ADVERTISEMENTS.
Duration unsolicited_ra_delay(uint32_t sent, uint32_t random);

// Whether tapir answers a Neighbor Solicitation for `target` from the guest.
bool ndp_answers_for(const wire::Ipv6Addr& target, const ServiceConfig& cfg,
                     const GuestState& state, MonoTime now);

}  // namespace tapir::services
