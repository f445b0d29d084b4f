#pragma once
// The host side of TCP translation: the syscalls flows/tcp_flows makes on
// its host sockets, behind an interface so that unit tests and the fuzz
// target can drive every state of the translation without a kernel.
//
// Every call is non-blocking and returns -errno on failure.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>

namespace tapir::flows {

// Source addresses for outgoing connections (--outbound-addr[6]).
struct OutboundAddrs {
  std::optional<sockaddr_in> v4;
  std::optional<sockaddr_in6> v6;
};

class TcpHost {
 public:
  virtual ~TcpHost() = default;
  // A non-blocking TCP socket connecting to `to` (bound to the outbound
  // address of its family if there is one). Returns the fd, with
  // `in_progress` true while the connect is still going on; or -errno.
  virtual int connect(const sockaddr_storage& to, socklen_t to_len, const OutboundAddrs& out,
                      bool& in_progress) = 0;
  // The outcome of a connect that was in progress: 0 or -errno (SO_ERROR).
  virtual int connect_result(int fd) = 0;
  // A connected stream pair for a local service (the DNS forwarder's TCP):
  // `ours` is used like a connected host socket, `theirs` goes to the
  // service. 0 or -errno.
  virtual int local_pair(int& ours, int& theirs) = 0;
  // Makes MSG_PEEK start at `offset` bytes into the receive queue. Returns
  // false if the socket cannot (Linux < 6.9 for TCP, or the test switch
  // TAPIR_NO_PEEK_OFF): peeks then always start at the queue's head, and
  // the caller skips what it already sent.
  virtual bool set_peek_offset(int fd, size_t offset) = 0;
  // recvmsg(MSG_PEEK) into two buffers, `skip` bytes into `scratch` first,
  // then up to `len` into `buf`: copies queued data without consuming it,
  // from the peek offset (which it advances) or, without one, from the
  // queue's head. Returns what the kernel returns: the bytes copied,
  // skipped ones included; 0 only when nothing is queued and the peer
  // finished (a queue holding only already-sent bytes returns them, at end
  // of stream too); -EAGAIN when nothing is queued. A read never copies
  // past the urgent mark once it copied something (the urgent byte itself
  // is data: KernelTcpHost sets SO_OOBINLINE), so it can come up short.
  virtual ssize_t peek(int fd, void* scratch, size_t skip, void* buf, size_t len) = 0;
  // Consumes up to `len` bytes the guest acknowledged (they were peeked
  // before). Like the kernel's MSG_TRUNC read, it stops short at the
  // urgent mark: the caller repeats until all are taken.
  virtual ssize_t consume(int fd, size_t len) = 0;
  virtual ssize_t send(int fd, const void* buf, size_t len) = 0;
  // Bytes the socket should accept now without blocking (a conservative
  // estimate: SO_SNDBUF less its overhead, minus SIOCOUTQ), and the size
  // of its send buffer (which the kernel grows as the connection needs).
  struct SendRoom {
    size_t room = 0;
    size_t buffer = 0;
  };
  virtual SendRoom send_room(int fd) = 0;
  virtual void shutdown_write(int fd) = 0;
  // Closes; `reset` makes the peer see a reset (SO_LINGER 0) rather than
  // the end of the stream.
  virtual void close(int fd, bool reset) = 0;
};

// The real thing: Linux syscalls. Every TCP socket it opens has
// SO_OOBINLINE set (so has each connection the port forwarder accepts):
// urgent data stays in the stream, where peeks and consumes count it.
class KernelTcpHost final : public TcpHost {
 public:
  // `use_peek_offset` false: set_peek_offset() always fails (the fallback
  // of kernels before 6.9, forced in tests with TAPIR_NO_PEEK_OFF=1).
  explicit KernelTcpHost(bool use_peek_offset = true) : use_peek_offset_(use_peek_offset) {}
  // Whether this kernel takes SO_PEEK_OFF on TCP sockets (Linux 6.9): asked
  // once at start, of a socket made for the question.
  static bool tcp_peek_offset_supported();
  int connect(const sockaddr_storage& to, socklen_t to_len, const OutboundAddrs& out,
              bool& in_progress) override;
  int connect_result(int fd) override;
  int local_pair(int& ours, int& theirs) override;
  bool set_peek_offset(int fd, size_t offset) override;
  ssize_t peek(int fd, void* scratch, size_t skip, void* buf, size_t len) override;
  ssize_t consume(int fd, size_t len) override;
  ssize_t send(int fd, const void* buf, size_t len) override;
  SendRoom send_room(int fd) override;
  void shutdown_write(int fd) override;
  void close(int fd, bool reset) override;

 private:
  bool use_peek_offset_;
};

// What the port forwarder and KernelTcpHost::connect() do to every host TCP
// socket that carries a guest's stream: urgent data stays inline (peeks skip
// an out-of-band byte otherwise, and the stream towards the guest loses it).
void make_urgent_data_inline(int fd);

}  // namespace tapir::flows
