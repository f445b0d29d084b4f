#include "dns/cache.hpp"

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

// The engine's clock, faked: the cache only ever sees these values.
constexpr MonoTime kT0{1'000'000'000'000};
MonoTime at(double seconds) {
  return kT0 + Duration::nanos(static_cast<int64_t>(seconds * 1e9));
}

// dig's A query for example.test (ID 50002, EDNS) and dnsmasq's answer,
// from tests/data/dns.pcap. dnsmasq answered with TTL 0 (its --address
// records), which is not cacheable; tests give the records a TTL first.
Bytes captured(size_t i) {
  return test::dns_payloads().at(i).bytes;
}
Bytes answer_with_ttl(uint32_t ttl) {
  Bytes a = captured(1);
  rewrite_ttls(mb(a), [ttl](uint32_t) { return ttl; });
  return a;
}

Bytes query_for(const std::string& name, uint16_t id = 7, bool dnssec_ok = false) {
  QuerySpec q;
  q.id = id;
  q.qname = *Name::from_text(name);
  q.dnssec_ok = dnssec_ok;
  Bytes out(512);
  out.resize(*build_query(mb(out), q));
  return out;
}
Bytes answer_for(const std::string& name, uint32_t ttl) {
  const Bytes q = query_for(name);
  auto qm = Message::parse(cb(q));
  Bytes out(512);
  ResponseBuilder rb(mb(out), *qm, rcode::kNoError, false);
  rb.add_a(ttl, wire::Ipv4Addr::from_octets(192, 0, 2, 1));
  out.resize(*rb.finish());
  return out;
}

// An NXDOMAIN for missing.test with an SOA in the authority section, as an
// authoritative server sends it (RFC 2308 3). Built by hand: dnsmasq in the
// capture has no zone, so its NXDOMAIN carries no SOA.
Bytes nxdomain_with_soa(uint32_t soa_ttl, uint32_t minimum, uint8_t rc = rcode::kNxDomain) {
  auto be32 = [](uint32_t v) {
    return Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                 static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  };
  Bytes b = {
      0xab, 0xcd,                             // ID
      0x81, static_cast<uint8_t>(0x80 | rc),  // QR RD | RA, RCODE
      0,    1,
      0,    0,
      0,    1,
      0,    0,  // QD 1, AN 0, NS 1, AR 0
      7,    'm',
      'i',  's',
      's',  'i',
      'n',  'g',
      4,    't',
      'e',  's',
      't',  0,  // 12: missing.test
      0,    1,
      0,    1,   // A IN
      0xc0, 20,  // 30: owner "test" (the label at 20)
      0,    6,
      0,    1,  // SOA IN
  };
  for (uint8_t v : be32(soa_ttl)) b.push_back(v);
  const Bytes rdata_names = {
      2,  'n', 's', 0xc0, 20,                                           // MNAME ns.test
      10, 'h', 'o', 's',  't', 'm', 'a', 's', 't', 'e', 'r', 0xc0, 20,  // RNAME
  };
  b.push_back(0);
  b.push_back(static_cast<uint8_t>(rdata_names.size() + 20));  // RDLENGTH
  for (uint8_t v : rdata_names) b.push_back(v);
  for (uint32_t v : {1u, 3600u, 600u, 86400u, minimum}) {  // SERIAL .. MINIMUM
    for (uint8_t o : be32(v)) b.push_back(o);
  }
  return b;
}

uint32_t first_ttl(ConstBytes msg, Section s) {
  auto m = Message::parse(msg);
  return (*m->records(s).begin()).ttl;
}

TEST(DnsCache, ServesWithTtlCountedDownAndClientId) {
  Cache cache;
  const Bytes answer = answer_with_ttl(300);
  ASSERT_EQ(cache.insert(cb(answer), false, false, kT0), CacheVerdict::kStored);
  Bytes query = captured(0);
  set_id(mb(query), 0x4242);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  const auto len = cache.lookup(*qm, at(100.9), mb(out));
  ASSERT_TRUE(len);
  auto m = Message::parse(cb(out).first(*len));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id(), 0x4242);
  for (const Record& r : m->all_records()) {
    EXPECT_EQ(r.ttl, r.type == rrtype::kOpt ? 0u : 200u);  // whole seconds; OPT untouched
  }
  EXPECT_EQ(cache.stats().hits, 1u);
  // The stored copy is not aged: a later hit counts from insert time.
  ASSERT_TRUE(cache.lookup(*qm, at(250), mb(out)));
  EXPECT_EQ(first_ttl(cb(out).first(*len), Section::kAnswer), 50u);
}

TEST(DnsCache, RestoresClientQuestionCase) {
  Cache cache;
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(60)), false, false, kT0), CacheVerdict::kStored);
  Bytes query = captured(0);
  ASSERT_TRUE(copy_question_case(mb(query), *Name::from_text("eXaMpLe.TEST")));
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  const auto len = cache.lookup(*qm, at(1), mb(out));
  ASSERT_TRUE(len);
  auto m = Message::parse(cb(out).first(*len));
  EXPECT_EQ(m->qname().to_string(), "eXaMpLe.TEST");
  // The answer's owner is a pointer to the question, so it follows.
  EXPECT_EQ(m->name_at((*m->records(Section::kAnswer).begin()).offset).to_string(), "eXaMpLe.TEST");
}

TEST(DnsCache, ExpiresAtTtl) {
  Cache cache(CacheConfig{.stale_max = 0});  // no serve-stale: an expired entry goes at once
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(30)), false, false, kT0), CacheVerdict::kStored);
  const Bytes query = captured(0);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  const auto len = cache.lookup(*qm, at(29.99), mb(out));
  ASSERT_TRUE(len);
  EXPECT_EQ(first_ttl(cb(out).first(*len), Section::kAnswer), 1u);
  EXPECT_FALSE(cache.lookup(*qm, at(30), mb(out)));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().expired, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
}

// RFC 8767: an expired entry stays for stale_max; lookup() misses it,
// lookup_stale() serves it with TTL 30, and past stale_max it is gone.
TEST(DnsCache, KeepsExpiredEntriesForServeStale) {
  Cache cache(CacheConfig{.stale_max = 3600});
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(30)), false, false, kT0), CacheVerdict::kStored);
  Bytes query = captured(0);
  set_id(mb(query), 0x1234);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  EXPECT_FALSE(cache.lookup(*qm, at(31), mb(out)));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().expired, 0u);

  const auto len = cache.lookup_stale(*qm, at(1000), mb(out));
  ASSERT_TRUE(len);
  auto m = Message::parse(cb(out).first(*len));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id(), 0x1234);
  for (const Record& r : m->all_records()) {
    EXPECT_EQ(r.ttl, r.type == rrtype::kOpt ? 0u : kStaleTtl);
  }
  EXPECT_EQ(cache.stats().stale, 1u);

  // Fresh entries are not lookup_stale's to serve; past stale_max nothing is.
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(30)), false, false, at(2000)), CacheVerdict::kStored);
  EXPECT_FALSE(cache.lookup_stale(*qm, at(2010), mb(out)));
  EXPECT_TRUE(cache.lookup_stale(*qm, at(2030 + 3599), mb(out)));
  EXPECT_FALSE(cache.lookup_stale(*qm, at(2030 + 3600), mb(out)));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.stats().expired, 1u);
}

TEST(DnsCache, StaleMaxZeroServesNothingStale) {
  Cache cache(CacheConfig{.stale_max = 0});
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(30)), false, false, kT0), CacheVerdict::kStored);
  const Bytes query = captured(0);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  EXPECT_FALSE(cache.lookup_stale(*qm, at(31), mb(out)));
  EXPECT_EQ(cache.stats().stale, 0u);
}

// After a stale answer (a failed refresh), lookup() with a CacheHit serves
// the entry stale at once for kStaleRecheck; a plain lookup() never does.
TEST(DnsCache, RecheckWindowServesStaleAtOnce) {
  Cache cache;
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(30)), false, false, kT0), CacheVerdict::kStored);
  const Bytes query = captured(0);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  CacheHit hit;
  EXPECT_FALSE(cache.lookup(*qm, at(40), mb(out), &hit));  // no failure yet: a miss
  EXPECT_FALSE(hit.stale);
  ASSERT_TRUE(cache.lookup_stale(*qm, at(50), mb(out)));
  EXPECT_FALSE(cache.lookup(*qm, at(51), mb(out)));
  const auto len = cache.lookup(*qm, at(51), mb(out), &hit);
  ASSERT_TRUE(len);
  EXPECT_TRUE(hit.stale);
  EXPECT_FALSE(hit.prefetch);
  EXPECT_EQ(first_ttl(cb(out).first(*len), Section::kAnswer), kStaleTtl);
  hit = {};
  EXPECT_FALSE(cache.lookup(*qm, at(80), mb(out), &hit));  // the window is 30 s
  EXPECT_FALSE(hit.stale);
  // A fresh answer replaces the stale entry: fresh hits again.
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(30)), false, false, at(81)), CacheVerdict::kStored);
  ASSERT_TRUE(cache.lookup(*qm, at(82), mb(out), &hit));
  EXPECT_FALSE(hit.stale);
}

// Prefetch is due in the last tenth of the lifetime the entry was stored with.
TEST(DnsCache, PrefetchDueInTheLastTenthOfTheTtl) {
  Cache cache;
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(300)), false, false, kT0), CacheVerdict::kStored);
  const Bytes query = captured(0);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  CacheHit hit;
  ASSERT_TRUE(cache.lookup(*qm, at(269.9), mb(out), &hit));
  EXPECT_FALSE(hit.prefetch);
  ASSERT_TRUE(cache.lookup(*qm, at(270), mb(out), &hit));
  EXPECT_TRUE(hit.prefetch);
  EXPECT_FALSE(hit.stale);
  EXPECT_EQ(cache.stats().hits, 2u);
}

// Expired entries kept for serve-stale count against max_entries like any.
TEST(DnsCache, StaleEntriesStayWithinCapacity) {
  Cache cache(CacheConfig{.max_entries = 3});
  for (int i = 0; i < 10; ++i) {
    std::string name("n");  // (append: g++ 12 warns falsely about -Wrestrict on operator+)
    name.append(std::to_string(i)).append(".test");
    const Bytes a = answer_for(name, 1);
    ASSERT_EQ(cache.insert(cb(a), false, false, at(i * 10)), CacheVerdict::kStored);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.stats().evictions, 7u);
  Bytes out(4096);
  const Bytes q9 = query_for("n9.test");
  auto m9 = Message::parse(cb(q9));
  EXPECT_TRUE(cache.lookup_stale(*m9, at(200), mb(out)));
  const Bytes q0 = query_for("n0.test");
  auto m0 = Message::parse(cb(q0));
  EXPECT_FALSE(cache.lookup_stale(*m0, at(200), mb(out)));  // evicted long ago
}

TEST(DnsCache, TtlCaps) {
  const Bytes query = captured(0);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  // dnsmasq's TTL 0 is "do not cache" ...
  Cache plain;
  EXPECT_EQ(plain.insert(cb(captured(1)), false, false, kT0), CacheVerdict::kZeroTtl);
  // ... unless a minimum TTL is configured.
  Cache floor({.max_entries = 10, .min_ttl = 5});
  ASSERT_EQ(floor.insert(cb(captured(1)), false, false, kT0), CacheVerdict::kStored);
  auto len = floor.lookup(*qm, at(2), mb(out));
  ASSERT_TRUE(len);
  EXPECT_EQ(first_ttl(cb(out).first(*len), Section::kAnswer), 3u);
  EXPECT_FALSE(floor.lookup(*qm, at(5), mb(out)));
  // A week-long TTL is served as at most max_ttl.
  Cache ceiling({.max_entries = 10, .max_ttl = 3600});
  ASSERT_EQ(ceiling.insert(cb(answer_with_ttl(604800)), false, false, kT0), CacheVerdict::kStored);
  len = ceiling.lookup(*qm, kT0, mb(out));
  ASSERT_TRUE(len);
  EXPECT_EQ(first_ttl(cb(out).first(*len), Section::kAnswer), 3600u);
  EXPECT_FALSE(ceiling.lookup(*qm, at(3600), mb(out)));
}

TEST(DnsCache, NegativeCachingUsesSoaMinimum) {
  const Bytes query = query_for("MISSING.test", 0x1111);
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  // RFC 2308 5: min(SOA TTL 3600, MINIMUM 60) = 60 s.
  Cache cache;
  const Bytes nx = nxdomain_with_soa(3600, 60);
  ASSERT_TRUE(Message::parse(cb(nx)));
  ASSERT_EQ(*soa_minimum(*Message::parse(cb(nx)),
                         *Message::parse(cb(nx))->records(Section::kAuthority).begin()),
            60u);
  ASSERT_EQ(cache.insert(cb(nx), false, false, kT0), CacheVerdict::kStored);
  auto len = cache.lookup(*qm, at(20), mb(out));
  ASSERT_TRUE(len);
  auto m = Message::parse(cb(out).first(*len));
  EXPECT_EQ(m->rcode(), rcode::kNxDomain);
  EXPECT_EQ(m->id(), 0x1111);
  EXPECT_EQ(m->qname().to_string(), "MISSING.test");
  EXPECT_EQ(first_ttl(cb(out).first(*len), Section::kAuthority), 40u);  // SOA TTL = 60 - 20
  EXPECT_FALSE(cache.lookup(*qm, at(60), mb(out)));

  // The SOA's own TTL when it is the smaller one.
  Cache c2;
  ASSERT_EQ(c2.insert(cb(nxdomain_with_soa(10, 600)), false, false, kT0), CacheVerdict::kStored);
  EXPECT_TRUE(c2.lookup(*qm, at(9.5), mb(out)));
  EXPECT_FALSE(c2.lookup(*qm, at(10), mb(out)));

  // max_negative_ttl caps it.
  Cache c3({.max_entries = 10, .max_negative_ttl = 30});
  ASSERT_EQ(c3.insert(cb(nxdomain_with_soa(3600, 3600)), false, false, kT0), CacheVerdict::kStored);
  EXPECT_FALSE(c3.lookup(*qm, at(30), mb(out)));

  // NODATA (NOERROR, no answers) with an SOA is negative too.
  Cache c4;
  ASSERT_EQ(c4.insert(cb(nxdomain_with_soa(3600, 60, rcode::kNoError)), false, false, kT0),
            CacheVerdict::kStored);
  len = c4.lookup(*qm, at(1), mb(out));
  ASSERT_TRUE(len);
  EXPECT_EQ(Message::parse(cb(out).first(*len))->rcode(), rcode::kNoError);

  // dnsmasq's NXDOMAIN in the capture has no SOA: not cached (RFC 2308 5).
  EXPECT_EQ(cache.insert(cb(captured(15)), false, false, kT0), CacheVerdict::kNoSoa);
}

TEST(DnsCache, LruEviction) {
  Cache cache({.max_entries = 2});
  ASSERT_EQ(cache.insert(cb(answer_for("a.test", 60)), false, false, kT0), CacheVerdict::kStored);
  ASSERT_EQ(cache.insert(cb(answer_for("b.test", 60)), false, false, kT0), CacheVerdict::kStored);
  Bytes out(4096);
  const Bytes qa = query_for("a.test");
  const Bytes qb = query_for("b.test");
  const Bytes qc = query_for("c.test");
  ASSERT_TRUE(cache.lookup(*Message::parse(cb(qa)), at(1), mb(out)));  // a is now newest
  ASSERT_EQ(cache.insert(cb(answer_for("c.test", 60)), false, false, kT0), CacheVerdict::kStored);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_TRUE(cache.lookup(*Message::parse(cb(qa)), at(2), mb(out)));
  EXPECT_FALSE(cache.lookup(*Message::parse(cb(qb)), at(2), mb(out)));
  EXPECT_TRUE(cache.lookup(*Message::parse(cb(qc)), at(2), mb(out)));
  // Re-inserting a key replaces it rather than growing.
  ASSERT_EQ(cache.insert(cb(answer_for("c.test", 90)), false, false, kT0), CacheVerdict::kStored);
  EXPECT_EQ(cache.size(), 2u);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(DnsCache, KeyIncludesTypeAndDoBit) {
  Cache cache;
  ASSERT_EQ(cache.insert(cb(answer_for("a.test", 60)), true, false, kT0), CacheVerdict::kStored);
  Bytes out(4096);
  const Bytes plain = query_for("A.TEST", 1, false);
  const Bytes with_do = query_for("A.TEST", 1, true);
  EXPECT_FALSE(cache.lookup(*Message::parse(cb(plain)), at(1), mb(out)));
  EXPECT_TRUE(cache.lookup(*Message::parse(cb(with_do)), at(1), mb(out)));
  QuerySpec aaaa;
  aaaa.qname = *Name::from_text("a.test");
  aaaa.qtype = rrtype::kAaaa;
  aaaa.dnssec_ok = true;
  Bytes q(512);
  q.resize(*build_query(mb(q), aaaa));
  EXPECT_FALSE(cache.lookup(*Message::parse(cb(q)), at(1), mb(out)));
}

// RFC 4035 3.2.2: a CD=1 answer skipped validation upstream; a CD=0 client
// relies on it, so the two never share an entry.
TEST(DnsCache, KeyIncludesTheCdBit) {
  Cache cache;
  ASSERT_EQ(cache.insert(cb(answer_for("a.test", 60)), false, true, kT0), CacheVerdict::kStored);
  Bytes out(4096);
  Bytes plain = query_for("a.test", 1);
  Bytes with_cd = plain;
  with_cd[3] |= 0x10;  // CD
  EXPECT_FALSE(cache.lookup(*Message::parse(cb(plain)), at(1), mb(out)));
  EXPECT_TRUE(cache.lookup(*Message::parse(cb(with_cd)), at(1), mb(out)));
  ASSERT_EQ(cache.insert(cb(answer_for("b.test", 60)), false, false, kT0), CacheVerdict::kStored);
  Bytes b_cd = query_for("b.test", 1);
  b_cd[3] |= 0x10;
  EXPECT_FALSE(cache.lookup(*Message::parse(cb(b_cd)), at(1), mb(out)));
}

// The index is hashed under the cache's own key: what collides in one
// process (or one cache) says nothing about another.
TEST(DnsCache, IndexHashIsKeyed) {
  const Cache a({}, KeyedHash(1, 2));
  const Cache a2({}, KeyedHash(1, 2));
  const Cache b({}, KeyedHash(3, 4));
  size_t differ = 0;
  for (int i = 0; i < 64; ++i) {
    std::string name = "n";
    name += std::to_string(i);
    name += ".test";
    const QuestionKey k(*Name::from_text(name), rrtype::kA, kClassIn, false, false);
    EXPECT_EQ(a.index_hash(k), a2.index_hash(k));
    EXPECT_EQ(a.index_hash(k), KeyedHash(1, 2)(k.view()));
    if (a.index_hash(k) != b.index_hash(k)) ++differ;
  }
  EXPECT_EQ(differ, 64u);
}

// SipHash-2-4's reference vectors (key 00..0f, message 00..len-1).
TEST(DnsKeyedHash, MatchesSipHash24ReferenceVectors) {
  const KeyedHash h(0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull);
  std::string m;
  EXPECT_EQ(h(m), 0x726fdb47dd0e0e31ull);
  m.push_back('\0');
  EXPECT_EQ(h(m), 0x74f839c593dc67fdull);
  for (char c = 1; c < 15; ++c) m.push_back(c);
  EXPECT_EQ(h(m), 0xa129ca6149be45e5ull);
}

TEST(DnsCache, RefusesWhatMustNotBeCached) {
  Cache cache;
  Bytes servfail = answer_with_ttl(60);
  const uint16_t flags = wire::load_be16(cb(servfail), 2);
  wire::store_be16(mb(servfail), 2, static_cast<uint16_t>((flags & 0xfff0) | rcode::kServFail));
  EXPECT_EQ(cache.insert(cb(servfail), false, false, kT0), CacheVerdict::kNotCacheable);
  Bytes tc = answer_with_ttl(60);
  wire::store_be16(mb(tc), 2, static_cast<uint16_t>(flags | Message::kFlagTc));
  EXPECT_EQ(cache.insert(cb(tc), false, false, kT0), CacheVerdict::kNotCacheable);
  EXPECT_EQ(cache.insert(cb(captured(0)), false, false, kT0),
            CacheVerdict::kNotCacheable);  // a query
  EXPECT_EQ(cache.insert(cb(Bytes(5, 0)), false, false, kT0), CacheVerdict::kMalformed);
  Cache small({.max_entries = 10, .max_answer_bytes = 40});
  EXPECT_EQ(small.insert(cb(answer_with_ttl(60)), false, false, kT0), CacheVerdict::kTooLarge);
  Cache off({.max_entries = 0});
  EXPECT_EQ(off.insert(cb(answer_with_ttl(60)), false, false, kT0), CacheVerdict::kDisabled);
  EXPECT_EQ(cache.size(), 0u);
  // A buffer too small for the answer is a miss, not an overrun.
  ASSERT_EQ(cache.insert(cb(answer_with_ttl(60)), false, false, kT0), CacheVerdict::kStored);
  const Bytes query = captured(0);
  Bytes tiny(20);
  EXPECT_FALSE(cache.lookup(*Message::parse(cb(query)), at(1), mb(tiny)));
}

}  // namespace
}  // namespace tapir::dns
