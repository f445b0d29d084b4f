#include "dns/builtin.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message_build.hpp"
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

// tapir's NAT plan: the gateway .2 maps to the host (DESIGN.md).
BuiltinConfig nat_plan() {
  BuiltinConfig c;
  c.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
  c.host6 = *wire::Ipv6Addr::parse("fd00::2");
  c.gateway4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
  c.gateway6 = *wire::Ipv6Addr::parse("fd00::2");
  return c;
}

Bytes query(const std::string& name, uint16_t qtype, bool edns = true) {
  QuerySpec q;
  q.id = 0x5151;
  q.qname = *Name::from_text(name);
  q.qtype = qtype;
  if (!edns) q.edns_udp_size = std::nullopt;
  Bytes out(512);
  out.resize(*build_query(mb(out), q));
  return out;
}

// The answer records as "TYPE value" strings; empty optional: not mine.
std::optional<std::vector<std::string>> ask(const BuiltinNames& b, const Bytes& q,
                                            Message* response = nullptr, Bytes* keep = nullptr) {
  auto qm = Message::parse(cb(q));
  Bytes out(512);
  const auto len = b.answer(*qm, mb(out));
  if (!len) return std::nullopt;
  out.resize(*len);
  auto m = Message::parse(cb(out));
  EXPECT_TRUE(m);
  EXPECT_EQ(m->id(), qm->id());
  EXPECT_TRUE(m->aa());
  EXPECT_EQ(m->rcode(), rcode::kNoError);
  EXPECT_EQ(m->qname(), qm->qname());  // the client's case, echoed
  std::vector<std::string> rr;
  for (const Record& r : m->records(Section::kAnswer)) {
    if (r.type == rrtype::kA)
      rr.push_back("A " + wire::Ipv4Addr::load(m->bytes(), r.rdata_offset).to_string());
    if (r.type == rrtype::kAaaa)
      rr.push_back("AAAA " + wire::Ipv6Addr::load(m->bytes(), r.rdata_offset).to_string());
    if (r.type == rrtype::kPtr) rr.push_back("PTR " + rdata_name(*m, r)->to_string());
  }
  if (response != nullptr && keep != nullptr) {
    *keep = out;
    *response = *Message::parse(cb(*keep));
  }
  return rr;
}
using Rr = std::vector<std::string>;

TEST(DnsBuiltin, HostAndGatewayNames) {
  const BuiltinNames b(nat_plan());
  EXPECT_EQ(ask(b, query("host.containers.internal", rrtype::kA)), Rr{"A 10.0.2.2"});
  EXPECT_EQ(ask(b, query("HOST.Docker.Internal", rrtype::kAaaa)), Rr{"AAAA fd00::2"});
  EXPECT_EQ(ask(b, query("gateway.containers.internal", rrtype::kAny)),
            (Rr{"A 10.0.2.2", "AAAA fd00::2"}));
  // A type the name does not have: NODATA, not forwarded, not NXDOMAIN.
  EXPECT_EQ(ask(b, query("host.containers.internal", rrtype::kMx)), Rr{});
  // Not ours.
  EXPECT_FALSE(ask(b, query("example.test", rrtype::kA)));
  EXPECT_FALSE(ask(b, query("x.host.containers.internal", rrtype::kA)));
  EXPECT_FALSE(ask(b, query("containers.internal", rrtype::kA)));
}

TEST(DnsBuiltin, MissingFamilyIsNodata) {
  BuiltinConfig c;
  c.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
  const BuiltinNames b(c);
  EXPECT_EQ(ask(b, query("host.containers.internal", rrtype::kAaaa)), Rr{});
  EXPECT_FALSE(ask(b, query("gateway.containers.internal", rrtype::kA)));  // not configured
}

TEST(DnsBuiltin, PtrForRealDigQuery) {
  // dig's own PTR query for 2.2.0.10.in-addr.arpa from tests/data/dns.pcap.
  const Bytes dig = test::dns_payloads().at(12).bytes;
  const BuiltinNames b(nat_plan());
  Message m = *Message::parse(cb(dig));
  Bytes keep;
  EXPECT_EQ(ask(b, dig, &m, &keep), Rr{"PTR host.containers.internal"});
  EXPECT_TRUE(m.edns());  // dig sent OPT, so the answer has one
  EXPECT_EQ(
      ask(b, query(reverse_name(*wire::Ipv6Addr::parse("fd00::2")).to_string(), rrtype::kPtr)),
      Rr{"PTR host.containers.internal"});
  EXPECT_EQ(ask(b, query("2.2.0.10.IN-ADDR.ARPA", rrtype::kA)), Rr{});  // ours, no A there
  EXPECT_FALSE(ask(b, query("3.2.0.10.in-addr.arpa", rrtype::kPtr)));
  EXPECT_FALSE(ask(b, query("02.2.0.10.in-addr.arpa", rrtype::kPtr)));
  EXPECT_FALSE(ask(b, query("2.0.10.in-addr.arpa", rrtype::kPtr)));
}

TEST(DnsBuiltin, ReverseNames) {
  EXPECT_EQ(reverse_name(wire::Ipv4Addr::from_octets(10, 0, 2, 2)).to_string(),
            "2.2.0.10.in-addr.arpa");
  EXPECT_EQ(reverse_name(*wire::Ipv6Addr::parse("2001:db8::1")).to_string(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(DnsBuiltin, AddHost) {
  BuiltinNames b(nat_plan());
  ASSERT_TRUE(b.add_host("db.local:192.0.2.7"));
  ASSERT_TRUE(b.add_host("db.local:fd00::7"));
  ASSERT_TRUE(b.add_host("v6only:[2001:db8::9]"));
  ASSERT_TRUE(b.add_host("myhost:host-gateway"));
  EXPECT_EQ(ask(b, query("DB.local", rrtype::kA, false)), Rr{"A 192.0.2.7"});
  EXPECT_EQ(ask(b, query("db.local", rrtype::kAaaa)), Rr{"AAAA fd00::7"});
  EXPECT_EQ(ask(b, query("v6only", rrtype::kAaaa)), Rr{"AAAA 2001:db8::9"});
  EXPECT_EQ(ask(b, query("v6only", rrtype::kA)), Rr{});
  EXPECT_EQ(ask(b, query("myhost", rrtype::kA)), Rr{"A 10.0.2.2"});
  EXPECT_EQ(ask(b, query("7.2.0.192.in-addr.arpa", rrtype::kPtr)), Rr{"PTR db.local"});
  // The host's address still maps back to host.containers.internal (first entry).
  EXPECT_EQ(ask(b, query("2.2.0.10.in-addr.arpa", rrtype::kPtr)),
            Rr{"PTR host.containers.internal"});

  EXPECT_EQ(b.add_host("nocolon").error(), AddHostError::kBadSyntax);
  EXPECT_EQ(b.add_host(":1.2.3.4").error(), AddHostError::kBadName);
  EXPECT_EQ(b.add_host("a..b:1.2.3.4").error(), AddHostError::kBadName);
  EXPECT_EQ(b.add_host("name:not-an-address").error(), AddHostError::kBadAddress);
  EXPECT_EQ(b.add_host("name:").error(), AddHostError::kBadAddress);
  BuiltinNames bare(BuiltinConfig{});
  EXPECT_EQ(bare.add_host("x:host-gateway").error(), AddHostError::kNoHostAddress);
}

TEST(DnsBuiltin, IgnoresResponsesAndOtherClasses) {
  const BuiltinNames b(nat_plan());
  Bytes q = query("host.containers.internal", rrtype::kA);
  Bytes out(512);
  q[2] |= 0x80;  // QR: a response is never answered
  EXPECT_FALSE(b.answer(*Message::parse(cb(q)), mb(out)));
  QuerySpec chaos;
  chaos.qname = *Name::from_text("host.containers.internal");
  chaos.qclass = 3;  // CH
  Bytes c(512);
  c.resize(*build_query(mb(c), chaos));
  EXPECT_FALSE(b.answer(*Message::parse(cb(c)), mb(out)));
}

TEST(DnsBuiltin, HostsFileEntriesAnswerAfterTheTableAndAreReplacedWhole) {
  BuiltinNames b(nat_plan());
  ASSERT_TRUE(b.add_host("db.test:192.0.2.7"));
  b.set_hosts(parse_hosts("192.0.2.70 db.test\n192.0.2.8 web.test www\n2001:db8::8 web.test\n"
                          "10.0.2.99 host.containers.internal\n")
                  .entries);
  // --add-host and the built-in names win: their addresses only.
  EXPECT_EQ(ask(b, query("db.test", rrtype::kA)), Rr{"A 192.0.2.7"});
  EXPECT_EQ(ask(b, query("host.containers.internal", rrtype::kA)), Rr{"A 10.0.2.2"});
  EXPECT_EQ(ask(b, query("WEB.test", rrtype::kA)), Rr{"A 192.0.2.8"});
  EXPECT_EQ(ask(b, query("web.test", rrtype::kAaaa)), Rr{"AAAA 2001:db8::8"});
  EXPECT_EQ(ask(b, query("www", rrtype::kMx)), Rr{});  // the name exists: NODATA
  EXPECT_EQ(ask(b, query("8.2.0.192.in-addr.arpa", rrtype::kPtr)), Rr{"PTR web.test"});
  EXPECT_EQ(ask(b, query("7.2.0.192.in-addr.arpa", rrtype::kPtr)), Rr{"PTR db.test"});
  EXPECT_FALSE(ask(b, query("other.test", rrtype::kA)));
  b.set_hosts(parse_hosts("192.0.2.9 web.test\n").entries);
  EXPECT_EQ(ask(b, query("web.test", rrtype::kA)), Rr{"A 192.0.2.9"});
  EXPECT_FALSE(ask(b, query("www", rrtype::kA)));
  EXPECT_FALSE(ask(b, query("8.2.0.192.in-addr.arpa", rrtype::kPtr)));
}

}  // namespace
}  // namespace tapir::dns
