#pragma once
// The frame dispatcher: each frame from the guest is classified once
// (wire::classify, wire/guest_packet.hpp: every layer parsed once, IPv4 and
// IPv6 in one description), routed by the one table of stack/route.cpp (the
// first row that matches wins), then handed to its target:
//
//   ARP                                -> services::arp_reply
//   TCP to the DNS address, port 53    -> TcpFlows, as a stream to the DNS service
//   TCP                                -> TcpFlows (flows/tcp_flows)
//   UDP to the DNS address, port 53    -> dns::DnsService (dns/io/service), or counted
//                                         as dns_disabled with --disable-dns
//   IPv4 UDP to port 67 (DHCP on)      -> services::dhcp4_reply
//   IPv6 UDP to port 547 (DHCPv6 on)   -> services::dhcp6_reply
//   UDP                                -> UdpFlows (flows/udp_flows): host sockets
//   ICMPv6 RS, RA, NS, NA, Redirect    -> services::ndp_reply
//   ICMP to the gateway / DNS address  -> services::icmp4_echo_reply / icmp6_echo_reply
//   echo requests to other hosts       -> IcmpEchoFlows (flows/icmp_echo_flows)
//   anything else                      -> counted as "no_data_path" (no
//                                         translation for it: other protocols,
//                                         fragments, IPv6 without --enable-ipv6)
//
// The flows take no unspecified source, and refuse martian destinations —
// loopback, multicast, broadcast, ... — through the NAT mapping
// (flows/nat.hpp), counting them by reason. Segmentation-offload frames:
// TCP (TSO) goes to the flows whole; UDP (UDP_SEGMENT) to the DNS service or
// the flows is split into its datagrams first (wire/udp_gso.hpp), so each
// query in it is answered; DHCP and ARP take such a frame whole; nothing
// else takes one. A target that is not there (no DNS service, no flows)
// counts the frame as dns_disabled or no_data_path.
//
// Every tick: TCP timers; once a second the DNS service's, the UDP and ping
// flows expire, and router advertisements go out when due.
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
#include "stack/route.hpp"
#include "wire/guest_packet.hpp"
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
  // (--disable-dns): those datagrams are counted and dropped. (TCP to
  // those goes to the TCP flows' stream service, TcpFlows::set_streams.)
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
  // Whether `t` is there to take a frame; if not, the frame is counted.
  bool present(Target t);
  // Hands `p` to `t`, which is present().
  void deliver(Target t, const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx);
  // A UDP_SEGMENT frame to `t`, datagram by datagram (wire/udp_gso.hpp).
  void deliver_datagrams(Target t, const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx);

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
  std::vector<std::byte> uso_scratch_;  // one datagram of a UDP_SEGMENT frame
  uint32_t ra_sent_ = 0;
  MonoTime next_ra_{};
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace tapir::stack
