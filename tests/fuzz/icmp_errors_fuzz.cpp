// Fuzz target: the ICMP error builders (flows/icmp_errors) that quote what
// the guest sent. The first byte picks the builder and the family, the next
// two are type and code; the rest is the offending IP packet (or, for the
// flow variant, 32 address bytes and the transport header's start). Every
// frame built must fit the buffer, parse as Ethernet / IP / ICMP, and carry
// valid checksums: the guest's stack drops a bad one silently. The builders
// take only error types (their callers pass constants or filter what the
// host's error queue says), so a type byte that is not one of the family's
// errors is no input for them.
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "flows/icmp_errors.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"

namespace {

using namespace tapir;

void check_frame(wire::ConstBytes f, size_t limit) {
  if (f.size() > limit) __builtin_trap();
  auto eth = wire::EthernetView::parse(f);
  if (!eth) __builtin_trap();
  if (eth->ethertype() == wire::ethertype::kIpv4) {
    auto ip = wire::Ipv4View::parse(eth->payload());
    if (!ip || !ip->header_checksum_ok()) __builtin_trap();
    auto icmp = wire::Icmp4View::parse(ip->payload());
    if (!icmp || !icmp->checksum_ok()) __builtin_trap();
  } else {
    auto ip = wire::Ipv6View::parse(eth->payload());
    if (!ip) __builtin_trap();
    auto icmp = wire::Icmp6View::parse(ip->payload());
    if (!icmp || !icmp->checksum_ok(ip->source(), ip->destination())) __builtin_trap();
    // RFC 4443 2.4(c): the error never exceeds the IPv6 minimum MTU.
    if (ip->payload().size() + wire::kIpv6HeaderLen > 1280) __builtin_trap();
  }
}

const wire::AddressPlan& plan() {
  static const wire::AddressPlan p =
      wire::AddressPlan::nat({wire::Ipv4Addr::from_octets(10, 0, 2, 0), 24},
                             *wire::Ipv6Prefix::parse("fd00::/64"), true);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0] % 3;
  const uint8_t type = data[1];
  const uint8_t code = data[2];
  const wire::ConstBytes rest = wire::as_bytes({data + 3, size - 3});
  const wire::MacAddr guest{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  std::vector<std::byte> out(1514);
  size_t n = 0;
  if (mode == 0) {
    if (!wire::icmp4_is_error(type)) return 0;
    auto ip = wire::Ipv4View::parse(rest);
    if (!ip) return 0;
    n = flows::build_icmp4_error(out, plan(), guest, *ip, type, code, 1500);
  } else if (mode == 1) {
    if (!wire::icmp6_is_error(type)) return 0;
    auto ip = wire::Ipv6View::parse(rest);
    if (!ip) return 0;
    n = flows::build_icmp6_error(out, plan(), guest, *ip, type, code, 1280);
  } else {
    if (rest.size() < 33) return 0;
    wire::IpAddr a;
    wire::IpAddr b;
    std::memcpy(a.bytes.data(), rest.data(), 16);
    std::memcpy(b.bytes.data(), rest.data() + 16, 16);
    a.v6 = b.v6 = (std::to_integer<uint8_t>(rest[32]) & 1) != 0;
    if (!(a.v6 ? wire::icmp6_is_error(type) : wire::icmp4_is_error(type))) return 0;
    const uint8_t proto = (std::to_integer<uint8_t>(rest[32]) & 2) != 0 ? 17 : 6;
    n = flows::build_icmp_error_for_flow(out, plan(), guest, a, b, proto, rest.subspan(33), type,
                                         code);
    if (n == 0) return 0;
  }
  if (n == 0 || n > out.size()) __builtin_trap();
  check_frame(wire::ConstBytes(out.data(), n), out.size());
  return 0;
}
