#pragma once
// Why a frame (or a field inside one) was rejected.
//
// Untrusted input never asserts: a parser returns one of these, the caller
// drops the frame and bumps the per-reason counter in DropCounters. Keep the
// list short and specific enough that a counter tells an operator what is
// arriving; tests pin the exact reason each malformed input must give.

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/reason_counters.hpp"

namespace tapir::wire {

enum class ParseError : uint8_t {
  kTruncated,             // fewer bytes than the fixed header needs
  kVlanTagged,            // 802.1Q / 802.1ad tagged Ethernet frame (taps never need tags)
  kUnsupported,           // well-formed but outside what tapir handles (ARP for non-IPv4, ...)
  kBadVersion,            // IP version nibble does not match the ethertype
  kBadHeaderLength,       // IPv4 IHL < 5, TCP data offset < 5, or header longer than the data
  kBadLength,             // a length field disagrees with the bytes present
  kBadOption,             // malformed TLV option (length < 2, runs past the end, wrong fixed size)
  kBadExtensionHeader,    // IPv6 extension header truncated or out of order
  kExtensionHeaderLimit,  // IPv6 extension-header chain longer than tapir walks
  kBadVnetHeader,         // virtio_net_hdr with unknown GSO type or inconsistent fields
  kBadMagic,              // file format magic number (pcap) not recognised
  kBadChecksum,           // a header checksum that does not verify (IPv4)
  kMartianSource,         // a source no guest may use (loopback, multicast, broadcast)
  kCount_                 // number of reasons; not a reason
};

inline constexpr size_t kParseErrorCount = static_cast<size_t>(ParseError::kCount_);

// Stable lowercase name for logs, counters and the stats API: "truncated", ...
const char* parse_error_name(ParseError e) noexcept;

// Per-reason drop counters.
using DropCounters = ReasonCounters<ParseError>;

}  // namespace tapir::wire
