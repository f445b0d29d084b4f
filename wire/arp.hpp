#pragma once
// ARP (RFC 826) for Ethernet and IPv4, the only kind a tap carries.
//
// Layout (28 bytes for Ethernet/IPv4):
//   0  hardware type (2)        1 = Ethernet
//   2  protocol type (2)        0x0800 = IPv4
//   4  hardware length (1)      6
//   5  protocol length (1)      4
//   6  operation (2)            1 = request, 2 = reply
//   8  sender hardware address (6)
//  14  sender protocol address (4)
//  18  target hardware address (6)
//  24  target protocol address (4)
//
// Theory of operation. The four type/length fields are checked once in
// parse(): anything other than Ethernet/IPv4 is kUnsupported (tapir answers
// ARP only for its IPv4 gateway and DNS addresses), so the address accessors
// can use fixed offsets. Bytes after the 28 (Ethernet padding to 60) are
// ignored and not part of bytes(). The operation is not checked: RARP and
// InARP opcodes parse, and the ARP responder ignores what it does not answer.
//
// ArpView is a checked view over received bytes (valid as long as they are);
// ArpRepr is the message as values, which emit() writes. ArpRepr is lossless:
// parse -> emit reproduces the 28 bytes exactly.

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kArpLen = 28;

namespace arp_op {
inline constexpr uint16_t kRequest = 1;
inline constexpr uint16_t kReply = 2;
}  // namespace arp_op

class ArpView {
 public:
  static constexpr size_t kHardwareTypeOffset = 0;
  static constexpr size_t kProtocolTypeOffset = 2;
  static constexpr size_t kHardwareLenOffset = 4;
  static constexpr size_t kProtocolLenOffset = 5;
  static constexpr size_t kOperationOffset = 6;
  static constexpr size_t kSenderMacOffset = 8;
  static constexpr size_t kSenderIpOffset = 14;
  static constexpr size_t kTargetMacOffset = 18;
  static constexpr size_t kTargetIpOffset = 24;
  // The type/length prefix: enough to tell whether the rest is Ethernet/IPv4.
  static constexpr size_t kFixedPrefixLen = 8;

  static constexpr uint16_t kHardwareEthernet = 1;
  static constexpr uint8_t kMacLen = 6;
  static constexpr uint8_t kIpv4Len = 4;

  // Errors: kTruncated (< 8 bytes, or Ethernet/IPv4 with < 28 bytes),
  // kUnsupported (hardware or protocol type/length not Ethernet/IPv4).
  static Expected<ArpView, ParseError> parse(ConstBytes packet);

  uint16_t operation() const { return load_be16(bytes_, kOperationOffset); }
  MacAddr sender_mac() const { return MacAddr::load(bytes_, kSenderMacOffset); }
  Ipv4Addr sender_ip() const { return Ipv4Addr::load(bytes_, kSenderIpOffset); }
  MacAddr target_mac() const { return MacAddr::load(bytes_, kTargetMacOffset); }
  Ipv4Addr target_ip() const { return Ipv4Addr::load(bytes_, kTargetIpOffset); }
  // The 28 ARP bytes without any padding; same lifetime as the parsed bytes.
  ConstBytes bytes() const { return bytes_; }

 private:
  explicit ArpView(ConstBytes b) : bytes_(b) {}
  ConstBytes bytes_;
};

struct ArpRepr {
  uint16_t operation = arp_op::kRequest;
  MacAddr sender_mac;
  Ipv4Addr sender_ip;
  MacAddr target_mac;
  Ipv4Addr target_ip;

  static ArpRepr parse(const ArpView& v) {
    return {v.operation(), v.sender_mac(), v.sender_ip(), v.target_mac(), v.target_ip()};
  }
  static constexpr size_t buffer_len() { return kArpLen; }
  // Writes the 28-byte Ethernet/IPv4 ARP message at the start of `out`
  // (out.size() >= 28).
  void emit(MutBytes out) const;
  bool operator==(const ArpRepr&) const = default;
};

}  // namespace tapir::wire
