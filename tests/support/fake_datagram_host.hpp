#pragma once
// A kernel-free stand-in for the host side of UDP flows and ICMP echo
// (flows/datagram_host.hpp): unit tests and the fuzz targets script replies,
// ICMP errors and failures through it.
//
// Each fd is a FakeDatagramSocket. It behaves as Linux's UDP and ping
// sockets do where tapir can tell:
// * recv() is recv(MSG_TRUNC): one datagram per call, cut to the buffer,
//   returning its real length; -EAGAIN on an empty queue.
// * A pending socket error (sk_err: what an ICMP port unreachable leaves on
//   a connected UDP socket) is returned, once, by the next send() or recv()
//   before any queued datagram, as udp_recvmsg / sock_error do.
// * An ICMP error also goes to the error queue (IP_RECVERR), read with
//   recv_error().
// * A ping socket (ping_v4_sendmsg / ping_v6_sendmsg) takes only an echo
//   request of at least the 8-byte header (-EINVAL otherwise), writes its
//   own identifier (its "port") over the one sent and, for ICMPv4, the
//   checksum; the replies it delivers carry that identifier.

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "flows/datagram_host.hpp"
#include "wire/bytes.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"

namespace tapir::testing {

struct FakeDatagramSocket {
  int family = 0;
  flows::DatagramHost::Kind kind = flows::DatagramHost::Kind::kUdp;
  bool connected = false;
  sockaddr_storage peer{};
  uint16_t ident = 0;                     // a ping socket's identifier on the wire
  std::deque<std::vector<std::byte>> rx;  // datagrams for tapir to read
  struct Queued {
    flows::HostIcmpError error;
    int err = 0;  // its errno (ee_errno)
  };
  std::deque<Queued> errors;                 // the error queue
  int pending_error = 0;                     // -errno (sk_err), reported once
  std::vector<std::vector<std::byte>> sent;  // what tapir sent, as the wire has it
  bool closed = false;
  bool borrowed = false;  // not opened here (a forwarding rule's listener)

  bool ping() const { return kind == flows::DatagramHost::Kind::kPing; }
  bool v6() const { return family == AF_INET6; }
};

class FakeDatagramHost final : public flows::DatagramHost {
 public:
  std::map<int, FakeDatagramSocket> sockets;
  int next_fd = 200;
  uint16_t next_ident = 0x4000;
  int open_error = 0;     // -errno: open() fails (-EACCES: ping_group_range)
  int connect_error = 0;  // -errno: connect() fails
  int double_closes = 0;  // close() of a closed or unknown fd: a bug in tapir

  FakeDatagramSocket& last() { return sockets.at(next_fd - 1); }
  size_t open_sockets() const {
    size_t n = 0;
    for (const auto& [fd, s] : sockets) n += (!s.closed && !s.borrowed) ? 1 : 0;
    return n;
  }

  // A datagram from the host peer.
  static void deliver(FakeDatagramSocket& s, wire::ConstBytes d) {
    s.rx.emplace_back(d.begin(), d.end());
  }
  // The peer's echo reply to the last request `s` sent: the request with
  // its type turned, carrying the socket's identifier, as the kernel hands
  // it over. False if there was none.
  static bool echo_reply(FakeDatagramSocket& s) {
    if (!s.ping() || s.sent.empty()) return false;
    std::vector<std::byte> r = s.sent.back();
    wire::MutBytes b(r);
    b[0] = std::byte{s.v6() ? wire::icmp6_type::kEchoReply : wire::icmp4_type::kEchoReply};
    if (!s.v6()) wire::icmp4_fill_checksum(b);
    s.rx.push_back(std::move(r));
    return true;
  }
  // An ICMP error from the network about `s`'s datagrams, as
  // __udp4_lib_err / __udp6_lib_err and ping_err take it. A UDP socket
  // (IP_RECVERR on) queues it and sets its socket error from it
  // (errno_of). A ping socket (no IP_RECVERR) queues nothing and sets the
  // error only for a "hard" one on its connected socket.
  static void icmp_error(FakeDatagramSocket& s, uint8_t type, uint8_t code, uint32_t info = 0) {
    const int err = errno_of(s.v6(), type, code);
    if (s.ping()) {
      if (hard(s.v6(), type, code) && s.connected) s.pending_error = -err;
      return;
    }
    flows::HostIcmpError e;
    e.origin = s.v6() ? flows::HostIcmpError::Origin::kIcmp6 : flows::HostIcmpError::Origin::kIcmp4;
    e.type = type;
    e.code = code;
    e.info = info;
    s.errors.push_back({e, err});
    s.pending_error = -err;
  }
  // A local error on the queue (ee_origin SO_EE_ORIGIN_LOCAL: EMSGSIZE).
  static void local_error(FakeDatagramSocket& s) {
    s.errors.push_back({flows::HostIcmpError{}, EMSGSIZE});
  }
  // The errno an ICMP error becomes (icmp_err_convert, icmpv6_err_convert).
  static int errno_of(bool v6, uint8_t type, uint8_t code) {
    if (v6) {
      if (type == wire::icmp6_type::kPacketTooBig) return EMSGSIZE;
      if (type == wire::icmp6_type::kDestUnreachable) {
        return code == wire::icmp6_unreach::kPort              ? ECONNREFUSED
               : code == wire::icmp6_unreach::kAdminProhibited ? EACCES
                                                               : EHOSTUNREACH;
      }
      return EHOSTUNREACH;
    }
    if (type != wire::icmp4_type::kDestUnreachable) return EHOSTUNREACH;
    switch (code) {
      case wire::icmp4_unreach::kNet: return ENETUNREACH;
      case wire::icmp4_unreach::kPort: return ECONNREFUSED;
      case wire::icmp4_unreach::kFragmentationNeeded: return EMSGSIZE;
      case wire::icmp4_unreach::kAdminProhibited: return EHOSTUNREACH;
      default: return EHOSTUNREACH;
    }
  }
  static bool hard(bool v6, uint8_t type, uint8_t code) {
    if (v6)
      return type == wire::icmp6_type::kDestUnreachable && code != wire::icmp6_unreach::kNoRoute;
    return type == wire::icmp4_type::kDestUnreachable &&
           (code == 2 || code == wire::icmp4_unreach::kPort || code == 9 || code == 10 ||
            code == wire::icmp4_unreach::kAdminProhibited);
  }

  int open(int family, Kind kind) override {
    if (open_error != 0) return open_error;
    if (family != AF_INET && family != AF_INET6) return -EAFNOSUPPORT;
    const int fd = next_fd++;
    FakeDatagramSocket& s = sockets[fd];
    s.family = family;
    s.kind = kind;
    if (kind == Kind::kPing) s.ident = next_ident++;
    return fd;
  }
  int connect(int fd, const sockaddr_storage& to, socklen_t to_len) override {
    FakeDatagramSocket* s = live(fd);
    if (s == nullptr) return -EBADF;
    if (connect_error != 0) return connect_error;
    if (to.ss_family != s->family || to_len == 0) return -EAFNOSUPPORT;
    s->peer = to;
    s->connected = true;
    return 0;
  }
  ssize_t send(int fd, wire::ConstBytes d) override {
    FakeDatagramSocket* s = live(fd);
    if (s == nullptr) return -EBADF;
    if (!s->connected) return -EDESTADDRREQ;
    if (const int e = take_error(*s)) return e;
    std::vector<std::byte> w(d.begin(), d.end());
    if (s->ping()) {
      const uint8_t request =
          s->v6() ? wire::icmp6_type::kEchoRequest : wire::icmp4_type::kEchoRequest;
      if (w.size() < 8 || static_cast<uint8_t>(w[0]) != request || w[1] != std::byte{0})
        return -EINVAL;
      wire::MutBytes b(w);
      wire::store_be16(b, 4, s->ident);
      if (!s->v6())
        wire::icmp4_fill_checksum(b);  // ICMPv6's is the stack's, over the pseudo-header
    }
    s->sent.push_back(std::move(w));
    return static_cast<ssize_t>(d.size());
  }
  ssize_t send_to(int fd, wire::ConstBytes d, const sockaddr_storage& to,
                  socklen_t to_len) override {
    auto it = sockets.find(fd);
    if (it == sockets.end()) {
      // A listener tapir did not open here (the port forwarder's).
      it = sockets.emplace(fd, FakeDatagramSocket{}).first;
      it->second.borrowed = true;
      it->second.family = to.ss_family;
    }
    if (it->second.closed) return -EBADF;
    if (to_len == 0) return -EDESTADDRREQ;
    it->second.peer = to;
    it->second.sent.emplace_back(d.begin(), d.end());
    return static_cast<ssize_t>(d.size());
  }
  ssize_t recv(int fd, wire::MutBytes buf) override {
    FakeDatagramSocket* s = live(fd);
    if (s == nullptr) return -EBADF;
    if (const int e = take_error(*s)) return e;
    if (s->rx.empty()) return -EAGAIN;
    const std::vector<std::byte> d = std::move(s->rx.front());
    s->rx.pop_front();
    const size_t n = std::min(buf.size(), d.size());
    if (n > 0) std::memcpy(buf.data(), d.data(), n);
    return static_cast<ssize_t>(d.size());  // MSG_TRUNC: the real length
  }
  int recv_error(int fd, flows::HostIcmpError& out) override {
    FakeDatagramSocket* s = live(fd);
    if (s == nullptr) return -EBADF;
    if (s->errors.empty()) return -EAGAIN;
    out = s->errors.front().error;
    s->errors.pop_front();
    // sock_dequeue_err_skb: the socket error becomes the next queued ICMP
    // error's, or none after the last.
    const bool next_icmp = !s->errors.empty() &&
                           s->errors.front().error.origin != flows::HostIcmpError::Origin::kOther;
    if (next_icmp) {
      s->pending_error = -s->errors.front().err;
    } else if (out.origin != flows::HostIcmpError::Origin::kOther) {
      s->pending_error = 0;
    }
    return 0;
  }
  void close(int fd) override {
    FakeDatagramSocket* s = live(fd);
    if (s == nullptr) {
      ++double_closes;
      return;
    }
    s->closed = true;
  }

 private:
  FakeDatagramSocket* live(int fd) {
    auto it = sockets.find(fd);
    return it == sockets.end() || it->second.closed ? nullptr : &it->second;
  }
  static int take_error(FakeDatagramSocket& s) {
    const int e = s.pending_error;
    s.pending_error = 0;
    return e;
  }
};

}  // namespace tapir::testing
