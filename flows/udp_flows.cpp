#include "flows/udp_flows.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.hpp"
#include "flows/icmp_errors.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/proto.hpp"
#include "services/frame.hpp"

namespace tapir::flows {
namespace {

// Bound on datagrams read per readiness, so one busy flow cannot starve
// the others in the same batch of completions.
constexpr int kMaxReadsPerWake = 64;

}  // namespace

size_t UdpFlows::KeyHash::operator()(const UdpFlowKey& k) const noexcept {
  return hasher({FlowHasher::word(k.guest, 0), FlowHasher::word(k.guest, 1), FlowHasher::word(k.dst, 0),
                 FlowHasher::word(k.dst, 1),
                 (uint64_t{k.guest_port} << 32) | (uint64_t{k.dst_port} << 16) | (k.v6 ? 1u : 0u)});
}

UdpFlows::UdpFlows(NatConfig nat, size_t max_flows)
    : nat_(std::move(nat)),
      max_flows_(max_flows),
      index_(64) {}

UdpFlows::~UdpFlows() {
  // The engine may already be gone at exit; its shutdown() cancelled the polls.
  flows_.clear();
}

UdpFlows::Flow* UdpFlows::open_flow(const UdpFlowKey& key, const sockaddr_storage& to,
                                    socklen_t to_len, const wire::MacAddr& guest_mac, MonoTime now,
                                    uint64_t& id) {
  if (flows_.size() >= max_flows_) {
    ++stats_.table_full;
    static RateLimit rl(1, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now,
                 "UDP flow table full (%zu flows, --max-udp-flows): new flows refused",
                 flows_.size());
    return nullptr;
  }
  Fd fd(::socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd) {
    // ICMP errors for this flow's datagrams arrive on the error queue, to
    // be passed on to the guest (drain_errors).
    const int on = 1;
    if (to.ss_family == AF_INET6) {
      (void)::setsockopt(fd.get(), SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
    } else {
      (void)::setsockopt(fd.get(), SOL_IP, IP_RECVERR, &on, sizeof on);
    }
  }
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), to_len) < 0) {  // NOLINT
    ++stats_.socket_errors;
    static RateLimit rl(5, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "UDP flow: cannot open a host socket: %s",
                 strerrordesc_np(errno));
    return nullptr;
  }
  id = next_id_++;
  Flow f;
  f.key = key;
  f.fd = std::move(fd);
  f.guest_mac = guest_mac;
  f.last = now;
  f.watch = engine_->watch(f.fd.get(), POLLIN, *this, id);
  if (!f.watch.valid()) {
    ++stats_.socket_errors;
    return nullptr;
  }
  ++stats_.created;
  index_.emplace(key, id);
  return &flows_.emplace(id, std::move(f)).first->second;
}

void UdpFlows::send_to_host(Flow& f, wire::ConstBytes payload, MonoTime now) {
  f.last = now;
  ssize_t n;
  if (f.reverse()) {
    f.replied = true;
    n = ::sendto(f.listener.fd, payload.data(), payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr*>(&f.listener.client),  // NOLINT
                 f.listener.client_len);
  } else {
    n = ::send(f.fd.get(), payload.data(), payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (n >= 0) {
    ++stats_.to_host;
  } else if (errno == ECONNREFUSED) {
    ++stats_.refused;  // the previous datagram drew an ICMP port unreachable
  } else {
    ++stats_.send_errors;
  }
}

void UdpFlows::on_guest4(const wire::EthernetView& eth, const wire::Ipv4View& ip,
                         const wire::UdpView& udp, MonoTime now, loop::FrameSink& tx) {
  UdpFlowKey key;
  ip.source().store(wire::as_writable_bytes(key.guest), 0);
  ip.destination().store(wire::as_writable_bytes(key.dst), 0);
  key.guest_port = udp.source_port();
  key.dst_port = udp.destination_port();
  if (auto it = index_.find(key); it != index_.end()) {
    return send_to_host(flows_.at(it->second), udp.payload(), now);
  }
  sockaddr_storage to;
  socklen_t to_len = 0;
  Martian why{};
  switch (map_destination4(nat_, ip.destination(), key.dst_port, to, to_len, why)) {
    case MapResult::kHost: break;
    case MapResult::kUnreachable: {
      ++stats_.unreachable;
      wire::MutBytes out = tx.acquire();
      if (!out.empty()) {
        tx.send(build_icmp4_error(out, nat_.plan, eth.source(), ip, wire::icmp4_type::kDestUnreachable,
                                  wire::icmp4_unreach::kNet));
      }
      return;
    }
    case MapResult::kMartian: {
      stats_.martians.count(why);
      wire::MutBytes out = martian_answered(why) ? tx.acquire() : wire::MutBytes{};
      if (!out.empty()) {
        tx.send(build_icmp4_error(out, nat_.plan, eth.source(), ip,
                                  wire::icmp4_type::kDestUnreachable,
                                  wire::icmp4_unreach::kAdminProhibited));
      }
      return;
    }
    case MapResult::kLocal: return;
  }
  uint64_t id = 0;
  if (Flow* f = open_flow(key, to, to_len, eth.source(), now, id)) send_to_host(*f, udp.payload(), now);
}

void UdpFlows::on_guest6(const wire::EthernetView& eth, const wire::Ipv6View& ip,
                         const wire::UdpView& udp, MonoTime now, loop::FrameSink& tx) {
  UdpFlowKey key;
  key.v6 = true;
  key.guest = ip.source().octets;
  key.dst = ip.destination().octets;
  key.guest_port = udp.source_port();
  key.dst_port = udp.destination_port();
  if (auto it = index_.find(key); it != index_.end()) {
    return send_to_host(flows_.at(it->second), udp.payload(), now);
  }
  sockaddr_storage to;
  socklen_t to_len = 0;
  Martian why{};
  switch (map_destination6(nat_, ip.destination(), key.dst_port, to, to_len, why)) {
    case MapResult::kHost: break;
    case MapResult::kUnreachable: {
      ++stats_.unreachable;
      wire::MutBytes out = tx.acquire();
      if (!out.empty()) {
        tx.send(build_icmp6_error(out, nat_.plan, eth.source(), ip, wire::icmp6_type::kDestUnreachable,
                                  wire::icmp6_unreach::kNoRoute));
      }
      return;
    }
    case MapResult::kMartian: {
      stats_.martians.count(why);
      wire::MutBytes out = martian_answered(why) ? tx.acquire() : wire::MutBytes{};
      if (!out.empty()) {
        tx.send(build_icmp6_error(out, nat_.plan, eth.source(), ip,
                                  wire::icmp6_type::kDestUnreachable,
                                  wire::icmp6_unreach::kAdminProhibited));
      }
      return;
    }
    case MapResult::kLocal: return;
  }
  uint64_t id = 0;
  if (Flow* f = open_flow(key, to, to_len, eth.source(), now, id)) send_to_host(*f, udp.payload(), now);
}

// ICMP errors the host's kernel received for a flow (IP_RECVERR), passed
// on to the guest as if the gateway had sent them, quoting a datagram like
// the guest's: port unreachable becomes ECONNREFUSED on the guest's
// socket, "fragmentation needed" / "packet too big" carry the MTU.
void UdpFlows::drain_errors(Flow& f, loop::FrameSink& tx) {
  for (int i = 0; i < 8; ++i) {
    std::byte data[64];
    alignas(cmsghdr) std::byte control[256];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(f.fd.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
    const sock_extended_err* ee = nullptr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));  // NOLINT: the kernel's layout
      }
    }
    if (ee == nullptr) continue;
    uint8_t type = 0, code = 0;
    uint32_t info = 0;
    if (ee->ee_origin == SO_EE_ORIGIN_ICMP && !f.key.v6) {
      type = ee->ee_type;
      code = ee->ee_code;
      if (type != wire::icmp4_type::kDestUnreachable && type != wire::icmp4_type::kTimeExceeded) continue;
      if (code == wire::icmp4_unreach::kFragmentationNeeded) info = ee->ee_info;
    } else if (ee->ee_origin == SO_EE_ORIGIN_ICMP6 && f.key.v6) {
      type = ee->ee_type;
      code = ee->ee_code;
      if (type != wire::icmp6_type::kDestUnreachable && type != wire::icmp6_type::kPacketTooBig &&
          type != wire::icmp6_type::kTimeExceeded) {
        continue;
      }
      if (type == wire::icmp6_type::kPacketTooBig) info = ee->ee_info;
    } else {
      continue;  // local errors (EMSGSIZE) were already reported by send()
    }
    // The datagram the guest sent, as its stack will match it: its UDP header.
    std::array<std::byte, wire::kUdpHeaderLen> udp{};
    wire::MutBytes u(udp);
    wire::store_be16(u, 0, f.key.guest_port);
    wire::store_be16(u, 2, f.key.dst_port);
    wire::store_be16(u, 4, wire::kUdpHeaderLen);
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    const size_t len = build_icmp_error_for_flow(out, nat_.plan, f.guest_mac, f.key.v6, f.key.guest, f.key.dst,
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
  auto it = flows_.find(cookie);
  if (it == flows_.end()) return;  // closed meanwhile
  Flow& f = it->second;
  if ((revents & POLLERR) != 0 && !f.reverse()) drain_errors(f, tx);
  const size_t offset = f.key.v6 ? services::kUdp6PayloadOffset : services::kUdp4PayloadOffset;
  const size_t mtu_room = nat_.plan.mtu - (f.key.v6 ? 48 : 28);
  for (int i = 0; i < kMaxReadsPerWake; ++i) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;  // every transmit buffer busy: the next wake reads on
    const size_t room = std::min(out.size() - offset, mtu_room);
    const ssize_t n = ::recv(f.fd.get(), out.data() + offset, room, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      tx.cancel();
      if (errno == ECONNREFUSED) ++stats_.refused;
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
    size_t len;
    if (f.key.v6) {
      wire::Ipv6Addr src{f.key.dst}, dst{f.key.guest};
      len = services::finish_udp6(out, l2, src, dst, f.key.dst_port, f.key.guest_port,
                                  static_cast<size_t>(n), 64);
    } else {
      const auto src = wire::Ipv4Addr::load(wire::as_bytes(f.key.dst), 0);
      const auto dst = wire::Ipv4Addr::load(wire::as_bytes(f.key.guest), 0);
      len = services::finish_udp4(out, l2, src, dst, f.key.dst_port, f.key.guest_port,
                                  static_cast<size_t>(n));
    }
    tx.send(len);
    ++stats_.to_guest;
  }
}

void UdpFlows::from_listener(const UdpFlowKey& key, const wire::MacAddr& guest_mac,
                             const UdpListenerRef& from, wire::MutBytes out, size_t len,
                             MonoTime now, loop::FrameSink& tx) {
  Flow* f = nullptr;
  if (auto it = index_.find(key); it != index_.end()) {
    f = &flows_.at(it->second);
    // The client behind a mapped address may change (two loopback clients
    // with one port both appear as the gateway): replies go to the latest.
    if (f->reverse()) f->listener = from;
  } else if (flows_.size() >= max_flows_) {
    ++stats_.table_full;
    static RateLimit rl(1, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now,
                 "UDP flow table full (%zu flows, --max-udp-flows): forwarded datagram dropped",
                 flows_.size());
    tx.cancel();
    return;
  } else {
    const uint64_t id = next_id_++;
    Flow nf;
    nf.key = key;
    nf.guest_mac = guest_mac;
    nf.listener = from;
    f = &flows_.emplace(id, std::move(nf)).first->second;
    index_.emplace(key, id);
    ++stats_.reverse_created;
  }
  f->last = now;
  const services::L2Addrs l2{nat_.plan.gateway_mac, guest_mac};
  size_t frame_len;
  if (key.v6) {
    frame_len = services::finish_udp6(out, l2, wire::Ipv6Addr{key.dst}, wire::Ipv6Addr{key.guest},
                                      key.dst_port, key.guest_port, len, 64);
  } else {
    frame_len = services::finish_udp4(out, l2, wire::Ipv4Addr::load(wire::as_bytes(key.dst), 0),
                                      wire::Ipv4Addr::load(wire::as_bytes(key.guest), 0),
                                      key.dst_port, key.guest_port, len);
  }
  tx.send(frame_len);
  ++stats_.from_listener;
}

void UdpFlows::close_listener(uint32_t rule) {
  std::vector<uint64_t> ids;
  for (const auto& [id, f] : flows_) {
    if (f.reverse() && f.listener.rule == rule) ids.push_back(id);
  }
  for (uint64_t id : ids) close_flow(id);
}

void UdpFlows::close_flow(uint64_t id) {
  auto it = flows_.find(id);
  if (it == flows_.end()) return;
  if (engine_ != nullptr) engine_->unwatch(it->second.watch);
  index_.erase(it->second.key);
  flows_.erase(it);  // closes the socket; the engine's poll holds its own file reference
}

void UdpFlows::expire(MonoTime now) {
  std::vector<uint64_t> idle;
  for (const auto& [id, f] : flows_) {
    if (now - f.last >= (f.replied ? kStreamTimeout : kIdleTimeout)) idle.push_back(id);
  }
  for (uint64_t id : idle) {
    close_flow(id);
    ++stats_.expired;
  }
}

}  // namespace tapir::flows
