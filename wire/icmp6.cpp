#include "wire/icmp6.hpp"

#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {

Expected<Icmp6View, ParseError> Icmp6View::parse(ConstBytes message) {
  if (message.size() < kIcmp6HeaderLen) return unexpected(ParseError::kTruncated);
  return Icmp6View(message);
}

bool Icmp6View::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const {
  return l4_checksum_ipv6(src, dst, ipproto::kIcmpv6, bytes_) == 0;
}

Expected<Icmp6EchoRepr, ParseError> Icmp6EchoRepr::parse(const Icmp6View& v) {
  if (!v.is_echo()) return unexpected(ParseError::kUnsupported);
  return Icmp6EchoRepr{v.type(), v.identifier(), v.sequence()};
}

void Icmp6EchoRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kIcmp6HeaderLen);
  TAPIR_CHECK(icmp6_is_echo(type));
  store_u8(out, Icmp6View::kTypeOffset, type);
  store_u8(out, Icmp6View::kCodeOffset, 0);
  store_be16(out, Icmp6View::kChecksumOffset, 0);
  store_be16(out, Icmp6View::kIdentifierOffset, identifier);
  store_be16(out, Icmp6View::kSequenceOffset, sequence);
}

Expected<Icmp6ErrorRepr, ParseError> Icmp6ErrorRepr::parse(const Icmp6View& v) {
  if (!v.is_error()) return unexpected(ParseError::kUnsupported);
  return Icmp6ErrorRepr{v.type(), v.code(), v.rest_of_header()};
}

void Icmp6ErrorRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kIcmp6HeaderLen);
  TAPIR_CHECK(icmp6_is_error(type));
  store_u8(out, Icmp6View::kTypeOffset, type);
  store_u8(out, Icmp6View::kCodeOffset, code);
  store_be16(out, Icmp6View::kChecksumOffset, 0);
  store_be32(out, Icmp6View::kRestOfHeaderOffset, rest_of_header);
}

void icmp6_fill_checksum(MutBytes message, const Ipv6Addr& src, const Ipv6Addr& dst) {
  TAPIR_CHECK(message.size() >= kIcmp6HeaderLen);
  store_be16(message, Icmp6View::kChecksumOffset, 0);
  store_be16(message, Icmp6View::kChecksumOffset,
             l4_checksum_ipv6(src, dst, ipproto::kIcmpv6, message));
}

}  // namespace tapir::wire
