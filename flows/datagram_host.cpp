#include "flows/datagram_host.hpp"

#include <linux/errqueue.h>
#include <unistd.h>

#include <cerrno>

namespace tapir::flows {
namespace {

ssize_t or_errno(ssize_t r) {
  return r < 0 ? -errno : r;
}

}  // namespace

int KernelDatagramHost::open(int family, Kind kind) {
  const int proto = kind == Kind::kUdp   ? 0
                    : family == AF_INET6 ? int{IPPROTO_ICMPV6}
                                         : int{IPPROTO_ICMP};
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return -errno;
  if (kind == Kind::kUdp) {
    // ICMP errors for this flow's datagrams arrive on the error queue, to
    // be passed on to the guest.
    const int on = 1;
    if (family == AF_INET6) {
      (void)::setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
    } else {
      (void)::setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof on);
    }
  }
  return fd;
}

int KernelDatagramHost::connect(int fd, const sockaddr_storage& to, socklen_t to_len) {
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len) < 0 ? -errno : 0;  // NOLINT
}

ssize_t KernelDatagramHost::send(int fd, wire::ConstBytes datagram) {
  return or_errno(::send(fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL));
}

ssize_t KernelDatagramHost::send_to(int fd, wire::ConstBytes datagram, const sockaddr_storage& to,
                                    socklen_t to_len) {
  return or_errno(::sendto(fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&to), to_len));  // NOLINT
}

ssize_t KernelDatagramHost::recv(int fd, wire::MutBytes buf) {
  return or_errno(::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC));
}

int KernelDatagramHost::recv_error(int fd, HostIcmpError& out) {
  std::byte data[64];
  alignas(cmsghdr) std::byte control[256];
  iovec iov{data, sizeof data};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return -errno;
  out = HostIcmpError{};
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
        (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
      const auto* ee =
          reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));  // NOLINT: the kernel's layout
      out.origin = ee->ee_origin == SO_EE_ORIGIN_ICMP    ? HostIcmpError::Origin::kIcmp4
                   : ee->ee_origin == SO_EE_ORIGIN_ICMP6 ? HostIcmpError::Origin::kIcmp6
                                                         : HostIcmpError::Origin::kOther;
      out.type = ee->ee_type;
      out.code = ee->ee_code;
      out.info = ee->ee_info;
    }
  }
  return 0;
}

void KernelDatagramHost::close(int fd) {
  ::close(fd);
}

}  // namespace tapir::flows
