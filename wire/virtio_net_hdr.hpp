#pragma once
// virtio_net_hdr: the offload metadata in front of every frame on a tap
// opened with IFF_VNET_HDR (virtio 1.0, 5.1.6 "Device Operation").
//
// Layout (12 bytes with TUNSETVNETHDRSZ 12, as tapir sets it; 10 bytes in
// the legacy layout, which ends before num_buffers). All multi-byte fields
// are little-endian as in virtio 1.0: a tap uses host byte order unless
// told otherwise, so on a big-endian host the tap must be switched with
// TUNSETVNETLE for these views to read it right:
//   0  flags (1)          NEEDS_CSUM 1, DATA_VALID 2, RSC_INFO 4
//   1  gso_type (1)       NONE 0, TCPV4 1, UDP 3, TCPV6 4, UDP_L4 5; | ECN 0x80
//   2  hdr_len (2)        length of the headers to copy into each segment
//   4  gso_size (2)       payload bytes per segment (the MSS for TCP)
//   6  csum_start (2)     offset in the frame where checksumming starts
//   8  csum_offset (2)    offset from csum_start where the checksum goes
//  10  num_buffers (2)    12-byte layout only
//  hdr_size: the Ethernet frame
//
// Theory of operation. From the guest (tap read): NEEDS_CSUM means the
// checksum at csum_start + csum_offset holds only the pseudo-header sum and
// must be completed over [csum_start, end); a gso_type other than NONE
// means the frame is one large TCP/UDP segment to be cut into gso_size
// pieces. The guest's kernel fills this header in, but from state that
// guest processes influence (raw sockets, PACKET_VNET_HDR) and across
// kernel versions, so every field is untrusted: parse() rejects what
// Linux's own virtio_net_hdr_to_skb() rejects — an unknown GSO type, the
// ECN bit without a GSO type, GSO with gso_size 0 — and
// validate_against_frame() rejects a checksum position outside the frame.
// To the guest (tap write): tapir emits no flags for frames whose checksums
// it filled (the services' replies, UDP, ICMP), and NEEDS_CSUM — with a
// GSO type for large TCP segments — where only the pseudo-header sum is in
// the field. DATA_VALID (data_valid()) is parsed but not emitted.
//
// num_buffers only means something with mergeable receive buffers
// (VIRTIO_NET_F_MRG_RXBUF), which a tap does not do: on read the kernel
// skips those two bytes and leaves whatever the buffer held, and on write
// it ignores them. The view reports the field as read; the headers tapir
// builds carry 0.

#include <cstdint>

#include "base/expected.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp.hpp"

namespace tapir::wire {

inline constexpr size_t kVirtioNetHdrLen = 12;        // virtio 1.0 / TUNSETVNETHDRSZ 12
inline constexpr size_t kVirtioNetHdrLegacyLen = 10;  // without num_buffers

namespace vnet_flag {
inline constexpr uint8_t kNeedsCsum = 1;
inline constexpr uint8_t kDataValid = 2;
inline constexpr uint8_t kRscInfo = 4;
}  // namespace vnet_flag

namespace vnet_gso {
inline constexpr uint8_t kNone = 0;
inline constexpr uint8_t kTcpv4 = 1;
inline constexpr uint8_t kUdp = 3;  // UFO: IPv4/IPv6 fragmentation, deprecated
inline constexpr uint8_t kTcpv6 = 4;
inline constexpr uint8_t kUdpL4 = 5;   // USO: UDP segmentation
inline constexpr uint8_t kEcn = 0x80;  // flag: the TCP segments carry CWR
}  // namespace vnet_gso

class VirtioNetHdrView {
 public:
  static constexpr size_t kFlagsOffset = 0;
  static constexpr size_t kGsoTypeOffset = 1;
  static constexpr size_t kHdrLenOffset = 2;
  static constexpr size_t kGsoSizeOffset = 4;
  static constexpr size_t kCsumStartOffset = 6;
  static constexpr size_t kCsumOffsetOffset = 8;
  static constexpr size_t kNumBuffersOffset = 10;

  // Parses the first `hdr_size` bytes of `bytes` (what the tap returned:
  // header, then frame). hdr_size is kVirtioNetHdrLen or
  // kVirtioNetHdrLegacyLen (anything else is a bug in tapir, and aborts).
  // Errors: kTruncated (bytes.size() < hdr_size), kBadVnetHeader (unknown
  // gso_type after masking ECN, ECN without a GSO type, GSO with
  // gso_size 0).
  static Expected<VirtioNetHdrView, ParseError> parse(ConstBytes bytes,
                                                      size_t hdr_size = kVirtioNetHdrLen);

  // With NEEDS_CSUM, the checksum field (2 bytes at csum_start +
  // csum_offset) must lie inside the `frame_len` bytes after the header.
  // Errors: kBadVnetHeader.
  Expected<void, ParseError> validate_against_frame(size_t frame_len) const;

  uint8_t flags() const { return load_u8(bytes_, kFlagsOffset); }
  bool needs_csum() const { return (flags() & vnet_flag::kNeedsCsum) != 0; }
  bool data_valid() const { return (flags() & vnet_flag::kDataValid) != 0; }
  bool rsc_info() const { return (flags() & vnet_flag::kRscInfo) != 0; }
  // Raw, ECN bit included.
  uint8_t gso_type() const { return load_u8(bytes_, kGsoTypeOffset); }
  // The GSO type without the ECN bit: one of vnet_gso::kNone..kUdpL4.
  uint8_t gso_protocol() const { return static_cast<uint8_t>(gso_type() & ~vnet_gso::kEcn); }
  bool gso_ecn() const { return (gso_type() & vnet_gso::kEcn) != 0; }
  uint16_t hdr_len() const { return load_le16(bytes_, kHdrLenOffset); }
  uint16_t gso_size() const { return load_le16(bytes_, kGsoSizeOffset); }
  uint16_t csum_start() const { return load_le16(bytes_, kCsumStartOffset); }
  uint16_t csum_offset() const { return load_le16(bytes_, kCsumOffsetOffset); }
  // As read; 0 in the legacy layout, which has no such field. See above.
  uint16_t num_buffers() const {
    return bytes_.size() >= kVirtioNetHdrLen ? load_le16(bytes_, kNumBuffersOffset) : 0;
  }
  // 12 or 10.
  size_t header_len() const { return bytes_.size(); }
  // The header bytes only; the frame follows them in the parsed span.
  ConstBytes bytes() const { return bytes_; }

 private:
  explicit VirtioNetHdrView(ConstBytes b) : bytes_(b) {}
  ConstBytes bytes_;  // exactly the header (hdr_size bytes)
};

struct VirtioNetHdrRepr {
  uint8_t flags = 0;
  uint8_t gso_type = vnet_gso::kNone;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
  uint16_t num_buffers = 0;  // emitted only in the 12-byte layout

  static VirtioNetHdrRepr parse(const VirtioNetHdrView& v) {
    return {v.flags(),      v.gso_type(),    v.hdr_len(),    v.gso_size(),
            v.csum_start(), v.csum_offset(), v.num_buffers()};
  }

  // The headers tapir writes to the tap.
  // No offload metadata: the frame's checksums are complete.
  static constexpr VirtioNetHdrRepr none() { return {}; }
  // The frame's checksums were verified or filled by tapir: the guest need
  // not check them again.
  static constexpr VirtioNetHdrRepr data_valid() { return {.flags = vnet_flag::kDataValid}; }
  // The L4 checksum field at `l4_start + csum_offset` holds only the
  // pseudo-header sum; the guest's kernel completes it, or takes it as it
  // is when the frame is delivered locally (NEEDS_CSUM).
  static constexpr VirtioNetHdrRepr partial_checksum(uint16_t l4_start, uint16_t csum_offset) {
    return {vnet_flag::kNeedsCsum, vnet_gso::kNone, 0, 0, l4_start, csum_offset, 0};
  }
  // A large TCP segment for the guest's kernel to split into `gso_size`
  // pieces: `l4_start` is where the TCP header begins in the frame, and the
  // TCP checksum field holds the pseudo-header sum (NEEDS_CSUM).
  // `gso_type` is vnet_gso::kTcpv4 or kTcpv6; `hdr_len` covers Ethernet,
  // IP and TCP headers.
  static constexpr VirtioNetHdrRepr tcp_gso(uint8_t gso_type, uint16_t hdr_len, uint16_t gso_size,
                                            uint16_t l4_start) {
    return {vnet_flag::kNeedsCsum,    gso_type, hdr_len, gso_size, l4_start,
            TcpView::kChecksumOffset, 0};
  }

  // kVirtioNetHdrLen or kVirtioNetHdrLegacyLen.
  static constexpr size_t buffer_len(size_t hdr_size = kVirtioNetHdrLen) { return hdr_size; }
  // Writes the header at the start of `out` (out.size() >= hdr_size).
  void emit(MutBytes out, size_t hdr_size = kVirtioNetHdrLen) const;
  bool operator==(const VirtioNetHdrRepr&) const = default;
};

}  // namespace tapir::wire
