#include "app/serve.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "app/api.hpp"
#include "app/stats_reply.hpp"
#include "base/log.hpp"
#include "ns/namespace.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox/seccomp.hpp"
#include "stack/stack.hpp"

namespace tapir::app {
namespace {

// Writes "1" and closes; EINTR-safe. A pipe whose reader is gone is not an
// error worth dying for: the runtime simply stopped waiting.
void signal_ready(int fd) {
  if (fd < 0) return;
  ssize_t n;
  do n = ::write(fd, "1", 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) LOG_WARN("cannot write to ready-fd %d: %s", fd, strerrordesc_np(errno));
  ::close(fd);
}

// Every flow holds a socket: take all the descriptors we are allowed.
void raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0)
      LOG_WARN("cannot raise RLIMIT_NOFILE: %s", strerrordesc_np(errno));
  }
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0)
    LOG_DEBUG("open file limit: %llu", static_cast<unsigned long long>(rl.rlim_cur));
}

int wait_status_to_exit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

const char* proto_name(flows::FwdProto p) {
  return p == flows::FwdProto::kUdp ? "udp" : "tcp";
}

unsigned long long v(const stack::StatGroup& t, std::string_view path) {
  return static_cast<unsigned long long>(t.value(path));
}

// Once the engine stopped: the tap's transmit side and the TCP details.
void log_engine_exit(const stack::StatGroup& t) {
  LOG_DEBUG("frames to the guest: %llu; %llu waited or were dropped for want of a transmit buffer",
            v(t, "frames.to_guest"), v(t, "drops.tap_tx_no_buffer"));
  LOG_DEBUG(
      "tcp detail: %llu forwarded, %llu refused, %llu unreachable, %llu table full, "
      "%llu socket errors, %llu segments in, %llu data segments out, %llu timeouts rewinds, "
      "%llu fast rewinds, %llu partial sends, %llu out of order, %llu resets from the guest, "
      "%llu for no connection, %llu bad checksums, %llu invalid, %llu gave up, %llu window probes, "
      "%llu waited for a transmit buffer",
      v(t, "flows.tcp.forwarded"), v(t, "drops.tcp_refused"), v(t, "drops.tcp_unreachable"),
      v(t, "drops.tcp_table_full"), v(t, "drops.tcp_socket_errors"), v(t, "flows.tcp.segments_in"),
      v(t, "flows.tcp.segments_out"), v(t, "flows.tcp.retransmits"),
      v(t, "flows.tcp.fast_retransmits"), v(t, "flows.tcp.partial_sends"),
      v(t, "drops.tcp_out_of_order"), v(t, "drops.tcp_resets_from_guest"),
      v(t, "drops.tcp_no_flow"), v(t, "drops.tcp_bad_checksum"), v(t, "drops.tcp_bad_segment"),
      v(t, "drops.tcp_timeouts"), v(t, "flows.tcp.window_probes"), v(t, "flows.tcp.tx_full"));
}

// The totals, at the very end (all 0 when the engine never ran).
void log_totals(const stack::StatGroup& t) {
  LOG_DEBUG(
      "frames from the guest: %llu (%llu bytes); %llu answered by built-in services, "
      "%llu with no translation, %llu malformed",
      v(t, "frames.from_guest"), v(t, "bytes.from_guest"), v(t, "frames.service_replies"),
      v(t, "drops.no_data_path"), static_cast<unsigned long long>(t.sum("drops.malformed")));
  // "open at exit": the connections the stop closed.
  LOG_DEBUG(
      "tcp: %llu connections (%llu open at exit), %llu bytes to the host, %llu to the guest, "
      "%llu resets to the guest, %llu retransmissions",
      v(t, "flows.tcp.created"), v(t, "flows.tcp.active"), v(t, "flows.tcp.bytes_to_host"),
      v(t, "flows.tcp.bytes_to_guest"), v(t, "drops.tcp_resets_to_guest"),
      v(t, "flows.tcp.retransmits") + v(t, "flows.tcp.fast_retransmits"));
  LOG_DEBUG("udp: %llu flows, %llu datagrams to the host, %llu to the guest",
            v(t, "flows.udp.created"), v(t, "flows.udp.to_host"), v(t, "flows.udp.to_guest"));
  LOG_DEBUG(
      "dns: %llu queries, %llu cache hits, %llu upstream queries, %llu SERVFAIL, "
      "%llu dropped (--disable-dns)",
      v(t, "dns.queries"), v(t, "dns.cache_hits"), v(t, "dns.upstream_queries"),
      v(t, "dns.servfail"), v(t, "drops.dns_disabled"));
}

// --enable-sandbox, then --enable-seccomp (whose filter forbids what the
// sandbox's set-up calls). A wall that is only wanted where possible and
// that the kernel refuses costs one warning; the other still goes up.
Expected<void, std::string> lock(const ServeConfig& cfg) {
  auto put_up = [](Wall want, const char* name, auto&& step) -> Expected<void, std::string> {
    if (want == Wall::kOff) return {};
    auto r = step();
    if (r || want == Wall::kRequired) return r;
    LOG_WARN("%s; going on without the %s (--no-%s silences this)", r.error().c_str(), name, name);
    return {};
  };
  if (auto r = put_up(cfg.sandbox, "sandbox",
                      [&] { return sandbox::enter_sandbox({.read_dirs = cfg.sandbox_read_dirs}); });
      !r) {
    return r;
  }
  return put_up(cfg.seccomp, "seccomp", [] { return sandbox::apply_seccomp(); });
}

// Everything but the totals; `at_exit` gets the engine's counters once it
// stopped.
int serve_until_end(ns::Attached& tap, const ServeConfig& cfg,
                    const services::ServiceConfig& services, stack::StatGroup& at_exit) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGPIPE);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) {
    LOG_ERROR("sigprocmask: %s", strerrordesc_np(errno));
    return 1;
  }
  sigdelset(&mask, SIGPIPE);  // blocked, never waited for: EPIPE comes back as an error
  Fd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) {
    LOG_ERROR("signalfd: %s", strerrordesc_np(errno));
    return 1;
  }
  // PID mode borrows the target's pidfd (opened with its namespaces); run
  // mode watches its own child, which stays until we reap it.
  const pid_t watched = cfg.command_pid != 0 ? cfg.command_pid : cfg.watch_pid;
  Fd own_pidfd;
  int pidfd = cfg.watch_pidfd;
  if (cfg.command_pid != 0) {
    auto p = ns::open_pidfd(cfg.command_pid);
    if (!p) {
      LOG_ERROR("cannot watch process %d: %s", cfg.command_pid, p.error().message().c_str());
      return 1;
    }
    own_pidfd = std::move(*p);
    pidfd = own_pidfd.get();
  }

  raise_nofile_limit();
  // Watch order is the switch below.
  enum Watch : size_t { kSignal = 0, kPid = 1, kExit = 2 };
  stack::StackConfig sc;
  sc.tap_fd = tap.fd.get();
  sc.vnet_hdr_len = tap.vnet_hdr_len;
  sc.watch_fds = {sigfd.get(), pidfd, cfg.exit_fd};
  sc.services = services;
  sc.dns = cfg.dns;
  sc.disable_host_loopback = cfg.disable_host_loopback;
  sc.max_udp_flows = cfg.max_udp_flows;
  sc.max_icmp_flows = cfg.max_icmp_flows;
  sc.max_tcp_flows = cfg.max_tcp_flows;
  sc.outbound = cfg.outbound;
  sc.pcap_path = cfg.pcap_path;
  auto created = stack::Stack::create(sc);
  if (!created) {
    LOG_ERROR("%s", created.error().c_str());
    return 1;
  }
  stack::Backend& engine = **created;

  for (const auto& r : cfg.publish) {
    if (auto id = engine.port_forwards().add(r); !id) {
      LOG_ERROR("cannot publish %s%s%s:%u/%s: %s", r.host_addr.v6 ? "[" : "",
                r.host_addr.to_string().c_str(), r.host_addr.v6 ? "]" : "", r.host_port,
                proto_name(r.proto), id.error().message().c_str());
      return 1;
    }
  }
  std::optional<ApiHandler> api_handler;
  std::unique_ptr<ApiServer> api;
  if (!cfg.api_socket.empty()) {
    api_handler.emplace(engine.port_forwards(), services.plan, [&] {
      stack::StatGroup t = engine.stats();
      if (api) add_api_stats(t, api->stats(), api->clients());
      return stats_json(t);
    });
    auto s = ApiServer::open(cfg.api_socket, *api_handler);
    if (!s) {
      LOG_ERROR("%s", s.error().c_str());
      return 1;
    }
    api = std::move(*s);
    if (cfg.sandbox != Wall::kOff || cfg.seccomp != Wall::kOff) api->keep_file_at_exit();
    if (!api->attach(engine.watcher())) {
      LOG_ERROR("cannot watch the API socket: no engine slot");
      return 1;
    }
  }
  if (auto r = engine.start(); !r) {
    LOG_ERROR("cannot start the engine: %s", r.error().c_str());
    return 1;
  }
  if (auto r = lock(cfg); !r) {
    LOG_ERROR("%s", r.error().c_str());
    return 1;
  }
  signal_ready(cfg.ready_fd);
  LOG_DEBUG("engine running on %s (%s, vnet header %zu, offloads %s)", tap.name.c_str(),
            engine.describe().c_str(), tap.vnet_hdr_len, tap.offloads.to_string().c_str());

  // Run mode: the command's exit status is ours.
  auto reap_command = [&cfg]() {
    int status = 0;
    while (::waitpid(cfg.command_pid, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = wait_status_to_exit(status);
    LOG_DEBUG("command exited with status %d", code);
    return code;
  };
  int code = 0;
  bool terminating = false;
  while (true) {
    auto fired = engine.run();
    if (!fired) {
      LOG_ERROR("engine: %s", fired.error().c_str());
      code = 1;
      break;
    }
    if (*fired == stack::Backend::kTapGone) {
      // With a PID target this is how its end usually shows first: the
      // namespace died with the process. The pidfd turns readable when the
      // process has exited (zombie or reaped); give it a moment to.
      pollfd p{pidfd, POLLIN, 0};
      if (pidfd >= 0 && ::poll(&p, 1, 500) == 1) {
        if (cfg.command_pid != 0) {
          code = reap_command();
        } else {
          LOG_INFO("target process %d exited; exiting", watched);
        }
      } else {
        LOG_ERROR("the tap %s went away; exiting", tap.name.c_str());
        code = 1;
      }
      break;
    }
    if (*fired == kExit) {
      LOG_INFO("exit-fd %d reported an event; exiting", cfg.exit_fd);
      break;
    }
    if (*fired == kPid) {
      if (cfg.command_pid != 0) {
        code = reap_command();
      } else {
        LOG_INFO("target process %d exited; exiting", cfg.watch_pid);
      }
      break;
    }
    // A signal.
    signalfd_siginfo si{};
    if (::read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (cfg.command_pid == 0) {
        LOG_INFO("%s received; exiting", strsignal(static_cast<int>(si.ssi_signo)));
        break;
      }
      // The command decides when we are done; pass the signal on once.
      if (!terminating) {
        LOG_DEBUG("passing signal %u on to the command", si.ssi_signo);
        ::kill(cfg.command_pid, static_cast<int>(si.ssi_signo));
        terminating = true;
      }
    }
    engine.rearm(kSignal);
  }

  engine.stop();
  at_exit = engine.stats();
  log_engine_exit(at_exit);
  return code;
}

}  // namespace

int serve(ns::Attached& tap, const ServeConfig& cfg, const services::ServiceConfig& services) {
  stack::StatGroup at_exit;
  const int code = serve_until_end(tap, cfg, services, at_exit);
  log_totals(at_exit);
  return code;
}

}  // namespace tapir::app
