#include "services/domain_list.hpp"

#include <array>
#include <cstdint>

namespace tapir::services {

namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxSuffixes = 64;   // compression targets remembered
constexpr size_t kMaxPointer = 0x3fff;

std::string_view strip_root(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A suffix of an already-written name and where its first label starts.
struct Suffix {
  std::string_view text;
  size_t offset;
};

}  // namespace

bool valid_domain_name(std::string_view name) {
  name = strip_root(name);
  if (name.empty()) return false;
  size_t wire_len = 1;  // root label
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const size_t label = dot - start;
    if (label == 0 || label > kMaxLabel) return false;
    wire_len += 1 + label;
    start = dot + 1;
  }
  return wire_len <= kMaxDomainWireLen;
}

std::optional<size_t> encode_domain_list(const std::vector<std::string>& names,
                                         wire::MutBytes out, bool compress) {
  std::array<Suffix, kMaxSuffixes> seen{};
  size_t seen_count = 0;
  size_t pos = 0;
  for (const std::string& full : names) {
    if (!valid_domain_name(full)) return std::nullopt;
    std::string_view rest = strip_root(full);
    bool pointed = false;
    while (!rest.empty()) {
      if (compress) {
        size_t target = SIZE_MAX;
        for (size_t i = 0; i < seen_count; ++i) {
          if (equal_nocase(seen[i].text, rest)) {
            target = seen[i].offset;
            break;
          }
        }
        if (target != SIZE_MAX) {
          if (pos + 2 > out.size()) return std::nullopt;
          wire::store_be16(out, pos, static_cast<uint16_t>(0xc000 | target));
          pos += 2;
          pointed = true;
          break;
        }
        if (seen_count < kMaxSuffixes && pos <= kMaxPointer) seen[seen_count++] = {rest, pos};
      }
      size_t dot = rest.find('.');
      if (dot == std::string_view::npos) dot = rest.size();
      if (pos + 1 + dot > out.size()) return std::nullopt;
      wire::store_u8(out, pos++, static_cast<uint8_t>(dot));
      for (size_t i = 0; i < dot; ++i) wire::store_u8(out, pos++, static_cast<uint8_t>(rest[i]));
      rest = dot == rest.size() ? std::string_view{} : rest.substr(dot + 1);
    }
    if (!pointed) {
      if (pos + 1 > out.size()) return std::nullopt;
      wire::store_u8(out, pos++, 0);
    }
  }
  return pos;
}

}  // namespace tapir::services
