#include "dns/message_build.hpp"

namespace tapir::dns {
namespace {

constexpr uint16_t kQuestionPointer = 0xc000 | kHeaderLen;  // owner name = the question's
constexpr uint32_t kOptDoBit = 0x8000;

uint16_t response_flags(const Message& query, uint8_t rc, bool authoritative) {
  uint16_t f = Message::kFlagQr | Message::kFlagRa;
  f = static_cast<uint16_t>(f | (query.flags() & (0x7800u | Message::kFlagRd | Message::kFlagCd)));
  if (authoritative) f |= Message::kFlagAa;
  return static_cast<uint16_t>(f | (rc & 0xfu));
}

void write_opt(Writer& w, uint16_t udp_size, bool dnssec_ok,
               std::optional<uint64_t> loop_nonce = std::nullopt) {
  w.u8(0);  // root owner
  w.be16(rrtype::kOpt);
  w.be16(udp_size);
  w.be32(dnssec_ok ? kOptDoBit : 0);  // extended RCODE 0, version 0
  if (!loop_nonce) {
    w.be16(0);  // no options
    return;
  }
  w.be16(12);  // RDLENGTH: one option, {code, length, 8 bytes}
  w.be16(kLoopNonceOption);
  w.be16(8);
  w.be32(static_cast<uint32_t>(*loop_nonce >> 32));
  w.be32(static_cast<uint32_t>(*loop_nonce));
}

}  // namespace

bool Writer::room(size_t n) {
  if (!ok_ || out_.size() - pos_ < n) ok_ = false;
  return ok_;
}
void Writer::u8(uint8_t v) {
  if (room(1)) wire::store_u8(out_, pos_++, v);
}
void Writer::be16(uint16_t v) {
  if (!room(2)) return;
  wire::store_be16(out_, pos_, v);
  pos_ += 2;
}
void Writer::be32(uint32_t v) {
  if (!room(4)) return;
  wire::store_be32(out_, pos_, v);
  pos_ += 4;
}
void Writer::bytes(ConstBytes b) {
  if (!room(b.size())) return;
  wire::store_bytes(out_, pos_, b);
  pos_ += b.size();
}
void Writer::patch_be16(size_t off, uint16_t v) {
  if (ok_ && off + 2 <= pos_) wire::store_be16(out_, off, v);
}

std::optional<size_t> build_query(MutBytes out, const QuerySpec& q) {
  Writer w(out);
  uint16_t flags = 0;
  if (q.rd) flags |= Message::kFlagRd;
  if (q.cd) flags |= Message::kFlagCd;
  if (q.ad) flags |= Message::kFlagAd;
  w.be16(q.id);
  w.be16(flags);
  w.be16(1);
  w.be16(0);
  w.be16(0);
  w.be16(q.edns_udp_size ? 1 : 0);
  w.bytes(q.qname.wire());
  w.be16(q.qtype);
  w.be16(q.qclass);
  if (q.edns_udp_size) write_opt(w, *q.edns_udp_size, q.dnssec_ok, q.loop_nonce);
  if (!w.ok()) return std::nullopt;
  return w.pos();
}

ResponseBuilder::ResponseBuilder(MutBytes out, const Message& query, uint8_t rc, bool authoritative)
    : w_(out) {
  const auto q = query.question();
  const auto e = query.edns();
  has_question_ = q.has_value();
  edns_ = e.has_value();
  dnssec_ok_ = e && e->dnssec_ok;
  w_.be16(query.id());
  w_.be16(response_flags(query, rc, authoritative));
  w_.be16(has_question_ ? 1 : 0);
  w_.be16(0);  // ANCOUNT, fixed in finish()
  w_.be16(0);
  w_.be16(0);  // ARCOUNT, fixed in finish()
  if (q) {
    w_.bytes(query.name_at(q->name_offset).wire());
    w_.be16(q->qtype);
    w_.be16(q->qclass);
  }
}

void ResponseBuilder::answer_header(uint16_t type, uint32_t ttl, uint16_t rdlen) {
  TAPIR_CHECK(has_question_);  // answers point at the question name
  w_.be16(kQuestionPointer);
  w_.be16(type);
  w_.be16(kClassIn);
  w_.be32(ttl);
  w_.be16(rdlen);
  ++ancount_;
}

void ResponseBuilder::add_a(uint32_t ttl, wire::Ipv4Addr addr) {
  answer_header(rrtype::kA, ttl, 4);
  w_.be32(addr.value);
}

void ResponseBuilder::add_aaaa(uint32_t ttl, const wire::Ipv6Addr& addr) {
  answer_header(rrtype::kAaaa, ttl, 16);
  for (uint8_t o : addr.octets) w_.u8(o);
}

void ResponseBuilder::add_ptr(uint32_t ttl, const Name& target) {
  answer_header(rrtype::kPtr, ttl, static_cast<uint16_t>(target.size()));
  w_.bytes(target.wire());
}

std::optional<size_t> ResponseBuilder::finish() {
  if (edns_) write_opt(w_, kAdvertisedUdpSize, dnssec_ok_);
  w_.patch_be16(Message::kAncountOffset, ancount_);
  w_.patch_be16(Message::kArcountOffset, edns_ ? 1 : 0);
  if (!w_.ok()) return std::nullopt;
  return w_.pos();
}

std::optional<size_t> build_error_response(MutBytes out, ConstBytes query, uint8_t rc) {
  if (query.size() < kHeaderLen) return std::nullopt;
  const uint16_t flags = wire::load_be16(query, Message::kFlagsOffset);
  if ((flags & Message::kFlagQr) != 0) return std::nullopt;
  if (auto m = Message::parse(query); m && m->qdcount() == 1) {
    return ResponseBuilder(out, *m, rc, false).finish();
  }
  Writer w(out);
  w.be16(wire::load_be16(query, Message::kIdOffset));
  w.be16(static_cast<uint16_t>(Message::kFlagQr | Message::kFlagRa |
                               (flags & (0x7800u | Message::kFlagRd)) | (rc & 0xfu)));
  for (int i = 0; i < 4; ++i) w.be16(0);
  if (!w.ok()) return std::nullopt;
  return w.pos();
}

}  // namespace tapir::dns
