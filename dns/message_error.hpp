#pragma once
// Why a DNS message was rejected.
//
// wire::ParseError describes frames; a DNS message fails in its own ways
// (compression pointers, label types, section counts), and the forwarder
// counts each of them so an operator can tell garbage from a broken upstream.
// Tests pin the exact reason each malformed message gives.

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/reason_counters.hpp"

namespace tapir::dns {

enum class MessageError : uint8_t {
  kTruncated,       // header < 12 bytes, or a name/question/record runs past the end
  kCountTooLarge,   // the header's section counts need more bytes than the message has
  kBadLabel,        // label length byte 0x40..0xbf (a label > 63, or a reserved label type)
  kNameTooLong,     // decoded name longer than 255 octets
  kPointerPastEnd,  // compression pointer at or past the end of the message
  kForwardPointer,  // compression pointer to a later offset
  kPointerLoop,     // compression pointer to itself, or to a name that runs into/across it
  kPointerIntoHeader,  // compression pointer into the 12-byte header, where no name is
  kBadOpt,          // OPT not in additional, twice, owner not root, or options overrun RDLENGTH
  kCount_           // number of reasons; not a reason
};

inline constexpr size_t kMessageErrorCount = static_cast<size_t>(MessageError::kCount_);

// Stable lowercase name for logs and stats: "truncated", "pointer_loop", ...
const char* message_error_name(MessageError e) noexcept;

using MessageErrorCounters = ReasonCounters<MessageError>;

}  // namespace tapir::dns
