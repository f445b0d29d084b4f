#include "wire/guest_packet.hpp"

#include "wire/proto.hpp"

namespace tapir::wire {
namespace {

// The transport header of an IP packet whose IP fields `p` holds. Leaves
// transport kNone for what no route takes (the header comment says what).
Expected<void, ParseError> parse_transport(GuestPacket& p) {
  if (p.fragment) return {};
  const bool segmentable = p.protocol == ipproto::kTcp || p.protocol == ipproto::kUdp;
  if (p.gso_size != 0 && !segmentable) return {};
  if (p.protocol == ipproto::kUdp) {
    auto udp = UdpView::parse(p.l4);
    if (!udp) return unexpected(udp.error());
    p.transport = Transport::kUdp;
    p.src_port = udp->source_port();
    p.dst_port = udp->destination_port();
    p.udp = *udp;
  } else if (p.protocol == ipproto::kTcp) {
    auto tcp = TcpView::parse(p.l4);
    if (!tcp) return unexpected(tcp.error());
    p.transport = Transport::kTcp;
    p.src_port = tcp->source_port();
    p.dst_port = tcp->destination_port();
    p.tcp = *tcp;
  } else if (p.protocol == ipproto::kIcmp && !p.v6()) {
    auto m = Icmp4View::parse(p.l4);
    if (!m) return unexpected(m.error());
    p.transport = Transport::kIcmp;
    p.icmp_type = m->type();
    p.icmp4 = *m;
  } else if (p.protocol == ipproto::kIcmpv6 && p.v6()) {
    auto m = Icmp6View::parse(p.l4);
    if (!m) return unexpected(m.error());
    p.transport = Transport::kIcmp;
    p.icmp_type = m->type();
    p.icmp6 = *m;
  }
  return {};
}

Expected<void, ParseError> parse_ipv4(GuestPacket& p) {
  auto ip = Ipv4View::parse(p.eth.payload());
  if (!ip) return unexpected(ip.error());
  if (!ip->header_checksum_ok()) return unexpected(ParseError::kBadChecksum);
  const Ipv4Addr src = ip->source();
  if (src.is_loopback() || src.is_multicast() || src.is_broadcast()) {
    return unexpected(ParseError::kMartianSource);
  }
  p.net = Net::kIpv4;
  p.src = IpAddr::from(src);
  p.dst = IpAddr::from(ip->destination());
  p.protocol = ip->protocol();
  p.l4 = ip->payload();
  p.l4_offset = kEthernetHeaderLen + ip->header_len();
  p.fragment = ip->is_fragment();
  p.ip4 = *ip;
  return parse_transport(p);
}

Expected<void, ParseError> parse_ipv6(GuestPacket& p) {
  auto ip = Ipv6View::parse(p.eth.payload());
  if (!ip) return unexpected(ip.error());
  const Ipv6Addr src = ip->source();
  if (src.is_loopback() || src.is_multicast()) return unexpected(ParseError::kMartianSource);
  p.net = Net::kIpv6;
  p.src = IpAddr::from(src);
  p.dst = IpAddr::from(ip->destination());
  p.protocol = ip->upper_protocol();
  p.l4 = ip->upper_payload();
  p.l4_offset = kEthernetHeaderLen + kIpv6HeaderLen + ip->extension_headers_len();
  p.fragment = ip->is_fragment();
  p.ip6 = *ip;
  return parse_transport(p);
}

}  // namespace

bool GuestPacket::tcp_checksum_ok() const {
  return v6() ? tcp->checksum_ok(ip6->source(), ip6->destination())
              : tcp->checksum_ok(ip4->source(), ip4->destination());
}

Expected<GuestPacket, ParseError> classify(ConstBytes frame, const ClassifyOptions& options) {
  auto eth = EthernetView::parse(frame);
  if (!eth) return unexpected(eth.error());
  GuestPacket p(*eth);
  p.gso_size = options.gso_size;
  Expected<void, ParseError> r;
  switch (eth->ethertype()) {
    case ethertype::kArp: {
      auto arp = ArpView::parse(eth->payload());
      if (!arp) return unexpected(arp.error());
      p.net = Net::kArp;
      p.arp = *arp;
      break;
    }
    case ethertype::kIpv4: r = parse_ipv4(p); break;
    case ethertype::kIpv6:
      if (options.ipv6) r = parse_ipv6(p);
      break;
    default: break;
  }
  if (!r) return unexpected(r.error());
  return p;
}

}  // namespace tapir::wire
