#include "flows/flow_hash.hpp"

#include <cstring>
#include <random>

namespace tapir::flows {

FlowHasher::FlowHasher() {
  std::random_device rd;
  secret_ = (uint64_t{rd()} << 32) ^ rd();
}

size_t FlowHasher::operator()(std::initializer_list<uint64_t> words) const noexcept {
  uint64_t h = secret_;
  for (uint64_t v : words) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
  }
  return static_cast<size_t>(h);
}

uint64_t FlowHasher::word(const std::array<uint8_t, 16>& a, size_t half) noexcept {
  uint64_t v;
  std::memcpy(&v, a.data() + 8 * half, sizeof v);
  return v;
}

}  // namespace tapir::flows
