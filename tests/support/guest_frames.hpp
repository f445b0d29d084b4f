#pragma once
// Guest frames for the datagram flows' tests and fuzz targets: UDP
// datagrams and ICMP echo requests, IPv4 or IPv6, from the guest's usual
// address (10.0.2.100, fd00::100) with valid checksums.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "wire/addr.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"

namespace tapir::testing {

inline const wire::MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
inline const wire::MacAddr kGatewayMac{{0x52, 0x55, 10, 0, 2, 2}};
inline const wire::Ipv4Addr kGuest4 = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
inline const wire::Ipv6Addr kGuest6{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64}};
inline const wire::IpAddr kGuestIp4 = wire::IpAddr::from(kGuest4);
inline const wire::IpAddr kGuestIp6 = wire::IpAddr::from(kGuest6);
// Hosts beyond the gateway (RFC 5737 and RFC 3849 documentation addresses).
inline const wire::IpAddr kFar4 = wire::IpAddr::from(wire::Ipv4Addr::from_octets(192, 0, 2, 1));
inline const wire::IpAddr kFar6 = *wire::IpAddr::parse("2001:db8::1");

// Bytes as a string, to compare payloads.
inline std::string text(wire::ConstBytes b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Ethernet and IP headers in front of `l4` (already in place at its
// offset); returns the frame.
inline std::vector<std::byte> wrap(const wire::IpAddr& src, const wire::IpAddr& dst, uint8_t proto,
                                   std::vector<std::byte> frame) {
  wire::MutBytes b(frame);
  const bool v6 = src.v6;
  wire::EthernetRepr{kGatewayMac, kGuestMac, v6 ? wire::ethertype::kIpv6 : wire::ethertype::kIpv4}
      .emit(b);
  const size_t l4 = v6 ? 54 : 34;
  const size_t len = frame.size() - l4;
  if (v6) {
    wire::Ipv6Repr{src.as_v6(), dst.as_v6(), proto, 64, 0, 0, len}.emit(b.subspan(14));
  } else {
    wire::Ipv4Repr ip;
    ip.src = src.as_v4();
    ip.dst = dst.as_v4();
    ip.protocol = proto;
    ip.payload_len = len;
    ip.emit(b.subspan(14));
  }
  return frame;
}

inline std::vector<std::byte> udp_frame(const wire::IpAddr& src, const wire::IpAddr& dst,
                                        uint16_t sport, uint16_t dport, std::string_view payload) {
  const size_t l4 = src.v6 ? 54 : 34;
  std::vector<std::byte> f(l4 + 8 + payload.size());
  wire::MutBytes b(f);
  wire::UdpRepr{sport, dport, payload.size()}.emit(b.subspan(l4));
  if (!payload.empty()) std::memcpy(f.data() + l4 + 8, payload.data(), payload.size());
  f = wrap(src, dst, wire::ipproto::kUdp, std::move(f));
  wire::MutBytes u = wire::MutBytes(f).subspan(l4);
  if (src.v6) {
    wire::fill_udp_checksum(u, src.as_v6(), dst.as_v6());
  } else {
    wire::fill_udp_checksum(u, src.as_v4(), dst.as_v4());
  }
  return f;
}

// A UDP datagram over IPv6 (`src`, `dst` IPv6) behind a Hop-by-Hop
// Options header of 8 bytes, padding only (RFC 8200 4.3).
inline std::vector<std::byte> udp6_hop_by_hop_frame(const wire::IpAddr& src,
                                                    const wire::IpAddr& dst, uint16_t sport,
                                                    uint16_t dport, std::string_view payload) {
  constexpr size_t kHbh = 54;
  constexpr size_t kL4 = kHbh + 8;
  std::vector<std::byte> f(kL4 + 8 + payload.size());
  wire::MutBytes b(f);
  b[kHbh] = std::byte{wire::ipproto::kUdp};  // next header; length 0: 8 bytes
  b[kHbh + 2] = std::byte{1};                // PadN, 4 bytes of zeros
  b[kHbh + 3] = std::byte{4};
  wire::UdpRepr{sport, dport, payload.size()}.emit(b.subspan(kL4));
  if (!payload.empty()) std::memcpy(f.data() + kL4 + 8, payload.data(), payload.size());
  f = wrap(src, dst, wire::ipproto::kHopByHop, std::move(f));
  wire::fill_udp_checksum(wire::MutBytes(f).subspan(kL4), src.as_v6(), dst.as_v6());
  return f;
}

inline std::vector<std::byte> echo_frame(const wire::IpAddr& src, const wire::IpAddr& dst,
                                         uint16_t id, uint16_t seq, std::string_view data) {
  const size_t l4 = src.v6 ? 54 : 34;
  std::vector<std::byte> f(l4 + 8 + data.size());
  wire::MutBytes b(f);
  if (src.v6) {
    wire::Icmp6EchoRepr{wire::icmp6_type::kEchoRequest, id, seq}.emit(b.subspan(l4));
  } else {
    wire::Icmp4EchoRepr{wire::icmp4_type::kEchoRequest, id, seq}.emit(b.subspan(l4));
  }
  if (!data.empty()) std::memcpy(f.data() + l4 + 8, data.data(), data.size());
  f = wrap(src, dst, src.v6 ? wire::ipproto::kIcmpv6 : wire::ipproto::kIcmp, std::move(f));
  wire::MutBytes m = wire::MutBytes(f).subspan(l4);
  if (src.v6) {
    wire::icmp6_fill_checksum(m, src.as_v6(), dst.as_v6());
  } else {
    wire::icmp4_fill_checksum(m);
  }
  return f;
}

}  // namespace tapir::testing
