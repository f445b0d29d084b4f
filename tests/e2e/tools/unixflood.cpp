// unixflood PATH: connects to the unix stream socket PATH and writes zeros
// to it without end (as `cat /dev/zero` would) while reading what comes
// back. Prints what it read on stdout, and on stderr how the connection
// ended: "eof" (the peer closed), "reset" (it closed with our bytes unread)
// or the read error. Exit 0 once the connection has ended, 1 on a setup
// error. The writer stops at its first failed write (EPIPE after the close).
// The caller bounds the run (timeout): ending is the thing under test.

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: unixflood PATH\n");
    return 1;
  }
  ::signal(SIGPIPE, SIG_IGN);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || std::strlen(argv[1]) >= sizeof addr.sun_path) {
    std::fprintf(stderr, "unixflood: bad socket or path\n");
    return 1;
  }
  std::strcpy(addr.sun_path, argv[1]);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {  // NOLINT
    std::fprintf(stderr, "unixflood: connect %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  std::atomic<unsigned long long> written{0};
  std::thread writer([fd, &written] {
    const std::vector<char> zeros(65536, 0);
    for (;;) {
      const ssize_t n = ::send(fd, zeros.data(), zeros.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      written += static_cast<unsigned long long>(n);
    }
  });
  std::string got;
  const char* how = "eof";
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) how = errno == ECONNRESET ? "reset" : std::strerror(errno);
    break;
  }
  // A half-close (EOF while tapir still reads) leaves the writer going:
  // wait for the writer to fail, which is the connection really ending.
  writer.join();
  std::fwrite(got.data(), 1, got.size(), stdout);
  std::fprintf(stderr, "unixflood: %s after writing %llu bytes\n", how, written.load());
  ::close(fd);
  return 0;
}
