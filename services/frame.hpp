#pragma once
// Building reply frames: Ethernet + IPv4/IPv6 + UDP/ICMPv6 headers around a
// payload the responder has already written in place.
//
// Theory of operation. A responder knows where its payload goes (the
// offsets below), writes it straight into the caller's buffer, then calls
// one finish_* function with the addresses: it emits the headers in front
// and fills the checksums, so the payload is written once and never copied.
// Everything is bounds-checked through wire's stores; the sizes are
// tapir's own, so a mismatch is a broken invariant (TAPIR_CHECK), and each
// responder checks that its reply fits `out` before it writes.

#include <cstddef>
#include <cstdint>

#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"

namespace tapir::services {

inline constexpr size_t kIpv4Offset = wire::kEthernetHeaderLen;
inline constexpr size_t kIpv6Offset = wire::kEthernetHeaderLen;
inline constexpr size_t kUdp4PayloadOffset =
    wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen + wire::kUdpHeaderLen;  // 42
inline constexpr size_t kUdp6PayloadOffset =
    wire::kEthernetHeaderLen + wire::kIpv6HeaderLen + wire::kUdpHeaderLen;  // 62
inline constexpr size_t kL4v4Offset = wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen;  // 34
inline constexpr size_t kL4v6Offset = wire::kEthernetHeaderLen + wire::kIpv6HeaderLen;     // 54

struct L2Addrs {
  wire::MacAddr src;
  wire::MacAddr dst;
};

// UDP over IPv4: payload_len bytes already at kUdp4PayloadOffset. Returns
// the frame length. TTL 64, DF clear (DHCP replies may be broadcast).
size_t finish_udp4(wire::MutBytes out, L2Addrs l2, wire::Ipv4Addr src, wire::Ipv4Addr dst,
                   uint16_t src_port, uint16_t dst_port, size_t payload_len);

// UDP over IPv6: payload_len bytes already at kUdp6PayloadOffset.
size_t finish_udp6(wire::MutBytes out, L2Addrs l2, const wire::Ipv6Addr& src,
                   const wire::Ipv6Addr& dst, uint16_t src_port, uint16_t dst_port,
                   size_t payload_len, uint8_t hop_limit);

// An IPv4 datagram with protocol `protocol`: l4_len bytes already at
// kL4v4Offset (their checksum is the caller's). Returns the frame length.
size_t finish_ipv4(wire::MutBytes out, L2Addrs l2, wire::Ipv4Addr src, wire::Ipv4Addr dst,
                   uint8_t protocol, size_t l4_len);

// An ICMPv6 message of icmp_len bytes already at kL4v6Offset; fills its
// checksum. Returns the frame length.
size_t finish_icmp6(wire::MutBytes out, L2Addrs l2, const wire::Ipv6Addr& src,
                    const wire::Ipv6Addr& dst, uint8_t hop_limit, size_t icmp_len);

}  // namespace tapir::services
