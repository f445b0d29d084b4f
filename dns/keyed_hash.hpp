#pragma once
// A keyed hash for the DNS tables (the cache index, the forwarder's
// question index): SipHash-2-4 (Aumasson and Bernstein, 2012) under a
// 128-bit key drawn once per table. The guest chooses the names it asks
// for; with a key it cannot know, it cannot choose names that pile into
// one bucket (DESIGN.md "Flow table": every table is keyed). l2l4's
// FlowHasher does the same for fixed-size flow keys, but dns/ may not
// depend on l2l4/ (tests/layering_check.cmake), and DNS keys are byte
// strings of any length.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tapir::dns {

class KeyedHash {
 public:
  KeyedHash();                                               // a random key from std::random_device
  KeyedHash(uint64_t k0, uint64_t k1) : k0_(k0), k1_(k1) {}  // tests, fuzzing: reproducible

  // SipHash-2-4 of `data`; the key as two little-endian words, as in the
  // paper's reference vectors.
  uint64_t operator()(std::string_view data) const noexcept;

 private:
  uint64_t k0_;
  uint64_t k1_;
};

}  // namespace tapir::dns
