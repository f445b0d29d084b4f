#include "flows/icmp_echo_flows.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.hpp"
#include "flows/icmp_errors.hpp"
#include "wire/proto.hpp"
#include "services/frame.hpp"

namespace tapir::flows {
namespace {

constexpr int kMaxReadsPerWake = 64;

}  // namespace

size_t IcmpEchoFlows::KeyHash::operator()(const Key& k) const noexcept {
  return hasher({FlowHasher::word(k.guest, 0), FlowHasher::word(k.guest, 1), FlowHasher::word(k.dst, 0),
                 FlowHasher::word(k.dst, 1), (uint64_t{k.id} << 1) | (k.v6 ? 1u : 0u)});
}

IcmpEchoFlows::Flow* IcmpEchoFlows::flow_for(const Key& key, const sockaddr_storage& to,
                                             socklen_t to_len, const wire::MacAddr& mac,
                                             MonoTime now, bool& prohibited) {
  prohibited = false;
  if (auto it = index_.find(key); it != index_.end()) return &flows_.at(it->second);
  if (flows_.size() >= max_flows_) {
    ++stats_.table_full;
    static RateLimit rl(1, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now,
                 "ping flow table full (%zu flows, --max-icmp-flows): new pings dropped",
                 flows_.size());
    return nullptr;
  }
  Fd fd(::socket(key.v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 key.v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}));
  if (!fd) {
    if (errno == EACCES || errno == EPERM) {
      prohibited = true;
      if (!told_prohibited_) {
        told_prohibited_ = true;
        LOG_WARN("ping sockets are not allowed for this group (net.ipv4.ping_group_range); "
                 "guest pings to other hosts get 'administratively prohibited'");
      }
    } else {
      ++stats_.socket_errors;
    }
    return nullptr;
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), to_len) < 0) {  // NOLINT
    ++stats_.socket_errors;
    return nullptr;
  }
  const uint64_t id = next_id_++;
  Flow f;
  f.key = key;
  f.fd = std::move(fd);
  f.guest_mac = mac;
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

void IcmpEchoFlows::on_guest4(const wire::EthernetView& eth, const wire::Ipv4View& ip,
                              const wire::Icmp4View& icmp, MonoTime now, loop::FrameSink& tx) {
  if (icmp.type() != wire::icmp4_type::kEchoRequest) return;
  Key key;
  ip.source().store(wire::as_writable_bytes(key.guest), 0);
  ip.destination().store(wire::as_writable_bytes(key.dst), 0);
  key.id = icmp.identifier();
  sockaddr_storage to;
  socklen_t to_len = 0;
  Martian why{};
  const MapResult m = map_destination4(nat_, ip.destination(), 0, to, to_len, why);
  if (m == MapResult::kLocal) return;
  auto answer = [&](uint8_t code) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    tx.send(build_icmp4_error(out, nat_.plan, eth.source(), ip, wire::icmp4_type::kDestUnreachable, code));
  };
  if (m == MapResult::kMartian) {
    stats_.martians.count(why);
    if (martian_answered(why)) answer(wire::icmp4_unreach::kAdminProhibited);
    return;
  }
  if (m == MapResult::kUnreachable) {
    ++stats_.unreachable;
    return answer(wire::icmp4_unreach::kNet);
  }
  bool prohibited = false;
  Flow* f = flow_for(key, to, to_len, eth.source(), now, prohibited);
  if (f == nullptr) {
    if (prohibited) {
      ++stats_.prohibited;
      answer(wire::icmp4_unreach::kAdminProhibited);
    }
    return;
  }
  f->last = now;
  const wire::ConstBytes msg = ip.payload();
  if (::send(f->fd.get(), msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) ++stats_.to_host;
}

void IcmpEchoFlows::on_guest6(const wire::EthernetView& eth, const wire::Ipv6View& ip,
                              const wire::Icmp6View& icmp, MonoTime now, loop::FrameSink& tx) {
  if (icmp.type() != wire::icmp6_type::kEchoRequest) return;
  Key key;
  key.v6 = true;
  key.guest = ip.source().octets;
  key.dst = ip.destination().octets;
  key.id = icmp.identifier();
  sockaddr_storage to;
  socklen_t to_len = 0;
  Martian why{};
  const MapResult m = map_destination6(nat_, ip.destination(), 0, to, to_len, why);
  if (m == MapResult::kLocal) return;
  auto answer = [&](uint8_t code) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    tx.send(build_icmp6_error(out, nat_.plan, eth.source(), ip, wire::icmp6_type::kDestUnreachable, code));
  };
  if (m == MapResult::kMartian) {
    stats_.martians.count(why);
    if (martian_answered(why)) answer(wire::icmp6_unreach::kAdminProhibited);
    return;
  }
  if (m == MapResult::kUnreachable) {
    ++stats_.unreachable;
    return answer(wire::icmp6_unreach::kNoRoute);
  }
  bool prohibited = false;
  Flow* f = flow_for(key, to, to_len, eth.source(), now, prohibited);
  if (f == nullptr) {
    if (prohibited) {
      ++stats_.prohibited;
      answer(wire::icmp6_unreach::kAdminProhibited);
    }
    return;
  }
  f->last = now;
  const wire::ConstBytes msg = ip.upper_payload();
  if (::send(f->fd.get(), msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) ++stats_.to_host;
}

void IcmpEchoFlows::on_socket(uint64_t cookie, unsigned /*revents*/, MonoTime now, loop::FrameSink& tx) {
  auto it = flows_.find(cookie);
  if (it == flows_.end()) return;
  Flow& f = it->second;
  const size_t offset = f.key.v6 ? services::kL4v6Offset : services::kL4v4Offset;
  const size_t room_mtu = nat_.plan.mtu - (f.key.v6 ? wire::kIpv6HeaderLen : wire::kIpv4MinHeaderLen);
  for (int i = 0; i < kMaxReadsPerWake; ++i) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    const size_t room = std::min(out.size() - offset, room_mtu);
    const ssize_t n = ::recv(f.fd.get(), out.data() + offset, room, MSG_DONTWAIT | MSG_TRUNC);
    if (n < static_cast<ssize_t>(wire::kIcmp4HeaderLen) || static_cast<size_t>(n) > room) {
      tx.cancel();
      if (n < 0) return;  // drained
      continue;           // runt or oversized: drop
    }
    f.last = now;
    wire::MutBytes msg = out.subspan(offset, static_cast<size_t>(n));
    wire::store_be16(msg, 4, f.key.id);  // the guest's identifier, not the socket's
    const services::L2Addrs l2{nat_.plan.gateway_mac, f.guest_mac};
    size_t len;
    if (f.key.v6) {
      len = services::finish_icmp6(out, l2, wire::Ipv6Addr{f.key.dst}, wire::Ipv6Addr{f.key.guest}, 64,
                                   static_cast<size_t>(n));
    } else {
      wire::icmp4_fill_checksum(msg);
      len = services::finish_ipv4(out, l2, wire::Ipv4Addr::load(wire::as_bytes(f.key.dst), 0),
                                  wire::Ipv4Addr::load(wire::as_bytes(f.key.guest), 0),
                                  wire::ipproto::kIcmp, static_cast<size_t>(n));
    }
    tx.send(len);
    ++stats_.to_guest;
  }
}

void IcmpEchoFlows::expire(MonoTime now) {
  std::vector<uint64_t> idle;
  for (const auto& [id, f] : flows_) {
    if (now - f.last >= kIdleTimeout) idle.push_back(id);
  }
  for (uint64_t id : idle) {
    auto it = flows_.find(id);
    if (engine_ != nullptr) engine_->unwatch(it->second.watch);
    index_.erase(it->second.key);
    flows_.erase(it);
    ++stats_.expired;
  }
}

}  // namespace tapir::flows
