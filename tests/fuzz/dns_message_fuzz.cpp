// Fuzz target: dns::Message::parse, then everything the forwarder does
// with a message that parsed: walk every record and decode every owner
// name and the RDATA names tapir reads (CNAME/NS/PTR, SOA MINIMUM), read
// EDNS, and run each in-place rewrite on a copy. Checks:
//   * a decoded name always fits 255 octets and re-reads from its own
//     wire form to the same name (lossless);
//   * aging TTLs by 0 and restoring the question case are byte-for-byte
//     no-ops; remove_opt and clamp_to_size leave a message that parses,
//     within the limit (when the question fits), with the same question;
//   * error responses and ResponseBuilder output parse and echo the ID.
#include <cstdint>
#include <cstring>
#include <vector>

#include "dns/message.hpp"
#include "dns/message_build.hpp"
#include "dns/message_edit.hpp"

namespace {

using namespace tapir::dns;
using tapir::wire::as_bytes;
using tapir::wire::as_writable_bytes;

void check_name(const Name& n) {
  if (n.size() > kMaxNameLen || n.size() == 0) __builtin_trap();
  Name again;
  auto end = read_name(n.wire(), 0, &again);
  if (!end || *end != n.size() || !(again == n)) __builtin_trap();
  if (auto t = Name::from_text(n.to_string()); t && n.to_string().find('\\') == std::string::npos) {
    if (!t->equals_ci(n)) __builtin_trap();
  }
}

void check_same_question(const Message& a, ConstBytes b_bytes) {
  auto b = Message::parse(b_bytes);
  if (!b) __builtin_trap();
  if (a.qdcount() != 0 && !(a.qname() == b->qname())) __builtin_trap();
  if (a.id() != b->id()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ConstBytes in = as_bytes({data, size});
  std::vector<uint8_t> out(1024);
  if (auto len = build_error_response(as_writable_bytes(out), in, rcode::kFormErr)) {
    if (!Message::parse(as_bytes(out).first(*len))) __builtin_trap();
  }

  auto m = Message::parse(in);
  if (!m) return 0;
  if (m->size() > size) __builtin_trap();
  (void)m->rcode_full();
  if (m->qdcount() > 0) {
    const auto q = m->question();
    if (!q || q->end > m->questions_end()) __builtin_trap();
    check_name(m->name_at(q->name_offset));
  }
  size_t n = 0;
  for (const Record& r : m->all_records()) {
    ++n;
    if (r.end() > m->size()) __builtin_trap();
    check_name(m->name_at(r.offset));
    if (r.type == rrtype::kCname || r.type == rrtype::kNs || r.type == rrtype::kPtr) {
      if (auto t = rdata_name(*m, r)) check_name(*t);
    } else if (r.type == rrtype::kSoa) {
      (void)soa_minimum(*m, r);
    }
  }
  if (n != m->record_count()) __builtin_trap();
  if (auto e = m->edns()) {
    if (e->effective_udp_size() < kClassicUdpSize) __builtin_trap();
  }

  // Lossless rewrites on a copy of exactly the message.
  std::vector<uint8_t> copy(data, data + m->size());
  if (!age_ttls(as_writable_bytes(copy), 0)) __builtin_trap();
  if (std::memcmp(copy.data(), data, copy.size()) != 0) __builtin_trap();
  if (m->qdcount() > 0) {
    (void)copy_question_case(as_writable_bytes(copy), m->qname());
    if (std::memcmp(copy.data(), data, copy.size()) != 0) __builtin_trap();
  }

  // Shortening rewrites.
  const auto no_opt = remove_opt(as_writable_bytes(copy));
  if (!no_opt || *no_opt > m->size()) __builtin_trap();
  check_same_question(*m, as_bytes(copy).first(*no_opt));
  copy.assign(data, data + m->size());
  const auto clamped = clamp_to_size(as_writable_bytes(copy), kClassicUdpSize);
  if (!clamped) __builtin_trap();
  // Over the limit only when the header and question alone are.
  if (*clamped > kClassicUdpSize && *clamped != m->questions_end()) __builtin_trap();
  check_same_question(*m, as_bytes(copy).first(*clamped));

  // Answering it as a built-in name would.
  if (m->qdcount() > 0 && !m->qr()) {
    ResponseBuilder rb(as_writable_bytes(out), *m, rcode::kNoError, true);
    rb.add_a(60, tapir::wire::Ipv4Addr::from_octets(10, 0, 2, 2));
    rb.add_ptr(60, m->qname());
    if (auto len = rb.finish()) check_same_question(*m, as_bytes(out).first(*len));
  }
  return 0;
}
