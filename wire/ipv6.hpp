#pragma once
// IPv6 header (RFC 8200) and its extension-header chain.
//
// Fixed header (40 bytes):
//   0  version (4 bits) | traffic class (8 bits) | flow label (20 bits)
//   4  payload length (2)        bytes after the fixed header, extensions included
//   6  next header (1)
//   7  hop limit (1)
//   8  source address (16)
//  24  destination address (16)
//  40  extension headers, then the upper-layer header and data
//
// Extension headers walked (RFC 8200 4, RFC 4302 2.2):
//   Hop-by-Hop Options (0), Routing (43), Destination Options (60):
//     0 next header | 1 hdr ext len | ...    (hdr ext len + 1) * 8 bytes
//   Fragment (44):
//     0 next header | 1 reserved | 2 offset (13 bits, 8-byte units) | res (2 bits) | M (1 bit)
//     4 identification (4)                   8 bytes
//   Authentication Header (51):
//     0 next header | 1 payload len | ...    (payload len + 2) * 4 bytes
//
// Theory of operation. parse() checks the fixed header (kTruncated,
// kBadVersion), that payload length fits the bytes (kBadLength; anything
// after it is Ethernet padding and is dropped from the view), then walks the
// chain once, so that upper_protocol() / upper_payload() are plain reads.
// The walk stops at the first next-header value that is not one of the
// extension headers above: that value is the upper-layer protocol (TCP,
// UDP, ICMPv6, and also ESP (50) and No Next Header (59), whose contents are
// not headers tapir can read). Every header must fit inside payload length
// (kBadExtensionHeader) — RFC 8200 4.5 / RFC 7112 require the whole chain in
// the first fragment, so a chain cut short is malformed, not "continued".
//
// Walkers are where parsers break, so the limits are explicit:
//   * Hop-by-Hop is allowed only directly after the fixed header (RFC 8200
//     4.3); anywhere else is kBadExtensionHeader.
//   * At most kMaxExtensionHeaders headers; the next one is
//     kExtensionHeaderLimit. No legitimate tap traffic comes near it, and the
//     bound keeps a hostile chain from costing more than a fixed amount.
//   * At most one Fragment header (kBadExtensionHeader for a second): the
//     view has one set of fragment fields, and nested fragmentation has no
//     legitimate source on a tap.
//   * A Fragment header with a non-zero offset ends the walk: what follows
//     it is the middle of the fragmentable part, not a header. Its next
//     header field becomes upper_protocol().
// Options inside Hop-by-Hop and Destination Options are not interpreted
// (tapir is not a router; the RFC 8200 4.2 "discard if unrecognised" rules
// are for the header's destination — which for tapir is the host socket).
// Jumbograms (RFC 2675, payload length 0) are not supported: a tap's MTU is
// below 65536, and payload length 0 means an empty payload.
//
// Ipv6View is a checked view over received bytes (valid as long as they
// are). Ipv6Repr is the fixed header as values; it is lossless, so parse ->
// emit reproduces the 40 bytes exactly.

#include <cstdint>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kIpv6HeaderLen = 40;
inline constexpr size_t kIpv6FragmentHeaderLen = 8;
inline constexpr size_t kMaxExtensionHeaders = 8;
inline constexpr uint8_t kIpv6DefaultHopLimit = 64;

class Ipv6View {
 public:
  static constexpr size_t kVersionTcFlowOffset = 0;
  static constexpr size_t kPayloadLengthOffset = 4;
  static constexpr size_t kNextHeaderOffset = 6;
  static constexpr size_t kHopLimitOffset = 7;
  static constexpr size_t kSrcOffset = 8;
  static constexpr size_t kDstOffset = 24;

  // Inside any extension header.
  static constexpr size_t kExtNextHeaderOffset = 0;
  static constexpr size_t kExtLengthOffset = 1;
  // Inside the Fragment header.
  static constexpr size_t kFragOffsetFlagsOffset = 2;
  static constexpr size_t kFragIdentificationOffset = 4;
  static constexpr uint16_t kFragOffsetMask = 0xfff8;  // offset << 3
  static constexpr uint16_t kFragMoreFragments = 0x0001;

  // Errors: kTruncated (< 40 bytes), kBadVersion (version != 6), kBadLength
  // (payload length > bytes - 40), kBadExtensionHeader (header runs past
  // payload length, Hop-by-Hop not first, second Fragment header),
  // kExtensionHeaderLimit (more than kMaxExtensionHeaders).
  static Expected<Ipv6View, ParseError> parse(ConstBytes packet);

  uint8_t version() const { return static_cast<uint8_t>(version_tc_flow() >> 28); }
  uint8_t traffic_class() const { return static_cast<uint8_t>((version_tc_flow() >> 20) & 0xff); }
  uint8_t dscp() const { return static_cast<uint8_t>(traffic_class() >> 2); }
  uint8_t ecn() const { return static_cast<uint8_t>(traffic_class() & 0x03); }
  uint32_t flow_label() const { return version_tc_flow() & 0x000fffffu; }
  uint16_t payload_length() const { return load_be16(bytes_, kPayloadLengthOffset); }
  // The fixed header's next header: the first extension header, or the
  // upper-layer protocol when there are none.
  uint8_t next_header() const { return load_u8(bytes_, kNextHeaderOffset); }
  uint8_t hop_limit() const { return load_u8(bytes_, kHopLimitOffset); }
  Ipv6Addr source() const { return Ipv6Addr::load(bytes_, kSrcOffset); }
  Ipv6Addr destination() const { return Ipv6Addr::load(bytes_, kDstOffset); }

  // Where the chain ended (see the theory of operation).
  uint8_t upper_protocol() const { return upper_protocol_; }
  size_t extension_headers_len() const { return upper_offset_ - kIpv6HeaderLen; }
  size_t extension_header_count() const { return ext_count_; }

  // Fragment header, if the chain had one. RFC 6946 "atomic fragments"
  // (offset 0, M clear) have a header but are not fragments.
  bool has_fragment_header() const { return frag_offset_ != 0; }
  // In 8-byte units; 0 without a Fragment header.
  uint16_t fragment_offset() const;
  uint32_t fragment_offset_bytes() const { return uint32_t{fragment_offset()} * 8; }
  bool more_fragments() const;
  uint32_t fragment_identification() const;
  bool is_fragment() const { return fragment_offset() != 0 || more_fragments(); }
  // The Fragment header's next header: the first header of the fragmentable
  // part (what reassembly puts in place of 44). 0 without a Fragment header.
  uint8_t fragment_next_header() const;

  // Spans share the lifetime of the parsed bytes.
  // Everything after the fixed header, to payload length (padding excluded).
  ConstBytes payload() const { return bytes_.subspan(kIpv6HeaderLen); }
  ConstBytes extension_headers() const {
    return bytes_.subspan(kIpv6HeaderLen, extension_headers_len());
  }
  // After the chain: the upper-layer header and data. Of a fragment, only
  // this fragment's piece (and no header at all when fragment_offset() != 0).
  ConstBytes upper_payload() const { return bytes_.subspan(upper_offset_); }
  // This fragment's piece of the fragmentable part: everything after the
  // Fragment header (empty without one). Reassembly concatenates these.
  ConstBytes fragment_data() const;
  // The packet: the fixed header and payload_length() bytes.
  ConstBytes bytes() const { return bytes_; }

 private:
  Ipv6View(ConstBytes b, size_t upper_offset, size_t frag_offset, uint8_t upper_protocol,
           uint8_t ext_count)
      : bytes_(b),
        upper_offset_(upper_offset),
        frag_offset_(frag_offset),
        upper_protocol_(upper_protocol),
        ext_count_(ext_count) {}
  uint32_t version_tc_flow() const { return load_be32(bytes_, kVersionTcFlowOffset); }

  ConstBytes bytes_;
  size_t upper_offset_;  // from the start of the fixed header
  size_t frag_offset_;   // of the Fragment header; 0 = none (40 is the lowest possible)
  uint8_t upper_protocol_;
  uint8_t ext_count_;
};

// The fixed header as values.
struct Ipv6Repr {
  Ipv6Addr src;
  Ipv6Addr dst;
  uint8_t next_header = 0;
  uint8_t hop_limit = kIpv6DefaultHopLimit;
  uint8_t traffic_class = 0;
  uint32_t flow_label = 0;  // 20 bits
  size_t payload_len = 0;   // extension headers included

  static Ipv6Repr parse(const Ipv6View& v) {
    return {v.source(),        v.destination(), v.next_header(),   v.hop_limit(),
            v.traffic_class(), v.flow_label(),  v.payload_length()};
  }
  static constexpr size_t buffer_len() { return kIpv6HeaderLen; }
  size_t total_len() const { return kIpv6HeaderLen + payload_len; }
  // Writes the 40-byte fixed header at the start of `out` (out.size() >= 40,
  // payload_len <= 65535, flow_label < 2^20).
  void emit(MutBytes out) const;
  bool operator==(const Ipv6Repr&) const = default;
};

}  // namespace tapir::wire
