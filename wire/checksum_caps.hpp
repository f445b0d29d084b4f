#pragma once
// How a frame tapir builds gets its transport checksum: the checksum mode a
// builder is handed (smoltcp's ChecksumCapabilities, reduced to what a tap
// offers).
//
// kSoftware: the checksum is computed in full; the frame needs no vnet
// metadata (a tap without IFF_VNET_HDR, --no-offload).
// kPartial: only the pseudo-header sum goes into the field, and the vnet
// header says NEEDS_CSUM (virtio 1.0 5.1.6.2): the guest's kernel completes
// it, or skips it for a frame delivered locally. Only with a vnet header;
// it also lets one large TCP segment go as a GSO frame.

#include <cstdint>

namespace tapir::wire {

struct ChecksumCaps {
  enum class L4 : uint8_t { kSoftware, kPartial };
  L4 l4 = L4::kSoftware;

  static constexpr ChecksumCaps software() { return {L4::kSoftware}; }
  static constexpr ChecksumCaps partial() { return {L4::kPartial}; }
  // What a tap takes: partial with a vnet header, complete without.
  static constexpr ChecksumCaps for_tap(bool vnet_hdr) { return vnet_hdr ? partial() : software(); }
  constexpr bool l4_partial() const { return l4 == L4::kPartial; }
  bool operator==(const ChecksumCaps&) const = default;
};

}  // namespace tapir::wire
