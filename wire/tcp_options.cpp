#include "wire/tcp_options.hpp"

#include <algorithm>  // std::equal

namespace tapir::wire {
namespace {

using namespace tcp_option;  // NOLINT: option kinds read better unqualified here

// Sizes of the pieces of the Linux layout (see the header).
constexpr size_t kMssPieceLen = 4;
constexpr size_t kTimestampsPieceLen = 12;
constexpr size_t kSackPermittedPieceLen = 4;
constexpr size_t kWindowScalePieceLen = 4;
constexpr size_t kSackHeadPieceLen = 4;
// Where the values sit: in an option's data (after kind and length), and
// in the 12-byte timestamps piece (after its 4 bytes of kinds and lengths).
constexpr size_t kTsValOffset = 0;
constexpr size_t kTsEchoOffset = 4;
constexpr size_t kSackLeftOffset = 0;
constexpr size_t kSackRightOffset = 4;
constexpr size_t kTimestampsPieceValOffset = 4;

// Stores one known option whose kind and total length `len` (data in
// `data`) the walker has already bounds-checked. False: wrong length for
// the kind. Unknown kinds are accepted and ignored.
bool take_option(TcpOptions& o, uint8_t kind, size_t len, ConstBytes data) {
  switch (kind) {
    case kMss:
      if (len != kMssLen) return false;
      o.mss = load_be16(data, 0);
      return true;
    case kWindowScale:
      if (len != kWindowScaleLen) return false;
      o.window_scale = load_u8(data, 0);  // raw: clamping to 14 is the caller's business
      return true;
    case kSackPermitted:
      if (len != kSackPermittedLen) return false;
      o.sack_permitted = true;
      return true;
    case kSack: {
      if (len < kSackBaseLen + kSackBlockLen || (len - kSackBaseLen) % kSackBlockLen != 0) {
        return false;
      }
      const size_t n = (len - kSackBaseLen) / kSackBlockLen;
      if (n > kTcpMaxSackBlocks) return false;
      o.sack_blocks = {};
      for (size_t i = 0; i < n; ++i) {
        const size_t block = i * kSackBlockLen;
        o.sack_blocks[i] = {load_be32(data, block + kSackLeftOffset),
                            load_be32(data, block + kSackRightOffset)};
      }
      o.sack_count = static_cast<uint8_t>(n);
      return true;
    }
    case kTimestamps:
      if (len != kTimestampsLen) return false;
      o.timestamps = TcpTimestamps{load_be32(data, kTsValOffset), load_be32(data, kTsEchoOffset)};
      return true;
    default: return true;  // unknown kind with a sane length: skipped
  }
}

// Writes four bytes a b c d at `off`.
void store4(MutBytes out, size_t off, uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  store_u8(out, off, a);
  store_u8(out, off + 1, b);
  store_u8(out, off + 2, c);
  store_u8(out, off + 3, d);
}

}  // namespace

Expected<TcpOptions, ParseError> TcpOptions::parse(ConstBytes options) {
  TcpOptions o;
  size_t i = 0;
  while (i < options.size()) {
    const uint8_t kind = load_u8(options, i);
    if (kind == kEol) break;  // the rest is padding, whatever it holds
    if (kind == kNop) {
      ++i;
      continue;
    }
    // A TLV: its length byte must exist (i + 1 < size, no overflow since
    // i < size), be >= 2, and the option must end inside the block.
    if (options.size() - i < 2) return unexpected(ParseError::kBadOption);
    const size_t len = load_u8(options, i + 1);
    if (len < 2 || len > options.size() - i) return unexpected(ParseError::kBadOption);
    if (!take_option(o, kind, len, options.subspan(i + 2, len - 2))) {
      return unexpected(ParseError::kBadOption);
    }
    i += len;
  }
  return o;
}

std::span<const TcpSackBlock> TcpOptions::sacks() const {
  TAPIR_CHECK(sack_count <= kTcpMaxSackBlocks);
  return {sack_blocks.data(), sack_count};
}

size_t TcpOptions::buffer_len() const {
  TAPIR_CHECK(sack_count <= kTcpMaxSackBlocks);
  size_t n = 0;
  if (mss) n += kMssPieceLen;
  if (timestamps) {
    n += kTimestampsPieceLen;  // carries SACK-permitted in its padding
  } else if (sack_permitted) {
    n += kSackPermittedPieceLen;
  }
  if (window_scale) n += kWindowScalePieceLen;
  if (sack_count > 0) n += kSackHeadPieceLen + sack_count * kSackBlockLen;
  return n;
}

bool TcpOptions::emit(MutBytes out) const {
  if (!fits()) return false;
  TAPIR_CHECK(out.size() >= buffer_len());
  size_t off = 0;
  if (mss) {
    store4(out, off, kMss, kMssLen, static_cast<uint8_t>(*mss >> 8),
           static_cast<uint8_t>(*mss & 0xff));
    off += kMssPieceLen;
  }
  if (timestamps) {
    if (sack_permitted) {
      store4(out, off, kSackPermitted, kSackPermittedLen, kTimestamps, kTimestampsLen);
    } else {
      store4(out, off, kNop, kNop, kTimestamps, kTimestampsLen);
    }
    store_be32(out, off + kTimestampsPieceValOffset + kTsValOffset, timestamps->value);
    store_be32(out, off + kTimestampsPieceValOffset + kTsEchoOffset, timestamps->echo_reply);
    off += kTimestampsPieceLen;
  } else if (sack_permitted) {
    store4(out, off, kNop, kNop, kSackPermitted, kSackPermittedLen);
    off += kSackPermittedPieceLen;
  }
  if (window_scale) {
    store4(out, off, kNop, kWindowScale, kWindowScaleLen, *window_scale);
    off += kWindowScalePieceLen;
  }
  if (sack_count > 0) {
    store4(out, off, kNop, kNop, kSack,
           static_cast<uint8_t>(kSackBaseLen + sack_count * kSackBlockLen));
    off += kSackHeadPieceLen;
    for (const TcpSackBlock& b : sacks()) {
      store_be32(out, off + kSackLeftOffset, b.left);
      store_be32(out, off + kSackRightOffset, b.right);
      off += kSackBlockLen;
    }
  }
  TAPIR_CHECK(off == buffer_len());
  return true;
}

void TcpOptions::trim_sack_blocks() {
  while (!fits() && sack_count > 0) --sack_count;
  for (size_t i = sack_count; i < kTcpMaxSackBlocks; ++i) sack_blocks[i] = {};
  TAPIR_CHECK(fits());
}

bool TcpOptions::operator==(const TcpOptions& o) const {
  const auto a = sacks();
  const auto b = o.sacks();
  return mss == o.mss && window_scale == o.window_scale && sack_permitted == o.sack_permitted &&
         timestamps == o.timestamps && std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace tapir::wire
