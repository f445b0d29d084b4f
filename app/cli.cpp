#include "app/cli.hpp"

#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "app/cli_dns.hpp"

namespace tapir::app {
namespace {

enum LongOnly : int {
  kOptCidr = 1000,
  kOptDisableHostLoopback,
  kOptNoHostLoopback,
  kOptNetnsType,
  kOptUsernsPath,
  kOptEnableSandbox,
  kOptCreateSandbox,
  kOptEnableSeccomp,
  kOptNoSandbox,
  kOptNoSeccomp,
  kOptOutboundAddr,
  kOptOutboundAddr6,
  kOptMacaddress,
  kOptTargetType,
  kOptDebug,
  kOptDisableIpv6,
  kOptHostname,
  kOptSearch,
  kOptNoDhcp,
  kOptNoNdp,
  kOptNoDhcpv6,
  kOptMaxFlows,
  kOptMaxUdpFlows,
  kOptMaxIcmpFlows,
  kOptPcap,
  kOptNoOffload,
};

// -p values wait until IPv6 is decided (the guest family of [::] rules).
constexpr int kOptPublish = 'p';

const option kLongOptions[] = {
    {"configure", no_argument, nullptr, 'c'},
    {"exit-fd", required_argument, nullptr, 'e'},
    {"ready-fd", required_argument, nullptr, 'r'},
    {"mtu", required_argument, nullptr, 'm'},
    {"enable-ipv6", no_argument, nullptr, '6'},
    {"api-socket", required_argument, nullptr, 'a'},
    {"publish", required_argument, nullptr, 'p'},
    {"cidr", required_argument, nullptr, kOptCidr},
    {"disable-host-loopback", no_argument, nullptr, kOptDisableHostLoopback},
    {"no-host-loopback", no_argument, nullptr, kOptNoHostLoopback},
    {"netns-type", required_argument, nullptr, kOptNetnsType},
    {"userns-path", required_argument, nullptr, kOptUsernsPath},
    {"enable-sandbox", no_argument, nullptr, kOptEnableSandbox},
    {"create-sandbox", no_argument, nullptr, kOptCreateSandbox},
    {"enable-seccomp", no_argument, nullptr, kOptEnableSeccomp},
    {"no-sandbox", no_argument, nullptr, kOptNoSandbox},
    {"no-seccomp", no_argument, nullptr, kOptNoSeccomp},
    {"outbound-addr", required_argument, nullptr, kOptOutboundAddr},
    {"outbound-addr6", required_argument, nullptr, kOptOutboundAddr6},
    {"macaddress", required_argument, nullptr, kOptMacaddress},
    {"target-type", required_argument, nullptr, kOptTargetType},
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, 'v'},
    {"quiet", no_argument, nullptr, 'q'},
    {"debug", no_argument, nullptr, kOptDebug},
    {"disable-ipv6", no_argument, nullptr, kOptDisableIpv6},
    {"hostname", required_argument, nullptr, kOptHostname},
    {"search", required_argument, nullptr, kOptSearch},
    {"no-dhcp", no_argument, nullptr, kOptNoDhcp},
    {"no-ndp", no_argument, nullptr, kOptNoNdp},
    {"no-dhcpv6", no_argument, nullptr, kOptNoDhcpv6},
    {"max-flows", required_argument, nullptr, kOptMaxFlows},
    {"max-udp-flows", required_argument, nullptr, kOptMaxUdpFlows},
    {"max-icmp-flows", required_argument, nullptr, kOptMaxIcmpFlows},
    {"pcap", required_argument, nullptr, kOptPcap},
    {"no-offload", no_argument, nullptr, kOptNoOffload},
    {nullptr, 0, nullptr, 0},
};

// kLongOptions and kDnsLongOptions (cli_dns.hpp), for getopt_long.
const option* all_long_options() {
  static const std::vector<option> all = [] {
    std::vector<option> v;
    for (const option* o = kLongOptions; o->name != nullptr; ++o) v.push_back(*o);
    for (const option* o = kDnsLongOptions; o->name != nullptr; ++o) v.push_back(*o);
    v.push_back({nullptr, 0, nullptr, 0});
    return v;
  }();
  return all.data();
}

constexpr char kShortOptions[] = "+ce:r:m:6a:p:hvq";

// Whole-string decimal parse into [min, max]; false on junk or overflow.
bool parse_long(const char* s, long min, long max, long& out) {
  if (s == nullptr || *s == '\0') return false;
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return false;
  out = v;
  return true;
}

// A port or port range "N" / "N-M" with 1 <= N <= M <= 65535.
bool parse_port_range(std::string_view s, uint16_t& first, uint16_t& last) {
  auto one = [](std::string_view t, uint16_t& out) {
    long v = 0;
    const std::string str(t);
    if (!parse_long(str.c_str(), 1, 65535, v) || str[0] == '+' || str[0] == '-' || str[0] == ' ')
      return false;
    out = static_cast<uint16_t>(v);
    return true;
  };
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!one(s, first)) return false;
    last = first;
    return true;
  }
  return one(s.substr(0, dash), first) && one(s.substr(dash + 1), last) && first <= last;
}

// An error names what the user gave, and is printed as one line after
// "tapir: ": control characters in it are written as escapes (\n, \t,
// \xNN), so an argument holding a newline cannot split or forge a line.
std::string one_line(std::string s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

template <class T>
Expected<T, std::string> one_line(Expected<T, std::string> r) {
  if (!r) return unexpected(one_line(std::move(r.error())));
  return r;
}

Expected<std::vector<flows::ForwardRule>, std::string> parse_publish_spec(std::string_view spec,
                                                                         bool ipv6) {
  const std::string quoted = "invalid -p/--publish \"" + std::string(spec) + "\": ";
  auto fail = [&](const std::string& why) { return unexpected(quoted + why); };
  std::string_view rest = spec;
  flows::FwdProto proto = flows::FwdProto::kTcp;
  if (const size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
    const std::string_view p = rest.substr(slash + 1);
    if (p == "tcp") {
      proto = flows::FwdProto::kTcp;
    } else if (p == "udp") {
      proto = flows::FwdProto::kUdp;
    } else {
      return fail("protocol must be tcp or udp, not \"" + std::string(p) + "\"");
    }
    rest = rest.substr(0, slash);
  }
  wire::IpAddr host;  // 0.0.0.0
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return fail("expected [IPV6]:HOSTPORT:GUESTPORT");
    }
    auto a = wire::Ipv6Addr::parse(rest.substr(1, close - 1));
    if (!a) return fail("bad host address \"" + std::string(rest.substr(1, close - 1)) + "\"");
    host = wire::IpAddr::from(*a);
    rest = rest.substr(close + 2);
  } else if (std::count(rest.begin(), rest.end(), ':') == 2) {
    const size_t colon = rest.find(':');
    auto a = wire::Ipv4Addr::parse(rest.substr(0, colon));
    if (!a) return fail("bad host address \"" + std::string(rest.substr(0, colon)) + "\"");
    host = wire::IpAddr::from(*a);
    rest = rest.substr(colon + 1);
  }
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos || rest.find(':', colon + 1) != std::string_view::npos) {
    return fail("expected [HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]");
  }
  uint16_t h1 = 0, h2 = 0, g1 = 0, g2 = 0;
  if (!parse_port_range(rest.substr(0, colon), h1, h2)) {
    return fail("host port must be 1-65535 or a range N-M of them, not \"" +
                std::string(rest.substr(0, colon)) + "\"");
  }
  if (!parse_port_range(rest.substr(colon + 1), g1, g2)) {
    return fail("guest port must be 1-65535 or a range N-M of them, not \"" +
                std::string(rest.substr(colon + 1)) + "\"");
  }
  if (h2 - h1 != g2 - g1) return fail("the host and guest port ranges differ in length");
  std::vector<flows::ForwardRule> rules;
  for (uint32_t i = 0; i <= uint32_t{h2} - h1; ++i) {
    flows::ForwardRule r;
    r.proto = proto;
    r.host_addr = host;
    r.host_port = static_cast<uint16_t>(h1 + i);
    r.guest_v6 = host.v6 && ipv6;
    r.guest_port = static_cast<uint16_t>(g1 + i);
    rules.push_back(r);
  }
  return rules;
}

}  // namespace

bool Options::ipv6_wanted(bool host_has_ipv6_default) const {
  if (disable_ipv6) return false;
  if (enable_ipv6) return true;  // the parser refused -6 below kMinMtuIpv6
  return (mode == Mode::kRun || !tapname_given) && host_has_ipv6_default && mtu >= kMinMtuIpv6;
}

size_t Options::udp_flow_cap() const {
  return max_udp_flows.value_or(std::min(kDefaultMaxUdpFlows, max_flows));
}

size_t Options::icmp_flow_cap() const {
  return max_icmp_flows.value_or(std::min(kDefaultMaxIcmpFlows, max_flows));
}

namespace {

constexpr char kUsageHead[] =
         "Usage: tapir [OPTION]... PID|PATH [TAPNAME]\n"
         "       tapir run [OPTION]... [--] [CMD [ARG]...]\n"
         "User-mode networking for unprivileged network namespaces.\n"
         "\n"
         "The first form attaches to the network namespace of process PID (or the\n"
         "namespace file PATH with --netns-type=path) and creates or attaches the tap\n"
         "TAPNAME there (default tap0, configured as with -c). The second form runs CMD\n"
         "(default: your shell) in new user, network, mount and UTS namespaces with a\n"
         "configured tap, and exits with CMD's status.\n"
         "\n"
         "The guest's TCP connections, UDP datagrams and pings become ordinary sockets\n"
         "of the calling user; the gateway address (network+2) reaches the host's\n"
         "loopback, the DNS address (network+3) a caching DNS forwarder.\n"
         "\n"
         "-c, --configure          bring up the interface: lo and TAPNAME up, MTU, the\n"
         "                         address network+100 and a default route via network+2\n"
         "-e, --exit-fd=FD         exit when FD reports an event (e.g. the other end closed)\n"
         "-r, --ready-fd=FD        write \"1\" to FD and close it once everything is up\n"
         "-m, --mtu=MTU            specify MTU (default=1500, min=68, or 1280 with IPv6,\n"
         "                         max=65521)\n"
         "-6, --enable-ipv6        enable IPv6 (fd00::/64); tapir run and PID without\n"
         "                         TAPNAME turn it on when the host has an IPv6 default route\n"
         "--cidr=CIDR              specify network address CIDR (default=10.0.2.0/24)\n"
         "--disable-host-loopback  prohibit connecting to 127.0.0.1:* on the host namespace\n"
         "                         (TCP, UDP and ping to it get 'network unreachable')\n"
         "--outbound-addr=ADDR     bind outgoing connections to this IPv4 address or\n"
         "                         the IPv4 address of this interface\n"
         "--outbound-addr6=ADDR    the same for IPv6\n"
         "--netns-type=TYPE        specify network namespace type ([path|pid], default=pid)\n"
         "--enable-sandbox         once everything is open, enter new mount, IPC and UTS\n"
         "                         namespaces with an empty read-only root holding only /etc\n"
         "                         and /run, and drop capabilities to CAP_NET_BIND_SERVICE\n"
         "--enable-seccomp         once everything is open, allow only the system calls\n"
         "                         tapir needs (seccomp); others fail with EPERM\n"
         "--no-sandbox, --no-seccomp\n"
         "                         tapir run does both by default, where the kernel allows;\n"
         "                         these turn them off\n"
         "--userns-path=PATH       specify user namespace path\n"
         "--macaddress=MAC         specify the MAC address of the TAP (only valid with -c)\n"
         "--disable-ipv6           no IPv6, even where tapir would turn it on by default\n"
         "--search=DOMAIN          DNS search domain offered by DHCP, DHCPv6 and RAs (repeatable)\n"
         "--hostname=NAME          hostname offered by DHCP (and set inside, with run)\n"
         "--no-dhcp                do not answer DHCPv4\n"
         "--no-ndp                 do not send router advertisements\n"
         "--no-dhcpv6              do not answer DHCPv6\n";

constexpr char kUsageTail[] =
         "--max-flows=N            at most N TCP connections (default 65536); beyond, new\n"
         "                         connections are reset. Also caps the two below\n"
         "--max-udp-flows=N        at most N UDP flows, each a host socket and port\n"
         "                         (default 4096, or --max-flows if lower)\n"
         "--max-icmp-flows=N       at most N ping flows (default 1024, or --max-flows if lower)\n"
         "--pcap=FILE              write every frame on the tap, both ways, to FILE\n"
         "--no-offload             open the tap without a vnet header: no segmentation or\n"
         "                         checksum offload (slower; for debugging and old kernels)\n"
         "-p, --publish=[HOSTADDR:]HOSTPORT[-END]:GUESTPORT[-END][/tcp|/udp]\n"
         "                         forward a host port (range) to the guest (repeatable);\n"
         "                         HOSTADDR default 0.0.0.0, IPv6 as [ADDR]; the guest sees\n"
         "                         the client's address (loopback clients as the gateway)\n"
         "-a, --api-socket=PATH    serve the JSON control API (slirp4netns's add_hostfwd,\n"
         "                         list_hostfwd, remove_hostfwd, and stats) on unix socket PATH\n"
         "-q, --quiet              log only warnings and errors\n"
         "--debug                  log debugging detail\n"
         "-h, --help               show this help and exit\n"
         "-v, --version            show version and exit\n";

Expected<Options, std::string> parse_arguments(int argc, char* const* argv) {
  Options o;
  int first = 1;
  if (argc > 1 && std::strcmp(argv[1], "run") == 0) {
    o.mode = Mode::kRun;
    first = 2;
  }
  // getopt_long keeps global state; reset it so this can be called again
  // (tests do). optind = 0 also re-reads the option string.
  optind = 0;
  opterr = 0;
  // getopt_long wants argv[0] in front of the arguments it parses.
  std::vector<char*> args;
  args.push_back(argv[0]);
  for (int i = first; i < argc; ++i) args.push_back(argv[i]);
  const int n = static_cast<int>(args.size());
  args.push_back(nullptr);

  // "+" stops at the first non-option in run mode (CMD's own options are
  // CMD's); attach mode permutes so options may follow the PID.
  const char* shortopts = o.mode == Mode::kRun ? kShortOptions : kShortOptions + 1;
  std::vector<std::string> positionals;
  std::vector<std::string> publish_specs;
  while (true) {
    int longindex = -1;
    const option* const longopts = all_long_options();
    const int c = getopt_long(n, args.data(), shortopts, longopts, &longindex);
    if (c == -1) break;
    if (is_dns_option(c)) {
      if (auto r = parse_dns_option(c, optarg, o); !r) return unexpected(r.error());
      continue;
    }
    // The option as the user spelled its name (not its value).
    const std::string opt_name =
        longindex >= 0 ? "--" + std::string(longopts[longindex].name) : std::string("-") + static_cast<char>(c);
    long v = 0;
    switch (c) {
      case 'c': o.configure = true; break;
      case 'e':
        if (!parse_long(optarg, 0, INT_MAX, v)) return unexpected(std::string("exit-fd must be a non-negative integer"));
        o.exit_fd = static_cast<int>(v);
        break;
      case 'r':
        if (!parse_long(optarg, 0, INT_MAX, v)) return unexpected(std::string("ready-fd must be a non-negative integer"));
        o.ready_fd = static_cast<int>(v);
        break;
      case 'm':
        // slirp4netns's text for what it refuses too; below 68 tapir says
        // why (libslirp would fail later, tapir's frame builders need it).
        if (!parse_long(optarg, 1, Options::kMaxMtu, v))
          return unexpected(std::string("MTU must be a positive integer (< 65522)"));
        if (v < static_cast<long>(Options::kMinMtu)) {
          return unexpected("MTU must be at least 68 (RFC 791), not " + std::to_string(v));
        }
        o.mtu = static_cast<unsigned>(v);
        break;
      case '6': o.enable_ipv6 = true; break;
      case kOptDisableIpv6: o.disable_ipv6 = true; break;
      case kOptCidr: {
        auto p = wire::Ipv4Prefix::parse(optarg);
        if (!p) return unexpected("invalid CIDR: " + std::string(optarg));
        if (p->len < 1 || p->len > 25) return unexpected(std::string("prefix length needs to be 1-25"));
        if (!p->is_network()) {
          return unexpected(std::string(
              "CIDR needs to be a network address like 10.0.2.0/24, not like 10.0.2.100/24"));
        }
        o.cidr = *p;
        break;
      }
      case kOptNetnsType:
        if (std::strcmp(optarg, "pid") == 0) {
          o.netns_type = NetnsType::kPid;
        } else if (std::strcmp(optarg, "path") == 0) {
          o.netns_type = NetnsType::kPath;
        } else {
          return unexpected("--netns-type must be either \"pid\" or \"path\", not \"" + std::string(optarg) + "\"");
        }
        break;
      case kOptUsernsPath: o.userns_path = optarg; break;
      case kOptMacaddress: {
        auto m = wire::MacAddr::parse(optarg);
        if (!m) return unexpected("\"" + std::string(optarg) + "\" is an invalid MAC address.");
        o.macaddress = *m;
        break;
      }
      case kOptTargetType:
        // slirp4netns's other target type, bess, is a different product.
        if (std::strcmp(optarg, "netns") != 0) {
          return unexpected(std::string("--target-type must be \"netns\" (tapir has no \"bess\" target)"));
        }
        break;
      case kOptHostname:
        if (*optarg == '\0' || std::strlen(optarg) > 63) {
          return unexpected("--hostname must be 1-63 characters, not \"" + std::string(optarg) + "\"");
        }
        o.hostname = optarg;
        break;
      case kOptSearch:
        if (*optarg == '\0' || std::strlen(optarg) > 253) {
          return unexpected("--search needs a domain name of 1-253 characters, not \"" + std::string(optarg) + "\"");
        }
        o.search_domains.emplace_back(optarg);
        break;
      case kOptNoDhcp: o.no_dhcp = true; break;
      case kOptNoNdp: o.no_ndp = true; break;
      case kOptNoDhcpv6: o.no_dhcpv6 = true; break;
      case 'q': o.log_level = LogLevel::kWarn; break;
      case kOptDebug: o.log_level = LogLevel::kDebug; break;
      case 'h': o.mode = Mode::kHelp; return o;
      case 'v': o.mode = Mode::kVersion; return o;
      case 'a':
        // sun_path: 108 bytes with the terminating NUL (slirp4netns silently truncates).
        if (*optarg == '\0' || std::strlen(optarg) > 107) {
          return unexpected("--api-socket path must be 1-107 bytes long, not " +
                            std::to_string(std::strlen(optarg)));
        }
        o.api_socket = optarg;
        break;
      case kOptPublish: publish_specs.emplace_back(optarg); break;
      case kOptNoHostLoopback:
        std::fprintf(stderr,
                     "WARNING: --no-host-loopback is deprecated and will be removed in future "
                     "releases, please use --disable-host-loopback instead.\n");
        [[fallthrough]];
      case kOptDisableHostLoopback: o.disable_host_loopback = true; break;
      case kOptOutboundAddr: o.outbound_addr = optarg; break;
      case kOptOutboundAddr6: o.outbound_addr6 = optarg; break;
      case kOptMaxFlows:
        if (!parse_long(optarg, 1, 1'000'000, v)) {
          return unexpected(std::string("--max-flows must be an integer 1-1000000"));
        }
        o.max_flows = static_cast<size_t>(v);
        break;
      case kOptMaxUdpFlows:
        if (!parse_long(optarg, 1, 1'000'000, v)) {
          return unexpected(std::string("--max-udp-flows must be an integer 1-1000000"));
        }
        o.max_udp_flows = static_cast<size_t>(v);
        break;
      case kOptMaxIcmpFlows:
        if (!parse_long(optarg, 1, 1'000'000, v)) {
          return unexpected(std::string("--max-icmp-flows must be an integer 1-1000000"));
        }
        o.max_icmp_flows = static_cast<size_t>(v);
        break;
      case kOptNoOffload: o.no_offload = true; break;
      case kOptPcap:
        if (*optarg == '\0') return unexpected(std::string("--pcap needs a file name"));
        o.pcap_path = optarg;
        break;
      case kOptEnableSandbox:
      case kOptCreateSandbox: o.enable_sandbox = true; break;
      case kOptEnableSeccomp: o.enable_seccomp = true; break;
      case kOptNoSandbox: o.no_sandbox = true; break;
      case kOptNoSeccomp: o.no_seccomp = true; break;
      case '?':
      default: {
        const char* bad = args[static_cast<size_t>(optind - 1)];
        if (std::strncmp(bad, "--", 2) == 0) {
          // A long option: unknown, or known and missing its argument.
          const std::string name = std::string(bad + 2).substr(0, std::string(bad + 2).find('='));
          for (const option* lo = all_long_options(); lo->name != nullptr; ++lo) {
            if (name == lo->name && lo->has_arg == required_argument) {
              return unexpected("option --" + name + " requires an argument");
            }
          }
          return unexpected("unrecognized option '" + std::string(bad) + "'");
        }
        if (optopt != 0 && optopt < 256 && std::strchr(kShortOptions, optopt) != nullptr) {
          return unexpected(std::string("option -") + static_cast<char>(optopt) + " requires an argument");
        }
        if (optopt != 0 && optopt < 256) {
          return unexpected(std::string("unknown option -") + static_cast<char>(optopt));
        }
        return unexpected("unrecognized option '" + std::string(bad) + "'");
      }
    }
  }
  for (int i = optind; i < n; ++i) positionals.emplace_back(args[static_cast<size_t>(i)]);
  if (o.enable_ipv6 && !o.disable_ipv6 && o.mtu < Options::kMinMtuIpv6) {
    return unexpected("MTU must be at least 1280 with IPv6 (RFC 8200), not " +
                      std::to_string(o.mtu));
  }
  if (o.enable_sandbox && o.no_sandbox) {
    return unexpected(std::string("--enable-sandbox and --no-sandbox contradict each other"));
  }
  if (o.enable_seccomp && o.no_seccomp) {
    return unexpected(std::string("--enable-seccomp and --no-seccomp contradict each other"));
  }
  // Checked now, placed after the target is known (IPv6 depends on it):
  // main() calls parse_publish again with the final answer.
  for (const auto& spec : publish_specs) {
    auto rules = parse_publish_spec(spec, false);
    if (!rules) return unexpected(rules.error());
  }
  o.publish_specs = std::move(publish_specs);

  if (o.mode == Mode::kRun) {
    o.command = std::move(positionals);
    o.configure = true;
    if (o.command.empty()) {
      const char* shell = std::getenv("SHELL");
      o.command.emplace_back(shell != nullptr && *shell != '\0' ? shell : "/bin/sh");
    }
    if (o.netns_type != NetnsType::kPid || !o.userns_path.empty()) {
      return unexpected(std::string("--netns-type and --userns-path do not apply to tapir run"));
    }
    return o;
  }

  if (positionals.empty()) return unexpected(std::string("missing PID or PATH (see tapir --help)"));
  if (positionals.size() > 2) return unexpected("unexpected argument: " + positionals[2]);
  if (positionals.size() == 2) {
    o.tapname = positionals[1];
    o.tapname_given = true;
  } else {
    o.configure = true;  // tapir's own invocation: tap0, configured
  }
  if (o.tapname.empty() || o.tapname.size() > 15) {
    return unexpected("TAPNAME must be 1-15 characters, not \"" + o.tapname + "\"");
  }
  if (o.netns_type == NetnsType::kPid) {
    long v = 0;
    if (!parse_long(positionals[0].c_str(), 1, INT_MAX, v)) {
      return unexpected(std::string("PID must be a positive integer"));
    }
    o.pid = static_cast<pid_t>(v);
  } else {
    o.netns_path = positionals[0];
  }
  if (o.macaddress && !o.configure) {
    return unexpected(std::string("--macaddr cannot be specified when --configure or -c is not specified"));
  }
  return o;
}

}  // namespace

const char* usage_text() {
  static const std::string text = std::string(kUsageHead) + kDnsUsage + kUsageTail;
  return text.c_str();
}

Expected<std::vector<flows::ForwardRule>, std::string> parse_publish(std::string_view spec,
                                                                    bool ipv6) {
  return one_line(parse_publish_spec(spec, ipv6));
}

Expected<Options, std::string> parse_command_line(int argc, char* const* argv) {
  return one_line(parse_arguments(argc, argv));
}

}  // namespace tapir::app
