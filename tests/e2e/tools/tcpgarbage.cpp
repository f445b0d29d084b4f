// tcpgarbage: bad TCP/IP frames written onto a link from the guest's
// side (an AF_PACKET socket on the guest's tap), for tcp_cases.sh.
//
//   tcpgarbage IFACE --gw4 A.B.C.D --port P [--gw6 ADDR6] [--live-port Q]
//                    [--rounds N]
//
// Every round sends:
//   * frames no parser may accept — truncated IPv4/IPv6 and TCP
//     headers, IHL < 5, total/payload length past the frame, bad IPv4 header
//     checksums, TCP data offsets below 5 or past the segment, bad TCP
//     checksums; those that carry a SYN go to the gateway's port P (and
//     [gw6]:P), where a listener counts connections: there must be none;
//   * a SYN+RST, and SYNs from a loopback source (127.0.0.1, ::1), to port
//     P (must be dropped: no connection either);
//   * SYNs with broken options, and segments with nonsense flags (SYN+FIN,
//     none, FIN+PSH+URG, an unsolicited SYN+ACK, a bare ACK) to ports with no
//     listener, answered at most with resets;
//   * with --live-port: RSTs and an ACK of unsent data on the live
//     connection from this host to the gateway's port Q, with sequence
//     numbers far outside the window (learned by watching the link just
//     before), which RFC 5961 says must not end it.
// Prints "sent N frames, M malformed, C bad TCP checksums, S SYNs to port P,
// R out-of-window segments on the live flow" and exits 0. (M counts frames
// no IP/TCP header parser may accept; C those whose headers parse but whose
// TCP checksum is wrong.)

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
#include <sstream>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

struct Link {
  int fd = -1;
  int ifindex = 0;
  std::array<uint8_t, 6> mac{};
  std::array<uint8_t, 6> gw_mac{};
  uint32_t ip4 = 0;  // network order
  uint32_t gw4 = 0;
  in6_addr ip6{};
  in6_addr gw6{};
  bool have6 = false;
  uint64_t sent = 0;
};

uint32_t csum_add(uint32_t sum, const uint8_t* p, size_t n) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  return sum;
}
uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

uint64_t g_rng = 0x1234567;
uint32_t rnd() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return static_cast<uint32_t>(g_rng);
}

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;

struct Seg {
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint8_t doff = 5;  // in 32-bit words, as written into the header
  Bytes options;     // appended after the 20-byte header (doff is not adjusted)
  Bytes payload;
  bool bad_tcp_csum = false;
};

Bytes tcp_bytes(const Seg& s) {
  Bytes t(20 + s.options.size() + s.payload.size());
  put16(&t[0], s.sport);
  put16(&t[2], s.dport);
  put32(&t[4], s.seq);
  put32(&t[8], s.ack);
  t[12] = static_cast<uint8_t>(s.doff << 4);
  t[13] = s.flags;
  put16(&t[14], 65535);
  if (!s.options.empty()) std::memcpy(&t[20], s.options.data(), s.options.size());
  if (!s.payload.empty())
    std::memcpy(&t[20 + s.options.size()], s.payload.data(), s.payload.size());
  return t;
}

void eth_header(const Link& l, Bytes& f, uint16_t type) {
  f.insert(f.end(), l.gw_mac.begin(), l.gw_mac.end());
  f.insert(f.end(), l.mac.begin(), l.mac.end());
  f.push_back(static_cast<uint8_t>(type >> 8));
  f.push_back(static_cast<uint8_t>(type));
}

struct V4Tweak {
  int ihl = 5;
  int total_len_delta = 0;
  bool bad_ip_csum = false;
  size_t truncate_to = 0;  // frame length; 0 = whole
};

Bytes frame4(const Link& l, const Seg& s, const V4Tweak& tw = {}, uint32_t dst = 0) {
  Bytes tcp = tcp_bytes(s);
  const uint32_t daddr = dst ? dst : l.gw4;
  // TCP checksum over the pseudo header.
  uint32_t sum = 0;
  sum = csum_add(sum, reinterpret_cast<const uint8_t*>(&l.ip4), 4);
  sum = csum_add(sum, reinterpret_cast<const uint8_t*>(&daddr), 4);
  sum += 6 + static_cast<uint32_t>(tcp.size());
  sum = csum_add(sum, tcp.data(), tcp.size());
  uint16_t c = csum_fold(sum);
  if (s.bad_tcp_csum) c = static_cast<uint16_t>(c ^ 0x5a5a);
  put16(&tcp[16], c);

  Bytes f;
  eth_header(l, f, ETHERTYPE_IP);
  Bytes ip(20);
  ip[0] = static_cast<uint8_t>(0x40 | (tw.ihl & 0xf));
  put16(&ip[2], static_cast<uint16_t>(20 + static_cast<int>(tcp.size()) + tw.total_len_delta));
  put16(&ip[4], static_cast<uint16_t>(rnd()));
  ip[6] = 0x40;  // DF
  ip[8] = 64;
  ip[9] = IPPROTO_TCP;
  std::memcpy(&ip[12], &l.ip4, 4);
  std::memcpy(&ip[16], &daddr, 4);
  uint16_t ic = csum_fold(csum_add(0, ip.data(), 20));
  if (tw.bad_ip_csum) ic = static_cast<uint16_t>(ic ^ 0x1234);
  put16(&ip[10], ic);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), tcp.begin(), tcp.end());
  if (tw.truncate_to && tw.truncate_to < f.size()) f.resize(tw.truncate_to);
  return f;
}

Bytes frame6(const Link& l, const Seg& s, int plen_delta = 0, size_t truncate_to = 0) {
  Bytes tcp = tcp_bytes(s);
  uint32_t sum = 0;
  sum = csum_add(sum, l.ip6.s6_addr, 16);
  sum = csum_add(sum, l.gw6.s6_addr, 16);
  sum += 6 + static_cast<uint32_t>(tcp.size());
  sum = csum_add(sum, tcp.data(), tcp.size());
  uint16_t c = csum_fold(sum);
  if (s.bad_tcp_csum) c = static_cast<uint16_t>(c ^ 0x5a5a);
  put16(&tcp[16], c);
  Bytes f;
  eth_header(l, f, ETHERTYPE_IPV6);
  Bytes ip(40);
  ip[0] = 0x60;
  put16(&ip[4], static_cast<uint16_t>(static_cast<int>(tcp.size()) + plen_delta));
  ip[6] = IPPROTO_TCP;
  ip[7] = 64;
  std::memcpy(&ip[8], l.ip6.s6_addr, 16);
  std::memcpy(&ip[24], l.gw6.s6_addr, 16);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), tcp.begin(), tcp.end());
  if (truncate_to && truncate_to < f.size()) f.resize(truncate_to);
  return f;
}

void send_frame(Link& l, const Bytes& f) {
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = l.ifindex;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, l.gw_mac.data(), 6);
  if (sendto(l.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
    std::fprintf(stderr, "tcpgarbage: send (%zu bytes): %s\n", f.size(), std::strerror(errno));
    std::exit(1);
  }
  ++l.sent;
}

// The live flow as seen in the guest's last outgoing segment on it.
struct Live {
  uint16_t sport = 0;
  uint32_t seq = 0;  // the guest's next sequence number
  uint32_t ack = 0;  // what the guest acknowledged of the gateway's data
};

bool watch_live(Link& l, uint16_t live_port, Live& out) {
  uint8_t buf[70000];
  const auto deadline = time(nullptr) + 10;
  while (time(nullptr) < deadline) {
    pollfd p{l.fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    sockaddr_ll from{};
    socklen_t fl = sizeof from;
    const ssize_t n = recvfrom(l.fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 14 + 20 + 20 || from.sll_pkttype != PACKET_OUTGOING) continue;
    if (get16(buf + 12) != ETHERTYPE_IP || buf[14 + 9] != IPPROTO_TCP) continue;
    const size_t ihl = static_cast<size_t>(buf[14] & 0xf) * 4;
    if (std::memcmp(buf + 14 + 12, &l.ip4, 4) != 0 || 14 + ihl + 20 > static_cast<size_t>(n)) continue;
    const uint8_t* t = buf + 14 + ihl;
    if (get16(t + 2) != live_port) continue;
    const size_t tot = get16(buf + 14 + 2);
    const size_t doff = static_cast<size_t>(t[12] >> 4) * 4;
    const size_t payload = tot > ihl + doff ? tot - ihl - doff : 0;
    out.sport = get16(t);
    out.seq = get32(t + 4) + static_cast<uint32_t>(payload);
    out.ack = get32(t + 8);
    return true;
  }
  return false;
}

bool read_gw_mac(Link& l, const std::string& gw) {
  std::ifstream arp("/proc/net/arp");
  std::string line;
  std::getline(arp, line);  // header
  while (std::getline(arp, line)) {
    std::istringstream in(line);
    std::string ip, hw, flags, mac;
    in >> ip >> hw >> flags >> mac;
    if (ip != gw) continue;
    unsigned m[6];
    if (std::sscanf(mac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
      return false;
    for (int i = 0; i < 6; ++i) l.gw_mac[static_cast<size_t>(i)] = static_cast<uint8_t>(m[i]);
    return mac != "00:00:00:00:00:00";
  }
  return false;
}

// The first global address of IFACE in /proc/net/if_inet6.
bool read_ip6(Link& l, const std::string& ifname) {
  std::ifstream in("/proc/net/if_inet6");
  std::string hex, idx, plen, scope, flags, name;
  while (in >> hex >> idx >> plen >> scope >> flags >> name) {
    if (name != ifname || scope != "00" || hex.size() != 32) continue;
    for (size_t i = 0; i < 16; ++i)
      l.ip6.s6_addr[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    return true;
  }
  return false;
}

int garbage(int argc, char** argv) {
  if (argc < 1) {
    std::fprintf(stderr,
                 "usage: tcpgarbage IFACE --gw4 ADDR --port P [--gw6 ADDR6] "
                 "[--live-port Q] [--rounds N]\n");
    return 2;
  }
  const std::string ifname = argv[0];
  std::string gw4 = "10.0.2.2", gw6;
  uint16_t port = 0, live_port = 0;
  int rounds = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--gw4") gw4 = argv[i + 1];
    else if (a == "--gw6") gw6 = argv[i + 1];
    else if (a == "--port") port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    else if (a == "--live-port") live_port = static_cast<uint16_t>(std::atoi(argv[i + 1]));
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "tcpgarbage: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (port == 0) {
    std::fprintf(stderr, "tcpgarbage: --port is required\n");
    return 2;
  }
  Link l;
  l.fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (l.fd < 0) {
    std::fprintf(stderr, "tcpgarbage: AF_PACKET socket: %s\n", std::strerror(errno));
    return 1;
  }
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  if (ioctl(l.fd, SIOCGIFINDEX, &ifr) != 0) {
    std::fprintf(stderr, "tcpgarbage: no interface %s\n", ifname.c_str());
    return 1;
  }
  l.ifindex = ifr.ifr_ifindex;
  ioctl(l.fd, SIOCGIFHWADDR, &ifr);
  std::memcpy(l.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  const int s4 = socket(AF_INET, SOCK_DGRAM, 0);
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname.c_str());
  if (ioctl(s4, SIOCGIFADDR, &ifr) != 0) {
    std::fprintf(stderr, "tcpgarbage: %s has no IPv4 address\n", ifname.c_str());
    return 1;
  }
  sockaddr_in sin{};
  std::memcpy(&sin, &ifr.ifr_addr, sizeof sin);
  l.ip4 = sin.sin_addr.s_addr;
  close(s4);
  inet_pton(AF_INET, gw4.c_str(), &l.gw4);
  // The guest may only just be resolving the gateway: give it 10 s.
  bool have_mac = false;
  for (int i = 0; i < 100 && !(have_mac = read_gw_mac(l, gw4)); ++i) usleep(100000);
  if (!have_mac) {
    std::fprintf(stderr, "tcpgarbage: no ARP entry for %s (talk to it first)\n", gw4.c_str());
    return 1;
  }
  if (!gw6.empty()) {
    l.have6 = inet_pton(AF_INET6, gw6.c_str(), &l.gw6) == 1 && read_ip6(l, ifname);
    if (!l.have6) {
      std::fprintf(stderr, "tcpgarbage: no global IPv6 address on %s\n", ifname.c_str());
      return 1;
    }
  }
  sockaddr_ll bind_to{};
  bind_to.sll_family = AF_PACKET;
  bind_to.sll_protocol = htons(ETH_P_ALL);
  bind_to.sll_ifindex = l.ifindex;
  if (bind(l.fd, reinterpret_cast<sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    std::fprintf(stderr, "tcpgarbage: bind: %s\n", std::strerror(errno));
    return 1;
  }

  uint64_t malformed = 0, bad_csum = 0, syns_to_port = 0, live_segs = 0;
  auto sport = [] { return static_cast<uint16_t>(20000 + rnd() % 20000); };
  auto dead_port = [] { return static_cast<uint16_t>(40000 + rnd() % 20000); };
  for (int r = 0; r < rounds; ++r) {
    // Headers cut short. (Frames shorter than an Ethernet header cannot be
    // sent: the kernel refuses them without CAP_SYS_RAWIO.)
    Seg syn;
    syn.sport = sport();
    syn.dport = port;
    syn.seq = rnd();
    syn.flags = kSyn;
    {
      Bytes f;
      eth_header(l, f, ETHERTYPE_IP);  // Ethernet header and nothing else
      send_frame(l, f);
      ++malformed;
    }
    for (size_t cut : {size_t{14 + 10}, size_t{14 + 20 + 12}}) {  // IPv4 / TCP header cut
      V4Tweak tw;
      tw.truncate_to = cut;
      send_frame(l, frame4(l, syn, tw));
      ++malformed, ++syns_to_port;
    }
    {
      V4Tweak tw;
      tw.ihl = 3;
      send_frame(l, frame4(l, syn, tw));
      ++malformed, ++syns_to_port;
    }
    {
      V4Tweak tw;
      tw.total_len_delta = 400;  // says longer than the frame
      send_frame(l, frame4(l, syn, tw));
      ++malformed, ++syns_to_port;
    }
    {
      V4Tweak tw;
      tw.total_len_delta = -8;  // says shorter than the TCP header
      send_frame(l, frame4(l, syn, tw));
      ++malformed, ++syns_to_port;
    }
    {
      V4Tweak tw;
      tw.bad_ip_csum = true;
      send_frame(l, frame4(l, syn, tw));
      ++malformed, ++syns_to_port;
    }
    for (uint8_t doff : {uint8_t{0}, uint8_t{3}, uint8_t{15}}) {
      Seg s = syn;
      s.doff = doff;
      send_frame(l, frame4(l, s));
      ++malformed, ++syns_to_port;
    }
    {
      Seg s = syn;
      s.bad_tcp_csum = true;
      send_frame(l, frame4(l, s));
      s.payload = Bytes(100, 0x42);
      send_frame(l, frame4(l, s));
      bad_csum += 2, syns_to_port += 2;
    }
    {
      Seg s = syn;
      s.flags = kSyn | kRst;
      send_frame(l, frame4(l, s));
      ++syns_to_port;
    }
    {
      // A loopback source (a martian: RFC 1122 3.2.1.3), which the guest's
      // own kernel also sends while its IPv6 address is still tentative.
      Link martian = l;
      martian.ip4 = htonl(INADDR_LOOPBACK);
      send_frame(l, frame4(martian, syn));
      ++syns_to_port;
      if (l.have6) {
        martian.ip6 = in6addr_loopback;
        send_frame(l, frame6(martian, syn));
        ++syns_to_port;
      }
    }
    // SYNs with broken options, to a port where nothing listens.
    for (const Bytes& opt : {Bytes{2, 0, 0, 0}, Bytes{2, 40, 5, 0xb4}, Bytes{2, 3, 5, 0},
                             Bytes{3, 1, 0, 0}, Bytes{8, 0xff, 1, 1}}) {
      Seg s = syn;
      s.dport = dead_port();
      s.options = opt;
      s.doff = 6;
      send_frame(l, frame4(l, s));
    }
    // Nonsense flags, to a port where nothing listens.
    for (uint8_t flags : {uint8_t(kSyn | kFin), uint8_t{0}, uint8_t(kFin | kPsh | kUrg),
                          uint8_t(kSyn | kAck), uint8_t{kAck}, uint8_t{kRst}}) {
      Seg s = syn;
      s.dport = dead_port();
      s.flags = flags;
      s.ack = rnd();
      send_frame(l, frame4(l, s));
    }
    if (l.have6) {
      Seg s = syn;
      s.bad_tcp_csum = true;
      send_frame(l, frame6(l, s));  // bad checksum
      ++bad_csum, ++syns_to_port;
      s.bad_tcp_csum = false;
      send_frame(l, frame6(l, s, 0, 14 + 30));  // IPv6 header cut
      send_frame(l, frame6(l, s, 0, 14 + 40 + 10));  // TCP header cut
      send_frame(l, frame6(l, s, 300));  // payload length past the frame
      s.doff = 2;
      send_frame(l, frame6(l, s));
      malformed += 4, syns_to_port += 4;
    }
    // The live flow: a reset and a SYN far outside the window, an ACK of
    // data never sent.
    Live live;
    if (live_port && watch_live(l, live_port, live)) {
      Seg s;
      s.sport = live.sport;
      s.dport = live_port;
      s.ack = live.ack;
      for (uint32_t off : {0x80000000u, 0xff000000u, 0x40000000u}) {
        s.flags = kRst;
        s.seq = live.seq + off;
        send_frame(l, frame4(l, s));
        s.flags = kRst | kAck;
        send_frame(l, frame4(l, s));
        live_segs += 2;
      }
      // (No SYN here: the flow may have just ended, and a SYN would then
      // rightly open a new connection.)
      s.flags = kAck;
      s.seq = live.seq;
      s.ack = live.ack + 0x40000000u;
      send_frame(l, frame4(l, s));
      ++live_segs;
    } else if (live_port) {
      std::fprintf(stderr, "tcpgarbage: saw no segment of the live flow to port %u\n", live_port);
      return 1;
    }
    // A breath between rounds: a tap's queue holds 1000 frames, and what
    // overflows it the kernel drops before tapir could see (and count) it.
    usleep(1000);
  }
  std::printf("sent %llu frames, %llu malformed, %llu bad TCP checksums, %llu SYNs to port %u, "
              "%llu out-of-window segments on the live flow\n",
              static_cast<unsigned long long>(l.sent), static_cast<unsigned long long>(malformed),
              static_cast<unsigned long long>(bad_csum),
              static_cast<unsigned long long>(syns_to_port), port,
              static_cast<unsigned long long>(live_segs));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return garbage(argc - 1, argv + 1);
}
