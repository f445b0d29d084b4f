#pragma once
// UDP header (RFC 768), as a checked view and a builder.
//
// Layout (8 bytes):
//   0  source port (2)
//   2  destination port (2)
//   4  length (2)      header + payload, in bytes; >= 8
//   6  checksum (2)    over pseudo-header + header + payload
//   8  payload
//
// The view is given the bytes the IP layer says belong to the datagram.
// The length field must lie in [8, bytes available] (kBadLength otherwise);
// bytes past it are not part of the datagram: payload(), bytes() and the
// checksum exclude them. RFC 2675 jumbograms (length 0 over IPv6) are not
// supported and give kBadLength too.
//
// Checksum (RFC 768; RFC 8200 8.1): over IPv4 a transmitted 0 means "the
// sender computed none" and is accepted; over IPv6 the checksum is
// mandatory and 0 is invalid (the RFC 6935/6936 tunnel exception does not
// apply to a tap). A computed 0 is sent as 0xffff, which is the same value
// in ones' complement, so the "no checksum" 0 stays unambiguous.
//
// Two levels, as everywhere in wire: UdpView is a checked view over
// received bytes (valid as long as the bytes are); UdpRepr is the header as
// values, which emit() writes into a datagram being built.

#include <cstdint>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kUdpHeaderLen = 8;
// Largest payload the 16-bit length field can describe.
inline constexpr size_t kUdpMaxPayloadLen = 0xffff - kUdpHeaderLen;

class UdpView {
 public:
  static constexpr size_t kSrcPortOffset = 0;
  static constexpr size_t kDstPortOffset = 2;
  static constexpr size_t kLengthOffset = 4;
  static constexpr size_t kChecksumOffset = 6;

  // `datagram` is the IP payload. Errors: kTruncated (< 8 bytes),
  // kBadLength (length field < 8 or > datagram.size()).
  static Expected<UdpView, ParseError> parse(ConstBytes datagram);

  uint16_t source_port() const { return load_be16(bytes_, kSrcPortOffset); }
  uint16_t destination_port() const { return load_be16(bytes_, kDstPortOffset); }
  uint16_t length() const { return load_be16(bytes_, kLengthOffset); }
  uint16_t checksum() const { return load_be16(bytes_, kChecksumOffset); }
  // length() - 8 bytes after the header; same lifetime as the parsed bytes.
  ConstBytes payload() const { return bytes_.subspan(kUdpHeaderLen); }
  // The datagram as the length field delimits it (header + payload).
  ConstBytes bytes() const { return bytes_; }

  // Checksum verification with the pseudo-header of the enclosing packet.
  // IPv4: a checksum field of 0 ("none computed") is accepted.
  bool checksum_ok(Ipv4Addr src, Ipv4Addr dst) const;
  // IPv6: a checksum field of 0 is rejected (RFC 8200 8.1).
  bool checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const;

 private:
  explicit UdpView(ConstBytes b) : bytes_(b) {}
  ConstBytes bytes_;  // exactly length() bytes
};

struct UdpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  size_t payload_len = 0;  // <= kUdpMaxPayloadLen

  static UdpRepr parse(const UdpView& v) {
    return {v.source_port(), v.destination_port(), v.payload().size()};
  }
  static constexpr size_t header_len() { return kUdpHeaderLen; }
  // The whole datagram: header + payload.
  size_t buffer_len() const { return kUdpHeaderLen + payload_len; }
  // Writes the 8-byte header at the start of `out` (out.size() >= 8) with
  // length = 8 + payload_len and the checksum field 0. The payload is the
  // caller's to place after it; fill the checksum once it is there.
  void emit(MutBytes out) const;
  bool operator==(const UdpRepr&) const = default;
};

// Compute and store the checksum of a finished datagram: `datagram` is
// exactly header + payload, its length field already written. A computed 0
// is stored as 0xffff (RFC 768).
void fill_udp_checksum(MutBytes datagram, Ipv4Addr src, Ipv4Addr dst);
void fill_udp_checksum(MutBytes datagram, const Ipv6Addr& src, const Ipv6Addr& dst);

}  // namespace tapir::wire
