// tcpcheck: the TCP end-to-end tests' client and server (tests/e2e/tcp_*.sh).
// socat moves one stream; this moves many at once and checks every byte.
//
//   tcpcheck serve [--tell-peer | --hold BYTES] ADDR:PORT...
//   tcpcheck client [OPTIONS] ADDR:PORT     (options: see client())
//   tcpcheck gen SEED BYTES                  (a reproducible stream on stdout)
//   tcpcheck garbage IFACE [OPTIONS]         (bad frames onto a link: AF_PACKET)
//
// The exchange (one per connection). The client sends a header
//   magic "TCPCHK01", flags u32, server_pause_ms u32, up_len u64,
//   down_len u64, seed u64, server_pause_at u64      (48 bytes, little endian)
// then up_len bytes of stream(seed); the server answers with down_len bytes of
// stream(~seed) and a trailer "TCPCHKOK" + up bytes verified (or "TCPCHKBD"),
// and both ends close. stream(s) is random-looking but reproducible, so each
// end checks every byte the other sent, not just a checksum of it. Flags pick
// the orderings the tests need:
//   kGuestHalfClose  the client sends everything and shuts down its write
//                    side; the server starts its answer only after that EOF;
//   kHostHalfClose   the server sends its answer first (no trailer) and shuts
//                    down its write side; the client uploads only after that
//                    EOF, and the server reports the verdict on its stdout.
//
// Server output (stdout, one line per event, flushed): "FAIL <peer>: <why>"
// for every bad connection, "peer <addr>" with --tell-peer, "holding N bytes
// from <peer>" with --hold, and on SIGTERM/SIGINT "served N ok, M failed".
// Client output: one "FAIL conn K ..." line per bad connection (at most 20),
// then "tcpcheck: N ok, M failed, X bytes up, Y bytes down"; exit status 0
// only if every connection did what was expected.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---- shared pieces ----------------------------------------------------------

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Byte `pos` of stream(seed): random access, so chunk boundaries don't matter.
void stream_fill(uint64_t seed, uint64_t pos, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t p = pos + i;
    out[i] = static_cast<uint8_t>(splitmix(seed ^ (p >> 3) * 0x100000001b3ULL) >> ((p & 7) * 8));
  }
}

// Offset of the first byte in `got` that differs from stream(seed) at `pos`, or -1.
long stream_mismatch(uint64_t seed, uint64_t pos, const uint8_t* got, size_t n) {
  uint8_t want[4096];
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(n - done, sizeof want);
    stream_fill(seed, pos + done, want, k);
    if (std::memcmp(want, got + done, k) != 0) {
      for (size_t i = 0; i < k; ++i)
        if (want[i] != got[done + i]) return static_cast<long>(done + i);
    }
    done += k;
  }
  return -1;
}

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

constexpr char kMagic[] = "TCPCHK01";
constexpr char kTrailerOk[] = "TCPCHKOK";
constexpr char kTrailerBad[] = "TCPCHKBD";
constexpr size_t kHeaderLen = 48;
constexpr size_t kTrailerLen = 16;
constexpr uint32_t kGuestHalfClose = 1;
constexpr uint32_t kHostHalfClose = 2;

struct Header {
  uint32_t flags = 0;
  uint32_t server_pause_ms = 0;
  uint64_t up_len = 0;
  uint64_t down_len = 0;
  uint64_t seed = 0;
  uint64_t server_pause_at = 0;

  void encode(uint8_t* p) const {
    std::memcpy(p, kMagic, 8);
    put32(p + 8, flags);
    put32(p + 12, server_pause_ms);
    put64(p + 16, up_len);
    put64(p + 24, down_len);
    put64(p + 32, seed);
    put64(p + 40, server_pause_at);
  }
  bool decode(const uint8_t* p) {
    if (std::memcmp(p, kMagic, 8) != 0) return false;
    flags = get32(p + 8);
    server_pause_ms = get32(p + 12);
    up_len = get64(p + 16);
    down_len = get64(p + 24);
    seed = get64(p + 32);
    server_pause_at = get64(p + 40);
    return true;
  }
};
uint64_t down_seed(uint64_t seed) { return ~seed; }

bool parse_endpoint(const std::string& s, sockaddr_storage& ss, socklen_t& len) {
  std::string host;
  std::string port;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return false;
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

std::string addr_text(const sockaddr_storage& ss, bool with_port = true) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
    port = ntohs(sin.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &ss, sizeof sin6);
    inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof host);
    port = ntohs(sin6.sin6_port);
  }
  if (!with_port) return host;
  char out[INET6_ADDRSTRLEN + 10];
  std::snprintf(out, sizeof out, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
                static_cast<unsigned>(port));
  return out;
}

uint64_t parse_size(const char* s) {
  char* end = nullptr;
  uint64_t v = std::strtoull(s, &end, 10);
  switch (*end) {
    case 'K': v <<= 10; break;
    case 'M': v <<= 20; break;
    case 'G': v <<= 30; break;
    case '\0': break;
    default: std::fprintf(stderr, "tcpcheck: bad size %s\n", s); std::exit(2);
  }
  return v;
}

std::string errno_name(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPIPE: return "EPIPE";
    default: return "errno " + std::to_string(e);
  }
}

volatile sig_atomic_t g_stop = 0;
void on_stop(int) { g_stop = 1; }

// ---- server -----------------------------------------------------------------

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
};

int serve(int argc, char** argv) {
  bool tell_peer = false;
  uint64_t hold = 0;
  std::vector<std::string> eps;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--tell-peer") {
      tell_peer = true;
    } else if (a == "--hold" && i + 1 < argc) {
      hold = parse_size(argv[++i]);
    } else {
      eps.push_back(a);
    }
  }
  if (eps.empty()) {
    std::fprintf(stderr, "usage: tcpcheck serve [--tell-peer | --hold BYTES] ADDR:PORT...\n");
    return 2;
  }
  std::vector<int> listeners;
  for (const auto& e : eps) {
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
    int timeout = hold ? 50 : 1000;
    for (auto& c : conns) {
      short ev = 0;
      if (hold == 0) {
        const bool paused = c.pause_until > now;
        if (paused) timeout = std::min<int>(timeout, static_cast<int>(c.pause_until - now));
        if (!c.up_eof && !paused) ev |= POLLIN;
        const bool may_send = c.have_header && (!(c.h.flags & kGuestHalfClose) || c.up_eof);
        if (may_send && !c.wr_shut &&
            (c.down_sent < c.h.down_len || (c.trailer_ready && c.trailer_sent < kTrailerLen)))
          ev |= POLLOUT;
      }
      pfds.push_back({c.fd, ev, 0});
    }
    if (poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) {
      std::perror("poll");
      return 1;
    }
    const size_t polled = conns.size();  // those accepted below have no pollfd yet
    for (size_t i = 0; i < listeners.size(); ++i) {
      if (!(pfds[i].revents & POLLIN)) continue;
      for (;;) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        const int fd = accept4(listeners[i], reinterpret_cast<sockaddr*>(&ss), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
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
    const uint64_t t = now_ms();
    for (size_t i = 0; i < conns.size(); ++i) {
      ServerConn& c = conns[i];
      const short rev = i < polled ? pfds[listeners.size() + i].revents : short{0};
      if (hold) {
        int queued = 0;
        ioctl(c.fd, SIOCINQ, &queued);
        if (!c.held && static_cast<uint64_t>(queued) >= hold) {
          c.held = true;
          std::printf("holding %d bytes from %s\n", queued, c.peer.c_str());
          std::fflush(stdout);
        }
        continue;
      }
      auto fail = [&](const std::string& why) {
        if (!c.failed) {
          c.failed = true;
          c.why = why;
        }
      };
      if (c.pause_until && c.pause_until <= t) c.pause_until = 0;
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c.up_eof && !c.pause_until) {
        for (int rounds = 0; rounds < 16 && !c.failed && !c.up_eof; ++rounds) {
          size_t want = buf.size();
          if (c.have_header && c.h.server_pause_ms && !c.paused_done &&
              c.up_got < c.h.server_pause_at)
            want = std::min<uint64_t>(want, c.h.server_pause_at - c.up_got);
          const ssize_t n = read(c.fd, buf.data(), want);
          if (n < 0) {
            if (errno != EAGAIN) fail(std::string("read: ") + std::strerror(errno));
            break;
          }
          if (n == 0) {
            c.up_eof = true;
            if (!c.have_header)
              fail("EOF after " + std::to_string(c.hdr_got) + " header bytes");
            else if (c.up_got != c.h.up_len)
              fail("EOF after " + std::to_string(c.up_got) + " of " + std::to_string(c.h.up_len) +
                   " bytes");
            break;
          }
          size_t off = 0;
          const auto un = static_cast<size_t>(n);
          if (!c.have_header) {
            const size_t k = std::min(un, kHeaderLen - c.hdr_got);
            std::memcpy(c.hdr_buf + c.hdr_got, buf.data(), k);
            c.hdr_got += k;
            off = k;
            if (c.hdr_got == kHeaderLen) {
              if (!c.h.decode(c.hdr_buf)) {
                fail("bad header");
                break;
              }
              c.have_header = true;
            }
          }
          if (off < un) {
            const size_t k = un - off;
            if (c.up_got + k > c.h.up_len) {
              fail("more than the announced " + std::to_string(c.h.up_len) + " bytes");
              break;
            }
            const long bad_at = stream_mismatch(c.h.seed, c.up_got, buf.data() + off, k);
            if (bad_at >= 0) {
              fail("byte " + std::to_string(c.up_got + static_cast<uint64_t>(bad_at)) +
                   " of the upload differs");
              break;
            }
            c.up_got += k;
          }
          if (c.have_header && c.h.server_pause_ms && !c.paused_done &&
              c.up_got >= c.h.server_pause_at) {
            c.paused_done = true;
            c.pause_until = now_ms() + c.h.server_pause_ms;
            break;
          }
        }
      }
      const bool may_send = c.have_header && (!(c.h.flags & kGuestHalfClose) || c.up_eof);
      if (!c.failed && may_send && !c.wr_shut && (rev & POLLOUT)) {
        while (c.down_sent < c.h.down_len) {
          const size_t k = std::min<uint64_t>(buf.size(), c.h.down_len - c.down_sent);
          stream_fill(down_seed(c.h.seed), c.down_sent, buf.data(), k);
          const ssize_t n = send(c.fd, buf.data(), k, MSG_NOSIGNAL);
          if (n < 0) {
            if (errno != EAGAIN) fail(std::string("send: ") + std::strerror(errno));
            break;
          }
          c.down_sent += static_cast<uint64_t>(n);
        }
      }
      if (!c.failed && may_send && !c.wr_shut && c.down_sent == c.h.down_len) {
        if (c.h.flags & kHostHalfClose) {
          shutdown(c.fd, SHUT_WR);
          c.wr_shut = true;
        } else if (c.up_got == c.h.up_len) {
          if (!c.trailer_ready) {
            std::memcpy(c.trailer, kTrailerOk, 8);
            put64(c.trailer + 8, c.up_got);
            c.trailer_ready = true;
          }
          while (c.trailer_sent < kTrailerLen) {
            const ssize_t n =
                send(c.fd, c.trailer + c.trailer_sent, kTrailerLen - c.trailer_sent, MSG_NOSIGNAL);
            if (n <= 0) {
              if (n < 0 && errno != EAGAIN) fail(std::string("send: ") + std::strerror(errno));
              break;
            }
            c.trailer_sent += static_cast<size_t>(n);
          }
          if (c.trailer_sent == kTrailerLen) {
            shutdown(c.fd, SHUT_WR);
            c.wr_shut = true;
          }
        }
      }
      const bool done = c.failed || (c.up_eof && c.wr_shut);
      if (done) {
        if (c.failed) {
          ++bad;
          // Tell the client too: a reset, not a clean end.
          if (c.have_header && !(c.h.flags & kHostHalfClose) && !c.wr_shut) {
            linger lg{1, 0};
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
          }
          std::printf("FAIL %s: %s (up %llu/%llu, down %llu/%llu)\n", c.peer.c_str(),
                      c.why.c_str(), static_cast<unsigned long long>(c.up_got),
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
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(), [](const ServerConn& c) { return c.fd < 0; }),
                conns.end());
  }
  std::printf("served %llu ok, %llu failed\n", static_cast<unsigned long long>(ok),
              static_cast<unsigned long long>(bad));
  std::fflush(stdout);
  return 0;
}

// ---- client -----------------------------------------------------------------

struct ClientOpts {
  uint64_t conns = 1;
  uint64_t parallel = 1;
  uint64_t min_up = 0, max_up = 0;
  uint64_t min_down = 0, max_down = 0;
  uint64_t seed = 1;
  uint32_t flags = 0;
  uint64_t pause_at = 0;      // client stops reading after this many download bytes ...
  uint64_t pause_ms = 0;      // ... for this long
  uint64_t server_pause_at = 0;
  uint32_t server_pause_ms = 0;
  int rcvbuf = 0;
  int sndbuf = 0;
  uint64_t idle_ms = 30000;   // no progress on any connection for this long: fail
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
};

std::string progress(const ClientConn& c) {
  return "(connected " + std::string(c.connected ? "yes" : "no") + ", up " +
         std::to_string(c.up_sent) + "/" + std::to_string(c.h.up_len) + ", down " +
         std::to_string(c.down_got) + "/" + std::to_string(c.h.down_len) + ", trailer " +
         std::to_string(c.trailer_got) + "/" + std::to_string(kTrailerLen) +
         (c.eof ? ", EOF seen" : "") + ")";
}

int client(int argc, char** argv) {
  ClientOpts o;
  std::string target;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tcpcheck: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--conns") o.conns = parse_size(next());
    else if (a == "--parallel") o.parallel = parse_size(next());
    else if (a == "--up") o.min_up = o.max_up = parse_size(next());
    else if (a == "--down") o.min_down = o.max_down = parse_size(next());
    else if (a == "--max-up") o.max_up = parse_size(next());
    else if (a == "--max-down") o.max_down = parse_size(next());
    else if (a == "--seed") o.seed = parse_size(next());
    else if (a == "--guest-half-close") o.flags |= kGuestHalfClose;
    else if (a == "--host-half-close") o.flags |= kHostHalfClose;
    else if (a == "--pause-at") o.pause_at = parse_size(next());
    else if (a == "--pause-ms") o.pause_ms = parse_size(next());
    else if (a == "--server-pause-at") o.server_pause_at = parse_size(next());
    else if (a == "--server-pause-ms") o.server_pause_ms = static_cast<uint32_t>(parse_size(next()));
    else if (a == "--rcvbuf") o.rcvbuf = static_cast<int>(parse_size(next()));
    else if (a == "--sndbuf") o.sndbuf = static_cast<int>(parse_size(next()));
    else if (a == "--idle-ms") o.idle_ms = parse_size(next());
    else if (a == "--expect-connect-error") o.expect_connect_error = next();
    else if (a == "--expect-reset") o.expect_reset = true;
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--until-file") o.until_file = next();
    else target = a;
  }
  sockaddr_storage dst{};
  socklen_t dst_len = 0;
  if (target.empty() || !parse_endpoint(target, dst, dst_len)) {
    std::fprintf(stderr, "usage: tcpcheck client [OPTIONS] ADDR:PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uint64_t rng = o.seed;
  auto pick = [&](uint64_t lo, uint64_t hi) {
    rng = splitmix(rng);
    return hi > lo ? lo + rng % (hi - lo + 1) : lo;
  };

  std::vector<ClientConn> active;
  uint64_t started = 0, ok = 0, bad = 0, bytes_up = 0, bytes_down = 0;
  int printed = 0;
  std::vector<uint8_t> buf(256 * 1024);
  std::vector<pollfd> pfds;
  uint64_t last_progress = now_ms();
  bool waiting_for_acks = false;  // a finished connection waits for its last ACK

  auto finish = [&](ClientConn& c, bool good, const std::string& why) {
    c.done = true;
    if (good) {
      ++ok;
    } else {
      ++bad;
      sockaddr_storage local{};
      socklen_t local_len = sizeof local;
      std::string from;
      if (c.fd >= 0 && getsockname(c.fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0)
        from = " from " + addr_text(local);
      if (printed++ < 20)
        std::printf("FAIL conn %llu%s: %s %s\n", static_cast<unsigned long long>(c.id), from.c_str(),
                    why.c_str(), progress(c).c_str());
    }
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
  };

  auto more = [&] {
    return started < o.conns && (o.until_file.empty() || access(o.until_file.c_str(), F_OK) != 0);
  };
  while (more() || !active.empty()) {
    while (active.size() < o.parallel && more()) {
      ClientConn c;
      c.id = started++;
      c.h.flags = o.flags;
      c.h.up_len = pick(o.min_up, o.max_up);
      c.h.down_len = pick(o.min_down, o.max_down);
      c.h.seed = splitmix(o.seed * 1000003 + c.id);
      c.h.server_pause_at = o.server_pause_at;
      c.h.server_pause_ms = o.server_pause_ms;
      c.h.encode(c.hdr);
      c.fd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (o.rcvbuf) setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf);
      if (o.sndbuf) setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &o.sndbuf, sizeof o.sndbuf);
      if (connect(c.fd, reinterpret_cast<sockaddr*>(&dst), dst_len) != 0 && errno != EINPROGRESS) {
        const int e = errno;
        active.push_back(c);
        ClientConn& a = active.back();
        if (o.expect_connect_error == errno_name(e)) {
          std::printf("connect: %s\n", std::strerror(e));
          finish(a, true, "");
        } else {
          finish(a, false, std::string("connect: ") + std::strerror(e));
        }
        continue;
      }
      active.push_back(c);
    }
    active.erase(std::remove_if(active.begin(), active.end(), [](const ClientConn& c) { return c.done; }),
                 active.end());
    if (active.empty()) continue;

    const uint64_t now = now_ms();
    int timeout = waiting_for_acks ? 5 : 1000;
    pfds.clear();
    for (auto& c : active) {
      short ev = 0;
      if (!c.connected) {
        ev = POLLOUT;
      } else {
        const bool paused = c.pause_until > now;
        if (paused) timeout = std::min<int>(timeout, static_cast<int>(c.pause_until - now));
        if (!c.eof && !paused) ev |= POLLIN;
        const bool may_upload = !(c.h.flags & kHostHalfClose) || c.eof;
        if (!c.wr_shut && (c.hdr_sent < kHeaderLen || (may_upload && c.up_sent < c.h.up_len)))
          ev |= POLLOUT;
      }
      pfds.push_back({c.fd, ev, 0});
    }
    if (poll(pfds.data(), pfds.size(), timeout) < 0 && errno != EINTR) {
      std::perror("poll");
      return 1;
    }
    bool progressed = false;
    waiting_for_acks = false;
    for (size_t i = 0; i < active.size(); ++i) {
      ClientConn& c = active[i];
      const short rev = pfds[i].revents;
      if (!c.connected) {
        if (!rev) continue;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        progressed = true;
        if (err != 0) {
          if (o.expect_connect_error == errno_name(err)) {
            std::printf("connect: %s\n", std::strerror(err));
            finish(c, true, "");
          } else {
            finish(c, false, std::string("connect: ") + std::strerror(err));
          }
          continue;
        }
        if (!o.expect_connect_error.empty()) {
          finish(c, false, "connected, but " + o.expect_connect_error + " was expected");
          continue;
        }
        c.connected = true;
        continue;
      }
      if (c.pause_until && c.pause_until <= now_ms()) {
        ioctl(c.fd, SIOCINQ, &c.queued_at_pause_end);
        c.pause_until = 0;
        if (!o.quiet)
          std::printf("conn %llu: reading again; %d bytes were queued\n",
                      static_cast<unsigned long long>(c.id), c.queued_at_pause_end);
      }
      // Upload.
      if (rev & POLLOUT) {
        int send_err = 0;
        while (c.hdr_sent < kHeaderLen) {
          const ssize_t n = send(c.fd, c.hdr + c.hdr_sent, kHeaderLen - c.hdr_sent, MSG_NOSIGNAL);
          if (n < 0) {
            send_err = errno;
            break;
          }
          c.hdr_sent += static_cast<size_t>(n);
          progressed = true;
        }
        const bool may_upload = !(c.h.flags & kHostHalfClose) || c.eof;
        while (!send_err && c.hdr_sent == kHeaderLen && may_upload && c.up_sent < c.h.up_len) {
          const size_t k = std::min<uint64_t>(buf.size(), c.h.up_len - c.up_sent);
          stream_fill(c.h.seed, c.up_sent, buf.data(), k);
          const ssize_t n = send(c.fd, buf.data(), k, MSG_NOSIGNAL);
          if (n < 0) {
            send_err = errno;
            break;
          }
          c.up_sent += static_cast<uint64_t>(n);
          bytes_up += static_cast<uint64_t>(n);
          progressed = true;
        }
        if (send_err && send_err != EAGAIN) {
          if (o.expect_reset && send_err == ECONNRESET) {
            std::printf("send: %s\n", std::strerror(send_err));
            finish(c, true, "");
          } else {
            finish(c, false, std::string("send: ") + std::strerror(send_err));
          }
          continue;
        }
      }
      if (!c.wr_shut && c.hdr_sent == kHeaderLen && c.up_sent == c.h.up_len && !o.expect_reset &&
          (!(c.h.flags & kHostHalfClose) || c.eof)) {
        shutdown(c.fd, SHUT_WR);
        c.wr_shut = true;
      }
      // Download.
      if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c.eof && !c.pause_until) {
        for (int rounds = 0; rounds < 16; ++rounds) {
          size_t want = buf.size();
          if (o.pause_ms && !c.paused_done && c.down_got < o.pause_at)
            want = std::min<uint64_t>(want, o.pause_at - c.down_got);
          const ssize_t n = read(c.fd, buf.data(), want);
          if (n < 0) {
            const int e = errno;
            if (e == EAGAIN) break;
            if (o.expect_reset && e == ECONNRESET) {
              std::printf("read: %s\n", std::strerror(e));
              finish(c, true, "");
            } else {
              finish(c, false, std::string("read: ") + std::strerror(e));
            }
            break;
          }
          progressed = true;
          if (n == 0) {
            c.eof = true;
            if (o.expect_reset) {
              finish(c, false, "EOF (a FIN), where a reset was expected");
            } else if (c.down_got != c.h.down_len) {
              finish(c, false, "EOF before the whole download");
            } else if (!(c.h.flags & kHostHalfClose) && c.trailer_got != kTrailerLen) {
              finish(c, false, "EOF before the server's verdict (trailer)");
            }
            break;
          }
          auto un = static_cast<size_t>(n);
          if (o.expect_reset) continue;  // whatever the server says, a reset is what counts
          size_t off = 0;
          if (c.down_got < c.h.down_len) {
            const size_t k = std::min<uint64_t>(un, c.h.down_len - c.down_got);
            const long bad_at = stream_mismatch(down_seed(c.h.seed), c.down_got, buf.data(), k);
            if (bad_at >= 0) {
              finish(c, false, "byte " + std::to_string(c.down_got + static_cast<uint64_t>(bad_at)) +
                                   " of the download differs");
              break;
            }
            c.down_got += k;
            bytes_down += k;
            off = k;
          }
          if (off < un) {
            const size_t k = un - off;
            if ((c.h.flags & kHostHalfClose) || c.trailer_got + k > kTrailerLen) {
              finish(c, false, "more bytes than announced");
              break;
            }
            std::memcpy(c.trailer + c.trailer_got, buf.data() + off, k);
            c.trailer_got += k;
            if (c.trailer_got == kTrailerLen && std::memcmp(c.trailer, kTrailerOk, 8) != 0) {
              finish(c, false, std::memcmp(c.trailer, kTrailerBad, 8) == 0
                                   ? "the server found the upload bad"
                                   : "garbled trailer");
              break;
            }
            if (c.trailer_got == kTrailerLen && get64(c.trailer + 8) != c.h.up_len) {
              finish(c, false, "the server verified " + std::to_string(get64(c.trailer + 8)) +
                                   " upload bytes");
              break;
            }
          }
          if (o.pause_ms && !c.paused_done && c.down_got >= o.pause_at) {
            c.paused_done = true;
            c.pause_until = now_ms() + o.pause_ms;
            break;
          }
        }
      }
      // Done once the peer acknowledged everything we sent, our FIN too:
      // until then it sits in this kernel, and would be lost if the guest
      // (and with it tapir run) ended now. (The trailer proves it for the
      // upload, but not in the host-half-close order, which has none.)
      int unacked = 0;
      if (!c.done && c.eof && c.wr_shut && !o.expect_reset && ioctl(c.fd, SIOCOUTQ, &unacked) == 0 &&
          unacked > 0) {
        tcp_info ti{};
        socklen_t ti_len = sizeof ti;
        int err = 0;
        socklen_t err_len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
        if (getsockopt(c.fd, IPPROTO_TCP, TCP_INFO, &ti, &ti_len) == 0 && ti.tcpi_state == TCP_CLOSE) {
          finish(c, false, "the connection ended (" + std::string(err ? std::strerror(err) : "closed") +
                               ") with " + std::to_string(unacked) +
                               " bytes (a FIN counts 1) never acknowledged");
          continue;
        }
        waiting_for_acks = true;
        continue;
      }
      if (!c.done && c.eof && c.wr_shut && !o.expect_reset) {
        if (o.pause_ms && c.queued_at_pause_end >= 0 && !o.quiet)
          std::printf("conn %llu: complete after the pause\n", static_cast<unsigned long long>(c.id));
        finish(c, true, "");
      }
    }
    if (progressed) {
      last_progress = now_ms();
    } else if (now_ms() - last_progress > o.idle_ms + o.pause_ms) {
      for (auto& c : active) {
        if (c.done) continue;
        int unacked = 0;
        ioctl(c.fd, SIOCOUTQ, &unacked);
        finish(c, false, "no progress for " + std::to_string(o.idle_ms / 1000) + " s, " +
                             std::to_string(unacked) + " bytes sent but not acknowledged");
      }
    }
  }
  std::printf("tcpcheck: %llu ok, %llu failed, %llu bytes up, %llu bytes down\n",
              static_cast<unsigned long long>(ok), static_cast<unsigned long long>(bad),
              static_cast<unsigned long long>(bytes_up), static_cast<unsigned long long>(bytes_down));
  return bad == 0 ? 0 : 1;
}

// ---- gen --------------------------------------------------------------------

int gen(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: tcpcheck gen SEED BYTES\n");
    return 2;
  }
  const uint64_t seed = parse_size(argv[0]);
  const uint64_t total = parse_size(argv[1]);
  std::vector<uint8_t> buf(1 << 20);
  // Whole 8-byte words at a time: the same bytes as stream_fill, faster.
  for (uint64_t pos = 0; pos < total;) {
    const size_t k = std::min<uint64_t>(buf.size(), total - pos);
    for (size_t i = 0; i < k; i += 8) {
      const uint64_t w = splitmix(seed ^ ((pos + i) >> 3) * 0x100000001b3ULL);
      uint8_t bytes[8];
      put64(bytes, w);
      std::memcpy(buf.data() + i, bytes, std::min<size_t>(8, k - i));
    }
    for (size_t done = 0; done < k;) {
      const ssize_t n = write(1, buf.data() + done, k - done);
      if (n <= 0) {
        std::perror("tcpcheck gen: write");
        return 1;
      }
      done += static_cast<size_t>(n);
    }
    pos += k;
  }
  return 0;
}

}  // namespace

int garbage(int argc, char** argv);  // tcpgarbage.cpp

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tcpcheck serve|client|gen|garbage ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "serve") return serve(argc - 2, argv + 2);
  if (mode == "client") return client(argc - 2, argv + 2);
  if (mode == "gen") return gen(argc - 2, argv + 2);
  if (mode == "garbage") return garbage(argc - 2, argv + 2);
  std::fprintf(stderr, "tcpcheck: unknown mode %s\n", mode.c_str());
  return 2;
}
