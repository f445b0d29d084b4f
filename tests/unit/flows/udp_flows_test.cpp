// UDP flows through the real engine loop and real loopback sockets: a
// guest datagram to the gateway (10.0.2.2) reaches a UDP echo server on
// 127.0.0.1, and its answer comes back to the "tap" as a frame from
// 10.0.2.2 with correct checksums. Nothing leaves loopback.

#include "flows/udp_flows.hpp"
#include "tap/tap_io.hpp"
#include "tests/support/tap_engine.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "wire/guest_packet.hpp"
#include "wire/icmp4.hpp"
#include "wire/proto.hpp"

namespace tapir::flows {
namespace {

using Bytes = std::vector<uint8_t>;
const wire::MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

// Routes every guest UDP datagram to the flows, as the dispatcher will.
class ToFlows : public tap::FrameHandler, public loop::LoopHandler {
 public:
  explicit ToFlows(UdpFlows& f) : flows_(f) {}
  void on_frame(wire::MutBytes frame, tap::FrameMeta&, MonoTime now, loop::FrameSink& tx) override {
    auto p = wire::classify(frame);
    ASSERT_TRUE(p);
    ASSERT_EQ(p->transport, wire::Transport::kUdp);
    flows_.on_guest(*p, now, tx);
  }
  void on_tick(MonoTime, loop::FrameSink&) override {}

 private:
  UdpFlows& flows_;
};

Bytes guest_datagram(wire::Ipv4Addr dst, uint16_t sport, uint16_t dport, const std::string& text) {
  Bytes f(wire::kVirtioNetHdrLen + 42 + text.size(), 0);
  wire::MutBytes b = wire::as_writable_bytes(f).subspan(wire::kVirtioNetHdrLen);
  wire::EthernetRepr{wire::MacAddr{{0x52, 0x55, 10, 0, 2, 2}}, kGuestMac, wire::ethertype::kIpv4}.emit(b);
  wire::Ipv4Repr ip;
  ip.src = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
  ip.dst = dst;
  ip.protocol = wire::ipproto::kUdp;
  ip.payload_len = 8 + text.size();
  ip.emit(b.subspan(14));
  wire::UdpRepr{sport, dport, text.size()}.emit(b.subspan(34));
  std::memcpy(f.data() + wire::kVirtioNetHdrLen + 42, text.data(), text.size());
  wire::fill_udp_checksum(b.subspan(34), ip.src, ip.dst);
  return f;
}

struct Harness {
  int tap = -1, peer = -1, efd = -1;
  NatConfig nat;
  Harness() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    tap = sv[0];
    peer = sv[1];
    efd = ::eventfd(0, EFD_CLOEXEC);
  }
  ~Harness() {
    for (int fd : {tap, peer, efd}) ::close(fd);
  }
};

// A UDP echo server on 127.0.0.1 for `count` datagrams.
struct EchoServer {
  int fd = -1;
  uint16_t port = 0;
  std::thread thread;
  explicit EchoServer(int count) {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread = std::thread([this, count] {
      for (int i = 0; i < count; ++i) {
        char buf[2048];
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return;
        const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n > 0) ::sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), fl);
      }
    });
  }
  ~EchoServer() {
    thread.join();
    ::close(fd);
  }
};

// Reads `count` frames from the tap's peer (waiting up to 5 s each), then
// stops the engine loop.
std::vector<Bytes> collect(int peer, int efd, int count) {
  std::vector<Bytes> out;
  for (int i = 0; i < count; ++i) {
    pollfd p{peer, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) break;
    Bytes b(70000);
    const ssize_t n = ::read(peer, b.data(), b.size());
    b.resize(n > 0 ? static_cast<size_t>(n) : 0);
    out.push_back(std::move(b));
  }
  const uint64_t one = 1;
  (void)!::write(efd, &one, sizeof one);
  return out;
}

TEST(UdpFlows, GatewayMapsToHostLoopbackAndRepliesComeBack) {
  Harness h;
  EchoServer echo(3);
  KernelDatagramHost kernel;
  UdpFlows flows(h.nat, 16, kernel);
  ToFlows handler(flows);
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  flows.set_engine(engine->get());
  ASSERT_TRUE((*engine)->start());

  const auto gw = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
  for (int i = 0; i < 3; ++i) {
    const Bytes f = guest_datagram(gw, 40000, echo.port, "hello " + std::to_string(i));
    ASSERT_EQ(::write(h.peer, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  std::vector<Bytes> replies;
  std::thread reader([&] { replies = collect(h.peer, h.efd, 3); });
  ASSERT_TRUE((*engine)->run_until_watch());
  reader.join();

  EXPECT_EQ(flows.size(), 1u);  // one 5-tuple, one flow
  EXPECT_EQ(flows.stats().to_host, 3u);
  EXPECT_EQ(flows.stats().to_guest, 3u);
  ASSERT_EQ(replies.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    wire::ConstBytes frame = wire::as_bytes(replies[static_cast<size_t>(i)]).subspan(wire::kVirtioNetHdrLen);
    auto eth = wire::EthernetView::parse(frame);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->destination(), kGuestMac);
    EXPECT_EQ(eth->source().to_string(), "52:55:0a:00:02:02");
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->header_checksum_ok());
    EXPECT_EQ(ip->source(), gw);  // not 127.0.0.1: the address the guest used
    EXPECT_EQ(ip->destination().to_string(), "10.0.2.100");
    auto udp = wire::UdpView::parse(ip->payload());
    ASSERT_TRUE(udp);
    EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
    EXPECT_EQ(udp->source_port(), echo.port);
    EXPECT_EQ(udp->destination_port(), 40000);
    const std::string text(reinterpret_cast<const char*>(udp->payload().data()), udp->payload().size());
    EXPECT_EQ(text, "hello " + std::to_string(i));
  }

  // Idle expiry: a flow that got replies lives 180 s, then goes.
  const MonoTime now = mono_now();
  flows.expire(now + Duration::seconds(60));
  EXPECT_EQ(flows.size(), 1u);
  flows.expire(now + UdpFlows::kStreamTimeout + Duration::seconds(1));
  EXPECT_EQ(flows.size(), 0u);
  EXPECT_EQ(flows.stats().expired, 1u);
  (*engine)->shutdown();
  EXPECT_EQ((*engine)->in_flight(), 0u);
  EXPECT_EQ((*engine)->watched_sockets(), 0u);
}

TEST(UdpFlows, DisableHostLoopbackAndTheTableCap) {
  Harness h;
  h.nat.disable_host_loopback = true;
  KernelDatagramHost kernel;
  UdpFlows flows(h.nat, 1, kernel);
  ToFlows handler(flows);
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  flows.set_engine(engine->get());
  ASSERT_TRUE((*engine)->start());
  // To the gateway: prohibited. To the DNS address: not a flow. To two
  // outside destinations (192.0.2.x, TEST-NET-1, never routed from a unit
  // test: connect() on UDP sends nothing): the second hits the cap of 1.
  for (const Bytes& f : {guest_datagram(wire::Ipv4Addr::from_octets(10, 0, 2, 2), 1, 9, "x"),
                         guest_datagram(wire::Ipv4Addr::from_octets(10, 0, 2, 3), 1, 53, "x")}) {
    ASSERT_GT(::write(h.peer, f.data(), f.size()), 0);
  }
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const uint64_t one = 1;
    (void)!::write(h.efd, &one, sizeof one);
  });
  ASSERT_TRUE((*engine)->run_until_watch());
  stopper.join();
  EXPECT_EQ(flows.stats().unreachable, 1u);
  EXPECT_EQ(flows.size(), 0u);
  // ... and the guest was told "network unreachable" by the gateway,
  // quoting its datagram.
  pollfd p{h.peer, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  Bytes b(2048);
  const ssize_t n = ::read(h.peer, b.data(), b.size());
  ASSERT_GT(n, static_cast<ssize_t>(wire::kVirtioNetHdrLen));
  b.resize(static_cast<size_t>(n));
  auto eth = wire::EthernetView::parse(wire::as_bytes(b).subspan(wire::kVirtioNetHdrLen));
  ASSERT_TRUE(eth);
  auto ip = wire::Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->source().to_string(), "10.0.2.2");
  EXPECT_EQ(ip->protocol(), wire::ipproto::kIcmp);
  auto icmp = wire::Icmp4View::parse(ip->payload());
  ASSERT_TRUE(icmp);
  EXPECT_TRUE(icmp->checksum_ok());
  EXPECT_EQ(icmp->type(), wire::icmp4_type::kDestUnreachable);
  EXPECT_EQ(icmp->code(), wire::icmp4_unreach::kNet);
  EXPECT_EQ(icmp->body().size(), 28u);  // the datagram's IP header + 8 bytes
  (*engine)->shutdown();
}

// Martian destinations (flows/nat.hpp) never reach a host socket, whatever
// the flags: a server on 127.0.0.1 that the guest addresses directly (not
// through the gateway) hears nothing. The unicast martians are answered
// "administratively prohibited"; multicast and broadcast get no answer.
TEST(UdpFlows, MartianDestinationsNeverReachTheHost) {
  Harness h;
  EchoServer echo(1);
  KernelDatagramHost kernel;
  UdpFlows flows(h.nat, 16, kernel);
  ToFlows handler(flows);
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  flows.set_engine(engine->get());
  ASSERT_TRUE((*engine)->start());
  for (const char* dst :
       {"127.0.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "10.0.2.255", "240.0.0.1"}) {
    const Bytes f =
        guest_datagram(*wire::Ipv4Addr::parse(dst), 40000, echo.port, std::string("to ") + dst);
    ASSERT_EQ(::write(h.peer, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  // Last, through the gateway: the one datagram the server may see, and
  // its echo shows every frame before it was handled.
  const Bytes f =
      guest_datagram(wire::Ipv4Addr::from_octets(10, 0, 2, 2), 40000, echo.port, "via the gateway");
  ASSERT_EQ(::write(h.peer, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  std::vector<Bytes> frames;
  std::thread reader([&] { frames = collect(h.peer, h.efd, 4); });
  ASSERT_TRUE((*engine)->run_until_watch());
  reader.join();

  ASSERT_EQ(frames.size(), 4u);
  std::vector<std::string> prohibited;
  for (size_t i = 0; i < 3; ++i) {
    auto eth = wire::EthernetView::parse(wire::as_bytes(frames[i]).subspan(wire::kVirtioNetHdrLen));
    ASSERT_TRUE(eth);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    ASSERT_EQ(ip->protocol(), wire::ipproto::kIcmp) << "frame " << i;
    EXPECT_EQ(ip->source().to_string(), "10.0.2.2");
    auto icmp = wire::Icmp4View::parse(ip->payload());
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), wire::icmp4_type::kDestUnreachable);
    EXPECT_EQ(icmp->code(), wire::icmp4_unreach::kAdminProhibited);
    ASSERT_EQ(icmp->body().size(), 28u);  // the datagram's IP header + 8 bytes
    prohibited.push_back(wire::Ipv4Addr::load(icmp->body(), 16).to_string());  // its destination
  }
  EXPECT_EQ(prohibited, (std::vector<std::string>{"127.0.0.1", "0.0.0.0", "240.0.0.1"}));
  auto eth = wire::EthernetView::parse(wire::as_bytes(frames[3]).subspan(wire::kVirtioNetHdrLen));
  auto ip = wire::Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  ASSERT_EQ(ip->protocol(), wire::ipproto::kUdp);
  auto udp = wire::UdpView::parse(ip->payload());
  ASSERT_TRUE(udp);
  EXPECT_EQ(
      std::string(reinterpret_cast<const char*>(udp->payload().data()), udp->payload().size()),
      "via the gateway");
  const MartianCounters& m = flows.stats().martians;
  EXPECT_EQ(m[Martian::kLoopback], 1u);
  EXPECT_EQ(m[Martian::kUnspecified], 1u);
  EXPECT_EQ(m[Martian::kMulticast], 1u);
  EXPECT_EQ(m[Martian::kBroadcast], 2u);
  EXPECT_EQ(m[Martian::kReserved], 1u);
  EXPECT_EQ(flows.size(), 1u);  // the gateway's flow only
  EXPECT_EQ(flows.stats().to_host, 1u);
  (*engine)->shutdown();
}

}  // namespace
}  // namespace tapir::flows
