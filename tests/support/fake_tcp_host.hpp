#pragma once
// A kernel-free stand-in for the host side of TCP translation (TcpHost)
// and for the engine's socket watches (loop::SocketWatcher): unit tests and the
// fuzz target script every state of flows/tcp_flows through it.
//
// Each fd is a FakeSocket: a receive queue the test fills (what the host
// peer sent), with a peek offset like SO_PEEK_OFF; what tapir sent; room
// in its send buffer; and how it ended.
//
// Reads behave as Linux's tcp_recvmsg() does (checked against the kernel
// with a probe, see peek() and consume()): a peek without an offset starts
// at the queue's head; a queue that holds only bytes already peeked
// returns them again, also after the peer's FIN; 0 only from an empty
// queue at end of stream; a read that copied something stops at the urgent
// mark (SO_OOBINLINE: the urgent byte itself is read as data).

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loop/engine.hpp"
#include "flows/tcp_host.hpp"
#include "tests/support/fake_watcher.hpp"

namespace tapir::testing {

struct FakeSocket {
  bool connecting = true;   // connect() in progress
  int connect_error = 0;    // what connect_result() reports (0 or -errno)
  std::string rx;           // from the host peer, not yet consumed
  bool peek_off_set = false;  // SO_PEEK_OFF was set (the kernel's -1 otherwise)
  size_t peek_off = 0;
  std::optional<size_t> urgent;  // offset in rx of the urgent byte (the mark)
  bool eof = false;         // the peer finished sending
  int error = 0;            // -errno for the next recv/send (a reset peer)
  std::string sent;         // what tapir wrote
  size_t room = 1 << 20;    // send buffer space
  size_t buffer = 1 << 21;
  bool shut_wr = false;
  bool closed = false;
  bool reset = false;
  bool local = false;       // one end of local_pair()

  // The host peer sends `data` with MSG_OOB: its last byte is urgent, and
  // the mark moves there (a new one replaces an older one, as in Linux).
  void send_urgent(const std::string& data) {
    if (data.empty()) return;
    rx += data;
    urgent = rx.size() - 1;
  }
  // How many bytes a read from `start` may copy of `want`: no further than
  // the urgent mark once it copied something (tcp_recvmsg's "stop at
  // urgent data"); from the mark itself it reads on.
  size_t readable(size_t start, size_t want) const {
    size_t n = std::min(want, rx.size() - start);
    if (urgent && *urgent > start && *urgent < start + n) n = *urgent - start;
    return n;
  }
};

class FakeTcpHost final : public flows::TcpHost {
 public:
  std::map<int, FakeSocket> sockets;
  int next_fd = 100;
  int connect_immediate_error = 0;  // -errno: connect() fails at once
  bool immediate = false;           // connect() completes at once
  bool peek_offset_works = true;    // false: a kernel before 6.9
  size_t consumes = 0;              // consume() calls (short ones repeat)

  FakeSocket& last() { return sockets.at(next_fd - 1); }

  int connect(const sockaddr_storage&, socklen_t, const flows::OutboundAddrs&, bool& in_progress) override {
    if (connect_immediate_error != 0) return connect_immediate_error;
    const int fd = next_fd++;
    sockets[fd].connecting = !immediate;
    in_progress = !immediate;
    return fd;
  }
  int connect_result(int fd) override { return at(fd).connect_error; }
  int local_pair(int& ours, int& theirs) override {
    ours = next_fd++;
    theirs = -1;  // the stream service gets an invalid fd in fakes
    sockets[ours].connecting = false;
    sockets[ours].local = true;
    return 0;
  }
  bool set_peek_offset(int fd, size_t offset) override {
    if (!peek_offset_works) return false;  // Linux < 6.9: EOPNOTSUPP, nothing set
    at(fd).peek_off_set = true;
    at(fd).peek_off = offset;
    return true;
  }
  ssize_t peek(int fd, void* scratch, size_t skip, void* buf, size_t len) override {
    FakeSocket& s = at(fd);
    if (s.error != 0) return s.error;
    const size_t start = s.peek_off_set ? s.peek_off : 0;
    if (start >= s.rx.size()) return s.eof ? 0 : -EAGAIN;
    const size_t n = s.readable(start, skip + len);
    const size_t into_scratch = std::min(n, skip);
    if (into_scratch > 0) std::memcpy(scratch, s.rx.data() + start, into_scratch);
    if (n > into_scratch) std::memcpy(buf, s.rx.data() + start + into_scratch, n - into_scratch);
    if (s.peek_off_set) s.peek_off += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t consume(int fd, size_t len) override {
    FakeSocket& s = at(fd);
    if (s.rx.empty()) return s.eof ? 0 : -EAGAIN;
    const size_t n = s.readable(0, len);
    s.rx.erase(0, n);
    s.peek_off = s.peek_off > n ? s.peek_off - n : 0;
    // Read past the urgent byte: the mark is gone (tcp_recvmsg clears it
    // once copied_seq is after urg_seq).
    if (s.urgent) s.urgent = *s.urgent < n ? std::nullopt : std::optional<size_t>(*s.urgent - n);
    ++consumes;
    return static_cast<ssize_t>(n);
  }
  ssize_t send(int fd, const void* buf, size_t len) override {
    FakeSocket& s = at(fd);
    if (s.error != 0) return s.error;
    if (s.shut_wr) return -EPIPE;
    const size_t n = std::min(len, s.room);
    if (n == 0) return -EAGAIN;
    s.sent.append(static_cast<const char*>(buf), n);
    s.room -= n;
    return static_cast<ssize_t>(n);
  }
  SendRoom send_room(int fd) override { return {at(fd).room, at(fd).buffer}; }
  void shutdown_write(int fd) override { at(fd).shut_wr = true; }
  void close(int fd, bool reset) override {
    FakeSocket& s = at(fd);
    s.closed = true;
    s.reset = reset;
  }

 private:
  FakeSocket& at(int fd) { return sockets[fd]; }
};

}  // namespace tapir::testing
