#include "flows/udp_flows.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "flows/icmp_errors.hpp"
#include "services/frame.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/proto.hpp"

namespace tapir::flows {
namespace {

// Bound on datagrams read per readiness, so one busy flow cannot starve
// the others in the same batch of completions.
constexpr int kMaxReadsPerWake = 64;

// A datagram to the guest from `src`:`sport`, its payload already at the
// UDP payload offset of `out` (services/frame.hpp) for src's family.
size_t finish_udp(wire::MutBytes out, const services::L2Addrs& l2, const wire::IpAddr& src,
                  const wire::IpAddr& dst, uint16_t sport, uint16_t dport, size_t len) {
  if (src.v6)
    return services::finish_udp6(out, l2, src.as_v6(), dst.as_v6(), sport, dport, len, 64);
  return services::finish_udp4(out, l2, src.as_v4(), dst.as_v4(), sport, dport, len);
}

size_t payload_offset(bool v6) {
  return v6 ? services::kUdp6PayloadOffset : services::kUdp4PayloadOffset;
}

}  // namespace

UdpFlows::UdpFlows(NatConfig nat, size_t max_flows, DatagramHost& host, uint64_t fixed_secret)
    : nat_(std::move(nat)),
      host_(host),
      table_(max_flows, fixed_secret != 0 ? FlowHasher(fixed_secret) : FlowHasher(),
             Duration::seconds(1)) {}

UdpFlows::~UdpFlows() {
  // The engine may already be gone at exit; its shutdown() cancelled the polls.
  table_.for_each([&](Flow& f) {
    if (f.fd >= 0) host_.close(f.fd);
  });
}

void UdpFlows::log_full(MonoTime now, const char* what) {
  ++stats_.table_full;
  static RateLimit rl(1, Duration::seconds(10));
  TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "UDP flow table full (%zu flows, --max-udp-flows): %s",
               table_.size(), what);
}

UdpFlows::Flow* UdpFlows::open_flow(const UdpFlowKey& key, const sockaddr_storage& to,
                                    socklen_t to_len, const wire::MacAddr& guest_mac,
                                    MonoTime now) {
  if (table_.full()) {
    log_full(now, "new flows refused");
    return nullptr;
  }
  const int fd = host_.open(to.ss_family, DatagramHost::Kind::kUdp);
  const int r = fd < 0 ? fd : host_.connect(fd, to, to_len);
  if (r < 0) {
    if (fd >= 0) host_.close(fd);
    ++stats_.socket_errors;
    static RateLimit rl(5, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "UDP flow: cannot open a host socket: %s",
                 strerrordesc_np(-r));
    return nullptr;
  }
  Flow* f = table_.insert(key);
  f->guest_mac = guest_mac;
  if (!activate_datagram_flow(table_, *f, fd, host_, *engine_, *this, now, kIdleTimeout)) {
    ++stats_.socket_errors;
    return nullptr;
  }
  ++stats_.created;
  return f;
}

void UdpFlows::send_to_host(Flow& f, wire::ConstBytes payload, MonoTime now) {
  f.last = now;
  ssize_t n;
  if (f.reverse()) {
    f.replied = true;
    n = host_.send_to(f.listener.fd, payload, f.listener.client, f.listener.client_len);
  } else {
    n = host_.send(f.fd, payload);
  }
  if (n >= 0) {
    ++stats_.to_host;
  } else if (n == -ECONNREFUSED) {
    ++stats_.refused;  // the previous datagram drew an ICMP port unreachable
  } else {
    ++stats_.send_errors;
  }
}

void UdpFlows::on_guest(const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx) {
  UdpFlowKey key;
  key.guest = p.src;
  key.dst = p.dst;
  key.guest_port = p.src_port;
  key.dst_port = p.dst_port;
  const wire::ConstBytes payload = p.udp->payload();
  const size_t h = table_.hash(key);
  if (Flow* f = table_.find(key, h)) return send_to_host(*f, payload, now);
  sockaddr_storage to;
  socklen_t to_len = 0;
  Martian why{};
  auto refuse = [&](Refusal r) {
    wire::MutBytes out = tx.acquire();
    if (!out.empty()) tx.send(build_refusal(out, nat_.plan, p, r));
  };
  switch (map_destination(nat_, key.dst, key.dst_port, to, to_len, why)) {
    case MapResult::kHost: break;
    case MapResult::kUnreachable: ++stats_.unreachable; return refuse(Refusal::kUnreachable);
    case MapResult::kMartian:
      stats_.martians.count(why);
      if (martian_answered(why)) refuse(Refusal::kProhibited);
      return;
    case MapResult::kLocal: return;
  }
  if (Flow* f = open_flow(key, to, to_len, p.eth.source(), now)) send_to_host(*f, payload, now);
}

// ICMP errors the host's kernel received for a flow (IP_RECVERR), passed
// on to the guest as if the gateway had sent them, quoting a datagram like
// the guest's: port unreachable becomes ECONNREFUSED on the guest's
// socket, "fragmentation needed" / "packet too big" carry the MTU.
void UdpFlows::drain_errors(Flow& f, loop::FrameSink& tx) {
  const UdpFlowKey& key = table_.key(f);
  for (int i = 0; i < 8; ++i) {
    HostIcmpError ee;
    if (host_.recv_error(f.fd, ee) < 0) return;
    const uint8_t type = ee.type, code = ee.code;
    uint32_t info = 0;
    if (ee.origin == HostIcmpError::Origin::kIcmp4 && !key.v6()) {
      if (type != wire::icmp4_type::kDestUnreachable && type != wire::icmp4_type::kTimeExceeded)
        continue;
      if (code == wire::icmp4_unreach::kFragmentationNeeded) info = ee.info;
    } else if (ee.origin == HostIcmpError::Origin::kIcmp6 && key.v6()) {
      if (type != wire::icmp6_type::kDestUnreachable && type != wire::icmp6_type::kPacketTooBig &&
          type != wire::icmp6_type::kTimeExceeded) {
        continue;
      }
      if (type == wire::icmp6_type::kPacketTooBig) info = ee.info;
    } else {
      continue;  // local errors (EMSGSIZE) were already reported by send()
    }
    // The datagram the guest sent, as its stack will match it: its UDP header.
    std::array<std::byte, wire::kUdpHeaderLen> udp{};
    wire::MutBytes u(udp);
    wire::store_be16(u, 0, key.guest_port);
    wire::store_be16(u, 2, key.dst_port);
    wire::store_be16(u, 4, wire::kUdpHeaderLen);
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    const size_t len = build_icmp_error_for_flow(out, nat_.plan, f.guest_mac, key.guest, key.dst,
                                                 wire::ipproto::kUdp, u, type, code, info);
    if (len == 0) {
      tx.cancel();
      continue;
    }
    tx.send(len);
    ++stats_.icmp_errors;
  }
}

void UdpFlows::on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) {
  Flow* fp = table_.by_cookie(cookie);
  if (fp == nullptr) return;  // closed meanwhile
  Flow& f = *fp;
  if (f.reverse()) return;  // reverse flows have no socket of their own
  if ((revents & POLLERR) != 0) drain_errors(f, tx);
  const UdpFlowKey& key = table_.key(f);
  const size_t offset = payload_offset(key.v6());
  const size_t mtu_room = nat_.plan.mtu - (key.v6() ? 48 : 28);
  for (int i = 0; i < kMaxReadsPerWake; ++i) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;  // every transmit buffer busy: the next wake reads on
    const size_t room = std::min(out.size() - offset, mtu_room);
    const ssize_t n = host_.recv(f.fd, out.subspan(offset, room));
    if (n < 0) {
      tx.cancel();
      if (n == -ECONNREFUSED) ++stats_.refused;
      return;  // EAGAIN: drained
    }
    if (static_cast<size_t>(n) > room) {
      tx.cancel();
      ++stats_.too_big;
      continue;
    }
    f.last = now;
    f.replied = true;
    const services::L2Addrs l2{nat_.plan.gateway_mac, f.guest_mac};
    tx.send(finish_udp(out, l2, key.dst, key.guest, key.dst_port, key.guest_port,
                       static_cast<size_t>(n)));
    ++stats_.to_guest;
  }
}

void UdpFlows::from_listener(const UdpFlowKey& key, const wire::MacAddr& guest_mac,
                             const UdpListenerRef& from, wire::MutBytes out, size_t len,
                             MonoTime now, loop::FrameSink& tx) {
  const size_t h = table_.hash(key);
  Flow* f = table_.find(key, h);
  if (f != nullptr) {
    // The client behind a mapped address may change (two loopback clients
    // with one port both appear as the gateway): replies go to the latest.
    if (f->reverse()) f->listener = from;
  } else if (table_.full()) {
    log_full(now, "forwarded datagram dropped");
    tx.cancel();
    return;
  } else {
    f = table_.insert(key, h);
    f->guest_mac = guest_mac;
    f->listener = from;
    table_.arm(*f, now + kIdleTimeout);
    ++stats_.reverse_created;
  }
  f->last = now;
  const services::L2Addrs l2{nat_.plan.gateway_mac, guest_mac};
  tx.send(finish_udp(out, l2, key.dst, key.guest, key.dst_port, key.guest_port, len));
  ++stats_.from_listener;
}

void UdpFlows::close_listener(uint32_t rule) {
  table_.for_each([&](Flow& f) {
    if (f.reverse() && f.listener.rule == rule) close_flow(f);
  });
}

void UdpFlows::close_flow(Flow& f) {
  if (f.fd >= 0) {
    if (engine_ != nullptr) engine_->unwatch(f.watch);
    host_.close(f.fd);  // the engine's poll holds its own file reference
  }
  table_.erase(f);
}

// Conntrack's timeouts: the deadline armed at creation is moved on while
// the flow is busy, and ends it once the flow was idle for its timeout.
void UdpFlows::expire(MonoTime now) {
  table_.expire(now, [&](Flow& f) {
    const MonoTime due = f.last + (f.replied ? kStreamTimeout : kIdleTimeout);
    if (due > now) return table_.arm(f, due);
    close_flow(f);
    ++stats_.expired;
  });
}

}  // namespace tapir::flows
