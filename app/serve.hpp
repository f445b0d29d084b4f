#pragma once
// The process lifecycle around the tap (slirp4netns-compatible):
//
// * -r FD gets exactly "1" and is closed once the tap is up, this loop is
//   running and every fd it waits on is armed;
// * -e FD: any event on it (the other end closed: HUP) ends tapir with 0;
// * SIGTERM / SIGINT end tapir cleanly (run mode: passed on to the command,
//   and tapir ends with the command);
// * PID mode: when the target process is gone (pidfd readable), tapir ends;
// * run mode: when the command exits, tapir exits with its status.
//
// The frames themselves go through the io_uring engine (loop/engine) to the
// dispatcher (stack/dispatch): the built-in services, the DNS forwarder and
// the TCP, UDP and ping translation.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ns/attach.hpp"
#include "dns/io/service.hpp"
#include "flows/port_forward.hpp"
#include "flows/tcp_host.hpp"
#include "services/service_config.hpp"

namespace tapir::app {

struct ServeConfig {
  int exit_fd = -1;
  int ready_fd = -1;
  pid_t watch_pid = 0;     // PID mode: the target ...
  int watch_pidfd = -1;    // ... and its pidfd, opened when it was resolved (borrowed)
  pid_t command_pid = 0;   // run mode: the command (our child)
  // The DNS forwarder; nullopt with --disable-dns.
  std::optional<dns::DnsServiceConfig> dns;
  bool disable_host_loopback = false;
  size_t max_udp_flows = 4096;
  size_t max_icmp_flows = 1024;
  size_t max_tcp_flows = 65536;
  flows::OutboundAddrs outbound;  // --outbound-addr[6]
  std::string pcap_path;         // --pcap
  // -p/--publish rules, added before the loop starts; a port that cannot
  // be bound ends tapir with a one-line error.
  std::vector<flows::ForwardRule> publish;
  // -a/--api-socket; empty: no control API.
  std::string api_socket;
};

struct ServeStats {
  uint64_t tcp_connections = 0;    // opened by the guest
  uint64_t tcp_open_at_exit = 0;
  uint64_t tcp_bytes_to_host = 0;
  uint64_t tcp_bytes_to_guest = 0;
  uint64_t tcp_resets_to_guest = 0;
  uint64_t tcp_retransmits = 0;
  uint64_t udp_flows = 0;          // created
  uint64_t udp_to_host = 0;
  uint64_t udp_to_guest = 0;
  uint64_t frames_in = 0;
  uint64_t bytes_in = 0;
  uint64_t replies = 0;
  uint64_t no_data_path = 0;
  uint64_t dropped = 0;
  uint64_t dns_queries = 0;
  uint64_t dns_cache_hits = 0;
  uint64_t dns_upstream_queries = 0;
  uint64_t dns_servfail = 0;
  uint64_t dns_disabled = 0;  // dropped because of --disable-dns
};

// Runs until one of the ends above; returns the process exit status.
int serve(ns::Attached& tap, const ServeConfig& cfg, const services::ServiceConfig& services,
          ServeStats& stats);

}  // namespace tapir::app
