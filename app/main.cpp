// tapir — user-mode networking for rootless containers.
//
// main() only wires the pieces: command line (app/cli), the target's
// namespaces (ns/namespace, ns/spawn for `tapir run`), the tap fetched from
// inside them (ns/attach), and the process lifecycle (app/serve), which
// runs the engine (stack/).

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "app/cli.hpp"
#include "app/outbound.hpp"
#include "app/serve.hpp"
#include "base/log.hpp"
#include "dns/resolv_conf.hpp"
#include "ns/attach.hpp"
#include "ns/host.hpp"
#include "ns/namespace.hpp"
#include "ns/spawn.hpp"
#include "sandbox/seccomp.hpp"

#ifndef TAPIR_VERSION
#define TAPIR_VERSION "0.1.0"
#endif
#ifndef TAPIR_GIT_COMMIT
#define TAPIR_GIT_COMMIT "unknown"
#endif

namespace {

using tapir::app::Mode;

void print_version() {
  // slirp4netns's line shape (runtimes read the first line), then tapir's own.
  std::printf("tapir version %s\n", TAPIR_VERSION);
  std::printf("commit: %s\n", TAPIR_GIT_COMMIT);
  std::printf("libslirp: none (this build has no libslirp engine yet)\n");
  std::printf("SLIRP_CONFIG_VERSION_MAX: none\n");
  std::printf("libseccomp: %s\n", tapir::sandbox::libseccomp_version().c_str());
  std::printf(
      "engine: io_uring (TCP, UDP and ping translation with tap offloads, DNS forwarder, "
      "services)\n");
}

// The startup banner, as slirp4netns prints it, for the parts that exist.
void print_banner(const tapir::wire::AddressPlan& plan, unsigned mtu, FILE* out) {
  std::fprintf(out, "Starting tapir\n");
  std::fprintf(out, "* MTU:             %u\n", mtu);
  std::fprintf(out, "* Network:         %s\n", plan.net4.network().to_string().c_str());
  std::fprintf(out, "* Netmask:         %s\n", plan.net4.mask().to_string().c_str());
  std::fprintf(out, "* Gateway:         %s\n", plan.gateway4.to_string().c_str());
  std::fprintf(out, "* DNS:             %s\n", plan.dns4.to_string().c_str());
  std::fprintf(out, "* Recommended IP:  %s\n", plan.guest4.to_string().c_str());
  if (plan.ipv6) {
    std::fprintf(out, "* IPv6 prefix:     %s\n", plan.net6.to_string().c_str());
    std::fprintf(out, "* IPv6 gateway:    %s\n", plan.gateway6.to_string().c_str());
  }
  std::fprintf(out, "* DHCP begin:      %s\n", plan.dhcp_start4.to_string().c_str());
  std::fprintf(out,
               "* Services:        ARP, DHCPv4, NDP, DHCPv6, ping to the gateway and DNS, DNS "
               "forwarder (UDP, TCP)\n");
  std::fprintf(out, "* Data path:       TCP, UDP and ping (NAT)\n");
  std::fflush(out);
}

// The DNS forwarder's configuration: upstreams from --dns-upstream, else
// from the resolv.conf file (read here, then watched by the DNS service).
tapir::dns::DnsServiceConfig dns_config(const tapir::app::Options& opts,
                                        const tapir::wire::AddressPlan& plan) {
  tapir::dns::DnsServiceConfig d;
  d.forwarder.cache.max_entries = opts.dns_cache_size;
  d.forwarder.routes = opts.dns_routes;
  d.forwarder.cache.stale_max = opts.dns_stale_max;
  d.log_queries = opts.dns_log;
  d.log_format = opts.dns_log_format;
  d.add_hosts = opts.add_hosts;
  if (!opts.no_hosts) {
    d.hosts_files = opts.hosts_files.empty() ? std::vector<std::string>{"/etc/hosts"} : opts.hosts_files;
  }
  // host.containers.internal is the gateway address, which reaches the host.
  d.builtin.host4 = plan.gateway4;
  d.builtin.gateway4 = plan.gateway4;
  if (plan.ipv6) {
    d.builtin.host6 = plan.gateway6;
    d.builtin.gateway6 = plan.gateway6;
  }
  if (!opts.dns_upstreams.empty()) {
    d.upstreams = opts.dns_upstreams;
  } else {
    d.resolv_conf = opts.resolv_conf;  // watched: a change replaces the upstreams live
    std::ifstream in(opts.resolv_conf);
    if (!in) {
      LOG_WARN("cannot read %s: %s; DNS queries will be answered SERVFAIL (see --dns-upstream)",
               opts.resolv_conf.c_str(), strerrordesc_np(errno));
    } else {
      std::ostringstream text;
      text << in.rdbuf();
      d.upstreams = tapir::dns::parse_resolv_conf(text.str()).nameservers;
      if (d.upstreams.empty()) {
        LOG_WARN(
            "%s names no nameserver; DNS queries will be answered SERVFAIL (see --dns-upstream)",
            opts.resolv_conf.c_str());
      }
    }
  }
  for (const auto& u : d.upstreams) LOG_DEBUG("dns upstream: %s", u.to_string().c_str());
  for (const auto& r : opts.dns_routes.routes()) {
    for (const auto& u : r.upstreams) {
      LOG_DEBUG("dns route: %s -> %s", r.domain.to_string().c_str(), u.to_string().c_str());
    }
    if (r.local) LOG_DEBUG("dns route: %s -> local", r.domain.to_string().c_str());
  }
  return d;
}

// The directories the DNS forwarder re-reads files in (resolv.conf, hosts
// files, and every directory their symlinks lead through, as the watch
// follows them), resolved, for the sandbox's root to keep.
std::vector<std::string> dns_read_dirs(const tapir::dns::DnsServiceConfig& d) {
  std::vector<std::string> files = d.hosts_files;
  if (!d.resolv_conf.empty()) files.push_back(d.resolv_conf);
  std::vector<std::string> dirs;
  auto dir_of = [](const std::string& p) {
    const size_t slash = p.rfind('/');
    return slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : p.substr(0, slash);
  };
  for (std::string p : files) {
    for (int hop = 0; hop < 8; ++hop) {  // dns/io/resolv_watch's limit
      char real[PATH_MAX];
      if (::realpath(dir_of(p).c_str(), real) != nullptr) dirs.emplace_back(real);
      char target[PATH_MAX];
      const ssize_t n = ::readlink(p.c_str(), target, sizeof target - 1);
      if (n <= 0) break;
      target[n] = '\0';
      p = target[0] == '/' ? std::string(target) : dir_of(p) + "/" + target;
    }
  }
  return dirs;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = tapir::app::parse_command_line(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "tapir: %s\n", parsed.error().c_str());
    return 1;
  }
  tapir::app::Options& opts = *parsed;
  if (opts.mode == Mode::kHelp) {
    std::fputs(tapir::app::usage_text(), stdout);
    return 0;
  }
  if (opts.mode == Mode::kVersion) {
    print_version();
    return 0;
  }
  tapir::set_log_level(opts.log_level);
  // Before anything is attached: a bad value leaves nothing behind.
  auto resolved = tapir::app::resolve_outbound(opts.outbound_addr, opts.outbound_addr6);
  if (!resolved) {
    std::fprintf(stderr, "tapir: %s\n", resolved.error().c_str());
    return 1;
  }
  const tapir::flows::OutboundAddrs outbound = *resolved;

  tapir::ns::AttachRequest req;
  req.tapname = opts.tapname;
  req.configure = opts.configure;
  req.mtu = opts.mtu;
  req.vnet_hdr = !opts.no_offload;
  req.mac = opts.macaddress;
  req.plan =
      tapir::wire::AddressPlan::nat(opts.cidr, *tapir::wire::Ipv6Prefix::parse("fd00::/64"),
                                    opts.ipv6_wanted(tapir::ns::host_has_ipv6_default_route()));
  req.plan.mtu = opts.mtu;
  req.plan.search = opts.search_domains;

  std::optional<tapir::ns::Spawned> spawned;
  tapir::Expected<tapir::ns::Target, std::string> target = tapir::unexpected(std::string());
  if (opts.mode == Mode::kRun) {
    req.fast_slaac = true;
    auto s = tapir::ns::spawn_in_new_namespaces(
        opts.command, opts.hostname, req.plan.ipv6 && !opts.no_ndp ? req.tapname : std::string());
    if (!s) {
      std::fprintf(stderr, "tapir: %s\n", s.error().c_str());
      return 1;
    }
    spawned.emplace(std::move(*s));
    target = tapir::ns::target_from_pid(spawned->pid(), "");
  } else if (opts.netns_type == tapir::app::NetnsType::kPid) {
    target = tapir::ns::target_from_pid(opts.pid, opts.userns_path);
  } else {
    target = tapir::ns::target_from_path(opts.netns_path, opts.userns_path);
  }
  if (!target) {
    std::fprintf(stderr, "tapir: %s\n", target.error().c_str());
    if (spawned) spawned->abort();
    return 1;
  }

  auto tap = tapir::ns::attach_tap(*target, req);
  if (!tap) {
    std::fprintf(stderr, "tapir: %s\n", tap.error().c_str());
    if (spawned) spawned->abort();
    return 1;
  }
  // In run mode stderr is the command's too: say it only when asked.
  TAPIR_LOG(spawned ? tapir::LogLevel::kDebug : tapir::LogLevel::kInfo,
            "%s %s: vnet header %zu bytes, offloads accepted: %s",
            req.configure ? "configured" : "attached", tap->name.c_str(), tap->vnet_hdr_len,
            tap->offloads.to_string().c_str());

  tapir::app::ServeConfig cfg;
  cfg.exit_fd = opts.exit_fd;
  cfg.ready_fd = opts.ready_fd;
  if (spawned) {
    // stdout belongs to the command in run mode.
    if (tapir::log_enabled(tapir::LogLevel::kDebug)) print_banner(req.plan, opts.mtu, stderr);
    cfg.command_pid = spawned->pid();
    if (auto r = spawned->release(); !r) {
      std::fprintf(stderr, "tapir: %s\n", r.error().c_str());
      return 1;
    }
  } else {
    print_banner(req.plan, opts.mtu, stdout);
    cfg.watch_pid = opts.netns_type == tapir::app::NetnsType::kPid ? opts.pid : 0;
    cfg.watch_pidfd = target->pidfd ? target->pidfd.get() : -1;
  }
  tapir::services::ServiceConfig services;
  services.plan = req.plan;
  services.hostname = opts.hostname;
  services.dhcp = !opts.no_dhcp;
  services.ndp = !opts.no_ndp;
  services.dhcpv6 = !opts.no_dhcpv6;
  if (!opts.disable_dns) cfg.dns = dns_config(opts, req.plan);
  cfg.disable_host_loopback = opts.disable_host_loopback;
  cfg.max_tcp_flows = opts.max_flows;
  cfg.max_udp_flows = opts.udp_flow_cap();
  cfg.max_icmp_flows = opts.icmp_flow_cap();
  cfg.pcap_path = opts.pcap_path;
  cfg.outbound = outbound;
  // -p specs were checked by the parser; their guest family needs IPv6 decided.
  for (const auto& spec : opts.publish_specs) {
    auto rules = tapir::app::parse_publish(spec, req.plan.ipv6);
    if (rules) cfg.publish.insert(cfg.publish.end(), rules->begin(), rules->end());
  }
  cfg.api_socket = opts.api_socket;
  // Asked for: required. tapir run: wherever the kernel allows. Attached
  // (slirp4netns's personality): only when asked, as slirp4netns does.
  auto wall = [&](bool enable, bool disable) {
    if (enable) return tapir::app::Wall::kRequired;
    if (disable || !spawned) return tapir::app::Wall::kOff;
    return tapir::app::Wall::kIfPossible;
  };
  cfg.sandbox = wall(opts.enable_sandbox, opts.no_sandbox);
  cfg.seccomp = wall(opts.enable_seccomp, opts.no_seccomp);
  if (cfg.sandbox != tapir::app::Wall::kOff && cfg.dns) cfg.sandbox_read_dirs = dns_read_dirs(*cfg.dns);
  return tapir::app::serve(*tap, cfg, services);
}
