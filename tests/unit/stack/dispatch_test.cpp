// The frame dispatcher (stack/dispatch) in front of the DNS service: no
// tap, no engine — frames in, frames out through a detached TxQueue.

#include "stack/dispatch.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "dns/io/service.hpp"
#include "dns/message.hpp"
#include "dns/message_build.hpp"
#include "flows/udp_flows.hpp"
#include "services/frame.hpp"
#include "tap/tap_io.hpp"
#include "tests/support/fake_datagram_host.hpp"
#include "tests/support/fake_watcher.hpp"
#include "tests/support/guest_frames.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"

namespace tapir::stack {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes query(const char* name, uint16_t id) {
  dns::QuerySpec q;
  q.id = id;
  q.qname = *dns::Name::from_text(name);
  q.qtype = dns::rrtype::kA;
  q.edns_udp_size = std::nullopt;
  Bytes out(512);
  out.resize(*dns::build_query(wire::as_writable_bytes(out), q));
  return out;
}

// UDP segmentation offload (UDP_SEGMENT) to the DNS address: the frame
// holds several datagrams behind one header, each a query of its own. Each
// gets its answer, as the same datagrams sent one by one would. Found by
// dns_service_fuzz: the whole payload went to the forwarder as one query,
// which answered the first and dropped the rest.
TEST(Dispatch, UsoFrameToTheDnsAddressIsAnsweredDatagramByDatagram) {
  services::ServiceConfig cfg;
  dns::DnsServiceConfig dcfg;
  dcfg.builtin.host4 = cfg.plan.gateway4;
  dns::DnsService dns(cfg.plan, dcfg);  // no engine: built-in names need none
  services::GuestState state;
  ServiceDispatcher dispatcher(cfg, state);
  dispatcher.set_dns(&dns);

  std::multiset<uint16_t> answered;
  auto tx = tap::TxQueue::detached(4, [&](wire::ConstBytes f, const wire::VirtioNetHdrRepr&) {
    auto eth = wire::EthernetView::parse(f);
    ASSERT_TRUE(eth);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    auto udp = wire::UdpView::parse(ip->payload());
    ASSERT_TRUE(udp);
    EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
    auto m = dns::Message::parse(udp->payload());
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->qr());
    EXPECT_GT(m->ancount(), 0u);
    answered.insert(m->id());
  });

  const Bytes q1 = query("host.containers.internal", 0x1001);
  const Bytes q2 = query("host.containers.internal", 0x1002);
  const Bytes q3 = query("host.docker.internal", 0x1003);  // shorter: the last segment
  ASSERT_EQ(q1.size(), q2.size());
  ASSERT_LT(q3.size(), q1.size());
  Bytes frame(services::kUdp4PayloadOffset + q1.size() + q2.size() + q3.size());
  Bytes payload = q1;
  payload.insert(payload.end(), q2.begin(), q2.end());
  payload.insert(payload.end(), q3.begin(), q3.end());
  std::memcpy(frame.data() + services::kUdp4PayloadOffset, payload.data(), payload.size());
  const wire::MacAddr guest{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
  const size_t n =
      services::finish_udp4(wire::as_writable_bytes(frame), {guest, cfg.plan.gateway_mac},
                            cfg.plan.guest4, cfg.plan.dns4, 40000, 53, payload.size());
  tap::FrameMeta meta;
  meta.gso_size = static_cast<uint16_t>(q1.size());
  dispatcher.on_frame(wire::as_writable_bytes(frame).first(n), meta, MonoTime{}, *tx);

  EXPECT_EQ(answered, (std::multiset<uint16_t>{0x1001, 0x1002, 0x1003}));
  EXPECT_EQ(dispatcher.stats().uso_frames, 1u);
}

using Frame = std::vector<std::byte>;
using testing::kFar4;
using testing::kFar6;
using testing::text;
const wire::IpAddr& kG4 = testing::kGuestIp4;
const wire::IpAddr& kG6 = testing::kGuestIp6;

// A dispatcher with UDP flows to a fake host and nothing else.
struct UdpRig {
  services::ServiceConfig cfg = [] {
    services::ServiceConfig c;
    c.plan.ipv6 = true;
    return c;
  }();
  services::GuestState state;
  ServiceDispatcher dispatcher{cfg, state};
  testing::FakeDatagramHost host;
  testing::FakeWatcher watcher;
  flows::UdpFlows udp{flows::NatConfig{cfg.plan, false}, 16, host, 0x5eed};
  std::unique_ptr<tap::TxQueue> tx =
      tap::TxQueue::detached(4, [](wire::ConstBytes, const wire::VirtioNetHdrRepr&) {});

  UdpRig() {
    udp.set_engine(&watcher);
    dispatcher.set_udp(&udp);
  }
  void frame(Frame f, uint16_t gso_size = 0) {
    tap::FrameMeta meta;
    meta.gso_size = gso_size;
    dispatcher.on_frame(wire::MutBytes(f), meta, MonoTime{}, *tx);
  }
};

// UDP segmentation offload to a host: each datagram goes out on the flow's
// socket as the guest wrote it.
TEST(Dispatch, UsoFrameToAHostIsSentDatagramByDatagram) {
  for (const bool v6 : {false, true}) {
    UdpRig r;
    const std::string payload = std::string(100, 'a') + std::string(100, 'b') + "c";
    r.frame(testing::udp_frame(v6 ? kG6 : kG4, v6 ? kFar6 : kFar4, 40000, 7000, payload), 100);
    ASSERT_EQ(r.host.sockets.size(), 1u);
    const auto& sent = r.host.last().sent;
    ASSERT_EQ(sent.size(), 3u);
    EXPECT_EQ(text(sent[0]), std::string(100, 'a'));
    EXPECT_EQ(text(sent[1]), std::string(100, 'b'));
    EXPECT_EQ(text(sent[2]), "c");
    EXPECT_EQ(r.dispatcher.stats().uso_frames, 1u);
    EXPECT_EQ(r.dispatcher.stats().gso_frames, 1u);
    EXPECT_EQ(r.dispatcher.stats().no_data_path, 0u);
  }
}

// Only a plain IPv6 header can be split: behind an extension header the
// frame has no data path, and is not counted as split.
TEST(Dispatch, UsoFrameBehindAnIpv6ExtensionHeaderHasNoDataPath) {
  UdpRig r;
  const Frame f =
      testing::udp6_hop_by_hop_frame(kG6, kFar6, 40000, 7000, std::string(300, 'x'));
  r.frame(f, 100);
  EXPECT_EQ(r.host.sockets.size(), 0u);
  EXPECT_EQ(r.dispatcher.stats().no_data_path, 1u);
  EXPECT_EQ(r.dispatcher.stats().uso_frames, 0u);
  r.frame(f);  // the same without the offload: an ordinary datagram
  EXPECT_EQ(r.host.sockets.size(), 1u);
  EXPECT_EQ(r.dispatcher.stats().no_data_path, 1u);
}

// --disable-dns: UDP to the DNS address is counted once per frame, however
// many datagrams it holds, and never reaches the flows.
TEST(Dispatch, WithoutTheDnsServiceQueriesAreCountedAsDisabled) {
  for (const bool v6 : {false, true}) {
    UdpRig r;
    const wire::IpAddr dns =
        v6 ? wire::IpAddr::from(r.cfg.plan.dns6) : wire::IpAddr::from(r.cfg.plan.dns4);
    const Frame f = testing::udp_frame(v6 ? kG6 : kG4, dns, 40000, 53, std::string(300, 'q'));
    r.frame(f);
    r.frame(f, 100);
    EXPECT_EQ(r.dispatcher.stats().dns_disabled, 2u);
    EXPECT_EQ(r.dispatcher.stats().uso_frames, 0u);
    EXPECT_EQ(r.dispatcher.stats().no_data_path, 0u);
    EXPECT_EQ(r.host.sockets.size(), 0u);
  }
}

// Data-path targets that are not there: the frames have no data path.
TEST(Dispatch, FramesForAbsentFlowsHaveNoDataPath) {
  services::ServiceConfig cfg;
  services::GuestState state;
  ServiceDispatcher dispatcher(cfg, state);
  auto tx = tap::TxQueue::detached(4, [](wire::ConstBytes, const wire::VirtioNetHdrRepr&) {});
  tap::FrameMeta meta;
  Frame udp = testing::udp_frame(kG4, kFar4, 40000, 7000, "x");
  Frame echo = testing::echo_frame(kG4, kFar4, 1, 1, "x");
  dispatcher.on_frame(wire::MutBytes(udp), meta, MonoTime{}, *tx);
  dispatcher.on_frame(wire::MutBytes(echo), meta, MonoTime{}, *tx);
  EXPECT_EQ(dispatcher.stats().frames, 2u);
  EXPECT_EQ(dispatcher.stats().no_data_path, 2u);
  EXPECT_EQ(dispatcher.stats().replies, 0u);
}

}  // namespace
}  // namespace tapir::stack
