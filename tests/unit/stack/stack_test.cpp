// One engine as serve() runs it (stack/stack), driven without a tap: one
// end of a SOCK_SEQPACKET socketpair plays the tap, the test holds the
// other, and an eventfd in the lifecycle watches ends run(). What the
// services learn about the guest is stored once, in the stack: the port
// forwarder reads the guest's address from the same record.

#include "stack/stack.hpp"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <thread>

#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/proto.hpp"

namespace tapir::stack {
namespace {

struct Rig {
  int tap = -1;
  int peer = -1;
  int efd = -1;
  std::unique_ptr<Stack> stack;
  Rig() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    tap = sv[0];
    peer = sv[1];
    efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    StackConfig cfg;
    cfg.tap_fd = tap;
    cfg.vnet_hdr_len = 0;
    cfg.watch_fds = {efd};
    cfg.max_tcp_flows = 16;
    cfg.max_udp_flows = 16;
    cfg.max_icmp_flows = 16;
    auto s = Stack::create(cfg);
    EXPECT_TRUE(s) << (s ? "" : s.error());
    if (s) stack = std::move(*s);
  }
  ~Rig() {
    stack.reset();
    ::close(tap);
    ::close(peer);
    ::close(efd);
  }
};

const wire::MacAddr kGuestMac{{0x02, 0, 0, 0, 0, 0x42}};

// The guest asks for the gateway's MAC, from 10.0.2.100.
std::array<std::byte, 42> arp_request(const wire::AddressPlan& plan) {
  std::array<std::byte, 42> f{};
  wire::EthernetRepr{wire::MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, kGuestMac,
                     wire::ethertype::kArp}
      .emit(f);
  wire::ArpRepr arp;
  arp.sender_mac = kGuestMac;
  arp.sender_ip = plan.guest4;
  arp.target_ip = plan.gateway4;
  arp.emit(wire::MutBytes(f).subspan(wire::kEthernetHeaderLen));
  return f;
}

TEST(Stack, ServesLearnsOnceAndCounts) {
  Rig r;
  ASSERT_TRUE(r.stack);
  const wire::AddressPlan plan;
  EXPECT_FALSE(r.stack->guest().mac);
  ASSERT_TRUE(r.stack->start());
  const auto req = arp_request(plan);
  ASSERT_EQ(::send(r.peer, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  // The reply comes back on the tap; then the test ends the run.
  std::array<std::byte, 2048> reply{};
  ssize_t got = -1;
  std::thread waiter([&] {
    got = ::recv(r.peer, reply.data(), reply.size(), 0);
    const uint64_t one = 1;
    EXPECT_EQ(::write(r.efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  });
  auto fired = r.stack->run();
  waiter.join();
  ASSERT_TRUE(fired) << fired.error();
  EXPECT_EQ(*fired, 0u);  // the eventfd, watch 0
  ASSERT_EQ(got, 42);
  auto eth = wire::EthernetView::parse(wire::ConstBytes(reply.data(), static_cast<size_t>(got)));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->destination(), kGuestMac);
  EXPECT_EQ(eth->source(), plan.gateway_mac);

  // Learnt once, read by the services and by port forwarding alike.
  ASSERT_TRUE(r.stack->guest().mac);
  EXPECT_EQ(*r.stack->guest().mac, kGuestMac);
  ASSERT_TRUE(r.stack->guest().ip4);
  EXPECT_EQ(*r.stack->guest().ip4, plan.guest4);
  EXPECT_TRUE(r.stack->port_forwards().list().empty());
  EXPECT_FALSE(r.stack->port_forwards().remove(1));

  const StatGroup t = r.stack->stats();
  EXPECT_EQ(t.value("frames.from_guest"), 1u);
  EXPECT_EQ(t.value("bytes.from_guest"), 42u);
  EXPECT_EQ(t.value("frames.service_replies"), 1u);
  EXPECT_EQ(t.value("frames.to_guest"), 1u);
  EXPECT_EQ(t.value("flows.icmp_echo.max"), 16u);
  EXPECT_EQ(t.find("dns"), nullptr);  // no DNS configured

  r.stack->stop();
  // Still answered after the stop, as at the stop.
  EXPECT_EQ(r.stack->stats().value("frames.from_guest"), 1u);
  EXPECT_EQ(r.stack->describe().rfind("io_uring ", 0), 0u);
}

TEST(Stack, PcapFileThatCannotBeCreatedIsOneLine) {
  StackConfig cfg;
  cfg.tap_fd = -1;
  cfg.pcap_path = "/nonexistent-dir/x.pcap";
  auto s = Stack::create(cfg);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().rfind("cannot create --pcap file /nonexistent-dir/x.pcap: ", 0), 0u)
      << s.error();
  EXPECT_EQ(s.error().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tapir::stack
