#include "stack/stack.hpp"

#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>

#include "base/log.hpp"
#include "wire/pcap.hpp"

namespace tapir::stack {
namespace {

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

// SO_PEEK_OFF on TCP sockets (Linux 6.9): asked once; TAPIR_NO_PEEK_OFF=1
// forces the fallback of older kernels (the test suites run both).
bool use_peek_offset() {
  const char* no_peek_off = std::getenv("TAPIR_NO_PEEK_OFF");
  const bool forced_fallback = no_peek_off != nullptr && std::strcmp(no_peek_off, "1") == 0;
  const bool peek_offset = !forced_fallback && flows::KernelTcpHost::tcp_peek_offset_supported();
  LOG_DEBUG("TCP: host data is peeked %s",
            peek_offset ? "with SO_PEEK_OFF"
            : forced_fallback
                ? "from the queue's head (no SO_PEEK_OFF: TAPIR_NO_PEEK_OFF=1)"
                : "from the queue's head (no SO_PEEK_OFF on this kernel, before 6.9)");
  return peek_offset;
}

}  // namespace

Stack::Stack(const StackConfig& cfg, std::unique_ptr<tap::FrameTap> pcap, bool peek_offset)
    : pcap_(std::move(pcap)),
      udp_(flows::NatConfig{cfg.services.plan, cfg.disable_host_loopback}, cfg.max_udp_flows,
           datagram_host_),
      echo_(flows::NatConfig{cfg.services.plan, cfg.disable_host_loopback}, cfg.max_icmp_flows,
            datagram_host_),
      tcp_host_(peek_offset),
      tcp_(flows::TcpConfig{flows::NatConfig{cfg.services.plan, cfg.disable_host_loopback},
                            cfg.max_tcp_flows, cfg.outbound},
           tcp_host_, guest_),
      dispatcher_(cfg.services, guest_),
      // Port forwarding: the guest's address and MAC as the services learnt them.
      forwarder_(cfg.services.plan,
                 [this] {
                   return flows::GuestInfo{guest_.mac, guest_.ip4};
                 }) {
  forwarder_.set_udp(&udp_);
  forwarder_.set_tcp(&tcp_);
  dispatcher_.set_udp(&udp_);
  dispatcher_.set_tcp(&tcp_);
  dispatcher_.set_echo(&echo_);
  if (cfg.dns) {
    dns_.emplace(cfg.services.plan, *cfg.dns);
    dispatcher_.set_dns(&*dns_);
    tcp_.set_streams(&*dns_);  // guest TCP to the DNS address, port 53
  }
}

Stack::~Stack() = default;

Expected<std::unique_ptr<Stack>, std::string> Stack::create(const StackConfig& cfg) {
  std::unique_ptr<tap::FrameTap> pcap;
  if (!cfg.pcap_path.empty()) {
    auto w = wire::PcapWriter::create(cfg.pcap_path.c_str());
    if (!w) {
      return unexpected("cannot create --pcap file " + cfg.pcap_path + ": " + w.error().message());
    }
    pcap = std::make_unique<PcapTap>(std::move(*w));
  }
  tap::TapIoConfig tc;
  tc.tap_fd = cfg.tap_fd;
  tc.vnet_hdr_len = cfg.vnet_hdr_len;
  loop::EngineConfig ec;
  ec.routed_in_flight = tc.tx_slots;
  ec.watch_fds = cfg.watch_fds;
  // One watch per flow socket (TCP, UDP, ping), plus DNS and the API.
  ec.socket_slots =
      static_cast<uint32_t>(cfg.max_tcp_flows + cfg.max_udp_flows + cfg.max_icmp_flows + 4096);

  std::unique_ptr<Stack> s(new Stack(cfg, std::move(pcap), use_peek_offset()));
  auto engine = loop::Engine::create(ec, s->dispatcher_);
  if (!engine) return unexpected("cannot start the engine: " + engine.error().message());
  s->engine_ = std::move(*engine);
  auto tapio = tap::TapIo::create(tc, *s->engine_, s->dispatcher_);
  if (!tapio) return unexpected("cannot start the engine: " + tapio.error().message());
  s->tapio_ = std::move(*tapio);
  if (s->dns_) s->dns_->attach(*s->engine_);
  s->udp_.set_engine(s->engine_.get());
  s->tcp_.set_watcher(s->engine_.get());
  if (s->pcap_) s->tapio_->set_frame_tap(s->pcap_.get());
  s->echo_.set_engine(s->engine_.get());
  s->forwarder_.set_engine(s->engine_.get());
  return s;
}

Expected<void, std::string> Stack::start() {
  tapio_->start();
  if (auto r = engine_->start(); !r) return unexpected(r.error().message());
  return {};
}

Expected<size_t, std::string> Stack::run() {
  auto fired = engine_->run_until_watch();
  if (!fired) return unexpected(fired.error().message());
  if (*fired == tap::TapIo::kTapGone) return kTapGone;
  return *fired;
}

void Stack::rearm(size_t watch) {
  engine_->rearm_watch(watch);
}

void Stack::stop() {
  engine_->shutdown();
  at_stop_ = counters();
  tcp_.close_all();
}

std::string Stack::describe() const {
  const loop::Ring& ring = engine_->ring();
  std::string d = std::string("io_uring ") + ring.setup_mode();
  if (ring.restricted()) {
    d += ", restricted to " + std::to_string(std::size(loop::kAllowedOps)) + " opcodes";
  } else {
    d += std::string(", unrestricted: ") + strerrordesc_np(ring.restrict_error());
  }
  return d;
}

StackCounters Stack::counters() const {
  if (at_stop_) return *at_stop_;
  StackCounters c;
  c.tap = tapio_->stats();
  c.tx_sent = tapio_->tx().sent();
  c.tx_bytes = tapio_->tx().bytes_sent();
  c.tx_no_buffer = tapio_->tx().no_buffer();
  c.dispatch = dispatcher_.stats();
  c.tcp = tcp_.stats();
  c.tcp_active = tcp_.size();
  c.udp = udp_.stats();
  c.udp_active = udp_.size();
  c.echo = echo_.stats();
  c.echo_active = echo_.size();
  c.echo_max = echo_.max_flows();
  c.forward = forwarder_.stats();
  c.forward_rules = forwarder_.size();
  if (dns_) c.dns = dns_->snapshot();
  return c;
}

StatGroup Stack::stats() const {
  return stats_table(counters());
}

}  // namespace tapir::stack
