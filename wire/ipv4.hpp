#pragma once
// IPv4 header (RFC 791).
//
// Layout (20 bytes, then IHL*4 - 20 bytes of options):
//   0  version (4 bits) | IHL (4 bits, header length in 32-bit words)
//   1  DSCP (6 bits) | ECN (2 bits)          RFC 2474, RFC 3168
//   2  total length (2)                     header + payload, in bytes
//   4  identification (2)
//   6  flags (3 bits: reserved, DF, MF) | fragment offset (13 bits, 8-byte units)
//   8  time to live (1)
//   9  protocol (1)
//  10  header checksum (2)                  RFC 1071 over the header only
//  12  source address (4)
//  16  destination address (4)
//  20  options (IHL*4 - 20), then payload
//
// Theory of operation. parse() checks, in this order, that the 20 fixed
// bytes are there (kTruncated), the version is 4 (kBadVersion), IHL is at
// least 5 and the header fits (kBadHeaderLength), and that total length
// covers the header and does not run past the bytes (kBadLength). Bytes
// beyond total length are Ethernet padding (a 60-byte minimum frame) and are
// dropped from the view: bytes() is the datagram, payload() ends at total
// length. The header checksum is not checked by parse(): header_checksum_ok()
// is separate so that a counter can tell corruption from malformation, and
// because a tap with checksum offload may hand tapir headers it computed.
//
// Options are not interpreted (tapir neither routes nor records routes):
// options() exposes them, and payload() starts after them. A fragment
// (is_fragment()) carries a piece of the upper-layer data; only the first
// (offset 0) starts with the upper-layer header.
//
// Ipv4View is a checked view over received bytes (valid as long as they
// are). Ipv4MutView is its mutable twin for rewriting a datagram in place
// (NAT), keeping the header checksum right by RFC 1624 incremental update.
// Ipv4Repr is a 20-byte option-less, unfragmented header as values; emit()
// writes it with a correct header checksum.

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kIpv4MinHeaderLen = 20;
inline constexpr size_t kIpv4MaxHeaderLen = 60;
inline constexpr size_t kIpv4MaxTotalLen = 65535;
inline constexpr uint8_t kIpv4DefaultTtl = 64;

class Ipv4View {
 public:
  static constexpr size_t kVersionIhlOffset = 0;
  static constexpr size_t kDscpEcnOffset = 1;
  static constexpr size_t kTotalLengthOffset = 2;
  static constexpr size_t kIdentificationOffset = 4;
  static constexpr size_t kFlagsFragmentOffset = 6;
  static constexpr size_t kTtlOffset = 8;
  static constexpr size_t kProtocolOffset = 9;
  static constexpr size_t kChecksumOffset = 10;
  static constexpr size_t kSrcOffset = 12;
  static constexpr size_t kDstOffset = 16;

  // Bits of the 16-bit flags/fragment-offset word.
  static constexpr uint16_t kFlagReserved = 0x8000;
  static constexpr uint16_t kFlagDontFragment = 0x4000;
  static constexpr uint16_t kFlagMoreFragments = 0x2000;
  static constexpr uint16_t kFragmentOffsetMask = 0x1fff;

  // Errors: kTruncated (< 20 bytes), kBadVersion (version != 4),
  // kBadHeaderLength (IHL < 5, or IHL*4 > bytes), kBadLength (total length
  // < IHL*4 or > bytes).
  static Expected<Ipv4View, ParseError> parse(ConstBytes packet);

  uint8_t version() const { return static_cast<uint8_t>(load_u8(bytes_, kVersionIhlOffset) >> 4); }
  // IHL*4: the header with options, in bytes (20..60).
  size_t header_len() const { return size_t{load_u8(bytes_, kVersionIhlOffset) & 0x0fu} * 4; }
  uint8_t dscp() const { return static_cast<uint8_t>(load_u8(bytes_, kDscpEcnOffset) >> 2); }
  uint8_t ecn() const { return static_cast<uint8_t>(load_u8(bytes_, kDscpEcnOffset) & 0x03u); }
  uint16_t total_length() const { return load_be16(bytes_, kTotalLengthOffset); }
  uint16_t identification() const { return load_be16(bytes_, kIdentificationOffset); }
  // The reserved flag ("evil bit", RFC 3514) must be zero; exposed, not checked.
  bool reserved_flag() const { return (flags_fragment() & kFlagReserved) != 0; }
  bool dont_fragment() const { return (flags_fragment() & kFlagDontFragment) != 0; }
  bool more_fragments() const { return (flags_fragment() & kFlagMoreFragments) != 0; }
  // In 8-byte units, as on the wire.
  uint16_t fragment_offset() const { return flags_fragment() & kFragmentOffsetMask; }
  // In bytes (at most 8191*8 = 65528).
  uint32_t fragment_offset_bytes() const { return uint32_t{fragment_offset()} * 8; }
  // Part of a fragmented datagram: MF set or a non-zero offset.
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  uint8_t ttl() const { return load_u8(bytes_, kTtlOffset); }
  uint8_t protocol() const { return load_u8(bytes_, kProtocolOffset); }
  uint16_t header_checksum() const { return load_be16(bytes_, kChecksumOffset); }
  Ipv4Addr source() const { return Ipv4Addr::load(bytes_, kSrcOffset); }
  Ipv4Addr destination() const { return Ipv4Addr::load(bytes_, kDstOffset); }
  // The header (with options) sums to zero when its checksum is right.
  bool header_checksum_ok() const;

  // Spans share the lifetime of the parsed bytes.
  ConstBytes header() const { return bytes_.first(header_len()); }
  // Options: IHL*4 - 20 bytes, not interpreted (empty for IHL 5).
  ConstBytes options() const {
    return bytes_.subspan(kIpv4MinHeaderLen, header_len() - kIpv4MinHeaderLen);
  }
  // From the end of the header to total length (padding excluded).
  ConstBytes payload() const { return bytes_.subspan(header_len()); }
  // The datagram: the first total_length() bytes of what was parsed.
  ConstBytes bytes() const { return bytes_; }

 private:
  friend class Ipv4MutView;  // views bytes it has validated
  explicit Ipv4View(ConstBytes b) : bytes_(b) {}
  uint16_t flags_fragment() const { return load_be16(bytes_, kFlagsFragmentOffset); }
  ConstBytes bytes_;
};

// In-place rewriting for NAT. Only the IP header checksum is updated: the
// caller fixes the TCP/UDP checksum, whose pseudo-header also covers the
// addresses (checksum_update32 on the L4 checksum field; a UDP checksum of
// zero means "none" and stays zero).
class Ipv4MutView {
 public:
  // Same validation and errors as Ipv4View::parse.
  static Expected<Ipv4MutView, ParseError> parse(MutBytes packet);

  Ipv4View view() const;
  void set_source(Ipv4Addr a) { set_address(Ipv4View::kSrcOffset, a); }
  void set_destination(Ipv4Addr a) { set_address(Ipv4View::kDstOffset, a); }
  // Writable payload (to total length); same lifetime as the parsed bytes.
  MutBytes payload() const { return bytes_.subspan(view().header_len()); }
  MutBytes bytes() const { return bytes_; }

 private:
  explicit Ipv4MutView(MutBytes b) : bytes_(b) {}
  void set_address(size_t offset, Ipv4Addr a);
  MutBytes bytes_;
};

// An option-less IPv4 header as values. Fragmentation fields are not here:
// tapir builds whole datagrams (MF clear, offset 0) and leaves fragmenting
// to the guest's or the host's kernel.
struct Ipv4Repr {
  Ipv4Addr src;
  Ipv4Addr dst;
  uint8_t protocol = 0;
  uint8_t ttl = kIpv4DefaultTtl;
  uint16_t identification = 0;
  bool dont_fragment = true;
  uint8_t dscp = 0;  // 6 bits
  uint8_t ecn = 0;   // 2 bits
  size_t payload_len = 0;

  // Lossless only for an option-less, unfragmented header with the reserved
  // flag clear; payload_len is total_length - header_len.
  static Ipv4Repr parse(const Ipv4View& v);
  static constexpr size_t buffer_len() { return kIpv4MinHeaderLen; }
  size_t total_len() const { return kIpv4MinHeaderLen + payload_len; }
  // Writes the 20-byte header, checksum included, at the start of `out`
  // (out.size() >= 20; total_len() <= 65535, dscp < 64, ecn < 4).
  void emit(MutBytes out) const;
  bool operator==(const Ipv4Repr&) const = default;
};

}  // namespace tapir::wire
