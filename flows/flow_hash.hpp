#pragma once
// Keyed hashing for flow tables (DESIGN.md "Flow table"): every table gets
// a random secret at start, so a guest cannot choose addresses, ports or
// echo identifiers that pile into one bucket.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace tapir::flows {

class FlowHasher {
 public:
  FlowHasher();  // draws the secret from std::random_device
  explicit FlowHasher(uint64_t secret) : secret_(secret) {}  // tests and fuzzing: reproducible
  // Mixes the words into one hash (SplitMix64 steps over the keyed state).
  size_t operator()(std::initializer_list<uint64_t> words) const noexcept;
  // The 16 address bytes of a key as two words.
  static uint64_t word(const std::array<uint8_t, 16>& a, size_t half) noexcept;

 private:
  uint64_t secret_;
};

}  // namespace tapir::flows
