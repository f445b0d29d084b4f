// Fuzz target: parse_hosts on arbitrary text (the host's /etc/hosts and
// --hosts-file are not tapir's to trust). What it keeps is usable inside
// the guest (never loopback, unspecified or IPv6 link-local, never the
// root name), and writing the entries back as "ADDR NAME" lines and
// parsing that gives the same entries.
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/hosts_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  const auto h = tapir::dns::parse_hosts(text);
  if (h.entries.size() > tapir::dns::kMaxHostEntries) __builtin_trap();
  std::string again;
  for (const auto& e : h.entries) {
    if (e.name.is_root()) __builtin_trap();
    if (e.v6 ? (e.a6.is_loopback() || e.a6.is_unspecified() || e.a6.is_link_local())
             : (e.a4.is_loopback() || e.a4.is_unspecified())) {
      __builtin_trap();
    }
    // Names with '#', blanks or escapes do not survive as text; the rest must.
    const std::string name = e.name.to_string();
    if (name.find_first_of("#\\ \t\r\n\f\v") != std::string::npos) return 0;
    again += (e.v6 ? e.a6.to_string() : e.a4.to_string()) + " " + name + "\n";
  }
  const auto h2 = tapir::dns::parse_hosts(again);
  if (!(h2.entries == h.entries) || h2.bad_lines != 0 || h2.bad_names != 0) __builtin_trap();
  return 0;
}
