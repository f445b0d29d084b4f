// udpstream --echo HOST PORT: a UDP echo server (each datagram straight
// back to its sender), for the stream below.
// udpstream HOST PORT BYTES [SIZE]: sends BYTES in numbered datagrams of
// SIZE bytes (default 1400) to a UDP echo server, at most 32 (and 96 KiB)
// unanswered at a time (so no socket buffer on the way can overflow), and
// checks every
// echo: its sequence number is the next expected one (nothing lost,
// reordered or duplicated) and its payload matches what was sent (a
// 64-bit hash of the sequence number fills it). Prints one line; exit 0
// when every datagram came back in order and intact.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void fill(std::vector<unsigned char>& b, uint64_t seq) {
  std::memcpy(b.data(), &seq, 8);
  for (size_t i = 8; i + 8 <= b.size(); i += 8) {
    const uint64_t v = mix(seq * 1000003 + i);
    std::memcpy(&b[i], &v, 8);
  }
}

}  // namespace

int echo(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* ai = nullptr;
  if (getaddrinfo(host, port, &hints, &ai) != 0) return 2;
  const int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    std::perror("udpstream --echo");
    return 1;
  }
  freeaddrinfo(ai);
  std::vector<unsigned char> buf(65536);
  while (true) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n >= 0) (void)sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--echo") == 0) return echo(argv[2], argv[3]);
  if (argc < 4) {
    std::fprintf(stderr, "usage: udpstream HOST PORT BYTES [SIZE]\n");
    return 2;
  }
  const uint64_t total = std::strtoull(argv[3], nullptr, 10);
  const size_t size = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 1400;
  if (size < 16 || size % 8 != 0) return 2;
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* ai = nullptr;
  if (getaddrinfo(argv[1], argv[2], &hints, &ai) != 0) return 2;
  const int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    std::perror("udpstream");
    return 1;
  }
  freeaddrinfo(ai);  // (a leak the sanitizer build would abort on, losing stdout)
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const uint64_t count = (total + size - 1) / size;
  // At most 32 datagrams and 96 KiB in flight: every socket buffer on the
  // way (212 KiB by default) holds that, so nothing may be dropped.
  const uint64_t kWindow = std::max<uint64_t>(1, std::min<uint64_t>(32, (96 * 1024) / size));
  std::vector<unsigned char> out(size), in(size + 16), want(size);
  // First a probe, repeated until it comes back: neighbour resolution and
  // flow setup on the way may legitimately drop the first datagrams of a
  // fresh path; the stream after it may lose nothing.
  bool path_up = false;
  for (int i = 0; i < 25 && !path_up; ++i) {
    fill(out, ~uint64_t{0});
    (void)send(fd, out.data(), size, 0);
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, 200) == 1) {
      const ssize_t n = recv(fd, in.data(), in.size(), 0);
      if (n == static_cast<ssize_t>(size) && std::memcmp(in.data(), out.data(), size) == 0) path_up = true;
      if (path_up) break;
    }
  }
  if (!path_up) {
    std::printf("udpstream: the probe never came back: no path\n");
    return 1;
  }
  // Late copies of the probe are skipped below.
  uint64_t sent = 0, got = 0;
  while (got < count) {
    while (sent < count && sent - got < kWindow) {
      fill(out, sent);
      if (send(fd, out.data(), size, 0) != static_cast<ssize_t>(size)) {
        std::perror("udpstream: send");
        return 1;
      }
      ++sent;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) {
      std::printf("udpstream: %llu of %llu datagrams came back in order and intact; then silence\n",
                  static_cast<unsigned long long>(got), static_cast<unsigned long long>(count));
      return 1;
    }
    const ssize_t n = recv(fd, in.data(), in.size(), 0);
    if (n >= 8) {
      uint64_t seq = 0;
      std::memcpy(&seq, in.data(), 8);
      if (seq == ~uint64_t{0}) continue;  // a late copy of the probe
    }
    fill(want, got);
    if (n != static_cast<ssize_t>(size) || std::memcmp(in.data(), want.data(), size) != 0) {
      uint64_t seq = 0;
      if (n >= 8) std::memcpy(&seq, in.data(), 8);
      std::printf("udpstream: datagram %llu: got %zd bytes with sequence %llu, or a corrupt payload\n",
                  static_cast<unsigned long long>(got), n, static_cast<unsigned long long>(seq));
      return 1;
    }
    ++got;
  }
  std::printf("udpstream: all %llu datagrams (%llu bytes) came back in order and intact\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(count * size));
  return 0;
}
