#pragma once
// Helpers for the services tests: captured frames, a default config, and
// parsing a reply frame back with the wire views.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../test_util.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/udp.hpp"
#include "services/service_config.hpp"

namespace tapir::services::test {

using Frame = std::vector<uint8_t>;

// Frame `index` of a capture in tests/data; fails the test if it is missing.
inline Frame capture_frame(const std::string& pcap, size_t index) {
  const auto frames = tapir::test::pcap_frames(pcap);
  EXPECT_LT(index, frames.size()) << pcap;
  if (index >= frames.size()) return {};
  return frames[index];
}

inline ServiceConfig default_config(bool ipv6 = true) {
  ServiceConfig cfg;
  cfg.plan.ipv6 = ipv6;
  cfg.plan.search = {"tapir.test", "example.com"};
  return cfg;
}

inline wire::ConstBytes bytes_of(const Frame& f) { return wire::as_bytes(f); }

inline wire::Ipv4Addr v4(const char* s) { return *wire::Ipv4Addr::parse(s); }
inline wire::Ipv6Addr v6(const char* s) { return *wire::Ipv6Addr::parse(s); }
inline wire::MacAddr mac(const char* s) { return *wire::MacAddr::parse(s); }

inline const wire::MacAddr kGuestMac = {{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
inline const wire::MacAddr kGatewayMac = {{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}};

// A UDP reply parsed down to its payload, with both checksums checked.
struct Udp4Reply {
  wire::MacAddr eth_src, eth_dst;
  wire::Ipv4Addr src, dst;
  uint16_t sport = 0, dport = 0;
  std::vector<uint8_t> payload;
};

inline std::optional<Udp4Reply> parse_udp4(wire::ConstBytes frame) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth || eth->ethertype() != 0x0800) return std::nullopt;
  auto ip = wire::Ipv4View::parse(eth->payload());
  if (!ip || !ip->header_checksum_ok() || ip->protocol() != 17) return std::nullopt;
  auto udp = wire::UdpView::parse(ip->payload());
  if (!udp || udp->checksum() == 0 || !udp->checksum_ok(ip->source(), ip->destination())) {
    return std::nullopt;
  }
  if (ip->total_length() + wire::kEthernetHeaderLen != frame.size()) return std::nullopt;
  Udp4Reply r{eth->source(), eth->destination(), ip->source(), ip->destination(),
              udp->source_port(), udp->destination_port(), {}};
  for (std::byte b : udp->payload()) r.payload.push_back(static_cast<uint8_t>(b));
  return r;
}

struct Udp6Reply {
  wire::MacAddr eth_src, eth_dst;
  wire::Ipv6Addr src, dst;
  uint8_t hop_limit = 0;
  uint16_t sport = 0, dport = 0;
  std::vector<uint8_t> payload;
};

inline std::optional<Udp6Reply> parse_udp6(wire::ConstBytes frame) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth || eth->ethertype() != 0x86dd) return std::nullopt;
  auto ip = wire::Ipv6View::parse(eth->payload());
  if (!ip || ip->upper_protocol() != 17) return std::nullopt;
  auto udp = wire::UdpView::parse(ip->upper_payload());
  if (!udp || !udp->checksum_ok(ip->source(), ip->destination())) return std::nullopt;
  if (ip->payload_length() + wire::kIpv6HeaderLen + wire::kEthernetHeaderLen != frame.size()) {
    return std::nullopt;
  }
  Udp6Reply r{eth->source(),      eth->destination(),      ip->source(), ip->destination(),
              ip->hop_limit(),    udp->source_port(),      udp->destination_port(), {}};
  for (std::byte b : udp->payload()) r.payload.push_back(static_cast<uint8_t>(b));
  return r;
}

}  // namespace tapir::services::test
