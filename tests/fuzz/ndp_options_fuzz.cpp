// Fuzz target: the NDP option walker, and writer -> walker round trips.
// Input: the option area of an NDP message.
#include <array>
#include <cstdint>

#include "services/ndp_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  using namespace tapir::services;
  auto o = NdpOptions::parse(as_bytes({data, size}));
  if (!o) return 0;
  if (o->count * ndp_opt::kUnit > size) __builtin_trap();  // every option is >= 8 bytes

  std::array<std::byte, 64> area{};
  NdpOptionWriter w(area);
  if (o->source_link_addr && !w.put_link_addr(ndp_opt::kSourceLinkAddr, *o->source_link_addr)) {
    __builtin_trap();
  }
  if (o->target_link_addr && !w.put_link_addr(ndp_opt::kTargetLinkAddr, *o->target_link_addr)) {
    __builtin_trap();
  }
  if (o->mtu && !w.put_mtu(*o->mtu)) __builtin_trap();
  auto back = NdpOptions::parse(ConstBytes(area).first(w.len()));
  if (!back || back->source_link_addr != o->source_link_addr ||
      back->target_link_addr != o->target_link_addr || back->mtu != o->mtu) {
    __builtin_trap();
  }
  return 0;
}
