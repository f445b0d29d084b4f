#pragma once
// The Internet checksum (RFC 1071): the 16-bit ones' complement of the
// ones' complement sum of the data taken as big-endian 16-bit words.
//
// Theory of operation. The ones' complement sum is independent of byte
// order (RFC 1071 2(B)): summing native little-endian 64-bit words and
// byte-swapping the folded 16-bit result gives the same value as summing
// big-endian 16-bit words. So the hot loop adds 64-bit loads with
// end-around carry in four independent accumulators, and alignment never
// matters (loads go through memcpy). On x86-64 with AVX2 (checked once at
// start-up) a vector kernel splits each 32-bit lane into its two 16-bit
// words and adds them into lane accumulators, widened before they can
// overflow; below 64 bytes the scalar path runs. A span that starts at an odd position
// of the checksummed whole (a pseudo-header, then a header, then a payload
// in another buffer) is summed as if it started even and its folded sum
// byte-swapped before it is added: Checksum tracks that parity.
//
// Values in and out are host-order integers, as everywhere outside the byte
// helpers: store the result with store_be16().
//
// Verifying: summing a received header *including* its checksum field gives
// finish() == 0 when the checksum is right.

#include <cstdint>

#include "wire/addr.hpp"
#include "wire/bytes.hpp"

namespace tapir::wire {

// 32-bit partial ones' complement sum of `data` (not folded), in host order
// of big-endian 16-bit words, as if `data` started at an even offset. `init`
// is added in (a previous partial sum). Exposed for the benchmark and tests.
uint32_t checksum_partial(ConstBytes data, uint32_t init = 0) noexcept;

// The portable kernel alone (folded, host order of big-endian words), so
// tests can check it on machines where checksum_partial takes a SIMD path.
uint16_t checksum_sum_scalar(ConstBytes data) noexcept;

// Folds a partial sum to 16 bits (end-around carry), not inverted.
constexpr uint16_t checksum_fold(uint64_t sum) noexcept {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Accumulates a checksum over several pieces of any length.
class Checksum {
 public:
  void add(ConstBytes data) noexcept;
  // A 16-bit / 32-bit big-endian field given as a host-order value; must sit
  // at an even offset of the whole (as every pseudo-header field does).
  void add_be16(uint16_t v) noexcept;
  void add_be32(uint32_t v) noexcept;
  // RFC 768 / RFC 9293 3.1 pseudo-header.
  void add_ipv4_pseudo(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol, uint16_t l4_length) noexcept;
  // RFC 8200 8.1 pseudo-header.
  void add_ipv6_pseudo(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t next_header,
                       uint32_t l4_length) noexcept;

  // Folded sum, not inverted.
  uint16_t sum() const noexcept { return checksum_fold(sum_); }
  // The value for the checksum field (inverted sum).
  uint16_t finish() const noexcept { return static_cast<uint16_t>(~sum()); }

 private:
  uint64_t sum_ = 0;
  bool odd_ = false;  // total length so far is odd
};

// Checksum of one contiguous block (IPv4 header, ICMPv4 message).
uint16_t internet_checksum(ConstBytes data) noexcept;

// TCP/UDP/ICMPv6 checksum over pseudo-header + `l4` (header with its
// checksum field zeroed, plus payload). On a received segment with the
// field intact, a correct checksum gives 0.
uint16_t l4_checksum_ipv4(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol, ConstBytes l4) noexcept;
uint16_t l4_checksum_ipv6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t next_header,
                          ConstBytes l4) noexcept;

// RFC 1624 eqn. 3 incremental update: HC' = ~(~HC + ~m + m'), for a field
// that changed from `old_value` to `new_value` (at an even offset).
uint16_t checksum_update16(uint16_t checksum, uint16_t old_value, uint16_t new_value) noexcept;
uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value) noexcept;
// For an IPv6 address or any even-length field at an even offset.
uint16_t checksum_update_bytes(uint16_t checksum, ConstBytes old_bytes, ConstBytes new_bytes) noexcept;

}  // namespace tapir::wire
