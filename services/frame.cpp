#include "services/frame.hpp"

#include "wire/icmp6.hpp"
#include "wire/proto.hpp"

namespace tapir::services {

using namespace tapir::wire;

namespace {

void emit_ethernet(MutBytes out, L2Addrs l2, uint16_t type) {
  EthernetRepr{l2.dst, l2.src, type}.emit(out);
}

// The Ethernet and IPv6 headers in front of an `l4_len`-byte upper layer
// already in place; returns the frame's length.
size_t finish_ipv6(MutBytes out, L2Addrs l2, const Ipv6Addr& src, const Ipv6Addr& dst,
                   uint8_t next_header, uint8_t hop_limit, size_t l4_len) {
  const size_t total = kL4v6Offset + l4_len;
  TAPIR_CHECK(total <= out.size());
  emit_ethernet(out, l2, ethertype::kIpv6);
  Ipv6Repr{.src = src, .dst = dst, .next_header = next_header, .hop_limit = hop_limit,
           .payload_len = l4_len}
      .emit(out.subspan(kIpv6Offset));
  return total;
}

}  // namespace

size_t finish_ipv4(MutBytes out, L2Addrs l2, Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                   size_t l4_len) {
  const size_t total = kL4v4Offset + l4_len;
  TAPIR_CHECK(total <= out.size());
  emit_ethernet(out, l2, ethertype::kIpv4);
  Ipv4Repr{.src = src, .dst = dst, .protocol = protocol, .dont_fragment = false,
           .payload_len = l4_len}
      .emit(out.subspan(kIpv4Offset));
  return total;
}

size_t finish_udp4(MutBytes out, L2Addrs l2, Ipv4Addr src, Ipv4Addr dst, uint16_t src_port,
                   uint16_t dst_port, size_t payload_len) {
  const size_t udp_len = kUdpHeaderLen + payload_len;
  TAPIR_CHECK(kL4v4Offset + udp_len <= out.size());
  MutBytes udp = out.subspan(kL4v4Offset, udp_len);
  UdpRepr{src_port, dst_port, payload_len}.emit(udp);
  fill_udp_checksum(udp, src, dst);
  return finish_ipv4(out, l2, src, dst, ipproto::kUdp, udp_len);
}

size_t finish_udp6(MutBytes out, L2Addrs l2, const Ipv6Addr& src, const Ipv6Addr& dst,
                   uint16_t src_port, uint16_t dst_port, size_t payload_len, uint8_t hop_limit) {
  const size_t udp_len = kUdpHeaderLen + payload_len;
  const size_t total = kL4v6Offset + udp_len;
  TAPIR_CHECK(total <= out.size());
  MutBytes udp = out.subspan(kL4v6Offset, udp_len);
  UdpRepr{src_port, dst_port, payload_len}.emit(udp);
  fill_udp_checksum(udp, src, dst);
  return finish_ipv6(out, l2, src, dst, ipproto::kUdp, hop_limit, udp_len);
}

size_t finish_icmp6(MutBytes out, L2Addrs l2, const Ipv6Addr& src, const Ipv6Addr& dst,
                    uint8_t hop_limit, size_t icmp_len) {
  const size_t total = kL4v6Offset + icmp_len;
  TAPIR_CHECK(total <= out.size());
  icmp6_fill_checksum(out.subspan(kL4v6Offset, icmp_len), src, dst);
  return finish_ipv6(out, l2, src, dst, ipproto::kIcmpv6, hop_limit, icmp_len);
}

}  // namespace tapir::services
