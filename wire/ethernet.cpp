#include "wire/ethernet.hpp"

#include "wire/proto.hpp"

namespace tapir::wire {

Expected<EthernetView, ParseError> EthernetView::parse(ConstBytes frame) {
  if (frame.size() < kEthernetHeaderLen) return unexpected(ParseError::kTruncated);
  const uint16_t type = load_be16(frame, kEtherTypeOffset);
  if (type == ethertype::kVlan || type == ethertype::kQinQ || type == ethertype::kVlan9100) {
    return unexpected(ParseError::kVlanTagged);
  }
  return EthernetView(frame);
}

void EthernetRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kEthernetHeaderLen);
  destination.store(out, EthernetView::kDstOffset);
  source.store(out, EthernetView::kSrcOffset);
  store_be16(out, EthernetView::kEtherTypeOffset, ethertype);
}

}  // namespace tapir::wire
