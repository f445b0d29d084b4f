#include "wire/ipv6.hpp"

#include "wire/proto.hpp"

namespace tapir::wire {

namespace {

constexpr uint32_t kVersion = 6;
// The smallest extension header of every kind walked here is 8 bytes: the
// generic ones are (n+1)*8, Fragment is 8, and AH's (n+2)*4 is at least 8.
constexpr size_t kMinExtHeaderLen = 8;

bool is_walked_extension(uint8_t nh) {
  switch (nh) {
    case ipproto::kHopByHop:
    case ipproto::kRouting:
    case ipproto::kFragment:
    case ipproto::kDestOptions:
    case ipproto::kAh: return true;
    default: return false;
  }
}

// Length of the extension header of kind `nh` starting at `at` (which has at
// least kMinExtHeaderLen bytes).
size_t extension_len(uint8_t nh, ConstBytes at) {
  const size_t n = load_u8(at, Ipv6View::kExtLengthOffset);
  if (nh == ipproto::kFragment) return kIpv6FragmentHeaderLen;
  if (nh == ipproto::kAh) return (n + 2) * 4;  // RFC 4302 2.2: in 32-bit words, minus 2
  return (n + 1) * 8;  // RFC 8200 4.3: in 8-octet units, not counting the first
}

}  // namespace

Expected<Ipv6View, ParseError> Ipv6View::parse(ConstBytes packet) {
  if (packet.size() < kIpv6HeaderLen) return unexpected(ParseError::kTruncated);
  if ((load_be32(packet, kVersionTcFlowOffset) >> 28) != kVersion) {
    return unexpected(ParseError::kBadVersion);
  }
  const size_t payload_len = load_be16(packet, kPayloadLengthOffset);
  if (payload_len > packet.size() - kIpv6HeaderLen) return unexpected(ParseError::kBadLength);
  const ConstBytes pkt = packet.first(kIpv6HeaderLen + payload_len);

  uint8_t nh = load_u8(pkt, kNextHeaderOffset);
  size_t off = kIpv6HeaderLen;  // start of the header `nh` names
  size_t frag_at = 0;
  uint8_t count = 0;
  while (is_walked_extension(nh)) {
    // Hop-by-Hop only first (RFC 8200 4.3); one Fragment header at most.
    if ((nh == ipproto::kHopByHop && count != 0) || (nh == ipproto::kFragment && frag_at != 0)) {
      return unexpected(ParseError::kBadExtensionHeader);
    }
    if (count == kMaxExtensionHeaders) return unexpected(ParseError::kExtensionHeaderLimit);
    const size_t left = pkt.size() - off;
    if (left < kMinExtHeaderLen) return unexpected(ParseError::kBadExtensionHeader);
    const ConstBytes at = pkt.subspan(off);
    const size_t len = extension_len(nh, at);
    if (len > left) return unexpected(ParseError::kBadExtensionHeader);
    ++count;
    const bool stop =
        nh == ipproto::kFragment && (load_be16(at, kFragOffsetFlagsOffset) & kFragOffsetMask) != 0;
    if (nh == ipproto::kFragment) frag_at = off;
    nh = load_u8(at, kExtNextHeaderOffset);
    off += len;
    // Past a non-first fragment's header is data, not headers (RFC 8200 4.5).
    if (stop) break;
  }
  return Ipv6View(pkt, off, frag_at, nh, count);
}

uint16_t Ipv6View::fragment_offset() const {
  if (frag_offset_ == 0) return 0;
  return static_cast<uint16_t>(
      (load_be16(bytes_, frag_offset_ + kFragOffsetFlagsOffset) & kFragOffsetMask) >> 3);
}

bool Ipv6View::more_fragments() const {
  if (frag_offset_ == 0) return false;
  return (load_be16(bytes_, frag_offset_ + kFragOffsetFlagsOffset) & kFragMoreFragments) != 0;
}

uint32_t Ipv6View::fragment_identification() const {
  if (frag_offset_ == 0) return 0;
  return load_be32(bytes_, frag_offset_ + kFragIdentificationOffset);
}

uint8_t Ipv6View::fragment_next_header() const {
  if (frag_offset_ == 0) return 0;
  return load_u8(bytes_, frag_offset_ + kExtNextHeaderOffset);
}

ConstBytes Ipv6View::fragment_data() const {
  if (frag_offset_ == 0) return {};
  return bytes_.subspan(frag_offset_ + kIpv6FragmentHeaderLen);
}

void Ipv6Repr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kIpv6HeaderLen);
  TAPIR_CHECK(payload_len <= 0xffff && flow_label <= 0xfffff);
  store_be32(out, Ipv6View::kVersionTcFlowOffset,
             (kVersion << 28) | (uint32_t{traffic_class} << 20) | flow_label);
  store_be16(out, Ipv6View::kPayloadLengthOffset, static_cast<uint16_t>(payload_len));
  store_u8(out, Ipv6View::kNextHeaderOffset, next_header);
  store_u8(out, Ipv6View::kHopLimitOffset, hop_limit);
  src.store(out, Ipv6View::kSrcOffset);
  dst.store(out, Ipv6View::kDstOffset);
}

}  // namespace tapir::wire
