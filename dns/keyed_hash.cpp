#include "dns/keyed_hash.hpp"

#include <bit>
#include <random>

namespace tapir::dns {
namespace {

uint64_t load_le64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

struct State {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void absorb(uint64_t m) {  // two compression rounds per word ("2-")
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

KeyedHash::KeyedHash() {
  std::random_device rd;
  k0_ = (uint64_t{rd()} << 32) ^ rd();
  k1_ = (uint64_t{rd()} << 32) ^ rd();
}

uint64_t KeyedHash::operator()(std::string_view data) const noexcept {
  // The initialisation constants spell "somepseudorandomlygeneratedbytes".
  State s{k0_ ^ 0x736f6d6570736575ull, k1_ ^ 0x646f72616e646f6dull, k0_ ^ 0x6c7967656e657261ull,
          k1_ ^ 0x7465646279746573ull};
  const size_t n = data.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) s.absorb(load_le64(data.data() + i));
  // The last word: the remaining bytes, and the length's low byte on top.
  uint64_t last = uint64_t{static_cast<uint8_t>(n)} << 56;
  for (size_t j = 0; i + j < n; ++j) last |= uint64_t{static_cast<uint8_t>(data[i + j])} << (8 * j);
  s.absorb(last);
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.round();  // four finalisation rounds ("-4")
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace tapir::dns
