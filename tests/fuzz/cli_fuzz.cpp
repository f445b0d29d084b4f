// Fuzz target: the command line (app/cli): the -p/--publish parser and the
// whole argv parser. The first byte picks which; the rest is split at NUL
// bytes into arguments. What must hold: an error is one line (it is
// printed after "tapir: error: "), a publish spec yields at most one rule
// per port of its range with both ports non-zero, and nothing crashes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "app/cli.hpp"

namespace {

void check_one_line(const std::string& e) {
  if (e.empty() || e.find('\n') != std::string::npos) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool whole = (data[0] & 1) != 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!whole) {
    auto rules = tapir::app::parse_publish(rest, (data[0] & 2) != 0);
    if (!rules) {
      check_one_line(rules.error());
      return 0;
    }
    if (rules->empty() || rules->size() > 65535) __builtin_trap();
    for (const auto& r : *rules) {
      if (r.host_port == 0 || r.guest_port == 0) __builtin_trap();
    }
    return 0;
  }
  // argv: "tapir" and up to 32 NUL-separated arguments.
  std::vector<std::string> words{"tapir"};
  size_t start = 0;
  while (start <= rest.size() && words.size() < 33) {
    const size_t end = rest.find('\0', start);
    words.emplace_back(rest.substr(start, end == std::string_view::npos ? rest.npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  auto o = tapir::app::parse_command_line(static_cast<int>(words.size()), argv.data());
  if (!o) check_one_line(o.error());
  return 0;
}
