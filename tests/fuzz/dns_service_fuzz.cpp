// Fuzz target: the DNS service's glue (dns/io/service.cpp) and its guest
// TCP streams (dns/io/stream.cpp), driven by a script: guest queries in
// UDP frames (IPv4 and IPv6, through the dispatcher's DNS branch, also as
// UDP segmentation offload frames), guest TCP connections fed bytes in arbitrary
// segments (length prefixes and all, half-closed or closed early, read or
// left unread), an upstream on 127.0.0.1 that answers, answers wrong or
// stays silent, and time passing. The forwarder state machine behind it
// has its own target (dns_forwarder_fuzz); this one is about the framing,
// the socket pool and the stream buffers around it.
//
// The engine is a fake SocketWatcher: the script says when ready sockets
// are served (each watched fd polled, on_socket() for what is ready). The
// guest's streams are AF_UNIX socketpairs (as the TCP translation hands
// them over) and the upstream a UDP socket on loopback that this process
// owns: nothing leaves the process. The service's 100 ms timerfd is not
// polled; time is the script's (opcode 6).
//
// Checks:
//   * every frame to the guest comes from the DNS address and port 53 with
//     the gateway's MAC, to the client's MAC and port, with a UDP checksum
//     that verifies, and carries a DNS response whose ID is one the guest
//     used;
//   * every stream carries whole 2-byte-length-prefixed responses whose
//     IDs the guest used on that stream; a stream the service closed
//     reads EOF, and nothing after it;
//   * without an upstream, every query (12 bytes or more, QR clear) is
//     answered exactly once, at once over UDP — each datagram of a USO
//     frame too — and on a stream by the time the guest has read all
//     (unless the stream ended: a zero length, or idle for stream_idle).
//   * the watcher is never asked to unwatch or change a handle it did not
//     give out, and when the service is gone every watch is released and
//     every fd it opened is closed.
//
// Input: a configuration byte (bit 0: an upstream; bits 1-2: the stream
// send buffer, small to large), then events, each an opcode byte and its
// operands:
//   0 port len bytes[len]       UDP query over IPv4 from guest port `port`
//   1 port len bytes[len]       the same over IPv6
//   2                           a guest TCP connection to port 53
//   3 k len2 bytes[len2]        stream k: the guest sends bytes (as many as fit)
//   4 k                         stream k: the guest half-closes (FIN)
//   5 k                         stream k: the guest reads what is there
//   6 n                         ready sockets served, then time passes:
//                               n x 50 ms, then on_tick
//   7                           serve ready sockets
//   8 how len bytes[len]        the upstream takes one query and answers:
//                               how 0: with `bytes`; 1: the query turned into a
//                               response (rcode, TC from bytes[0]) plus
//                               `bytes`; 2: nothing
//   9 k                         stream k: the guest closes (RST-like)
//  10 port gso len bytes[len]   UDP over IPv4 as one USO frame of datagrams
//                               of gso + 1 bytes (the last may be shorter)
//  11 port gso len bytes[len]   the same over IPv6
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "dns/io/service.hpp"
#include "dns/message.hpp"
#include "services/frame.hpp"
#include "stack/dispatch.hpp"
#include "tap/tap_io.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"
#include "tests/support/fake_watcher.hpp"

namespace {

using namespace tapir;
using Bytes = std::vector<uint8_t>;

// Names the line of a failed check, then crashes for libFuzzer.
void check(bool ok, int line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
  __builtin_trap();
}

const wire::MacAddr kGuestMac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};

constexpr size_t kWatchSlots = 48;

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  wire::ConstBytes take(size_t len) {
    len = std::min(len, n);
    const wire::ConstBytes b = wire::as_bytes({p, len});
    p += len;
    n -= len;
    return b;
  }
};

// The upstream: a UDP socket on 127.0.0.1 for the whole run (drained at the
// start of each input, so no input sees another's datagrams).
int upstream_fd(uint16_t& port) {
  static int fd = -1;
  static uint16_t bound = 0;
  if (fd < 0) {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    check(fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    check(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    bound = ntohs(a.sin_port);
  }
  std::array<uint8_t, 2048> junk;
  while (::recv(fd, junk.data(), junk.size(), MSG_DONTWAIT) >= 0) {
  }
  port = bound;
  return fd;
}

struct GuestStream {
  int fd = -1;             // the guest's end
  std::set<uint16_t> ids;  // IDs of the messages the guest framed
  size_t queries = 0;      // whole messages that must get an answer (no upstream)
  size_t answers = 0;      // responses read
  bool ended = false;      // a zero length: the service reads no further
  MonoTime last_sent{};    // when the guest last sent bytes
  bool idle = false;       // stream_idle passed since: the service may close it
  Bytes sent;              // every byte the guest sent, to find the framed IDs
  Bytes in;                // what the guest read and has not parsed yet
  bool closed_by_service = false;
};

// Parses whole length-prefixed responses out of `s.in`.
void parse_stream(GuestStream& s) {
  size_t off = 0;
  while (s.in.size() - off >= 2) {
    const size_t len = (size_t{s.in[off]} << 8) | s.in[off + 1];
    if (s.in.size() - off - 2 < len) break;
    auto m = dns::Message::parse(wire::as_bytes({s.in.data() + off + 2, len}));
    check(m.has_value() && m->qr() && s.ids.count(m->id()) == 1);
    ++s.answers;
    off += 2 + len;
  }
  s.in.erase(s.in.begin(), s.in.begin() + static_cast<std::ptrdiff_t>(off));
}

bool is_query(const uint8_t* m, size_t len) {
  return len >= 12 && (m[2] & 0x80) == 0;
}

// The IDs of the whole messages in what the guest sent, and how many of
// them the service reads as queries.
void note_ids(GuestStream& s) {
  size_t off = 0;
  s.queries = 0;
  s.ended = false;
  while (s.sent.size() - off >= 2) {
    const size_t len = (size_t{s.sent[off]} << 8) | s.sent[off + 1];
    if (len == 0) {
      s.ended = true;
      return;
    }
    if (s.sent.size() - off - 2 < len) break;
    if (len >= 2) s.ids.insert(static_cast<uint16_t>((s.sent[off + 2] << 8) | s.sent[off + 3]));
    if (is_query(s.sent.data() + off + 2, len)) ++s.queries;
    off += 2 + len;
  }
}

// Returns whether anything came.
bool guest_read(GuestStream& s) {
  if (s.fd < 0) return false;
  std::array<uint8_t, 4096> b;
  bool got = false;
  while (true) {
    const ssize_t n = ::recv(s.fd, b.data(), b.size(), MSG_DONTWAIT);
    if (n > 0) {
      check(!s.closed_by_service);
      s.in.insert(s.in.end(), b.begin(), b.begin() + n);
      got = true;
      continue;
    }
    if (n == 0 && !s.closed_by_service) {
      s.closed_by_service = true;
      got = true;
    }
    break;
  }
  parse_stream(s);
  return got;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  const uint8_t conf = in.u8();
  uint16_t up_port = 0;
  const int up = upstream_fd(up_port);
  // The lowest free fd: the same once the service and the guest's ends are gone.
  const int fd_mark = ::dup(0);
  ::close(fd_mark);

  static const auto plan = wire::AddressPlan::nat({wire::Ipv4Addr::from_octets(10, 0, 2, 0), 24},
                                                  *wire::Ipv6Prefix::parse("fd00::/64"), true);
  std::set<uint16_t> udp_ids;
  std::set<uint16_t> udp_ports;
  size_t udp_answers = 0;
  auto sink = [&](wire::ConstBytes frame, const wire::VirtioNetHdrRepr&) {
    auto eth = wire::EthernetView::parse(frame);
    check(eth.has_value() && eth->source() == plan.gateway_mac && eth->destination() == kGuestMac);
    wire::ConstBytes payload;
    uint16_t dport = 0;
    if (eth->ethertype() == wire::ethertype::kIpv4) {
      auto ip = wire::Ipv4View::parse(eth->payload());
      check(ip.has_value() && ip->header_checksum_ok() && ip->source() == plan.dns4 &&
            ip->protocol() == wire::ipproto::kUdp);
      auto udp = wire::UdpView::parse(ip->payload());
      check(udp.has_value() && udp->checksum_ok(ip->source(), ip->destination()) &&
            udp->source_port() == 53);
      payload = udp->payload();
      dport = udp->destination_port();
    } else {
      check(eth->ethertype() == wire::ethertype::kIpv6);
      auto ip = wire::Ipv6View::parse(eth->payload());
      check(ip.has_value() && ip->source() == plan.dns6 &&
            ip->upper_protocol() == wire::ipproto::kUdp);
      auto udp = wire::UdpView::parse(ip->upper_payload());
      check(udp.has_value() && udp->checksum_ok(ip->source(), ip->destination()) &&
            udp->source_port() == 53);
      payload = udp->payload();
      dport = udp->destination_port();
    }
    check(udp_ports.count(dport) == 1);
    auto m = dns::Message::parse(payload);
    check(m.has_value() && m->qr() && udp_ids.count(m->id()) == 1);
    ++udp_answers;
  };
  auto tx = tap::TxQueue::detached(4, sink);

  std::vector<GuestStream> streams;
  {
    dns::DnsServiceConfig cfg;
    cfg.builtin.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
    cfg.builtin.gateway4 = cfg.builtin.host4;
    cfg.builtin.host6 = plan.gateway6;
    cfg.add_hosts = {"db.example:192.0.2.7", "v6.example:fd00::7"};
    if ((conf & 1) != 0) {
      cfg.upstreams = {dns::Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 1), up_port)};
    }
    cfg.forwarder.seed = 1;
    cfg.forwarder.max_pending = 8;
    cfg.forwarder.max_waiters = 32;
    cfg.forwarder.cache.max_entries = 16;  // small, so eviction runs too
    cfg.forwarder.attempt_timeout = Duration::millis(200);
    cfg.forwarder.total_deadline = Duration::millis(500);
    cfg.max_streams = 3;
    cfg.stream_idle = Duration::seconds(2);
    const int sndbuf = 1024 << ((conf >> 1) & 3) * 3;  // 1 KiB .. 512 KiB

    const bool upstream = (conf & 1) != 0;
    testing::FakeWatcher watcher;
    watcher.max_slots = kWatchSlots;
    watcher.strict = true;
    uint64_t skip_cookie = ~uint64_t{0};  // the timerfd: time is the script's
    dns::DnsService dns(plan, cfg);
    dns.attach(watcher);
    services::ServiceConfig scfg;
    scfg.plan = plan;
    services::GuestState state;
    stack::ServiceDispatcher dispatcher(scfg, state);
    dispatcher.set_dns(&dns);
    for (const auto& e : watcher.watches) {
      if (e.active) skip_cookie = e.cookie;  // the timerfd, the only watch so far
    }
    MonoTime now = mono_now();

    // Returns whether anything was ready.
    auto serve = [&] {
      bool served = false;
      // Until nothing is ready, a bounded number of rounds.
      for (int round = 0; round < 8; ++round) {
        bool any = false;
        for (size_t i = 0; i < watcher.watches.size(); ++i) {
          const testing::FakeWatcher::Watch e = watcher.watches[i];
          if (!e.active || e.cookie == skip_cookie) continue;
          pollfd p{e.fd, static_cast<short>(e.events), 0};
          if (::poll(&p, 1, 0) != 1 || p.revents == 0) continue;
          any = true;
          dns.on_socket(e.cookie, static_cast<unsigned>(p.revents), now, *tx);
        }
        if (!any) break;
        served = true;
      }
      return served;
    };
    auto udp_query = [&](bool v6, uint16_t port, wire::ConstBytes q, uint16_t gso) {
      Bytes frame(services::kUdp6PayloadOffset + q.size());
      const wire::MutBytes out = wire::as_writable_bytes(frame);
      const services::L2Addrs l2{kGuestMac, plan.gateway_mac};
      size_t n = 0;
      if (v6) {
        std::memcpy(frame.data() + services::kUdp6PayloadOffset, q.data(), q.size());
        n = services::finish_udp6(out, l2, plan.net6.host(0x100), plan.dns6, port, 53, q.size(),
                                  64);
      } else {
        std::memcpy(frame.data() + services::kUdp4PayloadOffset, q.data(), q.size());
        n = services::finish_udp4(out, l2, plan.guest4, plan.dns4, port, 53, q.size());
      }
      udp_ports.insert(port);
      // The datagrams the frame holds: one, or with USO one per gso bytes.
      size_t queries = 0;
      const auto* qb = reinterpret_cast<const uint8_t*>(q.data());
      const size_t step = gso == 0 ? std::max<size_t>(q.size(), 1) : gso;
      for (size_t off = 0; off < q.size(); off += step) {
        const size_t len = std::min(step, q.size() - off);
        if (len >= 2) udp_ids.insert(static_cast<uint16_t>((qb[off] << 8) | qb[off + 1]));
        if (is_query(qb + off, len)) ++queries;
      }
      tap::FrameMeta meta;
      meta.gso_size = gso;
      const size_t before = udp_answers;
      dispatcher.on_frame(out.first(n), meta, now, *tx);
      if (!upstream) check(udp_answers - before == queries);
    };
    auto stream_at = [&](uint8_t k) -> GuestStream* {
      if (streams.empty()) return nullptr;
      GuestStream& s = streams[k % streams.size()];
      return s.fd >= 0 ? &s : nullptr;
    };

    for (int steps = 0; in.n > 0 && steps < 64; ++steps) {
      const uint8_t op = in.u8() % 12;
      switch (op) {
        case 0:
        case 1: {
          const uint16_t port = static_cast<uint16_t>(in.u8() | 0x8000);
          const size_t len = in.u8();
          udp_query(op == 1, port, in.take(len), 0);
          break;
        }
        case 10:
        case 11: {
          const uint16_t port = static_cast<uint16_t>(in.u8() | 0x8000);
          const auto gso = static_cast<uint16_t>(in.u8() + 1);
          const size_t len = in.u16() % 1400;
          udp_query(op == 11, port, in.take(len), gso);
          break;
        }
        case 2: {
          if (streams.size() >= 6) break;
          int sv[2];
          check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
          ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
          GuestStream s;
          s.fd = sv[0];
          s.last_sent = now;
          if (!dns.adopt_stream(Fd(sv[1]), now)) {
            ::close(s.fd);
            s.fd = -1;
          }
          streams.push_back(std::move(s));
          break;
        }
        case 3: {
          const uint8_t k = in.u8();
          const size_t len = in.u16() % 2048;
          const wire::ConstBytes b = in.take(len);
          GuestStream* s = stream_at(k);
          if (s == nullptr || b.empty()) break;
          const ssize_t n = ::send(s->fd, b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
          if (n > 0) {
            const auto* p = reinterpret_cast<const uint8_t*>(b.data());
            s->sent.insert(s->sent.end(), p, p + n);
            s->last_sent = now;
            note_ids(*s);
          }
          break;
        }
        case 4:
          if (GuestStream* s = stream_at(in.u8())) ::shutdown(s->fd, SHUT_WR);
          break;
        case 5:
          if (GuestStream* s = stream_at(in.u8())) guest_read(*s);
          break;
        case 6:
          // A loop serves what is ready before time moves on: a stream is
          // idle only when its bytes were read, not when they sat unread.
          serve();
          now = now + Duration::millis(50 * int64_t{in.u8()});
          // The service closes a stream that sent nothing for stream_idle,
          // answers still unread by the guest or not (RFC 7766 6.2.3).
          for (GuestStream& g : streams) g.idle = g.idle || now - g.last_sent >= cfg.stream_idle;
          dns.on_tick(now, *tx);
          dns.on_socket(skip_cookie, POLLIN, now, *tx);  // the timer's turn, too
          break;
        case 7: serve(); break;
        case 8: {
          const uint8_t how = in.u8() % 3;
          const size_t len = in.u8();
          const wire::ConstBytes extra = in.take(len);
          std::array<uint8_t, 4096> q;
          sockaddr_storage from{};
          socklen_t fl = sizeof from;
          const ssize_t n = ::recvfrom(up, q.data(), q.size(), MSG_DONTWAIT,
                                       reinterpret_cast<sockaddr*>(&from), &fl);
          if (n <= 0 || how == 2) break;
          Bytes reply;
          if (how == 1 && n >= 12) {
            reply.assign(q.begin(), q.begin() + n);
            const uint8_t b0 = extra.empty() ? 0 : uint8_t(extra[0]);
            reply[2] =
                static_cast<uint8_t>(0x80 | (reply[2] & 0x79) | ((b0 & 0x10) != 0 ? 0x02 : 0));
            reply[3] = static_cast<uint8_t>(0x80 | (b0 & 0x0f));
          }
          const auto* e = reinterpret_cast<const uint8_t*>(extra.data());
          reply.insert(reply.end(), e, e + extra.size());
          ::sendto(up, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
          break;
        }
        case 9:
          if (GuestStream* s = stream_at(in.u8())) {
            ::close(s->fd);
            s->fd = -1;
          }
          break;
      }
    }
    // Let everything settle: the rest served and read, then timed out.
    for (int i = 0; i < 256; ++i) {
      bool progress = serve();
      for (GuestStream& s : streams) progress = guest_read(s) || progress;
      if (!progress) break;
    }
    if (!upstream) {
      for (const GuestStream& s : streams) {
        // The guest kept its end, and sent no zero length (which ends the
        // stream at once, answers still unsent or not).
        if (s.fd >= 0 && !s.ended && !s.idle) check(s.answers == s.queries);
      }
    }
    now = now + Duration::seconds(10);
    dns.on_tick(now, *tx);
    serve();
    for (GuestStream& s : streams) guest_read(s);
    // Past the idle time and every deadline, no stream is left open.
    check(dns.streams() == 0);
    for (GuestStream& s : streams) check(s.fd < 0 || s.closed_by_service);
    check(dns.forwarder().pending() == 0);
    // What stays watched is the timer and the idle pooled sockets.
    check(watcher.active_count() == 1 + dns.udp_sockets());
  }
  for (GuestStream& s : streams) {
    if (s.fd >= 0) ::close(s.fd);
  }
  const int after = ::dup(0);
  ::close(after);
  check(after == fd_mark);
  return 0;
}
