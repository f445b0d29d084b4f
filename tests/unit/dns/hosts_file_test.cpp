#include "dns/hosts_file.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tapir::dns {
namespace {

TEST(HostsFile, ReadsNamesAliasesBothFamiliesAndComments) {
  const HostsFile h = parse_hosts(
      "# The host's own\n"
      "127.0.0.1\tlocalhost\n"
      "127.0.1.1 myhost.example myhost\n"
      "::1 localhost ip6-localhost ip6-loopback\n"
      "fe80::1%eth0 router.lan\n"
      "\n"
      "   192.0.2.7   db.test  DB  # the database\n"
      "2001:db8::7 db.test\r\n"
      "0.0.0.0 blocked.example\n"
      "192.0.2.8 web.test");
  ASSERT_EQ(h.entries.size(), 4u);
  EXPECT_EQ(h.entries[0].name.to_string(), "db.test");
  EXPECT_FALSE(h.entries[0].v6);
  EXPECT_EQ(h.entries[0].a4, wire::Ipv4Addr::from_octets(192, 0, 2, 7));
  EXPECT_EQ(h.entries[1].name.to_string(), "DB");  // as written; matched in any case
  EXPECT_EQ(h.entries[2].name.to_string(), "db.test");
  EXPECT_TRUE(h.entries[2].v6);
  EXPECT_EQ(h.entries[2].a6, *wire::Ipv6Addr::parse("2001:db8::7"));
  EXPECT_EQ(h.entries[3].name.to_string(), "web.test");  // no newline at the end
  // localhost, myhost.example, myhost, the ::1 names, blocked.example
  EXPECT_EQ(h.skipped, 7u);
  EXPECT_EQ(h.bad_lines, 1u);  // fe80::1%eth0: a scope is no address here
}

TEST(HostsFile, JunkIsSkippedAndCounted) {
  const HostsFile h = parse_hosts(
      "999.1.1.1 bad.test\n"
      "192.0.2.9\n"
      "hostname-without-address\n"
      "192.0.2.10 a..b ok.test " + std::string(64, 'x') + "\n"
      "#192.0.2.11 commented.test\n");
  ASSERT_EQ(h.entries.size(), 1u);
  EXPECT_EQ(h.entries[0].name.to_string(), "ok.test");
  EXPECT_EQ(h.bad_lines, 3u);
  EXPECT_EQ(h.bad_names, 2u);
}

TEST(HostsFile, EmptyOrBinaryTextNeverFails) {
  EXPECT_TRUE(parse_hosts("").entries.empty());
  const std::string junk("\0\xff\n\t#\n", 6);
  EXPECT_TRUE(parse_hosts(junk).entries.empty());
}

}  // namespace
}  // namespace tapir::dns
