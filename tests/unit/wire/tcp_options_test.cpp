#include "wire/tcp_options.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace tapir::wire {
namespace {

// Option blocks of segments Linux 6.18 sent, captured in private
// namespaces (see tcp_test.cpp for the exchanges).

// SYN from socat's connect() over IPv4.
const std::vector<uint8_t> kLinuxSyn = {
    0x02, 0x04, 0x05, 0xb4,  // MSS 1460
    0x04, 0x02,              // SACK permitted
    0x08, 0x0a,              // timestamps
    0x48, 0x91, 0x2f, 0x16,  //   TSval 1217474326
    0x00, 0x00, 0x00, 0x00,  //   TSecr 0
    0x01,                    // NOP
    0x03, 0x03, 0x0a,        // window scale 10
};

// The SYN-ACK answering it.
const std::vector<uint8_t> kLinuxSynAck = {
    0x02, 0x04, 0x05, 0xb4,                                      // MSS 1460
    0x04, 0x02,                                                  // SACK permitted
    0x08, 0x0a, 0x5a, 0x57, 0x9e, 0x4d, 0x48, 0x91, 0x2f, 0x16,  // TS 1515691597 / 1217474326
    0x01, 0x03, 0x03, 0x0a,                                      // NOP, window scale 10
};

// SYN over IPv6: MSS 1440 (1500 - 40 - 20).
const std::vector<uint8_t> kLinuxSynV6 = {
    0x02, 0x04, 0x05, 0xa0,                                      // MSS 1440
    0x04, 0x02,                                                  // SACK permitted
    0x08, 0x0a, 0xdc, 0xdc, 0x78, 0xf7, 0x00, 0x00, 0x00, 0x00,  // TS 3705436407 / 0
    0x01, 0x03, 0x03, 0x0a,                                      // NOP, window scale 10
};

// Established-state ACK.
const std::vector<uint8_t> kLinuxAck = {
    0x01, 0x01,                                                  // NOP NOP
    0x08, 0x0a, 0x48, 0x91, 0x2f, 0x17, 0x5a, 0x57, 0x9e, 0x4d,  // TS 1217474327 / 1515691597
};

// Duplicate ACKs with SACK blocks, read from a tap: one block...
const std::vector<uint8_t> kLinuxSack1 = {
    0x01, 0x01,                                                  // NOP NOP
    0x08, 0x0a, 0x74, 0x5f, 0x4a, 0x0c, 0x00, 0x00, 0x00, 0x03,  // TS 1952401932 / 3
    0x01, 0x01,                                                  // NOP NOP
    0x05, 0x0a,                                                  // SACK, 1 block
    0x00, 0x0f, 0x42, 0xa5, 0x00, 0x0f, 0x43, 0x09,              // 1000101-1000201
};

// ...two...
const std::vector<uint8_t> kLinuxSack2 = {
    0x01, 0x01,                                                  // NOP NOP
    0x08, 0x0a, 0x74, 0x5f, 0x4b, 0x39, 0x00, 0x00, 0x00, 0x03,  // TS 1952402233 / 3
    0x01, 0x01,                                                  // NOP NOP
    0x05, 0x12,                                                  // SACK, 2 blocks
    0x00, 0x0f, 0x43, 0x6d, 0x00, 0x0f, 0x43, 0xd1,              // 1000301-1000401
    0x00, 0x0f, 0x42, 0xa5, 0x00, 0x0f, 0x43, 0x09,              // 1000101-1000201
};

// ...and three, the most that fit beside timestamps: exactly 40 bytes.
const std::vector<uint8_t> kLinuxSack3 = {
    0x01, 0x01,                                                  // NOP NOP
    0x08, 0x0a, 0x74, 0x5f, 0x4c, 0x66, 0x00, 0x00, 0x00, 0x03,  // TS 1952402534 / 3
    0x01, 0x01,                                                  // NOP NOP
    0x05, 0x1a,                                                  // SACK, 3 blocks
    0x00, 0x0f, 0x44, 0x35, 0x00, 0x0f, 0x44, 0x99,              // 1000501-1000601
    0x00, 0x0f, 0x43, 0x6d, 0x00, 0x0f, 0x43, 0xd1,              // 1000301-1000401
    0x00, 0x0f, 0x42, 0xa5, 0x00, 0x0f, 0x43, 0x09,              // 1000101-1000201
};

TcpOptions parse_ok(const std::vector<uint8_t>& b) {
  auto o = TcpOptions::parse(as_bytes(b));
  EXPECT_TRUE(o) << parse_error_name(o.error());
  return o ? *o : TcpOptions{};
}

std::vector<uint8_t> emit(const TcpOptions& o) {
  std::vector<uint8_t> out(o.buffer_len());
  EXPECT_TRUE(o.emit(as_writable_bytes(out)));
  return out;
}

TEST(TcpOptions, ParsesLinuxSyn) {
  const TcpOptions o = parse_ok(kLinuxSyn);
  EXPECT_EQ(o.mss, 1460);
  EXPECT_TRUE(o.sack_permitted);
  EXPECT_EQ(o.timestamps, (TcpTimestamps{1217474326, 0}));
  EXPECT_EQ(o.window_scale, 10);
  EXPECT_EQ(o.sack_count, 0);
  EXPECT_TRUE(o.sacks().empty());
}

TEST(TcpOptions, ParsesLinuxSackBlocks) {
  const TcpOptions o = parse_ok(kLinuxSack3);
  EXPECT_FALSE(o.mss);
  EXPECT_FALSE(o.window_scale);
  EXPECT_FALSE(o.sack_permitted);
  EXPECT_EQ(o.timestamps, (TcpTimestamps{1952402534, 3}));
  ASSERT_EQ(o.sacks().size(), 3u);
  EXPECT_EQ(o.sacks()[0], (TcpSackBlock{1000501, 1000601}));
  EXPECT_EQ(o.sacks()[1], (TcpSackBlock{1000301, 1000401}));
  EXPECT_EQ(o.sacks()[2], (TcpSackBlock{1000101, 1000201}));
}

// Linux's option layout is the one emit() writes: its blocks come back
// byte for byte.
TEST(TcpOptions, LinuxOptionsRoundTripByteExact) {
  for (const auto* b : {&kLinuxSyn, &kLinuxSynAck, &kLinuxSynV6, &kLinuxAck, &kLinuxSack1,
                        &kLinuxSack2, &kLinuxSack3}) {
    const TcpOptions o = parse_ok(*b);
    EXPECT_EQ(o.buffer_len(), b->size());
    EXPECT_EQ(emit(o), *b);
  }
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

TEST(TcpOptions, MalformedInputs) {
  const std::vector<Malformed> cases = {
      {"MSS length 0", {0x02, 0x00, 0x05, 0xb4}, ParseError::kBadOption},
      {"unknown kind length 0", {0x1e, 0x00, 0x01, 0x01}, ParseError::kBadOption},
      {"TS length 1", {0x08, 0x01, 0x01, 0x01}, ParseError::kBadOption},
      {"unknown kind length 1", {0x01, 0x01, 0xfe, 0x01}, ParseError::kBadOption},
      {"MSS runs past the end", {0x02, 0x04, 0x05}, ParseError::kBadOption},
      {"unknown kind runs past the end", {0x01, 0x22, 0x0a, 0x00, 0x00}, ParseError::kBadOption},
      {"length 255", {0x01, 0x01, 0x13, 0xff, 0x00, 0x00}, ParseError::kBadOption},
      {"MSS kind as the very last byte", {0x01, 0x01, 0x01, 0x02}, ParseError::kBadOption},
      {"unknown kind as the very last byte", {0xfe}, ParseError::kBadOption},
      {"TS kind after a valid MSS, no length",
       {0x02, 0x04, 0x05, 0xb4, 0x08},
       ParseError::kBadOption},
      {"MSS length 3", {0x02, 0x03, 0x05, 0x01}, ParseError::kBadOption},
      {"MSS length 5", {0x02, 0x05, 0x05, 0xb4, 0x00}, ParseError::kBadOption},
      {"window scale length 4", {0x03, 0x04, 0x07, 0x00}, ParseError::kBadOption},
      {"window scale length 2", {0x01, 0x03, 0x02, 0x01}, ParseError::kBadOption},
      {"SACK-permitted length 3", {0x04, 0x03, 0x00, 0x01}, ParseError::kBadOption},
      {"TS length 8", {0x08, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}, ParseError::kBadOption},
      {"TS length 12", {0x08, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, ParseError::kBadOption},
      {"SACK length 2 (no blocks)", {0x01, 0x01, 0x05, 0x02}, ParseError::kBadOption},
      {"SACK length 6", {0x05, 0x06, 0x00, 0x0f, 0x42, 0xa5, 0x01, 0x01}, ParseError::kBadOption},
      {"SACK length 11", {0x05, 0x0b, 0, 0, 0, 1, 0, 0, 0, 2, 0}, ParseError::kBadOption},
      // 4 blocks is legal, but only 3 follow: runs past the end.
      {"SACK length 34 with 26 bytes",
       {0x05, 0x22, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6},
       ParseError::kBadOption},
      // 5 blocks: all 42 bytes present, still more than RFC 2018 allows.
      {"SACK length 42",
       [] {
         std::vector<uint8_t> b(42, 0x11);
         b[0] = 0x05;
         b[1] = 42;
         return b;
       }(),
       ParseError::kBadOption},
      {"bad option after good ones",
       {0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03},
       ParseError::kBadOption},
  };
  for (const auto& c : cases) {
    auto r = TcpOptions::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(TcpOptions, EolStopsTheWalkAndGarbageAfterItIsIgnored) {
  // MSS, EOL, then bytes that would be a malformed option.
  const TcpOptions o = parse_ok({0x02, 0x04, 0x05, 0xb4, 0x00, 0x02, 0x00, 0xff, 0x08});
  EXPECT_EQ(o.mss, 1460);
  EXPECT_FALSE(o.window_scale);
  EXPECT_FALSE(o.timestamps);
  EXPECT_FALSE(o.sack_permitted);
}

TEST(TcpOptions, EmptyAndPaddingOnly) {
  EXPECT_EQ(parse_ok({}), TcpOptions{});
  EXPECT_EQ(parse_ok({0x01, 0x01, 0x01, 0x01}), TcpOptions{});
  EXPECT_EQ(parse_ok({0x00, 0x00, 0x00, 0x00}), TcpOptions{});
}

TEST(TcpOptions, UnknownKindsAreSkipped) {
  const TcpOptions o = parse_ok({
      0x22, 0x0a, 1,    2,    3, 4, 5, 6, 7, 8,  // TCP Fast Open cookie (kind 34)
      0x1e, 0x04, 0x20, 0x01,                    // MPTCP (kind 30)
      0xfe, 0x02,                                // experimental, no data
      0x02, 0x04, 0x05, 0xb4,                    // MSS 1460
  });
  EXPECT_EQ(o.mss, 1460);
}

TEST(TcpOptions, ValuesAreKeptRaw) {
  // Window scale 15 is above RFC 7323's 14: kept as sent for the caller to clamp.
  const TcpOptions o = parse_ok({0x01, 0x03, 0x03, 0x0f, 0x02, 0x04, 0x00, 0x00});
  EXPECT_EQ(o.window_scale, 15);
  EXPECT_EQ(o.mss, 0);
  EXPECT_EQ(emit(o), (std::vector<uint8_t>{0x02, 0x04, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0f}));
}

TEST(TcpOptions, LaterDuplicateWins) {
  const TcpOptions o = parse_ok({
      0x02, 0x04, 0x05, 0xb4,                                             // MSS 1460
      0x02, 0x04, 0x02, 0x18,                                             // MSS 536
      0x05, 0x12, 0,    0,    0, 1, 0, 0, 0, 2,  0, 0, 0, 3, 0, 0, 0, 4,  // SACK, 2 blocks
      0x05, 0x0a, 0,    0,    0, 9, 0, 0, 0, 10,                          // SACK, 1 block
  });
  EXPECT_EQ(o.mss, 536);
  ASSERT_EQ(o.sack_count, 1);
  EXPECT_EQ(o.sacks()[0], (TcpSackBlock{9, 10}));
  EXPECT_EQ(o.sack_blocks[1], TcpSackBlock{});  // the earlier option's blocks are gone
}

TEST(TcpOptions, FourSackBlocksParse) {
  std::vector<uint8_t> b = {0x01, 0x01, 0x05, 0x22};
  for (uint8_t i = 1; i <= 8; ++i) b.insert(b.end(), {0, 0, 0, i});
  const TcpOptions o = parse_ok(b);
  ASSERT_EQ(o.sack_count, 4);
  EXPECT_EQ(o.sacks()[3], (TcpSackBlock{7, 8}));
  EXPECT_EQ(emit(o), b);  // 36 bytes: fits without timestamps
}

TEST(TcpOptions, EmitLayoutOfEachPiece) {
  TcpOptions ts_only;
  ts_only.timestamps = TcpTimestamps{0x01020304, 0x05060708};
  EXPECT_EQ(emit(ts_only), (std::vector<uint8_t>{0x01, 0x01, 0x08, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8}));

  TcpOptions sack_perm_only;
  sack_perm_only.sack_permitted = true;
  EXPECT_EQ(emit(sack_perm_only), (std::vector<uint8_t>{0x01, 0x01, 0x04, 0x02}));

  TcpOptions mss_ws;
  mss_ws.mss = 65495;
  mss_ws.window_scale = 7;
  EXPECT_EQ(emit(mss_ws), (std::vector<uint8_t>{0x02, 0x04, 0xff, 0xd7, 0x01, 0x03, 0x03, 0x07}));

  EXPECT_EQ(TcpOptions{}.buffer_len(), 0u);
  EXPECT_TRUE(emit(TcpOptions{}).empty());
}

TEST(TcpOptions, CombinationThatDoesNotFitIsRefused) {
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = TcpTimestamps{1, 2};
  o.window_scale = 7;
  o.sack_count = 4;
  for (uint32_t i = 0; i < 4; ++i) o.sack_blocks[i] = {i * 10, i * 10 + 5};
  EXPECT_EQ(o.buffer_len(), 56u);  // 4 + 12 + 4 + 36
  EXPECT_FALSE(o.fits());
  std::vector<uint8_t> out(56, 0xee);
  EXPECT_FALSE(o.emit(as_writable_bytes(out)));
  EXPECT_EQ(out, std::vector<uint8_t>(56, 0xee));  // nothing written

  // Timestamps and 4 blocks: 48 bytes; trimming keeps the 3 most recent.
  TcpOptions ack;
  ack.timestamps = TcpTimestamps{1, 2};
  ack.sack_count = 4;
  for (uint32_t i = 0; i < 4; ++i) ack.sack_blocks[i] = {i * 10, i * 10 + 5};
  EXPECT_EQ(ack.buffer_len(), 48u);
  EXPECT_FALSE(ack.fits());
  ack.trim_sack_blocks();
  EXPECT_TRUE(ack.fits());
  EXPECT_EQ(ack.buffer_len(), 40u);
  ASSERT_EQ(ack.sack_count, 3);
  EXPECT_EQ(ack.sacks()[2], (TcpSackBlock{20, 25}));
  EXPECT_EQ(ack.sack_blocks[3], TcpSackBlock{});

  // The SYN-style set keeps 2 blocks (4 + 12 + 4 + 20 = 40); trimming a
  // fitting set changes nothing.
  o.trim_sack_blocks();
  EXPECT_EQ(o.sack_count, 2);
  EXPECT_EQ(o.buffer_len(), 40u);
  const TcpOptions before = o;
  o.trim_sack_blocks();
  EXPECT_EQ(o, before);

  // Everything but SACK blocks always fits.
  o.sack_count = 0;
  EXPECT_EQ(o.buffer_len(), 20u);
  EXPECT_TRUE(o.fits());
}

TEST(TcpOptions, ParseEmitParseIsStable) {
  TcpOptions o;
  o.mss = 1400;
  o.window_scale = 14;
  o.sack_permitted = true;
  o.timestamps = TcpTimestamps{0xfffffffe, 0x7fffffff};
  const auto bytes = emit(o);
  EXPECT_EQ(parse_ok(bytes), o);

  TcpOptions sack;
  sack.sack_count = 2;
  sack.sack_blocks = {{{0xfffffff0, 0x10}, {100, 200}, {}, {}}};
  EXPECT_EQ(parse_ok(emit(sack)), sack);
}

TEST(TcpOptions, EqualityIgnoresUnusedSackSlots) {
  TcpOptions a;
  TcpOptions b;
  a.sack_count = b.sack_count = 1;
  a.sack_blocks[0] = b.sack_blocks[0] = {1, 2};
  b.sack_blocks[2] = {7, 8};  // stale, not in use
  EXPECT_EQ(a, b);
  b.sack_count = 3;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace tapir::wire
