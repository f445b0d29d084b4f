#pragma once
// DHCPv6 messages and options (RFC 8415 8, 21): a checked parse of a
// client's message and an option writer for replies.
//
// Client/server message (RFC 8415 8):
//   0  msg-type (1)
//   1  transaction-id (3)
//   4  options
// Option (RFC 8415 21.1):
//   0  option-code (2)
//   2  option-len (2)    bytes of data
//   4  data
// IA_NA (21.4):   IAID (4) | T1 (4) | T2 (4) | IA_NA-options
// IAADDR (21.6):  address (16) | preferred-lifetime (4) | valid-lifetime (4) | options
//
// Theory of operation. The parser walks the top-level options once and
// the options inside each IA_NA and IAADDR, with the same rules at every
// level: a header or data that runs past its container is kBadOption, and
// so are wrong sizes of the options a server reads (Client/Server
// Identifier 1..130 bytes — a DUID is at most 128 bytes after its 2-byte
// type, 11.1; ORO an even length; Elapsed Time 2; Rapid Commit 0; IA_NA at
// least 12; IAADDR at least 24). Nesting is bounded by the format (IA_NA ->
// IAADDR -> options are not walked further), so a hostile message costs
// linear time. Unknown options are skipped. Relay messages (RELAY-FORW,
// RELAY-REPL) are kUnsupported: a tap has no relay. What is kept is what a
// server needs: the identifiers (spans into the message, valid as long as
// its bytes), the ORO, Rapid Commit, the first IA_NA with up to
// kMaxIaAddrs addresses, and every IA_NA address (up to kMaxAllAddrs) for
// CONFIRM.

#include <array>
#include <cstdint>
#include <optional>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::services {

inline constexpr uint16_t kDhcp6ClientPort = 546;
inline constexpr uint16_t kDhcp6ServerPort = 547;
inline constexpr size_t kDhcp6HeaderLen = 4;
inline constexpr size_t kDhcp6OptionHeaderLen = 4;

namespace dhcp6_msg {
inline constexpr uint8_t kSolicit = 1;
inline constexpr uint8_t kAdvertise = 2;
inline constexpr uint8_t kRequest = 3;
inline constexpr uint8_t kConfirm = 4;
inline constexpr uint8_t kRenew = 5;
inline constexpr uint8_t kRebind = 6;
inline constexpr uint8_t kReply = 7;
inline constexpr uint8_t kRelease = 8;
inline constexpr uint8_t kDecline = 9;
inline constexpr uint8_t kReconfigure = 10;
inline constexpr uint8_t kInformationRequest = 11;
inline constexpr uint8_t kRelayForw = 12;
inline constexpr uint8_t kRelayRepl = 13;
}  // namespace dhcp6_msg

namespace dhcp6_opt {
inline constexpr uint16_t kClientId = 1;
inline constexpr uint16_t kServerId = 2;
inline constexpr uint16_t kIaNa = 3;
inline constexpr uint16_t kIaTa = 4;
inline constexpr uint16_t kIaAddr = 5;
inline constexpr uint16_t kOro = 6;
inline constexpr uint16_t kPreference = 7;
inline constexpr uint16_t kElapsedTime = 8;
inline constexpr uint16_t kStatusCode = 13;
inline constexpr uint16_t kRapidCommit = 14;
inline constexpr uint16_t kDnsServers = 23;        // RFC 3646
inline constexpr uint16_t kDomainList = 24;        // RFC 3646
inline constexpr uint16_t kInfoRefreshTime = 32;   // RFC 8415 21.23

inline constexpr size_t kIaNaFixedLen = 12;
inline constexpr size_t kIaAddrFixedLen = 24;
}  // namespace dhcp6_opt

namespace dhcp6_status {
inline constexpr uint16_t kSuccess = 0;
inline constexpr uint16_t kUnspecFail = 1;
inline constexpr uint16_t kNoAddrsAvail = 2;
inline constexpr uint16_t kNoBinding = 3;
inline constexpr uint16_t kNotOnLink = 4;
inline constexpr uint16_t kUseMulticast = 5;
}  // namespace dhcp6_status

inline constexpr size_t kMaxIaAddrs = 4;
inline constexpr size_t kMaxAllAddrs = 8;
inline constexpr size_t kMaxOro = 32;

struct Dhcp6IaAddr {
  wire::Ipv6Addr addr;
  uint32_t preferred = 0;
  uint32_t valid = 0;
};

struct Dhcp6IaNa {
  uint32_t iaid = 0;
  uint32_t t1 = 0;
  uint32_t t2 = 0;
  std::array<Dhcp6IaAddr, kMaxIaAddrs> addrs{};
  size_t addr_count = 0;  // kept (at most kMaxIaAddrs)
};

struct Dhcp6Message {
  uint8_t msg_type = 0;
  uint32_t transaction_id = 0;  // 24 bits
  std::optional<wire::ConstBytes> client_id;
  std::optional<wire::ConstBytes> server_id;
  bool rapid_commit = false;
  std::array<uint16_t, kMaxOro> oro{};
  size_t oro_len = 0;
  std::optional<Dhcp6IaNa> ia_na;  // the first IA_NA
  size_t ia_na_count = 0;
  std::array<wire::Ipv6Addr, kMaxAllAddrs> all_addrs{};  // of every IA_NA
  size_t all_addr_count = 0;

  bool requested(uint16_t code) const;
  // `message` is the UDP payload. Errors: kTruncated (< 4 bytes),
  // kUnsupported (relay message), kBadOption.
  static Expected<Dhcp6Message, wire::ParseError> parse(wire::ConstBytes message);
};

class Dhcp6OptionWriter {
 public:
  explicit Dhcp6OptionWriter(wire::MutBytes area) : area_(area) {}

  // Each returns false, writing nothing, when the option does not fit.
  bool put(uint16_t code, wire::ConstBytes data);
  bool put_u8(uint16_t code, uint8_t v);
  bool put_u32(uint16_t code, uint32_t v);
  bool put_status(uint16_t status, const char* message);

  // Nested options: begin() writes the header of `code` with `fixed` zero
  // data bytes the caller fills through data_at(); options put() until
  // end() belong inside it. nullopt when the header and fixed part do not
  // fit. end() sets the length.
  std::optional<size_t> begin(uint16_t code, size_t fixed);
  void end(size_t mark);
  wire::MutBytes data_at(size_t mark, size_t fixed) {
    return area_.subspan(mark + kDhcp6OptionHeaderLen, fixed);
  }

  size_t remaining() const { return area_.size() - len_; }
  size_t len() const { return len_; }
  void truncate(size_t len) { len_ = len; }  // drops everything written after `len`

 private:
  wire::MutBytes area_;
  size_t len_ = 0;
};

}  // namespace tapir::services
