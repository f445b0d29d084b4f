#include "wire/tcp.hpp"

#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

constexpr uint8_t kMinDataOffset = kTcpHeaderLen / 4;

// Zeroes the checksum field of a built segment before summing it.
void prepare_for_checksum(MutBytes segment) {
  TAPIR_CHECK(segment.size() >= kTcpHeaderLen);
  store_be16(segment, TcpView::kChecksumOffset, 0);
}

}  // namespace

Expected<TcpView, ParseError> TcpView::parse(ConstBytes segment) {
  if (segment.size() < kTcpHeaderLen) return unexpected(ParseError::kTruncated);
  const size_t words = load_u8(segment, kDataOffsetOffset) >> 4;
  if (words < kMinDataOffset || words * 4 > segment.size()) {
    return unexpected(ParseError::kBadHeaderLength);
  }
  return TcpView(segment);
}

bool TcpView::checksum_ok(Ipv4Addr src, Ipv4Addr dst) const {
  // The IPv4 pseudo-header length is 16 bits; a longer segment cannot be
  // one the IPv4 layer handed us.
  if (bytes_.size() > 0xffff) return false;
  return l4_checksum_ipv4(src, dst, ipproto::kTcp, bytes_) == 0;
}

bool TcpView::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const {
  return l4_checksum_ipv6(src, dst, ipproto::kTcp, bytes_) == 0;
}

Expected<TcpRepr, ParseError> TcpRepr::parse(const TcpView& v) {
  auto opts = TcpOptions::parse(v.options());
  if (!opts) return unexpected(opts.error());
  return TcpRepr{
      v.source_port(), v.destination_port(), v.sequence_number(), v.acknowledgment_number(),
      v.flags(),       v.window(),           v.urgent_pointer(),  *opts};
}

bool TcpRepr::emit(MutBytes out) const {
  if (!fits()) return false;
  const size_t len = buffer_len();
  TAPIR_CHECK(out.size() >= len);
  store_be16(out, TcpView::kSrcPortOffset, src_port);
  store_be16(out, TcpView::kDstPortOffset, dst_port);
  store_be32(out, TcpView::kSeqOffset, seq);
  store_be32(out, TcpView::kAckOffset, ack);
  store_u8(out, TcpView::kDataOffsetOffset,
           static_cast<uint8_t>((len / 4) << 4));  // reserved bits 0
  store_u8(out, TcpView::kFlagsOffset, flags);
  store_be16(out, TcpView::kWindowOffset, window);
  store_be16(out, TcpView::kChecksumOffset, 0);
  store_be16(out, TcpView::kUrgentOffset, urgent);
  const bool wrote = options.emit(out.subspan(TcpView::kOptionsOffset));
  TAPIR_CHECK(wrote);  // fits() was checked above
  return true;
}

void fill_tcp_checksum(MutBytes segment, Ipv4Addr src, Ipv4Addr dst) {
  TAPIR_CHECK(segment.size() <= 0xffff);
  prepare_for_checksum(segment);
  store_be16(segment, TcpView::kChecksumOffset, l4_checksum_ipv4(src, dst, ipproto::kTcp, segment));
}

void fill_tcp_checksum(MutBytes segment, const Ipv6Addr& src, const Ipv6Addr& dst) {
  prepare_for_checksum(segment);
  store_be16(segment, TcpView::kChecksumOffset, l4_checksum_ipv6(src, dst, ipproto::kTcp, segment));
}

}  // namespace tapir::wire
