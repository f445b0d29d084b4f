#pragma once
// The host side of UDP flows and ICMP echo: the syscalls flows/udp_flows
// and flows/icmp_echo_flows make on their host sockets, behind an interface
// (as flows/tcp_host.hpp is for TCP) so that unit tests and the fuzz
// targets drive them without a kernel (tests/support/fake_datagram_host.hpp).
//
// Every call is non-blocking and returns -errno on failure.

#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "base/clock.hpp"
#include "loop/socket_watcher.hpp"
#include "wire/bytes.hpp"

namespace tapir::flows {

// One entry of a socket's error queue (IP_RECVERR / IPV6_RECVERR).
struct HostIcmpError {
  enum class Origin : uint8_t {
    kOther,  // a local error (EMSGSIZE, ...), already reported by send()
    kIcmp4,  // an ICMP message the host received for the socket's datagrams
    kIcmp6,
  };
  Origin origin = Origin::kOther;
  uint8_t type = 0;
  uint8_t code = 0;
  uint32_t info = 0;  // the next-hop MTU of "fragmentation needed" / "packet too big"
};

class DatagramHost {
 public:
  enum class Kind : uint8_t {
    kUdp,   // SOCK_DGRAM, with IP(V6)_RECVERR: ICMP errors come on the error queue
    kPing,  // an unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6)
  };
  virtual ~DatagramHost() = default;
  // A non-blocking socket of `family` (AF_INET, AF_INET6): the fd or -errno
  // (-EACCES / -EPERM for a ping socket outside net.ipv4.ping_group_range).
  virtual int open(int family, Kind kind) = 0;
  // 0 or -errno.
  virtual int connect(int fd, const sockaddr_storage& to, socklen_t to_len) = 0;
  // One datagram on a connected socket. A ping socket takes an ICMP echo
  // request (header and data) and puts its own identifier and checksum in.
  // Returns the bytes sent or -errno (-ECONNREFUSED: an earlier datagram
  // drew a port unreachable).
  virtual ssize_t send(int fd, wire::ConstBytes datagram) = 0;
  // One datagram to `to` on an unconnected socket (a forwarding rule's
  // listener, borrowed by a reverse flow).
  virtual ssize_t send_to(int fd, wire::ConstBytes datagram, const sockaddr_storage& to,
                          socklen_t to_len) = 0;
  // Reads one datagram into `buf`, as recv(MSG_TRUNC): returns its real
  // length, which exceeds `len` when it did not fit (the rest is lost);
  // -EAGAIN when none is queued. A ping socket returns the ICMP echo reply,
  // header first, carrying the socket's identifier, not the one sent.
  virtual ssize_t recv(int fd, wire::MutBytes buf) = 0;
  // Takes one entry off the error queue: 0, or -EAGAIN when it is empty.
  virtual int recv_error(int fd, HostIcmpError& out) = 0;
  virtual void close(int fd) = 0;
};

// The real thing: Linux syscalls.
class KernelDatagramHost final : public DatagramHost {
 public:
  int open(int family, Kind kind) override;
  int connect(int fd, const sockaddr_storage& to, socklen_t to_len) override;
  ssize_t send(int fd, wire::ConstBytes datagram) override;
  ssize_t send_to(int fd, wire::ConstBytes datagram, const sockaddr_storage& to,
                  socklen_t to_len) override;
  ssize_t recv(int fd, wire::MutBytes buf) override;
  int recv_error(int fd, HostIcmpError& out) override;
  void close(int fd) override;
};

// A flow just inserted (NEW, flows/flow_table.hpp) takes its connected host
// socket and becomes ACTIVE: the socket is watched for POLLIN with the
// flow's cookie and the idle deadline goes on the table's wheel. When the
// engine has no watch left, the socket is closed, the slot freed, and
// false returned. For UDP and ICMP echo flows, whose Flow has fd, last and
// watch.
template <class Table, class Flow>
bool activate_datagram_flow(Table& table, Flow& f, int fd, DatagramHost& host,
                            loop::SocketWatcher& watcher, loop::SocketClient& client,
                            MonoTime now, Duration idle) {
  f.fd = fd;
  f.last = now;
  f.watch = watcher.watch(fd, POLLIN, client, table.cookie(f));
  if (!f.watch.valid()) {
    host.close(fd);
    table.erase(f);
    return false;
  }
  table.arm(f, now + idle);
  return true;
}

}  // namespace tapir::flows
