#pragma once
// Neighbor Discovery options (RFC 4861 4.6, RFC 8106 5): the walker for
// options in the guest's messages and the writer for tapir's.
//
// Every option is
//   0  type (1)
//   1  length (1)     in units of 8 bytes, type and length included; never 0
//   2  data (length * 8 - 2)
//
// Theory of operation. The walker rejects the whole option block with
// kBadOption when an option has length 0 (RFC 4861 4.6: "Nodes MUST silently
// discard an ND packet that contains an option with length zero" — and a
// walker that accepted it would loop forever), when it runs past the end of
// the message, or when a fixed-size option tapir reads has the wrong size
// (link-layer address options must be 1 unit for Ethernet, RFC 2464 6;
// MTU 1 unit; prefix information 4 units). Unknown options are skipped
// (RFC 4861 4.6 / 6.1: "MUST be silently ignored"). The last instance of an
// option wins.
//
// NdpOptionWriter appends options to a message being built; an option that
// does not fit is refused whole and nothing is written.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/address_plan.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::services {

namespace ndp_opt {
inline constexpr uint8_t kSourceLinkAddr = 1;
inline constexpr uint8_t kTargetLinkAddr = 2;
inline constexpr uint8_t kPrefixInfo = 3;
inline constexpr uint8_t kRedirectedHeader = 4;
inline constexpr uint8_t kMtu = 5;
inline constexpr uint8_t kNonce = 14;  // RFC 3971 5.3.2, sent with DAD probes (RFC 7527)
inline constexpr uint8_t kRdnss = 25;  // RFC 8106 5.1
inline constexpr uint8_t kDnssl = 31;  // RFC 8106 5.2

inline constexpr size_t kUnit = 8;
inline constexpr size_t kLinkAddrLen = 8;     // Ethernet: 1 unit
inline constexpr size_t kMtuLen = 8;
inline constexpr size_t kPrefixInfoLen = 32;

// Prefix information flags (RFC 4861 4.6.2).
inline constexpr uint8_t kPrefixOnLink = 0x80;      // L
inline constexpr uint8_t kPrefixAutonomous = 0x40;  // A
}  // namespace ndp_opt

struct NdpOptions {
  std::optional<wire::MacAddr> source_link_addr;
  std::optional<wire::MacAddr> target_link_addr;
  std::optional<uint32_t> mtu;
  bool nonce = false;
  size_t count = 0;  // options walked, unknown ones included

  // Errors: kBadOption (see the theory of operation).
  static Expected<NdpOptions, wire::ParseError> parse(wire::ConstBytes area);
};

class NdpOptionWriter {
 public:
  explicit NdpOptionWriter(wire::MutBytes area) : area_(area) {}

  // Each returns false, writing nothing, when the option does not fit.
  bool put_link_addr(uint8_t type, const wire::MacAddr& mac);
  bool put_mtu(uint32_t mtu);
  bool put_prefix_info(const wire::Ipv6Prefix& prefix, uint8_t flags, uint32_t valid_lifetime,
                       uint32_t preferred_lifetime);
  bool put_rdnss(uint32_t lifetime, std::span<const wire::Ipv6Addr> servers);
  // The names uncompressed (RFC 8106 5.2), zero-padded to a unit; false
  // also when a name is invalid.
  bool put_dnssl(uint32_t lifetime, const std::vector<std::string>& names);

  size_t len() const { return len_; }

 private:
  // Reserves `n` zeroed bytes (a multiple of 8) with type and length set.
  std::optional<wire::MutBytes> reserve(uint8_t type, size_t n);
  wire::MutBytes area_;
  size_t len_ = 0;
};

}  // namespace tapir::services
