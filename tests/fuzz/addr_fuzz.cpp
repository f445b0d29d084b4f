// Fuzz target: text parsing of MacAddr, Ipv4Addr and Ipv6Addr (operator
// input: flags and API requests). Whatever parses must print back to a
// form that parses to the same address.
#include <cstdint>
#include <string_view>

#include "wire/addr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  if (auto m = MacAddr::parse(text)) {
    auto again = MacAddr::parse(m->to_string());
    if (!again || *again != *m) __builtin_trap();
  }
  if (auto a = Ipv4Addr::parse(text)) {
    auto again = Ipv4Addr::parse(a->to_string());
    if (!again || *again != *a) __builtin_trap();
  }
  if (auto a = Ipv6Addr::parse(text)) {
    auto again = Ipv6Addr::parse(a->to_string());
    if (!again || *again != *a) __builtin_trap();
  }
  return 0;
}
