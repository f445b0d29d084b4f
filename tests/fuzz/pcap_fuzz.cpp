// Fuzz target: PcapReader over an arbitrary file.
#include <cstdint>

#include "wire/pcap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  auto r = PcapReader::parse(as_bytes({data, size}));
  if (!r) return 0;
  size_t total = 0;
  for (int i = 0; i < 100000; ++i) {
    auto rec = r->next();
    if (!rec || !rec->has_value()) break;
    if ((*rec)->data.size() > (*rec)->orig_len) __builtin_trap();
    total += (*rec)->data.size();
  }
  if (total > size) __builtin_trap();
  return 0;
}
