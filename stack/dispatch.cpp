#include "stack/dispatch.hpp"

#include "base/log.hpp"
#include "services/arp.hpp"
#include "services/dhcp4.hpp"
#include "services/dhcp6.hpp"
#include "services/icmp_echo.hpp"
#include "services/ndp.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"
#include "wire/udp_gso.hpp"

namespace tapir::stack {
namespace {

constexpr uint16_t kDhcpServerPort = 67;
constexpr uint16_t kDhcp6ServerPort = 547;

}  // namespace

template <class F>
void ServiceDispatcher::respond(loop::FrameSink& tx, F&& reply) {
  if (meta_ != nullptr) meta_->complete_checksum(frame_);
  wire::MutBytes out = tx.acquire();
  if (out.empty()) {
    ++stats_.tx_full;
    return;
  }
  const services::ServiceResult r = reply(out);
  if (!r) {
    stats_.drops.count(r.error());
    tx.cancel();
    return;
  }
  if (*r == 0) {
    ++stats_.no_reply;
    tx.cancel();
    return;
  }
  ++stats_.replies;
  tx.send(*r);
}

void ServiceDispatcher::on_frame(wire::MutBytes frame, tap::FrameMeta& meta, MonoTime now,
                                 loop::FrameSink& tx) {
  ++stats_.frames;
  frame_ = frame;
  meta_ = &meta;
  struct Clear {
    tap::FrameMeta*& m;
    ~Clear() { m = nullptr; }  // `meta` lives only for this call
  } clear{meta_};
  // Large segments (TSO) go to the TCP translation; nothing else should
  // come segmented (UDP segmentation offload is counted and dropped, below).
  if (meta.gso_size != 0) ++stats_.gso_frames;
  auto eth = wire::EthernetView::parse(frame);
  if (!eth) return stats_.drops.count(eth.error());

  switch (eth->ethertype()) {
    case wire::ethertype::kArp: {
      auto arp = wire::ArpView::parse(eth->payload());
      if (!arp) return stats_.drops.count(arp.error());
      return respond(tx, [&](wire::MutBytes out) {
        return services::arp_reply(*eth, *arp, cfg_, state_, now, out);
      });
    }
    case wire::ethertype::kIpv4: {
      auto ip = wire::Ipv4View::parse(eth->payload());
      if (!ip) return stats_.drops.count(ip.error());
      if (!ip->header_checksum_ok()) return stats_.drops.count(wire::ParseError::kBadChecksum);
      // No guest sends from these; a data path must not carry them to the
      // host (0.0.0.0 is left for DHCP, whose responder checks it).
      if (const wire::Ipv4Addr src = ip->source();
          src.is_loopback() || src.is_multicast() || src.is_broadcast()) {
        return stats_.drops.count(wire::ParseError::kMartianSource);
      }
      if (ip->is_fragment()) break;
      if (meta.gso_size != 0 && ip->protocol() != wire::ipproto::kTcp &&
          ip->protocol() != wire::ipproto::kUdp) {
        break;
      }
      if (ip->protocol() == wire::ipproto::kUdp) {
        auto udp = wire::UdpView::parse(ip->payload());
        if (!udp) return stats_.drops.count(udp.error());
        // DNS (dns/io/service).
        if (ip->destination() == cfg_.plan.dns4 && udp->destination_port() == dns::kDnsPort) {
          if (dns_ == nullptr) return static_cast<void>(++stats_.dns_disabled);
          // UDP_SEGMENT: several queries behind one header, each answered.
          if (meta.gso_size != 0) {
            return udp_segments(wire::kEthernetHeaderLen + ip->header_len(), udp->payload(),
                                meta.gso_size, now, tx, true);
          }
          return dns_->on_udp4(*eth, *ip, *udp, now, tx);
        }
        if (udp->destination_port() == kDhcpServerPort && cfg_.dhcp) {
          return respond(tx, [&](wire::MutBytes out) {
            return services::dhcp4_reply(*eth, *ip, *udp, cfg_, state_, now, out);
          });
        }
        // UDP flows (flows/udp_flows); the NAT mapping refuses martian
        // destinations (flows/nat.hpp), in that one place.
        if (udp_ != nullptr && !ip->source().is_unspecified()) {
          if (meta.gso_size != 0) {
            return udp_segments(wire::kEthernetHeaderLen + ip->header_len(), udp->payload(),
                                meta.gso_size, now, tx);
          }
          return udp_->on_guest4(*eth, *ip, *udp, now, tx);
        }
      } else if (ip->protocol() == wire::ipproto::kTcp) {
        auto tcp = wire::TcpView::parse(ip->payload());
        if (!tcp) return stats_.drops.count(tcp.error());
        if (tcp_ != nullptr && !ip->source().is_unspecified()) {
          return tcp_->on_guest4(*eth, *ip, *tcp, *meta_, now, tx);
        }
      } else if (ip->protocol() == wire::ipproto::kIcmp) {
        auto icmp = wire::Icmp4View::parse(ip->payload());
        if (!icmp) return stats_.drops.count(icmp.error());
        if (services::is_local_echo_target(ip->destination(), cfg_)) {
          return respond(tx, [&](wire::MutBytes out) {
            return services::icmp4_echo_reply(*eth, *ip, *icmp, cfg_, out);
          });
        }
        if (echo_ != nullptr && icmp->type() == wire::icmp4_type::kEchoRequest) {
          return echo_->on_guest4(*eth, *ip, *icmp, now, tx);
        }
      }
      break;
    }
    case wire::ethertype::kIpv6: {
      if (!cfg_.plan.ipv6) break;  // slirp4netns: no IPv6 unless asked
      auto ip = wire::Ipv6View::parse(eth->payload());
      if (!ip) return stats_.drops.count(ip.error());
      // :: is left for DAD and MLD, whose handlers know it.
      if (ip->source().is_loopback() || ip->source().is_multicast()) {
        return stats_.drops.count(wire::ParseError::kMartianSource);
      }
      if (ip->is_fragment()) break;
      if (meta.gso_size != 0 && ip->upper_protocol() != wire::ipproto::kTcp &&
          ip->upper_protocol() != wire::ipproto::kUdp) {
        break;
      }
      if (ip->upper_protocol() == wire::ipproto::kIcmpv6) {
        auto icmp = wire::Icmp6View::parse(ip->upper_payload());
        if (!icmp) return stats_.drops.count(icmp.error());
        const uint8_t type = icmp->type();
        if (type >= wire::icmp6_type::kRouterSolicitation && type <= wire::icmp6_type::kRedirect) {
          return respond(tx, [&](wire::MutBytes out) {
            return services::ndp_reply(*eth, *ip, *icmp, cfg_, state_, now, out);
          });
        }
        if (services::is_local_echo_target(ip->destination(), cfg_)) {
          return respond(tx, [&](wire::MutBytes out) {
            return services::icmp6_echo_reply(*eth, *ip, *icmp, cfg_, out);
          });
        }
        if (echo_ != nullptr && type == wire::icmp6_type::kEchoRequest) {
          return echo_->on_guest6(*eth, *ip, *icmp, now, tx);
        }
      } else if (ip->upper_protocol() == wire::ipproto::kTcp) {
        auto tcp = wire::TcpView::parse(ip->upper_payload());
        if (!tcp) return stats_.drops.count(tcp.error());
        if (tcp_ != nullptr && !ip->source().is_unspecified()) {
          return tcp_->on_guest6(*eth, *ip, *tcp, *meta_, now, tx);
        }
      } else if (ip->upper_protocol() == wire::ipproto::kUdp) {
        auto udp = wire::UdpView::parse(ip->upper_payload());
        if (!udp) return stats_.drops.count(udp.error());
        // DNS (dns/io/service).
        if (ip->destination() == cfg_.plan.dns6 && udp->destination_port() == dns::kDnsPort) {
          if (dns_ == nullptr) return static_cast<void>(++stats_.dns_disabled);
          if (meta.gso_size != 0) {
            // As for the UDP flows below: only the plain header.
            if (ip->next_header() != wire::ipproto::kUdp) break;
            return udp_segments(wire::kEthernetHeaderLen + wire::kIpv6HeaderLen, udp->payload(),
                                meta.gso_size, now, tx, true);
          }
          return dns_->on_udp6(*eth, *ip, *udp, now, tx);
        }
        if (udp->destination_port() == kDhcp6ServerPort && cfg_.dhcpv6) {
          return respond(tx, [&](wire::MutBytes out) {
            return services::dhcp6_reply(*eth, *ip, *udp, cfg_, state_, now, out);
          });
        }
        // UDP flows (flows/udp_flows); martian destinations: flows/nat.hpp.
        if (udp_ != nullptr && !ip->source().is_unspecified()) {
          if (meta.gso_size != 0) {
            // Only the plain header: no extension headers before UDP.
            if (ip->next_header() != wire::ipproto::kUdp) break;
            return udp_segments(wire::kEthernetHeaderLen + wire::kIpv6HeaderLen, udp->payload(),
                                meta.gso_size, now, tx);
          }
          return udp_->on_guest6(*eth, *ip, *udp, now, tx);
        }
      }
      break;
    }
    default: break;
  }
  ++stats_.no_data_path;
}

// UDP segmentation offload from the guest (UDP_SEGMENT): split into its
// datagrams (wire/udp_gso.hpp) by the UDP flows, or here for the DNS
// service, so that each query in the frame is answered.
void ServiceDispatcher::udp_segments(size_t l4, wire::ConstBytes payload, uint16_t gso_size,
                                     MonoTime now, loop::FrameSink& tx, bool to_dns) {
  ++stats_.uso_frames;
  std::optional<wire::ParseError> err;
  if (to_dns) {
    if (uso_scratch_.empty()) uso_scratch_.resize(tap::kFrameBufLen);
    err = wire::split_udp_gso(
        frame_, l4, payload, gso_size, wire::MutBytes(uso_scratch_),
        [&](const auto& eth, const auto& ip, const auto& udp) {
          if constexpr (std::is_same_v<std::decay_t<decltype(ip)>, wire::Ipv6View>) {
            dns_->on_udp6(eth, ip, udp, now, tx);
          } else {
            dns_->on_udp4(eth, ip, udp, now, tx);
          }
        });
  } else {
    err = udp_->on_guest_segmented(frame_, l4, payload, gso_size, now, tx);
  }
  if (err) stats_.drops.count(*err);
}

void ServiceDispatcher::on_batch_end(MonoTime now, loop::FrameSink& tx) {
  if (tcp_ != nullptr) tcp_->on_batch_end(now, tx);
}

void ServiceDispatcher::on_tick(MonoTime now, loop::FrameSink& tx) {
  if (tcp_ != nullptr) tcp_->on_tick(now, tx);
  // The rest needs a resolution of a second, not the tick's.
  if (now < next_second_) return;
  next_second_ = now + Duration::seconds(1);
  if (dns_ != nullptr) dns_->on_tick(now, tx);
  if (udp_ != nullptr) udp_->expire(now);
  if (echo_ != nullptr) echo_->expire(now);
  // Unsolicited router advertisements (RFC 4861 6.2.4): a few quickly at
  // start, then at a random interval between Min and MaxRtrAdvInterval.
  if (!cfg_.plan.ipv6 || !cfg_.ndp) return;
  if (ra_sent_ != 0 && now < next_ra_) return;
  respond(tx, [&](wire::MutBytes out) -> services::ServiceResult {
    return services::build_unsolicited_ra(cfg_, out);
  });
  ++ra_sent_;
  next_ra_ = now + services::unsolicited_ra_delay(ra_sent_, static_cast<uint32_t>(rng_()));
}

}  // namespace tapir::stack
