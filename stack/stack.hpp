#pragma once
// One io_uring engine and everything it is made of, owned in one place:
// the loop (loop/engine), the tap's reader and writer (tap/tap_io), the
// dispatcher (stack/dispatch), the flows (TCP, UDP, ICMP echo), the DNS
// service (dns/io/service), the port forwarder, and the one record of what
// the guest is (services::GuestState: its MAC and the addresses it was
// seen using). The services learn into it (ARP, DHCP, NDP); port
// forwarding and the TCP translation (the MAC of a connection forwarded
// into the guest) read it, in the same place.
//
// Theory of operation. create() builds and wires the parts in the order
// their lifetimes need (the flows' sockets outlive the loop's shutdown();
// the loop outlives nobody who watches on it) and posts nothing. The
// Backend interface (stack/backend) then runs it. stop() shuts the loop
// down, keeps the counters as they are and closes every host socket.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/io/service.hpp"
#include "flows/icmp_echo_flows.hpp"
#include "flows/port_forward.hpp"
#include "flows/tcp_flows.hpp"
#include "flows/tcp_host.hpp"
#include "flows/udp_flows.hpp"
#include "loop/engine.hpp"
#include "services/guest_state.hpp"
#include "services/service_config.hpp"
#include "stack/backend.hpp"
#include "stack/counters.hpp"
#include "stack/dispatch.hpp"
#include "tap/tap_io.hpp"

namespace tapir::stack {

struct StackConfig {
  int tap_fd = -1;  // borrowed
  size_t vnet_hdr_len = 0;
  // The lifecycle fds run() returns on, by index; negative: not in use.
  std::vector<int> watch_fds;
  services::ServiceConfig services;
  std::optional<dns::DnsServiceConfig> dns;  // nullopt: --disable-dns
  bool disable_host_loopback = false;
  size_t max_udp_flows = 4096;
  size_t max_icmp_flows = 1024;
  size_t max_tcp_flows = 65536;
  flows::OutboundAddrs outbound;  // --outbound-addr[6]
  std::string pcap_path;          // --pcap; empty: none
};

class Stack final : public Backend {
 public:
  // The error is one line for the log ("cannot create --pcap file ...",
  // "cannot start the engine: ...").
  static Expected<std::unique_ptr<Stack>, std::string> create(const StackConfig& cfg);
  ~Stack() override;
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  Expected<void, std::string> start() override;
  Expected<size_t, std::string> run() override;
  void rearm(size_t watch) override;
  void stop() override;
  StatGroup stats() const override;
  flows::ForwardTable& port_forwards() override { return forwarder_; }
  loop::SocketWatcher& watcher() override { return *engine_; }
  std::string describe() const override;

  // Every counter now (after stop(): as at the stop).
  StackCounters counters() const;
  const services::GuestState& guest() const { return guest_; }

 private:
  Stack(const StackConfig& cfg, std::unique_ptr<tap::FrameTap> pcap, bool peek_offset);

  std::unique_ptr<tap::FrameTap> pcap_;
  services::GuestState guest_;  // before everything that reads it
  // Declared before the engine: their sockets are closed only after the
  // engine's shutdown() saw every submission on them complete.
  std::optional<dns::DnsService> dns_;
  flows::KernelDatagramHost datagram_host_;  // UDP and ping sockets
  flows::UdpFlows udp_;
  flows::IcmpEchoFlows echo_;
  flows::KernelTcpHost tcp_host_;
  flows::TcpFlows tcp_;
  ServiceDispatcher dispatcher_;
  flows::PortForwarder forwarder_;
  std::unique_ptr<loop::Engine> engine_;
  std::unique_ptr<tap::TapIo> tapio_;
  std::optional<StackCounters> at_stop_;
};

}  // namespace tapir::stack
