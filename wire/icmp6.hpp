#pragma once
// ICMP for IPv6 (RFC 4443), including the Neighbor Discovery message types
// (RFC 4861) that tapir's NDP responder handles.
//
// Layout (8-byte header, then a body whose meaning depends on the type):
//   0  type (1)                  < 128: error, >= 128: informational (RFC 4443 2.1)
//   1  code (1)
//   2  checksum (2)              over the RFC 8200 8.1 pseudo-header and the message
//   4  rest of header (4)        by type:
//        echo request/reply:       4 identifier (2) | 6 sequence number (2)
//        packet too big:           4 MTU (4)
//        parameter problem:        4 pointer (4)
//        dest unreachable, time exceeded: unused (4)
//        NDP (133-137):            reserved / flags / router fields (RFC 4861 4)
//   8  body: echo data; for an error as much of the invoking packet as fits
//      in the minimum MTU of 1280 (RFC 4443 2.4 (c)); for NDP, the rest of
//      the message and its options
//
// Theory of operation. ICMPv6 has no length field: the message is the
// upper-layer payload of the IPv6 packet (Ipv6View::upper_payload(), of an
// unfragmented packet), and parse() only checks the 8-byte header is there
// (kTruncated). The type is not checked: an unknown type parses and is
// dropped by whoever switches on it. The checksum covers a pseudo-header
// with the IPv6 addresses, so checksum_ok() takes them; it is separate from
// parse() so that a counter can tell corruption from malformation.
//
// Icmp6View is a checked view (valid as long as the parsed bytes are).
// Icmp6EchoRepr and Icmp6ErrorRepr are the 8-byte header of echo and error
// messages as values; emit() writes it with a zero checksum, and after the
// body is in place icmp6_fill_checksum() over the whole message sets it.
// NDP messages have their own bodies and options; their reprs belong to the
// NDP code, which uses this view for the common header and checksum.

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/icmp_header.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kIcmp6HeaderLen = kIcmpHeaderLen;
// RFC 4443 2.4 (c): an error message must fit in the IPv6 minimum MTU.
inline constexpr size_t kIcmp6MaxErrorLen = 1280 - 40;

// Message types (IANA "ICMPv6 Parameters").
namespace icmp6_type {
inline constexpr uint8_t kDestUnreachable = 1;
inline constexpr uint8_t kPacketTooBig = 2;
inline constexpr uint8_t kTimeExceeded = 3;
inline constexpr uint8_t kParameterProblem = 4;
inline constexpr uint8_t kEchoRequest = 128;
inline constexpr uint8_t kEchoReply = 129;
inline constexpr uint8_t kRouterSolicitation = 133;
inline constexpr uint8_t kRouterAdvertisement = 134;
inline constexpr uint8_t kNeighborSolicitation = 135;
inline constexpr uint8_t kNeighborAdvertisement = 136;
inline constexpr uint8_t kRedirect = 137;
}  // namespace icmp6_type

// Destination Unreachable codes (RFC 4443 3.1).
namespace icmp6_unreach {
inline constexpr uint8_t kNoRoute = 0;
inline constexpr uint8_t kAdminProhibited = 1;
inline constexpr uint8_t kBeyondScope = 2;
inline constexpr uint8_t kAddress = 3;
inline constexpr uint8_t kPort = 4;
inline constexpr uint8_t kSourcePolicy = 5;  // source address failed ingress/egress policy
inline constexpr uint8_t kRejectRoute = 6;
}  // namespace icmp6_unreach

// Time Exceeded codes (RFC 4443 3.3).
namespace icmp6_time_exceeded {
inline constexpr uint8_t kHopLimit = 0;
inline constexpr uint8_t kReassembly = 1;
}  // namespace icmp6_time_exceeded

// Parameter Problem codes (RFC 4443 3.4).
namespace icmp6_param_problem {
inline constexpr uint8_t kErroneousHeader = 0;
inline constexpr uint8_t kUnrecognizedNextHeader = 1;
inline constexpr uint8_t kUnrecognizedOption = 2;
}  // namespace icmp6_param_problem

constexpr bool icmp6_is_error(uint8_t type) {
  return type < 128;
}
constexpr bool icmp6_is_echo(uint8_t type) {
  return type == icmp6_type::kEchoRequest || type == icmp6_type::kEchoReply;
}

// A checked view of an ICMPv6 message (valid as long as the parsed bytes are).
class Icmp6View : public IcmpHeaderView {
 public:
  static constexpr size_t kMtuOffset = 4;
  static constexpr size_t kPointerOffset = 4;

  // Errors: kTruncated (< 8 bytes). `message` is the whole upper-layer payload.
  static Expected<Icmp6View, ParseError> parse(ConstBytes message);

  bool is_echo() const { return icmp6_is_echo(type()); }
  bool is_error() const { return icmp6_is_error(type()); }
  // The pseudo-header (addresses of the carrying IPv6 packet, next header
  // 58, the message length) and the message sum to zero when it is right.
  bool checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const;

  // Packet too big: the next-hop link's MTU.
  uint32_t mtu() const { return load_be32(bytes_, kMtuOffset); }
  // Parameter problem: offset of the offending octet in the invoking packet.
  uint32_t pointer() const { return load_be32(bytes_, kPointerOffset); }

 private:
  explicit Icmp6View(ConstBytes b) : IcmpHeaderView(b) {}
};

// The family's traits for the shared header shapes (wire/icmp_header.hpp);
// error types are those below 128 (RFC 4443 2.1).
struct Icmp6 {
  using View = Icmp6View;
  static constexpr uint8_t kEchoRequest = icmp6_type::kEchoRequest;
  static constexpr uint8_t kDestUnreachable = icmp6_type::kDestUnreachable;
  static constexpr bool is_echo(uint8_t t) { return icmp6_is_echo(t); }
  static constexpr bool is_error(uint8_t t) { return icmp6_is_error(t); }
};
using Icmp6EchoRepr = IcmpEchoRepr<Icmp6>;
using Icmp6ErrorRepr = IcmpErrorRepr<Icmp6>;

// Sets the checksum of a complete message (header and body in place; the
// checksum field's old value is ignored) to be carried from `src` to `dst`.
// message.size() >= 8.
void icmp6_fill_checksum(MutBytes message, const Ipv6Addr& src, const Ipv6Addr& dst);

}  // namespace tapir::wire
