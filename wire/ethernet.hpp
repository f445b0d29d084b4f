#pragma once
// Ethernet II header (IEEE 802.3 with an EtherType), as the tap emits it.
//
// Layout (14 bytes):
//   0  destination MAC (6)
//   6  source MAC (6)
//  12  EtherType (2)
//  14  payload
//
// A tap in a container never carries VLAN tags, so a tagged frame (0x8100,
// 0x88a8, 0x9100) is rejected with kVlanTagged rather than half-understood.
// Frames shorter than 60 bytes are accepted: the tap does not pad.
//
// Two levels, as everywhere in wire: EthernetView is a checked view
// over received bytes (valid as long as the bytes are); EthernetRepr is the
// header as values, which emit() writes into a frame being built.

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kEthernetHeaderLen = 14;

class EthernetView {
 public:
  static constexpr size_t kDstOffset = 0;
  static constexpr size_t kSrcOffset = 6;
  static constexpr size_t kEtherTypeOffset = 12;

  // Errors: kTruncated (< 14 bytes), kVlanTagged.
  static Expected<EthernetView, ParseError> parse(ConstBytes frame);

  MacAddr destination() const { return MacAddr::load(bytes_, kDstOffset); }
  MacAddr source() const { return MacAddr::load(bytes_, kSrcOffset); }
  uint16_t ethertype() const { return load_be16(bytes_, kEtherTypeOffset); }
  // Everything after the header; same lifetime as the parsed bytes.
  ConstBytes payload() const { return bytes_.subspan(kEthernetHeaderLen); }
  ConstBytes bytes() const { return bytes_; }

 private:
  explicit EthernetView(ConstBytes b) : bytes_(b) {}
  ConstBytes bytes_;
};

struct EthernetRepr {
  MacAddr destination;
  MacAddr source;
  uint16_t ethertype = 0;

  static EthernetRepr parse(const EthernetView& v) {
    return {v.destination(), v.source(), v.ethertype()};
  }
  static constexpr size_t buffer_len() { return kEthernetHeaderLen; }
  // Writes the 14-byte header at the start of `out` (out.size() >= 14).
  void emit(MutBytes out) const;
  bool operator==(const EthernetRepr&) const = default;
};

}  // namespace tapir::wire
