#include "dns/message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message_build.hpp"
#include "dns/message_edit.hpp"
#include "dns_fixtures.hpp"

namespace tapir::dns {
namespace {

using Bytes = std::vector<uint8_t>;

ConstBytes cb(const Bytes& b) {
  return wire::as_bytes(b);
}
MutBytes mb(Bytes& b) {
  return wire::as_writable_bytes(b);
}

// Index of each exchange in dns_payloads() (capture order, README table).
enum Fixture : size_t {
  kQueryA = 0,
  kAnswerA = 1,
  kAnswerAaaa = 3,
  kAnswerTxt = 5,
  kAnswerMx = 7,
  kAnswerSrv = 9,
  kAnswerCname = 11,
  kQueryPtr = 12,
  kAnswerPtr = 13,
  kAnswerNx = 15,
  kQueryNoEdns = 16,
  kAnswerNoEdns = 17,
  kQueryTcp = 18,
  kAnswerTcp = 19,
  kAnswerV6 = 21,
  kFixtureCount = 22
};

const std::vector<test::DnsPayload>& fixtures() {
  static const auto f = test::dns_payloads();
  return f;
}
Bytes fixture(size_t i) {
  return fixtures().at(i).bytes;
}

// A 12-byte header followed by `rest`.
Bytes msg(uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar, const Bytes& rest) {
  // Filled by index: g++ 12 reports a false -Warray-bounds on vector::insert here.
  Bytes b(kHeaderLen + rest.size());
  const uint16_t fields[6] = {0x1234, flags, qd, an, ns, ar};
  for (size_t i = 0; i < 6; ++i) {
    b[2 * i] = static_cast<uint8_t>(fields[i] >> 8);
    b[2 * i + 1] = static_cast<uint8_t>(fields[i] & 0xff);
  }
  for (size_t i = 0; i < rest.size(); ++i) b[kHeaderLen + i] = rest[i];
  return b;
}

// A label of `n` 'x' octets with its length byte.
Bytes label(size_t n) {
  Bytes b(n + 1, 'x');
  b[0] = static_cast<uint8_t>(n);
  return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) {
    for (uint8_t v : p) out.push_back(v);
  }
  return out;
}
const Bytes kQtypeAClassIn = {0x00, 0x01, 0x00, 0x01};

TEST(DnsFixtures, EveryCapturedMessageParsesAndWalks) {
  ASSERT_EQ(fixtures().size(), kFixtureCount);
  size_t records = 0;
  for (const auto& f : fixtures()) {
    auto m = Message::parse(cb(f.bytes));
    ASSERT_TRUE(m) << message_error_name(m.error());
    EXPECT_EQ(m->qr(), f.from_server);
    EXPECT_EQ(m->size(), f.bytes.size());
    ASSERT_EQ(m->qdcount(), 1);
    for (const Record& r : m->all_records()) {
      (void)m->name_at(r.offset);
      ++records;
    }
  }
  // 11 queries (10 with OPT), 11 answers (10 with one record, 10 with OPT).
  EXPECT_EQ(records, 10u + 10u + 10u);
}

TEST(DnsMessage, AnswerAHeaderQuestionRecords) {
  const Bytes b = fixture(kAnswerA);
  auto m = Message::parse(cb(b));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id(), 50002);
  EXPECT_TRUE(m->qr());
  EXPECT_EQ(m->opcode(), opcode::kQuery);
  EXPECT_TRUE(m->aa());
  EXPECT_FALSE(m->tc());
  EXPECT_TRUE(m->rd());
  EXPECT_TRUE(m->ra());
  EXPECT_FALSE(m->ad());
  EXPECT_FALSE(m->cd());
  EXPECT_EQ(m->rcode(), rcode::kNoError);
  EXPECT_EQ(m->ancount(), 1);
  EXPECT_EQ(m->nscount(), 0);
  EXPECT_EQ(m->arcount(), 1);
  const auto q = m->question();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->qtype, rrtype::kA);
  EXPECT_EQ(q->qclass, kClassIn);
  EXPECT_EQ(m->qname().to_string(), "example.test");
  size_t n = 0;
  for (const Record& r : m->records(Section::kAnswer)) {
    ++n;
    EXPECT_EQ(r.type, rrtype::kA);
    EXPECT_EQ(m->name_at(r.offset).to_string(), "example.test");  // via pointer c00c
    EXPECT_EQ(wire::load_u8(cb(b), r.offset), 0xc0);
    ASSERT_EQ(r.rdata_len, 4);
    EXPECT_EQ(wire::Ipv4Addr::load(cb(b), r.rdata_offset).to_string(), "192.0.2.10");
  }
  EXPECT_EQ(n, 1u);
  const auto e = m->edns();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->udp_payload_size, 1232);
  EXPECT_FALSE(e->dnssec_ok);
  EXPECT_EQ(e->version, 0);
}

TEST(DnsMessage, QueryCarriesEdnsCookie) {
  const Bytes b = fixture(kQueryA);
  auto m = Message::parse(cb(b));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->qr());
  EXPECT_TRUE(m->rd());
  EXPECT_TRUE(m->ad());  // dig sets AD in queries (RFC 6840 5.7)
  const auto e = m->edns();
  ASSERT_TRUE(e);
  ASSERT_EQ(e->options.size(), 12u);              // one option
  EXPECT_EQ(wire::load_be16(e->options, 0), 10);  // COOKIE (RFC 7873)
  EXPECT_EQ(wire::load_be16(e->options, 2), 8);   // client cookie only
}

TEST(DnsMessage, NoEdnsQueryAndAnswer) {
  for (size_t i : {size_t{kQueryNoEdns}, size_t{kAnswerNoEdns}}) {
    const Bytes b = fixture(i);
    auto m = Message::parse(cb(b));
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->edns());
    EXPECT_EQ(m->arcount(), 0);
  }
}

TEST(DnsMessage, NxDomainAndOtherTypes) {
  const Bytes nx_bytes = fixture(kAnswerNx);
  auto nx = Message::parse(cb(nx_bytes));
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->rcode(), rcode::kNxDomain);
  EXPECT_EQ(nx->rcode_full(), rcode::kNxDomain);
  EXPECT_EQ(nx->ancount(), 0);

  const Bytes cname = fixture(kAnswerCname);
  auto m = Message::parse(cb(cname));
  ASSERT_TRUE(m);
  const Record r = *m->records(Section::kAnswer).begin();
  EXPECT_EQ(r.type, rrtype::kCname);
  auto target = rdata_name(*m, r);
  ASSERT_TRUE(target);
  EXPECT_EQ(target->to_string(), "www.example.test");

  const Bytes ptr = fixture(kAnswerPtr);
  auto p = Message::parse(cb(ptr));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->qname().to_string(), "2.2.0.10.in-addr.arpa");
  EXPECT_EQ(rdata_name(*p, *p->records(Section::kAnswer).begin())->to_string(), "gateway.test");

  for (size_t i : {size_t{kAnswerAaaa}, size_t{kAnswerTxt}, size_t{kAnswerMx}, size_t{kAnswerSrv},
                   size_t{kAnswerTcp}, size_t{kAnswerV6}}) {
    const Bytes bytes = fixture(i);
    auto a = Message::parse(cb(bytes));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->ancount(), 1);
    EXPECT_TRUE(a->edns());
  }
  EXPECT_TRUE(fixtures()[kQueryTcp].tcp);
}

struct Malformed {
  const char* what;
  Bytes bytes;
  MessageError error;
};

TEST(DnsMessage, MalformedMessagesGiveExactErrors) {
  const Bytes name63x3 = cat({label(63), label(63), label(63)});
  const Bytes opt_head = {0x00, 0x00, 0x29, 0x04, 0xd0,
                          0x00, 0x00, 0x00, 0x00};  // root, OPT, 1232, ttl
  const std::vector<Malformed> cases = {
      {"11-byte header", Bytes(11, 0), MessageError::kTruncated},
      {"empty", {}, MessageError::kTruncated},
      {"qdcount 0xffff in 30 bytes", msg(0x0100, 0xffff, 0, 0, 0, Bytes(18, 0)),
       MessageError::kCountTooLarge},
      {"ancount needs 11 bytes each", msg(0x8180, 0, 2, 0, 0, Bytes(21, 0)),
       MessageError::kCountTooLarge},
      {"question cut in its type", msg(0x0100, 1, 0, 0, 0, cat({label(1), {0, 0, 1, 0}})),
       MessageError::kTruncated},
      {"label runs past the end", msg(0x0100, 1, 0, 0, 0, {5, 'a', 'b', 0, 0, 1}),
       MessageError::kTruncated},
      {"pointer to itself", msg(0x0100, 1, 0, 0, 0, cat({{0xc0, 0x0c}, kQtypeAClassIn})),
       MessageError::kPointerLoop},
      {"pointer back into its own name",
       msg(0x0100, 1, 0, 0, 0, cat({label(1), {0xc0, 0x0c}, kQtypeAClassIn})),
       MessageError::kPointerLoop},
      {"loop reached through a jump: owner -> RDATA that points at itself",
       // question: root, A, IN (12..16); answer 1 at 17: root owner, A, IN,
       // TTL, RDLENGTH 4, RDATA at 28 = label "z" + pointer to 28; answer 2
       // at 32: owner = pointer to 28. Every cycle through backward-only
       // jumps has to re-enter the run it left, which is what this does.
       msg(0x8180, 1, 2, 0, 0,
           cat({{0},
                kQtypeAClassIn,
                {0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 'z', 0xc0, 28},
                {0xc0, 28, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}})),
       MessageError::kPointerLoop},
      {"pointer to a label that runs across the pointer (found by the fuzzer)",
       // question: root, TYPE 0x0005, CLASS 1 (12..16); the answer owner at
       // 17 points at 14, where the byte 05 reads as a label over 15..19,
       // across the pointer itself and into what follows.
       msg(0x8180, 1, 1, 0, 0, {0, 0, 5, 0, 1, 0xc0, 14, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}),
       MessageError::kPointerLoop},
      {"pointer into the header (found by the fuzzer)",
       // The answer's owner points at 11, ARCOUNT's low byte, which would
       // read as a label over the question: a name no edit of the counts
       // may change.
       msg(0x8180, 1, 1, 0, 0, {0, 0, 1, 0, 1, 0xc0, 11, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0}),
       MessageError::kPointerIntoHeader},
      {"two-pointer cycle needs a forward pointer",
       msg(0x0100, 1, 0, 0, 0, cat({{0xc0, 0x0e, 0xc0, 0x0c}, kQtypeAClassIn})),
       MessageError::kForwardPointer},
      {"pointer past the end", msg(0x0100, 1, 0, 0, 0, cat({{0xc0, 0xff}, kQtypeAClassIn})),
       MessageError::kPointerPastEnd},
      {"pointer past a 16 KiB boundary",
       msg(0x0100, 1, 0, 0, 0, cat({{0xff, 0xff}, kQtypeAClassIn})), MessageError::kPointerPastEnd},
      {"forward pointer", msg(0x0100, 1, 0, 0, 0, cat({{0xc0, 0x0e}, kQtypeAClassIn, {0}})),
       MessageError::kForwardPointer},
      {"label length 64", msg(0x0100, 1, 0, 0, 0, cat({label(64), {0}, kQtypeAClassIn})),
       MessageError::kBadLabel},
      {"label type 0x80", msg(0x0100, 1, 0, 0, 0, cat({{0x80, 0}, kQtypeAClassIn})),
       MessageError::kBadLabel},
      {"name of 256 octets",
       msg(0x0100, 1, 0, 0, 0, cat({name63x3, label(62), {0}, kQtypeAClassIn})),
       MessageError::kNameTooLong},
      {"record RDATA past the end",
       msg(0x8180, 1, 1, 0, 0,
           cat({{0}, kQtypeAClassIn, {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2}})),
       MessageError::kTruncated},
      {"OPT option longer than RDLENGTH",
       msg(0x0100, 1, 0, 0, 1, cat({{0}, kQtypeAClassIn, opt_head, {0, 6, 0, 10, 0, 8, 1, 2}})),
       MessageError::kBadOpt},
      {"OPT option header cut",
       msg(0x0100, 1, 0, 0, 1, cat({{0}, kQtypeAClassIn, opt_head, {0, 2, 0, 10}})),
       MessageError::kBadOpt},
      {"OPT in the answer section",
       msg(0x8180, 1, 1, 0, 0, cat({{0}, kQtypeAClassIn, opt_head, {0, 0}})),
       MessageError::kBadOpt},
      {"two OPT records",
       msg(0x0100, 1, 0, 0, 2, cat({{0}, kQtypeAClassIn, opt_head, {0, 0}, opt_head, {0, 0}})),
       MessageError::kBadOpt},
      {"OPT owner not the root",
       msg(0x0100, 1, 0, 0, 1, cat({{0}, kQtypeAClassIn, {1, 'a'}, opt_head, {0, 0}})),
       MessageError::kBadOpt},
  };
  for (const auto& c : cases) {
    auto m = Message::parse(cb(c.bytes));
    ASSERT_FALSE(m) << c.what;
    EXPECT_EQ(m.error(), c.error) << c.what << ": got " << message_error_name(m.error());
  }
}

TEST(DnsMessage, LimitsThatAreStillValid) {
  // 255 octets exactly: 63+63+63+61 with length bytes and the root.
  const Bytes b = msg(0x0100, 1, 0, 0, 0,
                      cat({label(63), label(63), label(63), label(61), {0}, kQtypeAClassIn}));
  auto m = Message::parse(cb(b));
  ASSERT_TRUE(m) << message_error_name(m.error());
  EXPECT_EQ(m->qname().size(), 255u);
  // A chain of pointers, each to an earlier suffix: c.b.a via b.a via a.
  const Bytes chain = msg(0x8180, 1, 2, 0, 0,
                          cat({{1, 'a', 0},
                               kQtypeAClassIn,                                    // 12: a.
                               {1, 'b', 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0},  // 19: b.a.
                               {1, 'c', 0xc0, 19, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0}}));
  auto c = Message::parse(cb(chain));
  ASSERT_TRUE(c) << message_error_name(c.error());
  std::vector<std::string> owners;
  for (const Record& r : c->all_records()) owners.push_back(c->name_at(r.offset).to_string());
  EXPECT_EQ(owners, (std::vector<std::string>{"b.a", "c.b.a"}));
  // Trailing bytes are not part of the message.
  Bytes trailing = fixture(kAnswerA);
  const size_t len = trailing.size();
  trailing.push_back(0xee);
  EXPECT_EQ(Message::parse(cb(trailing))->size(), len);
}

TEST(DnsName, TextForms) {
  auto n = Name::from_text("WWW.Example.test.");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->to_string(), "WWW.Example.test");
  EXPECT_EQ(n->label_count(), 3u);
  EXPECT_TRUE(n->equals_ci(*Name::from_text("www.example.TEST")));
  EXPECT_FALSE(*n == *Name::from_text("www.example.TEST"));
  EXPECT_TRUE(n->ends_with_ci(*Name::from_text("EXAMPLE.test")));
  EXPECT_FALSE(n->ends_with_ci(*Name::from_text("ample.test")));
  EXPECT_TRUE(n->ends_with_ci(Name()));
  n->to_lower();
  EXPECT_EQ(n->to_string(), "www.example.test");
  EXPECT_EQ(Name::from_text(".")->to_string(), ".");
  EXPECT_FALSE(Name::from_text("a..b"));
  EXPECT_FALSE(Name::from_text(std::string(64, 'x')));
  EXPECT_TRUE(Name::from_text(std::string(63, 'x')));
  Name odd;
  const Bytes l = {'a', '.', 0x07};
  ASSERT_TRUE(odd.append_label(cb(l)));
  EXPECT_EQ(odd.to_string(), "a\\.\\007");
}

TEST(DnsBuild, QueryRoundTrip) {
  Bytes out(512);
  QuerySpec q;
  q.id = 0xbeef;
  q.qname = *Name::from_text("Example.Test");
  q.qtype = rrtype::kAaaa;
  q.dnssec_ok = true;
  q.cd = true;
  const auto len = build_query(mb(out), q);
  ASSERT_TRUE(len);
  out.resize(*len);
  auto m = Message::parse(cb(out));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id(), 0xbeef);
  EXPECT_FALSE(m->qr());
  EXPECT_TRUE(m->rd());
  EXPECT_TRUE(m->cd());
  EXPECT_EQ(m->qname().to_string(), "Example.Test");
  EXPECT_EQ(m->question()->qtype, rrtype::kAaaa);
  ASSERT_TRUE(m->edns());
  EXPECT_EQ(m->edns()->udp_payload_size, kAdvertisedUdpSize);
  EXPECT_TRUE(m->edns()->dnssec_ok);

  // The same question as dig's +noedns query, byte for byte apart from the ID and AD.
  const Bytes dig = fixture(kQueryNoEdns);
  QuerySpec plain;
  plain.id = wire::load_be16(cb(dig), 0);
  plain.qname = *Name::from_text("example.test");
  plain.edns_udp_size = std::nullopt;
  plain.ad = true;
  Bytes again(512);
  again.resize(*build_query(mb(again), plain));
  EXPECT_EQ(again, dig);
  Bytes tiny(20);
  EXPECT_FALSE(build_query(mb(tiny), plain));
}

TEST(DnsBuild, ResponseForBuiltinAnswers) {
  const Bytes query = fixture(kQueryA);
  auto qm = Message::parse(cb(query));
  ASSERT_TRUE(qm);
  Bytes out(512);
  ResponseBuilder rb(mb(out), *qm, rcode::kNoError, true);
  rb.add_a(60, wire::Ipv4Addr::from_octets(10, 0, 2, 2));
  rb.add_aaaa(60, *wire::Ipv6Addr::parse("fd00::2"));
  rb.add_ptr(60, *Name::from_text("host.containers.internal"));
  const auto len = rb.finish();
  ASSERT_TRUE(len);
  out.resize(*len);
  auto m = Message::parse(cb(out));
  ASSERT_TRUE(m) << message_error_name(m.error());
  EXPECT_EQ(m->id(), qm->id());
  EXPECT_TRUE(m->qr());
  EXPECT_TRUE(m->aa());
  EXPECT_TRUE(m->rd());
  EXPECT_EQ(m->ancount(), 3);
  EXPECT_EQ(m->arcount(), 1);
  ASSERT_TRUE(m->edns());
  std::vector<uint16_t> types;
  for (const Record& r : m->records(Section::kAnswer)) {
    types.push_back(r.type);
    EXPECT_EQ(r.ttl, 60u);
    EXPECT_EQ(m->name_at(r.offset).to_string(), "example.test");
  }
  EXPECT_EQ(types, (std::vector<uint16_t>{rrtype::kA, rrtype::kAaaa, rrtype::kPtr}));
  // Too small a buffer is reported, never overrun.
  Bytes small(40);
  ResponseBuilder tight(mb(small), *qm, rcode::kNoError, true);
  tight.add_aaaa(60, *wire::Ipv6Addr::parse("fd00::2"));
  EXPECT_FALSE(tight.finish());
}

TEST(DnsBuild, ErrorResponses) {
  const Bytes query = fixture(kQueryPtr);
  Bytes out(512);
  for (uint8_t rc : {rcode::kServFail, rcode::kFormErr, rcode::kRefused}) {
    const auto len = build_error_response(mb(out), cb(query), rc);
    ASSERT_TRUE(len);
    auto m = Message::parse(cb(out).first(*len));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->rcode(), rc);
    EXPECT_EQ(m->id(), 16831);
    EXPECT_EQ(m->qname().to_string(), "2.2.0.10.in-addr.arpa");
    EXPECT_EQ(m->question()->qtype, rrtype::kPtr);
    EXPECT_EQ(m->ancount(), 0);
    EXPECT_TRUE(m->edns());
    EXPECT_FALSE(m->aa());
  }
  // Garbage after a readable header: FORMERR with the ID and no question.
  const Bytes garbage = msg(0x0100, 1, 0, 0, 0, {0xc0, 0x0c, 0, 1, 0, 1});
  const auto len = build_error_response(mb(out), cb(garbage), rcode::kFormErr);
  ASSERT_EQ(len, std::optional<size_t>(kHeaderLen));
  auto m = Message::parse(cb(out).first(*len));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id(), 0x1234);
  EXPECT_EQ(m->rcode(), rcode::kFormErr);
  EXPECT_EQ(m->qdcount(), 0);
  EXPECT_TRUE(m->rd());
  // Never a response to a response, nor to less than a header.
  EXPECT_FALSE(build_error_response(mb(out), cb(fixture(kAnswerA)), rcode::kServFail));
  EXPECT_FALSE(build_error_response(mb(out), cb(Bytes(11, 0)), rcode::kFormErr));
}

TEST(DnsEdit, IdAndTtls) {
  Bytes b = fixture(kAnswerA);
  set_id(mb(b), 0x0102);
  EXPECT_EQ(Message::parse(cb(b))->id(), 0x0102);
  ASSERT_TRUE(rewrite_ttls(mb(b), [](uint32_t) { return 300u; }));
  ASSERT_TRUE(age_ttls(mb(b), 100));
  auto m = Message::parse(cb(b));
  for (const Record& r : m->all_records()) {
    if (r.type == rrtype::kOpt) {
      EXPECT_EQ(r.ttl, 0u);  // EDNS flags untouched
    } else {
      EXPECT_EQ(r.ttl, 200u);
    }
  }
  ASSERT_TRUE(age_ttls(mb(b), 1000));
  EXPECT_EQ((*Message::parse(cb(b))->records(Section::kAnswer).begin()).ttl, 0u);
  Bytes junk(11, 0);
  EXPECT_FALSE(age_ttls(mb(junk), 1));
}

TEST(DnsEdit, QuestionCase) {
  Bytes b = fixture(kAnswerA);
  ASSERT_TRUE(copy_question_case(mb(b), *Name::from_text("ExAmPlE.TeSt")));
  auto m = Message::parse(cb(b));
  EXPECT_EQ(m->qname().to_string(), "ExAmPlE.TeSt");
  EXPECT_EQ(m->name_at((*m->records(Section::kAnswer).begin()).offset).to_string(), "ExAmPlE.TeSt");
  EXPECT_FALSE(copy_question_case(mb(b), *Name::from_text("other.test")));
}

TEST(DnsEdit, RemoveOpt) {
  Bytes b = fixture(kAnswerA);
  const auto len = remove_opt(mb(b));
  ASSERT_TRUE(len);
  EXPECT_EQ(*len, b.size() - 11);
  b.resize(*len);
  auto m = Message::parse(cb(b));
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->edns());
  EXPECT_EQ(m->ancount(), 1);
  EXPECT_EQ(remove_opt(mb(b)), std::optional<size_t>(b.size()));
}

// A response with `n` A records (16 bytes each) to dig's example.test query.
Bytes many_a(size_t n, bool edns) {
  Bytes q = fixture(edns ? kQueryA : kQueryNoEdns);
  auto qm = Message::parse(cb(q));
  Bytes out(4096);
  ResponseBuilder rb(mb(out), *qm, rcode::kNoError, false);
  for (size_t i = 0; i < n; ++i) rb.add_a(60, wire::Ipv4Addr{static_cast<uint32_t>(i)});
  out.resize(*rb.finish());
  return out;
}

TEST(DnsEdit, ClampToClientUdpSize) {
  // No EDNS: 12 + 18 (question) + 40 * 16 = 670 bytes; 30 records fit 512.
  Bytes b = many_a(40, false);
  ASSERT_EQ(b.size(), 670u);
  auto len = clamp_to_size(mb(b), kClassicUdpSize);
  ASSERT_TRUE(len);
  EXPECT_EQ(*len, 30u + 30 * 16);
  auto m = Message::parse(cb(b).first(*len));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->tc());
  EXPECT_EQ(m->ancount(), 30);

  // With EDNS the OPT record (11 bytes) is kept at the end.
  Bytes e = many_a(40, true);
  len = clamp_to_size(mb(e), kClassicUdpSize);
  ASSERT_TRUE(len);
  auto me = Message::parse(cb(e).first(*len));
  ASSERT_TRUE(me);
  EXPECT_TRUE(me->tc());
  EXPECT_EQ(me->ancount(), 29);
  EXPECT_EQ(me->arcount(), 1);
  ASSERT_TRUE(me->edns());
  EXPECT_LE(*len, kClassicUdpSize);

  // Already small enough: untouched.
  Bytes small = many_a(2, true);
  const Bytes copy = small;
  EXPECT_EQ(clamp_to_size(mb(small), kClassicUdpSize), std::optional<size_t>(small.size()));
  EXPECT_EQ(small, copy);
}

}  // namespace
}  // namespace tapir::dns
