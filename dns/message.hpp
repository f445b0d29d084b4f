#pragma once
// DNS messages (RFC 1035 4.1) as a checked view, plus EDNS0 (RFC 6891).
//
// Layout:
//   0  ID (2)
//   2  flags (2): QR(1) OPCODE(4) AA(1) TC(1) RD(1) | RA(1) Z(1) AD(1) CD(1) RCODE(4)
//   4  QDCOUNT, 6 ANCOUNT, 8 NSCOUNT, 10 ARCOUNT (2 each)
//  12  questions: NAME, TYPE(2), CLASS(2)
//      records:   NAME, TYPE(2), CLASS(2), TTL(4), RDLENGTH(2), RDATA
//
// Theory of operation. Message::parse() walks the whole message once and
// validates everything the forwarder relies on: the header is there, the
// counts can fit (each question needs >= 5 bytes and each record >= 11, so
// a count that cannot fit is kCountTooLarge before any walking), every
// question and owner name decodes (name.hpp: compression rules), every
// record's fixed part and RDATA lie inside the message, and the OPT record
// is well formed (RFC 6891 6.1.1: only in the additional section, at most
// one, owner the root, options exactly filling RDLENGTH). After that the
// accessors and the record iterator cannot fail. RDATA is not interpreted
// at parse time; the few RDATA readers (soa_minimum) check as they go.
//
// Bytes after the last record are not part of the message: end() stops
// before them and every rewrite below drops them.
//
// A Message views bytes it does not own and is valid as long as they are.
// The edit helpers (message_edit.cpp) take the same bytes mutably and
// re-parse them, so a view never goes stale behind the caller's back.
// Builders (message_build.cpp) write into a caller's buffer and never
// allocate.

#include <cstdint>
#include <optional>

#include "base/expected.hpp"
#include "dns/message_error.hpp"
#include "dns/name.hpp"
#include "wire/bytes.hpp"

namespace tapir::dns {

inline constexpr size_t kHeaderLen = 12;
inline constexpr uint16_t kDnsPort = 53;
// Largest UDP answer for a client without EDNS (RFC 1035 4.2.1).
inline constexpr size_t kClassicUdpSize = 512;
// What tapir advertises upstream and to clients (DNS flag day 2020).
inline constexpr uint16_t kAdvertisedUdpSize = 1232;
// A question needs at least the root name and TYPE and CLASS; a record
// at least the root name and TYPE, CLASS, TTL and RDLENGTH.
inline constexpr size_t kMinQuestionLen = 5;
inline constexpr size_t kMinRecordLen = 11;

namespace rrtype {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNs = 2;
inline constexpr uint16_t kCname = 5;
inline constexpr uint16_t kSoa = 6;
inline constexpr uint16_t kPtr = 12;
inline constexpr uint16_t kMx = 15;
inline constexpr uint16_t kTxt = 16;
inline constexpr uint16_t kAaaa = 28;
inline constexpr uint16_t kSrv = 33;
inline constexpr uint16_t kOpt = 41;
inline constexpr uint16_t kAny = 255;
}  // namespace rrtype

inline constexpr uint16_t kClassIn = 1;

namespace rcode {
inline constexpr uint8_t kNoError = 0;
inline constexpr uint8_t kFormErr = 1;
inline constexpr uint8_t kServFail = 2;
inline constexpr uint8_t kNxDomain = 3;
inline constexpr uint8_t kNotImp = 4;
inline constexpr uint8_t kRefused = 5;
}  // namespace rcode

namespace opcode {
inline constexpr uint8_t kQuery = 0;
}

enum class Section : uint8_t { kAnswer, kAuthority, kAdditional };

struct Question {
  size_t name_offset = 0;
  size_t end = 0;  // offset after QCLASS
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct Record {
  Section section = Section::kAnswer;
  size_t offset = 0;  // of the owner name: where the record starts
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  size_t ttl_offset = 0;
  size_t rdata_offset = 0;
  uint16_t rdata_len = 0;
  size_t end() const { return rdata_offset + rdata_len; }
};

// The OPT pseudo-record (RFC 6891 6.1.2-6.1.3).
struct Edns {
  uint16_t udp_payload_size = 0;    // as sent; see effective_udp_size()
  uint8_t extended_rcode_high = 0;  // upper 8 bits of the 12-bit RCODE
  uint8_t version = 0;
  bool dnssec_ok = false;  // DO bit (RFC 3225)
  ConstBytes options;      // RDATA: {code, length, data}*, already checked to fit
  size_t record_offset = 0;
  size_t record_end = 0;
  // RFC 6891 6.2.5: values below 512 are treated as 512.
  size_t effective_udp_size() const {
    return udp_payload_size < kClassicUdpSize ? kClassicUdpSize : udp_payload_size;
  }
};

// The data of the first option with `code` in the OPT record's RDATA, if
// there is one (RFC 6891 6.1.2; parse() checked that the options fill it).
std::optional<ConstBytes> find_edns_option(const Edns& e, uint16_t code);

class Message {
 public:
  static constexpr size_t kIdOffset = 0;
  static constexpr size_t kFlagsOffset = 2;
  static constexpr size_t kQdcountOffset = 4;
  static constexpr size_t kAncountOffset = 6;
  static constexpr size_t kNscountOffset = 8;
  static constexpr size_t kArcountOffset = 10;

  static constexpr uint16_t kFlagQr = 0x8000;
  static constexpr uint16_t kFlagAa = 0x0400;
  static constexpr uint16_t kFlagTc = 0x0200;
  static constexpr uint16_t kFlagRd = 0x0100;
  static constexpr uint16_t kFlagRa = 0x0080;
  static constexpr uint16_t kFlagAd = 0x0020;
  static constexpr uint16_t kFlagCd = 0x0010;

  // Errors: see MessageError; checked in message order, the header's
  // counts first.
  static Expected<Message, MessageError> parse(ConstBytes msg);

  uint16_t id() const { return wire::load_be16(bytes_, kIdOffset); }
  uint16_t flags() const { return wire::load_be16(bytes_, kFlagsOffset); }
  bool qr() const { return (flags() & kFlagQr) != 0; }
  uint8_t opcode() const { return static_cast<uint8_t>((flags() >> 11) & 0xfu); }
  bool aa() const { return (flags() & kFlagAa) != 0; }
  bool tc() const { return (flags() & kFlagTc) != 0; }
  bool rd() const { return (flags() & kFlagRd) != 0; }
  bool ra() const { return (flags() & kFlagRa) != 0; }
  bool ad() const { return (flags() & kFlagAd) != 0; }
  bool cd() const { return (flags() & kFlagCd) != 0; }
  // The 4-bit header RCODE; rcode_full() adds the OPT's upper bits.
  uint8_t rcode() const { return static_cast<uint8_t>(flags() & 0xfu); }
  uint16_t rcode_full() const;
  uint16_t qdcount() const { return wire::load_be16(bytes_, kQdcountOffset); }
  uint16_t ancount() const { return wire::load_be16(bytes_, kAncountOffset); }
  uint16_t nscount() const { return wire::load_be16(bytes_, kNscountOffset); }
  uint16_t arcount() const { return wire::load_be16(bytes_, kArcountOffset); }

  // The first question, if qdcount >= 1 (in practice always exactly 1).
  std::optional<Question> question() const;
  // Decoded name of a question or record owner at `offset` (validated by parse()).
  Name name_at(size_t offset) const;
  // Convenience: the first question's name (root if there is none).
  Name qname() const;

  std::optional<Edns> edns() const;

  // The message up to the end of its last record (trailing bytes excluded).
  ConstBytes bytes() const { return bytes_.first(end_); }
  size_t size() const { return end_; }
  size_t questions_end() const { return section_start_[0]; }
  size_t section_start(Section s) const { return section_start_[static_cast<size_t>(s)]; }
  uint16_t section_count(Section s) const;

  // Range-for over the records of one section, or of all three.
  class RecordIterator {
   public:
    RecordIterator(const Message* m, size_t off, size_t index) : m_(m), off_(off), index_(index) {}
    Record operator*() const;
    RecordIterator& operator++();
    bool operator==(const RecordIterator& o) const { return index_ == o.index_; }

   private:
    const Message* m_;
    size_t off_;
    size_t index_;  // over answer + authority + additional
  };
  struct RecordRange {
    RecordIterator b, e;
    RecordIterator begin() const { return b; }
    RecordIterator end() const { return e; }
  };
  RecordRange records(Section s) const;
  RecordRange all_records() const;
  size_t record_count() const { return size_t{ancount()} + nscount() + arcount(); }

 private:
  explicit Message(ConstBytes b) : bytes_(b) {}
  Record record_at(size_t off, size_t index) const;
  ConstBytes bytes_;
  size_t section_start_[3] = {0, 0, 0};
  size_t end_ = 0;
  size_t opt_offset_ = 0;  // 0: no OPT (offset 0 is the header, never a record)
};

// RDATA readers. Names inside RDATA may be compressed too (RFC 3597 4:
// only for the RFC 1035 types), so these read them against the whole message.
// SOA MINIMUM (RFC 1035 3.3.13; RFC 2308 4: the negative-caching TTL).
Expected<uint32_t, MessageError> soa_minimum(const Message& m, const Record& soa);
// The single name of CNAME, NS and PTR RDATA.
Expected<Name, MessageError> rdata_name(const Message& m, const Record& r);

}  // namespace tapir::dns
