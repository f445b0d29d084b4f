#include "flows/port_forward.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "flows/tcp_host.hpp"
#include "services/frame.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/proto.hpp"

namespace tapir::flows {
namespace {

// Bounds on the work one readiness may do, so a flood on one forwarded
// port cannot starve the tap and the other sockets in the same batch.
constexpr int kMaxAcceptsPerWake = 32;
constexpr int kMaxDatagramsPerWake = 64;

void reset_and_close(Fd conn) {
  // SO_LINGER 0: the client sees a reset (not an orderly close it would
  // mistake for an empty answer).
  linger lg{1, 0};
  ::setsockopt(conn.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

}  // namespace

std::string ForwardFailure::message() const {
  switch (error) {
    case ForwardError::kBadRule: return "bad rule";
    case ForwardError::kBind: return strerrordesc_np(errno_value);
    case ForwardError::kTableFull: return "too many forwarding rules";
  }
  return "unknown error";
}

wire::Ipv6Addr eui64_address(const wire::Ipv6Prefix& prefix, const wire::MacAddr& mac) {
  wire::Ipv6Addr a = prefix.network();
  const auto& m = mac.octets;
  a.octets[8] = m[0] ^ 0x02;  // the universal/local bit, inverted
  a.octets[9] = m[1];
  a.octets[10] = m[2];
  a.octets[11] = 0xff;
  a.octets[12] = 0xfe;
  a.octets[13] = m[3];
  a.octets[14] = m[4];
  a.octets[15] = m[5];
  return a;
}

PortForwarder::PortForwarder(const wire::AddressPlan& plan, std::function<GuestInfo()> guest)
    : plan_(plan), guest_(std::move(guest)) {}

PortForwarder::~PortForwarder() {
  // The engine may be gone at exit; its shutdown() cancelled the polls.
  pending_.clear();
  rules_.clear();
}

IpAddr PortForwarder::guest_address(bool v6) const {
  const GuestInfo g = guest_ ? guest_() : GuestInfo{};
  if (!v6) return IpAddr::from(g.ip4.value_or(plan_.guest4));
  if (g.mac) return IpAddr::from(eui64_address(plan_.net6, *g.mac));
  return IpAddr::from(plan_.guest6);
}

bool PortForwarder::map_peer(const sockaddr_storage& client, bool guest_v6, IpAddr& addr,
                             uint16_t& port) const {
  bool loopback = false;
  bool v6 = false;
  if (client.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&client);  // NOLINT
    port = ntohs(sin->sin_port);
    addr = IpAddr::from(wire::Ipv4Addr{ntohl(sin->sin_addr.s_addr)});
    loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
  } else if (client.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&client);  // NOLINT
    port = ntohs(sin6->sin6_port);
    wire::Ipv6Addr a;
    std::memcpy(a.octets.data(), &sin6->sin6_addr, 16);
    addr = IpAddr::from(a);
    v6 = true;
    loopback = a.is_loopback();
  } else {
    return false;
  }
  if (loopback || v6 != guest_v6) {
    addr = guest_v6 ? IpAddr::from(plan_.gateway6) : IpAddr::from(plan_.gateway4);
  }
  return true;
}

Expected<uint32_t, ForwardFailure> PortForwarder::add(const ForwardRule& rule) {
  if (rule.host_port == 0 || rule.guest_port == 0) return unexpected(ForwardFailure{});
  if (rule.guest_addr && rule.guest_addr->v6 != rule.guest_v6) return unexpected(ForwardFailure{});
  if (rule.guest_v6 && !plan_.ipv6) return unexpected(ForwardFailure{});
  if (rules_.size() >= kMaxRules) return unexpected(ForwardFailure{ForwardError::kTableFull, 0});

  const bool udp = rule.proto == FwdProto::kUdp;
  const int family = rule.host_addr.v6 ? AF_INET6 : AF_INET;
  Fd fd(::socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return unexpected(ForwardFailure{ForwardError::kBind, errno});
  const int one = 1;
  if (!udp) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // [::] means IPv6 only: 0.0.0.0 is a rule of its own.
  if (rule.host_addr.v6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (rule.host_addr.v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);  // NOLINT
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(rule.host_port);
    std::memcpy(&sin6->sin6_addr, rule.host_addr.bytes.data(), 16);
    len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);  // NOLINT
    sin->sin_family = AF_INET;
    sin->sin_port = htons(rule.host_port);
    std::memcpy(&sin->sin_addr, rule.host_addr.bytes.data(), 4);
    len = sizeof(sockaddr_in);
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) < 0 ||  // NOLINT
      (!udp && ::listen(fd.get(), SOMAXCONN) < 0)) {
    return unexpected(ForwardFailure{ForwardError::kBind, errno});
  }
  const uint32_t id = next_id_;
  Rule r;
  r.rule = rule;
  r.fd = std::move(fd);
  if (engine_ != nullptr) {
    r.watch = engine_->watch(r.fd.get(), POLLIN, *this, id);
    if (!r.watch.valid()) return unexpected(ForwardFailure{ForwardError::kTableFull, 0});
  }
  ++next_id_;
  rules_.emplace(id, std::move(r));
  LOG_DEBUG("forwarding %s %s:%u to %s:%u (rule %u)", udp ? "udp" : "tcp",
            rule.host_addr.to_string().c_str(), rule.host_port,
            rule.guest_addr ? rule.guest_addr->to_string().c_str() : "the guest", rule.guest_port,
            id);
  return id;
}

bool PortForwarder::remove(uint32_t id) {
  auto it = rules_.find(id);
  if (it == rules_.end()) return false;
  if (engine_ != nullptr) engine_->unwatch(it->second.watch);
  if (it->second.rule.proto == FwdProto::kUdp && udp_ != nullptr) udp_->close_listener(id);
  // The engine's poll keeps the socket open until its removal completes; a
  // listening TCP socket stops listening at shutdown(), so the port
  // refuses connections from this moment on.
  if (it->second.rule.proto == FwdProto::kTcp) ::shutdown(it->second.fd.get(), SHUT_RDWR);
  rules_.erase(it);
  return true;
}

std::vector<ForwardEntry> PortForwarder::list() const {
  std::vector<ForwardEntry> out;
  out.reserve(rules_.size());
  for (const auto& [id, r] : rules_) {
    out.push_back(
        {id, r.rule, r.rule.guest_addr ? *r.rule.guest_addr : guest_address(r.rule.guest_v6)});
  }
  return out;
}

void PortForwarder::on_socket(uint64_t cookie, unsigned /*revents*/, MonoTime now,
                              loop::FrameSink& tx) {
  if (cookie == kTimerCookie) return on_timer(now, tx);
  auto it = rules_.find(static_cast<uint32_t>(cookie));
  if (it == rules_.end()) return;  // removed meanwhile
  if (it->second.rule.proto == FwdProto::kTcp) {
    on_tcp(it->first, it->second, now, tx);
  } else {
    on_udp(it->first, it->second, now, tx);
  }
}

void PortForwarder::on_tcp(uint32_t /*id*/, Rule& r, MonoTime now, loop::FrameSink& tx) {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    sockaddr_storage client{};
    socklen_t len = sizeof client;
    Fd conn(::accept4(r.fd.get(), reinterpret_cast<sockaddr*>(&client), &len,  // NOLINT
                      SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
        ++stats_.accept_errors;
        static RateLimit rl(5, Duration::seconds(10));
        TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "forwarded port %u: accept: %s", r.rule.host_port,
                     strerrordesc_np(errno));
      }
      return;
    }
    make_urgent_data_inline(conn.get());  // like every host socket of a guest stream
    ForwardTarget t;
    if (!map_peer(client, r.rule.guest_v6, t.peer, t.peer_port)) {
      ++stats_.tcp_refused;
      reset_and_close(std::move(conn));
      continue;
    }
    t.guest = r.rule.guest_addr ? *r.rule.guest_addr : guest_address(r.rule.guest_v6);
    t.guest_port = r.rule.guest_port;
    ++stats_.tcp_accepted;
    if (tcp_ != nullptr && !(guest_ ? guest_() : GuestInfo{}).mac) {
      hold(std::move(conn), t, now, tx);
      continue;
    }
    if (tcp_ == nullptr) {
      ++stats_.tcp_refused;
      static RateLimit rl(1, Duration::seconds(10));
      TAPIR_LOG_RL(
          LogLevel::kWarn, rl, now,
          "forwarded port %u: TCP translation not available in this build: connection reset",
          r.rule.host_port);
      reset_and_close(std::move(conn));
      continue;
    }
    if (!tcp_->forward_tcp(std::move(conn), t, now, tx)) ++stats_.tcp_refused;
  }
}

void PortForwarder::hold(Fd conn, const ForwardTarget& t, MonoTime now, loop::FrameSink& tx) {
  if (pending_.size() >= kMaxPending || engine_ == nullptr) {
    ++stats_.tcp_refused;
    return reset_and_close(std::move(conn));
  }
  ++stats_.waited_for_mac;
  pending_.push_back({std::move(conn), t, now + kMacWait});
  solicit(t, now, tx);
  set_timer(true);
}

// The gateway asks who has the guest's IPv4 address; the answer teaches
// the services the guest's MAC (services/arp). An IPv6 guest announces
// itself (DAD, router solicitations) by itself.
void PortForwarder::solicit(const ForwardTarget& t, MonoTime now, loop::FrameSink& tx) {
  if (t.v6() || now < next_solicit_) return;
  next_solicit_ = now + Duration::seconds(1);
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  wire::EthernetRepr{wire::MacAddr::broadcast(), plan_.gateway_mac, wire::ethertype::kArp}.emit(
      out);
  wire::ArpRepr{wire::arp_op::kRequest, plan_.gateway_mac, plan_.gateway4, wire::MacAddr{},
                t.guest.as_v4()}
      .emit(out.subspan(wire::kEthernetHeaderLen));
  tx.send(wire::kEthernetHeaderLen + wire::ArpRepr::buffer_len());
}

void PortForwarder::set_engine(loop::SocketWatcher* e) {
  engine_ = e;
  if (engine_ != nullptr) open_timer();
}

void PortForwarder::open_timer() {
  if (timer_) return;
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (timer_) timer_watch_ = engine_->watch(timer_.get(), POLLIN, *this, kTimerCookie);
}

void PortForwarder::set_timer(bool on) {
  if (on == timer_on_) return;
  open_timer();  // (opened with the engine; again only if that failed)
  if (!timer_) return;
  itimerspec its{};
  if (on) {
    its.it_interval.tv_nsec = 50 * 1000 * 1000;
    its.it_value.tv_nsec = 50 * 1000 * 1000;
  }
  ::timerfd_settime(timer_.get(), 0, &its, nullptr);
  timer_on_ = on;
}

void PortForwarder::on_timer(MonoTime now, loop::FrameSink& tx) {
  uint64_t expirations;
  while (::read(timer_.get(), &expirations, sizeof expirations) > 0) {
  }
  const bool mac_known = (guest_ ? guest_() : GuestInfo{}).mac.has_value();
  std::vector<Pending> waiting;
  for (auto& p : pending_) {
    if (mac_known && tcp_ != nullptr) {
      if (!tcp_->forward_tcp(std::move(p.conn), p.target, now, tx)) ++stats_.tcp_refused;
    } else if (now >= p.deadline) {
      ++stats_.tcp_refused;
      static RateLimit rl(1, Duration::seconds(10));
      TAPIR_LOG_RL(LogLevel::kWarn, rl, now,
                   "forwarded connection reset: the guest did not answer ARP for its address");
      reset_and_close(std::move(p.conn));
    } else {
      waiting.push_back(std::move(p));
    }
  }
  pending_ = std::move(waiting);
  if (!pending_.empty()) solicit(pending_.front().target, now, tx);
  set_timer(!pending_.empty());
}

void PortForwarder::on_udp(uint32_t id, Rule& r, MonoTime now, loop::FrameSink& tx) {
  const bool v6 = r.rule.guest_v6;
  const size_t offset = v6 ? services::kUdp6PayloadOffset : services::kUdp4PayloadOffset;
  const size_t mtu_room = plan_.mtu - (v6 ? 48 : 28);
  for (int i = 0; i < kMaxDatagramsPerWake; ++i) {
    wire::MutBytes out = tx.acquire();
    sockaddr_storage client{};
    socklen_t clen = sizeof client;
    if (out.empty()) {
      // Every transmit buffer is busy: this datagram is lost (the listener
      // stays readable, so the next wake would spin on it otherwise).
      char sink;
      if (::recvfrom(r.fd.get(), &sink, 1, MSG_DONTWAIT, nullptr, nullptr) >= 0)
        ++stats_.udp_dropped;
      return;
    }
    const size_t room = std::min(out.size() - offset, mtu_room);
    const ssize_t n = ::recvfrom(r.fd.get(), out.data() + offset, room, MSG_DONTWAIT | MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&client), &clen);  // NOLINT
    if (n < 0) {
      tx.cancel();
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++stats_.recv_errors;
      return;
    }
    if (static_cast<size_t>(n) > room) {
      tx.cancel();
      ++stats_.udp_dropped;
      continue;
    }
    IpAddr peer;
    UdpFlowKey key;
    if (udp_ == nullptr || !map_peer(client, v6, peer, key.dst_port)) {
      tx.cancel();
      ++stats_.udp_dropped;
      continue;
    }
    key.dst = peer;
    key.guest = r.rule.guest_addr ? *r.rule.guest_addr : guest_address(v6);
    key.guest_port = r.rule.guest_port;
    const GuestInfo g = guest_ ? guest_() : GuestInfo{};
    // A guest that has not spoken yet has no known MAC: broadcast reaches
    // it, and its reply teaches us the address.
    const wire::MacAddr mac = g.mac.value_or(wire::MacAddr::broadcast());
    ++stats_.udp_datagrams;
    UdpListenerRef from{id, r.fd.get(), client, clen};
    udp_->from_listener(key, mac, from, out, static_cast<size_t>(n), now, tx);
  }
}

}  // namespace tapir::flows
