// Fuzz target: Ipv6View::parse (the extension-header walk) and the lossless
// Ipv6Repr round trip of the fixed header.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/ipv6.hpp"

namespace {
// Reads a value so the accessor that produced it cannot be optimised away.
void touch(uint64_t v) {
  static volatile uint64_t sink;
  sink = sink + v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  auto ip = Ipv6View::parse(as_bytes({data, size}));
  if (!ip) return 0;

  // Touch every accessor.
  touch(ip->version());
  touch(ip->traffic_class());
  touch(ip->dscp());
  touch(ip->ecn());
  touch(ip->flow_label());
  touch(ip->next_header());
  touch(ip->hop_limit());
  touch(ip->source().octets[15]);
  touch(ip->destination().octets[15]);
  touch(ip->upper_protocol());
  touch(ip->fragment_offset_bytes());
  touch(ip->more_fragments());
  touch(ip->fragment_identification());
  touch(ip->is_fragment());
  touch(ip->fragment_next_header());

  // The walk's results must tile the packet and respect its limits.
  if (ip->bytes().size() != kIpv6HeaderLen + ip->payload_length()) __builtin_trap();
  if (ip->payload().size() != ip->payload_length()) __builtin_trap();
  if (ip->extension_headers().size() != ip->extension_headers_len()) __builtin_trap();
  if (kIpv6HeaderLen + ip->extension_headers_len() + ip->upper_payload().size() !=
      ip->bytes().size()) {
    __builtin_trap();
  }
  if (ip->extension_header_count() > kMaxExtensionHeaders) __builtin_trap();
  if ((ip->extension_header_count() == 0) != (ip->extension_headers_len() == 0)) __builtin_trap();
  if (!ip->has_fragment_header() && (ip->is_fragment() || !ip->fragment_data().empty())) {
    __builtin_trap();
  }
  if (ip->has_fragment_header() && ip->fragment_data().size() < ip->upper_payload().size()) {
    __builtin_trap();
  }

  const Ipv6Repr repr = Ipv6Repr::parse(*ip);
  std::vector<uint8_t> out(Ipv6Repr::buffer_len());
  repr.emit(as_writable_bytes(out));
  if (std::memcmp(out.data(), data, out.size()) != 0) __builtin_trap();
  return 0;
}
