#pragma once
// Counters by reason: one uint64_t per value of an enum whose last
// enumerator is its count (kCount_), as the drop reasons of the wire layer,
// the DNS message errors and the martian destinations are. Not atomic: the
// thread that owns the engine owns them.

#include <array>
#include <cstddef>
#include <cstdint>

namespace tapir {

template <class Reason, size_t N = static_cast<size_t>(Reason::kCount_)>
struct ReasonCounters {
  std::array<uint64_t, N> by_reason{};

  void count(Reason r) noexcept { ++by_reason[static_cast<size_t>(r)]; }
  uint64_t operator[](Reason r) const noexcept { return by_reason[static_cast<size_t>(r)]; }
  uint64_t total() const noexcept {
    uint64_t t = 0;
    for (uint64_t v : by_reason) t += v;
    return t;
  }
};

}  // namespace tapir
