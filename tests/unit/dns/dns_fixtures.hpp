#pragma once
// The DNS messages of tests/data/dns.pcap, cut out of their frames with
// the wire views: UDP payloads as they are, TCP payloads without the
// 2-byte length prefix (RFC 1035 4.2.2). In capture order; see
// tests/data/README.md for what dig asked and dnsmasq answered.

#include <cstdint>
#include <vector>

#include "../test_util.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"

namespace tapir::test {

struct DnsPayload {
  std::vector<uint8_t> bytes;
  bool from_server = false;  // source port 53
  bool tcp = false;
};

inline std::vector<DnsPayload> dns_payloads() {
  using namespace tapir::wire;
  std::vector<DnsPayload> out;
  for (const auto& frame : pcap_frames("dns.pcap")) {
    auto eth = EthernetView::parse(as_bytes(frame));
    if (!eth) continue;
    uint8_t proto = 0;
    ConstBytes l4;
    if (eth->ethertype() == ethertype::kIpv4) {
      auto ip = Ipv4View::parse(eth->payload());
      if (!ip) continue;
      proto = ip->protocol();
      l4 = ip->payload();
    } else if (eth->ethertype() == ethertype::kIpv6) {
      auto ip = Ipv6View::parse(eth->payload());
      if (!ip) continue;
      proto = ip->upper_protocol();
      l4 = ip->upper_payload();
    } else {
      continue;
    }
    ConstBytes dns;
    uint16_t sport = 0;
    bool tcp = false;
    if (proto == ipproto::kUdp) {
      auto udp = UdpView::parse(l4);
      if (!udp) continue;
      dns = udp->payload();
      sport = udp->source_port();
    } else if (proto == ipproto::kTcp) {
      auto seg = TcpView::parse(l4);
      if (!seg || seg->payload().size() < 2) continue;
      const size_t len = load_be16(seg->payload(), 0);
      if (seg->payload().size() != len + 2) continue;  // one whole message per segment here
      dns = seg->payload().subspan(2);
      sport = seg->source_port();
      tcp = true;
    } else {
      continue;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(dns.data());  // NOLINT: bytes as octets
    out.push_back({std::vector<uint8_t>(p, p + dns.size()), sport == 53, tcp});
  }
  return out;
}

}  // namespace tapir::test
