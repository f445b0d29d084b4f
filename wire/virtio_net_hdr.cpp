#include "wire/virtio_net_hdr.hpp"

namespace tapir::wire {
namespace {

bool known_gso_protocol(uint8_t protocol) {
  switch (protocol) {
    case vnet_gso::kNone:
    case vnet_gso::kTcpv4:
    case vnet_gso::kUdp:
    case vnet_gso::kTcpv6:
    case vnet_gso::kUdpL4: return true;
    default: return false;
  }
}

void check_hdr_size(size_t hdr_size) {
  TAPIR_CHECK(hdr_size == kVirtioNetHdrLen || hdr_size == kVirtioNetHdrLegacyLen);
}

}  // namespace

Expected<VirtioNetHdrView, ParseError> VirtioNetHdrView::parse(ConstBytes bytes, size_t hdr_size) {
  check_hdr_size(hdr_size);
  if (bytes.size() < hdr_size) return unexpected(ParseError::kTruncated);
  const VirtioNetHdrView v(bytes.first(hdr_size));
  if (!known_gso_protocol(v.gso_protocol())) return unexpected(ParseError::kBadVnetHeader);
  // As Linux's virtio_net_hdr_to_skb(): any gso_type byte other than NONE
  // (so also a bare ECN bit) must name a protocol and a segment size.
  if (v.gso_type() != vnet_gso::kNone) {
    if (v.gso_protocol() == vnet_gso::kNone || v.gso_size() == 0) {
      return unexpected(ParseError::kBadVnetHeader);
    }
  }
  return v;
}

Expected<void, ParseError> VirtioNetHdrView::validate_against_frame(size_t frame_len) const {
  if (needs_csum()) {
    // size_t arithmetic: two 16-bit fields plus 2 cannot overflow it.
    const size_t csum_end = size_t{csum_start()} + csum_offset() + 2;
    if (csum_end > frame_len) return unexpected(ParseError::kBadVnetHeader);
  }
  return {};
}

void VirtioNetHdrRepr::emit(MutBytes out, size_t hdr_size) const {
  check_hdr_size(hdr_size);
  TAPIR_CHECK(out.size() >= hdr_size);
  store_u8(out, VirtioNetHdrView::kFlagsOffset, flags);
  store_u8(out, VirtioNetHdrView::kGsoTypeOffset, gso_type);
  store_le16(out, VirtioNetHdrView::kHdrLenOffset, hdr_len);
  store_le16(out, VirtioNetHdrView::kGsoSizeOffset, gso_size);
  store_le16(out, VirtioNetHdrView::kCsumStartOffset, csum_start);
  store_le16(out, VirtioNetHdrView::kCsumOffsetOffset, csum_offset);
  if (hdr_size == kVirtioNetHdrLen) {
    store_le16(out, VirtioNetHdrView::kNumBuffersOffset, num_buffers);
  }
}

}  // namespace tapir::wire
