#pragma once
// Words of the host's text files (resolv.conf(5), hosts(5)): both separate
// them with blanks, and each parser decides what a comment is.

#include <cstddef>
#include <string_view>

namespace tapir::dns {

constexpr bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// The next blank-separated word of `line` at or after `*pos`, which moves
// past it; empty when the line has no more.
inline std::string_view next_word(std::string_view line, size_t* pos) {
  size_t i = *pos;
  while (i < line.size() && is_blank(line[i])) ++i;
  const size_t start = i;
  while (i < line.size() && !is_blank(line[i])) ++i;
  *pos = i;
  return line.substr(start, i - start);
}

}  // namespace tapir::dns
