// Internet checksum: tapir's checksum_partial against the naive loop that
// takes one big-endian 16-bit word at a time (RFC 1071 4.1), in the same
// binary and run. Sizes 64 B to 64 KiB; offset 0 (aligned) and 1 (odd
// start, the case word-aligned implementations pay for).
//
//   scripts/bench --benchmark_filter=Checksum

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "wire/checksum.hpp"

namespace {

using tapir::wire::as_bytes;

// RFC 1071 4.1's loop: one 16-bit word at a time into a 32-bit
// accumulator, folded once at the end (no overflow up to 128 KiB). Kept out
// of line so the compiler cannot specialise it for the call site.
[[gnu::noinline]] uint16_t naive_checksum16(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  size_t i = 0;
  for (; i + 1 < n; i += 2) sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  if (i < n) sum += static_cast<uint32_t>(p[i] << 8);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

std::vector<uint8_t> make_buffer(size_t n) {
  std::vector<uint8_t> v(n + 64);
  std::mt19937 rng(42);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void BM_ChecksumTapir(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  const size_t off = static_cast<size_t>(state.range(1));
  const auto buf = make_buffer(len);
  for (auto _ : state) {
    benchmark::DoNotOptimize(tapir::wire::checksum_partial(as_bytes({buf.data() + off, len})));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
}

// The portable kernel that machines without AVX2 run.
void BM_ChecksumScalar(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  const size_t off = static_cast<size_t>(state.range(1));
  const auto buf = make_buffer(len);
  for (auto _ : state) {
    benchmark::DoNotOptimize(tapir::wire::checksum_sum_scalar(as_bytes({buf.data() + off, len})));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
}

void BM_ChecksumNaive16(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  const size_t off = static_cast<size_t>(state.range(1));
  const auto buf = make_buffer(len);
  for (auto _ : state) {
    benchmark::DoNotOptimize(naive_checksum16(buf.data() + off, len));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t off : {0, 1}) {
    for (int64_t len : {64, 256, 1500, 4096, 16384, 65536}) b->Args({len, off});
  }
  b->ArgNames({"bytes", "offset"});
}

BENCHMARK(BM_ChecksumTapir)->Apply(sizes);
BENCHMARK(BM_ChecksumScalar)->Apply(sizes);
BENCHMARK(BM_ChecksumNaive16)->Apply(sizes);

}  // namespace
