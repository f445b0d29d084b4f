// tcpcheck: the TCP end-to-end tests' client and server (tests/e2e/tcp_*.sh).
// socat moves one stream; this moves many at once and checks every byte.
//
//   tcpcheck serve [--tell-peer | --hold BYTES] ADDR:PORT...
//   tcpcheck client [OPTIONS] ADDR:PORT     (options: see client())
//   tcpcheck gen SEED BYTES                  (a reproducible stream on stdout)
//   tcpcheck urgent serve|send ADDR:PORT SEED BYTES EVERY
//                                            (stream(SEED) with urgent bytes)
// (Bad frames onto a link are tcpgarbage's, a program of its own.)
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
//
// Files: tcpcheck_proto.{hpp,cpp} (the header and the stream), the server
// (tcpcheck_server.cpp), the client (tcpcheck_client.cpp); here: main, gen
// and urgent.

#include <errno.h>
#include <netinet/in.h>
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

// Writes all of [p, p+n) with `flags`; false on an error (reported).
bool send_all(int fd, const uint8_t* p, size_t n, int flags) {
  while (n > 0) {
    const ssize_t k = send(fd, p, n, flags | MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR) continue;
      std::perror("tcpcheck urgent: send");
      return false;
    }
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

// The bytes of `tcpcheck gen SEED BYTES`, with byte EVERY-1, 2*EVERY-1, ...
// each sent alone as urgent data (MSG_OOB), the rest in between as
// ordinary data; then the end of the stream, and the peer's end is awaited
// (so that nothing is reset away). Prints "sent N bytes, K urgent".
int send_with_urgent(int fd, uint64_t seed, uint64_t total, uint64_t every) {
  std::vector<uint8_t> buf(every);
  uint64_t urgent = 0;
  for (uint64_t pos = 0; pos < total;) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(every, total - pos));
    stream_fill(seed, pos, buf.data(), k);
    const bool oob = k == every;
    if (!send_all(fd, buf.data(), oob ? k - 1 : k, 0)) return 1;
    if (oob && !send_all(fd, buf.data() + k - 1, 1, MSG_OOB)) return 1;
    urgent += oob ? 1 : 0;
    pos += k;
  }
  shutdown(fd, SHUT_WR);
  uint8_t sink[4096];
  while (read(fd, sink, sizeof sink) > 0) {
  }
  std::printf("sent %llu bytes, %llu urgent\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(urgent));
  return 0;
}

int urgent(int argc, char** argv) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const std::string mode = argc == 5 ? argv[0] : "";
  if ((mode != "serve" && mode != "send") || !parse_endpoint(argv[1], ss, len)) {
    std::fprintf(stderr, "usage: tcpcheck urgent serve|send ADDR:PORT SEED BYTES EVERY\n");
    return 2;
  }
  const uint64_t seed = parse_size(argv[2]);
  const uint64_t total = parse_size(argv[3]);
  const uint64_t every = std::max<uint64_t>(parse_size(argv[4]), 2);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (mode == "serve") {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 1) != 0) {
      std::fprintf(stderr, "tcpcheck: listen on %s: %s\n", argv[1], std::strerror(errno));
      return 1;
    }
    std::printf("listening\n");
    std::fflush(stdout);
    const int conn = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    close(fd);
    fd = conn;
  } else if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::fprintf(stderr, "tcpcheck: connect to %s: %s\n", argv[1], std::strerror(errno));
    return 1;
  }
  if (fd < 0) {
    std::perror("tcpcheck urgent: accept");
    return 1;
  }
  const int rc = send_with_urgent(fd, seed, total, every);
  close(fd);
  return rc;
}

}  // namespace
}  // namespace tcpcheck

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tcpcheck serve|client|gen|urgent ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "serve") return tcpcheck::serve(argc - 2, argv + 2);
  if (mode == "client") return tcpcheck::client(argc - 2, argv + 2);
  if (mode == "gen") return tcpcheck::gen(argc - 2, argv + 2);
  if (mode == "urgent") return tcpcheck::urgent(argc - 2, argv + 2);
  std::fprintf(stderr, "tcpcheck: unknown mode %s\n", mode.c_str());
  return 2;
}
