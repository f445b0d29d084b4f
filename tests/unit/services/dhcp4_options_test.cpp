#include "services/dhcp4_options.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "services/domain_list.hpp"
#include "services_test_util.hpp"

namespace tapir::services {
namespace {

using namespace tapir::wire;
using namespace tapir::services::test;

struct BadCase {
  const char* name;
  std::vector<uint8_t> area;
  ParseError error;
};

TEST(Dhcp4Options, MalformedAreasGiveExactErrors) {
  const std::vector<BadCase> cases = {
      {"code without length byte", {53}, ParseError::kBadOption},
      {"pad then code without length", {0, 0, 61}, ParseError::kBadOption},
      {"length past the end", {53, 1}, ParseError::kBadOption},
      {"long option past the end", {55, 10, 1, 3, 6}, ParseError::kBadOption},
      {"message type of length 2", {53, 2, 1, 1}, ParseError::kBadOption},
      {"requested ip of length 3", {50, 3, 10, 0, 2}, ParseError::kBadOption},
      {"server id of length 5", {54, 5, 10, 0, 2, 2, 0}, ParseError::kBadOption},
      {"max message size of length 1", {57, 1, 2}, ParseError::kBadOption},
      {"overload of length 0", {52, 0}, ParseError::kBadOption},
      {"good option then a cut one", {53, 1, 1, 12, 4, 'a'}, ParseError::kBadOption},
  };
  for (const auto& c : cases) {
    auto r = Dhcp4Options::parse(as_bytes(c.area));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name;
  }
}

TEST(Dhcp4Options, WellFormedEdgeCases) {
  // Empty, only pads, End then garbage, no End at all.
  for (const std::vector<uint8_t>& area :
       {std::vector<uint8_t>{}, std::vector<uint8_t>{0, 0, 0}, std::vector<uint8_t>{255, 53, 9},
        std::vector<uint8_t>{53, 1, 3}}) {
    EXPECT_TRUE(Dhcp4Options::parse(as_bytes(area)));
  }
  const std::vector<uint8_t> area = {0,  53, 1, 3,  55, 2, 1, 3, 55, 1, 6, 80, 0, 50, 4, 10, 0, 2,
                                     15, 54, 4, 10, 0,  2, 2, 57, 2, 2, 64, 61, 3, 1, 2,  3,  12, 2,
                                     'v', 'm', 200, 0, 255};
  auto o = Dhcp4Options::parse(as_bytes(area));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->message_type, 3);
  EXPECT_EQ(o->params_len, 3u);  // RFC 3396: the two 55s concatenated
  EXPECT_TRUE(o->requested(1));
  EXPECT_TRUE(o->requested(6));
  EXPECT_FALSE(o->requested(15));
  EXPECT_TRUE(o->rapid_commit);
  EXPECT_EQ(*o->requested_ip, v4("10.0.2.15"));
  EXPECT_EQ(*o->server_id, v4("10.0.2.2"));
  EXPECT_EQ(*o->max_message_size, 576);
  EXPECT_EQ(o->client_id.size(), 3u);
  EXPECT_EQ(o->hostname.size(), 2u);
}

// A minimal 240-byte BOOTREQUEST with the cookie, then `options`.
std::vector<uint8_t> message(const std::vector<uint8_t>& options) {
  std::vector<uint8_t> m(kDhcp4OptionsOffset + options.size(), 0);
  m[0] = 1;
  m[1] = 1;
  m[2] = 6;
  m[236] = 99;
  m[237] = 130;
  m[238] = 83;
  m[239] = 99;
  for (size_t i = 0; i < options.size(); ++i) m[kDhcp4OptionsOffset + i] = options[i];
  return m;
}

TEST(Dhcp4View, HeaderErrors) {
  auto m = message({53, 1, 1, 255});
  EXPECT_TRUE(Dhcp4View::parse(as_bytes(m)));
  EXPECT_EQ(Dhcp4View::parse(as_bytes(m).first(239)).error(), ParseError::kTruncated);
  auto bad_cookie = m;
  bad_cookie[239] = 0;
  EXPECT_EQ(Dhcp4View::parse(as_bytes(bad_cookie)).error(), ParseError::kBadMagic);
  auto not_ethernet = m;
  not_ethernet[1] = 6;  // IEEE 802
  EXPECT_EQ(Dhcp4View::parse(as_bytes(not_ethernet)).error(), ParseError::kUnsupported);
  auto long_mac = m;
  long_mac[2] = 16;
  EXPECT_EQ(Dhcp4View::parse(as_bytes(long_mac)).error(), ParseError::kUnsupported);
  EXPECT_EQ(Dhcp4View::parse(as_bytes(message({53, 4}))).error(), ParseError::kBadOption);
}

TEST(Dhcp4View, OverloadWalksFileThenSname) {
  auto m = message({52, 1, 3, 255});
  // file (108): message type; sname (44): requested IP.
  const std::vector<uint8_t> file = {53, 1, 1, 255};
  const std::vector<uint8_t> sname = {50, 4, 10, 0, 2, 20, 255};
  std::copy(file.begin(), file.end(), m.begin() + 108);
  std::copy(sname.begin(), sname.end(), m.begin() + 44);
  auto v = Dhcp4View::parse(as_bytes(m));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->options().overload, 3);
  EXPECT_EQ(v->options().message_type, 1);
  EXPECT_EQ(*v->options().requested_ip, v4("10.0.2.20"));
  // A broken option in an overloaded field breaks the message.
  m[108 + 1] = 200;
  EXPECT_EQ(Dhcp4View::parse(as_bytes(m)).error(), ParseError::kBadOption);
  // Without overload the same bytes in file are not options at all.
  m[240 + 2] = 0;
  EXPECT_TRUE(Dhcp4View::parse(as_bytes(m)));
}

TEST(Dhcp4View, EveryCapturedClientMessageParses) {
  const auto frames = tapir::test::pcap_frames("dhcp.pcap");
  ASSERT_EQ(frames.size(), 9u);
  for (size_t i : {0u, 2u, 4u, 6u, 8u}) {
    auto v = Dhcp4View::parse(as_bytes(frames[i]).subspan(42));
    ASSERT_TRUE(v) << i;
    EXPECT_EQ(v->op(), dhcp4_op::kBootRequest);
    EXPECT_EQ(v->chaddr(), kGuestMac);
  }
}

TEST(Dhcp4OptionWriter, NeverWritesAPartialOption) {
  std::array<std::byte, 8> area{};
  Dhcp4OptionWriter w(area);
  EXPECT_EQ(w.remaining(), 7u);  // one byte kept for End
  EXPECT_TRUE(w.put_u32(51, 3600));
  EXPECT_EQ(w.remaining(), 1u);
  EXPECT_FALSE(w.put_u8(53, 1));  // needs 3
  EXPECT_FALSE(w.put_flag(80));   // needs 2
  EXPECT_EQ(w.finish(), 7u);
  const std::vector<uint8_t> want = {51, 4, 0, 0, 0x0e, 0x10, 255, 0};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(static_cast<uint8_t>(area[i]), want[i]) << i;
}

TEST(Dhcp4OptionWriter, LongOptionsAreSplitAllOrNothing) {
  std::vector<std::byte> data(300, std::byte{7});
  std::array<std::byte, 400> area{};
  Dhcp4OptionWriter w(area);
  ASSERT_TRUE(w.put_long(119, data));
  EXPECT_EQ(w.finish(), 2 + 255 + 2 + 45 + 1u);
  EXPECT_EQ(static_cast<uint8_t>(area[1]), 255);
  EXPECT_EQ(static_cast<uint8_t>(area[257]), 119);
  EXPECT_EQ(static_cast<uint8_t>(area[258]), 45);
  std::array<std::byte, 304> tight{};  // 303 for options: one byte short
  Dhcp4OptionWriter w2(tight);
  EXPECT_FALSE(w2.put_long(119, data));
  EXPECT_EQ(w2.finish(), 1u);
}

TEST(Dhcp4Options, WriterParserRoundTrip) {
  std::array<std::byte, 128> area{};
  Dhcp4OptionWriter w(area);
  ASSERT_TRUE(w.put_u8(dhcp4_opt::kMessageType, dhcp4_msg::kRequest));
  ASSERT_TRUE(w.put_addr(dhcp4_opt::kRequestedIp, v4("10.0.2.15")));
  ASSERT_TRUE(w.put_addr(dhcp4_opt::kServerId, v4("10.0.2.2")));
  ASSERT_TRUE(w.put_u16(dhcp4_opt::kMaxMessageSize, 1500));
  ASSERT_TRUE(w.put_flag(dhcp4_opt::kRapidCommit));
  const std::array<std::byte, 3> prl{std::byte{1}, std::byte{3}, std::byte{119}};
  ASSERT_TRUE(w.put(dhcp4_opt::kParamRequestList, prl));
  const size_t len = w.finish();
  auto o = Dhcp4Options::parse(ConstBytes(area).first(len));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->message_type, dhcp4_msg::kRequest);
  EXPECT_EQ(*o->requested_ip, v4("10.0.2.15"));
  EXPECT_EQ(*o->server_id, v4("10.0.2.2"));
  EXPECT_EQ(*o->max_message_size, 1500);
  EXPECT_TRUE(o->rapid_commit);
  EXPECT_TRUE(o->requested(119));
}

TEST(DomainList, EncodesWithAndWithoutCompression) {
  std::array<std::byte, 64> out{};
  const std::vector<std::string> names = {"eng.tapir.test", "tapir.test.", "TAPIR.test", "b.c"};
  auto len = encode_domain_list(names, out, /*compress=*/false);
  ASSERT_TRUE(len);
  EXPECT_EQ(*len, 16u + 12u + 12u + 5u);
  len = encode_domain_list(names, out, /*compress=*/true);
  ASSERT_TRUE(len);
  // eng.tapir.test = 16 bytes; tapir.test -> pointer to offset 4; the
  // upper-case copy too (RFC 4343); b.c in full.
  EXPECT_EQ(*len, 16u + 2u + 2u + 5u);
  EXPECT_EQ(static_cast<uint8_t>(out[16]), 0xc0);
  EXPECT_EQ(static_cast<uint8_t>(out[17]), 4);
  EXPECT_EQ(static_cast<uint8_t>(out[18]), 0xc0);
  EXPECT_EQ(static_cast<uint8_t>(out[19]), 4);
}

TEST(DomainList, RejectsInvalidNamesAndShortBuffers) {
  std::array<std::byte, 64> out{};
  const std::vector<std::string> bads = {"", ".", "a..b", ".a", std::string(64, 'x')};
  for (const std::string& bad : bads) {
    EXPECT_FALSE(valid_domain_name(bad)) << bad;
    EXPECT_FALSE(encode_domain_list({bad}, out, false)) << bad;
  }
  EXPECT_TRUE(valid_domain_name(std::string(63, 'x') + ".com"));
  std::array<std::byte, 11> small{};  // tapir.test needs 12
  EXPECT_FALSE(encode_domain_list({"tapir.test"}, small, false));
}

}  // namespace
}  // namespace tapir::services
