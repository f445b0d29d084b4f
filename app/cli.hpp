#pragma once
// tapir's command line: slirp4netns 1.2's options and messages, plus
// tapir's own.
//
//   tapir [OPTIONS] PID|PATH [TAPNAME]
//   tapir run [OPTIONS] [--] [CMD [ARGS...]]
//
// Parsed with getopt_long, so options and positionals interleave and both
// --opt=X and --opt X work. Error texts are slirp4netns's where it has one,
// because runtimes and scripts match on them; where slirp4netns is silent or
// misleading tapir says what is wrong. Options of slirp4netns whose feature
// tapir does not have yet are refused by name rather than accepted and
// ignored — and --help lists only what works.

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/expected.hpp"
#include "base/log.hpp"
#include "dns/endpoint.hpp"
#include "dns/query_log.hpp"
#include "dns/route_table.hpp"
#include "flows/port_forward.hpp"
#include "wire/address_plan.hpp"

namespace tapir::app {

enum class Mode { kAttach, kRun, kHelp, kVersion };
enum class NetnsType { kPid, kPath };

struct Options {
  Mode mode = Mode::kAttach;

  // Target (attach mode).
  NetnsType netns_type = NetnsType::kPid;
  pid_t pid = 0;                 // --netns-type=pid
  std::string netns_path;        // --netns-type=path
  std::string userns_path;       // --userns-path
  std::string tapname = "tap0";
  bool tapname_given = false;

  // Command (run mode); empty means the user's shell.
  std::vector<std::string> command;

  bool configure = false;        // -c; implied by run mode and by a missing TAPNAME
  int exit_fd = -1;              // -e
  int ready_fd = -1;             // -r
  unsigned mtu = 1500;           // -m
  bool enable_ipv6 = false;      // -6
  bool disable_ipv6 = false;     // tapir: --disable-ipv6
  wire::Ipv4Prefix cidr{wire::Ipv4Addr::from_octets(10, 0, 2, 0), 24};
  std::optional<wire::MacAddr> macaddress;
  std::string hostname;          // DHCP option 12; in run mode also the UTS hostname
  std::vector<std::string> search_domains;  // --search, repeatable
  bool no_dhcp = false;          // --no-dhcp
  bool no_ndp = false;           // --no-ndp
  bool no_dhcpv6 = false;        // --no-dhcpv6
  LogLevel log_level = LogLevel::kInfo;

  bool disable_host_loopback = false;  // --disable-host-loopback
  // --outbound-addr / --outbound-addr6: an address or an interface name,
  // resolved in the caller's namespace at start (resolve_outbound).
  std::string outbound_addr;
  std::string outbound_addr6;
  size_t max_flows = 65536;  // --max-flows: TCP, and a ceiling for the two below
  // --max-udp-flows / --max-icmp-flows; unset: the defaults below, or
  // --max-flows if lower. Each UDP flow holds a host ephemeral port, so the
  // default stays far below the port range other users of the host share.
  std::optional<size_t> max_udp_flows;
  std::optional<size_t> max_icmp_flows;
  static constexpr size_t kDefaultMaxUdpFlows = 4096;
  static constexpr size_t kDefaultMaxIcmpFlows = 1024;
  size_t udp_flow_cap() const;
  size_t icmp_flow_cap() const;
  std::string pcap_path;               // --pcap: every tap frame, both ways
  bool no_offload = false;             // --no-offload: no vnet header, no TSO/checksum offload
  bool enable_sandbox = false;         // --enable-sandbox (--create-sandbox): sandbox/sandbox
  bool enable_seccomp = false;         // --enable-seccomp: sandbox/seccomp
  bool no_sandbox = false;             // --no-sandbox: not even tapir run's default
  bool no_seccomp = false;             // --no-seccomp

  // Port forwarding and the control API (flows/port_forward, app/api).
  // -p/--publish, repeatable: checked here, turned into rules with
  // parse_publish() once IPv6 is decided.
  std::vector<std::string> publish_specs;
  std::string api_socket;  // -a/--api-socket

  // DNS forwarder (DESIGN.md "DNS forwarder").
  bool disable_dns = false;                     // --disable-dns: nothing answers on the DNS address
  std::vector<dns::Endpoint> dns_upstreams;     // --dns-upstream, repeatable; overrides the file
  std::string resolv_conf = "/etc/resolv.conf"; // --resolv-conf
  size_t dns_cache_size = 10000;                // --dns-cache-size; 0 disables the cache
  bool dns_log = false;                         // --dns-log
  dns::LogFormat dns_log_format = dns::LogFormat::kText;  // --dns-log-format text|json
  uint32_t dns_stale_max = 86400;               // --dns-stale-max, seconds; 0: no serve-stale
  std::vector<std::string> add_hosts;           // --add-host NAME:ADDR, repeatable, checked
  // --hosts-file, repeatable; empty: /etc/hosts, unless --no-hosts.
  std::vector<std::string> hosts_files;
  bool no_hosts = false;                        // --no-hosts
  dns::RouteTable dns_routes;                   // --dns-route DOMAIN=ADDR[:PORT]|local, repeatable

  // IPv6 follows slirp4netns (-6 turns it on) except for tapir's own
  // invocations (run mode, or no TAPNAME), which turn it on when the host
  // has an IPv6 default route — and the MTU allows IPv6 (RFC 8200 5: a link
  // must carry 1280 bytes).
  bool ipv6_wanted(bool host_has_ipv6_default) const;
  static constexpr unsigned kMinMtu = 68;        // RFC 791: every IPv4 host
  static constexpr unsigned kMinMtuIpv6 = 1280;  // RFC 8200 5
  static constexpr unsigned kMaxMtu = 65521;     // slirp4netns's limit
};

// One -p/--publish value, [HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]
// (HOSTADDR an IPv4 address or [IPv6]), as rules: one per port of a range.
// The guest address is the guest's own, IPv4 unless HOSTADDR is IPv6 and
// `ipv6` (the guest has IPv6). The error is one line.
Expected<std::vector<flows::ForwardRule>, std::string> parse_publish(std::string_view spec,
                                                                    bool ipv6);

// Parses argv. The error is one line without a "tapir:" prefix.
Expected<Options, std::string> parse_command_line(int argc, char* const* argv);

// The --help text (lists only options that work in this build).
const char* usage_text();

}  // namespace tapir::app
