// Fuzz target: parse_resolv_conf and parse_upstream on arbitrary text
// (the host's resolv.conf and operator flags are not tapir's to trust).
// Every nameserver found prints (Endpoint::to_string) to a form that
// parse_upstream reads back to the same endpoint, and so does whatever
// parse_upstream accepts directly.
#include <cstdint>
#include <string_view>

#include "dns/resolv_conf.hpp"

namespace {

void round_trip(const tapir::dns::Endpoint& e) {
  auto again = tapir::dns::parse_upstream(e.to_string());
  if (!again || !(*again == e)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  const auto rc = tapir::dns::parse_resolv_conf(text);
  for (const auto& e : rc.nameservers) {
    if (e.port != 53) __builtin_trap();
    round_trip(e);
  }
  for (const auto& s : rc.search) {
    if (s.empty()) __builtin_trap();
  }
  if (auto e = tapir::dns::parse_upstream(text)) round_trip(*e);
  return 0;
}
