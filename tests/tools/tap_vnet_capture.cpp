// tap_vnet_capture: capture what the Linux kernel writes into a tap that has
// IFF_VNET_HDR and offloads switched on, one file per frame, for tapir's unit
// tests and fuzz seeds (tests/data/vnet/, made by tests/data/capture.sh).
//
// Standalone on purpose: libc and Linux headers only, no project code.
//   g++ -std=c++20 -O2 -Wall -Wextra -o tap_vnet_capture tap_vnet_capture.cpp
//
// Modes
//   tap_vnet_capture capture --tap NAME --out DIR --prefix P
//                    [--count N] [--timeout SEC] [--ready FILE] [--dst ADDR]
//       Opens /dev/net/tun (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR), creating the tap
//       or attaching to a persistent one, sets a 12-byte vnet header
//       (virtio_net_hdr_mrg_rxbuf layout, little-endian) and offers
//       TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6|TUN_F_USO4|TUN_F_USO6, falling back
//       to fewer flags if the kernel refuses. Then it reads up to N frames
//       (stopping after SEC seconds in total) and writes each one as
//       DIR/P-<n>.bin = 12-byte vnet header + Ethernet frame, n = 1, 2, ...
//       --dst keeps only IPv4/IPv6 frames whose destination is ADDR.
//       --ready names a file created once the tap is attached (carrier up).
//       One summary line per kept frame goes to stdout.
//
//   tap_vnet_capture tcp-repair-send --src ADDR --sport P --dst ADDR --dport P
//                    [--bytes N] [--hold-ms MS]
//       Makes an ESTABLISHED TCP socket without a handshake (TCP_REPAIR,
//       needs CAP_NET_ADMIN), writes N bytes into it and waits MS
//       milliseconds. Routed into a tap with TSO offered, the kernel hands the
//       tap real TSO (GSO_TCPV4 / GSO_TCPV6) frames. The socket is put back in
//       repair mode before it is closed, so it leaves without FIN or RST.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace {

constexpr int kVnetHdrLen = 12;  // struct virtio_net_hdr_mrg_rxbuf

// virtio_net_hdr flags and gso_type values (virtio spec / linux/virtio_net.h).
constexpr uint8_t kFlagNeedsCsum = 1;
constexpr uint8_t kFlagDataValid = 2;
constexpr uint8_t kFlagRscInfo = 4;
constexpr uint8_t kGsoEcn = 0x80;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tap_vnet_capture: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "tap_vnet_capture: %s\n"
               "usage: tap_vnet_capture capture --tap NAME --out DIR --prefix P [--count N]\n"
               "                        [--timeout SEC] [--ready FILE] [--dst ADDR]\n"
               "       tap_vnet_capture tcp-repair-send --src ADDR --sport P --dst ADDR --dport P\n"
               "                        [--bytes N] [--hold-ms MS]\n",
               msg);
  std::exit(2);
}

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// Address given on the command line, either family.
struct Addr {
  int family = 0;
  uint8_t bytes[16] = {};
};

bool parse_addr(const char* s, Addr& a) {
  if (inet_pton(AF_INET, s, a.bytes) == 1) {
    a.family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, s, a.bytes) == 1) {
    a.family = AF_INET6;
    return true;
  }
  return false;
}

long parse_num(const char* s, const char* what) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0) usage((std::string("bad number for ") + what).c_str());
  return v;
}

double now_sec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string gso_name(uint8_t t) {
  std::string s;
  switch (t & ~kGsoEcn) {
    case 0: s = "NONE"; break;
    case 1: s = "TCPV4"; break;
    case 3: s = "UDP"; break;
    case 4: s = "TCPV6"; break;
    case 5: s = "UDP_L4"; break;
    default: s = "type" + std::to_string(t & ~kGsoEcn); break;
  }
  if (t & kGsoEcn) s += "|ECN";
  return s;
}

std::string flag_names(uint8_t f) {
  if (f == 0) return "0";
  std::string s;
  auto add = [&](const char* n) {
    if (!s.empty()) s += "|";
    s += n;
  };
  if (f & kFlagNeedsCsum) add("NEEDS_CSUM");
  if (f & kFlagDataValid) add("DATA_VALID");
  if (f & kFlagRscInfo) add("RSC_INFO");
  if (f & ~(kFlagNeedsCsum | kFlagDataValid | kFlagRscInfo)) add(("0x" + std::to_string(f)).c_str());
  return s;
}

// A short human description of the Ethernet frame (for the summary line) and
// the IP destination (for --dst).
struct FrameInfo {
  std::string text;
  Addr dst;
};

std::string l4_text(int proto, const uint8_t* p, size_t n) {
  char buf[160];
  switch (proto) {
    case 6:
      if (n >= 20) {
        uint8_t fl = p[13];
        std::string f;
        if (fl & 0x02) f += "S";
        if (fl & 0x01) f += "F";
        if (fl & 0x04) f += "R";
        if (fl & 0x08) f += "P";
        if (fl & 0x10) f += ".";
        size_t doff = static_cast<size_t>(p[12] >> 4) * 4;
        std::snprintf(buf, sizeof buf, "TCP %u > %u [%s] payload=%zu", be16(p), be16(p + 2), f.c_str(),
                      n >= doff ? n - doff : 0);
        return buf;
      }
      return "TCP (short)";
    case 17:
      if (n >= 8) {
        std::snprintf(buf, sizeof buf, "UDP %u > %u payload=%zu", be16(p), be16(p + 2), n - 8);
        return buf;
      }
      return "UDP (short)";
    case 1:
      if (n >= 2) {
        std::snprintf(buf, sizeof buf, "ICMP type=%u code=%u", p[0], p[1]);
        return buf;
      }
      return "ICMP (short)";
    case 58:
      if (n >= 2) {
        std::snprintf(buf, sizeof buf, "ICMPv6 type=%u code=%u", p[0], p[1]);
        return buf;
      }
      return "ICMPv6 (short)";
    case 44:
      return "IPv6-Frag";
    case 0:
      return "IPv6-HopByHop";
    default:
      std::snprintf(buf, sizeof buf, "proto=%d", proto);
      return buf;
  }
}

FrameInfo describe(const uint8_t* f, size_t n) {
  FrameInfo fi;
  if (n < 14) {
    fi.text = "runt";
    return fi;
  }
  uint16_t et = be16(f + 12);
  const uint8_t* p = f + 14;
  size_t m = n - 14;
  char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
  if (et == 0x0800 && m >= 20) {
    size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
    inet_ntop(AF_INET, p + 12, a, sizeof a);
    inet_ntop(AF_INET, p + 16, b, sizeof b);
    fi.dst.family = AF_INET;
    std::memcpy(fi.dst.bytes, p + 16, 4);
    uint16_t frag = be16(p + 6);
    std::string l4 = (frag & 0x1fff) ? "fragment" : (m >= ihl ? l4_text(p[9], p + ihl, m - ihl) : "short");
    fi.text = std::string("IPv4 ") + a + " > " + b + " " + l4 + ((frag & 0x2000) ? " MF" : "");
  } else if (et == 0x86dd && m >= 40) {
    inet_ntop(AF_INET6, p + 8, a, sizeof a);
    inet_ntop(AF_INET6, p + 24, b, sizeof b);
    fi.dst.family = AF_INET6;
    std::memcpy(fi.dst.bytes, p + 24, 16);
    fi.text = std::string("IPv6 ") + a + " > " + b + " " + l4_text(p[6], p + 40, m - 40);
  } else if (et == 0x0806) {
    fi.text = "ARP";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "ethertype=0x%04x", et);
    fi.text = buf;
  }
  return fi;
}

bool write_file(const std::string& path, const uint8_t* p, size_t n) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, p + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return false;
    }
    off += static_cast<size_t>(w);
  }
  return close(fd) == 0;
}

int cmd_capture(int argc, char** argv) {
  const char* tap = nullptr;
  const char* out = nullptr;
  const char* prefix = nullptr;
  const char* ready = nullptr;
  long count = 16;
  long timeout = 5;
  Addr dst;
  bool have_dst = false;
  for (int i = 0; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + std::string(k)).c_str());
    const char* v = argv[++i];
    if (k == "--tap") tap = v;
    else if (k == "--out") out = v;
    else if (k == "--prefix") prefix = v;
    else if (k == "--ready") ready = v;
    else if (k == "--count") count = parse_num(v, "--count");
    else if (k == "--timeout") timeout = parse_num(v, "--timeout");
    else if (k == "--dst") {
      if (!parse_addr(v, dst)) usage("bad --dst address");
      have_dst = true;
    } else usage(("unknown option " + std::string(k)).c_str());
  }
  if (!tap || !out || !prefix) usage("capture needs --tap, --out and --prefix");
  if (std::strlen(tap) >= IFNAMSIZ) usage("tap name too long");

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", tap);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  int hdrsz = kVnetHdrLen;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) die("TUNSETVNETHDRSZ");
  // Little-endian header fields regardless of the host (virtio 1.0 layout).
  // Native on x86; kernels without cross-endian support refuse it on
  // big-endian hosts, where the fields are then in host order.
  int le = 1;
  if (ioctl(fd, TUNSETVNETLE, &le) < 0) std::fprintf(stderr, "tap_vnet_capture: TUNSETVNETLE refused (%s)\n", std::strerror(errno));

  const unsigned int tries[] = {
      TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
      TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
      TUN_F_CSUM,
      0,
  };
  unsigned int offload = 0;
  bool ok = false;
  for (unsigned int t : tries) {
    if (ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(t)) == 0) {
      offload = t;
      ok = true;
      break;
    }
  }
  if (!ok) die("TUNSETOFFLOAD");
  std::string off_names;
  auto add = [&](unsigned int bit, const char* n) {
    if (offload & bit) off_names += off_names.empty() ? n : std::string("|") + n;
  };
  add(TUN_F_CSUM, "CSUM");
  add(TUN_F_TSO4, "TSO4");
  add(TUN_F_TSO6, "TSO6");
  add(TUN_F_USO4, "USO4");
  add(TUN_F_USO6, "USO6");
  std::printf("# tap %s vnet_hdr_sz=%d offload=%s\n", tap, hdrsz, off_names.empty() ? "none" : off_names.c_str());
  std::fflush(stdout);

  mkdir(out, 0755);  // may exist already
  if (ready) {
    int rfd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (rfd < 0) die("create --ready file");
    close(rfd);
  }

  std::vector<uint8_t> buf(kVnetHdrLen + 256 * 1024);
  const double deadline = now_sec() + static_cast<double>(timeout);
  long n = 0;
  while (n < count) {
    double left = deadline - now_sec();
    if (left <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(left * 1000) + 1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pr == 0) break;
    std::memset(buf.data(), 0, kVnetHdrLen);  // num_buffers is ours to fill: keep it 0
    ssize_t r = read(fd, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      die("read tap");
    }
    if (r < kVnetHdrLen) continue;
    const uint8_t* h = buf.data();
    const uint8_t* frame = h + kVnetHdrLen;
    size_t flen = static_cast<size_t>(r) - kVnetHdrLen;
    FrameInfo fi = describe(frame, flen);
    if (have_dst && (fi.dst.family != dst.family ||
                     std::memcmp(fi.dst.bytes, dst.bytes, dst.family == AF_INET ? 4 : 16) != 0))
      continue;
    ++n;
    std::string name = std::string(prefix) + "-" + std::to_string(n) + ".bin";
    std::string path = std::string(out) + "/" + name;
    if (!write_file(path, h, static_cast<size_t>(r))) die(("write " + path).c_str());
    std::printf("%s len=%zu flags=%s gso=%s hdr_len=%u gso_size=%u csum_start=%u csum_offset=%u | %s\n",
                name.c_str(), flen, flag_names(h[0]).c_str(), gso_name(h[1]).c_str(), le16(h + 2), le16(h + 4),
                le16(h + 6), le16(h + 8), fi.text.c_str());
    std::fflush(stdout);
  }
  close(fd);
  return 0;
}

int cmd_tcp_repair_send(int argc, char** argv) {
  Addr src, dst;
  long sport = -1, dport = -1, bytes = 8000, hold_ms = 1500;
  for (int i = 0; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + std::string(k)).c_str());
    const char* v = argv[++i];
    if (k == "--src") {
      if (!parse_addr(v, src)) usage("bad --src address");
    } else if (k == "--dst") {
      if (!parse_addr(v, dst)) usage("bad --dst address");
    } else if (k == "--sport") sport = parse_num(v, "--sport");
    else if (k == "--dport") dport = parse_num(v, "--dport");
    else if (k == "--bytes") bytes = parse_num(v, "--bytes");
    else if (k == "--hold-ms") hold_ms = parse_num(v, "--hold-ms");
    else usage(("unknown option " + std::string(k)).c_str());
  }
  if (src.family == 0 || dst.family == 0 || src.family != dst.family || sport <= 0 || sport > 65535 ||
      dport <= 0 || dport > 65535)
    usage("tcp-repair-send needs --src, --dst (same family), --sport and --dport");

  sockaddr_storage ls{}, rs{};
  socklen_t slen;
  if (src.family == AF_INET) {
    auto* l = reinterpret_cast<sockaddr_in*>(&ls);
    auto* r = reinterpret_cast<sockaddr_in*>(&rs);
    l->sin_family = r->sin_family = AF_INET;
    std::memcpy(&l->sin_addr, src.bytes, 4);
    std::memcpy(&r->sin_addr, dst.bytes, 4);
    l->sin_port = htons(static_cast<uint16_t>(sport));
    r->sin_port = htons(static_cast<uint16_t>(dport));
    slen = sizeof(sockaddr_in);
  } else {
    auto* l = reinterpret_cast<sockaddr_in6*>(&ls);
    auto* r = reinterpret_cast<sockaddr_in6*>(&rs);
    l->sin6_family = r->sin6_family = AF_INET6;
    std::memcpy(&l->sin6_addr, src.bytes, 16);
    std::memcpy(&r->sin6_addr, dst.bytes, 16);
    l->sin6_port = htons(static_cast<uint16_t>(sport));
    r->sin6_port = htons(static_cast<uint16_t>(dport));
    slen = sizeof(sockaddr_in6);
  }

  int s = socket(src.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  int one = 1;
  if (setsockopt(s, SOL_TCP, TCP_REPAIR, &one, sizeof one) < 0) die("TCP_REPAIR on (needs CAP_NET_ADMIN)");
  // Fixed sequence numbers, so the frames are the same from run to run
  // (apart from TCP timestamps).
  const uint32_t snd_seq = 0x10000000u, rcv_seq = 0x20000000u;
  int q = TCP_SEND_QUEUE;
  if (setsockopt(s, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof q) < 0) die("TCP_REPAIR_QUEUE send");
  if (setsockopt(s, SOL_TCP, TCP_QUEUE_SEQ, &snd_seq, sizeof snd_seq) < 0) die("TCP_QUEUE_SEQ send");
  q = TCP_RECV_QUEUE;
  if (setsockopt(s, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof q) < 0) die("TCP_REPAIR_QUEUE recv");
  if (setsockopt(s, SOL_TCP, TCP_QUEUE_SEQ, &rcv_seq, sizeof rcv_seq) < 0) die("TCP_QUEUE_SEQ recv");
  q = TCP_NO_QUEUE;
  if (setsockopt(s, SOL_TCP, TCP_REPAIR_QUEUE, &q, sizeof q) < 0) die("TCP_REPAIR_QUEUE none");
  if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) die("SO_REUSEADDR");
  // The MSS the peer would have announced. Set before connect(): only then
  // does the kernel size its segments by it (TCP_REPAIR_OPTIONS' MAXSEG
  // below alone leaves the default 536 / 1220 in force).
  int mss = src.family == AF_INET ? 1460 : 1440;
  if (setsockopt(s, SOL_TCP, TCP_MAXSEG, &mss, sizeof mss) < 0) die("TCP_MAXSEG");
  if (bind(s, reinterpret_cast<sockaddr*>(&ls), slen) < 0) die("bind");
  if (connect(s, reinterpret_cast<sockaddr*>(&rs), slen) < 0) die("connect (repair)");

  // What a Linux peer would have said in its SYN-ACK.
  tcp_repair_opt opts[] = {
      {TCPOPT_MAXSEG, static_cast<uint32_t>(mss)},
      {TCPOPT_WINDOW, 7u | (7u << 16)},  // snd_wscale | rcv_wscale << 16
      {TCPOPT_SACK_PERMITTED, 0},
      {TCPOPT_TIMESTAMP, 0},
  };
  if (setsockopt(s, SOL_TCP, TCP_REPAIR_OPTIONS, opts, sizeof opts) < 0) die("TCP_REPAIR_OPTIONS");
  tcp_repair_window w{};
  w.snd_wl1 = rcv_seq;
  w.snd_wnd = 64240u * 128u;  // peer's window: never the limit here
  w.max_window = w.snd_wnd;
  w.rcv_wnd = 65535;
  w.rcv_wup = rcv_seq;
  if (setsockopt(s, SOL_TCP, TCP_REPAIR_WINDOW, &w, sizeof w) < 0) die("TCP_REPAIR_WINDOW");
  int off = TCP_REPAIR_OFF_NO_WP;
  if (setsockopt(s, SOL_TCP, TCP_REPAIR, &off, sizeof off) < 0) die("TCP_REPAIR off");

  std::vector<uint8_t> data(static_cast<size_t>(bytes));
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>('a' + i % 26);
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t w2 = send(s, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (w2 < 0) {
      if (errno == EINTR) continue;
      die("send");
    }
    sent += static_cast<size_t>(w2);
  }
  timespec ts{hold_ms / 1000, (hold_ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
  // Back into repair mode: close() then drops the socket silently.
  if (setsockopt(s, SOL_TCP, TCP_REPAIR, &one, sizeof one) < 0) die("TCP_REPAIR on again");
  close(s);
  std::printf("# tcp-repair-send: %zu bytes queued\n", sent);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("missing mode");
  std::string_view mode = argv[1];
  if (mode == "capture") return cmd_capture(argc - 2, argv + 2);
  if (mode == "tcp-repair-send") return cmd_tcp_repair_send(argc - 2, argv + 2);
  usage(("unknown mode " + std::string(mode)).c_str());
}
