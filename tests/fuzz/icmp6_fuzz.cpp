// Fuzz target: Icmp6View::parse, the echo and error reprs' round trips, and
// icmp6_fill_checksum against checksum_ok.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/icmp6.hpp"

namespace {
// Reads a value so the accessor that produced it cannot be optimised away.
void touch(uint64_t v) {
  static volatile uint64_t sink;
  sink = sink + v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  // The checksum's pseudo-header needs addresses; the corpus holds bare
  // messages, so every input is taken as sent from fd00::100 to fd00::2 (the
  // addresses of the captures the seeds come from).
  static const Ipv6Addr src = *Ipv6Addr::parse("fd00::100");
  static const Ipv6Addr dst = *Ipv6Addr::parse("fd00::2");
  auto icmp = Icmp6View::parse(as_bytes({data, size}));
  if (!icmp) return 0;

  touch(icmp->type());
  touch(icmp->code());
  touch(icmp->checksum());
  touch(icmp->rest_of_header());
  touch(icmp->identifier());
  touch(icmp->sequence());
  touch(icmp->mtu());
  touch(icmp->pointer());
  touch(icmp->is_echo());
  touch(icmp->is_error());
  if (icmp->body().size() + kIcmp6HeaderLen != size) __builtin_trap();
  if (icmp->invoking_packet().size() != icmp->body().size()) __builtin_trap();
  const bool ok = icmp->checksum_ok(src, dst);

  // Filling the checksum of the message as received gives the same value
  // when it was right; 0x0000 and 0xffff are the same number in ones'
  // complement, and the fill writes 0x0000 when both would do.
  std::vector<uint8_t> copy(data, data + size);
  icmp6_fill_checksum(as_writable_bytes(copy), src, dst);
  auto filled = Icmp6View::parse(as_bytes(copy));
  if (!filled || !filled->checksum_ok(src, dst)) __builtin_trap();
  if (ok && filled->checksum() != icmp->checksum() &&
      !(icmp->checksum() == 0xffff && filled->checksum() == 0)) {
    __builtin_trap();
  }

  // Re-emit the header over the copy; all but the checksum must match.
  bool lossless = false;
  if (auto echo = Icmp6EchoRepr::parse(*icmp)) {
    echo->emit(as_writable_bytes(copy));
    lossless = icmp->code() == 0;
  } else if (auto err = Icmp6ErrorRepr::parse(*icmp)) {
    err->emit(as_writable_bytes(copy));
    lossless = true;
  }
  if (lossless) {
    icmp6_fill_checksum(as_writable_bytes(copy), src, dst);
    if (std::memcmp(copy.data(), data, Icmp6View::kChecksumOffset) != 0 ||
        std::memcmp(copy.data() + Icmp6View::kRestOfHeaderOffset,
                    data + Icmp6View::kRestOfHeaderOffset,
                    size - Icmp6View::kRestOfHeaderOffset) != 0) {
      __builtin_trap();
    }
    if (!Icmp6View::parse(as_bytes(copy))->checksum_ok(src, dst)) __builtin_trap();
  }
  return 0;
}
