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
// serve() is the process's lifecycle only: the signals, the watched
// process, -r and -e, the control API's socket, the exit code and the
// exit log. The frames are the engine's (stack::Backend, stack/backend):
// today the io_uring one, stack::Stack (stack/stack), which owns the loop,
// the tap's I/O, the dispatcher, the flows, DNS and port forwarding.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dns/io/service.hpp"
#include "flows/port_forward.hpp"
#include "flows/tcp_host.hpp"
#include "ns/attach.hpp"
#include "services/service_config.hpp"

namespace tapir::app {

// How hard a wall (the sandbox, the seccomp filter) is wanted.
enum class Wall {
  kOff,
  kIfPossible,  // tapir run's default: a refusal is one warning, and tapir goes on
  kRequired,    // asked for by option: a refusal ends tapir with the cause
};

struct ServeConfig {
  int exit_fd = -1;
  int ready_fd = -1;
  pid_t watch_pid = 0;    // PID mode: the target ...
  int watch_pidfd = -1;   // ... and its pidfd, opened when it was resolved (borrowed)
  pid_t command_pid = 0;  // run mode: the command (our child)
  // The DNS forwarder; nullopt with --disable-dns.
  std::optional<dns::DnsServiceConfig> dns;
  bool disable_host_loopback = false;
  size_t max_udp_flows = 4096;
  size_t max_icmp_flows = 1024;
  size_t max_tcp_flows = 65536;
  flows::OutboundAddrs outbound;  // --outbound-addr[6]
  std::string pcap_path;          // --pcap
  // -p/--publish rules, added before the loop starts; a port that cannot
  // be bound ends tapir with a one-line error.
  std::vector<flows::ForwardRule> publish;
  // -a/--api-socket; empty: no control API.
  std::string api_socket;
  // --enable-sandbox and --enable-seccomp: put up once everything above is
  // open and the engine runs, before -r is signalled (sandbox/). A step
  // that fails ends tapir with a one-line error naming it.
  Wall sandbox = Wall::kOff;
  Wall seccomp = Wall::kOff;
  std::vector<std::string> sandbox_read_dirs;  // kept in the sandbox's root
};

// Runs until one of the ends above; returns the process exit status.
// At the end, the engine's totals go to the debug log (its stats table:
// stack/stats), read from the engine once it stopped.
int serve(ns::Attached& tap, const ServeConfig& cfg, const services::ServiceConfig& services);

}  // namespace tapir::app
