#pragma once
// ICMP for IPv4 (RFC 792).
//
// Layout (8-byte header, then a body whose meaning depends on the type):
//   0  type (1)
//   1  code (1)
//   2  checksum (2)              RFC 1071 over the whole message
//   4  rest of header (4)        by type:
//        echo request/reply:       4 identifier (2) | 6 sequence number (2)
//        destination unreachable:  4 unused (2)     | 6 next-hop MTU (2, code 4; RFC 1191)
//        time exceeded:            4 unused (4)
//        parameter problem:        4 pointer (1)    | 5 unused (3)
//   8  body: echo data, or for an error the invoking datagram's IP header
//      and at least its first 8 payload bytes (RFC 792; RFC 1812 4.3.2.3
//      lets routers quote as much as fits in 576 bytes)
//
// Theory of operation. ICMP has no length field: the message is the whole
// IPv4 payload, so parse() gets Ipv4View::payload() (padding already gone)
// and only checks the 8-byte header is there (kTruncated). The type is not
// checked: an unknown type parses and is dropped by whoever switches on it.
// The checksum is not checked by parse() but by checksum_ok(), so that a
// counter can tell corruption from malformation.
//
// Icmp4View is a checked view (valid as long as the parsed bytes are).
// Icmp4EchoRepr and Icmp4ErrorRepr are the 8-byte header of echo and error
// messages as values; emit() writes it with a zero checksum, and after the
// body is in place icmp4_fill_checksum() over the whole message sets it.

#include "base/expected.hpp"
#include "wire/bytes.hpp"
#include "wire/icmp_header.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kIcmp4HeaderLen = kIcmpHeaderLen;

// Message types (IANA "ICMP Type Numbers").
namespace icmp4_type {
inline constexpr uint8_t kEchoReply = 0;
inline constexpr uint8_t kDestUnreachable = 3;
inline constexpr uint8_t kSourceQuench = 4;  // deprecated (RFC 6633); still an error message
inline constexpr uint8_t kRedirect = 5;
inline constexpr uint8_t kEchoRequest = 8;
inline constexpr uint8_t kTimeExceeded = 11;
inline constexpr uint8_t kParameterProblem = 12;
}  // namespace icmp4_type

// Destination Unreachable codes (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1).
namespace icmp4_unreach {
inline constexpr uint8_t kNet = 0;
inline constexpr uint8_t kHost = 1;
inline constexpr uint8_t kProtocol = 2;
inline constexpr uint8_t kPort = 3;
inline constexpr uint8_t kFragmentationNeeded = 4;  // and DF set; next-hop MTU in rest of header
inline constexpr uint8_t kNetProhibited = 9;
inline constexpr uint8_t kHostProhibited = 10;
inline constexpr uint8_t kAdminProhibited = 13;  // "communication administratively prohibited"
}  // namespace icmp4_unreach

// Time Exceeded codes (RFC 792).
namespace icmp4_time_exceeded {
inline constexpr uint8_t kTtl = 0;         // TTL exceeded in transit
inline constexpr uint8_t kReassembly = 1;  // fragment reassembly time exceeded
}  // namespace icmp4_time_exceeded

// RFC 1122 3.2.2: the types that report an error about an invoking datagram.
constexpr bool icmp4_is_error(uint8_t type) {
  return type == icmp4_type::kDestUnreachable || type == icmp4_type::kSourceQuench ||
         type == icmp4_type::kRedirect || type == icmp4_type::kTimeExceeded ||
         type == icmp4_type::kParameterProblem;
}
constexpr bool icmp4_is_echo(uint8_t type) {
  return type == icmp4_type::kEchoRequest || type == icmp4_type::kEchoReply;
}

// A checked view of an ICMP message (valid as long as the parsed bytes are).
class Icmp4View : public IcmpHeaderView {
 public:
  static constexpr size_t kNextHopMtuOffset = 6;
  static constexpr size_t kPointerOffset = 4;

  // Errors: kTruncated (< 8 bytes). `message` is the whole IPv4 payload.
  static Expected<Icmp4View, ParseError> parse(ConstBytes message);

  bool is_echo() const { return icmp4_is_echo(type()); }
  bool is_error() const { return icmp4_is_error(type()); }
  // The message sums to zero when its checksum is right.
  bool checksum_ok() const;

  // Destination unreachable / fragmentation needed (RFC 1191 4); 0 from
  // routers that predate RFC 1191.
  uint16_t next_hop_mtu() const { return load_be16(bytes_, kNextHopMtuOffset); }
  // Parameter problem: offset of the offending octet in the invoking datagram.
  uint8_t pointer() const { return load_u8(bytes_, kPointerOffset); }

 private:
  explicit Icmp4View(ConstBytes b) : IcmpHeaderView(b) {}
};

// The family's traits for the shared header shapes (wire/icmp_header.hpp).
struct Icmp4 {
  using View = Icmp4View;
  static constexpr uint8_t kEchoRequest = icmp4_type::kEchoRequest;
  static constexpr uint8_t kDestUnreachable = icmp4_type::kDestUnreachable;
  static constexpr bool is_echo(uint8_t t) { return icmp4_is_echo(t); }
  static constexpr bool is_error(uint8_t t) { return icmp4_is_error(t); }
};
using Icmp4EchoRepr = IcmpEchoRepr<Icmp4>;
using Icmp4ErrorRepr = IcmpErrorRepr<Icmp4>;

// Sets the checksum of a complete message (header and body in place; the
// checksum field's old value is ignored). message.size() >= 8.
void icmp4_fill_checksum(MutBytes message);

}  // namespace tapir::wire
