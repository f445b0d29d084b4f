#pragma once
// A whole TCP frame for the guest: Ethernet, IPv4 or IPv6 (no options or
// extension headers), TCP header with options, and the payload, plus the
// vnet header it goes out with.
//
// Built from the per-layer reprs (EthernetRepr, Ipv4Repr / Ipv6Repr,
// TcpRepr); this adds only what spans the layers: the lengths, the checksum
// finished as the ChecksumCaps say, and the vnet metadata that matches it
// (none for a complete checksum; NEEDS_CSUM, or GSO for a payload larger
// than gso_size, for a partial one).
//
// The payload is written first, in place, at payload_offset() of the
// buffer (the TCP data path peeks host socket data straight there); emit()
// then writes the headers in front of it and sums it if it must.

#include <cstddef>
#include <cstdint>

#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum_caps.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"
#include "wire/virtio_net_hdr.hpp"

namespace tapir::wire {

struct TcpFrameRepr {
  MacAddr src_mac;
  MacAddr dst_mac;
  IpAddr src;  // src and dst are of one family
  IpAddr dst;
  TcpRepr tcp;
  size_t payload_len = 0;  // bytes already at payload_offset()
  uint16_t gso_size = 0;   // partial checksums: a larger payload is one GSO frame of these

  // Where the TCP header starts in the frame.
  static constexpr size_t l4_offset(bool v6) {
    return kEthernetHeaderLen + (v6 ? kIpv6HeaderLen : kIpv4MinHeaderLen);
  }
  size_t payload_offset() const { return l4_offset(src.v6) + tcp.buffer_len(); }
  // The largest TCP payload one IP packet (a GSO frame) can carry, without
  // options: IPv4's total length counts its header, IPv6's payload length
  // does not.
  static constexpr size_t max_payload(bool v6) {
    return v6 ? 0xffff - kTcpHeaderLen : 0xffff - kIpv4MinHeaderLen - kTcpHeaderLen;
  }
  // Bytes of frame emit() writes (headers and payload).
  size_t buffer_len() const { return payload_offset() + payload_len; }

  // Writes the headers into `out` (out.size() >= buffer_len(), the payload
  // in place), finishes the TCP checksum as `caps` say and sets `vnet` to
  // match. Returns buffer_len(), or 0 (nothing written) when the TCP
  // options do not fit.
  [[nodiscard]] size_t emit(MutBytes out, ChecksumCaps caps, VirtioNetHdrRepr& vnet) const;
};

}  // namespace tapir::wire
