// Fuzz target: Icmp4View::parse, the echo and error reprs' round trips, and
// icmp4_fill_checksum against checksum_ok.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/icmp4.hpp"

namespace {
// Reads a value so the accessor that produced it cannot be optimised away.
void touch(uint64_t v) {
  static volatile uint64_t sink;
  sink = sink + v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  auto icmp = Icmp4View::parse(as_bytes({data, size}));
  if (!icmp) return 0;

  touch(icmp->type());
  touch(icmp->code());
  touch(icmp->checksum());
  touch(icmp->rest_of_header());
  touch(icmp->identifier());
  touch(icmp->sequence());
  touch(icmp->next_hop_mtu());
  touch(icmp->pointer());
  touch(icmp->is_echo());
  touch(icmp->is_error());
  if (icmp->body().size() + kIcmp4HeaderLen != size) __builtin_trap();
  if (icmp->invoking_packet().size() != icmp->body().size()) __builtin_trap();
  const bool ok = icmp->checksum_ok();

  // Filling the checksum of the message as received gives the same value
  // when it was right; 0x0000 and 0xffff are the same number in ones'
  // complement, and the fill writes 0x0000 when both would do.
  std::vector<uint8_t> copy(data, data + size);
  icmp4_fill_checksum(as_writable_bytes(copy));
  auto filled = Icmp4View::parse(as_bytes(copy));
  if (!filled || !filled->checksum_ok()) __builtin_trap();
  if (ok && filled->checksum() != icmp->checksum() &&
      !(icmp->checksum() == 0xffff && filled->checksum() == 0)) {
    __builtin_trap();
  }

  // Re-emit the header over the copy; all but the checksum must match.
  bool lossless = false;
  if (auto echo = Icmp4EchoRepr::parse(*icmp)) {
    echo->emit(as_writable_bytes(copy));
    lossless = icmp->code() == 0;
  } else if (auto err = Icmp4ErrorRepr::parse(*icmp)) {
    err->emit(as_writable_bytes(copy));
    lossless = true;
  }
  if (lossless) {
    icmp4_fill_checksum(as_writable_bytes(copy));
    if (std::memcmp(copy.data(), data, Icmp4View::kChecksumOffset) != 0 ||
        std::memcmp(copy.data() + Icmp4View::kRestOfHeaderOffset,
                    data + Icmp4View::kRestOfHeaderOffset,
                    size - Icmp4View::kRestOfHeaderOffset) != 0) {
      __builtin_trap();
    }
    if (!Icmp4View::parse(as_bytes(copy))->checksum_ok()) __builtin_trap();
  }
  return 0;
}
