#include "wire/tcp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace tapir::wire {
namespace {

// Segments captured with tcpdump on a veth between two private namespaces
// (tx checksum offload and TSO off, so checksums are complete and segments
// are as sent): `echo "hello tapir" | socat -u - TCP4:192.0.2.2:5001,
// sourceport=40001` from 192.0.2.1 (Linux 6.18), and the same over IPv6.
// TCP segments only (the IP header is stripped).
const Ipv4Addr kClient4 = Ipv4Addr::from_octets(192, 0, 2, 1);
const Ipv4Addr kServer4 = Ipv4Addr::from_octets(192, 0, 2, 2);
const Ipv6Addr kClient6 = *Ipv6Addr::parse("2001:db8::1");
const Ipv6Addr kServer6 = *Ipv6Addr::parse("2001:db8::2");

const std::vector<uint8_t> kSynV4 = {
    0x9c, 0x41,              // source port 40001
    0x13, 0x89,              // destination port 5001
    0xb9, 0x84, 0x69, 0xaf,  // sequence number 3112462767
    0x00, 0x00, 0x00, 0x00,  // acknowledgment number 0
    0xa0,                    // data offset 10 (40 bytes), reserved 0
    0x02,                    // SYN
    0xfa, 0xf0,              // window 64240
    0x7e, 0x62,              // checksum
    0x00, 0x00,              // urgent pointer
    0x02, 0x04, 0x05, 0xb4,  // MSS 1460
    0x04, 0x02,              // SACK permitted
    0x08, 0x0a, 0x48, 0x91, 0x2f, 0x16, 0x00, 0x00, 0x00, 0x00,  // TS val 1217474326 ecr 0
    0x01,                                                        // NOP
    0x03, 0x03, 0x0a,                                            // window scale 10
};

// The server's answer, 192.0.2.2:5001 -> 192.0.2.1:40001.
const std::vector<uint8_t> kSynAckV4 = {
    0x13, 0x89,                                                  // source port 5001
    0x9c, 0x41,                                                  // destination port 40001
    0x79, 0xc9, 0xd1, 0xda,                                      // sequence number 2043269594
    0xb9, 0x84, 0x69, 0xb0,                                      // acknowledgment number 3112462768
    0xa0,                                                        // data offset 10
    0x12,                                                        // SYN ACK
    0xfe, 0x88,                                                  // window 65160
    0x36, 0x70,                                                  // checksum
    0x00, 0x00,                                                  // urgent pointer
    0x02, 0x04, 0x05, 0xb4,                                      // MSS 1460
    0x04, 0x02,                                                  // SACK permitted
    0x08, 0x0a, 0x5a, 0x57, 0x9e, 0x4d, 0x48, 0x91, 0x2f, 0x16,  // TS val 1515691597 ecr 1217474326
    0x01,                                                        // NOP
    0x03, 0x03, 0x0a,                                            // window scale 10
};

const std::vector<uint8_t> kPshAckV4 = {
    0x9c, 0x41,                                                  // source port 40001
    0x13, 0x89,                                                  // destination port 5001
    0xb9, 0x84, 0x69, 0xb0,                                      // sequence number 3112462768
    0x79, 0xc9, 0xd1, 0xdb,                                      // acknowledgment number 2043269595
    0x80,                                                        // data offset 8 (32 bytes)
    0x18,                                                        // PSH ACK
    0x00, 0x3f,                                                  // window 63 (<< 10)
    0xc8, 0xac,                                                  // checksum
    0x00, 0x00,                                                  // urgent pointer
    0x01, 0x01,                                                  // NOP NOP
    0x08, 0x0a, 0x48, 0x91, 0x2f, 0x17, 0x5a, 0x57, 0x9e, 0x4d,  // TS val 1217474327 ecr 1515691597
    'h',  'e',  'l',  'l',  'o',  ' ',  't',  'a',  'p',  'i',  'r', '\n',  // payload
};

const std::vector<uint8_t> kFinAckV4 = {
    0x9c, 0x41, 0x13, 0x89,  // ports 40001 -> 5001
    0xb9, 0x84, 0x69, 0xbc,  // sequence number 3112462780
    0x79, 0xc9, 0xd1, 0xdb,  // acknowledgment number 2043269595
    0x80, 0x11,              // data offset 8, FIN ACK
    0x00, 0x3f,              // window 63
    0x63, 0x7a,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01, 0x08, 0x0a, 0x48, 0x91, 0x2f, 0x17, 0x5a, 0x57, 0x9e, 0x4e,  // NOP NOP TS
};

// [2001:db8::1]:40002 -> [2001:db8::2]:5002.
const std::vector<uint8_t> kSynV6 = {
    0x9c, 0x42,                                                  // source port 40002
    0x13, 0x8a,                                                  // destination port 5002
    0xc6, 0x03, 0x13, 0x04,                                      // sequence number 3322090244
    0x00, 0x00, 0x00, 0x00,                                      // acknowledgment number 0
    0xa0, 0x02,                                                  // data offset 10, SYN
    0xfd, 0x20,                                                  // window 64800
    0x10, 0xd3,                                                  // checksum
    0x00, 0x00,                                                  // urgent pointer
    0x02, 0x04, 0x05, 0xa0,                                      // MSS 1440
    0x04, 0x02,                                                  // SACK permitted
    0x08, 0x0a, 0xdc, 0xdc, 0x78, 0xf7, 0x00, 0x00, 0x00, 0x00,  // TS val 3705436407 ecr 0
    0x01, 0x03, 0x03, 0x0a,                                      // NOP, window scale 10
};

const std::vector<uint8_t> kPshAckV6 = {
    0x9c, 0x42, 0x13, 0x8a,  // ports 40002 -> 5002
    0xc6, 0x03, 0x13, 0x05,  // sequence number 3322090245
    0x67, 0x79, 0x27, 0x35,  // acknowledgment number 1735993141
    0x80, 0x18,              // data offset 8, PSH ACK
    0x00, 0x40,              // window 64
    0x51, 0x74,              // checksum
    0x00, 0x00,              // urgent pointer
    0x01, 0x01, 0x08, 0x0a, 0xdc, 0xdc, 0x78, 0xf7, 0xc4, 0xf3, 0x7c, 0x1d,  // NOP NOP TS
    'h',  'e',  'l',  'l',  'o',  ' ',  't',  'a',  'p',  'i',  'r',  ' ',  'v', '6', '\n',
};

// A duplicate ACK with three SACK blocks, read from a tap (offloads off)
// in a private namespace: the kernel at 192.0.2.2:5001 answering a peer at
// 192.0.2.1:40010 that sent bytes 101-200, 301-400 and 501-600 but not 1-100.
const std::vector<uint8_t> kSackAckV4 = {
    0x13, 0x89,                                                  // source port 5001
    0x9c, 0x4a,                                                  // destination port 40010
    0x57, 0x35, 0xf6, 0xe2,                                      // sequence number 1463154402
    0x00, 0x0f, 0x42, 0x41,                                      // acknowledgment number 1000001
    0xf0, 0x10,                                                  // data offset 15 (60 bytes), ACK
    0x00, 0x40,                                                  // window 64
    0xe5, 0x27,                                                  // checksum
    0x00, 0x00,                                                  // urgent pointer
    0x01, 0x01,                                                  // NOP NOP
    0x08, 0x0a, 0x74, 0x5f, 0x4c, 0x66, 0x00, 0x00, 0x00, 0x03,  // TS val 1952402534 ecr 3
    0x01, 0x01,                                                  // NOP NOP
    0x05, 0x1a,                                                  // SACK, 26 bytes: 3 blocks
    0x00, 0x0f, 0x44, 0x35, 0x00, 0x0f, 0x44, 0x99,  // 1000501-1000601 (most recent first)
    0x00, 0x0f, 0x43, 0x6d, 0x00, 0x0f, 0x43, 0xd1,  // 1000301-1000401
    0x00, 0x0f, 0x42, 0xa5, 0x00, 0x0f, 0x43, 0x09,  // 1000101-1000201
};

std::string text(ConstBytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};  // NOLINT: bytes as chars
}

struct Captured {
  const char* name;
  const std::vector<uint8_t>* bytes;
  std::variant<std::pair<Ipv4Addr, Ipv4Addr>, std::pair<Ipv6Addr, Ipv6Addr>> addrs;
};

const std::vector<Captured>& captured() {
  static const std::vector<Captured> all = {
      {"syn v4", &kSynV4, std::pair{kClient4, kServer4}},
      {"syn-ack v4", &kSynAckV4, std::pair{kServer4, kClient4}},
      {"psh-ack v4", &kPshAckV4, std::pair{kClient4, kServer4}},
      {"fin-ack v4", &kFinAckV4, std::pair{kClient4, kServer4}},
      {"syn v6", &kSynV6, std::pair{kClient6, kServer6}},
      {"psh-ack v6", &kPshAckV6, std::pair{kClient6, kServer6}},
      {"sack ack v4", &kSackAckV4, std::pair{kServer4, kClient4}},
  };
  return all;
}

bool checksum_ok(const TcpView& v, const Captured& c) {
  return std::visit([&](const auto& a) { return v.checksum_ok(a.first, a.second); }, c.addrs);
}

void fill_checksum(MutBytes seg, const Captured& c) {
  std::visit([&](const auto& a) { fill_tcp_checksum(seg, a.first, a.second); }, c.addrs);
}

TEST(TcpView, ParsesSynFields) {
  auto tcp = TcpView::parse(as_bytes(kSynV4));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->source_port(), 40001);
  EXPECT_EQ(tcp->destination_port(), 5001);
  EXPECT_EQ(tcp->sequence_number(), 3112462767u);
  EXPECT_EQ(tcp->acknowledgment_number(), 0u);
  EXPECT_EQ(tcp->data_offset(), 10);
  EXPECT_EQ(tcp->header_len(), 40u);
  EXPECT_EQ(tcp->flags(), tcp_flag::kSyn);
  EXPECT_TRUE(tcp->syn());
  EXPECT_FALSE(tcp->ack());
  EXPECT_EQ(tcp->window(), 64240);
  EXPECT_EQ(tcp->checksum(), 0x7e62);
  EXPECT_EQ(tcp->urgent_pointer(), 0);
  EXPECT_EQ(tcp->options().size(), 20u);
  EXPECT_TRUE(tcp->payload().empty());
}

TEST(TcpView, ParsesDataSegment) {
  auto tcp = TcpView::parse(as_bytes(kPshAckV4));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->sequence_number(), 3112462768u);
  EXPECT_EQ(tcp->acknowledgment_number(), 2043269595u);
  EXPECT_EQ(tcp->header_len(), 32u);
  EXPECT_TRUE(tcp->psh());
  EXPECT_TRUE(tcp->ack());
  EXPECT_FALSE(tcp->syn());
  EXPECT_FALSE(tcp->fin());
  EXPECT_EQ(tcp->window(), 63);
  EXPECT_EQ(tcp->options().size(), 12u);
  EXPECT_EQ(text(tcp->payload()), "hello tapir\n");
}

TEST(TcpView, EachFlagHasItsAccessor) {
  struct Flag {
    uint8_t bit;
    bool (TcpView::*get)() const;
  };
  const Flag flags[] = {
      {tcp_flag::kFin, &TcpView::fin}, {tcp_flag::kSyn, &TcpView::syn},
      {tcp_flag::kRst, &TcpView::rst}, {tcp_flag::kPsh, &TcpView::psh},
      {tcp_flag::kAck, &TcpView::ack}, {tcp_flag::kUrg, &TcpView::urg},
      {tcp_flag::kEce, &TcpView::ece}, {tcp_flag::kCwr, &TcpView::cwr},
  };
  for (const Flag& f : flags) {
    auto b = kFinAckV4;
    b[13] = f.bit;
    auto tcp = TcpView::parse(as_bytes(b));
    ASSERT_TRUE(tcp);
    for (const Flag& g : flags) {
      EXPECT_EQ((*tcp.*g.get)(), g.bit == f.bit) << int{f.bit} << " " << int{g.bit};
    }
  }
}

TEST(TcpView, ReservedBitsDoNotLeakIntoFlagsOrOffset) {
  auto b = kFinAckV4;
  b[12] |= 0x0f;
  auto tcp = TcpView::parse(as_bytes(b));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->data_offset(), 8);
  EXPECT_EQ(tcp->flags(), tcp_flag::kFin | tcp_flag::kAck);
}

TEST(TcpView, ChecksumOfCapturedSegmentsIsOk) {
  for (const Captured& c : captured()) {
    auto tcp = TcpView::parse(as_bytes(*c.bytes));
    ASSERT_TRUE(tcp) << c.name;
    EXPECT_TRUE(checksum_ok(*tcp, c)) << c.name;
  }
}

TEST(TcpView, ChecksumCatchesWrongAddressesAndCorruption) {
  auto tcp = TcpView::parse(as_bytes(kPshAckV4));
  ASSERT_TRUE(tcp);
  EXPECT_FALSE(tcp->checksum_ok(kClient4, Ipv4Addr::from_octets(192, 0, 2, 3)));
  auto v6 = TcpView::parse(as_bytes(kPshAckV6));
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->checksum_ok(kClient6, *Ipv6Addr::parse("2001:db8::3")));

  auto bad = kPshAckV4;
  bad.back() ^= 0x20;
  auto corrupted = TcpView::parse(as_bytes(bad));
  ASSERT_TRUE(corrupted);
  EXPECT_FALSE(corrupted->checksum_ok(kClient4, kServer4));
}

struct Malformed {
  const char* name;
  std::vector<uint8_t> bytes;
  ParseError error;
};

std::vector<uint8_t> with_offset_byte(std::vector<uint8_t> b, uint8_t v) {
  b[12] = v;
  return b;
}

TEST(TcpView, MalformedInputs) {
  const std::vector<uint8_t> header(kFinAckV4.begin(), kFinAckV4.begin() + 20);
  const std::vector<Malformed> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"19 bytes", std::vector<uint8_t>(kSynV4.begin(), kSynV4.begin() + 19),
       ParseError::kTruncated},
      {"data offset 0", with_offset_byte(header, 0x00), ParseError::kBadHeaderLength},
      {"data offset 4", with_offset_byte(header, 0x40), ParseError::kBadHeaderLength},
      {"data offset 6, 20 bytes", with_offset_byte(header, 0x60), ParseError::kBadHeaderLength},
      {"data offset 10, 39 bytes", std::vector<uint8_t>(kSynV4.begin(), kSynV4.end() - 1),
       ParseError::kBadHeaderLength},
      {"data offset 15, 59 bytes", std::vector<uint8_t>(kSackAckV4.begin(), kSackAckV4.end() - 1),
       ParseError::kBadHeaderLength},
      {"data offset 15, 40 bytes", with_offset_byte(kSynV4, 0xf0), ParseError::kBadHeaderLength},
  };
  for (const auto& c : cases) {
    auto r = TcpView::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(TcpView, HeaderWithoutOptionsOrPayload) {
  const std::vector<uint8_t> header =
      with_offset_byte({kFinAckV4.begin(), kFinAckV4.begin() + 20}, 0x50);
  auto tcp = TcpView::parse(as_bytes(header));
  ASSERT_TRUE(tcp);
  EXPECT_TRUE(tcp->options().empty());
  EXPECT_TRUE(tcp->payload().empty());
}

TEST(TcpRepr, ParsesOptions) {
  auto tcp = TcpView::parse(as_bytes(kSackAckV4));
  ASSERT_TRUE(tcp);
  auto repr = TcpRepr::parse(*tcp);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->flags, tcp_flag::kAck);
  ASSERT_EQ(repr->options.sack_count, 3);
  EXPECT_EQ(repr->options.sack_blocks[0], (TcpSackBlock{1000501, 1000601}));
  EXPECT_EQ(repr->options.sack_blocks[2], (TcpSackBlock{1000101, 1000201}));
  EXPECT_EQ(repr->options.timestamps, (TcpTimestamps{1952402534, 3}));
}

TEST(TcpRepr, BadOptionsAreAParseError) {
  auto b = kSynV4;
  b[21] = 0x03;  // MSS option with length 3
  auto tcp = TcpView::parse(as_bytes(b));
  ASSERT_TRUE(tcp);  // the view does not look at options
  auto repr = TcpRepr::parse(*tcp);
  ASSERT_FALSE(repr);
  EXPECT_EQ(repr.error(), ParseError::kBadOption);
}

// Every captured segment: parse -> TcpRepr -> emit gives the header and
// options back byte for byte (checksum 0); with the payload copied in,
// fill_tcp_checksum() gives the captured segment exactly.
TEST(TcpRepr, RoundTripOfCapturedSegmentsIsByteExact) {
  for (const Captured& c : captured()) {
    const std::vector<uint8_t>& seg = *c.bytes;
    auto tcp = TcpView::parse(as_bytes(seg));
    ASSERT_TRUE(tcp) << c.name;
    auto repr = TcpRepr::parse(*tcp);
    ASSERT_TRUE(repr) << c.name;
    ASSERT_TRUE(repr->fits()) << c.name;
    ASSERT_EQ(repr->buffer_len(), tcp->header_len()) << c.name;
    std::vector<uint8_t> out(seg.size(), 0xee);
    ASSERT_TRUE(repr->emit(as_writable_bytes(out))) << c.name;
    EXPECT_EQ(out[16], 0) << c.name;
    EXPECT_EQ(out[17], 0) << c.name;
    std::copy(seg.begin() + static_cast<ptrdiff_t>(tcp->header_len()), seg.end(),
              out.begin() + static_cast<ptrdiff_t>(tcp->header_len()));
    fill_checksum(as_writable_bytes(out), c);
    EXPECT_EQ(out, seg) << c.name;
  }
}

TEST(TcpRepr, EmitsMinimalHeader) {
  const TcpRepr repr{.src_port = 80,
                     .dst_port = 40000,
                     .seq = 1,
                     .ack = 2,
                     .flags = tcp_flag::kRst | tcp_flag::kAck,
                     .window = 0,
                     .urgent = 0,
                     .options = {}};
  ASSERT_EQ(repr.buffer_len(), kTcpHeaderLen);
  std::vector<uint8_t> out(20);
  ASSERT_TRUE(repr.emit(as_writable_bytes(out)));
  EXPECT_EQ(out, (std::vector<uint8_t>{0x00, 0x50, 0x9c, 0x40, 0, 0, 0, 1, 0, 0,
                                       0,    2,    0x50, 0x14, 0, 0, 0, 0, 0, 0}));
  auto tcp = TcpView::parse(as_bytes(out));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(*TcpRepr::parse(*tcp), repr);
}

TEST(TcpRepr, RefusesOptionsThatDoNotFit) {
  TcpRepr repr{.src_port = 1,
               .dst_port = 2,
               .seq = 3,
               .ack = 4,
               .flags = tcp_flag::kAck,
               .window = 5,
               .urgent = 0,
               .options = {}};
  repr.options.timestamps = TcpTimestamps{1, 2};
  repr.options.window_scale = 7;
  repr.options.sack_count = 3;  // 20 + 12 + 4 + 28 = 64 > 60
  for (uint32_t i = 0; i < 3; ++i) repr.options.sack_blocks[i] = {i * 100, i * 100 + 50};
  EXPECT_FALSE(repr.fits());
  EXPECT_EQ(repr.buffer_len(), 64u);
  std::vector<uint8_t> out(64, 0xee);
  EXPECT_FALSE(repr.emit(as_writable_bytes(out)));
  EXPECT_EQ(out, std::vector<uint8_t>(64, 0xee));  // nothing written
  repr.options.trim_sack_blocks();
  EXPECT_EQ(repr.options.sack_count, 2);  // 20 + 12 + 4 + 20 = 56
  EXPECT_TRUE(repr.emit(as_writable_bytes(out)));
  EXPECT_EQ(out[12], 0xe0);  // data offset 14
  auto tcp = TcpView::parse(as_bytes(out));
  ASSERT_TRUE(tcp);
  auto back = TcpRepr::parse(*tcp);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, repr);
}

TEST(TcpChecksum, FillOverIpv6) {
  auto seg = kPshAckV6;
  seg[16] = 0x12;  // garbage in the field: fill must overwrite it
  seg[17] = 0x34;
  fill_tcp_checksum(as_writable_bytes(seg), kClient6, kServer6);
  EXPECT_EQ(seg, kPshAckV6);
}

}  // namespace
}  // namespace tapir::wire
