// -p/--publish: the podman/docker syntax, and -a/--api-socket on the
// command line. Every malformed spec gets a one-line error naming it.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/cli.hpp"

namespace tapir::app {
namespace {

Expected<Options, std::string> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tapir");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(args.size()), argv.data());
}

TEST(Publish, Forms) {
  auto r = parse_publish("8080:80", false);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].proto, flows::FwdProto::kTcp);
  EXPECT_EQ((*r)[0].host_addr.to_string(), "0.0.0.0");
  EXPECT_EQ((*r)[0].host_port, 8080);
  EXPECT_EQ((*r)[0].guest_port, 80);
  EXPECT_FALSE((*r)[0].guest_addr.has_value());
  EXPECT_FALSE((*r)[0].guest_v6);

  r = parse_publish("127.0.0.1:8080:80/udp", false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ((*r)[0].proto, flows::FwdProto::kUdp);
  EXPECT_EQ((*r)[0].host_addr.to_string(), "127.0.0.1");

  r = parse_publish("[::1]:8080:80/tcp", true);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE((*r)[0].host_addr.v6);
  EXPECT_EQ((*r)[0].host_addr.to_string(), "::1");
  EXPECT_TRUE((*r)[0].guest_v6);
  // Without IPv6 in the guest, an IPv6 listener forwards to its IPv4 address.
  r = parse_publish("[::]:8080:80", false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE((*r)[0].guest_v6);

  r = parse_publish("10.1.2.3:8000-8002:9000-9002", false);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*r)[i].host_port, 8000 + i);
    EXPECT_EQ((*r)[i].guest_port, 9000 + i);
  }
  r = parse_publish("1-65535:1-65535/udp", false);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->size(), 65535u);
}

TEST(Publish, Errors) {
  const struct {
    const char* spec;
    const char* why;
  } cases[] = {
      {"", "expected [HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]"},
      {"80", "expected [HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]"},
      {"a:b:c:d", "expected [HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]"},
      {"8080:80/sctp", "protocol must be tcp or udp, not \"sctp\""},
      {"8080:80/", "protocol must be tcp or udp, not \"\""},
      {"0:80", "host port must be 1-65535 or a range N-M of them, not \"0\""},
      {"65536:80", "host port must be 1-65535 or a range N-M of them, not \"65536\""},
      {"x:80", "host port must be 1-65535 or a range N-M of them, not \"x\""},
      {"+80:80", "host port must be 1-65535 or a range N-M of them, not \"+80\""},
      {"8082-8080:80-82", "host port must be 1-65535 or a range N-M of them, not \"8082-8080\""},
      {"8080:", "guest port must be 1-65535 or a range N-M of them, not \"\""},
      {"8080:0", "guest port must be 1-65535 or a range N-M of them, not \"0\""},
      {"8080-8082:80-81", "the host and guest port ranges differ in length"},
      {"8080-8081:80", "the host and guest port ranges differ in length"},
      {"1.2.3:8080:80", "bad host address \"1.2.3\""},
      {"localhost:8080:80", "bad host address \"localhost\""},
      {"[::1:8080:80", "expected [IPV6]:HOSTPORT:GUESTPORT"},
      {"[zz::1]:8080:80", "bad host address \"zz::1\""},
      {"::1:8080:80", "expected [HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]"},
  };
  for (const auto& c : cases) {
    auto r = parse_publish(c.spec, true);
    ASSERT_FALSE(r) << c.spec;
    EXPECT_EQ(r.error(), std::string("invalid -p/--publish \"") + c.spec + "\": " + c.why)
        << c.spec;
    EXPECT_EQ(r.error().find('\n'), std::string::npos);
  }
}

TEST(Publish, CommandLine) {
  auto o = parse(
      {"-p", "8080:80", "--publish=127.0.0.1:5353:53/udp", "-a", "/tmp/api.sock", "1", "tap0"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->publish_specs, (std::vector<std::string>{"8080:80", "127.0.0.1:5353:53/udp"}));
  EXPECT_EQ(o->api_socket, "/tmp/api.sock");
  o = parse({"run", "-p", "8080:80", "--", "true"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->publish_specs.size(), 1u);

  auto bad = parse({"-p", "8080:80/sctp", "1", "tap0"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(),
            "invalid -p/--publish \"8080:80/sctp\": protocol must be tcp or udp, not \"sctp\"");
  bad = parse({"-a", std::string(108, 'x'), "1", "tap0"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "--api-socket path must be 1-107 bytes long, not 108");
  EXPECT_TRUE(parse({"-a", std::string(107, 'x'), "1", "tap0"}));
  bad = parse({"-p", "1", "tap0"});  // -p took "1": no PID left
  ASSERT_FALSE(bad);
}

}  // namespace
}  // namespace tapir::app
