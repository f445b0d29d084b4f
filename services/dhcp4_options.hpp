#pragma once
// DHCPv4 messages (RFC 2131 2) and their options (RFC 2132): a checked view
// of a client's message, an option walker, and an option writer.
//
// Message layout (BOOTP, RFC 951 / RFC 2131 2):
//   0  op (1)          1 = BOOTREQUEST, 2 = BOOTREPLY
//   1  htype (1)       1 = Ethernet          2  hlen (1)  6
//   3  hops (1)
//   4  xid (4)         transaction id, chosen by the client
//   8  secs (2)       10  flags (2)          bit 15: BROADCAST
//  12  ciaddr (4)     16  yiaddr (4)         20  siaddr (4)   24  giaddr (4)
//  28  chaddr (16)    client hardware address (the MAC, then zeros)
//  44  sname (64)    108  file (128)         both may carry options (overload)
// 236  magic cookie 99.130.83.99 (4)
// 240  options
//
// Options (RFC 2132 2): Pad (0) and End (255) are one byte; every other
// option is code (1), length (1), data (length). RFC 3396 lets a long
// option be split into several instances that are concatenated.
//
// Theory of operation. Option walkers are where DHCP implementations break
// (lwIP's history), so the walker reads every byte through bounds-checked
// loads and rejects the whole message with kBadOption when a length byte
// is missing, an option runs past the end of its area, or an option tapir
// reads has the wrong size. End stops a walk; an area without End is
// accepted (several clients pad instead). Option Overload (52) is honoured:
// the file and then the sname fields are walked too (RFC 2131 4.1). The
// Parameter Request List (55) is concatenated across instances (RFC 3396);
// for the other options the last instance wins. Unknown options are
// skipped. Spans in Dhcp4Options point into the message and live as long as
// its bytes.
//
// Dhcp4OptionWriter appends options to a reply and never writes a partial
// one: an option that does not fit (leaving room for End) is refused, and
// the caller decides what to leave out.

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::services {

inline constexpr uint16_t kDhcp4ServerPort = 67;
inline constexpr uint16_t kDhcp4ClientPort = 68;
inline constexpr uint32_t kDhcp4MagicCookie = 0x63825363;
inline constexpr size_t kDhcp4FixedLen = 236;   // up to the cookie
inline constexpr size_t kDhcp4OptionsOffset = 240;
// RFC 2131 2: a client must accept a 576-byte IP datagram, so a 548-byte
// DHCP message; RFC 1542 2.1: BOOTP messages are at least 300 bytes.
inline constexpr size_t kDhcp4MinMaxMessage = 576;
inline constexpr size_t kDhcp4MinMessageLen = 300;
inline constexpr uint16_t kDhcp4BroadcastFlag = 0x8000;

namespace dhcp4_op {
inline constexpr uint8_t kBootRequest = 1;
inline constexpr uint8_t kBootReply = 2;
}  // namespace dhcp4_op

// RFC 2132 9.6 message types.
namespace dhcp4_msg {
inline constexpr uint8_t kDiscover = 1;
inline constexpr uint8_t kOffer = 2;
inline constexpr uint8_t kRequest = 3;
inline constexpr uint8_t kDecline = 4;
inline constexpr uint8_t kAck = 5;
inline constexpr uint8_t kNak = 6;
inline constexpr uint8_t kRelease = 7;
inline constexpr uint8_t kInform = 8;
}  // namespace dhcp4_msg

// Option codes (RFC 2132 unless noted).
namespace dhcp4_opt {
inline constexpr uint8_t kPad = 0;
inline constexpr uint8_t kSubnetMask = 1;
inline constexpr uint8_t kRouter = 3;
inline constexpr uint8_t kDnsServer = 6;
inline constexpr uint8_t kHostname = 12;
inline constexpr uint8_t kDomainName = 15;
inline constexpr uint8_t kInterfaceMtu = 26;
inline constexpr uint8_t kBroadcastAddr = 28;
inline constexpr uint8_t kRequestedIp = 50;
inline constexpr uint8_t kLeaseTime = 51;
inline constexpr uint8_t kOverload = 52;
inline constexpr uint8_t kMessageType = 53;
inline constexpr uint8_t kServerId = 54;
inline constexpr uint8_t kParamRequestList = 55;
inline constexpr uint8_t kMessage = 56;
inline constexpr uint8_t kMaxMessageSize = 57;
inline constexpr uint8_t kRenewalTime = 58;    // T1
inline constexpr uint8_t kRebindingTime = 59;  // T2
inline constexpr uint8_t kClientId = 61;
inline constexpr uint8_t kRapidCommit = 80;            // RFC 4039
inline constexpr uint8_t kDomainSearch = 119;          // RFC 3397
inline constexpr uint8_t kClasslessRoutes = 121;       // RFC 3442
inline constexpr uint8_t kEnd = 255;
}  // namespace dhcp4_opt

// The options a server needs from a client message.
struct Dhcp4Options {
  uint8_t message_type = 0;  // 0: absent (a BOOTP message)
  std::optional<wire::Ipv4Addr> requested_ip;
  std::optional<wire::Ipv4Addr> server_id;
  std::optional<uint16_t> max_message_size;
  bool rapid_commit = false;
  uint8_t overload = 0;  // 0: none; 1 file, 2 sname, 3 both
  // Parameter Request List, in the client's order (duplicates kept).
  std::array<uint8_t, 255> params{};
  size_t params_len = 0;
  wire::ConstBytes client_id;  // empty when absent
  wire::ConstBytes hostname;   // empty when absent

  bool requested(uint8_t code) const;
  // Walks one option area into *this (see the theory of operation).
  // Errors: kBadOption.
  Expected<void, wire::ParseError> walk(wire::ConstBytes area);
  // A fresh Dhcp4Options from one area.
  static Expected<Dhcp4Options, wire::ParseError> parse(wire::ConstBytes area);
};

class Dhcp4View {
 public:
  static constexpr size_t kOpOffset = 0;
  static constexpr size_t kHtypeOffset = 1;
  static constexpr size_t kHlenOffset = 2;
  static constexpr size_t kHopsOffset = 3;
  static constexpr size_t kXidOffset = 4;
  static constexpr size_t kSecsOffset = 8;
  static constexpr size_t kFlagsOffset = 10;
  static constexpr size_t kCiaddrOffset = 12;
  static constexpr size_t kYiaddrOffset = 16;
  static constexpr size_t kSiaddrOffset = 20;
  static constexpr size_t kGiaddrOffset = 24;
  static constexpr size_t kChaddrOffset = 28;
  static constexpr size_t kChaddrLen = 16;
  static constexpr size_t kSnameOffset = 44;
  static constexpr size_t kSnameLen = 64;
  static constexpr size_t kFileOffset = 108;
  static constexpr size_t kFileLen = 128;
  static constexpr size_t kCookieOffset = 236;

  // `message` is the UDP payload. Errors: kTruncated (< 240 bytes),
  // kBadMagic (no DHCP magic cookie), kUnsupported (htype/hlen not
  // Ethernet), kBadOption (from the option walk, overloaded areas included).
  static Expected<Dhcp4View, wire::ParseError> parse(wire::ConstBytes message);

  uint8_t op() const { return wire::load_u8(bytes_, kOpOffset); }
  uint8_t hops() const { return wire::load_u8(bytes_, kHopsOffset); }
  uint32_t xid() const { return wire::load_be32(bytes_, kXidOffset); }
  uint16_t secs() const { return wire::load_be16(bytes_, kSecsOffset); }
  uint16_t flags() const { return wire::load_be16(bytes_, kFlagsOffset); }
  bool broadcast() const { return (flags() & kDhcp4BroadcastFlag) != 0; }
  wire::Ipv4Addr ciaddr() const { return wire::Ipv4Addr::load(bytes_, kCiaddrOffset); }
  wire::Ipv4Addr yiaddr() const { return wire::Ipv4Addr::load(bytes_, kYiaddrOffset); }
  wire::Ipv4Addr siaddr() const { return wire::Ipv4Addr::load(bytes_, kSiaddrOffset); }
  wire::Ipv4Addr giaddr() const { return wire::Ipv4Addr::load(bytes_, kGiaddrOffset); }
  wire::MacAddr chaddr() const { return wire::MacAddr::load(bytes_, kChaddrOffset); }
  // The 16-byte chaddr field as sent (a reply copies it).
  wire::ConstBytes chaddr_field() const { return bytes_.subspan(kChaddrOffset, kChaddrLen); }
  const Dhcp4Options& options() const { return options_; }
  wire::ConstBytes bytes() const { return bytes_; }

 private:
  Dhcp4View(wire::ConstBytes b, const Dhcp4Options& o) : bytes_(b), options_(o) {}
  wire::ConstBytes bytes_;
  Dhcp4Options options_;
};

class Dhcp4OptionWriter {
 public:
  // Options go into `area`; one byte is always kept for End.
  explicit Dhcp4OptionWriter(wire::MutBytes area) : area_(area) {}

  // Each returns false, writing nothing, when the option does not fit.
  bool put(uint8_t code, wire::ConstBytes data);  // data.size() <= 255
  // RFC 3396: `data` of any length, as consecutive instances of <= 255 bytes.
  bool put_long(uint8_t code, wire::ConstBytes data);
  bool put_u8(uint8_t code, uint8_t v);
  bool put_u16(uint8_t code, uint16_t v);
  bool put_u32(uint8_t code, uint32_t v);
  bool put_addr(uint8_t code, wire::Ipv4Addr a) { return put_u32(code, a.value); }
  bool put_flag(uint8_t code) { return put(code, {}); }

  // Room left for option bytes (End excluded).
  size_t remaining() const { return area_.empty() ? 0 : area_.size() - 1 - len_; }
  // Writes End; returns the area's length so far, End included.
  size_t finish();

 private:
  wire::MutBytes area_;
  size_t len_ = 0;
};

}  // namespace tapir::services
