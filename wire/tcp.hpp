#pragma once
// TCP header (RFC 9293 3.1), as a checked view and a builder.
//
// Layout (20 bytes + options):
//   0  source port (2)
//   2  destination port (2)
//   4  sequence number (4)
//   8  acknowledgment number (4)
//  12  data offset (high 4 bits: header length in 32-bit words, >= 5),
//      reserved (low 4 bits)
//  13  control bits: CWR ECE URG ACK PSH RST SYN FIN (high to low)
//  14  window (2)
//  16  checksum (2)     over pseudo-header + header + payload
//  18  urgent pointer (2)
//  20  options (data offset * 4 - 20, at most 40), see tcp_options.hpp
//  data offset * 4: payload
//
// The view is given exactly the segment (the IP payload): the checksum and
// payload() cover all of it. parse() checks the fixed header is there
// (kTruncated) and that the data offset is >= 5 and within the bytes
// (kBadHeaderLength); it does not parse the options — TcpOptions::parse()
// does that on options(), and TcpRepr::parse() on a whole view.
//
// The four reserved bits at offset 12 (the lowest is AccECN's AE flag,
// draft-ietf-tcpm-accurate-ecn) are neither reported nor emitted: tapir
// does not negotiate AccECN, and RFC 9293 3.1 says receivers ignore them.
//
// Two levels, as everywhere in wire: TcpView is a checked view over
// received bytes (valid as long as the bytes are); TcpRepr is the header as
// values, which emit() writes into a segment being built.

#include <cstdint>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp_options.hpp"

namespace tapir::wire {

inline constexpr size_t kTcpHeaderLen = 20;  // without options
inline constexpr size_t kTcpMaxHeaderLen = kTcpHeaderLen + kTcpMaxOptionsLen;

// Control bits, as they sit in the byte at offset 13.
namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
inline constexpr uint8_t kEce = 0x40;
inline constexpr uint8_t kCwr = 0x80;
}  // namespace tcp_flag

class TcpView {
 public:
  static constexpr size_t kSrcPortOffset = 0;
  static constexpr size_t kDstPortOffset = 2;
  static constexpr size_t kSeqOffset = 4;
  static constexpr size_t kAckOffset = 8;
  static constexpr size_t kDataOffsetOffset = 12;  // high nibble
  static constexpr size_t kFlagsOffset = 13;
  static constexpr size_t kWindowOffset = 14;
  static constexpr size_t kChecksumOffset = 16;
  static constexpr size_t kUrgentOffset = 18;
  static constexpr size_t kOptionsOffset = 20;

  // `segment` is the IP payload. Errors: kTruncated (< 20 bytes),
  // kBadHeaderLength (data offset < 5 or data offset * 4 > segment.size()).
  static Expected<TcpView, ParseError> parse(ConstBytes segment);

  uint16_t source_port() const { return load_be16(bytes_, kSrcPortOffset); }
  uint16_t destination_port() const { return load_be16(bytes_, kDstPortOffset); }
  uint32_t sequence_number() const { return load_be32(bytes_, kSeqOffset); }
  uint32_t acknowledgment_number() const { return load_be32(bytes_, kAckOffset); }
  // Header length in 32-bit words (5..15).
  uint8_t data_offset() const {
    return static_cast<uint8_t>(load_u8(bytes_, kDataOffsetOffset) >> 4);
  }
  // Header length in bytes (20..60).
  size_t header_len() const { return size_t{data_offset()} * 4; }
  // All eight control bits; test them with tcp_flag::k*.
  uint8_t flags() const { return load_u8(bytes_, kFlagsOffset); }
  bool cwr() const { return (flags() & tcp_flag::kCwr) != 0; }
  bool ece() const { return (flags() & tcp_flag::kEce) != 0; }
  bool urg() const { return (flags() & tcp_flag::kUrg) != 0; }
  bool ack() const { return (flags() & tcp_flag::kAck) != 0; }
  bool psh() const { return (flags() & tcp_flag::kPsh) != 0; }
  bool rst() const { return (flags() & tcp_flag::kRst) != 0; }
  bool syn() const { return (flags() & tcp_flag::kSyn) != 0; }
  bool fin() const { return (flags() & tcp_flag::kFin) != 0; }
  uint16_t window() const { return load_be16(bytes_, kWindowOffset); }
  uint16_t checksum() const { return load_be16(bytes_, kChecksumOffset); }
  uint16_t urgent_pointer() const { return load_be16(bytes_, kUrgentOffset); }
  // The option bytes (0..40), unparsed; same lifetime as the parsed bytes.
  ConstBytes options() const {
    return bytes_.subspan(kOptionsOffset, header_len() - kOptionsOffset);
  }
  // Everything after the header; same lifetime as the parsed bytes.
  ConstBytes payload() const { return bytes_.subspan(header_len()); }
  ConstBytes bytes() const { return bytes_; }

  // Checksum verification with the pseudo-header of the enclosing packet.
  bool checksum_ok(Ipv4Addr src, Ipv4Addr dst) const;
  bool checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const;

 private:
  explicit TcpView(ConstBytes b) : bytes_(b) {}
  ConstBytes bytes_;
};

struct TcpRepr {
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;  // tcp_flag::k*
  uint16_t window = 0;
  uint16_t urgent = 0;
  TcpOptions options;

  // Errors: kBadOption from the options.
  static Expected<TcpRepr, ParseError> parse(const TcpView& v);

  // Bytes emit() writes: header + options (the payload is the caller's).
  // More than kTcpMaxHeaderLen when the options do not fit.
  size_t buffer_len() const { return kTcpHeaderLen + options.buffer_len(); }
  bool fits() const { return options.fits(); }
  // Writes header + options at the start of `out` (out.size() >=
  // buffer_len()) with the data offset set and the checksum field 0.
  // Returns false and writes nothing if the options do not fit().
  [[nodiscard]] bool emit(MutBytes out) const;
  bool operator==(const TcpRepr&) const = default;
};

// Compute and store the checksum of a finished segment: `segment` is
// exactly header + options + payload.
void fill_tcp_checksum(MutBytes segment, Ipv4Addr src, Ipv4Addr dst);
void fill_tcp_checksum(MutBytes segment, const Ipv6Addr& src, const Ipv6Addr& dst);

}  // namespace tapir::wire
