// Fuzz target: UdpView::parse, checksum verification, UdpRepr round trip,
// and fill_udp_checksum (a filled checksum must then verify).
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/udp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  const ConstBytes in = as_bytes({data, size});
  auto udp = UdpView::parse(in);
  if (!udp) return 0;
  const Ipv4Addr src4 = Ipv4Addr::from_octets(192, 0, 2, 1);
  const Ipv4Addr dst4 = Ipv4Addr::from_octets(192, 0, 2, 2);
  Ipv6Addr src6{};
  Ipv6Addr dst6{};
  src6.octets = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  dst6.octets = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

  // Touch every accessor; the view must stay inside what the length says.
  (void)udp->source_port();
  (void)udp->destination_port();
  (void)udp->checksum();
  (void)udp->checksum_ok(src4, dst4);
  (void)udp->checksum_ok(src6, dst6);
  if (udp->bytes().size() != udp->length() || udp->bytes().size() > size) __builtin_trap();
  if (udp->payload().size() + kUdpHeaderLen != udp->length()) __builtin_trap();

  // parse -> emit reproduces ports and length; the checksum field is 0.
  const UdpRepr repr = UdpRepr::parse(*udp);
  std::vector<uint8_t> out(repr.buffer_len());
  repr.emit(as_writable_bytes(out));
  if (std::memcmp(out.data(), data, 6) != 0 || out[6] != 0 || out[7] != 0) __builtin_trap();

  // With the payload in place, a filled checksum verifies, and 0 is never sent.
  std::memcpy(out.data() + kUdpHeaderLen, data + kUdpHeaderLen, repr.payload_len);
  fill_udp_checksum(as_writable_bytes(out), src4, dst4);
  auto v4 = UdpView::parse(as_bytes(out));
  if (!v4 || v4->checksum() == 0 || !v4->checksum_ok(src4, dst4)) __builtin_trap();
  fill_udp_checksum(as_writable_bytes(out), src6, dst6);
  auto v6 = UdpView::parse(as_bytes(out));
  if (!v6 || !v6->checksum_ok(src6, dst6)) __builtin_trap();
  return 0;
}
