#pragma once
// A kernel-free stand-in for the host side of TCP translation (TcpHost)
// and for the engine's socket watches (loop::SocketWatcher): unit tests and the
// fuzz target script every state of flows/tcp_flows through it.
//
// Each fd is a FakeSocket: a receive queue the test fills (what the host
// peer sent), with a peek offset like SO_PEEK_OFF; what tapir sent; room
// in its send buffer; and how it ended.

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "loop/engine.hpp"
#include "flows/tcp_host.hpp"

namespace tapir::testing {

struct FakeSocket {
  bool connecting = true;   // connect() in progress
  int connect_error = 0;    // what connect_result() reports (0 or -errno)
  std::string rx;           // from the host peer, not yet consumed
  size_t peek_off = 0;
  bool eof = false;         // the peer finished sending
  int error = 0;            // -errno for the next recv/send (a reset peer)
  std::string sent;         // what tapir wrote
  size_t room = 1 << 20;    // send buffer space
  size_t buffer = 1 << 21;
  bool shut_wr = false;
  bool closed = false;
  bool reset = false;
  bool local = false;       // one end of local_pair()
};

class FakeTcpHost final : public flows::TcpHost {
 public:
  std::map<int, FakeSocket> sockets;
  int next_fd = 100;
  int connect_immediate_error = 0;  // -errno: connect() fails at once
  bool immediate = false;           // connect() completes at once
  bool peek_offset_works = true;

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
    at(fd).peek_off = offset;
    return peek_offset_works;
  }
  ssize_t peek(int fd, void* buf, size_t len) override {
    FakeSocket& s = at(fd);
    if (s.error != 0) return s.error;
    if (s.peek_off >= s.rx.size()) return s.eof ? 0 : -EAGAIN;
    const size_t n = std::min(len, s.rx.size() - s.peek_off);
    std::memcpy(buf, s.rx.data() + s.peek_off, n);
    s.peek_off += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t peek_skipping(int fd, void*, size_t skip, void* buf, size_t len) override {
    FakeSocket& s = at(fd);
    if (s.error != 0) return s.error;
    if (skip >= s.rx.size()) return s.eof ? 0 : -EAGAIN;
    const size_t n = std::min(len, s.rx.size() - skip);
    std::memcpy(buf, s.rx.data() + skip, n);
    return static_cast<ssize_t>(n);
  }
  ssize_t consume(int fd, size_t len) override {
    FakeSocket& s = at(fd);
    const size_t n = std::min(len, s.rx.size());
    s.rx.erase(0, n);
    s.peek_off = s.peek_off > n ? s.peek_off - n : 0;
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

// Records watches instead of polling; tests deliver readiness by hand.
class FakeWatcher final : public loop::SocketWatcher {
 public:
  struct Watch {
    int fd = -1;
    unsigned events = 0;
    loop::SocketClient* client = nullptr;
    uint64_t cookie = 0;
    bool active = false;
  };
  std::vector<Watch> watches;
  bool refuse = false;

  loop::WatchHandle watch(int fd, unsigned events, loop::SocketClient& c, uint64_t cookie) override {
    if (refuse) return {};
    watches.push_back({fd, events, &c, cookie, true});
    return {static_cast<uint32_t>(watches.size() - 1), 1};
  }
  void unwatch(loop::WatchHandle h) override {
    if (h.valid() && h.slot < watches.size()) watches[h.slot].active = false;
  }
  void set_events(loop::WatchHandle h, unsigned events) override {
    if (h.valid() && h.slot < watches.size()) watches[h.slot].events = events;
  }
  // The active watch on fd, or nullptr.
  Watch* find(int fd) {
    for (auto& w : watches) {
      if (w.active && w.fd == fd) return &w;
    }
    return nullptr;
  }
};

}  // namespace tapir::testing
