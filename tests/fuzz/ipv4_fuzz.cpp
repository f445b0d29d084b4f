// Fuzz target: Ipv4View::parse, Ipv4Repr round trip, and the NAT rewrite's
// incremental checksum update.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/ipv4.hpp"

namespace {
// Reads a value so the accessor that produced it cannot be optimised away.
void touch(uint64_t v) {
  static volatile uint64_t sink;
  sink = sink + v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  auto ip = Ipv4View::parse(as_bytes({data, size}));
  if (!ip) return 0;

  // Touch every accessor; the spans must tile the datagram.
  touch(ip->version());
  touch(ip->dscp());
  touch(ip->ecn());
  touch(ip->identification());
  touch(ip->reserved_flag());
  touch(ip->fragment_offset_bytes());
  touch(ip->is_fragment());
  touch(ip->ttl());
  touch(ip->protocol());
  touch(ip->header_checksum());
  touch(ip->source().value);
  touch(ip->destination().value);
  const bool checksum_ok = ip->header_checksum_ok();
  if (ip->bytes().size() != ip->total_length()) __builtin_trap();
  if (ip->header().size() + ip->payload().size() != ip->bytes().size()) __builtin_trap();
  if (kIpv4MinHeaderLen + ip->options().size() != ip->header_len()) __builtin_trap();

  // Ipv4Repr holds an option-less, unfragmented header: for those, emit
  // reproduces every byte but the checksum (0x0000 and 0xffff can both be
  // right), and the checksum it writes is right.
  const Ipv4Repr repr = Ipv4Repr::parse(*ip);
  std::vector<uint8_t> out(repr.total_len());  // header, then a zero payload
  repr.emit(as_writable_bytes(out));
  auto emitted = Ipv4View::parse(as_bytes(out));
  if (!emitted || !emitted->header_checksum_ok() || Ipv4Repr::parse(*emitted) != repr) {
    __builtin_trap();
  }
  if (ip->header_len() == kIpv4MinHeaderLen && !ip->reserved_flag() && !ip->is_fragment()) {
    if (std::memcmp(out.data(), data, Ipv4View::kChecksumOffset) != 0) __builtin_trap();
    if (std::memcmp(out.data() + Ipv4View::kSrcOffset, data + Ipv4View::kSrcOffset,
                    kIpv4MinHeaderLen - Ipv4View::kSrcOffset) != 0) {
      __builtin_trap();
    }
  }

  // NAT rewrite: a right checksum stays right.
  std::vector<uint8_t> copy(data, data + size);
  auto mut = Ipv4MutView::parse(as_writable_bytes(copy));
  if (!mut) __builtin_trap();
  mut->set_source(Ipv4Addr::from_octets(10, 0, 2, 2));
  mut->set_destination(Ipv4Addr{ip->source().value ^ 0x5a5a5a5au});
  const Ipv4View rewritten = mut->view();
  if (rewritten.source() != Ipv4Addr::from_octets(10, 0, 2, 2)) __builtin_trap();
  if (checksum_ok && !rewritten.header_checksum_ok()) __builtin_trap();
  return 0;
}
