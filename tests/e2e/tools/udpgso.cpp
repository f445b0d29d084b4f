// udpgso HOST PORT SEGMENTS SIZE: sends SEGMENTS datagrams of SIZE bytes in
// one sendmsg() with UDP_SEGMENT (the guest's kernel hands the tap one
// segmentation-offload frame), to a UDP echo server, and checks that every
// datagram comes back whole and distinct. Exit 0 when all came back.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <vector>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: udpgso HOST PORT SEGMENTS SIZE\n");
    return 2;
  }
  const int segments = std::atoi(argv[3]);
  const int size = std::atoi(argv[4]);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || segments < 2 || size < 8) return 2;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    std::perror("udpgso: socket");
    return 1;
  }
  // Each datagram: its index in every byte.
  std::vector<unsigned char> buf(static_cast<size_t>(segments) * static_cast<size_t>(size));
  for (int i = 0; i < segments; ++i) std::memset(&buf[static_cast<size_t>(i * size)], 'A' + i % 26, static_cast<size_t>(size));
  iovec iov{buf.data(), buf.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  const uint16_t gso = static_cast<uint16_t>(size);
  std::memcpy(CMSG_DATA(c), &gso, sizeof gso);
  if (sendmsg(fd, &msg, 0) != static_cast<ssize_t>(buf.size())) {
    std::perror("udpgso: sendmsg");
    return 1;
  }
  std::multiset<int> seen;
  std::vector<unsigned char> in(65536);
  for (int got = 0; got < segments; ++got) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 3000) != 1) break;
    const ssize_t n = recv(fd, in.data(), in.size(), 0);
    if (n != size) {
      std::fprintf(stderr, "udpgso: a datagram of %zd bytes, not %d\n", n, size);
      return 1;
    }
    for (ssize_t k = 1; k < n; ++k) {
      if (in[static_cast<size_t>(k)] != in[0]) {
        std::fprintf(stderr, "udpgso: a datagram mixes segments\n");
        return 1;
      }
    }
    seen.insert(in[0]);
  }
  const bool ok = static_cast<int>(seen.size()) == segments;
  std::printf("udpgso: %zu of %d datagrams came back whole\n", seen.size(), segments);
  return ok ? 0 : 1;
}
