// tcpcheck client: the client end of the exchange (tcpcheck.cpp has the
// picture). Runs --conns connections, --parallel at a time, in one poll
// loop; each uploads stream(seed), checks the download byte by byte and the
// server's verdict, and counts as done only once the peer acknowledged
// everything it sent.
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tcpcheck_proto.hpp"

namespace tcpcheck {
namespace {

struct ClientOpts {
  uint64_t conns = 1;
  uint64_t parallel = 1;
  uint64_t min_up = 0, max_up = 0;
  uint64_t min_down = 0, max_down = 0;
  uint64_t seed = 1;
  uint32_t flags = 0;
  uint64_t pause_at = 0;  // client stops reading after this many download bytes ...
  uint64_t pause_ms = 0;  // ... for this long
  uint64_t server_pause_at = 0;
  uint32_t server_pause_ms = 0;
  int rcvbuf = 0;
  int sndbuf = 0;
  uint64_t idle_ms = 30000;          // no progress on any connection for this long: fail
  std::string expect_connect_error;  // ECONNREFUSED / ENETUNREACH / ...
  bool expect_reset = false;
  bool quiet = false;
  std::string until_file;  // start no new connection once this file exists
};

struct ClientConn {
  uint64_t id = 0;
  int fd = -1;
  bool connected = false;
  Header h;
  uint8_t hdr[kHeaderLen]{};
  size_t hdr_sent = 0;
  uint64_t up_sent = 0;
  bool wr_shut = false;
  uint64_t down_got = 0;
  uint8_t trailer[kTrailerLen]{};
  size_t trailer_got = 0;
  bool eof = false;
  bool paused_done = false;
  uint64_t pause_until = 0;
  int queued_at_pause_end = -1;
  bool done = false;
  bool failed = false;
  std::string why;

  bool may_upload() const { return !(h.flags & kHostHalfClose) || eof; }
};

std::string progress(const ClientConn& c) {
  return "(connected " + std::string(c.connected ? "yes" : "no") + ", up " +
         std::to_string(c.up_sent) + "/" + std::to_string(c.h.up_len) + ", down " +
         std::to_string(c.down_got) + "/" + std::to_string(c.h.down_len) + ", trailer " +
         std::to_string(c.trailer_got) + "/" + std::to_string(kTrailerLen) +
         (c.eof ? ", EOF seen" : "") + ")";
}

// The options; the target goes to `target`. Exits 2 on a missing value.
void parse_client_args(int argc, char** argv, ClientOpts& o, std::string& target) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tcpcheck: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--conns")
      o.conns = parse_size(next());
    else if (a == "--parallel")
      o.parallel = parse_size(next());
    else if (a == "--up")
      o.min_up = o.max_up = parse_size(next());
    else if (a == "--down")
      o.min_down = o.max_down = parse_size(next());
    else if (a == "--max-up")
      o.max_up = parse_size(next());
    else if (a == "--max-down")
      o.max_down = parse_size(next());
    else if (a == "--seed")
      o.seed = parse_size(next());
    else if (a == "--guest-half-close")
      o.flags |= kGuestHalfClose;
    else if (a == "--host-half-close")
      o.flags |= kHostHalfClose;
    else if (a == "--pause-at")
      o.pause_at = parse_size(next());
    else if (a == "--pause-ms")
      o.pause_ms = parse_size(next());
    else if (a == "--server-pause-at")
      o.server_pause_at = parse_size(next());
    else if (a == "--server-pause-ms")
      o.server_pause_ms = static_cast<uint32_t>(parse_size(next()));
    else if (a == "--rcvbuf")
      o.rcvbuf = static_cast<int>(parse_size(next()));
    else if (a == "--sndbuf")
      o.sndbuf = static_cast<int>(parse_size(next()));
    else if (a == "--idle-ms")
      o.idle_ms = parse_size(next());
    else if (a == "--expect-connect-error")
      o.expect_connect_error = next();
    else if (a == "--expect-reset")
      o.expect_reset = true;
    else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--until-file")
      o.until_file = next();
    else
      target = a;
  }
}

class Client {
 public:
  Client(const ClientOpts& o, const sockaddr_storage& dst, socklen_t dst_len)
      : o_(o), dst_(dst), dst_len_(dst_len), rng_(o.seed), last_progress_(now_ms()) {}
  int run();

 private:
  uint64_t pick(uint64_t lo, uint64_t hi) {
    rng_ = splitmix(rng_);
    return hi > lo ? lo + rng_ % (hi - lo + 1) : lo;
  }
  bool more() const {
    return started_ < o_.conns &&
           (o_.until_file.empty() || access(o_.until_file.c_str(), F_OK) != 0);
  }
  void finish(ClientConn& c, bool good, const std::string& why);
  void start_connections();
  int poll_all();
  void on_connect(ClientConn& c, short rev);
  bool upload(ClientConn& c, short rev);
  void read_download(ClientConn& c);
  bool take_download(ClientConn& c, const uint8_t* data, size_t n);
  bool take_trailer(ClientConn& c, const uint8_t* data, size_t n);
  void check_done(ClientConn& c);
  void check_idle();

  const ClientOpts& o_;
  const sockaddr_storage dst_;
  const socklen_t dst_len_;
  uint64_t rng_;
  std::vector<ClientConn> active_;
  uint64_t started_ = 0, ok_ = 0, bad_ = 0, bytes_up_ = 0, bytes_down_ = 0;
  int printed_ = 0;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(256 * 1024);
  std::vector<pollfd> pfds_;
  uint64_t last_progress_;
  bool progressed_ = false;
  bool waiting_for_acks_ = false;  // a finished connection waits for its last ACK
};

void Client::finish(ClientConn& c, bool good, const std::string& why) {
  c.done = true;
  if (good) {
    ++ok_;
  } else {
    ++bad_;
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    std::string from;
    if (c.fd >= 0 && getsockname(c.fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0)
      from = " from " + addr_text(local);
    if (printed_++ < 20)
      std::printf("FAIL conn %llu%s: %s %s\n", static_cast<unsigned long long>(c.id), from.c_str(),
                  why.c_str(), progress(c).c_str());
  }
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
}

void Client::start_connections() {
  while (active_.size() < o_.parallel && more()) {
    ClientConn c;
    c.id = started_++;
    c.h.flags = o_.flags;
    c.h.up_len = pick(o_.min_up, o_.max_up);
    c.h.down_len = pick(o_.min_down, o_.max_down);
    c.h.seed = splitmix(o_.seed * 1000003 + c.id);
    c.h.server_pause_at = o_.server_pause_at;
    c.h.server_pause_ms = o_.server_pause_ms;
    c.h.encode(c.hdr);
    c.fd = socket(dst_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (o_.rcvbuf) setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &o_.rcvbuf, sizeof o_.rcvbuf);
    if (o_.sndbuf) setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &o_.sndbuf, sizeof o_.sndbuf);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&dst_), dst_len_) != 0 &&
        errno != EINPROGRESS) {
      const int e = errno;
      active_.push_back(c);
      ClientConn& a = active_.back();
      if (o_.expect_connect_error == errno_name(e)) {
        std::printf("connect: %s\n", std::strerror(e));
        finish(a, true, "");
      } else {
        finish(a, false, std::string("connect: ") + std::strerror(e));
      }
      continue;
    }
    active_.push_back(c);
  }
}

// Polls every active connection; 0, or 1 when poll itself failed.
int Client::poll_all() {
  const uint64_t now = now_ms();
  int timeout = waiting_for_acks_ ? 5 : 1000;
  pfds_.clear();
  for (auto& c : active_) {
    short ev = 0;
    if (!c.connected) {
      ev = POLLOUT;
    } else {
      const bool paused = c.pause_until > now;
      if (paused) timeout = std::min<int>(timeout, static_cast<int>(c.pause_until - now));
      if (!c.eof && !paused) ev |= POLLIN;
      if (!c.wr_shut && (c.hdr_sent < kHeaderLen || (c.may_upload() && c.up_sent < c.h.up_len)))
        ev |= POLLOUT;
    }
    pfds_.push_back({c.fd, ev, 0});
  }
  if (poll(pfds_.data(), pfds_.size(), timeout) < 0 && errno != EINTR) {
    std::perror("poll");
    return 1;
  }
  return 0;
}

void Client::on_connect(ClientConn& c, short rev) {
  if (!rev) return;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  progressed_ = true;
  if (err != 0) {
    if (o_.expect_connect_error == errno_name(err)) {
      std::printf("connect: %s\n", std::strerror(err));
      finish(c, true, "");
    } else {
      finish(c, false, std::string("connect: ") + std::strerror(err));
    }
    return;
  }
  if (!o_.expect_connect_error.empty()) {
    finish(c, false, "connected, but " + o_.expect_connect_error + " was expected");
    return;
  }
  c.connected = true;
}

// The header and the upload, as far as the socket takes them; then the
// write side is shut once all is sent. False once the connection finished.
bool Client::upload(ClientConn& c, short rev) {
  if (rev & POLLOUT) {
    int send_err = 0;
    while (c.hdr_sent < kHeaderLen) {
      const ssize_t n = send(c.fd, c.hdr + c.hdr_sent, kHeaderLen - c.hdr_sent, MSG_NOSIGNAL);
      if (n < 0) {
        send_err = errno;
        break;
      }
      c.hdr_sent += static_cast<size_t>(n);
      progressed_ = true;
    }
    while (!send_err && c.hdr_sent == kHeaderLen && c.may_upload() && c.up_sent < c.h.up_len) {
      const size_t k = std::min<uint64_t>(buf_.size(), c.h.up_len - c.up_sent);
      stream_fill(c.h.seed, c.up_sent, buf_.data(), k);
      const ssize_t n = send(c.fd, buf_.data(), k, MSG_NOSIGNAL);
      if (n < 0) {
        send_err = errno;
        break;
      }
      c.up_sent += static_cast<uint64_t>(n);
      bytes_up_ += static_cast<uint64_t>(n);
      progressed_ = true;
    }
    if (send_err && send_err != EAGAIN) {
      if (o_.expect_reset && send_err == ECONNRESET) {
        std::printf("send: %s\n", std::strerror(send_err));
        finish(c, true, "");
      } else {
        finish(c, false, std::string("send: ") + std::strerror(send_err));
      }
      return false;
    }
  }
  if (!c.wr_shut && c.hdr_sent == kHeaderLen && c.up_sent == c.h.up_len && !o_.expect_reset &&
      c.may_upload()) {
    shutdown(c.fd, SHUT_WR);
    c.wr_shut = true;
  }
  return true;
}

// The server's verdict after the download. False once the connection finished.
bool Client::take_trailer(ClientConn& c, const uint8_t* data, size_t k) {
  if ((c.h.flags & kHostHalfClose) || c.trailer_got + k > kTrailerLen) {
    finish(c, false, "more bytes than announced");
    return false;
  }
  std::memcpy(c.trailer + c.trailer_got, data, k);
  c.trailer_got += k;
  if (c.trailer_got == kTrailerLen && std::memcmp(c.trailer, kTrailerOk, 8) != 0) {
    finish(c, false,
           std::memcmp(c.trailer, kTrailerBad, 8) == 0 ? "the server found the upload bad"
                                                       : "garbled trailer");
    return false;
  }
  if (c.trailer_got == kTrailerLen && get64(c.trailer + 8) != c.h.up_len) {
    finish(c, false,
           "the server verified " + std::to_string(get64(c.trailer + 8)) + " upload bytes");
    return false;
  }
  return true;
}

// `n` bytes read: checked download bytes, then the trailer. False once the
// connection finished.
bool Client::take_download(ClientConn& c, const uint8_t* data, size_t n) {
  size_t off = 0;
  if (c.down_got < c.h.down_len) {
    const size_t k = std::min<uint64_t>(n, c.h.down_len - c.down_got);
    const long bad_at = stream_mismatch(down_seed(c.h.seed), c.down_got, data, k);
    if (bad_at >= 0) {
      finish(c, false,
             "byte " + std::to_string(c.down_got + static_cast<uint64_t>(bad_at)) +
                 " of the download differs");
      return false;
    }
    c.down_got += k;
    bytes_down_ += k;
    off = k;
  }
  return off == n || take_trailer(c, data + off, n - off);
}

void Client::read_download(ClientConn& c) {
  for (int rounds = 0; rounds < 16; ++rounds) {
    size_t want = buf_.size();
    if (o_.pause_ms && !c.paused_done && c.down_got < o_.pause_at)
      want = std::min<uint64_t>(want, o_.pause_at - c.down_got);
    const ssize_t n = read(c.fd, buf_.data(), want);
    if (n < 0) {
      const int e = errno;
      if (e == EAGAIN) break;
      if (o_.expect_reset && e == ECONNRESET) {
        std::printf("read: %s\n", std::strerror(e));
        finish(c, true, "");
      } else {
        finish(c, false, std::string("read: ") + std::strerror(e));
      }
      break;
    }
    progressed_ = true;
    if (n == 0) {
      c.eof = true;
      if (o_.expect_reset) {
        finish(c, false, "EOF (a FIN), where a reset was expected");
      } else if (c.down_got != c.h.down_len) {
        finish(c, false, "EOF before the whole download");
      } else if (!(c.h.flags & kHostHalfClose) && c.trailer_got != kTrailerLen) {
        finish(c, false, "EOF before the server's verdict (trailer)");
      }
      break;
    }
    if (o_.expect_reset) continue;  // whatever the server says, a reset is what counts
    if (!take_download(c, buf_.data(), static_cast<size_t>(n))) break;
    if (o_.pause_ms && !c.paused_done && c.down_got >= o_.pause_at) {
      c.paused_done = true;
      c.pause_until = now_ms() + o_.pause_ms;
      break;
    }
  }
}

// Done once the peer acknowledged everything we sent, our FIN too: until
// then it sits in this kernel, and would be lost if the guest (and with it
// tapir run) ended now. (The trailer proves it for the upload, but not in
// the host-half-close order, which has none.) The state is read before the
// count: the ACK of a FIN sent in a simultaneous close moves the socket from
// CLOSING to TIME-WAIT, which leaves this socket CLOSED, and may land between
// the two reads; read the other way round, a connection that closed well
// would look like one whose FIN was never acknowledged. Once CLOSED, the
// count read after it is final.
void Client::check_done(ClientConn& c) {
  if (c.done || !c.eof || !c.wr_shut || o_.expect_reset) return;
  tcp_info ti{};
  socklen_t ti_len = sizeof ti;
  const bool closed =
      getsockopt(c.fd, IPPROTO_TCP, TCP_INFO, &ti, &ti_len) == 0 && ti.tcpi_state == TCP_CLOSE;
  int unacked = 0;
  if (ioctl(c.fd, SIOCOUTQ, &unacked) == 0 && unacked > 0) {
    int err = 0;
    socklen_t err_len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (closed) {
      finish(c, false,
             "the connection ended (" + std::string(err ? std::strerror(err) : "closed") +
                 ") with " + std::to_string(unacked) +
                 " bytes (a FIN counts 1) never acknowledged");
      return;
    }
    waiting_for_acks_ = true;
    return;
  }
  if (o_.pause_ms && c.queued_at_pause_end >= 0 && !o_.quiet)
    std::printf("conn %llu: complete after the pause\n", static_cast<unsigned long long>(c.id));
  finish(c, true, "");
}

void Client::check_idle() {
  if (progressed_) {
    last_progress_ = now_ms();
    return;
  }
  if (now_ms() - last_progress_ <= o_.idle_ms + o_.pause_ms) return;
  for (auto& c : active_) {
    if (c.done) continue;
    int unacked = 0;
    ioctl(c.fd, SIOCOUTQ, &unacked);
    finish(c, false,
           "no progress for " + std::to_string(o_.idle_ms / 1000) + " s, " +
               std::to_string(unacked) + " bytes sent but not acknowledged");
  }
}

int Client::run() {
  while (more() || !active_.empty()) {
    start_connections();
    active_.erase(
        std::remove_if(active_.begin(), active_.end(), [](const ClientConn& c) { return c.done; }),
        active_.end());
    if (active_.empty()) continue;
    if (poll_all() != 0) return 1;
    progressed_ = false;
    waiting_for_acks_ = false;
    for (size_t i = 0; i < active_.size(); ++i) {
      ClientConn& c = active_[i];
      const short rev = pfds_[i].revents;
      if (!c.connected) {
        on_connect(c, rev);
        continue;
      }
      if (c.pause_until && c.pause_until <= now_ms()) {
        ioctl(c.fd, SIOCINQ, &c.queued_at_pause_end);
        c.pause_until = 0;
        if (!o_.quiet)
          std::printf("conn %llu: reading again; %d bytes were queued\n",
                      static_cast<unsigned long long>(c.id), c.queued_at_pause_end);
      }
      if (!upload(c, rev)) continue;
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c.eof && !c.pause_until) read_download(c);
      check_done(c);
    }
    check_idle();
  }
  std::printf("tcpcheck: %llu ok, %llu failed, %llu bytes up, %llu bytes down\n",
              static_cast<unsigned long long>(ok_), static_cast<unsigned long long>(bad_),
              static_cast<unsigned long long>(bytes_up_),
              static_cast<unsigned long long>(bytes_down_));
  return bad_ == 0 ? 0 : 1;
}

}  // namespace

int client(int argc, char** argv) {
  ClientOpts o;
  std::string target;
  parse_client_args(argc, argv, o, target);
  sockaddr_storage dst{};
  socklen_t dst_len = 0;
  if (target.empty() || !parse_endpoint(target, dst, dst_len)) {
    std::fprintf(stderr, "usage: tcpcheck client [OPTIONS] ADDR:PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return Client(o, dst, dst_len).run();
}

}  // namespace tcpcheck
