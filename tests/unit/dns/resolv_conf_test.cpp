#include "dns/resolv_conf.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tapir::dns {
namespace {

std::vector<std::string> texts(const std::vector<Endpoint>& eps) {
  std::vector<std::string> out;
  for (const auto& e : eps) out.push_back(e.to_string());
  return out;
}
using Strings = std::vector<std::string>;

TEST(ResolvConf, SystemdResolvedStub) {
  // /run/systemd/resolve/stub-resolv.conf as systemd 252 writes it (header shortened).
  const auto rc = parse_resolv_conf(
      "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n"
      "# Do not edit.\n"
      "\n"
      "nameserver 127.0.0.53\n"
      "options edns0 trust-ad\n"
      "search lan\n");
  EXPECT_EQ(texts(rc.nameservers), Strings{"127.0.0.53:53"});
  EXPECT_TRUE(rc.nameservers[0].is_loopback());
  EXPECT_EQ(rc.search, Strings{"lan"});
  EXPECT_EQ(rc.options, (Strings{"edns0", "trust-ad"}));
  EXPECT_EQ(rc.ignored_lines, 0u);
}

TEST(ResolvConf, ManyNameserversLinkLocalAndJunk) {
  const auto rc = parse_resolv_conf(
      "nameserver 198.51.100.1\n"
      "nameserver fe80::1%wlp2s0\n"
      "  nameserver 2001:db8::53   # indented, trailing comment\n"
      "nameserver 203.0.113.9\n"         // a fourth: glibc ignores it, tapir keeps it
      "nameserver 192.0.2.1:5353\n"  // no port syntax in resolv.conf
      "nameserver\n"                 // no address
      "nameserver 1.2.3\n"
      "nameserver 10.0.0.1 extra tokens\n"
      "; comment\n"
      "# comment\n"
      "sortlist 130.155.160.0/255.255.240.0\n"
      "garbage line here\n"
      "\r\n"
      "nameserver\t192.0.2.53\r\n");
  EXPECT_EQ(texts(rc.nameservers),
            (Strings{"198.51.100.1:53", "[fe80::1%wlp2s0]:53", "[2001:db8::53]:53", "203.0.113.9:53",
                     "10.0.0.1:53", "192.0.2.53:53"}));
  EXPECT_EQ(rc.nameservers[1].scope, "wlp2s0");
  EXPECT_EQ(rc.bad_nameservers, 3u);
  EXPECT_EQ(rc.ignored_lines, 2u);
}

TEST(ResolvConf, LastSearchOrDomainWins) {
  EXPECT_EQ(parse_resolv_conf("domain a.example\nsearch b.example c.example\n").search,
            (Strings{"b.example", "c.example"}));
  EXPECT_EQ(parse_resolv_conf("search b.example c.example\ndomain a.example extra\n").search,
            Strings{"a.example"});
  EXPECT_EQ(parse_resolv_conf("search x ; comment\n").search, Strings{"x"});
  EXPECT_TRUE(parse_resolv_conf("").nameservers.empty());
  EXPECT_TRUE(parse_resolv_conf("nameserver").nameservers.empty());  // no newline at the end
  EXPECT_EQ(parse_resolv_conf("nameserver ::1").nameservers.size(), 1u);
}

struct UpstreamCase {
  const char* text;
  const char* canonical;  // nullptr: error expected
  UpstreamError error;
};

TEST(DnsUpstream, ParsesFlagForms) {
  const std::vector<UpstreamCase> cases = {
      {"1.2.3.4", "1.2.3.4:53", {}},
      {"1.2.3.4:5353", "1.2.3.4:5353", {}},
      {"[fd00::1]:53", "[fd00::1]:53", {}},
      {"[fd00::1]", "[fd00::1]:53", {}},
      {"fd00::1", "[fd00::1]:53", {}},
      {"fe80::1%eth0", "[fe80::1%eth0]:53", {}},
      {"[fe80::1%eth0]:5300", "[fe80::1%eth0]:5300", {}},
      {"[FE80::0001%2]:53", "[fe80::1%2]:53", {}},
      {"::ffff:192.0.2.1", "[::ffff:192.0.2.1]:53", {}},
      {"", nullptr, UpstreamError::kEmpty},
      {"example.com", nullptr, UpstreamError::kBadAddress},
      {"1.2.3.4:0", nullptr, UpstreamError::kBadPort},
      {"1.2.3.4:65536", nullptr, UpstreamError::kBadPort},
      {"1.2.3.4:", nullptr, UpstreamError::kBadPort},
      {"1.2.3.4:53x", nullptr, UpstreamError::kBadPort},
      {"[fd00::1]53", nullptr, UpstreamError::kBadPort},
      {"[fd00::1", nullptr, UpstreamError::kBadAddress},
      {"[1.2.3.4]:53", nullptr, UpstreamError::kBadAddress},
      {"1.2.3.4%eth0", nullptr, UpstreamError::kBadScope},
      {"fe80::1%", nullptr, UpstreamError::kBadScope},
      {"fe80::1%an-interface-name-too-long", nullptr, UpstreamError::kBadScope},
      {"fe80::1%eth/0", nullptr, UpstreamError::kBadScope},
      {"fd00::1:53:", nullptr, UpstreamError::kBadAddress},
  };
  for (const auto& c : cases) {
    auto e = parse_upstream(c.text);
    if (c.canonical != nullptr) {
      ASSERT_TRUE(e) << c.text << ": " << upstream_error_name(e.error());
      EXPECT_EQ(e->to_string(), c.canonical) << c.text;
      auto again = parse_upstream(e->to_string());
      ASSERT_TRUE(again);
      EXPECT_EQ(*again, *e);
    } else {
      ASSERT_FALSE(e) << c.text;
      EXPECT_EQ(e.error(), c.error) << c.text << ": " << upstream_error_name(e.error());
    }
  }
}

TEST(DnsUpstream, EndpointMatching) {
  const auto a = *parse_upstream("[fe80::1%eth0]:53");
  const auto b = *parse_upstream("fe80::1");
  EXPECT_TRUE(a.same_address_port(b));
  EXPECT_FALSE(a == b);
  EXPECT_FALSE(a.same_address_port(*parse_upstream("[fe80::1]:54")));
  EXPECT_FALSE(parse_upstream("1.2.3.4")->same_address_port(*parse_upstream("::ffff:1.2.3.4")));
}

}  // namespace
}  // namespace tapir::dns
