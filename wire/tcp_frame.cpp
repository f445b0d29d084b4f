#include "wire/tcp_frame.hpp"

#include "base/check.hpp"
#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {

size_t TcpFrameRepr::emit(MutBytes out, ChecksumCaps caps, VirtioNetHdrRepr& vnet) const {
  TAPIR_CHECK(src.v6 == dst.v6);
  if (!tcp.fits()) return 0;
  const bool v6 = src.v6;
  const size_t l4 = l4_offset(v6);
  const size_t tcp_len = tcp.buffer_len();
  const size_t l4_len = tcp_len + payload_len;
  TAPIR_CHECK(out.size() >= l4 + l4_len);
  EthernetRepr{dst_mac, src_mac, v6 ? ethertype::kIpv6 : ethertype::kIpv4}.emit(out);
  MutBytes ip_out = out.subspan(kEthernetHeaderLen);
  if (v6) {
    Ipv6Repr{.src = src.as_v6(), .dst = dst.as_v6(), .next_header = ipproto::kTcp,
             .payload_len = l4_len}
        .emit(ip_out);
  } else {
    Ipv4Repr{.src = src.as_v4(), .dst = dst.as_v4(), .protocol = ipproto::kTcp,
             .payload_len = l4_len}
        .emit(ip_out);
  }
  MutBytes segment = out.subspan(l4, l4_len);
  const bool wrote = tcp.emit(segment);
  TAPIR_CHECK(wrote);  // fits() was checked above
  vnet = VirtioNetHdrRepr::none();
  if (!caps.l4_partial()) {
    if (v6) {
      fill_tcp_checksum(segment, src.as_v6(), dst.as_v6());
    } else {
      fill_tcp_checksum(segment, src.as_v4(), dst.as_v4());
    }
    return l4 + l4_len;
  }
  // NEEDS_CSUM: the field holds the pseudo-header sum, not inverted (the
  // guest's kernel adds the segment to it and inverts).
  Checksum c;
  if (v6) {
    c.add_ipv6_pseudo(src.as_v6(), dst.as_v6(), ipproto::kTcp, static_cast<uint32_t>(l4_len));
  } else {
    c.add_ipv4_pseudo(src.as_v4(), dst.as_v4(), ipproto::kTcp, static_cast<uint16_t>(l4_len));
  }
  store_be16(segment, TcpView::kChecksumOffset, c.sum());
  if (gso_size != 0 && payload_len > gso_size) {
    vnet = VirtioNetHdrRepr::tcp_gso(v6 ? vnet_gso::kTcpv6 : vnet_gso::kTcpv4,
                                     static_cast<uint16_t>(l4 + tcp_len), gso_size,
                                     static_cast<uint16_t>(l4));
  } else {
    vnet = VirtioNetHdrRepr::partial_checksum(static_cast<uint16_t>(l4), TcpView::kChecksumOffset);
  }
  return l4 + l4_len;
}

}  // namespace tapir::wire
