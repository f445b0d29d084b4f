#include "wire/udp.hpp"

#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// RFC 768: a computed 0 is transmitted as all ones; 0 means "none".
constexpr uint16_t udp_wire_checksum(uint16_t computed) {
  return computed == 0 ? 0xffff : computed;
}

// Zeroes the checksum field of a built datagram and checks the length
// field matches the span: both are tapir's own doing, so a mismatch is a
// broken invariant, not bad input.
void prepare_for_checksum(MutBytes datagram) {
  TAPIR_CHECK(datagram.size() >= kUdpHeaderLen && datagram.size() <= 0xffff);
  TAPIR_CHECK(load_be16(datagram, UdpView::kLengthOffset) == datagram.size());
  store_be16(datagram, UdpView::kChecksumOffset, 0);
}

}  // namespace

Expected<UdpView, ParseError> UdpView::parse(ConstBytes datagram) {
  if (datagram.size() < kUdpHeaderLen) return unexpected(ParseError::kTruncated);
  const size_t len = load_be16(datagram, kLengthOffset);
  if (len < kUdpHeaderLen || len > datagram.size()) return unexpected(ParseError::kBadLength);
  return UdpView(datagram.first(len));
}

bool UdpView::checksum_ok(Ipv4Addr src, Ipv4Addr dst) const {
  if (checksum() == 0) return true;  // RFC 768: sender computed none
  return l4_checksum_ipv4(src, dst, ipproto::kUdp, bytes_) == 0;
}

bool UdpView::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const {
  if (checksum() == 0) return false;  // RFC 8200 8.1: mandatory over IPv6
  return l4_checksum_ipv6(src, dst, ipproto::kUdp, bytes_) == 0;
}

void UdpRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kUdpHeaderLen);
  TAPIR_CHECK(payload_len <= kUdpMaxPayloadLen);
  store_be16(out, UdpView::kSrcPortOffset, src_port);
  store_be16(out, UdpView::kDstPortOffset, dst_port);
  store_be16(out, UdpView::kLengthOffset, static_cast<uint16_t>(kUdpHeaderLen + payload_len));
  store_be16(out, UdpView::kChecksumOffset, 0);
}

void fill_udp_checksum(MutBytes datagram, Ipv4Addr src, Ipv4Addr dst) {
  prepare_for_checksum(datagram);
  store_be16(datagram, UdpView::kChecksumOffset,
             udp_wire_checksum(l4_checksum_ipv4(src, dst, ipproto::kUdp, datagram)));
}

void fill_udp_checksum(MutBytes datagram, const Ipv6Addr& src, const Ipv6Addr& dst) {
  prepare_for_checksum(datagram);
  store_be16(datagram, UdpView::kChecksumOffset,
             udp_wire_checksum(l4_checksum_ipv6(src, dst, ipproto::kUdp, datagram)));
}

}  // namespace tapir::wire
