#pragma once
// The frame dispatcher: what arrives from the guest goes to the responder
// that owns it (services/), and everything else is counted.
//
//   ARP                              -> services::arp_reply
//   IPv4 UDP to port 67              -> services::dhcp4_reply
//   ICMP echo to the gateway / DNS   -> services::icmp4_echo_reply
//   ICMPv6 echo to the gateway / DNS -> services::icmp6_echo_reply
//   NDP (RS, NS, NA, ...)            -> services::ndp_reply
//   IPv6 UDP to port 547             -> services::dhcp6_reply
//   UDP to the DNS address, port 53  -> dns::DnsService (dns/io/service), or counted
//                                       and dropped with --disable-dns
//   other UDP                        -> UdpFlows (flows/udp_flows): host sockets
//   echo requests to other hosts     -> IcmpEchoFlows (flows/icmp_echo_flows)
//   TCP                              -> TcpFlows (flows/tcp_flows), including
//                                       TCP to the DNS address
//                                       (the flows refuse martian destinations
//                                       — loopback, multicast, broadcast, ... —
//                                       through the NAT mapping, flows/nat.hpp,
//                                       and count them by reason)
//   every tick                       -> TCP timers; once a second the UDP and
//                                       ping flows expire and router
//                                       advertisements go out when due
//   anything else                    -> counted as "no_data_path" (no
//                                       translation for it: other protocols,
//                                       fragments)
//
// Malformed frames are dropped and counted by reason (ParseError), and a
// rate-limited debug line says why; one bad frame never affects the next.

#include <cstdint>
#include <random>
#include <vector>

#include "dns/io/service.hpp"
#include "flows/icmp_echo_flows.hpp"
#include "flows/tcp_flows.hpp"
#include "flows/udp_flows.hpp"
#include "loop/engine.hpp"
#include "services/guest_state.hpp"
#include "services/service_config.hpp"
#include "tap/tap_io.hpp"
#include "wire/parse_error.hpp"

namespace tapir::stack {

struct DispatchStats {
  uint64_t frames = 0;
  uint64_t replies = 0;
  uint64_t no_reply = 0;      // a service looked at it and had nothing to say
  uint64_t no_data_path = 0;  // nothing translates it: other protocols, fragments
  uint64_t gso_frames = 0;    // large segments: data-path traffic by definition
  uint64_t uso_frames = 0;    // of which UDP (UDP_SEGMENT), split into datagrams
  uint64_t tx_full = 0;       // a reply was dropped: every transmit buffer busy
  uint64_t dns_disabled = 0;  // DNS queries dropped: --disable-dns
  wire::DropCounters drops;
};

class ServiceDispatcher final : public tap::FrameHandler, public loop::LoopHandler {
 public:
  // `guest`: what the services learn about the guest (its owner's, the
  // stack's: stack/stack), outliving the dispatcher.
  ServiceDispatcher(services::ServiceConfig cfg, services::GuestState& guest)
      : cfg_(std::move(cfg)), state_(guest) {}

  void on_frame(wire::MutBytes frame, tap::FrameMeta& meta, MonoTime now,
                loop::FrameSink& tx) override;
  void on_tick(MonoTime now, loop::FrameSink& tx) override;
  void on_batch_end(MonoTime now, loop::FrameSink& tx) override;

  // The DNS forwarder for UDP to plan.dns4:53 / plan.dns6:53; nullptr
  // (--disable-dns): those datagrams are counted and dropped.
  void set_dns(dns::DnsService* dns) { dns_ = dns; }
  // UDP to everything else (unicast): NAT flows to host sockets; nullptr:
  // counted as no_data_path.
  void set_udp(flows::UdpFlows* udp) { udp_ = udp; }
  // Echo requests to other hosts: ping sockets; nullptr: no_data_path.
  void set_echo(flows::IcmpEchoFlows* echo) { echo_ = echo; }
  // Unicast TCP: the translation; nullptr: no_data_path.
  void set_tcp(flows::TcpFlows* tcp) { tcp_ = tcp; }

  const DispatchStats& stats() const { return stats_; }
  const services::GuestState& guest() const { return state_; }

 private:
  // Runs `reply` (a callable taking the output span) and sends its frame.
  // The services verify checksums, so a partial one in the frame being
  // handled is completed first — on this path only.
  template <class F>
  void respond(loop::FrameSink& tx, F&& reply);
  // `to_dns`: the datagrams go to the DNS service, else to the UDP flows.
  void udp_segments(size_t l4, wire::ConstBytes payload, uint16_t gso_size, MonoTime now,
                    loop::FrameSink& tx, bool to_dns = false);

  services::ServiceConfig cfg_;
  // The frame being handled (on_frame) and its metadata, for respond().
  wire::MutBytes frame_;
  tap::FrameMeta* meta_ = nullptr;
  dns::DnsService* dns_ = nullptr;
  flows::UdpFlows* udp_ = nullptr;
  flows::IcmpEchoFlows* echo_ = nullptr;
  flows::TcpFlows* tcp_ = nullptr;
  MonoTime next_second_{};
  services::GuestState& state_;
  DispatchStats stats_;
  std::vector<std::byte> uso_scratch_;  // one datagram of a UDP GSO frame to the DNS address
  uint32_t ra_sent_ = 0;
  MonoTime next_ra_{};
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace tapir::stack
