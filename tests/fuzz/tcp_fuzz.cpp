// Fuzz target: TcpView::parse, TcpRepr parse/emit, fill_tcp_checksum.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/tcp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  const ConstBytes in = as_bytes({data, size});
  auto tcp = TcpView::parse(in);
  if (!tcp) return 0;
  const Ipv4Addr src4 = Ipv4Addr::from_octets(192, 0, 2, 1);
  const Ipv4Addr dst4 = Ipv4Addr::from_octets(192, 0, 2, 2);
  Ipv6Addr src6{};
  Ipv6Addr dst6{};
  src6.octets = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  dst6.octets = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

  // Touch every accessor.
  (void)tcp->source_port();
  (void)tcp->destination_port();
  (void)tcp->sequence_number();
  (void)tcp->acknowledgment_number();
  (void)tcp->window();
  (void)tcp->checksum();
  (void)tcp->urgent_pointer();
  (void)(tcp->cwr() || tcp->ece() || tcp->urg() || tcp->ack() || tcp->psh() || tcp->rst() ||
         tcp->syn() || tcp->fin());
  (void)tcp->checksum_ok(src4, dst4);
  (void)tcp->checksum_ok(src6, dst6);
  const size_t hlen = tcp->header_len();
  if (hlen < kTcpHeaderLen || hlen > kTcpMaxHeaderLen || hlen > size) __builtin_trap();
  if (tcp->options().size() != hlen - kTcpHeaderLen || tcp->payload().size() != size - hlen) {
    __builtin_trap();
  }

  auto repr = TcpRepr::parse(*tcp);
  if (!repr) return 0;
  std::vector<uint8_t> out(repr->buffer_len() + tcp->payload().size());
  if (!repr->fits()) {
    // Options that came in may need more room in tapir's layout (SACK
    // blocks beside timestamps and window scale): emit must refuse them.
    if (repr->emit(as_writable_bytes(out))) __builtin_trap();
    repr->options.trim_sack_blocks();
    if (!repr->fits()) __builtin_trap();
    out.resize(repr->buffer_len() + tcp->payload().size());
  }
  if (!repr->emit(as_writable_bytes(out))) __builtin_trap();
  // The fixed fields come back as they were (the data offset may differ:
  // options are re-laid out), and the emitted header parses to the same repr.
  const size_t fixed[][2] = {{0, 12}, {13, 16}, {18, 20}};
  for (const auto& r : fixed) {
    if (std::memcmp(out.data() + r[0], data + r[0], r[1] - r[0]) != 0) __builtin_trap();
  }
  std::memcpy(out.data() + repr->buffer_len(), tcp->payload().data(), tcp->payload().size());
  auto again = TcpView::parse(as_bytes(out));
  if (!again) __builtin_trap();
  auto repr2 = TcpRepr::parse(*again);
  if (!repr2 || !(*repr2 == *repr)) __builtin_trap();
  if (again->payload().size() != tcp->payload().size()) __builtin_trap();

  // A filled checksum verifies.
  if (out.size() <= 0xffff) {
    fill_tcp_checksum(as_writable_bytes(out), src4, dst4);
    if (!TcpView::parse(as_bytes(out))->checksum_ok(src4, dst4)) __builtin_trap();
  }
  fill_tcp_checksum(as_writable_bytes(out), src6, dst6);
  if (!TcpView::parse(as_bytes(out))->checksum_ok(src6, dst6)) __builtin_trap();
  return 0;
}
