#include "dns/name.hpp"

#include "dns/message.hpp"

#include <cstring>

namespace tapir::dns {

const char* message_error_name(MessageError e) noexcept {
  switch (e) {
    case MessageError::kTruncated: return "truncated";
    case MessageError::kCountTooLarge: return "count_too_large";
    case MessageError::kBadLabel: return "bad_label";
    case MessageError::kNameTooLong: return "name_too_long";
    case MessageError::kPointerPastEnd: return "pointer_past_end";
    case MessageError::kForwardPointer: return "forward_pointer";
    case MessageError::kPointerLoop: return "pointer_loop";
    case MessageError::kPointerIntoHeader: return "pointer_into_header";
    case MessageError::kBadOpt: return "bad_opt";
    case MessageError::kCount_: break;
  }
  return "unknown";
}

std::optional<Name> Name::from_text(std::string_view text) {
  Name n;
  if (text == "." || text.empty()) return n;
  if (text.back() == '.') text.remove_suffix(1);
  while (true) {
    const size_t dot = text.find('.');
    const std::string_view label = text.substr(0, dot);
    const auto* p = reinterpret_cast<const std::byte*>(label.data());  // NOLINT: chars as bytes
    if (!n.append_label({p, label.size()})) return std::nullopt;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  return n;
}

bool Name::append_label(ConstBytes label) {
  if (label.empty() || label.size() > kMaxLabelLen) return false;
  if (len_ + 1 + label.size() > kMaxNameLen) return false;
  // Replace the root byte by the label, then put the root back.
  const size_t at = len_ - 1u;
  wire_[at] = static_cast<uint8_t>(label.size());
  std::memcpy(&wire_[at + 1], label.data(), label.size());
  len_ = static_cast<uint8_t>(len_ + 1 + label.size());
  wire_[len_ - 1u] = 0;
  return true;
}

size_t Name::label_count() const {
  size_t n = 0;
  for (size_t i = 0; wire_[i] != 0; i += 1u + wire_[i]) ++n;
  return n;
}

std::string Name::to_string() const {
  if (is_root()) return ".";
  std::string s;
  for (size_t i = 0; wire_[i] != 0; i += 1u + wire_[i]) {
    if (i != 0) s += '.';
    for (size_t j = 1; j <= wire_[i]; ++j) {
      const uint8_t c = wire_[i + j];
      if (c == '.' || c == '\\') {
        s += '\\';
        s += static_cast<char>(c);
      } else if (c < 0x21 || c > 0x7e) {
        s += '\\';
        s += static_cast<char>('0' + c / 100);
        s += static_cast<char>('0' + (c / 10) % 10);
        s += static_cast<char>('0' + c % 10);
      } else {
        s += static_cast<char>(c);
      }
    }
  }
  return s;
}

void Name::to_lower() {
  // Length bytes are <= 63, below 'A', so folding every byte is safe.
  for (size_t i = 0; i < len_; ++i) wire_[i] = ascii_lower(wire_[i]);
}

bool Name::equals_ci(const Name& o) const {
  if (len_ != o.len_) return false;
  for (size_t i = 0; i < len_; ++i) {
    if (ascii_lower(wire_[i]) != ascii_lower(o.wire_[i])) return false;
  }
  return true;
}

bool Name::ends_with_ci(const Name& suffix) const {
  if (suffix.len_ > len_) return false;
  // Walk label starts; the suffix must begin exactly at one of them.
  for (size_t i = 0;; i += 1u + wire_[i]) {
    if (len_ - i == suffix.len_) {
      for (size_t k = 0; k < suffix.len_; ++k) {
        if (ascii_lower(wire_[i + k]) != ascii_lower(suffix.wire_[k])) return false;
      }
      return true;
    }
    if (wire_[i] == 0 || len_ - i < suffix.len_) return false;
  }
}

bool Name::operator==(const Name& o) const {
  return len_ == o.len_ && std::memcmp(wire_.data(), o.wire_.data(), len_) == 0;
}

Expected<size_t, MessageError> read_name(ConstBytes msg, size_t off, Name* out) {
  size_t pos = off;
  size_t limit = msg.size();  // after a jump: the pointer that jumped
  size_t end_in_place = 0;    // set at the first pointer
  size_t name_len = 1;        // octets of the decoded name so far, root included
  // Running into `limit` is running off the message, or, after a jump,
  // into the pointer itself.
  const auto overrun = [&] {
    return unexpected(end_in_place == 0 ? MessageError::kTruncated : MessageError::kPointerLoop);
  };
  if (out != nullptr) *out = Name();
  while (true) {
    if (pos >= limit) return overrun();
    const uint8_t len = wire::load_u8(msg, pos);
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= limit) return overrun();
      const size_t target = (size_t{len & 0x3fu} << 8) | wire::load_u8(msg, pos + 1);
      if (end_in_place == 0) end_in_place = pos + 2;
      if (target >= msg.size()) return unexpected(MessageError::kPointerPastEnd);
      if (target > pos) return unexpected(MessageError::kForwardPointer);
      if (target == pos) return unexpected(MessageError::kPointerLoop);
      // No name lives in the header, and one read through it would change
      // when an edit rewrites a count (found by dns_message_fuzz: a name
      // through ARCOUNT's low byte no longer parsed once remove_opt()
      // lowered it).
      if (target < kHeaderLen) return unexpected(MessageError::kPointerIntoHeader);
      limit = pos;
      pos = target;
      continue;
    }
    if ((len & 0xc0) != 0) return unexpected(MessageError::kBadLabel);
    if (len == 0) return end_in_place != 0 ? end_in_place : pos + 1;
    name_len += 1u + len;
    if (name_len > kMaxNameLen) return unexpected(MessageError::kNameTooLong);
    if (pos + 1 + len > limit) return overrun();
    if (out != nullptr) out->append_label(msg.subspan(pos + 1, len));
    pos += 1u + len;
  }
}

}  // namespace tapir::dns
