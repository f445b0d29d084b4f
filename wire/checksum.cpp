#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tapir::wire {
namespace {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);

inline uint64_t load_native64(const std::byte* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// a + b with end-around carry.
inline uint64_t add_carry(uint64_t a, uint64_t b) noexcept {
  const uint64_t s = a + b;
  return s + (s < b ? 1 : 0);
}

inline uint16_t bswap16(uint16_t v) noexcept { return static_cast<uint16_t>((v << 8) | (v >> 8)); }

// Sum of `data` in native byte order, folded to 16 bits; portable path.
uint16_t native_sum16_scalar(const std::byte* p, size_t n) noexcept {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  // 32 bytes per iteration in four independent carry chains.
  while (n >= 32) {
    a0 = add_carry(a0, load_native64(p));
    a1 = add_carry(a1, load_native64(p + 8));
    a2 = add_carry(a2, load_native64(p + 16));
    a3 = add_carry(a3, load_native64(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    a0 = add_carry(a0, load_native64(p));
    p += 8;
    n -= 8;
  }
  // Tail of 0-7 bytes: place them as they would sit in a zero-padded word.
  if (n > 0) {
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    a1 = add_carry(a1, tail);
  }
  uint64_t s = add_carry(add_carry(a0, a1), add_carry(a2, a3));
  return checksum_fold(s);
}

#if defined(__x86_64__)
// AVX2: each 32-bit lane of a load holds two native 16-bit words; split them
// with a mask and a shift and add both into 32-bit lane accumulators. A lane
// gains at most 2 * 0xffff per 64-byte step, so lanes are widened into a
// 64-bit total every kBlockSteps steps, long before they could overflow.
// No shuffles, so it runs at load and add throughput.
__attribute__((target("avx2"))) uint16_t native_sum16_avx2(const std::byte* p, size_t n) noexcept {
  constexpr size_t kBlockSteps = 16384;  // 16384 * 2 * 0xffff < 2^32
  const __m256i mask = _mm256_set1_epi32(0xffff);
  uint64_t total = 0;
  while (n >= 64) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t steps = std::min(n / 64, kBlockSteps);
    n -= steps * 64;
    for (; steps > 0; --steps) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));       // NOLINT
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));  // NOLINT
      a0 = _mm256_add_epi32(a0, _mm256_and_si256(v0, mask));
      a1 = _mm256_add_epi32(a1, _mm256_srli_epi32(v0, 16));
      a2 = _mm256_add_epi32(a2, _mm256_and_si256(v1, mask));
      a3 = _mm256_add_epi32(a3, _mm256_srli_epi32(v1, 16));
      p += 64;
    }
    // Widen each 32-bit lane into 64-bit lanes and add the four together.
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffff);
    __m256i wide = _mm256_setzero_si256();
    for (__m256i a : {a0, a1, a2, a3}) {
      wide = _mm256_add_epi64(wide, _mm256_and_si256(a, lo32));
      wide = _mm256_add_epi64(wide, _mm256_srli_epi64(a, 32));
    }
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), wide);  // NOLINT
    total += lanes[0] + lanes[1] + lanes[2] + lanes[3];
  }
  // Fewer than 64 bytes left, starting at an even offset: the scalar path.
  total += native_sum16_scalar(p, n);
  return checksum_fold(total);
}

using SumFn = uint16_t (*)(const std::byte*, size_t) noexcept;
SumFn pick_native_sum16() noexcept {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? native_sum16_avx2 : native_sum16_scalar;
}
const SumFn g_native_sum16 = pick_native_sum16();

inline uint16_t native_sum16(const std::byte* p, size_t n) noexcept {
  // Below 256 bytes the scalar path is as fast and skips the indirect call.
  return n < 256 ? native_sum16_scalar(p, n) : g_native_sum16(p, n);
}
#else
inline uint16_t native_sum16(const std::byte* p, size_t n) noexcept {
  return native_sum16_scalar(p, n);
}
#endif

// Sum as the host-order value of big-endian 16-bit words, folded.
uint16_t be_sum16(ConstBytes data) noexcept {
  const uint16_t s = native_sum16(data.data(), data.size());
  if constexpr (std::endian::native == std::endian::little) return bswap16(s);
  return s;
}

}  // namespace

uint16_t checksum_sum_scalar(ConstBytes data) noexcept {
  const uint16_t s = native_sum16_scalar(data.data(), data.size());
  if constexpr (std::endian::native == std::endian::little) return bswap16(s);
  return s;
}

uint32_t checksum_partial(ConstBytes data, uint32_t init) noexcept {
  return checksum_fold(uint64_t{init} + be_sum16(data));
}

void Checksum::add(ConstBytes data) noexcept {
  uint16_t s = be_sum16(data);
  // A piece that starts at an odd offset of the whole has its bytes in the
  // other halves of the words: its sum is the byte-swapped even-start sum.
  if (odd_) s = bswap16(s);
  sum_ += s;
  if ((data.size() & 1) != 0) odd_ = !odd_;
}

void Checksum::add_be16(uint16_t v) noexcept {
  TAPIR_CHECK(!odd_);
  sum_ += v;
}

void Checksum::add_be32(uint32_t v) noexcept {
  TAPIR_CHECK(!odd_);
  sum_ += (v >> 16) + (v & 0xffff);
}

void Checksum::add_ipv4_pseudo(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol,
                               uint16_t l4_length) noexcept {
  add_be32(src.value);
  add_be32(dst.value);
  add_be16(protocol);  // zero byte, then protocol
  add_be16(l4_length);
}

void Checksum::add_ipv6_pseudo(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t next_header,
                               uint32_t l4_length) noexcept {
  TAPIR_CHECK(!odd_);
  sum_ += be_sum16(as_bytes(src.octets));
  sum_ += be_sum16(as_bytes(dst.octets));
  add_be32(l4_length);
  add_be16(next_header);  // three zero bytes, then next header
}

uint16_t internet_checksum(ConstBytes data) noexcept {
  return static_cast<uint16_t>(~be_sum16(data));
}

uint16_t l4_checksum_ipv4(Ipv4Addr src, Ipv4Addr dst, uint8_t protocol, ConstBytes l4) noexcept {
  Checksum c;
  c.add_ipv4_pseudo(src, dst, protocol, static_cast<uint16_t>(l4.size()));
  c.add(l4);
  return c.finish();
}

uint16_t l4_checksum_ipv6(const Ipv6Addr& src, const Ipv6Addr& dst, uint8_t next_header,
                          ConstBytes l4) noexcept {
  Checksum c;
  c.add_ipv6_pseudo(src, dst, next_header, static_cast<uint32_t>(l4.size()));
  c.add(l4);
  return c.finish();
}

uint16_t checksum_update16(uint16_t checksum, uint16_t old_value, uint16_t new_value) noexcept {
  // RFC 1624 eqn. 3; avoids the -0 result that eqn. 2 can produce.
  const uint32_t s = uint32_t{static_cast<uint16_t>(~checksum)} +
                     uint32_t{static_cast<uint16_t>(~old_value)} + new_value;
  return static_cast<uint16_t>(~checksum_fold(s));
}

uint16_t checksum_update32(uint16_t checksum, uint32_t old_value, uint32_t new_value) noexcept {
  const uint16_t c = checksum_update16(checksum, static_cast<uint16_t>(old_value >> 16),
                                       static_cast<uint16_t>(new_value >> 16));
  return checksum_update16(c, static_cast<uint16_t>(old_value & 0xffff),
                           static_cast<uint16_t>(new_value & 0xffff));
}

uint16_t checksum_update_bytes(uint16_t checksum, ConstBytes old_bytes, ConstBytes new_bytes) noexcept {
  TAPIR_CHECK(old_bytes.size() == new_bytes.size() && old_bytes.size() % 2 == 0);
  // ~HC + ~m + m' summed over all words at once: ~m summed is ~(sum m).
  const uint32_t s = uint32_t{static_cast<uint16_t>(~checksum)} +
                     uint32_t{static_cast<uint16_t>(~be_sum16(old_bytes))} + be_sum16(new_bytes);
  return static_cast<uint16_t>(~checksum_fold(s));
}

}  // namespace tapir::wire
