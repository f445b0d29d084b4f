#include "wire/arp.hpp"

#include "wire/proto.hpp"

namespace tapir::wire {

Expected<ArpView, ParseError> ArpView::parse(ConstBytes packet) {
  if (packet.size() < kFixedPrefixLen) return unexpected(ParseError::kTruncated);
  // Type before length: an ARP for another protocol is not "short" just
  // because its addresses have other sizes.
  if (load_be16(packet, kHardwareTypeOffset) != kHardwareEthernet ||
      load_be16(packet, kProtocolTypeOffset) != ethertype::kIpv4 ||
      load_u8(packet, kHardwareLenOffset) != kMacLen ||
      load_u8(packet, kProtocolLenOffset) != kIpv4Len) {
    return unexpected(ParseError::kUnsupported);
  }
  if (packet.size() < kArpLen) return unexpected(ParseError::kTruncated);
  return ArpView(packet.first(kArpLen));
}

void ArpRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kArpLen);
  store_be16(out, ArpView::kHardwareTypeOffset, ArpView::kHardwareEthernet);
  store_be16(out, ArpView::kProtocolTypeOffset, ethertype::kIpv4);
  store_u8(out, ArpView::kHardwareLenOffset, ArpView::kMacLen);
  store_u8(out, ArpView::kProtocolLenOffset, ArpView::kIpv4Len);
  store_be16(out, ArpView::kOperationOffset, operation);
  sender_mac.store(out, ArpView::kSenderMacOffset);
  sender_ip.store(out, ArpView::kSenderIpOffset);
  target_mac.store(out, ArpView::kTargetMacOffset);
  target_ip.store(out, ArpView::kTargetIpOffset);
}

}  // namespace tapir::wire
