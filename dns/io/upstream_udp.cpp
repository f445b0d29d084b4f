// The upstream UDP socket pool of DnsService (service.hpp, "Upstream UDP
// sockets come from a pool per upstream"): taking a socket for a query,
// sending on it, draining its answers, giving it back or retiring it.
#include "dns/io/service.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "dns/io/sockaddr.hpp"

namespace tapir::dns {

void DnsService::drain_udp(uint64_t cookie, MonoTime now) {
  const uint32_t i = static_cast<uint32_t>(cookie) - kUdpBase;
  const auto generation = static_cast<uint32_t>(cookie >> 32);
  // Every datagram queued on the socket, until EAGAIN or until its query
  // ends (an accepted answer does); what is left waits for the next wakeup.
  while (i < udp_.size()) {
    UdpSocket& u = udp_[i];
    if (u.fd < 0 || u.generation != generation) return;
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(u.fd, rx_.data(), rx_.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);  // NOLINT
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // ECONNREFUSED (port unreachable) and the like: this upstream is not
      // answering. The forwarder closes the attempt, and with it the socket.
      ++stats_.recv_errors;
      if (u.busy) {
        forwarder_.on_attempt_error(u.attempt, now);
      } else {
        close_udp(static_cast<int32_t>(i));
      }
      return;
    }
    if (!u.busy) {
      // A duplicate of an answer already taken, or a stray: no query to match.
      ++stats_.udp_stray;
      continue;
    }
    const dns::AttemptRef ref = u.attempt;
    answering_ = static_cast<int32_t>(i);
    forwarder_.on_reply(ref, from_sockaddr(from), wire::ConstBytes(rx_).first(static_cast<size_t>(n)), now);
    answering_ = -1;
    if (!u.busy || !(u.attempt == ref)) return;  // answered: the query is over
  }
}

DnsService::UdpPool* DnsService::find_pool(const dns::Endpoint& to) {
  for (UdpPool& p : pools_) {
    if (p.to == to) return &p;
  }
  return nullptr;
}

int32_t DnsService::open_udp(const dns::Endpoint& to) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!to_sockaddr(to, ss, len)) {
    ++stats_.socket_errors;
    return -1;
  }
  if (udp_free_.empty()) {
    // Every entry holds a socket, and at most all but one are busy (one
    // per attempt, this one's not yet): close an idle one of another pool.
    for (UdpPool& p : pools_) {
      if (p.idle.empty()) continue;
      const uint32_t victim = p.idle.front();  // the least recently used
      p.idle.erase(p.idle.begin());
      close_udp(static_cast<int32_t>(victim));
      break;
    }
    if (udp_free_.empty()) {
      ++stats_.socket_errors;
      return -1;
    }
  }
  Fd fd(::socket(to.is_ipv6() ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // connect(): the kernel picks a random source port and filters replies to
  // this upstream's address and port.
  if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) < 0) {  // NOLINT
    ++stats_.socket_errors;
    static RateLimit limit(5, Duration::seconds(60));
    TAPIR_LOG_RL(LogLevel::kWarn, limit, mono_now(), "dns: cannot query %s: %s", to.to_string().c_str(),
                 strerrordesc_np(errno));
    return -1;
  }
  const uint32_t i = udp_free_.back();
  UdpSocket& u = udp_[i];
  const uint32_t generation = u.generation + 1;
  const loop::WatchHandle h =
      engine_->watch(fd.get(), POLLIN, *this, (uint64_t{generation} << 32) | (kUdpBase + i));
  if (!h.valid()) {
    ++stats_.socket_errors;
    return -1;
  }
  udp_free_.pop_back();
  u.fd = fd.release();
  u.generation = generation;
  u.watch = h;
  if (!(u.to == to)) u.to = to;
  u.uses = 0;
  u.born = mono_now();
  u.busy = false;
  ++stats_.udp_opened;
  return static_cast<int32_t>(i);
}

int32_t DnsService::take_udp(const dns::Endpoint& to, bool fresh) {
  UdpPool* pool = find_pool(to);
  if (pool == nullptr) {
    // The first query to this upstream (since its pool was last emptied).
    pools_.push_back(UdpPool{to, {}, 0});
    pools_.back().idle.reserve(udp_.size());
    pool = &pools_.back();
  }
  int32_t i = -1;
  if (!fresh && !pool->idle.empty()) {
    i = static_cast<int32_t>(pool->idle.back());
    pool->idle.pop_back();
    ++stats_.udp_reused;
  } else {
    i = open_udp(to);
    if (i < 0) return -1;
  }
  ++pool->busy;
  udp_[static_cast<size_t>(i)].busy = true;
  return i;
}

void DnsService::release_udp(int32_t i, bool clean) {
  UdpSocket& u = udp_[static_cast<size_t>(i)];
  u.busy = false;
  UdpPool* pool = find_pool(u.to);
  if (pool != nullptr && pool->busy > 0) --pool->busy;
  if (clean && pool != nullptr && u.uses < kUdpMaxUses && mono_now() - u.born < kUdpMaxAge) {
    pool->idle.push_back(static_cast<uint32_t>(i));
    return;
  }
  close_udp(i);
}

void DnsService::close_udp(int32_t i) {
  UdpSocket& u = udp_[static_cast<size_t>(i)];
  // unwatch() first: the engine submits the poll removal and forgets the fd.
  engine_->unwatch(u.watch);
  ::close(u.fd);
  u.fd = -1;
  u.watch = {};
  u.busy = false;
  udp_free_.push_back(static_cast<uint32_t>(i));
}

void DnsService::expire_udp(MonoTime now) {
  for (size_t p = 0; p < pools_.size();) {
    UdpPool& pool = pools_[p];
    // Oldest first in the idle list is the usual order, not a promise: check all.
    size_t keep = 0;
    for (const uint32_t i : pool.idle) {
      if (now - udp_[i].born >= kUdpMaxAge) {
        close_udp(static_cast<int32_t>(i));
      } else {
        pool.idle[keep++] = i;
      }
    }
    pool.idle.resize(keep);
    if (pool.idle.empty() && pool.busy == 0) {
      pools_.erase(pools_.begin() + static_cast<std::ptrdiff_t>(p));
    } else {
      ++p;
    }
  }
}

bool DnsService::send_query(dns::AttemptRef ref, const dns::Endpoint& to, wire::ConstBytes query) {
  if (engine_ == nullptr || ref.index >= sockets_.size()) return false;
  Socket& s = sockets_[ref.index];
  TAPIR_CHECK(s.fd < 0 && s.udp < 0);  // the forwarder closes an attempt before reusing it
  // A pooled socket first; if send() fails on it (an error it picked up
  // while idle), once more on a fresh one.
  for (bool fresh : {false, true}) {
    const int32_t i = take_udp(to, fresh);
    if (i < 0) return false;
    UdpSocket& u = udp_[static_cast<size_t>(i)];
    const bool reused = u.uses > 0;
    if (::send(u.fd, query.data(), query.size(), MSG_DONTWAIT) != static_cast<ssize_t>(query.size())) {
      const int err = errno;
      release_udp(i, false);
      if (reused) continue;
      ++stats_.socket_errors;
      static RateLimit limit(5, Duration::seconds(60));
      TAPIR_LOG_RL(LogLevel::kWarn, limit, mono_now(), "dns: cannot query %s: %s", to.to_string().c_str(),
                   strerrordesc_np(err));
      return false;
    }
    ++u.uses;
    u.attempt = ref;
    s.udp = i;
    s.generation = ref.generation;
    return true;
  }
  return false;
}

void DnsService::close_query(dns::AttemptRef ref) {
  if (ref.index >= sockets_.size()) return;
  Socket& s = sockets_[ref.index];
  if (s.generation != ref.generation) return;
  if (s.udp >= 0) {
    // Clean only if this query's own answer is what ends it.
    release_udp(s.udp, s.udp == answering_);
    s.udp = -1;
  }
  if (s.fd >= 0) close_socket(s);
}

}  // namespace tapir::dns
