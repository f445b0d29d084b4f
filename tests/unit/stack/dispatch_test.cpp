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
#include "services/frame.hpp"
#include "tap/tap_io.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
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

}  // namespace
}  // namespace tapir::stack
