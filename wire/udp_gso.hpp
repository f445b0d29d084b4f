#pragma once
// UDP segmentation offload from the guest (UDP_SEGMENT, a vnet header with
// GSO_UDP_L4): one frame holds several datagrams of gso_size bytes (the last
// may be shorter) behind one set of headers. split_udp_gso() turns it back
// into the frames the guest would have sent without the offload, one at a
// time in `scratch`: headers copied, the IP and UDP lengths set, the UDP
// checksum left 0 (the datagram came from the guest's own kernel, which
// left it for the device to fill in). Both the UDP flows and the DNS
// service take such frames; this is the one place that knows how.

#include <algorithm>
#include <cstring>
#include <optional>

#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/parse_error.hpp"
#include "wire/udp.hpp"

namespace tapir::wire {

// `frame`: the whole super-frame, its UDP header at `l4` (for IPv6, only a
// plain header: no extension headers before UDP); `payload`: everything
// after that header. `each(eth, ip, udp)` is called per datagram with the
// views of the rebuilt frame (ip an Ipv4View or an Ipv6View). Returns the
// parse error of a datagram that does not parse (nothing after it is
// delivered), nullopt when every datagram went out. `scratch` holds one
// frame (at least l4 + 8 + gso_size bytes).
template <class Each>
std::optional<ParseError> split_udp_gso(ConstBytes frame, size_t l4, ConstBytes payload,
                                        uint16_t gso_size, MutBytes scratch, Each&& each) {
  if (gso_size == 0 || frame.size() < l4 + 4) return ParseError::kTruncated;
  const bool v6 = load_be16(frame, 12) == ethertype::kIpv6;
  for (size_t off = 0; off < payload.size(); off += gso_size) {
    const size_t n = std::min<size_t>(gso_size, payload.size() - off);
    if (l4 + kUdpHeaderLen + n > scratch.size()) return ParseError::kTruncated;
    MutBytes b = scratch.first(l4 + kUdpHeaderLen + n);
    std::memcpy(b.data(), frame.data(), l4 + 4);  // headers and the ports
    store_be16(b, l4 + 4, static_cast<uint16_t>(kUdpHeaderLen + n));
    store_be16(b, l4 + 6, 0);
    std::memcpy(b.data() + l4 + kUdpHeaderLen, payload.data() + off, n);
    if (v6) {
      store_be16(b, kEthernetHeaderLen + 4, static_cast<uint16_t>(kUdpHeaderLen + n));
      auto eth = EthernetView::parse(b);
      if (!eth) return eth.error();
      auto ip = Ipv6View::parse(eth->payload());
      if (!ip) return ip.error();
      auto udp = UdpView::parse(ip->upper_payload());
      if (!udp) return udp.error();
      each(*eth, *ip, *udp);
    } else {
      store_be16(b, kEthernetHeaderLen + 2,
                 static_cast<uint16_t>(l4 - kEthernetHeaderLen + kUdpHeaderLen + n));
      auto eth = EthernetView::parse(b);
      if (!eth) return eth.error();
      auto ip = Ipv4View::parse(eth->payload());
      if (!ip) return ip.error();
      auto udp = UdpView::parse(ip->payload());
      if (!udp) return udp.error();
      each(*eth, *ip, *udp);
    }
  }
  return std::nullopt;
}

}  // namespace tapir::wire
