#include "dns/message.hpp"

namespace tapir::dns {
namespace {

using wire::load_be16;
using wire::load_be32;
using wire::load_u8;

// Type, class, TTL, RDLENGTH after a record's owner name.
constexpr size_t kRecordFixedLen = 10;
constexpr size_t kOptOptionHeaderLen = 4;

// RFC 6891 6.1.2: options are {OPTION-CODE, OPTION-LENGTH, data} and must
// fill RDATA exactly.
bool opt_options_ok(ConstBytes rdata) {
  size_t pos = 0;
  while (pos < rdata.size()) {
    if (rdata.size() - pos < kOptOptionHeaderLen) return false;
    const size_t len = load_be16(rdata, pos + 2);
    pos += kOptOptionHeaderLen;
    if (len > rdata.size() - pos) return false;
    pos += len;
  }
  return true;
}

}  // namespace

Expected<Message, MessageError> Message::parse(ConstBytes msg) {
  if (msg.size() < kHeaderLen) return unexpected(MessageError::kTruncated);
  Message m(msg);
  const size_t qd = m.qdcount();
  const size_t rr = m.record_count();
  if (qd * kMinQuestionLen + rr * kMinRecordLen > msg.size() - kHeaderLen) {
    return unexpected(MessageError::kCountTooLarge);
  }
  size_t pos = kHeaderLen;
  for (size_t i = 0; i < qd; ++i) {
    auto end = read_name(msg, pos, nullptr);
    if (!end) return unexpected(end.error());
    if (msg.size() - *end < 4) return unexpected(MessageError::kTruncated);
    pos = *end + 4;
  }
  const size_t counts[3] = {m.ancount(), m.nscount(), m.arcount()};
  for (size_t s = 0; s < 3; ++s) {
    m.section_start_[s] = pos;
    for (size_t i = 0; i < counts[s]; ++i) {
      const size_t start = pos;
      auto name_end = read_name(msg, pos, nullptr);
      if (!name_end) return unexpected(name_end.error());
      pos = *name_end;
      if (msg.size() - pos < kRecordFixedLen) return unexpected(MessageError::kTruncated);
      const uint16_t type = load_be16(msg, pos);
      const size_t rdlen = load_be16(msg, pos + 8);
      pos += kRecordFixedLen;
      if (msg.size() - pos < rdlen) return unexpected(MessageError::kTruncated);
      if (type == rrtype::kOpt) {
        const bool root_owner = *name_end == start + 1;  // a single zero byte
        if (s != 2 || m.opt_offset_ != 0 || !root_owner ||
            !opt_options_ok(msg.subspan(pos, rdlen))) {
          return unexpected(MessageError::kBadOpt);
        }
        m.opt_offset_ = start;
      }
      pos += rdlen;
    }
  }
  m.end_ = pos;
  return m;
}

uint16_t Message::rcode_full() const {
  const auto e = edns();
  const uint16_t high = e ? e->extended_rcode_high : 0;
  return static_cast<uint16_t>((high << 4) | rcode());
}

std::optional<Question> Message::question() const {
  if (qdcount() == 0) return std::nullopt;
  Question q;
  q.name_offset = kHeaderLen;
  const size_t name_end = read_name(bytes_, kHeaderLen, nullptr).value();
  q.qtype = load_be16(bytes_, name_end);
  q.qclass = load_be16(bytes_, name_end + 2);
  q.end = name_end + 4;
  return q;
}

Name Message::name_at(size_t offset) const {
  Name n;
  (void)read_name(bytes_, offset, &n).value();  // validated by parse()
  return n;
}

Name Message::qname() const {
  return qdcount() == 0 ? Name() : name_at(kHeaderLen);
}

std::optional<Edns> Message::edns() const {
  if (opt_offset_ == 0) return std::nullopt;
  const Record r = record_at(opt_offset_, 0);
  Edns e;
  e.udp_payload_size = r.rclass;
  e.extended_rcode_high = static_cast<uint8_t>(r.ttl >> 24);
  e.version = static_cast<uint8_t>((r.ttl >> 16) & 0xffu);
  e.dnssec_ok = (r.ttl & 0x8000u) != 0;
  e.options = bytes_.subspan(r.rdata_offset, r.rdata_len);
  e.record_offset = opt_offset_;
  e.record_end = r.end();
  return e;
}

std::optional<ConstBytes> find_edns_option(const Edns& e, uint16_t code) {
  size_t off = 0;
  while (e.options.size() - off >= 4) {
    const uint16_t c = wire::load_be16(e.options, off);
    const size_t len = wire::load_be16(e.options, off + 2);
    if (e.options.size() - off - 4 < len) return std::nullopt;  // cannot happen after parse()
    if (c == code) return e.options.subspan(off + 4, len);
    off += 4 + len;
  }
  return std::nullopt;
}

uint16_t Message::section_count(Section s) const {
  switch (s) {
    case Section::kAnswer: return ancount();
    case Section::kAuthority: return nscount();
    case Section::kAdditional: return arcount();
  }
  return 0;
}

Record Message::record_at(size_t off, size_t index) const {
  Record r;
  const size_t an = ancount();
  const size_t ns = nscount();
  r.section = index < an        ? Section::kAnswer
              : index < an + ns ? Section::kAuthority
                                : Section::kAdditional;
  r.offset = off;
  const size_t pos = read_name(bytes_, off, nullptr).value();  // validated by parse()
  r.type = load_be16(bytes_, pos);
  r.rclass = load_be16(bytes_, pos + 2);
  r.ttl_offset = pos + 4;
  r.ttl = load_be32(bytes_, pos + 4);
  r.rdata_len = load_be16(bytes_, pos + 8);
  r.rdata_offset = pos + kRecordFixedLen;
  return r;
}

Record Message::RecordIterator::operator*() const {
  return m_->record_at(off_, index_);
}

Message::RecordIterator& Message::RecordIterator::operator++() {
  off_ = m_->record_at(off_, index_).end();
  ++index_;
  return *this;
}

Message::RecordRange Message::records(Section s) const {
  const size_t an = ancount();
  const size_t ns = nscount();
  size_t first = 0;
  size_t last = an;
  if (s == Section::kAuthority) {
    first = an;
    last = an + ns;
  } else if (s == Section::kAdditional) {
    first = an + ns;
    last = record_count();
  }
  return {RecordIterator(this, section_start(s), first), RecordIterator(this, end_, last)};
}

Message::RecordRange Message::all_records() const {
  return {RecordIterator(this, section_start_[0], 0), RecordIterator(this, end_, record_count())};
}

Expected<uint32_t, MessageError> soa_minimum(const Message& m, const Record& soa) {
  // MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM (4 each).
  const ConstBytes msg = m.bytes().first(soa.end());
  auto after_mname = read_name(msg, soa.rdata_offset, nullptr);
  if (!after_mname) return unexpected(after_mname.error());
  auto after_rname = read_name(msg, *after_mname, nullptr);
  if (!after_rname) return unexpected(after_rname.error());
  if (soa.end() - *after_rname != 20) return unexpected(MessageError::kTruncated);
  return load_be32(msg, *after_rname + 16);
}

Expected<Name, MessageError> rdata_name(const Message& m, const Record& r) {
  const ConstBytes msg = m.bytes().first(r.end());
  Name n;
  auto end = read_name(msg, r.rdata_offset, &n);
  if (!end) return unexpected(end.error());
  if (*end != r.end()) return unexpected(MessageError::kTruncated);
  return n;
}

}  // namespace tapir::dns
