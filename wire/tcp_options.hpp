#pragma once
// TCP options (RFC 9293 3.1, 3.2): parsing the option bytes of a segment
// and emitting the options tapir sends.
//
// Each option is either a single kind byte (EOL = 0, NOP = 1) or a TLV:
//   0  kind (1)
//   1  length (1)      of the whole option, kind and length bytes included
//   2  data (length - 2)
//
// Known options and their only valid lengths:
//   MSS             kind 2, len 4   data: max segment size (2)       RFC 9293 3.7.1
//   window scale    kind 3, len 3   data: shift count (1)            RFC 7323 2
//   SACK-permitted  kind 4, len 2                                    RFC 2018 2
//   SACK            kind 5, len 2 + 8n, n = 1..4: n x {left, right}  RFC 2018 3
//   timestamps      kind 8, len 10  data: TSval (4), TSecr (4)       RFC 7323 3
//
// Theory of operation. The walker is where option parsers go wrong (lwIP
// still fixes "bounds check for next option byte"), so it reads every byte
// through bounds-checked loads and rejects the whole option block with
// kBadOption when: the length byte is missing (a TLV kind is the last
// byte), the length is < 2, the option runs past the end of the block, or
// a known kind has the wrong length. EOL ends the walk: whatever follows it
// is padding and ignored, even if not zero (RFC 9293 3.1). Unknown kinds
// with a sane length are skipped (TCP-MD5, TCP-AO, MPTCP, TFO, ...). If an
// option appears twice, the later one wins, as in Linux.
//
// Values are kept raw: a window scale above 14 is stored as sent; RFC 7323
// 2.3 says to use 14 instead, and that clamp is the TCP engine's business.
// An MSS of 0 is likewise stored as 0.
//
// Emitting uses the layout Linux sends (tcp_options_write), so options from
// a Linux SYN round-trip byte for byte. Every piece is 4-byte aligned with
// NOP padding, in this order:
//   MSS                    02 04 mm mm                              4
//   SACK-permitted + TS    04 02 08 0a <TSval> <TSecr>              12
//     or TS alone          01 01 08 0a <TSval> <TSecr>              12
//     or SACK-perm alone   01 01 04 02                              4
//   window scale           01 03 03 ss                              4
//   SACK blocks            01 01 05 <2+8n> n x {left, right}        4 + 8n
// A TCP header has room for 40 option bytes; everything at once needs up
// to 56. buffer_len() reports the size the layout needs even when it is
// more than 40: such a combination does not fit(), emit() refuses it (writes
// nothing, returns false), and trim_sack_blocks() drops SACK blocks from
// the end until it fits (with timestamps, Linux sends at most 3 blocks).

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "base/expected.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr size_t kTcpMaxOptionsLen = 40;
inline constexpr size_t kTcpMaxSackBlocks = 4;
// RFC 7323 2.3: the largest shift a receiver should apply.
inline constexpr uint8_t kTcpMaxWindowScale = 14;

// Option kinds (IANA "TCP Option Kind Numbers") and their fixed lengths.
namespace tcp_option {
inline constexpr uint8_t kEol = 0;
inline constexpr uint8_t kNop = 1;
inline constexpr uint8_t kMss = 2;
inline constexpr uint8_t kWindowScale = 3;
inline constexpr uint8_t kSackPermitted = 4;
inline constexpr uint8_t kSack = 5;
inline constexpr uint8_t kTimestamps = 8;

inline constexpr size_t kMssLen = 4;
inline constexpr size_t kWindowScaleLen = 3;
inline constexpr size_t kSackPermittedLen = 2;
inline constexpr size_t kSackBaseLen = 2;
inline constexpr size_t kSackBlockLen = 8;
inline constexpr size_t kTimestampsLen = 10;
}  // namespace tcp_option

// One SACK block: sequence numbers [left, right) received out of order.
struct TcpSackBlock {
  uint32_t left = 0;
  uint32_t right = 0;
  bool operator==(const TcpSackBlock&) const = default;
};

struct TcpTimestamps {
  uint32_t value = 0;       // TSval
  uint32_t echo_reply = 0;  // TSecr
  bool operator==(const TcpTimestamps&) const = default;
};

struct TcpOptions {
  std::optional<uint16_t> mss;
  std::optional<uint8_t> window_scale;  // raw shift count, may exceed 14 (see above)
  bool sack_permitted = false;
  std::array<TcpSackBlock, kTcpMaxSackBlocks> sack_blocks{};
  uint8_t sack_count = 0;  // blocks in use, 0..kTcpMaxSackBlocks
  std::optional<TcpTimestamps> timestamps;

  // `options` is the option area of a TCP header (TcpView::options()), any
  // length. Errors: kBadOption (see the theory of operation above).
  static Expected<TcpOptions, ParseError> parse(ConstBytes options);

  // The SACK blocks in use.
  std::span<const TcpSackBlock> sacks() const;

  // Bytes emit() writes: a multiple of 4, up to 56; more than
  // kTcpMaxOptionsLen means the combination does not fit in a header.
  size_t buffer_len() const;
  bool fits() const { return buffer_len() <= kTcpMaxOptionsLen; }
  // Writes the options at the start of `out` (out.size() >= buffer_len()).
  // Returns false and writes nothing if they do not fit().
  [[nodiscard]] bool emit(MutBytes out) const;
  // Drops SACK blocks from the end (the oldest, RFC 2018 4) until the
  // options fit(); afterwards fits() is true.
  void trim_sack_blocks();

  // Equal options; SACK blocks past sack_count are not compared.
  bool operator==(const TcpOptions& o) const;
};

}  // namespace tapir::wire
