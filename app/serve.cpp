#include "app/serve.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "app/api.hpp"
#include "base/log.hpp"
#include "stack/dispatch.hpp"
#include "loop/engine.hpp"
#include "tap/tap_io.hpp"
#include "flows/tcp_flows.hpp"
#include "wire/pcap.hpp"
#include "ns/namespace.hpp"

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

// --pcap: both directions of the tap into one file, as they happen.
class PcapTap final : public tap::FrameTap {
 public:
  explicit PcapTap(wire::PcapWriter w) : w_(std::move(w)) {}
  void on_frame(wire::ConstBytes frame, bool /*to_guest*/) override {
    if (failed_) return;
    if (auto r = w_.write(frame, wall_now()); !r) {
      LOG_ERROR("--pcap: %s; no more frames are written", r.error().message().c_str());
      failed_ = true;
    }
  }

 private:
  wire::PcapWriter w_;
  bool failed_ = false;
};

// Every flow holds a socket: take all the descriptors we are allowed.
void raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &rl) < 0) LOG_WARN("cannot raise RLIMIT_NOFILE: %s", strerrordesc_np(errno));
  }
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) LOG_DEBUG("open file limit: %llu", static_cast<unsigned long long>(rl.rlim_cur));
}

int wait_status_to_exit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Forwarded TCP connections go to the TCP translation, which must know
// the guest's MAC: tell it what the services learnt (ARP, NDP, DHCP) in
// case the guest has sent no TCP yet.
class ForwardToTcp final : public flows::ForwardSink {
 public:
  ForwardToTcp(flows::TcpFlows& tcp, const stack::ServiceDispatcher& d) : tcp_(tcp), d_(d) {}
  bool forward_tcp(Fd conn, const flows::ForwardTarget& t, MonoTime now,
                   loop::FrameSink& tx) override {
    if (d_.guest().mac) tcp_.set_guest_mac(*d_.guest().mac);
    return tcp_.forward_tcp(std::move(conn), t, now, tx);
  }

 private:
  flows::TcpFlows& tcp_;
  const stack::ServiceDispatcher& d_;
};

const char* proto_name(flows::FwdProto p) {
  return p == flows::FwdProto::kUdp ? "udp" : "tcp";
}

// The control API's "stats": every counter the data path keeps, grouped
// as flows (by type), frames and bytes each way, and drops by reason.
nlohmann::json collect_stats(const tap::TapIo& tapio, const stack::ServiceDispatcher& dispatcher,
                             const flows::TcpFlows& tcp, const flows::UdpFlows& udp,
                             const flows::IcmpEchoFlows& echo, const dns::DnsService* dns,
                             const flows::PortForwarder& fwd, const ApiServer* api) {
  using nlohmann::json;
  const auto& es = tapio.stats();
  const auto& ds = dispatcher.stats();
  const auto& us = udp.stats();
  const auto& is = echo.stats();
  const auto& fs = fwd.stats();
  json j;
  j["frames"] = {{"from_guest", es.frames_in},
                 {"to_guest", tapio.tx().sent()},
                 {"service_replies", ds.replies},
                 {"gso_from_guest", ds.gso_frames}};
  j["bytes"] = {{"from_guest", es.bytes_in}, {"to_guest", tapio.tx().bytes_sent()}};
  const auto& ts = tcp.stats();
  j["flows"] = {
      {"tcp",
       {{"active", tcp.size()},
        {"created", ts.created},
        {"forwarded", ts.forwarded},
        {"closed", ts.closed},
        {"bytes_to_host", ts.bytes_to_host},
        {"bytes_to_guest", ts.bytes_to_guest},
        {"retransmits", ts.retransmits},
        {"fast_retransmits", ts.fast_retransmits}}},
      {"udp",
       {{"active", udp.size()},
        {"created", us.created},
        {"reverse_created", us.reverse_created},
        {"expired", us.expired},
        {"to_host", us.to_host},
        {"to_guest", us.to_guest},
        {"from_forwarded_ports", us.from_listener}}},
      {"icmp_echo",
       {{"active", echo.size()},
        {"max", echo.max_flows()},
        {"created", is.created},
        {"expired", is.expired},
        {"to_host", is.to_host},
        {"to_guest", is.to_guest}}},
      {"port_forward",
       {{"rules", fwd.size()},
        {"tcp_accepted", fs.tcp_accepted},
        {"udp_datagrams", fs.udp_datagrams}}},
  };
  json malformed = json::object();
  for (size_t i = 0; i < wire::kParseErrorCount; ++i) {
    const auto e = static_cast<wire::ParseError>(i);
    const uint64_t n = ds.drops[e] + es.drops[e];
    if (n != 0) malformed[wire::parse_error_name(e)] = n;
  }
  // Martian destinations (flows/nat.hpp), by reason, whichever protocol.
  json martian = json::object();
  for (size_t i = 0; i < flows::kMartianCount; ++i) {
    const auto m = static_cast<flows::Martian>(i);
    martian[flows::martian_name(m)] = ts.martians[m] + us.martians[m] + is.martians[m];
  }
  j["drops"] = {
      {"malformed", malformed},
      {"martian", martian},
      {"no_data_path", ds.no_data_path},
      {"tx_full", ds.tx_full + tapio.tx().no_buffer()},
      {"tap_read_errors", es.read_errors},
      {"dns_disabled", ds.dns_disabled},
      {"udp_send_errors", us.send_errors},
      {"udp_refused", us.refused},
      {"udp_socket_errors", us.socket_errors},
      {"udp_table_full", us.table_full},
      {"udp_unreachable", us.unreachable},
      {"udp_too_big", us.too_big},
      {"icmp_prohibited", is.prohibited},
      {"icmp_unreachable", is.unreachable},
      {"icmp_socket_errors", is.socket_errors},
      {"icmp_table_full", is.table_full},
      {"tcp_refused", ts.refused},
      {"tcp_unreachable", ts.unreachable},
      {"tcp_table_full", ts.table_full},
      {"tcp_socket_errors", ts.socket_errors},
      {"tcp_out_of_order", ts.out_of_order},
      {"tcp_no_flow", ts.no_flow},
      {"tcp_bad_checksum", ts.bad_checksum},
      {"tcp_bad_segment", ts.bad_segment},
      {"tcp_timeouts", ts.timeouts},
      {"tcp_window_timeouts", ts.window_timeouts},
      {"tcp_resets_to_guest", ts.resets_to_guest},
      {"tcp_resets_from_guest", ts.resets_from_guest},
      {"forward_tcp_refused", fs.tcp_refused},
      {"forward_accept_errors", fs.accept_errors},
      {"forward_udp_dropped", fs.udp_dropped},
      {"forward_recv_errors", fs.recv_errors},
  };
  if (dns != nullptr) {
    const dns::DnsStatsSnapshot d = dns->snapshot();
    json ups = json::array();
    for (const auto& u : d.upstreams) {
      ups.push_back({{"address", u.address},
                     {"queries", u.queries},
                     {"replies", u.replies},
                     {"timeouts", u.timeouts},
                     {"loops", u.loops},
                     {"latency_us", u.latency_us},
                     {"healthy", u.healthy},
                     {"looping", u.looping}});
    }
    j["dns"] = {{"queries", d.queries},
                {"cache_hits", d.cache_hits},
                {"cache_misses", d.cache_misses},
                {"cache_entries", d.cache_entries},
                {"builtin", d.builtin},
                {"upstream_queries", d.upstream_queries},
                {"coalesced", d.coalesced},
                {"timeouts", d.timeouts},
                {"servfail", d.servfail},
                {"formerr", d.formerr},
                {"dropped", d.dropped},
                {"loops", d.loops},
                {"tcp_retries", d.tcp_retries},
                {"tcp_streams", d.tcp_streams},
                {"tcp_streams_total", d.tcp_streams_total},
                {"upstreams", ups}};
  }
  if (api != nullptr) {
    const auto& a = api->stats();
    j["api"] = {{"clients", api->clients()}, {"accepted", a.accepted},
                {"requests", a.requests},    {"busy", a.busy},
                {"timeouts", a.timeouts},    {"too_large", a.too_large},
                {"refused", a.refused}};
  }
  return j;
}

}  // namespace

int serve(ns::Attached& tap, const ServeConfig& cfg, const services::ServiceConfig& services,
          ServeStats& out_stats) {
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
  std::optional<PcapTap> pcap;
  if (!cfg.pcap_path.empty()) {
    auto w = wire::PcapWriter::create(cfg.pcap_path.c_str());
    if (!w) {
      LOG_ERROR("cannot create --pcap file %s: %s", cfg.pcap_path.c_str(), w.error().message().c_str());
      return 1;
    }
    pcap.emplace(std::move(*w));
  }

  // Watch order is the switch below.
  enum Watch : size_t { kSignal = 0, kPid = 1, kExit = 2 };
  tap::TapIoConfig tc;
  tc.tap_fd = tap.fd.get();
  tc.vnet_hdr_len = tap.vnet_hdr_len;
  loop::EngineConfig ec;
  ec.routed_in_flight = tc.tx_slots;
  ec.watch_fds = {sigfd.get(), pidfd, cfg.exit_fd};
  // One watch per flow socket (TCP, UDP, ping), plus DNS and the API.
  ec.socket_slots =
      static_cast<uint32_t>(cfg.max_tcp_flows + cfg.max_udp_flows + cfg.max_icmp_flows + 4096);

  // Declared before the engine: its sockets are closed only after the
  // engine's shutdown() saw every submission on them complete.
  std::optional<dns::DnsService> dns;
  flows::KernelDatagramHost datagram_host;
  flows::UdpFlows udp(flows::NatConfig{services.plan, cfg.disable_host_loopback}, cfg.max_udp_flows,
                      datagram_host);
  flows::IcmpEchoFlows echo(flows::NatConfig{services.plan, cfg.disable_host_loopback},
                            cfg.max_icmp_flows, datagram_host);
  // SO_PEEK_OFF on TCP sockets (Linux 6.9): asked once; TAPIR_NO_PEEK_OFF=1
  // forces the fallback of older kernels (the test suites run both).
  const char* no_peek_off = std::getenv("TAPIR_NO_PEEK_OFF");
  const bool forced_fallback = no_peek_off != nullptr && std::strcmp(no_peek_off, "1") == 0;
  const bool peek_offset = !forced_fallback && flows::KernelTcpHost::tcp_peek_offset_supported();
  LOG_DEBUG("TCP: host data is peeked %s",
            peek_offset ? "with SO_PEEK_OFF"
            : forced_fallback
                ? "from the queue's head (no SO_PEEK_OFF: TAPIR_NO_PEEK_OFF=1)"
                : "from the queue's head (no SO_PEEK_OFF on this kernel, before 6.9)");
  flows::KernelTcpHost tcp_host(peek_offset);
  flows::TcpFlows tcp(flows::TcpConfig{flows::NatConfig{services.plan, cfg.disable_host_loopback},
                                     cfg.max_tcp_flows, cfg.outbound},
                     tcp_host);
  stack::ServiceDispatcher dispatcher(services);
  // Port forwarding: the guest's address and MAC as the services learnt them.
  flows::PortForwarder forwarder(services.plan, [&dispatcher] {
    return flows::GuestInfo{dispatcher.guest().mac, dispatcher.guest().ip4};
  });
  forwarder.set_udp(&udp);
  ForwardToTcp forward_tcp(tcp, dispatcher);
  forwarder.set_tcp(&forward_tcp);
  std::optional<ApiHandler> api_handler;
  std::unique_ptr<ApiServer> api;
  dispatcher.set_udp(&udp);
  dispatcher.set_tcp(&tcp);
  dispatcher.set_echo(&echo);
  if (cfg.dns) {
    dns.emplace(services.plan, *cfg.dns);
    dispatcher.set_dns(&*dns);
    tcp.set_streams(&*dns);  // guest TCP to the DNS address, port 53
  }
  auto engine = loop::Engine::create(ec, dispatcher);
  if (!engine) {
    LOG_ERROR("cannot start the engine: %s", engine.error().message().c_str());
    return 1;
  }
  auto tapio_or = tap::TapIo::create(tc, **engine, dispatcher);
  if (!tapio_or) {
    LOG_ERROR("cannot start the engine: %s", tapio_or.error().message().c_str());
    return 1;
  }
  tap::TapIo& tapio = **tapio_or;
  if (dns) dns->attach(**engine);
  udp.set_engine(engine->get());
  tcp.set_watcher(engine->get());
  if (pcap) tapio.set_frame_tap(&*pcap);
  echo.set_engine(engine->get());
  forwarder.set_engine(engine->get());
  for (const auto& r : cfg.publish) {
    if (auto id = forwarder.add(r); !id) {
      LOG_ERROR("cannot publish %s%s%s:%u/%s: %s", r.host_addr.v6 ? "[" : "",
                r.host_addr.to_string().c_str(), r.host_addr.v6 ? "]" : "", r.host_port,
                proto_name(r.proto), id.error().message().c_str());
      return 1;
    }
  }
  if (!cfg.api_socket.empty()) {
    api_handler.emplace(forwarder, services.plan, [&] {
      return collect_stats(tapio, dispatcher, tcp, udp, echo, dns ? &*dns : nullptr, forwarder,
                           api.get());
    });
    auto s = ApiServer::open(cfg.api_socket, *api_handler);
    if (!s) {
      LOG_ERROR("%s", s.error().c_str());
      return 1;
    }
    api = std::move(*s);
    if (!api->attach(**engine)) {
      LOG_ERROR("cannot watch the API socket: no engine slot");
      return 1;
    }
  }
  tapio.start();
  if (auto r = (*engine)->start(); !r) {
    LOG_ERROR("cannot start the engine: %s", r.error().message().c_str());
    return 1;
  }
  signal_ready(cfg.ready_fd);
  LOG_DEBUG("engine running on %s (io_uring %s, vnet header %zu, offloads %s)", tap.name.c_str(),
            (*engine)->ring_mode(), tap.vnet_hdr_len, tap.offloads.to_string().c_str());

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
    auto fired = (*engine)->run_until_watch();
    if (!fired) {
      LOG_ERROR("engine: %s", fired.error().message().c_str());
      code = 1;
      break;
    }
    if (*fired == tap::TapIo::kTapGone) {
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
    (*engine)->rearm_watch(kSignal);
  }

  (*engine)->shutdown();
  LOG_DEBUG("frames to the guest: %llu; %llu waited or were dropped for want of a transmit buffer",
            static_cast<unsigned long long>(tapio.tx().sent()),
            static_cast<unsigned long long>(tapio.tx().no_buffer()));
  out_stats.tcp_open_at_exit = tcp.size();
  tcp.close_all();
  const auto& ts = tcp.stats();
  out_stats.tcp_connections = ts.created;
  out_stats.tcp_bytes_to_host = ts.bytes_to_host;
  out_stats.tcp_bytes_to_guest = ts.bytes_to_guest;
  out_stats.tcp_resets_to_guest = ts.resets_to_guest;
  out_stats.tcp_retransmits = ts.retransmits + ts.fast_retransmits;
  LOG_DEBUG("tcp detail: %llu forwarded, %llu refused, %llu unreachable, %llu table full, "
            "%llu socket errors, %llu segments in, %llu data segments out, %llu timeouts rewinds, "
            "%llu fast rewinds, %llu partial sends, %llu out of order, %llu resets from the guest, "
            "%llu for no connection, %llu bad checksums, %llu invalid, %llu gave up, %llu window probes, "
            "%llu waited for a transmit buffer",
            static_cast<unsigned long long>(ts.forwarded), static_cast<unsigned long long>(ts.refused),
            static_cast<unsigned long long>(ts.unreachable), static_cast<unsigned long long>(ts.table_full),
            static_cast<unsigned long long>(ts.socket_errors), static_cast<unsigned long long>(ts.segments_in),
            static_cast<unsigned long long>(ts.segments_out), static_cast<unsigned long long>(ts.retransmits),
            static_cast<unsigned long long>(ts.fast_retransmits),
            static_cast<unsigned long long>(ts.partial_sends), static_cast<unsigned long long>(ts.out_of_order),
            static_cast<unsigned long long>(ts.resets_from_guest), static_cast<unsigned long long>(ts.no_flow),
            static_cast<unsigned long long>(ts.bad_checksum), static_cast<unsigned long long>(ts.bad_segment),
            static_cast<unsigned long long>(ts.timeouts), static_cast<unsigned long long>(ts.window_probes),
            static_cast<unsigned long long>(ts.tx_full));
  const auto& es = tapio.stats();
  const auto& ds = dispatcher.stats();
  out_stats.frames_in = es.frames_in;
  out_stats.bytes_in = es.bytes_in;
  out_stats.replies = ds.replies;
  out_stats.no_data_path = ds.no_data_path;
  out_stats.dropped = ds.drops.total() + es.drops.total();
  out_stats.dns_disabled = ds.dns_disabled;
  out_stats.udp_flows = udp.stats().created;
  out_stats.udp_to_host = udp.stats().to_host;
  out_stats.udp_to_guest = udp.stats().to_guest;
  if (dns) {
    const auto& fs = dns->forwarder().stats();
    out_stats.dns_queries = fs.queries;
    out_stats.dns_cache_hits = fs.cache_hits;
    out_stats.dns_upstream_queries = fs.upstream_queries;
    out_stats.dns_servfail = fs.servfail;
  }
  return code;
}

}  // namespace tapir::app
