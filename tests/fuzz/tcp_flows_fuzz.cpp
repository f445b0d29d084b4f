// Fuzz target: the frame dispatcher and the whole TCP translation, driven
// through a fake host (tests/support/fake_tcp_host.hpp: no kernel). The
// input is a script of operations, so the fuzzer reaches every state, not
// just the first segment:
//
//   op % 8 == 0  a guest frame: u16 length (little-endian), then the frame;
//                op bit 7 set: the vnet header said NEEDS_CSUM (not verified)
//   1            readiness: socket index, poll bits
//   2            the clock moves: byte * 10 ms, then the tick
//   3            the host side changes: socket index, what (data arrives,
//                end of stream, reset, send room, connect outcome)
//   4            end of a batch (coalesced ACKs)
//   5            the guest answers the last TCP frame tapir sent: flags
//                byte, payload length byte (a well-formed reply with the
//                right sequence numbers, so deep states are reachable);
//                op bit 6 set, with a vnet header: the answer is a TSO
//                frame instead (payload length u16 of up to ~64 KiB, gso
//                size byte), read through the tap's own parser
//                (parse_tap_frame) from a vnet header that says TCPV4 or
//                TCPV6, gso_size and NEEDS_CSUM, as a guest kernel sends it
//   6            a forwarded connection towards the guest
//   7            the kernel: byte even -> with bit 1 clear, no SO_PEEK_OFF,
//                as before Linux 6.9; with bit 1 set, a tap without
//                IFF_VNET_HDR (--no-offload: MSS-sized segments with full
//                checksums, guest frames without offload metadata); either
//                only while no socket exists (a kernel does not change under
//                its sockets); odd -> urgent data on a socket (index, length
//                byte), read inline from its mark on
//
// Invariants checked: every frame tapir sends parses, fits, and carries a
// TCP checksum that verifies; without a vnet header, no frame asks for
// offloads and none is larger than the MTU; a FIN goes to the guest only
// once a host peer finished; the flow count never exceeds the cap.
#include <poll.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "stack/dispatch.hpp"
#include "tap/tap_io.hpp"
#include "flows/tcp_flows.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/tcp.hpp"
#include "wire/virtio_net_hdr.hpp"
#include "tests/support/fake_tcp_host.hpp"

namespace {

using namespace tapir;
using namespace tapir::flows;

constexpr size_t kMaxFlows = 8;

struct Reader {
  const uint8_t* p;
  size_t n;
  bool empty() const { return n == 0; }
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
};

// The last TCP frame sent to the guest, for op 5.
std::vector<std::byte> g_last;
testing::FakeTcpHost* g_host = nullptr;

// A FIN towards the guest says a host peer ended its stream: one must have
// (the fallback without SO_PEEK_OFF once took "nothing new" for the end).
void check_fin(const wire::TcpView& tcp) {
  if (!tcp.fin() || tcp.rst() || g_host == nullptr) return;
  for (const auto& [fd, s] : g_host->sockets) {
    (void)fd;
    if (s.eof) return;
  }
  __builtin_trap();
}

void check_sent(wire::ConstBytes f, const wire::VirtioNetHdrRepr& m) {
  auto eth = wire::EthernetView::parse(f);
  if (!eth) __builtin_trap();
  std::vector<std::byte> copy(f.begin(), f.end());
  if ((m.flags & wire::vnet_flag::kNeedsCsum) != 0 && !tap::complete_partial_checksum(copy, m.csum_start, m.csum_offset)) __builtin_trap();
  auto e2 = wire::EthernetView::parse(copy);
  if (e2->ethertype() == wire::ethertype::kIpv4) {
    auto ip = wire::Ipv4View::parse(e2->payload());
    if (!ip) __builtin_trap();
    if (ip->protocol() != wire::ipproto::kTcp) return;
    auto tcp = wire::TcpView::parse(ip->payload());
    if (!tcp || !tcp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    check_fin(*tcp);
    g_last.assign(f.begin(), f.end());
  } else if (e2->ethertype() == wire::ethertype::kIpv6) {
    auto ip = wire::Ipv6View::parse(e2->payload());
    if (!ip) __builtin_trap();
    if (ip->upper_protocol() != wire::ipproto::kTcp) return;
    auto tcp = wire::TcpView::parse(ip->upper_payload());
    if (!tcp || !tcp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    check_fin(*tcp);
    g_last.assign(f.begin(), f.end());
  }
}

// A reply from the guest to `last` (an IPv4 or IPv6 TCP frame from tapir).
std::vector<std::byte> reply_to(const std::vector<std::byte>& last, uint8_t flags, size_t len) {
  std::vector<std::byte> r(last.size() + len + 64);
  auto eth = wire::EthernetView::parse(last);
  const bool v6 = eth->ethertype() == wire::ethertype::kIpv6;
  const size_t l4 = v6 ? 54 : 34;
  std::memcpy(r.data(), last.data(), l4);
  wire::MutBytes b(r);
  // Swap MACs.
  std::memcpy(r.data(), last.data() + 6, 6);
  std::memcpy(r.data() + 6, last.data(), 6);
  auto t = wire::TcpView::parse(wire::ConstBytes(last).subspan(l4));
  if (!t) return {};
  const uint32_t seg_len = static_cast<uint32_t>(t->payload().size()) + (t->syn() ? 1 : 0) + (t->fin() ? 1 : 0);
  wire::MutBytes th = b.subspan(l4);
  wire::store_be16(th, 0, t->destination_port());
  wire::store_be16(th, 2, t->source_port());
  wire::store_be32(th, 4, t->acknowledgment_number());
  wire::store_be32(th, 8, t->sequence_number() + seg_len);
  th[12] = std::byte{0x50};
  th[13] = std::byte{flags};
  wire::store_be16(th, 14, 0x4000);
  wire::store_be16(th, 16, 0);
  wire::store_be16(th, 18, 0);
  for (size_t i = 0; i < len; ++i) th[20 + i] = std::byte{static_cast<uint8_t>('a' + i % 26)};
  const size_t tcp_len = 20 + len;
  if (v6) {
    const wire::Ipv6Addr src = wire::Ipv6Addr::load(last, 14 + 24), dst = wire::Ipv6Addr::load(last, 14 + 8);
    wire::Ipv6Repr ip{src, dst, wire::ipproto::kTcp, 64, 0, 0, tcp_len};
    ip.emit(b.subspan(14));
    wire::fill_tcp_checksum(th.first(tcp_len), src, dst);
  } else {
    const wire::Ipv4Addr src = wire::Ipv4Addr::load(last, 14 + 16), dst = wire::Ipv4Addr::load(last, 14 + 12);
    wire::Ipv4Repr ip;
    ip.src = src;
    ip.dst = dst;
    ip.protocol = wire::ipproto::kTcp;
    ip.payload_len = tcp_len;
    ip.emit(b.subspan(14));
    wire::fill_tcp_checksum(th.first(tcp_len), src, dst);
  }
  r.resize(l4 + tcp_len);
  return r;
}

// `frame` as a tap read with a 12-byte vnet header that says it is one TSO
// segment of `gso_size` with NEEDS_CSUM (so tapir does not verify the
// checksum), parsed by the tap's reader; false if it refused the frame.
bool as_tso_read(std::vector<std::byte>& frame, uint16_t gso_size, std::vector<std::byte>& read,
                 tap::TapFrame& out) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth) return false;
  const bool v6 = eth->ethertype() == wire::ethertype::kIpv6;
  const uint16_t l4 = v6 ? 54 : 34;
  wire::VirtioNetHdrRepr h;
  h.flags = wire::vnet_flag::kNeedsCsum;
  h.gso_type = v6 ? wire::vnet_gso::kTcpv6 : wire::vnet_gso::kTcpv4;
  h.hdr_len = static_cast<uint16_t>(l4 + 20);
  h.gso_size = gso_size;
  h.csum_start = l4;
  h.csum_offset = 16;
  read.assign(wire::kVirtioNetHdrLen, std::byte{0});
  h.emit(read);
  read.insert(read.end(), frame.begin(), frame.end());
  auto f = tap::parse_tap_frame(read, wire::kVirtioNetHdrLen);
  if (!f) return false;
  out = *f;
  return true;
}

// A tap opened without IFF_VNET_HDR: the same transmit buffers, but frames
// go out as they are, so each must fit the MTU and carry full checksums.
class NoVnetSink final : public loop::FrameSink {
 public:
  NoVnetSink(loop::FrameSink& q, uint32_t mtu) : q_(q), mtu_(mtu) {}
  wire::MutBytes acquire() override { return q_.acquire(); }
  using FrameSink::send;
  void send(size_t len, const wire::VirtioNetHdrRepr& vnet) override {
    if (vnet.gso_type != wire::vnet_gso::kNone || (vnet.flags & wire::vnet_flag::kNeedsCsum) != 0) {
      __builtin_trap();
    }
    if (len > wire::kEthernetHeaderLen + mtu_) __builtin_trap();
    q_.send(len, vnet);
  }
  void cancel() override { q_.cancel(); }
  bool has_vnet_hdr() const override { return false; }
  size_t free_slots() const override { return q_.free_slots(); }

 private:
  loop::FrameSink& q_;
  uint32_t mtu_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  testing::FakeTcpHost host;
  g_host = &host;
  testing::FakeWatcher watcher;
  auto detached = tap::TxQueue::detached(8, check_sent);
  services::ServiceConfig cfg;
  cfg.plan.ipv6 = true;
  NoVnetSink no_vnet(*detached, cfg.plan.mtu);
  loop::FrameSink* tx = detached.get();
  TcpConfig tc{NatConfig{cfg.plan, false}, kMaxFlows, {}, 0x5eed};
  services::GuestState guest;
  TcpFlows tcp(tc, host, guest);
  tcp.set_watcher(&watcher);
  stack::ServiceDispatcher dispatcher(cfg, guest);
  dispatcher.set_tcp(&tcp);
  MonoTime now{Duration::seconds(1000).ns};
  g_last.clear();
  std::vector<std::byte> frame;
  std::vector<std::byte> read;  // a TSO frame behind its vnet header (op 5)

  Reader in{data, size};
  for (int steps = 0; !in.empty() && steps < 512; ++steps) {
    const uint8_t op = in.u8();
    switch (op % 8) {
      case 0: {
        const size_t len = std::min<size_t>(in.u16(), in.n);
        frame.assign(reinterpret_cast<const std::byte*>(in.p), reinterpret_cast<const std::byte*>(in.p) + len);
        in.p += len;
        in.n -= len;
        tap::FrameMeta meta;
        if ((op & 0x80) != 0 && frame.size() > 64 && tx->has_vnet_hdr()) {
          // As the engine would have accepted it: offsets inside the frame.
          meta.needs_csum = true;
          meta.csum_start = 34;
          meta.csum_offset = 16;
        }
        dispatcher.on_frame(frame, meta, now, *tx);
        break;
      }
      case 1: {
        const uint8_t idx = in.u8();
        const uint8_t ev = in.u8();
        if (watcher.watches.empty()) break;
        auto& w = watcher.watches[idx % watcher.watches.size()];
        if (!w.active) break;
        unsigned events = 0;
        if (ev & 1) events |= POLLIN;
        if (ev & 2) events |= POLLOUT;
        if (ev & 4) events |= POLLERR;
        if (ev & 8) events |= POLLHUP;
        if (ev & 16) events |= POLLRDHUP;
        w.client->on_socket(w.cookie, events, now, *tx);
        break;
      }
      case 2:
        now = now + Duration::millis(10 * int64_t{in.u8()});
        dispatcher.on_tick(now, *tx);
        break;
      case 3: {
        const uint8_t idx = in.u8();
        const uint8_t what = in.u8();
        if (host.sockets.empty()) break;
        auto it = host.sockets.begin();
        std::advance(it, idx % host.sockets.size());
        testing::FakeSocket& s = it->second;
        switch (what % 8) {
          case 0: s.rx.append(size_t{in.u8()} * 512, 'h'); break;
          case 1: s.eof = true; break;
          case 2: s.error = -ECONNRESET; break;
          case 3: s.room = size_t{in.u8()} * 100; break;
          case 4: s.connecting = false; s.connect_error = 0; break;
          case 5: s.connecting = false; s.connect_error = -ECONNREFUSED; break;
          case 6: s.connecting = false; s.connect_error = -EHOSTUNREACH; break;
          case 7: s.rx.append(size_t{in.u8()}, 'x'); break;
        }
        break;
      }
      case 4: dispatcher.on_batch_end(now, *tx); break;
      case 5: {
        const uint8_t flags = in.u8();
        if ((op & 0x40) != 0 && tx->has_vnet_hdr()) {
          // A TSO segment: up to the 64 KiB an IP packet holds.
          const size_t len = std::min<size_t>(in.u16(), 65000);
          const auto gso_size = static_cast<uint16_t>(536 + 4 * size_t{in.u8()});
          if (g_last.empty()) break;
          frame = reply_to(g_last, flags, len);
          tap::TapFrame f;
          if (frame.empty() || !as_tso_read(frame, gso_size, read, f)) break;
          dispatcher.on_frame(f.frame, f.meta, now, *tx);
          break;
        }
        const uint8_t len = in.u8();
        if (g_last.empty()) break;
        frame = reply_to(g_last, flags, len);
        if (frame.empty()) break;
        tap::FrameMeta meta;
        dispatcher.on_frame(frame, meta, now, *tx);
        break;
      }
      case 6: {
        ForwardTarget t;
        const bool v6 = (in.u8() & 1) != 0;
        t.peer = *wire::IpAddr::parse(v6 ? "fd00::2" : "192.0.2.1");
        t.guest = *wire::IpAddr::parse(v6 ? "fd00::64" : "10.0.2.100");
        t.peer_port = in.u16();
        t.guest_port = in.u16();
        const int fd = host.next_fd++;
        host.sockets[fd].connecting = false;
        guest.mac = wire::MacAddr{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
        (void)tcp.forward_tcp(Fd(fd), t, now, *tx);
        break;
      }
      case 7: {
        const uint8_t what = in.u8();
        if ((what & 1) == 0) {
          if (!host.sockets.empty()) break;
          if ((what & 2) != 0) {
            tx = &no_vnet;
          } else {
            host.peek_offset_works = false;
          }
          break;
        }
        const uint8_t idx = in.u8();
        const uint8_t len = in.u8();
        if (host.sockets.empty()) break;
        auto it = host.sockets.begin();
        std::advance(it, idx % host.sockets.size());
        it->second.send_urgent(std::string(size_t{len} + 1, 'u'));
        break;
      }
      default: break;
    }
    if (tcp.size() > kMaxFlows) __builtin_trap();
  }
  // Nothing leaks: every socket tapir still holds belongs to a flow.
  tcp.close_all();
  for (const auto& [fd, s] : host.sockets) {
    (void)fd;
    if (!s.closed && !s.local) {
      // A socket opened for a connection attempt is always closed by now.
      __builtin_trap();
    }
  }
  g_host = nullptr;
  return 0;
}
