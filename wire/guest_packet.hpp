#pragma once
// A guest frame, classified: one description of it for IPv4 and IPv6 alike,
// which the dispatcher routes on (stack/route.hpp) and the flows and the DNS
// service take.
//
// Theory of operation. classify() parses a frame once per layer, in order —
// Ethernet; then ARP, or the IP header (IPv4: its checksum too, and the
// source); then the transport header — and fills one GuestPacket with the
// view of each layer and, family-neutral, what routing looks at: source and
// destination as IpAddr, the transport, the ports (UDP, TCP) or the ICMP
// type. The views point into the frame, valid as long as its bytes are;
// nothing is allocated or copied.
//
// What classify() does not parse, and so no route takes (the frame is
// classified all the same, its transport kNone: "no data path"):
//   * IPv6 when the plan has none (options.ipv6 false: slirp4netns has no
//     IPv6 unless asked): net kOther, as any other ethertype;
//   * the transport of a fragment (tapir reassembles nothing);
//   * protocols other than UDP, TCP and the family's ICMP;
//   * the transport of a segmentation-offload frame (gso_size) that is not
//     TCP or UDP: nothing else can be segmented.
// Errors (the frame is dropped and counted by reason): those of each
// layer's parse(), kBadChecksum for an IPv4 header that does not verify,
// kMartianSource for a source no guest sends from — IPv4 loopback,
// multicast, broadcast; IPv6 loopback, multicast — which no data path may
// carry to the host (0.0.0.0 and :: are left for DHCP, DAD and MLD, whose
// responders check them).

#include <cstdint>
#include <optional>

#include "base/expected.hpp"
#include "wire/addr.hpp"
#include "wire/arp.hpp"
#include "wire/bytes.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/parse_error.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"

namespace tapir::wire {

// What the frame carries above Ethernet.
enum class Net : uint8_t { kOther, kArp, kIpv4, kIpv6 };
// The transport header classify() parsed: ICMP is ICMPv4 in IPv4, ICMPv6 in
// IPv6; kNone for ARP and everything listed above.
enum class Transport : uint8_t { kNone, kUdp, kTcp, kIcmp };

struct ClassifyOptions {
  uint16_t gso_size = 0;  // the vnet header's: non-zero for a segmentation-offload frame
  bool ipv6 = true;       // false: IPv6 frames are not parsed (net kOther)
};

struct GuestPacket {
  explicit GuestPacket(const EthernetView& e) : eth(e) {}

  EthernetView eth;  // the whole frame: eth.bytes()
  Net net = Net::kOther;
  std::optional<ArpView> arp;  // net kArp
  std::optional<Ipv4View> ip4;  // net kIpv4
  std::optional<Ipv6View> ip6;  // net kIpv6
  // IP only: the addresses, the IPv4 protocol or IPv6 upper-layer protocol
  // (after the extension headers), the transport bytes (header first, to
  // the IP length: no Ethernet padding) and where they start in the frame,
  // and whether the packet is a fragment.
  IpAddr src;
  IpAddr dst;
  uint8_t protocol = 0;
  ConstBytes l4;
  size_t l4_offset = 0;
  bool fragment = false;

  Transport transport = Transport::kNone;
  std::optional<UdpView> udp;      // transport kUdp
  std::optional<TcpView> tcp;      // transport kTcp
  std::optional<Icmp4View> icmp4;  // transport kIcmp in IPv4
  std::optional<Icmp6View> icmp6;  // transport kIcmp in IPv6
  uint16_t src_port = 0;  // UDP, TCP
  uint16_t dst_port = 0;  // UDP, TCP
  uint8_t icmp_type = 0;  // ICMP

  uint16_t gso_size = 0;  // as classified (ClassifyOptions)

  bool v6() const { return net == Net::kIpv6; }
  // TCP only: whether the TCP checksum verifies over the pseudo-header.
  bool tcp_checksum_ok() const;
};

// Parses `frame` (from its Ethernet header on) as above.
Expected<GuestPacket, ParseError> classify(ConstBytes frame, const ClassifyOptions& options = {});

}  // namespace tapir::wire
