#include "app/cli.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tapir::app {
namespace {

Expected<Options, std::string> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tapir");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(args.size()), argv.data());
}

struct BadCase {
  std::vector<std::string> args;
  std::string error;
};

TEST(Cli, ErrorsMatchSlirp4netnsWordForWord) {
  // The texts runtimes and scripts grep for (slirp4netns 1.2).
  const std::vector<BadCase> cases = {
      {{"--mtu=0", "1", "tap0"}, "MTU must be a positive integer (< 65522)"},
      {{"--mtu=65522", "1", "tap0"}, "MTU must be a positive integer (< 65522)"},
      {{"-m", "abc", "1", "tap0"}, "MTU must be a positive integer (< 65522)"},
      {{"--cidr=10.0.2.100/24", "1", "tap0"},
       "CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24"},
      {{"--cidr", "10.0.2.100/26", "1", "tap0"}, "prefix length needs to be 1-25"},
      {{"--cidr=10.0.0.0/0", "1", "tap0"}, "prefix length needs to be 1-25"},
      {{"--cidr=foo", "1", "tap0"}, "invalid CIDR: foo"},
      {{"-e", "-1", "1", "tap0"}, "exit-fd must be a non-negative integer"},
      {{"--ready-fd=x", "1", "tap0"}, "ready-fd must be a non-negative integer"},
      {{"abc", "tap0"}, "PID must be a positive integer"},
      {{"0", "tap0"}, "PID must be a positive integer"},
      {{"--macaddress=52:54:00:12:34:56", "1", "tap0"},
       "--macaddr cannot be specified when --configure or -c is not specified"},
      {{"-c", "--macaddress=zz", "1", "tap0"}, "\"zz\" is an invalid MAC address."},
      {{"--bogus", "1", "tap0"}, "unrecognized option '--bogus'"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    ASSERT_FALSE(r) << c.args[0];
    EXPECT_EQ(r.error(), c.error) << c.args[0];
  }
}

TEST(Cli, TapirsOwnErrorsNameTheProblem) {
  const std::vector<BadCase> cases = {
      {{}, "missing PID or PATH (see tapir --help)"},
      {{"1", "tap0", "extra"}, "unexpected argument: extra"},
      {{"--mtu"}, "option --mtu requires an argument"},
      {{"-x", "1"}, "unknown option -x"},
      {{"--netns-type=foo", "1", "tap0"}, "--netns-type must be either \"pid\" or \"path\", not \"foo\""},
      {{"1", "a-tap-name-longer-than-15"}, "TAPNAME must be 1-15 characters, not \"a-tap-name-longer-than-15\""},
      {{"--target-type=bess", "1", "tap0"}, "--target-type must be \"netns\" (tapir has no \"bess\" target)"},
      {{"--hostname=", "1"}, "--hostname must be 1-63 characters, not \"\""},
      {{"--search=", "1"}, "--search needs a domain name of 1-253 characters, not \"\""},
      {{"run", "--netns-type=path", "--", "true"}, "--netns-type and --userns-path do not apply to tapir run"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    ASSERT_FALSE(r) << (c.args.empty() ? "(none)" : c.args[0]);
    EXPECT_EQ(r.error(), c.error);
  }
}

// Found by cli_fuzz: a -p spec holding a newline made a two-line error.
// What the user typed is quoted with its control characters escaped, so an
// error stays one line whatever the argument holds.
TEST(Cli, AnErrorIsOneLineWhateverTheArgumentHolds) {
  auto p = parse_publish("80:80\n80", false);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), "invalid -p/--publish \"80:80\\n80\": guest port must be 1-65535 or a "
                       "range N-M of them, not \"80\\n80\"");
  auto a = parse({"1", "tap0", std::string("x\ny\tz\x01\x7f", 7)});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), "unexpected argument: x\\ny\\tz\\x01\\x7f");
  auto m = parse({"-c", "--macaddress=\r", "1", "tap0"});
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), "\"\\x0d\" is an invalid MAC address.");
}

TEST(Cli, SandboxOptions) {
  auto d = parse({"1", "tap0"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_FALSE(d->enable_sandbox);
  EXPECT_FALSE(d->enable_seccomp);
  auto on = parse({"--enable-sandbox", "--enable-seccomp", "1", "tap0"});
  ASSERT_TRUE(on) << on.error();
  EXPECT_TRUE(on->enable_sandbox);
  EXPECT_TRUE(on->enable_seccomp);
  // slirp4netns's older spelling.
  auto old = parse({"--create-sandbox", "1", "tap0"});
  ASSERT_TRUE(old) << old.error();
  EXPECT_TRUE(old->enable_sandbox);
  auto off = parse({"run", "--no-sandbox", "--no-seccomp", "--", "true"});
  ASSERT_TRUE(off) << off.error();
  EXPECT_TRUE(off->no_sandbox);
  EXPECT_TRUE(off->no_seccomp);
  auto both = parse({"--enable-sandbox", "--no-sandbox", "1", "tap0"});
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error(), "--enable-sandbox and --no-sandbox contradict each other");
  auto both2 = parse({"--no-seccomp", "--enable-seccomp", "1", "tap0"});
  ASSERT_FALSE(both2);
  EXPECT_EQ(both2.error(), "--enable-seccomp and --no-seccomp contradict each other");
  // podman and rootlesskit pass both only when --help lists them.
  const std::string help = usage_text();
  for (const char* opt : {"--enable-sandbox", "--enable-seccomp"}) {
    EXPECT_NE(help.find(opt), std::string::npos) << opt;
  }
}

TEST(Cli, DataPathOptions) {
  auto d = parse({"1", "tap0"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->max_flows, 65536u);
  EXPECT_TRUE(d->outbound_addr.empty());
  EXPECT_TRUE(d->pcap_path.empty());
  auto r = parse({"--outbound-addr=192.0.2.2", "--outbound-addr6", "eth0", "--max-flows=100",
                  "--pcap", "/tmp/x.pcap", "1", "tap0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->outbound_addr, "192.0.2.2");
  EXPECT_EQ(r->outbound_addr6, "eth0");
  EXPECT_EQ(r->max_flows, 100u);
  EXPECT_EQ(r->pcap_path, "/tmp/x.pcap");
  for (const char* bad : {"--max-flows=0", "--max-flows=x", "--max-flows=2000000"}) {
    auto e = parse({bad, "1", "tap0"});
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error(), "--max-flows must be an integer 1-1000000");
  }
  auto p = parse({"--pcap=", "1", "tap0"});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error(), "--pcap needs a file name");
}

// Each UDP flow holds a host ephemeral port: UDP and ping have caps of
// their own, far below --max-flows's default; --max-flows still bounds them.
TEST(Cli, UdpAndPingFlowCaps) {
  auto d = parse({"1", "tap0"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->udp_flow_cap(), 4096u);
  EXPECT_EQ(d->icmp_flow_cap(), 1024u);
  auto low = parse({"--max-flows=100", "1", "tap0"});
  ASSERT_TRUE(low) << low.error();
  EXPECT_EQ(low->udp_flow_cap(), 100u);
  EXPECT_EQ(low->icmp_flow_cap(), 100u);
  auto own =
      parse({"--max-flows=100", "--max-udp-flows=20000", "--max-icmp-flows", "7", "1", "tap0"});
  ASSERT_TRUE(own) << own.error();
  EXPECT_EQ(own->max_flows, 100u);
  EXPECT_EQ(own->udp_flow_cap(), 20000u);
  EXPECT_EQ(own->icmp_flow_cap(), 7u);
  for (const char* bad : {"--max-udp-flows=0", "--max-udp-flows=x", "--max-udp-flows=1000001"}) {
    auto e = parse({bad, "1", "tap0"});
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error(), "--max-udp-flows must be an integer 1-1000000");
  }
  auto e = parse({"--max-icmp-flows=-1", "1", "tap0"});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), "--max-icmp-flows must be an integer 1-1000000");
  const std::string help = usage_text();
  for (const char* opt : {"--max-udp-flows=N", "--max-icmp-flows=N"}) {
    EXPECT_NE(help.find(opt), std::string::npos) << opt;
  }
}

// The MTU: 68 (RFC 791) to 65521 (slirp4netns), 1280 with IPv6 (RFC 8200).
// tapir's frame builders need the minimum; below it every option was taken.
TEST(Cli, MtuBounds) {
  const std::vector<BadCase> cases = {
      {{"--mtu=67", "1", "tap0"}, "MTU must be at least 68 (RFC 791), not 67"},
      {{"-m", "1", "1", "tap0"}, "MTU must be at least 68 (RFC 791), not 1"},
      {{"--mtu=-5", "1", "tap0"}, "MTU must be a positive integer (< 65522)"},
      {{"--mtu=1279", "-6", "1", "tap0"},
       "MTU must be at least 1280 with IPv6 (RFC 8200), not 1279"},
      {{"run", "--enable-ipv6", "--mtu", "576", "--", "true"},
       "MTU must be at least 1280 with IPv6 (RFC 8200), not 576"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    ASSERT_FALSE(r) << c.args[0] << " " << c.args[1];
    EXPECT_EQ(r.error(), c.error);
  }
  for (const char* ok : {"--mtu=68", "--mtu=65521", "--mtu=1279"}) {
    auto r = parse({ok, "1", "tap0"});
    ASSERT_TRUE(r) << ok << ": " << r.error();
  }
  auto v6 = parse({"-6", "--mtu=1280", "1", "tap0"});
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_TRUE(v6->ipv6_wanted(false));
  // --disable-ipv6 wins over -6, so a small MTU is fine then.
  auto off = parse({"-6", "--disable-ipv6", "--mtu=576", "1", "tap0"});
  ASSERT_TRUE(off) << off.error();
  EXPECT_FALSE(off->ipv6_wanted(true));
  // Where tapir would turn IPv6 on by itself (run mode), a link below
  // 1280 bytes keeps it off instead of failing.
  auto run = parse({"run", "--mtu=576", "--", "true"});
  ASSERT_TRUE(run) << run.error();
  EXPECT_FALSE(run->ipv6_wanted(true));
  auto run1500 = parse({"run", "--", "true"});
  ASSERT_TRUE(run1500) << run1500.error();
  EXPECT_TRUE(run1500->ipv6_wanted(true));
}

TEST(Cli, DnsOptions) {
  auto d = parse({"1", "tap0"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_FALSE(d->disable_dns);
  EXPECT_TRUE(d->dns_upstreams.empty());
  EXPECT_EQ(d->resolv_conf, "/etc/resolv.conf");
  EXPECT_EQ(d->dns_cache_size, 10000u);
  EXPECT_FALSE(d->dns_log);

  auto r = parse({"--disable-dns", "--dns-upstream", "127.0.0.1:5353", "--dns-upstream=[fd00::1]:53",
                  "--dns-upstream=192.0.2.1", "--resolv-conf=/tmp/r.conf", "--dns-cache-size=0",
                  "--dns-log", "1", "tap0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->disable_dns);
  ASSERT_EQ(r->dns_upstreams.size(), 3u);
  EXPECT_EQ(r->dns_upstreams[0].to_string(), "127.0.0.1:5353");
  EXPECT_EQ(r->dns_upstreams[1].to_string(), "[fd00::1]:53");
  EXPECT_EQ(r->dns_upstreams[2].port, 53);
  EXPECT_EQ(r->resolv_conf, "/tmp/r.conf");
  EXPECT_EQ(r->dns_cache_size, 0u);
  EXPECT_TRUE(r->dns_log);

  for (const char* bad : {"--dns-upstream=nameserver", "--dns-upstream=1.2.3.4:0", "--dns-cache-size=-1",
                          "--dns-cache-size=many", "--resolv-conf="}) {
    auto e = parse({bad, "1", "tap0"});
    EXPECT_FALSE(e) << bad;
  }
  auto e = parse({"--dns-upstream=1.2.3.4:99999", "1", "tap0"});
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("--dns-upstream"), std::string::npos) << e.error();

  auto h = parse({"--add-host", "db.test:192.0.2.7", "--add-host=db6.test:fd00::7",
                  "--add-host=gw.test:host-gateway", "1", "tap0"});
  ASSERT_TRUE(h) << h.error();
  EXPECT_EQ(h->add_hosts, (std::vector<std::string>{"db.test:192.0.2.7", "db6.test:fd00::7",
                                                    "gw.test:host-gateway"}));
  for (const char* bad : {"--add-host=db.test", "--add-host=db.test:999.1.1.1",
                          "--add-host=:192.0.2.1", "--add-host=a..b:192.0.2.1"}) {
    auto err = parse({bad, "1", "tap0"});
    ASSERT_FALSE(err) << bad;
    EXPECT_EQ(err.error().rfind("invalid --add-host \"", 0), 0u) << err.error();
    EXPECT_EQ(err.error().find('\n'), std::string::npos) << err.error();
  }

  auto routes = parse({"--dns-route", "corp.example=10.8.0.53", "--dns-route=corp.example=[fd00::53]:5353",
                       "--dns-route=containers.internal=local", "1", "tap0"});
  ASSERT_TRUE(routes) << routes.error();
  ASSERT_EQ(routes->dns_routes.routes().size(), 2u);
  EXPECT_EQ(routes->dns_routes.routes()[0].upstreams.size(), 2u);
  EXPECT_TRUE(routes->dns_routes.routes()[1].local);
  const std::vector<BadCase> bad_routes = {
      {{"--dns-route=corp.example", "1", "tap0"},
       "invalid --dns-route \"corp.example\": expected DOMAIN=ADDR[:PORT] or DOMAIN=local"},
      {{"--dns-route=corp.example=vpn", "1", "tap0"},
       "invalid --dns-route \"corp.example=vpn\": upstream \"vpn\": not an IPv4 or IPv6 address"},
      {{"--dns-route=a..b=10.8.0.53", "1", "tap0"},
       "invalid --dns-route \"a..b=10.8.0.53\": \"a..b\" is not a domain name (empty label, label "
       "over 63 or name over 255 octets)"},
      {{"--dns-route=c.test=local", "--dns-route=c.test=10.8.0.53", "1", "tap0"},
       "invalid --dns-route \"c.test=10.8.0.53\": c.test is routed both to local and to an upstream"},
      {{"--dns-route=c.test=10.8.0.53:0\n", "1", "tap0"},
       "invalid --dns-route \"c.test=10.8.0.53:0\\n\": upstream \"10.8.0.53:0\\n\": bad port (1-65535)"},
      {{"--dns-route", "1", "tap0"},
       "invalid --dns-route \"1\": expected DOMAIN=ADDR[:PORT] or DOMAIN=local"},
  };
  for (const auto& c : bad_routes) {
    auto err = parse(c.args);
    ASSERT_FALSE(err) << c.args[0];
    EXPECT_EQ(err.error(), c.error);
  }

  EXPECT_TRUE(d->hosts_files.empty());  // /etc/hosts (app/main.cpp)
  EXPECT_FALSE(d->no_hosts);
  auto hosts = parse({"--hosts-file", "/tmp/a", "--hosts-file=/tmp/b", "--no-hosts", "1", "tap0"});
  ASSERT_TRUE(hosts) << hosts.error();
  EXPECT_EQ(hosts->hosts_files, (std::vector<std::string>{"/tmp/a", "/tmp/b"}));
  EXPECT_TRUE(hosts->no_hosts);
  auto empty = parse({"--hosts-file=", "1", "tap0"});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error(), "--hosts-file needs a file name");
  std::vector<std::string> many;
  for (int i = 0; i < 17; ++i) {
    std::string opt = "--hosts-file=/tmp/h";
    opt += std::to_string(i);
    many.push_back(opt);
  }
  many.insert(many.end(), {"1", "tap0"});
  auto too_many = parse(many);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error(), "at most 16 --hosts-file options");

  const std::string help = usage_text();
  for (const char* opt : {"--disable-dns", "--dns-upstream", "--resolv-conf", "--dns-cache-size",
                          "--dns-log", "--add-host", "--dns-route", "--hosts-file", "--no-hosts",
                          "--dns-stale-max", "--dns-log-format"}) {
    EXPECT_NE(help.find(opt), std::string::npos) << opt;
  }
}

TEST(Cli, DnsStaleMax) {
  auto d = parse({"1", "tap0"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->dns_stale_max, 86400u);  // RFC 8767: on by default, 1 day
  const std::pair<const char*, uint32_t> good[] = {
      {"0", 0}, {"90", 90}, {"90s", 90}, {"30m", 1800}, {"12h", 43200}, {"2d", 172800}, {"30d", 2592000}};
  for (const auto& [v, secs] : good) {
    auto r = parse({"--dns-stale-max", v, "1", "tap0"});
    ASSERT_TRUE(r) << v << ": " << r.error();
    EXPECT_EQ(r->dns_stale_max, secs) << v;
  }
  for (const char* v : {"-1", "1x", "", "s", "31d", "1.5h", "1h30m", "99999999999"}) {
    auto r = parse({"--dns-stale-max", v, "1", "tap0"});
    ASSERT_FALSE(r) << v;
    EXPECT_EQ(r.error(), std::string("invalid --dns-stale-max \"") + v +
                             "\": expected a duration such as 0, 90s, 30m, 12h or 2d (at most 30d)");
  }
}

TEST(Cli, DnsLogFormat) {
  auto d = parse({"1", "tap0"});
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d->dns_log_format, dns::LogFormat::kText);
  auto j = parse({"--dns-log", "--dns-log-format=json", "1", "tap0"});
  ASSERT_TRUE(j) << j.error();
  EXPECT_EQ(j->dns_log_format, dns::LogFormat::kJson);
  auto t = parse({"--dns-log-format", "text", "1", "tap0"});
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->dns_log_format, dns::LogFormat::kText);
  auto x = parse({"--dns-log-format", "xml", "1", "tap0"});
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error(), "invalid --dns-log-format \"xml\": expected text or json");
}

TEST(Cli, Slirp4netnsStyleInvocation) {
  // As podman calls it: options, then PID and TAPNAME, options interleaved.
  auto r = parse({"--mtu=65520", "-c", "-e", "3", "123", "--cidr", "10.0.135.128/25", "-r", "4",
                  "tap1", "--macaddress", "52:54:00:AA:bb:cc"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->mode, Mode::kAttach);
  EXPECT_EQ(r->pid, 123);
  EXPECT_EQ(r->tapname, "tap1");
  EXPECT_TRUE(r->configure);
  EXPECT_EQ(r->mtu, 65520u);
  EXPECT_EQ(r->exit_fd, 3);
  EXPECT_EQ(r->ready_fd, 4);
  EXPECT_EQ(r->cidr.to_string(), "10.0.135.128/25");
  ASSERT_TRUE(r->macaddress);
  EXPECT_EQ(r->macaddress->to_string(), "52:54:00:aa:bb:cc");
  EXPECT_FALSE(r->ipv6_wanted(true));  // slirp4netns: IPv6 only with -6
}

TEST(Cli, PathModeAndUserns) {
  auto r = parse({"--netns-type=path", "--userns-path=/proc/9/ns/user", "/run/netns/x", "tap0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->netns_type, NetnsType::kPath);
  EXPECT_EQ(r->netns_path, "/run/netns/x");
  EXPECT_EQ(r->userns_path, "/proc/9/ns/user");
  EXPECT_FALSE(r->configure);
}

TEST(Cli, NoTapnameMeansTap0ConfiguredWithIpv6) {
  auto r = parse({"42"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->tapname, "tap0");
  EXPECT_TRUE(r->configure);
  EXPECT_TRUE(r->ipv6_wanted(true));
  EXPECT_FALSE(r->ipv6_wanted(false));  // no IPv6 default route on the host
  auto off = parse({"--disable-ipv6", "42"});
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->ipv6_wanted(true));
  auto on = parse({"-6", "42", "tap0"});
  ASSERT_TRUE(on);
  EXPECT_TRUE(on->ipv6_wanted(false));
}

TEST(Cli, RunModeKeepsTheCommandsOwnOptions) {
  auto r = parse({"run", "-m", "9000", "--", "ip", "-j", "addr"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->mode, Mode::kRun);
  EXPECT_EQ(r->mtu, 9000u);
  EXPECT_TRUE(r->configure);
  EXPECT_EQ(r->command, (std::vector<std::string>{"ip", "-j", "addr"}));
  auto bare = parse({"run", "sh", "-c", "exit 3"});
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_EQ(bare->command, (std::vector<std::string>{"sh", "-c", "exit 3"}));
}

TEST(Cli, DisableHostLoopbackAndItsDeprecatedAlias) {
  auto r = parse({"--disable-host-loopback", "1", "tap0"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->disable_host_loopback);
  testing::internal::CaptureStderr();
  auto old = parse({"--no-host-loopback", "1", "tap0"});
  const std::string warn = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(old);
  EXPECT_TRUE(old->disable_host_loopback);
  EXPECT_NE(warn.find("--no-host-loopback is deprecated"), std::string::npos);
}

TEST(Cli, ServiceOptions) {
  auto r = parse({"--search", "example.test", "--search=corp.test", "--hostname", "box", "--no-dhcp",
                  "--no-ndp", "--no-dhcpv6", "7"});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->search_domains, (std::vector<std::string>{"example.test", "corp.test"}));
  EXPECT_EQ(r->hostname, "box");
  EXPECT_TRUE(r->no_dhcp);
  EXPECT_TRUE(r->no_ndp);
  EXPECT_TRUE(r->no_dhcpv6);
}

TEST(Cli, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"})->mode, Mode::kHelp);
  EXPECT_EQ(parse({"-v"})->mode, Mode::kVersion);
}

}  // namespace
}  // namespace tapir::app
