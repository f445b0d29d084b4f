#include "app/cli_dns.hpp"

#include <cerrno>
#include <cstdlib>
#include <optional>

#include "dns/builtin.hpp"
#include "dns/resolv_conf.hpp"

namespace tapir::app {
namespace {

enum DnsOpt : int {
  kOptDisableDns = kFirstDnsOption,
  kOptDnsUpstream,
  kOptResolvConf,
  kOptDnsCacheSize,
  kOptDnsLog,
  kOptAddHost,
  kOptDnsRoute,
  kOptHostsFile,
  kOptNoHosts,
  kOptDnsStaleMax,
  kOptDnsLogFormat,
  kOptDnsEnd,
};

}  // namespace

const option kDnsLongOptions[] = {
    {"disable-dns", no_argument, nullptr, kOptDisableDns},
    {"dns-upstream", required_argument, nullptr, kOptDnsUpstream},
    {"resolv-conf", required_argument, nullptr, kOptResolvConf},
    {"dns-cache-size", required_argument, nullptr, kOptDnsCacheSize},
    {"dns-log", no_argument, nullptr, kOptDnsLog},
    {"add-host", required_argument, nullptr, kOptAddHost},
    {"dns-route", required_argument, nullptr, kOptDnsRoute},
    {"hosts-file", required_argument, nullptr, kOptHostsFile},
    {"no-hosts", no_argument, nullptr, kOptNoHosts},
    {"dns-stale-max", required_argument, nullptr, kOptDnsStaleMax},
    {"dns-log-format", required_argument, nullptr, kOptDnsLogFormat},
    {nullptr, 0, nullptr, 0},
};

const char kDnsUsage[] =
    "--disable-dns            do not answer DNS queries on the DNS address\n"
    "--dns-upstream=ADDR[:PORT]  DNS server to forward to (repeatable; IPv6 as\n"
    "                         [ADDR]:PORT); default: the nameservers of --resolv-conf\n"
    "--resolv-conf=PATH       read upstream nameservers from PATH (default\n"
    "                         /etc/resolv.conf); re-read whenever it changes\n"
    "--dns-route=DOMAIN=ADDR[:PORT]  send names under DOMAIN to ADDR instead (split\n"
    "                         DNS; repeatable, longest DOMAIN wins, more ADDRs for one\n"
    "                         DOMAIN fail over in order); DOMAIN=local: answer names\n"
    "                         under DOMAIN only from --add-host and the hosts files,\n"
    "                         NXDOMAIN otherwise\n"
    "--dns-cache-size=N       DNS answers to keep (default 10000, 0 disables)\n"
    "--dns-stale-max=DURATION  when every upstream fails, answer from cache entries\n"
    "                         expired up to DURATION ago, with TTL 30 (RFC 8767;\n"
    "                         e.g. 90s, 30m, 12h, 2d; default 1d, 0 disables)\n"
    "--dns-log                log every DNS answer in one line\n"
    "--dns-log-format=FORMAT  the form of --dns-log's lines: text (default) or json\n"
    "                         (one JSON object per line: time, client, name, type,\n"
    "                         outcome, upstream and latency_ms, reason)\n"
    "--add-host=NAME:ADDR     answer NAME with ADDR (IPv4, IPv6 or host-gateway) and\n"
    "                         ADDR's reverse name with NAME, in the DNS forwarder\n"
    "                         (repeatable; wins over the hosts files)\n"
    "--hosts-file=PATH        answer the names of hosts file PATH (repeatable; default\n"
    "                         /etc/hosts); re-read whenever it changes\n"
    "--no-hosts               read no hosts file\n";

namespace {

// "0", "90", "90s", "30m", "12h", "2d" -> seconds; nullopt past kMaxStale.
constexpr uint32_t kMaxStale = 30 * 86400;
std::optional<uint32_t> parse_stale_max(const std::string& v) {
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  if (digits == 0 || digits > 9 || v.size() > digits + 1) return std::nullopt;
  uint64_t n = std::stoull(v.substr(0, digits));
  const char unit = digits < v.size() ? v[digits] : 's';
  switch (unit) {
    case 's': break;
    case 'm': n *= 60; break;
    case 'h': n *= 3600; break;
    case 'd': n *= 86400; break;
    default: return std::nullopt;
  }
  if (n > kMaxStale) return std::nullopt;
  return static_cast<uint32_t>(n);
}

}  // namespace

bool is_dns_option(int c) { return c >= kFirstDnsOption && c < kOptDnsEnd; }

Expected<void, std::string> parse_dns_option(int c, const char* arg, Options& o) {
  const std::string value = arg != nullptr ? arg : "";
  switch (c) {
    case kOptDisableDns: o.disable_dns = true; break;
    case kOptDnsUpstream: {
      auto e = dns::parse_upstream(value);
      if (!e) {
        return unexpected("invalid --dns-upstream \"" + value + "\": " + dns::upstream_error_name(e.error()));
      }
      o.dns_upstreams.push_back(std::move(*e));
      break;
    }
    case kOptResolvConf:
      if (value.empty()) return unexpected(std::string("--resolv-conf needs a file name"));
      o.resolv_conf = value;
      break;
    case kOptDnsCacheSize: {
      errno = 0;
      char* end = nullptr;
      const long v = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || errno != 0 || *end != '\0' || v < 0 || v > 10'000'000) {
        return unexpected(std::string("--dns-cache-size must be an integer 0-10000000"));
      }
      o.dns_cache_size = static_cast<size_t>(v);
      break;
    }
    case kOptDnsLog: o.dns_log = true; break;
    case kOptAddHost: {
      // Checked here for a one-line error at startup; host-gateway needs
      // the host's address, which NAT mode always has.
      dns::BuiltinConfig bc;
      bc.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
      if (auto r = dns::BuiltinNames(bc).add_host(value); !r) {
        return unexpected("invalid --add-host \"" + value + "\": " + dns::add_host_error_name(r.error()));
      }
      o.add_hosts.push_back(value);
      break;
    }
    case kOptDnsRoute:
      if (auto r = o.dns_routes.add(value); !r) {
        return unexpected("invalid --dns-route \"" + value + "\": " + r.error());
      }
      break;
    case kOptHostsFile:
      if (value.empty()) return unexpected(std::string("--hosts-file needs a file name"));
      if (o.hosts_files.size() >= kMaxHostsFiles) {
        return unexpected("at most " + std::to_string(kMaxHostsFiles) + " --hosts-file options");
      }
      o.hosts_files.push_back(value);
      break;
    case kOptNoHosts: o.no_hosts = true; break;
    case kOptDnsStaleMax: {
      const auto v = parse_stale_max(value);
      if (!v) {
        return unexpected("invalid --dns-stale-max \"" + value +
                          "\": expected a duration such as 0, 90s, 30m, 12h or 2d (at most 30d)");
      }
      o.dns_stale_max = *v;
      break;
    }
    case kOptDnsLogFormat:
      if (value == "text") {
        o.dns_log_format = dns::LogFormat::kText;
      } else if (value == "json") {
        o.dns_log_format = dns::LogFormat::kJson;
      } else {
        return unexpected("invalid --dns-log-format \"" + value + "\": expected text or json");
      }
      break;
    default: return unexpected("not a DNS option: " + std::to_string(c));
  }
  return {};
}

}  // namespace tapir::app
