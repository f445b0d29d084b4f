#include "stack/dispatch.hpp"

#include "base/log.hpp"
#include "services/arp.hpp"
#include "services/dhcp4.hpp"
#include "services/dhcp6.hpp"
#include "services/icmp_echo.hpp"
#include "services/ndp.hpp"
#include "wire/udp_gso.hpp"

namespace tapir::stack {

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
  if (meta.gso_size != 0) ++stats_.gso_frames;
  auto p = wire::classify(frame, {.gso_size = meta.gso_size, .ipv6 = cfg_.plan.ipv6});
  if (!p) return stats_.drops.count(p.error());
  const Route& r = route(*p, cfg_);
  if (!present(r.target)) return;
  if (r.gso == Route::Gso::kSplit && p->gso_size != 0) {
    return deliver_datagrams(r.target, *p, now, tx);
  }
  deliver(r.target, *p, now, tx);
}

bool ServiceDispatcher::present(Target t) {
  bool there = true;
  switch (t) {
    case Target::kDnsUdp:
      if (dns_ == nullptr) {
        ++stats_.dns_disabled;
        return false;
      }
      break;
    case Target::kUdpFlows: there = udp_ != nullptr; break;
    case Target::kDnsStream:
    case Target::kTcpFlows: there = tcp_ != nullptr; break;
    case Target::kEchoFlows: there = echo_ != nullptr; break;
    case Target::kNoDataPath: there = false; break;
    default: break;  // the services are always there
  }
  if (!there) ++stats_.no_data_path;
  return there;
}

void ServiceDispatcher::deliver(Target t, const wire::GuestPacket& p, MonoTime now,
                                loop::FrameSink& tx) {
  switch (t) {
    case Target::kArp:
      return respond(tx, [&](wire::MutBytes out) {
        return services::arp_reply(p.eth, *p.arp, cfg_, state_, now, out);
      });
    case Target::kDhcp4:
      return respond(tx, [&](wire::MutBytes out) {
        return services::dhcp4_reply(p.eth, *p.ip4, *p.udp, cfg_, state_, now, out);
      });
    case Target::kDhcp6:
      return respond(tx, [&](wire::MutBytes out) {
        return services::dhcp6_reply(p.eth, *p.ip6, *p.udp, cfg_, state_, now, out);
      });
    case Target::kNdp:
      return respond(tx, [&](wire::MutBytes out) {
        return services::ndp_reply(p.eth, *p.ip6, *p.icmp6, cfg_, state_, now, out);
      });
    case Target::kLocalEcho:
      return respond(tx, [&](wire::MutBytes out) {
        return p.v6() ? services::icmp6_echo_reply(p.eth, *p.ip6, *p.icmp6, cfg_, out)
                      : services::icmp4_echo_reply(p.eth, *p.ip4, *p.icmp4, cfg_, out);
      });
    case Target::kDnsUdp: return dns_->on_udp(p, now, tx);
    case Target::kDnsStream: return tcp_->on_guest(p, *meta_, true, now, tx);
    case Target::kTcpFlows: return tcp_->on_guest(p, *meta_, false, now, tx);
    case Target::kUdpFlows: return udp_->on_guest(p, now, tx);
    case Target::kEchoFlows: return echo_->on_guest(p, now, tx);
    case Target::kNoDataPath: return;
  }
}

// UDP segmentation offload from the guest (UDP_SEGMENT): every datagram in
// the frame has the frame's headers, so its route; each goes to the target
// as if sent alone, so that each query to the DNS address is answered.
void ServiceDispatcher::deliver_datagrams(Target t, const wire::GuestPacket& p, MonoTime now,
                                          loop::FrameSink& tx) {
  if (!wire::udp_gso_splittable(p)) {
    ++stats_.no_data_path;
    return;
  }
  ++stats_.uso_frames;
  if (uso_scratch_.empty()) uso_scratch_.resize(tap::kFrameBufLen);
  const auto err = wire::split_udp_gso(p, wire::MutBytes(uso_scratch_),
                                       [&](const wire::GuestPacket& d) { deliver(t, d, now, tx); });
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
