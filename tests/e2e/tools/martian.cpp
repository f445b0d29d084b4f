// martian: a hostile guest aiming at the host's loopback (martian_test.sh).
//
//   martian listen PORT
//     In the host namespace: TCP and UDP sockets on 0.0.0.0:PORT and
//     [::]:PORT (IPV6_V6ONLY), which cover 127.0.0.0/8, ::1 and every other
//     local address. Prints "listening", then "contact tcp|udp PEER" for
//     each connection or datagram that arrives. Runs until killed.
//
//   martian send IFACE --port PORT [--bcast4 A.B.C.D]
//     In the guest, as root: hand-made frames from an AF_PACKET socket on
//     IFACE (the tap), to the gateway's MAC, so the guest's own routing never
//     sees them: a TCP SYN, a UDP datagram and an ICMP echo request to PORT
//     of every martian destination — 127.0.0.1, 127.1.2.3, 0.0.0.0,
//     224.0.0.1, 255.255.255.255, the subnet broadcast (--bcast4, default
//     10.0.2.255), 240.0.0.1, ::1, ::, ff02::1, ::ffff:127.0.0.1,
//     ::ffff:0.0.0.0 and ::127.0.0.1. Then it listens on IFACE for what comes
//     back (at most 30 s, less once every expected answer is in) and prints
//       sent N frames
//       expect {"loopback":L,...}           (frames per reason, JSON)
//       answers: R resets of E, P prohibited of Q, C contacts
//     where a reset answers a SYN, "prohibited" is an ICMP destination
//     unreachable, administratively prohibited (ICMPv6: code 1) quoting
//     one of our datagrams or echo requests, and a contact is anything that
//     shows the destination was reached (a SYN-ACK, a UDP reply, an echo
//     reply). Exits 0 when it could send.

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) s += static_cast<uint32_t>(p[n - 1] << 8);
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s & 0xffff);
}

constexpr uint8_t kSyn = 0x02, kRst = 0x04, kAck = 0x10;

struct Target {
  std::string text;
  std::string reason;  // tapir's name for it (flows/nat.hpp)
  bool answered;       // tapir should answer (not multicast or broadcast)
  bool v6;
  std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes
};

struct Link {
  int fd = -1;
  int ifindex = 0;
  std::array<uint8_t, 6> mac{}, gw_mac{};
  std::array<uint8_t, 16> ip4{}, ip6{};  // IPv4 in the first 4 bytes
  uint64_t sent = 0;
};

// The L4 part of one probe: TCP SYN, UDP datagram or echo request.
enum class Kind { kTcp, kUdp, kEcho };

Bytes l4_bytes(Kind k, bool v6, uint16_t sport, uint16_t port) {
  if (k == Kind::kTcp) {
    Bytes t(20, 0);
    put16(&t[0], sport);
    put16(&t[2], port);
    t[4] = 0x12, t[5] = 0x34, t[6] = 0x56, t[7] = 0x78;
    t[12] = 5 << 4;
    t[13] = kSyn;
    put16(&t[14], 64240);
    return t;
  }
  if (k == Kind::kUdp) {
    const char msg[] = "martian";
    Bytes u(8 + sizeof msg - 1, 0);
    put16(&u[0], sport);
    put16(&u[2], port);
    put16(&u[4], static_cast<uint16_t>(u.size()));
    std::memcpy(&u[8], msg, sizeof msg - 1);
    return u;
  }
  Bytes e(8 + 16, 0x5a);
  e[0] = v6 ? 128 : 8;  // echo request
  e[1] = 0;
  e[2] = e[3] = 0;
  put16(&e[4], sport);  // identifier
  put16(&e[6], 1);
  return e;
}

uint8_t proto_of(Kind k, bool v6) {
  if (k == Kind::kTcp) return IPPROTO_TCP;
  if (k == Kind::kUdp) return IPPROTO_UDP;
  return v6 ? uint8_t{IPPROTO_ICMPV6} : uint8_t{IPPROTO_ICMP};
}

Bytes frame(const Link& l, const Target& t, Kind k, uint16_t sport, uint16_t port) {
  Bytes l4 = l4_bytes(k, t.v6, sport, port);
  const uint8_t proto = proto_of(k, t.v6);
  const size_t csum_at = k == Kind::kTcp ? 16 : k == Kind::kUdp ? 6 : 2;
  uint32_t s = 0;
  if (t.v6 || k != Kind::kEcho) {  // pseudo-header (not for ICMPv4)
    const size_t alen = t.v6 ? 16 : 4;
    s = sum16(t.v6 ? l.ip6.data() : l.ip4.data(), alen, s);
    s = sum16(t.addr.data(), alen, s);
    s += proto + static_cast<uint32_t>(l4.size());
  }
  uint16_t c = fold(sum16(l4.data(), l4.size(), s));
  if (k == Kind::kUdp && c == 0) c = 0xffff;
  put16(&l4[csum_at], c);
  Bytes f(14, 0);
  std::memcpy(&f[0], l.gw_mac.data(), 6);
  std::memcpy(&f[6], l.mac.data(), 6);
  put16(&f[12], t.v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IP);
  if (t.v6) {
    Bytes ip(40, 0);
    ip[0] = 0x60;
    put16(&ip[4], static_cast<uint16_t>(l4.size()));
    ip[6] = proto;
    ip[7] = 64;
    std::memcpy(&ip[8], l.ip6.data(), 16);
    std::memcpy(&ip[24], t.addr.data(), 16);
    f.insert(f.end(), ip.begin(), ip.end());
  } else {
    Bytes ip(20, 0);
    ip[0] = 0x45;
    put16(&ip[2], static_cast<uint16_t>(20 + l4.size()));
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = proto;
    std::memcpy(&ip[12], l.ip4.data(), 4);
    std::memcpy(&ip[16], t.addr.data(), 4);
    put16(&ip[10], fold(sum16(ip.data(), 20)));
    f.insert(f.end(), ip.begin(), ip.end());
  }
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

bool read_gw_mac(Link& l, const std::string& gw) {
  std::ifstream arp("/proc/net/arp");
  std::string line;
  std::getline(arp, line);
  while (std::getline(arp, line)) {
    std::istringstream in(line);
    std::string ip, hw, flags, mac;
    in >> ip >> hw >> flags >> mac;
    if (ip != gw) continue;
    unsigned m[6];
    if (std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) !=
        6)
      return false;
    for (size_t i = 0; i < 6; ++i) l.gw_mac[i] = static_cast<uint8_t>(m[i]);
    return mac != "00:00:00:00:00:00";
  }
  return false;
}

bool read_ip6(Link& l, const std::string& ifname) {
  std::ifstream in("/proc/net/if_inet6");
  std::string hex, idx, plen, scope, flags, name;
  while (in >> hex >> idx >> plen >> scope >> flags >> name) {
    if (name != ifname || scope != "00" || hex.size() != 32) continue;
    for (size_t i = 0; i < 16; ++i)
      l.ip6[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    return true;
  }
  return false;
}

Target target(const char* text, const char* reason, bool answered) {
  Target t{text, reason, answered, std::strchr(text, ':') != nullptr, {}};
  if (inet_pton(t.v6 ? AF_INET6 : AF_INET, text, t.addr.data()) != 1) {
    std::fprintf(stderr, "martian: bad address %s\n", text);
    std::exit(2);
  }
  return t;
}

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int send_all(int argc, char** argv) {
  if (argc < 1) {
    std::fprintf(stderr, "usage: martian send IFACE --port P [--bcast4 ADDR]\n");
    return 2;
  }
  const std::string ifname = argv[0];
  uint16_t port = 0;
  std::string bcast4 = "10.0.2.255", gw4 = "10.0.2.2";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--port")
      port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    else if (a == "--bcast4")
      bcast4 = argv[i + 1];
    else {
      std::fprintf(stderr, "martian: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (port == 0) {
    std::fprintf(stderr, "martian: --port is required\n");
    return 2;
  }
  Link l;
  l.fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (l.fd < 0) {
    std::fprintf(stderr, "martian: AF_PACKET socket: %s\n", std::strerror(errno));
    return 1;
  }
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  if (ioctl(l.fd, SIOCGIFINDEX, &ifr) != 0) {
    std::fprintf(stderr, "martian: no interface %s\n", ifname.c_str());
    return 1;
  }
  l.ifindex = ifr.ifr_ifindex;
  ioctl(l.fd, SIOCGIFHWADDR, &ifr);
  std::memcpy(l.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  const int s4 = socket(AF_INET, SOCK_DGRAM, 0);
  if (ioctl(s4, SIOCGIFADDR, &ifr) != 0) {
    std::fprintf(stderr, "martian: %s has no IPv4 address\n", ifname.c_str());
    return 1;
  }
  close(s4);
  sockaddr_in sin{};
  std::memcpy(&sin, &ifr.ifr_addr, sizeof sin);
  std::memcpy(l.ip4.data(), &sin.sin_addr, 4);
  if (!read_gw_mac(l, gw4)) {
    std::fprintf(stderr, "martian: no ARP entry for %s (talk to it first)\n", gw4.c_str());
    return 1;
  }
  if (!read_ip6(l, ifname)) {
    std::fprintf(stderr, "martian: no global IPv6 address on %s\n", ifname.c_str());
    return 1;
  }
  sockaddr_ll bind_to{};
  bind_to.sll_family = AF_PACKET;
  bind_to.sll_protocol = htons(ETH_P_ALL);
  bind_to.sll_ifindex = l.ifindex;
  if (bind(l.fd, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    std::fprintf(stderr, "martian: bind: %s\n", std::strerror(errno));
    return 1;
  }

  const std::vector<Target> targets = {
      target("127.0.0.1", "loopback", true),
      target("127.1.2.3", "loopback", true),
      target("0.0.0.0", "unspecified", true),
      target("224.0.0.1", "multicast", false),
      target("255.255.255.255", "broadcast", false),
      target(bcast4.c_str(), "broadcast", false),
      target("240.0.0.1", "reserved", true),
      target("::1", "loopback", true),
      target("::", "unspecified", true),
      target("ff02::1", "multicast", false),
      target("::ffff:127.0.0.1", "v4_mapped", true),
      target("::ffff:0.0.0.0", "v4_mapped", true),
      target("::127.0.0.1", "v4_mapped", true),
  };
  std::map<std::string, int> expect;
  for (const char* r :
       {"loopback", "unspecified", "multicast", "broadcast", "reserved", "v4_mapped"})
    expect[r] = 0;
  int want_rst = 0, want_prohibited = 0;
  // Every probe has its own source port / echo identifier, so an answer
  // names the probe it answers.
  uint16_t sport = 30000;
  for (const Target& t : targets) {
    for (Kind k : {Kind::kTcp, Kind::kUdp, Kind::kEcho}) {
      const Bytes f = frame(l, t, k, sport++, port);
      sockaddr_ll to{};
      to.sll_family = AF_PACKET;
      to.sll_ifindex = l.ifindex;
      to.sll_halen = 6;
      std::memcpy(to.sll_addr, l.gw_mac.data(), 6);
      if (sendto(l.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
        std::fprintf(stderr, "martian: send to %s: %s\n", t.text.c_str(), std::strerror(errno));
        return 1;
      }
      ++l.sent;
      ++expect[t.reason];
      if (t.answered) (k == Kind::kTcp ? want_rst : want_prohibited)++;
    }
  }
  std::printf("sent %llu frames\n", static_cast<unsigned long long>(l.sent));
  std::printf("expect {");
  const char* sep = "";
  for (const auto& [r, n] : expect) {
    std::printf("%s\"%s\":%d", sep, r.c_str(), n);
    sep = ",";
  }
  std::printf("}\n");
  std::fflush(stdout);

  // What comes back, for at most 30 s (normally: until every answer is in).
  int rst = 0, prohibited = 0, contacts = 0;
  const int64_t deadline = now_ms() + 30000;
  uint8_t buf[70000];
  while ((rst < want_rst || prohibited < want_prohibited) && now_ms() < deadline) {
    pollfd p{l.fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(deadline - now_ms())) <= 0) continue;
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    const ssize_t n = recvfrom(l.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 14 || from.sll_pkttype == PACKET_OUTGOING) continue;
    const uint16_t type = get16(buf + 12);
    const uint8_t* ip = buf + 14;
    const size_t len = static_cast<size_t>(n) - 14;
    uint8_t proto;
    const uint8_t* l4;
    size_t l4len;
    if (type == ETHERTYPE_IP && len >= 20) {
      const size_t ihl = static_cast<size_t>(ip[0] & 0xf) * 4;
      if (ihl < 20 || len < ihl) continue;
      proto = ip[9], l4 = ip + ihl, l4len = len - ihl;
    } else if (type == ETHERTYPE_IPV6 && len >= 40) {
      proto = ip[6], l4 = ip + 40, l4len = len - 40;
    } else {
      continue;
    }
    if (proto == IPPROTO_TCP && l4len >= 20) {
      const uint16_t dport = get16(l4 + 2), src_port = get16(l4);
      if (dport < 30000 || dport >= sport || src_port != port) continue;
      if ((l4[13] & kRst) != 0)
        ++rst;
      else if ((l4[13] & (kSyn | kAck)) == (kSyn | kAck))
        ++contacts;
    } else if (proto == IPPROTO_UDP && l4len >= 8) {
      if (get16(l4) == port && get16(l4 + 2) >= 30000 && get16(l4 + 2) < sport) ++contacts;
    } else if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && l4len >= 8) {
      const bool v6 = proto == IPPROTO_ICMPV6;
      if (l4[0] == (v6 ? 129 : 0)) {  // echo reply
        if (get16(l4 + 4) >= 30000 && get16(l4 + 4) < sport) ++contacts;
      } else if (l4[0] == (v6 ? 1 : 3) && l4[1] == (v6 ? 1 : 13)) {  // admin prohibited
        // The quoted packet's source port (UDP) or identifier (echo).
        const size_t qip = v6 ? 40 : static_cast<size_t>(l4[8] & 0xf) * 4;
        if (l4len < 8 + qip + 8) continue;
        const uint8_t* q = l4 + 8 + qip;
        const uint16_t id = get16(q + (l4[8 + (v6 ? 6 : 9)] == IPPROTO_UDP ? 0 : 4));
        if (id >= 30000 && id < sport) ++prohibited;
      }
    }
  }
  std::printf("answers: %d resets of %d, %d prohibited of %d, %d contacts\n", rst, want_rst,
              prohibited, want_prohibited, contacts);
  return 0;
}

int listen_all(int argc, char** argv) {
  if (argc < 1) {
    std::fprintf(stderr, "usage: martian listen PORT\n");
    return 2;
  }
  const uint16_t port = static_cast<uint16_t>(std::atoi(argv[0]));
  std::vector<pollfd> fds;
  std::vector<int> types;
  for (int family : {AF_INET, AF_INET6}) {
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
      const int fd = socket(family, type | SOCK_CLOEXEC, 0);
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_storage ss{};
      socklen_t len;
      if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        len = sizeof *a;
      } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        len = sizeof *a;
      }
      if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
          (type == SOCK_STREAM && listen(fd, 64) != 0)) {
        std::fprintf(stderr, "martian listen: %s\n", std::strerror(errno));
        return 1;
      }
      fds.push_back({fd, POLLIN, 0});
      types.push_back(type);
    }
  }
  std::printf("listening on port %u (tcp, udp; 0.0.0.0 and [::])\n", port);
  std::fflush(stdout);
  while (true) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      sockaddr_storage peer{};
      socklen_t pl = sizeof peer;
      if (types[i] == SOCK_STREAM) {
        const int c = accept(fds[i].fd, reinterpret_cast<sockaddr*>(&peer), &pl);
        if (c >= 0) close(c);
      } else {
        char b[2048];
        recvfrom(fds[i].fd, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&peer), &pl);
      }
      char host[INET6_ADDRSTRLEN] = "?";
      if (peer.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&peer)->sin_addr, host, sizeof host);
      } else if (peer.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr, host, sizeof host);
      }
      std::printf("contact %s %s\n", types[i] == SOCK_STREAM ? "tcp" : "udp", host);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "send") == 0) return send_all(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "listen") == 0) return listen_all(argc - 2, argv + 2);
  std::fprintf(stderr, "usage: martian send IFACE --port P | martian listen PORT\n");
  return 2;
}
