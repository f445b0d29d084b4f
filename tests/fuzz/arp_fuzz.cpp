// Fuzz target: ArpView::parse and the lossless ArpRepr round trip.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/arp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  auto arp = ArpView::parse(as_bytes({data, size}));
  if (!arp) return 0;
  if (arp->bytes().size() != kArpLen) __builtin_trap();
  // ArpRepr::parse reads every field; emit must give the same 28 bytes.
  const ArpRepr repr = ArpRepr::parse(*arp);
  std::vector<uint8_t> out(ArpRepr::buffer_len());
  repr.emit(as_writable_bytes(out));
  if (std::memcmp(out.data(), data, out.size()) != 0) __builtin_trap();
  return 0;
}
