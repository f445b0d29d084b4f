#include "wire/checksum.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace tapir::wire {
namespace {

// The plain reference: big-endian 16-bit words, 32-bit accumulator, RFC 1071
// section 4.1's loop. Everything fast is checked against this.
uint16_t reference_sum(const uint8_t* p, size_t n) {
  uint64_t sum = 0;
  size_t i = 0;
  for (; i + 1 < n; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
  if (i < n) sum += uint32_t{p[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Checksum, Rfc1071Example) {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
  const std::vector<uint8_t> data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_fold(checksum_partial(as_bytes(data))), 0xddf2);
  EXPECT_EQ(internet_checksum(as_bytes(data)), 0x220d);
}

TEST(Checksum, Ipv4HeaderWithKnownChecksum) {
  // IPv4 header of an ICMP echo request 10.0.2.100 -> 10.0.2.2 (total length
  // 84, id 0x1f29, DF, TTL 64); header checksum 0x031b, computed by hand
  // from RFC 1071 and placed at offset 10.
  const std::vector<uint8_t> hdr = {0x45, 0x00, 0x00, 0x54, 0x1f, 0x29, 0x40, 0x00, 0x40, 0x01,
                                    0x03, 0x1b, 0x0a, 0x00, 0x02, 0x64, 0x0a, 0x00, 0x02, 0x02};
  EXPECT_EQ(internet_checksum(as_bytes(hdr)), 0);  // a correct header verifies to 0
  std::vector<uint8_t> zeroed = hdr;
  zeroed[10] = zeroed[11] = 0;
  EXPECT_EQ(internet_checksum(as_bytes(zeroed)), 0x031b);
}

TEST(Checksum, MatchesReferenceForEveryLengthAndOffset) {
  std::mt19937 rng(1071);
  const auto buf = random_bytes(rng, 4096 + 16);
  for (size_t off = 0; off < 16; ++off) {
    for (size_t len = 0; len <= 300; ++len) {
      const uint8_t* p = buf.data() + off;
      ASSERT_EQ(checksum_fold(checksum_partial(as_bytes({p, len}))), reference_sum(p, len))
          << "offset " << off << " length " << len;
    }
  }
}

TEST(Checksum, MatchesReferenceOnLargeRandomBuffers) {
  std::mt19937 rng(1624);
  for (size_t len : {1499u, 1500u, 9001u, 65535u, 65536u}) {
    for (size_t off : {0u, 1u, 3u}) {
      auto buf = random_bytes(rng, len + off);
      const uint8_t* p = buf.data() + off;
      ASSERT_EQ(checksum_fold(checksum_partial(as_bytes({p, len}))), reference_sum(p, len))
          << "offset " << off << " length " << len;
    }
  }
}

TEST(Checksum, ScalarKernelMatchesReference) {
  std::mt19937 rng(791);
  const auto buf = random_bytes(rng, 70000);
  for (size_t off = 0; off < 4; ++off) {
    for (size_t len : {0u, 1u, 7u, 31u, 63u, 64u, 65u, 1500u, 65535u, 69000u}) {
      const uint8_t* p = buf.data() + off;
      ASSERT_EQ(checksum_sum_scalar(as_bytes({p, len})), reference_sum(p, len))
          << "offset " << off << " length " << len;
    }
  }
}

TEST(Checksum, VectorBlockBoundaryAndMultiMegabyte) {
  // The AVX2 kernel widens its lanes every 1 MiB; cross that boundary with
  // all-ones words (the largest per-lane growth) and with random data.
  std::vector<uint8_t> ff(3 * 1024 * 1024 + 77, 0xff);
  EXPECT_EQ(checksum_fold(checksum_partial(as_bytes(ff))), reference_sum(ff.data(), ff.size()));
  std::mt19937 rng(2460);
  const auto buf = random_bytes(rng, 2 * 1024 * 1024 + 131);
  EXPECT_EQ(checksum_fold(checksum_partial(as_bytes(buf))), reference_sum(buf.data(), buf.size()));
}

TEST(Checksum, AllOnesDoesNotOverflow) {
  // Worst case for carries: every word 0xffff.
  std::vector<uint8_t> ff(65536, 0xff);
  EXPECT_EQ(checksum_fold(checksum_partial(as_bytes(ff))), reference_sum(ff.data(), ff.size()));
}

TEST(Checksum, PiecesAtOddBoundariesEqualTheWhole) {
  std::mt19937 rng(768);
  for (int round = 0; round < 200; ++round) {
    const auto buf = random_bytes(rng, 1 + rng() % 2000);
    Checksum c;
    size_t pos = 0;
    while (pos < buf.size()) {
      const size_t piece = std::min<size_t>(buf.size() - pos, 1 + rng() % 97);
      c.add(as_bytes({buf.data() + pos, piece}));
      pos += piece;
    }
    ASSERT_EQ(c.sum(), reference_sum(buf.data(), buf.size())) << "round " << round;
  }
}

TEST(Checksum, Ipv4PseudoHeaderEqualsExplicitBytes) {
  std::mt19937 rng(793);
  const auto seg = random_bytes(rng, 333);
  const Ipv4Addr src = Ipv4Addr::from_octets(10, 0, 2, 100);
  const Ipv4Addr dst = Ipv4Addr::from_octets(192, 0, 2, 1);
  std::vector<uint8_t> whole = {10, 0, 2, 100, 192, 0, 2, 1, 0, 6, 0x01, 0x4d};  // len 333
  whole.insert(whole.end(), seg.begin(), seg.end());
  EXPECT_EQ(l4_checksum_ipv4(src, dst, 6, as_bytes(seg)),
            static_cast<uint16_t>(~reference_sum(whole.data(), whole.size())));
}

TEST(Checksum, Ipv6PseudoHeaderEqualsExplicitBytes) {
  std::mt19937 rng(8200);
  const auto seg = random_bytes(rng, 71);
  const auto src = *Ipv6Addr::parse("fd00::100");
  const auto dst = *Ipv6Addr::parse("2001:db8::1");
  std::vector<uint8_t> whole(src.octets.begin(), src.octets.end());
  whole.insert(whole.end(), dst.octets.begin(), dst.octets.end());
  for (int b : {0, 0, 0, 71, 0, 0, 0, 17}) whole.push_back(static_cast<uint8_t>(b));
  whole.insert(whole.end(), seg.begin(), seg.end());
  EXPECT_EQ(l4_checksum_ipv6(src, dst, 17, as_bytes(seg)),
            static_cast<uint16_t>(~reference_sum(whole.data(), whole.size())));
}

TEST(Checksum, IncrementalUpdateMatchesRecompute) {
  std::mt19937 rng(1624);
  for (int round = 0; round < 2000; ++round) {
    auto buf = random_bytes(rng, 40);
    const uint16_t before = internet_checksum(as_bytes(buf));
    const size_t at = 2 * (rng() % 18);  // an even offset with room for 32 bits
    const uint32_t old32 = (uint32_t{buf[at]} << 24) | (uint32_t{buf[at + 1]} << 16) |
                           (uint32_t{buf[at + 2]} << 8) | buf[at + 3];
    const uint32_t new32 = round % 7 == 0 ? 0 : static_cast<uint32_t>(rng());
    buf[at] = static_cast<uint8_t>(new32 >> 24);
    buf[at + 1] = static_cast<uint8_t>(new32 >> 16);
    buf[at + 2] = static_cast<uint8_t>(new32 >> 8);
    buf[at + 3] = static_cast<uint8_t>(new32);
    const uint16_t after = internet_checksum(as_bytes(buf));
    // Ones' complement has two zeros; both encode the same sum.
    const uint16_t got = checksum_update32(before, old32, new32);
    ASSERT_TRUE(got == after || (got == 0xffff && after == 0) || (got == 0 && after == 0xffff))
        << "round " << round << " got " << got << " want " << after;
  }
}

TEST(Checksum, IncrementalUpdateOfIpv6Address) {
  std::mt19937 rng(4291);
  auto buf = random_bytes(rng, 56);
  const uint16_t before = internet_checksum(as_bytes(buf));
  std::vector<uint8_t> old_addr(buf.begin() + 8, buf.begin() + 24);
  const auto new_addr = random_bytes(rng, 16);
  std::copy(new_addr.begin(), new_addr.end(), buf.begin() + 8);
  EXPECT_EQ(checksum_update_bytes(before, as_bytes(old_addr), as_bytes(new_addr)),
            internet_checksum(as_bytes(buf)));
}

}  // namespace
}  // namespace tapir::wire
