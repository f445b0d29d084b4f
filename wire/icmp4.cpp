#include "wire/icmp4.hpp"

#include "wire/checksum.hpp"

namespace tapir::wire {

Expected<Icmp4View, ParseError> Icmp4View::parse(ConstBytes message) {
  if (message.size() < kIcmp4HeaderLen) return unexpected(ParseError::kTruncated);
  return Icmp4View(message);
}

bool Icmp4View::checksum_ok() const {
  return internet_checksum(bytes_) == 0;
}

Expected<Icmp4EchoRepr, ParseError> Icmp4EchoRepr::parse(const Icmp4View& v) {
  if (!v.is_echo()) return unexpected(ParseError::kUnsupported);
  return Icmp4EchoRepr{v.type(), v.identifier(), v.sequence()};
}

void Icmp4EchoRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kIcmp4HeaderLen);
  TAPIR_CHECK(icmp4_is_echo(type));
  store_u8(out, Icmp4View::kTypeOffset, type);
  store_u8(out, Icmp4View::kCodeOffset, 0);
  store_be16(out, Icmp4View::kChecksumOffset, 0);
  store_be16(out, Icmp4View::kIdentifierOffset, identifier);
  store_be16(out, Icmp4View::kSequenceOffset, sequence);
}

Expected<Icmp4ErrorRepr, ParseError> Icmp4ErrorRepr::parse(const Icmp4View& v) {
  if (!v.is_error()) return unexpected(ParseError::kUnsupported);
  return Icmp4ErrorRepr{v.type(), v.code(), v.rest_of_header()};
}

void Icmp4ErrorRepr::emit(MutBytes out) const {
  TAPIR_CHECK(out.size() >= kIcmp4HeaderLen);
  TAPIR_CHECK(icmp4_is_error(type));
  store_u8(out, Icmp4View::kTypeOffset, type);
  store_u8(out, Icmp4View::kCodeOffset, code);
  store_be16(out, Icmp4View::kChecksumOffset, 0);
  store_be32(out, Icmp4View::kRestOfHeaderOffset, rest_of_header);
}

void icmp4_fill_checksum(MutBytes message) {
  TAPIR_CHECK(message.size() >= kIcmp4HeaderLen);
  store_be16(message, Icmp4View::kChecksumOffset, 0);
  store_be16(message, Icmp4View::kChecksumOffset, internet_checksum(message));
}

}  // namespace tapir::wire
