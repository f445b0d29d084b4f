#pragma once
// Byte spans and big-endian (network order) loads and stores.
//
// Network byte order never leaves wire: views return host-order
// integers and builders take them. Loads and stores go through memcpy-free
// byte shifts, so alignment never matters, and each checks its bounds:
// views validate lengths once at parse() so these checks never fire on
// input, but a wrong offset in tapir's own code aborts instead of reading
// past a buffer.

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/check.hpp"

namespace tapir::wire {

using ConstBytes = std::span<const std::byte>;
using MutBytes = std::span<std::byte>;

inline ConstBytes as_bytes(std::span<const uint8_t> s) noexcept {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};  // NOLINT: byte view of bytes
}
inline MutBytes as_writable_bytes(std::span<uint8_t> s) noexcept {
  return {reinterpret_cast<std::byte*>(s.data()), s.size()};  // NOLINT: byte view of bytes
}

inline uint8_t load_u8(ConstBytes b, size_t off) {
  TAPIR_CHECK(off < b.size());
  return static_cast<uint8_t>(b[off]);
}
inline uint16_t load_be16(ConstBytes b, size_t off) {
  TAPIR_CHECK(off + 2 <= b.size());
  return static_cast<uint16_t>((static_cast<unsigned>(b[off]) << 8) | static_cast<unsigned>(b[off + 1]));
}
inline uint32_t load_be32(ConstBytes b, size_t off) {
  TAPIR_CHECK(off + 4 <= b.size());
  return (static_cast<uint32_t>(b[off]) << 24) | (static_cast<uint32_t>(b[off + 1]) << 16) |
         (static_cast<uint32_t>(b[off + 2]) << 8) | static_cast<uint32_t>(b[off + 3]);
}
// Little-endian: only virtio_net_hdr (virtio 1.0 is little-endian) uses it.
inline uint16_t load_le16(ConstBytes b, size_t off) {
  TAPIR_CHECK(off + 2 <= b.size());
  return static_cast<uint16_t>(static_cast<unsigned>(b[off]) | (static_cast<unsigned>(b[off + 1]) << 8));
}

inline void store_u8(MutBytes b, size_t off, uint8_t v) {
  TAPIR_CHECK(off < b.size());
  b[off] = std::byte{v};
}
inline void store_be16(MutBytes b, size_t off, uint16_t v) {
  TAPIR_CHECK(off + 2 <= b.size());
  b[off] = std::byte(v >> 8);
  b[off + 1] = std::byte(v & 0xff);
}
inline void store_be32(MutBytes b, size_t off, uint32_t v) {
  TAPIR_CHECK(off + 4 <= b.size());
  b[off] = std::byte(v >> 24);
  b[off + 1] = std::byte((v >> 16) & 0xff);
  b[off + 2] = std::byte((v >> 8) & 0xff);
  b[off + 3] = std::byte(v & 0xff);
}
inline void store_le16(MutBytes b, size_t off, uint16_t v) {
  TAPIR_CHECK(off + 2 <= b.size());
  b[off] = std::byte(v & 0xff);
  b[off + 1] = std::byte(v >> 8);
}

// Copies `src` to `dst` at `off`; bounds-checked like the stores.
void store_bytes(MutBytes dst, size_t off, ConstBytes src);

}  // namespace tapir::wire
