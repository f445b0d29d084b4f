// tcpcheck serve: the server end of the exchange (tcpcheck.cpp has the
// picture). One poll loop over every listener and connection; each
// connection checks the upload byte by byte, then answers with the
// download and the trailer in the order the header's flags ask for.
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tcpcheck_proto.hpp"

namespace tcpcheck {
namespace {

volatile sig_atomic_t g_stop = 0;
void on_stop(int) {
  g_stop = 1;
}

struct ServerOpts {
  bool tell_peer = false;
  uint64_t hold = 0;
  std::vector<std::string> endpoints;
};

struct ServerConn {
  int fd = -1;
  std::string peer;
  uint8_t hdr_buf[kHeaderLen]{};
  size_t hdr_got = 0;
  bool have_header = false;
  Header h;
  uint64_t up_got = 0;
  bool up_eof = false;
  uint64_t down_sent = 0;
  uint8_t trailer[kTrailerLen]{};
  size_t trailer_sent = 0;
  bool trailer_ready = false;
  bool wr_shut = false;
  bool paused_done = false;
  uint64_t pause_until = 0;
  bool failed = false;
  std::string why;
  bool held = false;  // --hold: reported

  void fail(const std::string& reason) {
    if (!failed) {
      failed = true;
      why = reason;
    }
  }
  bool may_send() const { return have_header && (!(h.flags & kGuestHalfClose) || up_eof); }
  bool pausing() const { return have_header && h.server_pause_ms && !paused_done; }
};

bool parse_serve_args(int argc, char** argv, ServerOpts& o) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tell-peer") {
      o.tell_peer = true;
    } else if (a == "--hold" && i + 1 < argc) {
      o.hold = parse_size(argv[++i]);
    } else {
      o.endpoints.push_back(a);
    }
  }
  if (o.endpoints.empty()) {
    std::fprintf(stderr, "usage: tcpcheck serve [--tell-peer | --hold BYTES] ADDR:PORT...\n");
    return false;
  }
  return true;
}

// 0, or the exit status.
int open_listeners(const std::vector<std::string>& endpoints, std::vector<int>& listeners) {
  for (const auto& e : endpoints) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!parse_endpoint(e, ss, len)) {
      std::fprintf(stderr, "tcpcheck: bad address %s\n", e.c_str());
      return 2;
    }
    const int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 1024) != 0) {
      std::fprintf(stderr, "tcpcheck: listen on %s: %s\n", e.c_str(), std::strerror(errno));
      return 1;
    }
    listeners.push_back(fd);
  }
  return 0;
}

// What to poll a connection for; lowers `timeout` to the end of its pause.
short events_of(const ServerConn& c, uint64_t now, bool hold, int& timeout) {
  short ev = 0;
  if (hold) return ev;
  const bool paused = c.pause_until > now;
  if (paused) timeout = std::min<int>(timeout, static_cast<int>(c.pause_until - now));
  if (!c.up_eof && !paused) ev |= POLLIN;
  if (c.may_send() && !c.wr_shut &&
      (c.down_sent < c.h.down_len || (c.trailer_ready && c.trailer_sent < kTrailerLen)))
    ev |= POLLOUT;
  return ev;
}

void accept_all(int listener, bool tell_peer, std::vector<ServerConn>& conns) {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd =
        accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    if (tell_peer) {
      const std::string p = addr_text(ss, false) + "\n";
      std::printf("peer %s", p.c_str());
      std::fflush(stdout);
      (void)!write(fd, p.data(), p.size());
      close(fd);
      continue;
    }
    ServerConn c;
    c.fd = fd;
    c.peer = addr_text(ss);
    conns.push_back(c);
  }
}

// --hold: reports once the connection's receive queue holds that much.
void report_hold(ServerConn& c, uint64_t hold) {
  int queued = 0;
  ioctl(c.fd, SIOCINQ, &queued);
  if (!c.held && static_cast<uint64_t>(queued) >= hold) {
    c.held = true;
    std::printf("holding %d bytes from %s\n", queued, c.peer.c_str());
    std::fflush(stdout);
  }
}

// `n` bytes read: the header first, then checked upload bytes. False once
// the connection failed.
bool take_upload(ServerConn& c, const uint8_t* data, size_t n) {
  size_t off = 0;
  if (!c.have_header) {
    const size_t k = std::min(n, kHeaderLen - c.hdr_got);
    std::memcpy(c.hdr_buf + c.hdr_got, data, k);
    c.hdr_got += k;
    off = k;
    if (c.hdr_got == kHeaderLen) {
      if (!c.h.decode(c.hdr_buf)) {
        c.fail("bad header");
        return false;
      }
      c.have_header = true;
    }
  }
  if (off < n) {
    const size_t k = n - off;
    if (c.up_got + k > c.h.up_len) {
      c.fail("more than the announced " + std::to_string(c.h.up_len) + " bytes");
      return false;
    }
    const long bad_at = stream_mismatch(c.h.seed, c.up_got, data + off, k);
    if (bad_at >= 0) {
      c.fail("byte " + std::to_string(c.up_got + static_cast<uint64_t>(bad_at)) +
             " of the upload differs");
      return false;
    }
    c.up_got += k;
  }
  return true;
}

void read_upload(ServerConn& c, std::vector<uint8_t>& buf) {
  for (int rounds = 0; rounds < 16 && !c.failed && !c.up_eof; ++rounds) {
    size_t want = buf.size();
    if (c.pausing() && c.up_got < c.h.server_pause_at)
      want = std::min<uint64_t>(want, c.h.server_pause_at - c.up_got);
    const ssize_t n = read(c.fd, buf.data(), want);
    if (n < 0) {
      if (errno != EAGAIN) c.fail(std::string("read: ") + std::strerror(errno));
      break;
    }
    if (n == 0) {
      c.up_eof = true;
      if (!c.have_header)
        c.fail("EOF after " + std::to_string(c.hdr_got) + " header bytes");
      else if (c.up_got != c.h.up_len)
        c.fail("EOF after " + std::to_string(c.up_got) + " of " + std::to_string(c.h.up_len) +
               " bytes");
      break;
    }
    if (!take_upload(c, buf.data(), static_cast<size_t>(n))) break;
    if (c.pausing() && c.up_got >= c.h.server_pause_at) {
      c.paused_done = true;
      c.pause_until = now_ms() + c.h.server_pause_ms;
      break;
    }
  }
}

void send_trailer(ServerConn& c) {
  if (!c.trailer_ready) {
    std::memcpy(c.trailer, kTrailerOk, 8);
    put64(c.trailer + 8, c.up_got);
    c.trailer_ready = true;
  }
  while (c.trailer_sent < kTrailerLen) {
    const ssize_t n =
        send(c.fd, c.trailer + c.trailer_sent, kTrailerLen - c.trailer_sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN) c.fail(std::string("send: ") + std::strerror(errno));
      break;
    }
    c.trailer_sent += static_cast<size_t>(n);
  }
  if (c.trailer_sent == kTrailerLen) {
    shutdown(c.fd, SHUT_WR);
    c.wr_shut = true;
  }
}

void send_download(ServerConn& c, short rev, std::vector<uint8_t>& buf) {
  if (!c.failed && c.may_send() && !c.wr_shut && (rev & POLLOUT)) {
    while (c.down_sent < c.h.down_len) {
      const size_t k = std::min<uint64_t>(buf.size(), c.h.down_len - c.down_sent);
      stream_fill(down_seed(c.h.seed), c.down_sent, buf.data(), k);
      const ssize_t n = send(c.fd, buf.data(), k, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN) c.fail(std::string("send: ") + std::strerror(errno));
        break;
      }
      c.down_sent += static_cast<uint64_t>(n);
    }
  }
  if (c.failed || !c.may_send() || c.wr_shut || c.down_sent != c.h.down_len) return;
  if (c.h.flags & kHostHalfClose) {
    shutdown(c.fd, SHUT_WR);
    c.wr_shut = true;
  } else if (c.up_got == c.h.up_len) {
    send_trailer(c);
  }
}

// Closes a finished connection (fd -1) and counts it.
void finish_if_done(ServerConn& c, uint64_t& ok, uint64_t& bad) {
  if (!c.failed && !(c.up_eof && c.wr_shut)) return;
  if (c.failed) {
    ++bad;
    // Tell the client too: a reset, not a clean end.
    if (c.have_header && !(c.h.flags & kHostHalfClose) && !c.wr_shut) {
      linger lg{1, 0};
      setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    std::printf("FAIL %s: %s (up %llu/%llu, down %llu/%llu)\n", c.peer.c_str(), c.why.c_str(),
                static_cast<unsigned long long>(c.up_got),
                static_cast<unsigned long long>(c.h.up_len),
                static_cast<unsigned long long>(c.down_sent),
                static_cast<unsigned long long>(c.h.down_len));
    std::fflush(stdout);
  } else {
    ++ok;
  }
  close(c.fd);
  c.fd = -1;
}

}  // namespace

int serve(int argc, char** argv) {
  ServerOpts o;
  if (!parse_serve_args(argc, argv, o)) return 2;
  std::vector<int> listeners;
  if (const int rc = open_listeners(o.endpoints, listeners); rc != 0) return rc;
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  signal(SIGPIPE, SIG_IGN);
  std::printf("listening\n");
  std::fflush(stdout);

  std::vector<ServerConn> conns;
  uint64_t ok = 0;
  uint64_t bad = 0;
  std::vector<uint8_t> buf(256 * 1024);
  std::vector<pollfd> pfds;
  while (!g_stop) {
    const uint64_t now = now_ms();
    pfds.clear();
    for (int l : listeners) pfds.push_back({l, POLLIN, 0});
    int timeout = o.hold ? 50 : 1000;
    for (auto& c : conns) pfds.push_back({c.fd, events_of(c, now, o.hold != 0, timeout), 0});
    if (poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) {
      std::perror("poll");
      return 1;
    }
    const size_t polled = conns.size();  // those accepted below have no pollfd yet
    for (size_t i = 0; i < listeners.size(); ++i) {
      if (pfds[i].revents & POLLIN) accept_all(listeners[i], o.tell_peer, conns);
    }
    const uint64_t t = now_ms();
    for (size_t i = 0; i < conns.size(); ++i) {
      ServerConn& c = conns[i];
      const short rev = i < polled ? pfds[listeners.size() + i].revents : short{0};
      if (o.hold) {
        report_hold(c, o.hold);
        continue;
      }
      if (c.pause_until && c.pause_until <= t) c.pause_until = 0;
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c.up_eof && !c.pause_until) read_upload(c, buf);
      send_download(c, rev, buf);
      finish_if_done(c, ok, bad);
    }
    conns.erase(
        std::remove_if(conns.begin(), conns.end(), [](const ServerConn& c) { return c.fd < 0; }),
        conns.end());
  }
  std::printf("served %llu ok, %llu failed\n", static_cast<unsigned long long>(ok),
              static_cast<unsigned long long>(bad));
  std::fflush(stdout);
  return 0;
}

}  // namespace tcpcheck
