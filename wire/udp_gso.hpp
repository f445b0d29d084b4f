#pragma once
// UDP segmentation offload from the guest (UDP_SEGMENT, a vnet header with
// GSO_UDP_L4): one frame holds several datagrams of gso_size bytes (the last
// may be shorter) behind one set of headers. split_udp_gso() turns it back
// into the frames the guest would have sent without the offload, one at a
// time in `scratch`: headers copied, the IP and UDP lengths set (and the
// IPv4 header checksum with them), the UDP checksum left 0 (the datagram
// came from the guest's own kernel, which left it for the device to fill
// in), each classified (wire/guest_packet.hpp) as a frame of its own.
// This is the one place that knows how; whoever takes UDP datagrams (the
// UDP flows, the DNS service) only ever sees single ones.

#include <algorithm>
#include <cstring>
#include <optional>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/guest_packet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/parse_error.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"

namespace tapir::wire {

// Whether split_udp_gso() can cut `p`: a UDP segmentation-offload frame
// whose UDP header follows the IP header (for IPv6, only a plain header:
// no extension headers before UDP).
inline bool udp_gso_splittable(const GuestPacket& p) {
  if (p.gso_size == 0 || p.transport != Transport::kUdp) return false;
  return !p.v6() || p.ip6->next_header() == ipproto::kUdp;
}

// `p` a frame udp_gso_splittable() accepts. `each(datagram)` is called per
// datagram with the classified rebuilt frame, which lives in `scratch` until
// the next call. Returns the parse error of a datagram that does not
// classify (nothing after it is delivered), nullopt when every datagram
// went out. `scratch` holds one frame (at least l4_offset + 8 + gso_size
// bytes).
template <class Each>
std::optional<ParseError> split_udp_gso(const GuestPacket& p, MutBytes scratch, Each&& each) {
  const ConstBytes frame = p.eth.bytes();
  const size_t l4 = p.l4_offset;
  const ConstBytes payload = p.udp->payload();
  const uint16_t gso_size = p.gso_size;
  if (gso_size == 0 || frame.size() < l4 + 4) return ParseError::kTruncated;
  for (size_t off = 0; off < payload.size(); off += gso_size) {
    const size_t n = std::min<size_t>(gso_size, payload.size() - off);
    if (l4 + kUdpHeaderLen + n > scratch.size()) return ParseError::kTruncated;
    MutBytes b = scratch.first(l4 + kUdpHeaderLen + n);
    std::memcpy(b.data(), frame.data(), l4 + 4);  // headers and the ports
    store_be16(b, l4 + 4, static_cast<uint16_t>(kUdpHeaderLen + n));
    store_be16(b, l4 + 6, 0);
    std::memcpy(b.data() + l4 + kUdpHeaderLen, payload.data() + off, n);
    if (p.v6()) {
      store_be16(b, kEthernetHeaderLen + Ipv6View::kPayloadLengthOffset,
                 static_cast<uint16_t>(kUdpHeaderLen + n));
    } else {
      MutBytes ip = b.subspan(kEthernetHeaderLen, l4 - kEthernetHeaderLen);
      store_be16(ip, Ipv4View::kTotalLengthOffset,
                 static_cast<uint16_t>(ip.size() + kUdpHeaderLen + n));
      store_be16(ip, Ipv4View::kChecksumOffset, 0);
      store_be16(ip, Ipv4View::kChecksumOffset, internet_checksum(ip));
    }
    auto d = classify(b, {.gso_size = 0, .ipv6 = true});
    if (!d) return d.error();
    each(*d);
  }
  return std::nullopt;
}

}  // namespace tapir::wire
