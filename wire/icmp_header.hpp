#pragma once
// What ICMP for IPv4 (RFC 792) and ICMPv6 (RFC 4443 2.1) share: the 8-byte
// header — type (1), code (1), checksum (2), and 4 bytes whose meaning
// depends on the type — and the two header shapes tapir reads and writes,
// echo (identifier, sequence) and error (the rest of header as one value,
// then the invoking packet as the body). wire/icmp4.hpp and wire/icmp6.hpp
// add the family's types, codes, fields and checksum rule.
//
// The Repr templates take a family's traits:
//   View                 the family's checked view (Icmp4View, Icmp6View)
//   kEchoRequest         the echo request type, the default of an echo header
//   kDestUnreachable     the default of an error header
//   is_echo(t), is_error(t)

#include <cstdint>

#include "base/check.hpp"
#include "base/expected.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kIcmpHeaderLen = 8;

// The header fields both families have, on a message of at least 8 bytes.
class IcmpHeaderView {
 public:
  static constexpr size_t kTypeOffset = 0;
  static constexpr size_t kCodeOffset = 1;
  static constexpr size_t kChecksumOffset = 2;
  static constexpr size_t kRestOfHeaderOffset = 4;
  static constexpr size_t kIdentifierOffset = 4;
  static constexpr size_t kSequenceOffset = 6;

  uint8_t type() const { return load_u8(bytes_, kTypeOffset); }
  uint8_t code() const { return load_u8(bytes_, kCodeOffset); }
  uint16_t checksum() const { return load_be16(bytes_, kChecksumOffset); }
  uint32_t rest_of_header() const { return load_be32(bytes_, kRestOfHeaderOffset); }

  // Echo request/reply fields; other types have other data there.
  uint16_t identifier() const { return load_be16(bytes_, kIdentifierOffset); }
  uint16_t sequence() const { return load_be16(bytes_, kSequenceOffset); }

  // Spans share the lifetime of the parsed bytes.
  ConstBytes body() const { return bytes_.subspan(kIcmpHeaderLen); }
  // For an error: the quoted invoking packet, usually cut short, so parse
  // it with care (its length field will not match).
  ConstBytes invoking_packet() const { return body(); }
  ConstBytes bytes() const { return bytes_; }

 protected:
  explicit IcmpHeaderView(ConstBytes b) : bytes_(b) {}
  ConstBytes bytes_;
};

// Echo request or reply header (code 0).
template <class Family>
struct IcmpEchoRepr {
  uint8_t type = Family::kEchoRequest;  // or the echo reply type
  uint16_t identifier = 0;
  uint16_t sequence = 0;

  // Errors: kUnsupported (not an echo type). Lossless but for a non-zero
  // code, which echo messages never carry (RFC 792, RFC 4443 4.1), and the
  // checksum.
  static Expected<IcmpEchoRepr, ParseError> parse(const typename Family::View& v) {
    if (!Family::is_echo(v.type())) return unexpected(ParseError::kUnsupported);
    return IcmpEchoRepr{v.type(), v.identifier(), v.sequence()};
  }
  static constexpr size_t buffer_len() { return kIcmpHeaderLen; }
  // Writes the 8-byte header with a zero checksum (out.size() >= 8).
  void emit(MutBytes out) const {
    TAPIR_CHECK(out.size() >= kIcmpHeaderLen);
    TAPIR_CHECK(Family::is_echo(type));
    store_u8(out, IcmpHeaderView::kTypeOffset, type);
    store_u8(out, IcmpHeaderView::kCodeOffset, 0);
    store_be16(out, IcmpHeaderView::kChecksumOffset, 0);
    store_be16(out, IcmpHeaderView::kIdentifierOffset, identifier);
    store_be16(out, IcmpHeaderView::kSequenceOffset, sequence);
  }
  bool operator==(const IcmpEchoRepr&) const = default;
};

// Error message header: type, code and the 32-bit rest of header (MTU,
// pointer or unused), followed by the invoking packet as the body.
template <class Family>
struct IcmpErrorRepr {
  uint8_t type = Family::kDestUnreachable;
  uint8_t code = 0;
  uint32_t rest_of_header = 0;

  // Errors: kUnsupported (not an error type). Lossless but for the checksum.
  static Expected<IcmpErrorRepr, ParseError> parse(const typename Family::View& v) {
    if (!Family::is_error(v.type())) return unexpected(ParseError::kUnsupported);
    return IcmpErrorRepr{v.type(), v.code(), v.rest_of_header()};
  }
  static constexpr size_t buffer_len() { return kIcmpHeaderLen; }
  // Writes the 8-byte header with a zero checksum (out.size() >= 8).
  void emit(MutBytes out) const {
    TAPIR_CHECK(out.size() >= kIcmpHeaderLen);
    TAPIR_CHECK(Family::is_error(type));
    store_u8(out, IcmpHeaderView::kTypeOffset, type);
    store_u8(out, IcmpHeaderView::kCodeOffset, code);
    store_be16(out, IcmpHeaderView::kChecksumOffset, 0);
    store_be32(out, IcmpHeaderView::kRestOfHeaderOffset, rest_of_header);
  }
  bool operator==(const IcmpErrorRepr&) const = default;
};

}  // namespace tapir::wire
