#include "flows/tcp_host.hpp"

#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>

namespace tapir::flows {
namespace {

ssize_t or_errno(ssize_t r) { return r < 0 ? -errno : r; }

void set_int(int fd, int level, int name, int value) {
  (void)::setsockopt(fd, level, name, &value, sizeof value);
}

}  // namespace

void make_urgent_data_inline(int fd) {
  set_int(fd, SOL_SOCKET, SO_OOBINLINE, 1);
}

bool KernelTcpHost::tcp_peek_offset_supported() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return false;
  const int zero = 0;
  const bool ok = ::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) == 0;
  ::close(fd);
  return ok;
}

int KernelTcpHost::connect(const sockaddr_storage& to, socklen_t to_len, const OutboundAddrs& out,
                           bool& in_progress) {
  in_progress = false;
  const int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return -errno;
  // The guest's own stack already decided when to send: do not delay its
  // segments a second time. Keepalive finds dead host peers of idle flows.
  set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
  make_urgent_data_inline(fd);
  int r = 0;
  if (to.ss_family == AF_INET && out.v4) {
    set_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    r = ::bind(fd, reinterpret_cast<const sockaddr*>(&*out.v4), sizeof *out.v4);  // NOLINT
  } else if (to.ss_family == AF_INET6 && out.v6) {
    set_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    r = ::bind(fd, reinterpret_cast<const sockaddr*>(&*out.v6), sizeof *out.v6);  // NOLINT
  }
  if (r == 0) r = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len);  // NOLINT
  if (r < 0 && errno == EINPROGRESS) {
    in_progress = true;
  } else if (r < 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

int KernelTcpHost::connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

int KernelTcpHost::local_pair(int& ours, int& theirs) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return -errno;
  ours = sv[0];
  theirs = sv[1];
  return 0;
}

bool KernelTcpHost::set_peek_offset(int fd, size_t offset) {
  if (!use_peek_offset_) return false;
  const int v = static_cast<int>(offset);
  return ::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &v, sizeof v) == 0;
}

ssize_t KernelTcpHost::peek(int fd, void* scratch, size_t skip, void* buf, size_t len) {
  iovec iov[2] = {{scratch, skip}, {buf, len}};
  msghdr msg{};
  msg.msg_iov = skip == 0 ? &iov[1] : iov;
  msg.msg_iovlen = skip == 0 ? 1 : 2;
  return or_errno(::recvmsg(fd, &msg, MSG_PEEK | MSG_DONTWAIT));
}

ssize_t KernelTcpHost::consume(int fd, size_t len) {
  // MSG_TRUNC on a TCP socket discards instead of copying. An AF_UNIX
  // stream (local_pair, the DNS service's connections) has no such mode:
  // it fails with EFAULT and consumes nothing, so copy those bytes out.
  const ssize_t n = ::recv(fd, nullptr, len, MSG_TRUNC | MSG_DONTWAIT);
  if (n >= 0 || errno != EFAULT) return or_errno(n);
  std::byte sink[4096];
  size_t done = 0;
  while (done < len) {
    const ssize_t m = ::recv(fd, sink, std::min(len - done, sizeof sink), MSG_DONTWAIT);
    if (m <= 0) return done > 0 ? static_cast<ssize_t>(done) : or_errno(m);
    done += static_cast<size_t>(m);
  }
  return static_cast<ssize_t>(done);
}

ssize_t KernelTcpHost::send(int fd, const void* buf, size_t len) {
  return or_errno(::send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL));
}

TcpHost::SendRoom KernelTcpHost::send_room(int fd) {
  int sndbuf = 0;
  socklen_t l = sizeof sndbuf;
  int queued = 0;
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &l) < 0 || ::ioctl(fd, SIOCOUTQ, &queued) < 0) {
    return {};
  }
  // The kernel charges buffer overhead (skb truesize) against SO_SNDBUF:
  // keep an eighth in reserve so that what we advertise is accepted.
  const long room = static_cast<long>(sndbuf) - static_cast<long>(sndbuf) / 8 - queued;
  return {room > 0 ? static_cast<size_t>(room) : 0, static_cast<size_t>(sndbuf)};
}

void KernelTcpHost::shutdown_write(int fd) { (void)::shutdown(fd, SHUT_WR); }

void KernelTcpHost::close(int fd, bool reset) {
  if (reset) {
    linger l{1, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
}

}  // namespace tapir::flows
