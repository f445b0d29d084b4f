// Port forwarding through the real engine loop and real loopback sockets:
// a TCP client of a forwarded port reaches the ForwardSink (a fake here:
// the TCP translation is its own module) with the target the guest must
// see; a UDP client's datagram reaches the "tap" as a frame from the
// gateway (the client is on loopback) to the guest, and the guest's reply
// frame comes back to the client from the forwarded port. Nothing leaves
// loopback.

#include "flows/port_forward.hpp"
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

#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/guest_packet.hpp"
#include "wire/ipv4.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"

namespace tapir::flows {
namespace {

using Bytes = std::vector<uint8_t>;
const wire::MacAddr kGuestMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};

struct FakeSink : ForwardSink {
  std::vector<ForwardTarget> targets;
  int efd = -1;
  bool forward_tcp(Fd conn, const ForwardTarget& t, MonoTime, loop::FrameSink&) override {
    targets.push_back(t);
    const char hello[] = "hi";
    (void)!::send(conn.get(), hello, 2, MSG_NOSIGNAL);
    const uint64_t one = 1;
    (void)!::write(efd, &one, sizeof one);  // stop the loop
    return true;
  }
};

// Guest frames go to the UDP flows (where the guest's replies to reverse
// flows are found), as the dispatcher does.
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

// A port that was free a moment ago on 127.0.0.1.
uint16_t free_port(int type) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

struct Harness {
  int tap = -1, peer = -1, efd = -1;
  NatConfig nat;
  GuestInfo guest{kGuestMac, std::nullopt};
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

ForwardRule loopback_rule(FwdProto proto, uint16_t host_port, uint16_t guest_port) {
  ForwardRule r;
  r.proto = proto;
  r.host_addr = *IpAddr::parse("127.0.0.1");
  r.host_port = host_port;
  r.guest_port = guest_port;
  return r;
}

TEST(PortForward, TcpClientReachesTheSinkAsTheGateway) {
  Harness h;
  KernelDatagramHost kernel;
  UdpFlows udp(h.nat, 16, kernel);
  ToFlows handler(udp);
  PortForwarder fwd(h.nat.plan, [&h] { return h.guest; });
  FakeSink sink;
  sink.efd = h.efd;
  fwd.set_tcp(&sink);
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  fwd.set_engine(engine->get());
  const uint16_t port = free_port(SOCK_STREAM);
  auto id = fwd.add(loopback_rule(FwdProto::kTcp, port, 80));
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 1u);
  // The same port again: the kernel says it is in use.
  auto again = fwd.add(loopback_rule(FwdProto::kTcp, port, 81));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().error, ForwardError::kBind);
  EXPECT_EQ(again.error().message(), "Address already in use");
  ASSERT_TRUE((*engine)->start());

  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in to = loopback(port);
  ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  sockaddr_in me{};
  socklen_t len = sizeof me;
  ::getsockname(client, reinterpret_cast<sockaddr*>(&me), &len);
  ASSERT_TRUE((*engine)->run_until_watch());
  ASSERT_EQ(sink.targets.size(), 1u);
  const ForwardTarget& t = sink.targets[0];
  EXPECT_FALSE(t.v6());
  EXPECT_EQ(t.peer.to_string(), "10.0.2.2");
  EXPECT_EQ(t.peer_port, ntohs(me.sin_port));
  EXPECT_EQ(t.guest.to_string(), "10.0.2.100");
  EXPECT_EQ(t.guest_port, 80);
  char buf[4] = {};
  EXPECT_EQ(::recv(client, buf, sizeof buf, 0), 2);  // the connection the sink got is ours
  ::close(client);

  // The guest took another address (DHCP): new connections go there.
  EXPECT_EQ(fwd.list().at(0).guest_addr.to_string(), "10.0.2.100");
  h.guest.ip4 = wire::Ipv4Addr::from_octets(10, 0, 2, 15);
  EXPECT_EQ(fwd.list().at(0).guest_addr.to_string(), "10.0.2.15");

  // Removed: the port refuses connections.
  EXPECT_TRUE(fwd.remove(*id));
  EXPECT_FALSE(fwd.remove(*id));
  EXPECT_EQ(fwd.size(), 0u);
  const int late = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(late, reinterpret_cast<const sockaddr*>(&to), sizeof to), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  ::close(late);
  (*engine)->shutdown();
  EXPECT_EQ((*engine)->watched_sockets(), 0u);
}

TEST(PortForward, TcpWaitsForTheGuestsMacAndAsksForItByArp) {
  Harness h;
  std::atomic<bool> learned{false};  // the guest has not said a word yet
  KernelDatagramHost kernel;
  UdpFlows udp(h.nat, 16, kernel);
  ToFlows handler(udp);
  PortForwarder fwd(h.nat.plan, [&learned] {
    GuestInfo g;
    if (learned) g.mac = kGuestMac;
    return g;
  });
  FakeSink sink;
  sink.efd = h.efd;
  fwd.set_tcp(&sink);
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  fwd.set_engine(engine->get());
  const uint16_t port = free_port(SOCK_STREAM);
  ASSERT_TRUE(fwd.add(loopback_rule(FwdProto::kTcp, port, 80)));
  ASSERT_TRUE((*engine)->start());
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in to = loopback(port);
  ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  // The "guest" sees the gateway's ARP request for 10.0.2.100; its answer
  // (here: the services learning the MAC) lets the connection through.
  std::thread guest([&] {
    pollfd p{h.peer, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    Bytes b(2048);
    const ssize_t n = ::read(h.peer, b.data(), b.size());
    ASSERT_GT(n, static_cast<ssize_t>(wire::kVirtioNetHdrLen));
    b.resize(static_cast<size_t>(n));
    auto eth = wire::EthernetView::parse(wire::as_bytes(b).subspan(wire::kVirtioNetHdrLen));
    ASSERT_TRUE(eth);
    EXPECT_TRUE(eth->destination().is_broadcast());
    EXPECT_EQ(eth->ethertype(), wire::ethertype::kArp);
    auto arp = wire::ArpView::parse(eth->payload());
    ASSERT_TRUE(arp);
    EXPECT_EQ(arp->operation(), wire::arp_op::kRequest);
    EXPECT_EQ(arp->sender_ip().to_string(), "10.0.2.2");
    EXPECT_EQ(arp->target_ip().to_string(), "10.0.2.100");
    learned = true;  // the engine thread sees it on its next timer tick
  });
  ASSERT_TRUE((*engine)->run_until_watch());  // the sink stops the loop
  guest.join();
  ASSERT_EQ(sink.targets.size(), 1u);
  EXPECT_EQ(sink.targets[0].guest_port, 80);
  EXPECT_EQ(fwd.stats().waited_for_mac, 1u);
  ::close(client);
  (*engine)->shutdown();
}

TEST(PortForward, TcpWithoutASinkIsReset) {
  Harness h;
  KernelDatagramHost kernel;
  UdpFlows udp(h.nat, 16, kernel);
  ToFlows handler(udp);
  PortForwarder fwd(h.nat.plan, [&h] { return h.guest; });
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  fwd.set_engine(engine->get());
  const uint16_t port = free_port(SOCK_STREAM);
  ASSERT_TRUE(fwd.add(loopback_rule(FwdProto::kTcp, port, 80)));
  ASSERT_TRUE((*engine)->start());
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in to = loopback(port);
  ASSERT_EQ(::connect(client, reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
  std::thread reader([&] {
    char b;
    pollfd p{client, POLLIN, 0};
    ::poll(&p, 1, 5000);
    EXPECT_EQ(::recv(client, &b, 1, 0), -1);
    EXPECT_EQ(errno, ECONNRESET);
    const uint64_t one = 1;
    (void)!::write(h.efd, &one, sizeof one);
  });
  ASSERT_TRUE((*engine)->run_until_watch());
  reader.join();
  EXPECT_EQ(fwd.stats().tcp_refused, 1u);
  ::close(client);
  (*engine)->shutdown();
}

TEST(PortForward, UdpDatagramsBothWays) {
  Harness h;
  KernelDatagramHost kernel;
  UdpFlows udp(h.nat, 16, kernel);
  ToFlows handler(udp);
  PortForwarder fwd(h.nat.plan, [&h] { return h.guest; });
  fwd.set_udp(&udp);
  loop::EngineConfig cfg;
  cfg.watch_fds = {h.efd};
  auto engine = test::TapEngine::create(h.tap, cfg, handler, handler);
  ASSERT_TRUE(engine);
  fwd.set_engine(engine->get());
  udp.set_engine(engine->get());
  const uint16_t port = free_port(SOCK_DGRAM);
  auto id = fwd.add(loopback_rule(FwdProto::kUdp, port, 53));
  ASSERT_TRUE(id);
  ASSERT_TRUE((*engine)->start());

  const int client = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const sockaddr_in to = loopback(port);
  ASSERT_EQ(::sendto(client, "ping", 4, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to), 4);
  sockaddr_in me{};
  socklen_t len = sizeof me;
  ::getsockname(client, reinterpret_cast<sockaddr*>(&me), &len);

  // The "guest": reads the frame and answers it with a frame back.
  std::string reply_text;
  std::thread guest([&] {
    pollfd p{h.peer, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    Bytes b(70000);
    const ssize_t n = ::read(h.peer, b.data(), b.size());
    ASSERT_GT(n, static_cast<ssize_t>(wire::kVirtioNetHdrLen));
    b.resize(static_cast<size_t>(n));
    wire::ConstBytes frame = wire::as_bytes(b).subspan(wire::kVirtioNetHdrLen);
    auto eth = wire::EthernetView::parse(frame);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->destination(), kGuestMac);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->source().to_string(), "10.0.2.2");  // a loopback client
    EXPECT_EQ(ip->destination().to_string(), "10.0.2.100");
    auto u = wire::UdpView::parse(ip->payload());
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->checksum_ok(ip->source(), ip->destination()));
    EXPECT_EQ(u->source_port(), ntohs(me.sin_port));
    EXPECT_EQ(u->destination_port(), 53);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(u->payload().data()), u->payload().size()),
              "ping");
    // The reply: guest:53 -> 10.0.2.2:client port.
    Bytes r(wire::kVirtioNetHdrLen + 42 + 4, 0);
    wire::MutBytes rb = wire::as_writable_bytes(r).subspan(wire::kVirtioNetHdrLen);
    wire::EthernetRepr{h.nat.plan.gateway_mac, kGuestMac, wire::ethertype::kIpv4}.emit(rb);
    wire::Ipv4Repr rip;
    rip.src = ip->destination();
    rip.dst = ip->source();
    rip.protocol = wire::ipproto::kUdp;
    rip.payload_len = 12;
    rip.emit(rb.subspan(14));
    wire::UdpRepr{53, u->source_port(), 4}.emit(rb.subspan(34));
    std::memcpy(r.data() + wire::kVirtioNetHdrLen + 42, "pong", 4);
    wire::fill_udp_checksum(rb.subspan(34), rip.src, rip.dst);
    ASSERT_EQ(::write(h.peer, r.data(), r.size()), static_cast<ssize_t>(r.size()));
    // The client hears it from the forwarded port.
    pollfd c{client, POLLIN, 0};
    ASSERT_EQ(::poll(&c, 1, 5000), 1);
    char buf[16];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t m =
        ::recvfrom(client, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_EQ(m, 4);
    reply_text.assign(buf, 4);
    EXPECT_EQ(ntohs(from.sin_port), port);
    const uint64_t one = 1;
    (void)!::write(h.efd, &one, sizeof one);
  });
  ASSERT_TRUE((*engine)->run_until_watch());
  guest.join();
  EXPECT_EQ(reply_text, "pong");
  EXPECT_EQ(udp.stats().reverse_created, 1u);
  EXPECT_EQ(udp.stats().from_listener, 1u);
  EXPECT_EQ(udp.stats().created, 0u);  // the reply used the reverse flow, no socket of its own
  EXPECT_EQ(udp.size(), 1u);
  EXPECT_TRUE(fwd.remove(*id));
  EXPECT_EQ(udp.size(), 0u);  // its reverse flows went with it
  ::close(client);
  (*engine)->shutdown();
  EXPECT_EQ((*engine)->watched_sockets(), 0u);
}

TEST(PortForward, Eui64AndRuleChecks) {
  const auto prefix = *wire::Ipv6Prefix::parse("fd00::/64");
  EXPECT_EQ(eui64_address(prefix, kGuestMac).to_string(), "fd00::5054:ff:fe12:3456");
  wire::AddressPlan plan;  // IPv6 off
  PortForwarder fwd(plan, nullptr);
  ForwardRule r = loopback_rule(FwdProto::kTcp, 0, 80);
  EXPECT_FALSE(fwd.add(r));  // port 0
  r.host_port = 1;
  r.guest_v6 = true;
  EXPECT_FALSE(fwd.add(r));  // IPv6 guest without IPv6
  EXPECT_EQ(fwd.guest_address(false).to_string(), "10.0.2.100");
}

}  // namespace
}  // namespace tapir::flows
