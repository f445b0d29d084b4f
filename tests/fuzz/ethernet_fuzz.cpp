// Fuzz target: EthernetView::parse and EthernetRepr round trip.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/ethernet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  const ConstBytes in = as_bytes({data, size});
  auto eth = EthernetView::parse(in);
  if (!eth) return 0;
  // Touch every accessor, then check parse -> emit reproduces the header.
  const EthernetRepr repr = EthernetRepr::parse(*eth);
  (void)eth->payload().size();
  std::vector<uint8_t> out(EthernetRepr::buffer_len());
  repr.emit(as_writable_bytes(out));
  if (std::memcmp(out.data(), data, out.size()) != 0) __builtin_trap();
  return 0;
}
