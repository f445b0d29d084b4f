#pragma once
// Domain names (RFC 1035 3.1, 4.1.4) as a small value type, and the one
// function that reads a possibly compressed name out of a message.
//
// Theory of operation. A Name holds the uncompressed wire form of an
// absolute name: length-prefixed labels ending in the root label (a zero
// byte), at most 255 octets in all (RFC 1035 2.3.4), each label 1..63
// octets. It lives in a fixed 255-byte array, so names are copied and
// compared without allocating. Comparison is exact (operator==) or
// ASCII case-insensitive (equals_ci, RFC 4343: only A-Z/a-z fold; other
// octets are compared as they are).
//
// read_name() decodes a name at an offset of a whole message, following
// compression pointers (RFC 1035 4.1.4). The rules that keep it bounded:
//   * A label length byte with the top bits 01 or 10 (0x40..0xbf, the
//     RFC 6891 "extended label" type and the unassigned one) is rejected:
//     a label is at most 63 octets and there is no other label type in use.
//   * A pointer must point to a name that lies wholly before the pointer
//     (RFC 1035 4.1.4: "a prior occurrence"): every byte read after a jump
//     must come before the pointer that jumped. Pointer positions therefore
//     strictly decrease, so decoding ends after at most (message size)/2
//     jumps and no loop can be built, and every byte a name uses lies
//     before the end of the name as it sits in the message: a prefix of a
//     message that holds a name still decodes it, which is what makes
//     dropping trailing records safe (message_edit.hpp). A pointer at or past
//     the end of the message is "past end"; one to a later offset is
//     "forward"; one to itself, or to a name that runs into or across the
//     pointer, is a loop. A legitimate compressor only ever points at an
//     earlier, complete occurrence, which always satisfies this.
//   * The decoded name (labels + length bytes + root) must fit 255 octets.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/expected.hpp"
#include "dns/message_error.hpp"
#include "wire/bytes.hpp"

namespace tapir::dns {

using wire::ConstBytes;
using wire::MutBytes;

inline constexpr size_t kMaxNameLen = 255;  // octets on the wire, uncompressed (RFC 1035 2.3.4)
inline constexpr size_t kMaxLabelLen = 63;

class Name {
 public:
  // The root name ".".
  Name() { wire_[0] = 0; }

  // Text form: "example.test" or "example.test." (absolute either way),
  // "." or "" for the root. Labels are taken as written (no \-escapes);
  // rejects empty labels, labels over 63 octets and names over 255.
  static std::optional<Name> from_text(std::string_view text);

  // Uncompressed wire form, root label included; valid while *this lives.
  ConstBytes wire() const {
    return {reinterpret_cast<const std::byte*>(wire_.data()), len_};
  }  // NOLINT
  size_t size() const { return len_; }
  bool is_root() const { return len_ == 1; }
  size_t label_count() const;

  // Dotted text without the trailing dot ("." for the root); '.', '\\'
  // and octets outside printable ASCII are written RFC 1035 5.1 style
  // (\. \\ \DDD), so the text is unambiguous in logs.
  std::string to_string() const;

  void to_lower();
  bool equals_ci(const Name& o) const;
  // True if the name is `suffix` or ends in it (whole labels, case-insensitive).
  bool ends_with_ci(const Name& suffix) const;

  bool operator==(const Name& o) const;

  // Building, for read_name() and from_text(). Fails (returns false, name
  // unchanged) if the label is empty, over 63 octets, or the name would pass 255.
  bool append_label(ConstBytes label);

 private:
  std::array<uint8_t, kMaxNameLen> wire_{};
  uint8_t len_ = 1;
};

// Reads the name at `off` in `msg` (a whole DNS message: pointers are
// offsets from its start). Returns the offset just after the name as it
// sits at `off` (after the root label or after the first pointer). When
// `out` is not null the decoded name is stored there.
// Errors: kTruncated, kBadLabel, kNameTooLong, kPointerPastEnd,
// kForwardPointer, kPointerLoop (see the top of this file).
Expected<size_t, MessageError> read_name(ConstBytes msg, size_t off, Name* out);

// ASCII lower case (RFC 4343 2.1).
inline constexpr uint8_t ascii_lower(uint8_t c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + ('a' - 'A')) : c;
}

}  // namespace tapir::dns
