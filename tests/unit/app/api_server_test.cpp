// The control API's socket server (app/api.hpp "Access" and "Framing"):
// the socket file's mode, what may be at PATH before it, who may connect,
// and how a request that never ends is cut off. The engine is replaced by
// a poll(2) loop the test turns by hand, so nothing here waits on a clock.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "app/api.hpp"
#include "tap/tap_io.hpp"

namespace tapir::app {
namespace {

class EmptyTable : public flows::ForwardTable {
 public:
  Expected<uint32_t, flows::ForwardFailure> add(const flows::ForwardRule&) override {
    return unexpected(flows::ForwardFailure{flows::ForwardError::kBind, EADDRINUSE});
  }
  bool remove(uint32_t) override { return false; }
  std::vector<flows::ForwardEntry> list() const override { return {}; }
};

// The engine's watch interface over poll(2): level-triggered, like the
// engine's multishot polls.
class PollWatcher final : public loop::SocketWatcher {
 public:
  loop::WatchHandle watch(int fd, unsigned events, loop::SocketClient& client,
                          uint64_t cookie) override {
    watches_.push_back({fd, events, &client, cookie, true});
    return {static_cast<uint32_t>(watches_.size() - 1), 1};
  }
  void unwatch(loop::WatchHandle h) override {
    if (h.valid() && h.slot < watches_.size()) watches_[h.slot].active = false;
  }
  void set_events(loop::WatchHandle h, unsigned events) override {
    watches_[h.slot].events = events;
  }

  // One poll over every live watch (waiting at most `ms`), then every ready
  // client is called. False when nothing is watched.
  bool turn(int ms) {
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < watches_.size(); ++i) {
      if (!watches_[i].active) continue;
      fds.push_back({watches_[i].fd, static_cast<short>(watches_[i].events), 0});
      which.push_back(i);
    }
    if (fds.empty()) return false;
    if (::poll(fds.data(), fds.size(), ms) <= 0) return true;
    for (size_t k = 0; k < fds.size(); ++k) {
      const Watch& w = watches_[which[k]];
      if (fds[k].revents == 0 || !w.active) continue;
      w.client->on_socket(w.cookie, static_cast<unsigned>(fds[k].revents), MonoTime{}, *tx_);
    }
    return true;
  }

 private:
  struct Watch {
    int fd;
    unsigned events;
    loop::SocketClient* client;
    uint64_t cookie;
    bool active;
  };
  std::vector<Watch> watches_;
  std::unique_ptr<tap::TxQueue> tx_ = tap::TxQueue::detached(1, nullptr);
};

class ApiServerTest : public ::testing::Test {
 protected:
  ApiServerTest() {
    char tmpl[] = "/tmp/tapir-api-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/api.sock";
  }
  ~ApiServerTest() override {
    server_.reset();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  Expected<std::unique_ptr<ApiServer>, std::string> open(ApiLimits limits = {}) {
    return ApiServer::open(path_, handler_, limits);
  }
  int connect_client() const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0)
        << strerror(errno);  // NOLINT
    return fd;
  }

  std::string dir_;
  std::string path_;
  EmptyTable table_;
  wire::AddressPlan plan_;
  ApiHandler handler_{table_, plan_, nullptr};
  PollWatcher watcher_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerTest, SocketIsMode0600WhateverTheUmask) {
  const mode_t old = ::umask(0);
  auto s = open();
  ::umask(old);
  ASSERT_TRUE(s.has_value()) << s.error();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(::umask(old), old);  // put back as it was
}

TEST_F(ApiServerTest, RegularFileAtThePathIsAnErrorAndLeftAlone) {
  { std::ofstream(path_) << "precious\n"; }
  auto s = open();
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().find(path_), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("not a socket"), std::string::npos) << s.error();
  EXPECT_EQ(s.error().find('\n'), std::string::npos);
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "precious");
}

TEST_F(ApiServerTest, StaleSocketIsReplacedButALiveOneIsNot) {
  // What a crashed tapir leaves: the socket file, nobody listening.
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);  // NOLINT
    ::close(fd);
  }
  auto first = open();
  ASSERT_TRUE(first.has_value()) << first.error();
  // A live listener is not ours to take.
  auto second = open();
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().find("in use"), std::string::npos) << second.error();
  EXPECT_NE(second.error().find(path_), std::string::npos) << second.error();
  const int fd = connect_client();  // still the first one's
  ::close(fd);
}

// A client streaming zeros gets slirp4netns's answer, then the connection
// ends once at most kApiMaxDrain more bytes were read: it used to be read
// and discarded for as long as the client kept writing.
TEST_F(ApiServerTest, EndlessRequestGetsTooLargeAndTheConnectionEnds) {
  ApiLimits limits;
  limits.timeout = Duration::seconds(3600);  // only the drain bound may end it
  auto s = open(limits);
  ASSERT_TRUE(s.has_value()) << s.error();
  server_ = std::move(*s);
  ASSERT_TRUE(server_->attach(watcher_));
  const int fd = connect_client();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> written{0};
  std::thread writer([&] {
    std::vector<char> zeros(65536, 0);
    while (!stop) {
      const ssize_t n = ::send(fd, zeros.data(), zeros.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // EPIPE / ECONNRESET once tapir closed
      written += static_cast<uint64_t>(n);
    }
  });
  std::string got;
  bool ended = false;
  // Bounded in turns, not time: each turn drains at most 128 KiB.
  for (int turn = 0; turn < 4000 && !ended; ++turn) {
    watcher_.turn(50);
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) ended = true;
      break;
    }
    if (ended && server_->clients() != 0) ended = false;  // our half-close only: keep going
  }
  stop = true;
  ::shutdown(fd, SHUT_RDWR);
  writer.join();
  ::close(fd);
  EXPECT_EQ(got, R"({"error":{"desc":"bad request: too large message"}})");
  EXPECT_TRUE(ended) << "still open after " << written << " bytes";
  EXPECT_EQ(server_->clients(), 0u);
  EXPECT_EQ(server_->stats().too_large, 1u);
}

// SO_PEERCRED: a peer of another uid gets an error and the connection ends.
TEST_F(ApiServerTest, PeerOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  auto s = open();
  ASSERT_TRUE(s.has_value()) << s.error();
  server_ = std::move(*s);
  ASSERT_TRUE(server_->attach(watcher_));
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);  // so that uid 65534 can connect at all
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(out[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ::_exit(3);  // NOLINT
    const char req[] = R"({"execute":"list_hostfwd"})";
    (void)!::send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    char buf[512];
    ssize_t n;
    std::string got;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    (void)!::write(out[1], got.data(), got.size());
    ::_exit(0);
  }
  ::close(out[1]);
  std::string got;
  for (int turn = 0; turn < 2000; ++turn) {
    watcher_.turn(50);
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      char buf[512];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;  // the child is done
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(
      got,
      R"({"error":{"desc":"permission denied: only tapir's user and root may use this API"}})");
  EXPECT_EQ(server_->stats().refused, 1u);
  EXPECT_EQ(server_->stats().requests, 0u);
  // Our own uid is served.
  const int fd = connect_client();
  const char req[] = R"({"execute":"list_hostfwd"})";
  ASSERT_EQ(::send(fd, req, sizeof req - 1, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof req - 1));
  std::string mine;
  for (int turn = 0; turn < 2000; ++turn) {
    watcher_.turn(50);
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) mine.append(buf, static_cast<size_t>(n));
    if (n == 0) break;
  }
  ::close(fd);
  EXPECT_EQ(mine, R"({"entries":[]})");
}

}  // namespace
}  // namespace tapir::app
