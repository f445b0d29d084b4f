// TCP translation, state by state, against a scripted host (FakeTcpHost):
// every frame tapir sends the guest is parsed and checked, every byte it
// hands the host is compared. The real-kernel path is covered end to end
// by tests/e2e/tcp_*.

#include "flows/tcp_flows.hpp"
#include "tap/tap_io.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <string>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/guest_packet.hpp"
#include "wire/icmp4.hpp"
#include "wire/proto.hpp"
#include "wire/tcp_options.hpp"
#include "wire/virtio_net_hdr.hpp"
#include "tests/support/fake_tcp_host.hpp"

namespace tapir::flows {
namespace {

namespace tf = wire::tcp_flag;
using testing::FakeSocket;
using testing::FakeTcpHost;
using testing::FakeWatcher;

const wire::MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const wire::Ipv4Addr kGuest = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
const wire::Ipv4Addr kWorld = wire::Ipv4Addr::from_octets(192, 0, 2, 1);
constexpr uint16_t kGuestPort = 40000;
constexpr uint16_t kPort = 80;
constexpr uint32_t kIrs = 1000;

// A frame tapir sent the guest, parsed.
struct Out {
  std::vector<std::byte> frame;
  wire::VirtioNetHdrRepr meta;
  bool is_icmp = false;
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t window = 0;
  wire::TcpOptions options;
  std::string payload;
};

struct Harness {
  FakeTcpHost host;
  FakeWatcher watcher;
  std::vector<Out> out;
  std::unique_ptr<tap::TxQueue> tx;
  services::GuestState learnt;  // the guest state the services learn into (stack::Stack's)
  TcpFlows flows;
  MonoTime now{Duration::seconds(100).ns};
  bool dns_stream = false;  // what the routing says of the next segments

  explicit Harness(size_t max_flows = 16, bool disable_loopback = false)
      : tx(tap::TxQueue::detached(64, [this](wire::ConstBytes f, const wire::VirtioNetHdrRepr& m) { record(f, m); })),
        flows(TcpConfig{NatConfig{wire::AddressPlan{}, disable_loopback}, max_flows, {}}, host,
              learnt) {
    flows.set_watcher(&watcher);
  }

  void record(wire::ConstBytes f, const wire::VirtioNetHdrRepr& m) {
    Out o;
    o.frame.assign(f.begin(), f.end());
    o.meta = m;
    auto eth = wire::EthernetView::parse(f);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->destination(), kGuestMac);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    if (ip->protocol() == wire::ipproto::kIcmp) {
      o.is_icmp = true;
      out.push_back(std::move(o));
      return;
    }
    ASSERT_EQ(ip->protocol(), wire::ipproto::kTcp);
    auto tcp = wire::TcpView::parse(ip->payload());
    ASSERT_TRUE(tcp);
    // Partial checksums (vnet header): complete them, then verify.
    std::vector<std::byte> copy(f.begin(), f.end());
    if ((m.flags & wire::vnet_flag::kNeedsCsum) != 0) {
      ASSERT_TRUE(tap::complete_partial_checksum(copy, m.csum_start, m.csum_offset));
      auto e2 = wire::EthernetView::parse(copy);
      auto i2 = wire::Ipv4View::parse(e2->payload());
      auto t2 = wire::TcpView::parse(i2->payload());
      EXPECT_TRUE(t2->checksum_ok(i2->source(), i2->destination()));
    } else {
      EXPECT_TRUE(tcp->checksum_ok(ip->source(), ip->destination()));
    }
    o.flags = tcp->flags();
    o.seq = tcp->sequence_number();
    o.ack = tcp->acknowledgment_number();
    o.window = tcp->window();
    if (auto opts = wire::TcpOptions::parse(tcp->options())) o.options = *opts;
    auto p = tcp->payload();
    o.payload.assign(reinterpret_cast<const char*>(p.data()), p.size());
    out.push_back(std::move(o));
  }

  // One guest segment to kWorld:kPort (or `dst`), then the batch end.
  void guest(uint8_t flags, uint32_t seq, uint32_t ack, const std::string& payload = "",
             uint16_t window = 65535, bool with_options = false,
             wire::Ipv4Addr dst = kWorld, uint16_t dport = kPort) {
    std::vector<std::byte> f(14 + 20 + 60 + payload.size());
    wire::MutBytes b(f);
    wire::EthernetRepr{wire::MacAddr{{0x52, 0x55, 10, 0, 2, 2}}, kGuestMac, wire::ethertype::kIpv4}.emit(b);
    std::array<std::byte, 40> optbuf{};
    size_t optlen = 0;
    if (with_options) {
      wire::TcpOptions o;
      o.mss = 1460;
      o.window_scale = 7;
      ASSERT_TRUE(o.emit(wire::MutBytes(optbuf)));
      optlen = o.buffer_len();
    }
    const size_t tcp_len = 20 + optlen + payload.size();
    wire::Ipv4Repr ip;
    ip.src = kGuest;
    ip.dst = dst;
    ip.protocol = wire::ipproto::kTcp;
    ip.payload_len = tcp_len;
    ip.emit(b.subspan(14));
    wire::MutBytes t = b.subspan(34);
    wire::store_be16(t, 0, kGuestPort);
    wire::store_be16(t, 2, dport);
    wire::store_be32(t, 4, seq);
    wire::store_be32(t, 8, ack);
    t[12] = std::byte{static_cast<uint8_t>(((20 + optlen) / 4) << 4)};
    t[13] = std::byte{flags};
    wire::store_be16(t, 14, window);
    std::memcpy(t.data() + 20, optbuf.data(), optlen);
    std::memcpy(t.data() + 20 + optlen, payload.data(), payload.size());
    f.resize(34 + tcp_len);
    wire::fill_tcp_checksum(wire::MutBytes(f).subspan(34), ip.src, ip.dst);
    auto p = wire::classify(f);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->transport, wire::Transport::kTcp);
    tap::FrameMeta meta;
    flows.on_guest(*p, meta, dns_stream, now, *tx);
    flows.on_batch_end(now, *tx);
  }

  void ready(int fd, unsigned events) {
    FakeWatcher::Watch* w = watcher.find(fd);
    ASSERT_NE(w, nullptr);
    flows.on_socket(w->cookie, events, now, *tx);
    flows.on_batch_end(now, *tx);
  }

  void tick(Duration d) {
    now = now + d;
    flows.on_tick(now, *tx);
    flows.on_batch_end(now, *tx);
  }

  // Opens a connection to an established state; returns our ISS.
  uint32_t establish() {
    guest(tf::kSyn, kIrs, 0, "", 64240, true);
    EXPECT_TRUE(out.empty()) << "no SYN-ACK before the host connect completes";
    host.last().connecting = false;
    ready(host.next_fd - 1, POLLOUT);
    EXPECT_EQ(out.size(), 1u);
    const Out& sa = out.back();
    EXPECT_EQ(sa.flags, tf::kSyn | tf::kAck);
    EXPECT_EQ(sa.ack, kIrs + 1);
    EXPECT_EQ(sa.options.mss, std::optional<uint16_t>(1460));
    EXPECT_EQ(sa.options.window_scale, std::optional<uint8_t>(7));
    const uint32_t iss = sa.seq;
    guest(tf::kAck, kIrs + 1, iss + 1, "", 512);  // 512 << 7 = 64 KiB
    return iss;
  }
  int fd() const { return host.next_fd - 1; }

  // The byte stream the guest received (from our ISS + 1), put together
  // from every data segment by sequence number; a retransmission must
  // repeat the same bytes.
  std::string stream_to_guest(uint32_t iss) const {
    std::string stream;
    for (const Out& o : out) {
      if (o.is_icmp || o.payload.empty()) continue;
      const size_t at = o.seq - (iss + 1);
      if (stream.size() < at + o.payload.size()) stream.resize(at + o.payload.size(), '\0');
      const std::string before = stream.substr(at, o.payload.size());
      stream.replace(at, o.payload.size(), o.payload);
      for (size_t i = 0; i < before.size(); ++i) {
        EXPECT_TRUE(before[i] == '\0' || before[i] == o.payload[i])
            << "byte " << at + i << " sent differently";
      }
    }
    return stream;
  }
  size_t fins() const {
    size_t n = 0;
    for (const Out& o : out) n += (!o.is_icmp && (o.flags & tf::kFin) != 0) ? 1 : 0;
    return n;
  }
};

// A connection from kWorld:5555, forwarded to the guest's kGuestPort.
ForwardTarget forward_target() {
  ForwardTarget t;
  t.peer = wire::IpAddr::from(kWorld);
  t.peer_port = 5555;
  t.guest = wire::IpAddr::from(kGuest);
  t.guest_port = kGuestPort;
  return t;
}

// The data path runs twice: with SO_PEEK_OFF, and as on kernels before 6.9
// (peeks from the queue's head, FakeTcpHost::peek_offset_works false).
class TcpFlowsBothPeekModes : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(PeekModes, TcpFlowsBothPeekModes, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "PeekOffset" : "FromTheHead");
                         });

TEST(TcpFlows, SynAckOnlyAfterTheHostConnected) {
  Harness h;
  const uint32_t iss = h.establish();
  EXPECT_EQ(h.flows.size(), 1u);
  EXPECT_EQ(h.flows.stats().created, 1u);
  // The guest's ACK completed the handshake: nothing else was sent.
  EXPECT_EQ(h.out.size(), 1u);
  (void)iss;
}

TEST_P(TcpFlowsBothPeekModes, HostDataIsPeekedAndConsumedOnlyWhenAcked) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  h.host.sockets.at(h.fd()).rx = "hello world";
  h.ready(h.fd(), POLLIN);
  ASSERT_EQ(h.out.size(), 2u);
  EXPECT_EQ(h.out.back().payload, "hello world");
  EXPECT_EQ(h.out.back().seq, iss + 1);
  EXPECT_EQ(h.out.back().ack, kIrs + 1);
  // Not consumed yet: still in the host socket.
  EXPECT_EQ(h.host.sockets.at(h.fd()).rx, "hello world");
  h.guest(tf::kAck, kIrs + 1, iss + 1 + 5, "", 512);
  EXPECT_EQ(h.host.sockets.at(h.fd()).rx, " world");
  h.guest(tf::kAck, kIrs + 1, iss + 12, "", 512);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).rx.empty());
}

TEST_P(TcpFlowsBothPeekModes, RetransmitsByPeekingAgainAfterTheTimeout) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  h.host.sockets.at(h.fd()).rx = "abcdef";
  h.ready(h.fd(), POLLIN);
  ASSERT_EQ(h.out.back().payload, "abcdef");
  const size_t before = h.out.size();
  h.tick(Duration::millis(100));
  EXPECT_EQ(h.out.size(), before) << "no retransmission before the RTO";
  h.tick(Duration::millis(150));
  ASSERT_EQ(h.out.size(), before + 1);
  EXPECT_EQ(h.out.back().payload, "abcdef");
  EXPECT_EQ(h.out.back().seq, iss + 1);
  EXPECT_EQ(h.flows.stats().retransmits, 1u);
}

TEST_P(TcpFlowsBothPeekModes, ThreeDuplicateAcksRetransmitAtOnce) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  h.host.sockets.at(h.fd()).rx = std::string(3000, 'x');
  h.ready(h.fd(), POLLIN);
  const size_t before = h.out.size();
  for (int i = 0; i < 3; ++i) h.guest(tf::kAck, kIrs + 1, iss + 1, "", 512);
  ASSERT_GT(h.out.size(), before);
  EXPECT_EQ(h.out.back().seq, iss + 1);
  EXPECT_EQ(h.flows.stats().fast_retransmits, 1u);
}

TEST(TcpFlows, GuestDataIsAckedOnlyAsFarAsTheHostTookIt) {
  Harness h;
  const uint32_t iss = h.establish();
  h.host.sockets.at(h.fd()).room = 4;
  h.guest(tf::kAck | tf::kPsh, kIrs + 1, iss + 1, "abcdefgh", 512);
  EXPECT_EQ(h.host.sockets.at(h.fd()).sent, "abcd");
  EXPECT_EQ(h.out.back().ack, kIrs + 1 + 4);
  EXPECT_EQ(h.flows.stats().partial_sends, 1u);
  // The host socket drains: a window update, then the guest resends the rest.
  h.host.sockets.at(h.fd()).room = 1 << 20;
  h.ready(h.fd(), POLLOUT);
  EXPECT_GT(h.out.back().window, 0);
  h.guest(tf::kAck | tf::kPsh, kIrs + 1 + 4, iss + 1, "efgh", 512);
  EXPECT_EQ(h.host.sockets.at(h.fd()).sent, "abcdefgh");
  EXPECT_EQ(h.out.back().ack, kIrs + 1 + 8);
}

TEST(TcpFlows, OverlapAndGapsAreHandledWithoutDuplicatingData) {
  Harness h;
  const uint32_t iss = h.establish();
  h.guest(tf::kAck, kIrs + 1, iss + 1, "abc", 512);
  h.guest(tf::kAck, kIrs + 1, iss + 1, "abcdef", 512);  // overlaps what was taken
  EXPECT_EQ(h.host.sockets.at(h.fd()).sent, "abcdef");
  h.guest(tf::kAck, kIrs + 1 + 10, iss + 1, "zz", 512);  // a gap: dropped, duplicate ACK
  EXPECT_EQ(h.host.sockets.at(h.fd()).sent, "abcdef");
  EXPECT_EQ(h.out.back().ack, kIrs + 1 + 6);
  EXPECT_EQ(h.flows.stats().out_of_order, 1u);
}

TEST_P(TcpFlowsBothPeekModes, HalfClosesBothWaysThenEnds) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  // Guest FIN: the host socket is shut for writing; the host keeps sending.
  h.guest(tf::kAck | tf::kFin, kIrs + 1, iss + 1, "bye", 512);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).shut_wr);
  EXPECT_EQ(h.out.back().ack, kIrs + 1 + 3 + 1);
  h.host.sockets.at(h.fd()).rx = "more";
  h.ready(h.fd(), POLLIN);
  EXPECT_EQ(h.out.back().payload, "more");
  // The host peer finishes: our FIN after the data.
  h.host.sockets.at(h.fd()).eof = true;
  h.guest(tf::kAck, kIrs + 5, iss + 1 + 4, "", 512);
  h.ready(h.fd(), POLLIN | POLLRDHUP);
  ASSERT_TRUE(h.out.back().flags & tf::kFin);
  EXPECT_EQ(h.out.back().seq, iss + 1 + 4);
  EXPECT_EQ(h.flows.size(), 1u);
  h.guest(tf::kAck, kIrs + 5, iss + 1 + 4 + 1, "", 512);
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).closed);
  EXPECT_FALSE(h.host.sockets.at(h.fd()).reset);
}

TEST_P(TcpFlowsBothPeekModes, TheGuestsLastFinIsAckedBeforeTheFlowEnds) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  // The host finishes first; the guest acknowledges our FIN ...
  h.host.sockets.at(h.fd()).eof = true;
  h.ready(h.fd(), POLLIN | POLLRDHUP);
  ASSERT_TRUE(h.out.back().flags & tf::kFin);
  h.guest(tf::kAck, kIrs + 1, iss + 2, "", 512);
  EXPECT_EQ(h.flows.size(), 1u);
  // ... then sends its last data with its FIN: both must be acknowledged
  // although the flow ends at once (found by the e2e churn test).
  h.guest(tf::kAck | tf::kFin, kIrs + 1, iss + 2, "last words", 512);
  EXPECT_EQ(h.host.sockets.at(h.fd()).sent, "last words");
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_EQ(h.out.back().flags, tf::kAck);
  EXPECT_EQ(h.out.back().ack, kIrs + 1 + 10 + 1);
}

TEST(TcpFlows, GuestResetClosesTheHostSocketWithAReset) {
  Harness h;
  h.establish();
  h.guest(tf::kRst, kIrs + 1, 0);
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).reset);
}

TEST(TcpFlows, ResetWithAWrongSequenceNumberIsIgnored) {
  Harness h;
  h.establish();
  h.guest(tf::kRst, kIrs + 1 + 1'000'000'000u, 0);
  EXPECT_EQ(h.flows.size(), 1u);
  EXPECT_EQ(h.flows.stats().bad_segment, 1u);
}

TEST(TcpFlows, HostResetBecomesAGuestReset) {
  Harness h;
  h.establish();
  h.host.sockets.at(h.fd()).error = -ECONNRESET;
  h.host.sockets.at(h.fd()).rx = "x";
  h.ready(h.fd(), POLLIN);
  EXPECT_TRUE(h.out.back().flags & tf::kRst);
  EXPECT_EQ(h.flows.size(), 0u);
}

TEST(TcpFlows, RefusedConnectionIsAReset) {
  Harness h;
  h.guest(tf::kSyn, kIrs, 0, "", 64240, true);
  h.host.last().connect_error = -ECONNREFUSED;
  h.ready(h.fd(), POLLOUT | POLLERR);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kRst | tf::kAck);
  EXPECT_EQ(h.out[0].ack, kIrs + 1);
  EXPECT_EQ(h.flows.stats().refused, 1u);
  EXPECT_EQ(h.flows.size(), 0u);
}

TEST(TcpFlows, UnreachableHostIsAnIcmpError) {
  Harness h;
  h.guest(tf::kSyn, kIrs, 0, "", 64240, true);
  h.host.last().connect_error = -EHOSTUNREACH;
  h.ready(h.fd(), POLLOUT | POLLERR);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_TRUE(h.out[0].is_icmp);
  EXPECT_EQ(h.flows.stats().unreachable, 1u);
}

TEST(TcpFlows, DisabledHostLoopbackIsNetworkUnreachable) {
  Harness h(16, true);
  h.guest(tf::kSyn, kIrs, 0, "", 64240, true, wire::Ipv4Addr::from_octets(10, 0, 2, 2));
  ASSERT_EQ(h.out.size(), 1u);
  ASSERT_TRUE(h.out[0].is_icmp);
  auto eth = wire::EthernetView::parse(h.out[0].frame);
  auto ip = wire::Ipv4View::parse(eth->payload());
  auto icmp = wire::Icmp4View::parse(ip->payload());
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), wire::icmp4_type::kDestUnreachable);
  EXPECT_EQ(icmp->code(), wire::icmp4_unreach::kNet);
  EXPECT_TRUE(h.host.sockets.empty()) << "no host socket for a prohibited destination";
}

// Martian destinations (flows/nat.hpp): a SYN to one never opens a host
// socket, whatever the flags; the unicast ones get a reset, multicast and
// broadcast nothing (RFC 1122 4.2.3.10).
TEST(TcpFlows, MartianDestinationsGetAResetAndNoHostSocket) {
  for (bool dhl : {false, true}) {
    Harness h(16, dhl);
    for (const char* dst : {"127.0.0.1", "0.0.0.0", "240.0.0.1"}) {
      h.out.clear();
      h.guest(tf::kSyn, kIrs, 0, "", 64240, true, *wire::Ipv4Addr::parse(dst));
      ASSERT_EQ(h.out.size(), 1u) << dst;
      EXPECT_EQ(h.out[0].flags, tf::kRst | tf::kAck) << dst;
      EXPECT_EQ(h.out[0].ack, kIrs + 1) << dst;
    }
    h.out.clear();
    for (const char* dst : {"224.0.0.1", "255.255.255.255", "10.0.2.255"}) {
      h.guest(tf::kSyn, kIrs, 0, "", 64240, true, *wire::Ipv4Addr::parse(dst));
      h.guest(tf::kAck, kIrs + 1, 77, "data", 64240, false, *wire::Ipv4Addr::parse(dst));
    }
    EXPECT_TRUE(h.out.empty()) << "no reply to a multicast or broadcast destination";
    EXPECT_TRUE(h.host.sockets.empty()) << "no host socket for a martian";
    EXPECT_EQ(h.flows.size(), 0u);
    const MartianCounters& m = h.flows.stats().martians;
    EXPECT_EQ(m[Martian::kLoopback], 1u);
    EXPECT_EQ(m[Martian::kUnspecified], 1u);
    EXPECT_EQ(m[Martian::kReserved], 1u);
    EXPECT_EQ(m[Martian::kMulticast], 2u);
    EXPECT_EQ(m[Martian::kBroadcast], 4u);
  }
}

TEST(TcpFlows, AtTheCapANewSynGetsAReset) {
  Harness h(1);
  h.establish();
  h.out.clear();
  h.guest(tf::kSyn, 5000, 0, "", 64240, true, kWorld, 81);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kRst | tf::kAck);
  EXPECT_EQ(h.flows.stats().table_full, 1u);
  EXPECT_EQ(h.flows.size(), 1u);
}

// The flows live in a FlowTable (flows/flow_table.hpp): a released flow's
// cookie names nothing, even once a new connection took its slot.
TEST(TcpFlows, AStaleCookieFindsNothingAfterTheSlotWasReused) {
  Harness h(1);
  h.establish();
  const int old_fd = h.fd();
  const uint64_t old_cookie = h.watcher.find(old_fd)->cookie;
  h.guest(tf::kRst, kIrs + 1, 0);
  ASSERT_EQ(h.flows.size(), 0u);
  h.out.clear();
  h.guest(tf::kSyn, 5000, 0, "", 64240, true, kWorld, 81);
  h.host.last().connecting = false;
  h.ready(h.fd(), POLLOUT);
  ASSERT_EQ(h.out.size(), 1u);
  const uint32_t iss = h.out[0].seq;
  h.guest(tf::kAck, 5001, iss + 1, "", 512, false, kWorld, 81);
  ASSERT_EQ(h.flows.size(), 1u);
  const uint64_t new_cookie = h.watcher.find(h.fd())->cookie;
  ASSERT_EQ(new_cookie & 0xffffffffu, old_cookie & 0xffffffffu) << "the one slot, reused";
  ASSERT_NE(new_cookie, old_cookie);
  h.host.sockets.at(h.fd()).rx = "for the new flow";
  h.out.clear();
  h.flows.on_socket(old_cookie, POLLIN | POLLERR | POLLHUP, h.now, *h.tx);
  h.flows.on_batch_end(h.now, *h.tx);
  EXPECT_TRUE(h.out.empty()) << "a completion for the old flow reached the new one";
  EXPECT_EQ(h.flows.size(), 1u);
  h.ready(h.fd(), POLLIN);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].payload, "for the new flow");
}

// The idle limit of a half-closed flow lies far beyond the wheel's span.
TEST(TcpFlows, AHalfClosedFlowLeftIdleEndsAfterTheIdleLimit) {
  Harness h;
  const uint32_t iss = h.establish();
  h.guest(tf::kAck | tf::kFin, kIrs + 1, iss + 1, "", 512);
  ASSERT_EQ(h.flows.size(), 1u);
  h.out.clear();
  h.tick(TcpFlows::kClosingIdle - Duration::seconds(1));
  EXPECT_EQ(h.flows.size(), 1u);
  EXPECT_TRUE(h.out.empty());
  h.tick(Duration::seconds(1));
  EXPECT_EQ(h.flows.size(), 0u);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kRst | tf::kAck);
  EXPECT_EQ(h.flows.stats().timeouts, 1u);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).reset);
}

TEST(TcpFlows, SegmentForNoConnectionGetsAReset) {
  Harness h;
  h.guest(tf::kAck, 7, 1234, "data");
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kRst);
  EXPECT_EQ(h.out[0].seq, 1234u);
  h.guest(tf::kRst, 7, 0);
  EXPECT_EQ(h.out.size(), 1u) << "a reset is never answered";
}

// TCP to the DNS address, port 53: the routing marks it a DNS stream
// (stack/route.cpp). It becomes a stream to the DNS service; without one
// (--disable-dns) the SYN gets no answer at all. Anything else to the DNS
// address finds nothing listening: a reset.
struct Streams : StreamService {
  int adopted = 0;
  bool adopt_stream(Fd, MonoTime) override {
    ++adopted;
    return true;
  }
};

TEST(TcpFlows, TheRoutingSaysWhichConnectionIsADnsStream) {
  const wire::Ipv4Addr dns = wire::AddressPlan{}.dns4;
  {
    Harness h;  // no stream service: --disable-dns
    h.dns_stream = true;
    h.guest(tf::kSyn, kIrs, 0, "", 65535, true, dns, 53);
    EXPECT_TRUE(h.out.empty());
    EXPECT_EQ(h.flows.size(), 0u);
    h.dns_stream = false;
    h.guest(tf::kSyn, kIrs, 0, "", 65535, true, dns, 53);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_NE(h.out[0].flags & tf::kRst, 0);
  }
  {
    Harness h;
    Streams streams;
    h.flows.set_streams(&streams);
    h.dns_stream = true;
    h.guest(tf::kSyn, kIrs, 0, "", 65535, true, dns, 53);
    EXPECT_EQ(streams.adopted, 1);
    ASSERT_EQ(h.out.size(), 1u);
    EXPECT_EQ(h.out[0].flags, tf::kSyn | tf::kAck);
    h.dns_stream = false;
    h.guest(tf::kSyn, kIrs, 0, "", 65535, true, dns, 5353);
    EXPECT_EQ(streams.adopted, 1);
    ASSERT_EQ(h.out.size(), 2u);
    EXPECT_NE(h.out[1].flags & tf::kRst, 0);
  }
}

TEST(TcpFlows, ABareFinAfterTheFlowEndedIsAckedNotReset) {
  // Our ACK of the guest's last FIN was lost (a full queue in the guest):
  // the repeated FIN gets the ACK TIME-WAIT would give, never a reset.
  Harness h;
  h.guest(tf::kFin | tf::kAck, 500, 7000);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kAck);
  EXPECT_EQ(h.out[0].seq, 7000u);
  EXPECT_EQ(h.out[0].ack, 501u);
  EXPECT_EQ(h.flows.stats().late_fins, 1u);
  // A FIN that carries data is not acknowledged: that data went nowhere.
  h.guest(tf::kFin | tf::kAck, 500, 7000, "lost");
  EXPECT_EQ(h.out.back().flags, tf::kRst);
}

TEST_P(TcpFlowsBothPeekModes, LargeHostDataGoesOutAsGsoFrames) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  // A big guest window: 65535 << 7.
  h.guest(tf::kAck, kIrs + 1, iss + 1, "", 65535);
  h.host.sockets.at(h.fd()).rx = std::string(200'000, 'g');
  h.out.clear();
  h.ready(h.fd(), POLLIN);
  ASSERT_GE(h.out.size(), 4u);
  size_t total = 0;
  for (const Out& o : h.out) {
    EXPECT_LE(o.payload.size(), 65495u);
    total += o.payload.size();
    if (o.payload.size() > 1460) {
      EXPECT_EQ(o.meta.gso_type, wire::vnet_gso::kTcpv4);
      EXPECT_EQ(o.meta.gso_size, 1460);
      EXPECT_EQ(o.meta.hdr_len, 14 + 20 + 20);
    }
  }
  EXPECT_EQ(total, 200'000u);
}

TEST_P(TcpFlowsBothPeekModes, ZeroWindowIsProbed) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  h.guest(tf::kAck, kIrs + 1, iss + 1, "", 0);
  h.host.sockets.at(h.fd()).rx = "waiting";
  h.ready(h.fd(), POLLIN);
  const size_t before = h.out.size();
  h.tick(Duration::millis(250));
  ASSERT_EQ(h.out.size(), before + 1);
  EXPECT_EQ(h.out.back().seq, iss);  // below snd_una: the guest must answer
  EXPECT_TRUE(h.out.back().payload.empty());
  EXPECT_EQ(h.flows.stats().window_probes, 1u);
  h.guest(tf::kAck, kIrs + 1, iss + 1, "", 512);  // the window opens
  EXPECT_EQ(h.out.back().payload, "waiting");
}

TEST(TcpFlows, AWindowShutForeverIsGivenUpWithResets) {
  Harness h;
  const uint32_t iss = h.establish();
  h.guest(tf::kAck, kIrs + 1, iss + 1, "", 0);
  h.host.sockets.at(h.fd()).rx = "never read";
  h.ready(h.fd(), POLLIN);
  // The guest answers every probe, its window still shut (as a reader
  // that never reads would): the flow lives for kMaxWindowProbes probes.
  for (int i = 0; i < TcpFlows::kMaxWindowProbes; ++i) {
    const size_t before = h.out.size();
    h.tick(TcpFlows::kMaxRto);
    ASSERT_EQ(h.out.size(), before + 1) << "probe " << i;
    EXPECT_EQ(h.out.back().seq, iss);
    EXPECT_EQ(h.out.back().flags, tf::kAck);
    h.guest(tf::kAck, kIrs + 1, iss + 1, "", 0);
    ASSERT_EQ(h.flows.size(), 1u);
  }
  EXPECT_EQ(h.flows.stats().window_probes, static_cast<uint64_t>(TcpFlows::kMaxWindowProbes));
  // The next one is not sent: both sides are reset instead.
  h.out.clear();
  h.tick(TcpFlows::kMaxRto);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kRst | tf::kAck);
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_EQ(h.flows.stats().window_timeouts, 1u);
  EXPECT_EQ(h.flows.stats().timeouts, 1u);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).reset);
}

TEST(TcpFlows, AWindowThatOpensStartsTheProbeCountAgain) {
  Harness h;
  const uint32_t iss = h.establish();
  h.guest(tf::kAck, kIrs + 1, iss + 1, "", 0);
  h.host.sockets.at(h.fd()).rx = "x";
  h.ready(h.fd(), POLLIN);
  for (int i = 0; i < TcpFlows::kMaxWindowProbes; ++i) {
    h.tick(TcpFlows::kMaxRto);
    h.guest(tf::kAck, kIrs + 1, iss + 1, "", 0);
  }
  // One byte of window: the byte goes out and is acknowledged; shut again.
  h.guest(tf::kAck, kIrs + 1, iss + 1, "", 1);
  ASSERT_EQ(h.out.back().payload, "x");
  h.guest(tf::kAck, kIrs + 1, iss + 2, "", 0);
  h.host.sockets.at(h.fd()).rx = "y";
  h.ready(h.fd(), POLLIN);
  for (int i = 0; i < TcpFlows::kMaxWindowProbes; ++i) {
    h.tick(TcpFlows::kMaxRto);
    h.guest(tf::kAck, kIrs + 1, iss + 2, "", 0);
    ASSERT_EQ(h.flows.size(), 1u) << "probe " << i << " of the second closed window";
  }
  EXPECT_EQ(h.flows.stats().window_timeouts, 0u);
}

TEST(TcpFlows, AnsweringAWindowProbe) {
  Harness h;
  const uint32_t iss = h.establish();
  const size_t before = h.out.size();
  h.guest(tf::kAck, kIrs, iss + 1, "", 512);  // seq below rcv_nxt
  ASSERT_EQ(h.out.size(), before + 1);
  EXPECT_EQ(h.out.back().ack, kIrs + 1);
}

TEST(TcpFlows, SilentGuestIsGivenUpWithResets) {
  Harness h;
  h.establish();
  h.host.sockets.at(h.fd()).rx = "unacked";
  h.ready(h.fd(), POLLIN);
  for (int i = 0; i < 40 && h.flows.size() != 0; ++i) h.tick(Duration::seconds(30));
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_EQ(h.flows.stats().timeouts, 1u);
  EXPECT_TRUE(h.host.sockets.at(h.fd()).reset);
}

TEST_P(TcpFlowsBothPeekModes, ForwardedConnectionStartsWithOurSyn) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  h.learnt.mac = kGuestMac;
  const ForwardTarget t = forward_target();
  h.host.sockets[77].connecting = false;
  ASSERT_TRUE(h.flows.forward_tcp(Fd(77), t, h.now, *h.tx));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kSyn);
  const uint32_t iss = h.out[0].seq;
  // The guest answers from its port to the peer's.
  h.guest(tf::kSyn | tf::kAck, 9000, iss + 1, "", 64240, true, kWorld, 5555);
  EXPECT_EQ(h.out.back().flags, tf::kAck);
  EXPECT_EQ(h.out.back().ack, 9001u);
  h.host.sockets[77].rx = "from the client";
  h.ready(77, POLLIN);
  EXPECT_EQ(h.out.back().payload, "from the client");
  h.guest(tf::kAck | tf::kPsh, 9001, iss + 1, "reply", 512, false, kWorld, 5555);
  EXPECT_EQ(h.host.sockets[77].sent, "reply");
  EXPECT_EQ(h.flows.stats().forwarded, 1u);
}

// The MAC of a forwarded connection is the one in the guest state the
// services learn into; a guest segment teaches TCP nothing of its own.
TEST(TcpFlows, AForwardedConnectionNeedsTheGuestsMacFromTheGuestState) {
  Harness h;
  h.guest(tf::kAck, 7, 1234, "data");  // a segment from kGuestMac
  h.out.clear();
  const ForwardTarget t = forward_target();
  h.host.sockets[77].connecting = false;
  EXPECT_FALSE(h.flows.forward_tcp(Fd(77), t, h.now, *h.tx));
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_TRUE(h.host.sockets[77].closed);
  EXPECT_TRUE(h.host.sockets[77].reset);
  h.learnt.mac = kGuestMac;
  h.host.sockets[78].connecting = false;
  ASSERT_TRUE(h.flows.forward_tcp(Fd(78), t, h.now, *h.tx));
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].flags, tf::kSyn);
}

TEST_P(TcpFlowsBothPeekModes, ChurnLeavesNothingBehind) {
  Harness h(4);
  h.host.peek_offset_works = GetParam();
  for (uint32_t i = 0; i < 200; ++i) {
    h.out.clear();
    const uint32_t irs = 100000 * i;
    h.guest(tf::kSyn, irs, 0, "", 64240, true, kWorld, static_cast<uint16_t>(1000 + i));
    h.host.last().connecting = false;
    h.ready(h.fd(), POLLOUT);
    ASSERT_FALSE(h.out.empty());
    const uint32_t iss = h.out.back().seq;
    h.guest(tf::kAck | tf::kFin, irs + 1, iss + 1, "q", 512, false, kWorld, static_cast<uint16_t>(1000 + i));
    h.host.sockets.at(h.fd()).eof = true;
    h.ready(h.fd(), POLLIN);
    h.guest(tf::kAck, irs + 3, iss + 2, "", 512, false, kWorld, static_cast<uint16_t>(1000 + i));
  }
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_EQ(h.flows.stats().closed, 200u);
  for (const auto& [fd, s] : h.host.sockets) EXPECT_TRUE(s.closed) << fd;
}

// Without SO_PEEK_OFF, a peek of a queue that holds only the bytes in
// flight returns just those: nothing new, which is no end of stream (before
// the fix, the fallback took it for one and closed the guest's stream: a
// host sender writing a line every 20 ms got 12 of 100 lines through).
TEST_P(TcpFlowsBothPeekModes, NothingNewIsNotTheEndOfTheStream) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  FakeSocket& s = h.host.sockets.at(h.fd());
  s.rx = "line 1\n";
  h.ready(h.fd(), POLLIN);
  ASSERT_EQ(h.out.back().payload, "line 1\n");
  // A wakeup with nothing new (it came for the bytes just sent).
  const size_t before = h.out.size();
  h.ready(h.fd(), POLLIN);
  EXPECT_EQ(h.out.size(), before);
  EXPECT_EQ(h.fins(), 0u);
  s.rx += "line 2\n";
  h.ready(h.fd(), POLLIN);
  EXPECT_EQ(h.out.back().payload, "line 2\n");
  EXPECT_EQ(h.out.back().seq, iss + 1 + 7);
  h.guest(tf::kAck, kIrs + 1, iss + 1 + 14, "", 512);
  EXPECT_TRUE(s.rx.empty());
  EXPECT_EQ(h.fins(), 0u) << "no FIN while the host peer is still sending";
  s.eof = true;
  h.ready(h.fd(), POLLIN | POLLRDHUP);
  ASSERT_EQ(h.fins(), 1u);
  EXPECT_EQ(h.out.back().seq, iss + 1 + 14);
  EXPECT_EQ(h.stream_to_guest(iss), "line 1\nline 2\n");
}

// The peer finishes while data is in flight. Without SO_PEEK_OFF the queue
// still holds those bytes, so the end shows only once the guest has
// acknowledged them; the FIN then goes right after them, once.
TEST_P(TcpFlowsBothPeekModes, EndOfStreamBehindDataInFlight) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  FakeSocket& s = h.host.sockets.at(h.fd());
  s.rx = "abc";
  h.ready(h.fd(), POLLIN);
  s.eof = true;
  h.ready(h.fd(), POLLIN | POLLRDHUP);
  EXPECT_EQ(h.fins(), GetParam() ? 1u : 0u);
  h.guest(tf::kAck, kIrs + 1, iss + 4, "", 512);
  ASSERT_EQ(h.fins(), 1u);
  EXPECT_EQ(h.out.back().flags & tf::kFin, tf::kFin);
  EXPECT_EQ(h.out.back().seq, iss + 4);
  h.guest(tf::kAck | tf::kFin, kIrs + 1, iss + 5, "", 512);
  EXPECT_EQ(h.flows.size(), 0u);
  EXPECT_EQ(h.stream_to_guest(iss), "abc");
}

// Urgent data from the host peer is part of the stream (SO_OOBINLINE): a
// read stops short at its mark, and a consume across the mark is repeated
// until it took every acknowledged byte (before the fix, one short consume
// left bytes in the queue that the guest had acknowledged).
TEST_P(TcpFlowsBothPeekModes, UrgentDataIsDeliveredOnceAndInOrder) {
  Harness h;
  h.host.peek_offset_works = GetParam();
  const uint32_t iss = h.establish();
  FakeSocket& s = h.host.sockets.at(h.fd());
  s.rx = "abc";
  s.send_urgent("U");
  s.rx += "def";
  h.ready(h.fd(), POLLIN);
  EXPECT_EQ(h.out.back().payload, "abc") << "the read stops at the urgent mark";
  h.guest(tf::kAck, kIrs + 1, iss + 4, "", 512);
  EXPECT_EQ(h.out.back().payload, "Udef");
  // Data in flight when the next urgent byte comes: a peek with an offset
  // reads on from the mark, and one ACK then covers bytes on both sides.
  s.rx += "ghi";
  h.ready(h.fd(), POLLIN);
  s.send_urgent("V");
  s.rx += "jk";
  h.ready(h.fd(), POLLIN);
  const size_t consumes = h.host.consumes;
  const uint32_t sent_up_to = h.out.back().seq + static_cast<uint32_t>(h.out.back().payload.size());
  h.guest(tf::kAck, kIrs + 1, sent_up_to, "", 512);
  if (GetParam()) {
    EXPECT_EQ(h.host.consumes, consumes + 2) << "a consume across the mark was repeated";
  }
  // Whatever is left goes out after that ACK; the guest acknowledges all.
  const uint32_t end = iss + 1 + 13;
  h.guest(tf::kAck, kIrs + 1, end, "", 512);
  EXPECT_TRUE(s.rx.empty());
  EXPECT_EQ(h.flows.stats().resets_to_guest, 0u);
  EXPECT_EQ(h.stream_to_guest(iss), "abcUdefghiVjk");
  EXPECT_EQ(h.flows.size(), 1u);
}

}  // namespace
}  // namespace tapir::flows
