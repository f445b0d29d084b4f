#include "flows/icmp_echo_flows.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "base/log.hpp"
#include "flows/icmp_errors.hpp"
#include "services/frame.hpp"
#include "wire/proto.hpp"

namespace tapir::flows {
namespace {

constexpr int kMaxReadsPerWake = 64;

}  // namespace

IcmpEchoFlows::IcmpEchoFlows(NatConfig nat, size_t max_flows, DatagramHost& host,
                             uint64_t fixed_secret)
    : nat_(std::move(nat)),
      host_(host),
      table_(max_flows, fixed_secret != 0 ? FlowHasher(fixed_secret) : FlowHasher(),
             Duration::seconds(1)) {}

IcmpEchoFlows::~IcmpEchoFlows() {
  // The engine may already be gone at exit; its shutdown() cancelled the polls.
  table_.for_each([&](Flow& f) { host_.close(f.fd); });
}

IcmpEchoFlows::Flow* IcmpEchoFlows::flow_for(const FlowKey& key, const sockaddr_storage& to,
                                             socklen_t to_len, const wire::MacAddr& mac,
                                             MonoTime now, bool& prohibited) {
  prohibited = false;
  const size_t h = table_.hash(key);
  if (Flow* f = table_.find(key, h)) return f;
  if (table_.full()) {
    ++stats_.table_full;
    static RateLimit rl(1, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now,
                 "ping flow table full (%zu flows, --max-icmp-flows): new pings dropped",
                 table_.size());
    return nullptr;
  }
  const int fd = host_.open(key.v6() ? AF_INET6 : AF_INET, DatagramHost::Kind::kPing);
  if (fd < 0) {
    if (fd == -EACCES || fd == -EPERM) {
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
  if (host_.connect(fd, to, to_len) < 0) {
    host_.close(fd);
    ++stats_.socket_errors;
    return nullptr;
  }
  Flow* f = table_.insert(key, h);
  f->guest_mac = mac;
  if (!activate_datagram_flow(table_, *f, fd, host_, *engine_, *this, now, kIdleTimeout)) {
    ++stats_.socket_errors;
    return nullptr;
  }
  ++stats_.created;
  return f;
}

// The whole echo request, ICMP header first, goes to the ping socket.
void IcmpEchoFlows::on_guest(const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx) {
  const uint8_t echo = p.v6() ? wire::icmp6_type::kEchoRequest : wire::icmp4_type::kEchoRequest;
  if (p.transport != wire::Transport::kIcmp || p.icmp_type != echo) return;
  FlowKey key;
  key.guest = p.src;
  key.dst = p.dst;
  key.guest_port = p.v6() ? p.icmp6->identifier() : p.icmp4->identifier();
  sockaddr_storage to;
  socklen_t to_len = 0;
  Martian why{};
  const MapResult m = map_destination(nat_, key.dst, 0, to, to_len, why);
  if (m == MapResult::kLocal) return;
  auto refuse = [&](Refusal r) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    tx.send(build_refusal(out, nat_.plan, p, r));
  };
  if (m == MapResult::kMartian) {
    stats_.martians.count(why);
    if (martian_answered(why)) refuse(Refusal::kProhibited);
    return;
  }
  if (m == MapResult::kUnreachable) {
    ++stats_.unreachable;
    return refuse(Refusal::kUnreachable);
  }
  bool prohibited = false;
  Flow* f = flow_for(key, to, to_len, p.eth.source(), now, prohibited);
  if (f == nullptr) {
    if (prohibited) {
      ++stats_.prohibited;
      refuse(Refusal::kProhibited);
    }
    return;
  }
  f->last = now;
  if (host_.send(f->fd, p.l4) >= 0) ++stats_.to_host;
}

void IcmpEchoFlows::on_socket(uint64_t cookie, unsigned /*revents*/, MonoTime now, loop::FrameSink& tx) {
  Flow* fp = table_.by_cookie(cookie);
  if (fp == nullptr) return;
  Flow& f = *fp;
  const FlowKey& key = table_.key(f);
  const bool v6 = key.v6();
  const size_t offset = v6 ? services::kL4v6Offset : services::kL4v4Offset;
  const size_t room_mtu = nat_.plan.mtu - (v6 ? wire::kIpv6HeaderLen : wire::kIpv4MinHeaderLen);
  for (int i = 0; i < kMaxReadsPerWake; ++i) {
    wire::MutBytes out = tx.acquire();
    if (out.empty()) return;
    const size_t room = std::min(out.size() - offset, room_mtu);
    const ssize_t n = host_.recv(f.fd, out.subspan(offset, room));
    if (n < static_cast<ssize_t>(wire::kIcmp4HeaderLen) || static_cast<size_t>(n) > room) {
      tx.cancel();
      if (n < 0) return;  // drained
      continue;           // runt or oversized: drop
    }
    f.last = now;
    wire::MutBytes msg = out.subspan(offset, static_cast<size_t>(n));
    wire::store_be16(msg, 4, key.guest_port);  // the guest's identifier, not the socket's
    const services::L2Addrs l2{nat_.plan.gateway_mac, f.guest_mac};
    size_t len;
    if (v6) {
      len = services::finish_icmp6(out, l2, key.dst.as_v6(), key.guest.as_v6(), 64,
                                   static_cast<size_t>(n));
    } else {
      wire::icmp4_fill_checksum(msg);
      len = services::finish_ipv4(out, l2, key.dst.as_v4(), key.guest.as_v4(), wire::ipproto::kIcmp,
                                  static_cast<size_t>(n));
    }
    tx.send(len);
    ++stats_.to_guest;
  }
}

void IcmpEchoFlows::expire(MonoTime now) {
  table_.expire(now, [&](Flow& f) {
    const MonoTime due = f.last + kIdleTimeout;
    if (due > now) return table_.arm(f, due);
    if (engine_ != nullptr) engine_->unwatch(f.watch);
    host_.close(f.fd);
    table_.erase(f);
    ++stats_.expired;
  });
}

}  // namespace tapir::flows
