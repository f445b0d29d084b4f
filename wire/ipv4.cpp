#include "wire/ipv4.hpp"

#include "wire/checksum.hpp"

namespace tapir::wire {

namespace {
constexpr uint8_t kVersion = 4;
}  // namespace

Expected<Ipv4View, ParseError> Ipv4View::parse(ConstBytes packet) {
  if (packet.size() < kIpv4MinHeaderLen) return unexpected(ParseError::kTruncated);
  const uint8_t version_ihl = load_u8(packet, kVersionIhlOffset);
  if ((version_ihl >> 4) != kVersion) return unexpected(ParseError::kBadVersion);
  const size_t header_len = size_t{version_ihl & 0x0fu} * 4;
  if (header_len < kIpv4MinHeaderLen || header_len > packet.size()) {
    return unexpected(ParseError::kBadHeaderLength);
  }
  const size_t total = load_be16(packet, kTotalLengthOffset);
  if (total < header_len || total > packet.size()) return unexpected(ParseError::kBadLength);
  return Ipv4View(packet.first(total));
}

bool Ipv4View::header_checksum_ok() const {
  return internet_checksum(header()) == 0;
}

Expected<Ipv4MutView, ParseError> Ipv4MutView::parse(MutBytes packet) {
  auto v = Ipv4View::parse(packet);
  if (!v) return unexpected(v.error());
  return Ipv4MutView(packet.first(v->bytes().size()));
}

// parse() validated these bytes, and the setters touch neither version, IHL
// nor total length, so they are still a valid datagram.
Ipv4View Ipv4MutView::view() const {
  return Ipv4View(bytes_);
}

void Ipv4MutView::set_address(size_t offset, Ipv4Addr a) {
  const uint32_t old_value = load_be32(bytes_, offset);
  const uint16_t old_sum = load_be16(bytes_, Ipv4View::kChecksumOffset);
  a.store(bytes_, offset);
  // RFC 1624: the addresses sit at even offsets, so a 32-bit update is exact.
  store_be16(bytes_, Ipv4View::kChecksumOffset, checksum_update32(old_sum, old_value, a.value));
}

Ipv4Repr Ipv4Repr::parse(const Ipv4View& v) {
  Ipv4Repr r;
  r.src = v.source();
  r.dst = v.destination();
  r.protocol = v.protocol();
  r.ttl = v.ttl();
  r.identification = v.identification();
  r.dont_fragment = v.dont_fragment();
  r.dscp = v.dscp();
  r.ecn = v.ecn();
  r.payload_len = v.total_length() - v.header_len();
  return r;
}

void Ipv4Repr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kIpv4MinHeaderLen);
  TAPIR_CHECK(payload_len <= kIpv4MaxTotalLen - kIpv4MinHeaderLen);
  TAPIR_CHECK(dscp < 64 && ecn < 4);
  store_u8(out, Ipv4View::kVersionIhlOffset,
           static_cast<uint8_t>((kVersion << 4) | (kIpv4MinHeaderLen / 4)));
  store_u8(out, Ipv4View::kDscpEcnOffset, static_cast<uint8_t>((dscp << 2) | ecn));
  store_be16(out, Ipv4View::kTotalLengthOffset, static_cast<uint16_t>(total_len()));
  store_be16(out, Ipv4View::kIdentificationOffset, identification);
  store_be16(out, Ipv4View::kFlagsFragmentOffset, dont_fragment ? Ipv4View::kFlagDontFragment : 0);
  store_u8(out, Ipv4View::kTtlOffset, ttl);
  store_u8(out, Ipv4View::kProtocolOffset, protocol);
  store_be16(out, Ipv4View::kChecksumOffset, 0);
  src.store(out, Ipv4View::kSrcOffset);
  dst.store(out, Ipv4View::kDstOffset);
  store_be16(out, Ipv4View::kChecksumOffset, internet_checksum(out.first(kIpv4MinHeaderLen)));
}

}  // namespace tapir::wire
