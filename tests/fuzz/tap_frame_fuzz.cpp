// Fuzz target: what the tap reader makes of one read (tap/tap_io:
// parse_tap_frame -> FrameMeta) and the partial-checksum completion
// (FrameMeta::complete_checksum, complete_partial_checksum).
//
// The first byte picks the mode:
//   even: the rest is a tap read as it comes (vnet header of 12, 10 or 0
//         bytes, picked by bits 1-2, then the frame). Whatever the header
//         says, the frame handed on is exactly the bytes after the header,
//         the metadata says what the header said, and completing a partial
//         checksum writes the two bytes of the field and nothing else, after
//         which the sum from csum_start plus the field's old content (the
//         pseudo-header sum) is all ones.
//   odd:  the rest describes a valid NEEDS_CSUM frame as a guest kernel
//         sends it (family, TCP/UDP/ICMP, addresses, ports, payload, with or
//         without GSO): the field holds the pseudo-header sum. It must be
//         accepted, and once completed the L4 view's checksum_ok() must hold
//         (for UDP also: never the "no checksum" 0, RFC 768).
// ASan/UBSan catch any read or write out of bounds.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tap/tap_io.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/ipv6.hpp"
#include "wire/proto.hpp"
#include "wire/tcp.hpp"
#include "wire/udp.hpp"
#include "wire/virtio_net_hdr.hpp"

namespace {

using namespace tapir;

// Names the line of a failed check, then crashes for libFuzzer.
void check(bool ok, int line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
  __builtin_trap();
}

void raw_read(uint8_t mode, const uint8_t* data, size_t size) {
  const size_t hdr_lens[] = {wire::kVirtioNetHdrLen, wire::kVirtioNetHdrLegacyLen, 0,
                             wire::kVirtioNetHdrLen};
  const size_t hdr_len = hdr_lens[(mode >> 1) & 3];
  // Exactly sized, so ASan sees any access past the read.
  std::vector<uint8_t> buf(data, data + size);
  const wire::MutBytes all = wire::as_writable_bytes(buf);
  auto f = tap::parse_tap_frame(all, hdr_len);
  if (hdr_len != 0) {
    auto h = wire::VirtioNetHdrView::parse(all, hdr_len);
    // Accepted exactly when the header parses and its checksum offsets fit.
    check(f.has_value() ==
          (h.has_value() && h->validate_against_frame(size - hdr_len).has_value()));
    if (!f) return;
    check(f->meta.gso_size == (h->gso_type() == wire::vnet_gso::kNone ? 0 : h->gso_size()));
    check(f->meta.needs_csum == h->needs_csum());
    if (!h->needs_csum()) check(f->meta.csum_start == 0 && f->meta.csum_offset == 0);
  } else {
    check(f.has_value() && f->meta.gso_size == 0 && !f->meta.needs_csum);
  }
  check(f->frame.data() == all.data() + hdr_len && f->frame.size() == size - hdr_len);

  const std::vector<uint8_t> before(buf);
  tap::FrameMeta meta = f->meta;
  meta.complete_checksum(f->frame);
  check(!meta.needs_csum);
  if (f->meta.needs_csum) {
    const size_t at = hdr_len + f->meta.csum_start + f->meta.csum_offset;
    for (size_t i = 0; i < size; ++i) {
      if (i != at && i != at + 1) check(buf[i] == before[i]);
    }
    // The field's old content is the pseudo-header sum the receiver adds
    // back: with it, the range sums to all ones (-0), so the segment
    // verifies. Only for a field at an even distance from csum_start: at an
    // odd one (no protocol has that) the stored value lands byte-swapped.
    if (f->meta.csum_offset % 2 == 0) {
      const uint16_t old = wire::load_be16(wire::as_bytes(before), at);
      const uint32_t range = wire::checksum_partial(f->frame.subspan(f->meta.csum_start));
      check(wire::checksum_fold(uint64_t{range} + old) == 0xffff);
    }
  } else {
    check(buf == before);
  }
  // Once only: a second call changes nothing.
  const std::vector<uint8_t> done(buf);
  meta.complete_checksum(f->frame);
  check(buf == done);

  // complete_partial_checksum with any offsets: refused when they do not
  // fit, never a write outside the frame.
  if (size >= 4) {
    const auto start = static_cast<uint16_t>(data[0] | (data[1] << 8));
    const auto offset = static_cast<uint16_t>(data[2] | (data[3] << 8));
    const bool fits = size_t{start} + offset + 2 <= f->frame.size();
    check(tap::complete_partial_checksum(f->frame, start, offset).has_value() == fits);
  }
}

// A reader over the fuzz input that yields zeros once it runs out.
struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
  uint32_t u32() { return (uint32_t{u16()} << 16) | u16(); }
};

void built_frame(const uint8_t* data, size_t size) {
  Input in{data, size};
  const uint8_t shape = in.u8();
  const bool v6 = (shape & 1) != 0;
  const int proto_pick = (shape >> 1) & 3;  // 0 TCP, 1 UDP, 2 ICMP, 3 UDP
  const bool gso = (shape & 8) != 0 && proto_pick != 2;
  const size_t hdr_len = (shape & 16) != 0 ? wire::kVirtioNetHdrLegacyLen : wire::kVirtioNetHdrLen;
  const uint8_t proto = proto_pick == 0   ? wire::ipproto::kTcp
                        : proto_pick == 2 ? (v6 ? wire::ipproto::kIcmpv6 : wire::ipproto::kIcmp)
                                          : wire::ipproto::kUdp;
  const wire::Ipv4Addr src4{in.u32()}, dst4{in.u32()};
  wire::Ipv6Addr src6, dst6;
  for (auto& o : src6.octets) o = in.u8();
  for (auto& o : dst6.octets) o = in.u8();
  const uint16_t sport = in.u16(), dport = in.u16();
  const uint8_t tcp_flags = in.u8();
  const size_t l4_hdr = proto == wire::ipproto::kTcp ? 20 : 8;
  const size_t payload = std::min<size_t>(in.n, 1400);
  const size_t ip_hdr = v6 ? wire::kIpv6HeaderLen : 20;
  const size_t l3 = 14, l4 = l3 + ip_hdr, l4_len = l4_hdr + payload;

  std::vector<uint8_t> buf(hdr_len + l4 + l4_len, 0);
  const wire::MutBytes all = wire::as_writable_bytes(buf);
  const wire::MutBytes fr = all.subspan(hdr_len);
  wire::store_be16(fr, 12, v6 ? wire::ethertype::kIpv6 : wire::ethertype::kIpv4);
  if (v6) {
    wire::store_u8(fr, l3, 0x60);
    wire::store_be16(fr, l3 + 4, static_cast<uint16_t>(l4_len));
    wire::store_u8(fr, l3 + 6, proto);
    wire::store_u8(fr, l3 + 7, 64);
    src6.store(fr, l3 + 8);
    dst6.store(fr, l3 + 24);
  } else {
    wire::store_u8(fr, l3, 0x45);
    wire::store_be16(fr, l3 + 2, static_cast<uint16_t>(ip_hdr + l4_len));
    wire::store_u8(fr, l3 + 8, 64);
    wire::store_u8(fr, l3 + 9, proto);
    wire::store_be32(fr, l3 + 12, src4.value);
    wire::store_be32(fr, l3 + 16, dst4.value);
    wire::store_be16(fr, l3 + 10, wire::internet_checksum(fr.subspan(l3, ip_hdr)));
  }
  size_t csum_offset = 0;
  if (proto == wire::ipproto::kTcp) {
    wire::store_be16(fr, l4, sport);
    wire::store_be16(fr, l4 + 2, dport);
    wire::store_u8(fr, l4 + 12, 5 << 4);
    wire::store_u8(fr, l4 + 13, tcp_flags);
    wire::store_be16(fr, l4 + 14, 65535);
    csum_offset = wire::TcpView::kChecksumOffset;
  } else if (proto == wire::ipproto::kUdp) {
    wire::store_be16(fr, l4, sport);
    wire::store_be16(fr, l4 + 2, dport);
    wire::store_be16(fr, l4 + 4, static_cast<uint16_t>(l4_len));
    csum_offset = wire::UdpView::kChecksumOffset;
  } else {
    wire::store_u8(fr, l4, v6 ? wire::icmp6_type::kEchoRequest : wire::icmp4_type::kEchoRequest);
    wire::store_be16(fr, l4 + 4, sport);
    wire::store_be16(fr, l4 + 6, dport);
    csum_offset = 2;
  }
  std::memcpy(buf.data() + hdr_len + l4 + l4_hdr, in.p, payload);
  // What the guest's kernel leaves in the field: the pseudo-header sum,
  // folded and not inverted (none for ICMPv4, which has no pseudo-header).
  wire::Checksum pseudo;
  if (v6) {
    pseudo.add_ipv6_pseudo(src6, dst6, proto, static_cast<uint32_t>(l4_len));
  } else if (proto != wire::ipproto::kIcmp) {
    pseudo.add_ipv4_pseudo(src4, dst4, proto, static_cast<uint16_t>(l4_len));
  }
  wire::store_be16(fr, l4 + csum_offset, proto == wire::ipproto::kIcmp ? 0 : pseudo.sum());

  wire::VirtioNetHdrRepr vnet = wire::VirtioNetHdrRepr::partial_checksum(
      static_cast<uint16_t>(l4), static_cast<uint16_t>(csum_offset));
  if (gso) {
    vnet.gso_type = proto == wire::ipproto::kUdp ? wire::vnet_gso::kUdpL4
                    : v6                         ? wire::vnet_gso::kTcpv6
                                                 : wire::vnet_gso::kTcpv4;
    vnet.gso_size = static_cast<uint16_t>(1 + shape % 200);
    vnet.hdr_len = static_cast<uint16_t>(l4 + l4_hdr);
  }
  vnet.emit(all, hdr_len);

  auto f = tap::parse_tap_frame(all, hdr_len);
  check(f.has_value() && f->meta.needs_csum && f->meta.gso_size == vnet.gso_size);
  f->meta.complete_checksum(f->frame);
  const wire::ConstBytes seg = wire::ConstBytes(f->frame).subspan(l4);
  if (proto == wire::ipproto::kTcp) {
    auto t = wire::TcpView::parse(seg);
    check(t.has_value() && (v6 ? t->checksum_ok(src6, dst6) : t->checksum_ok(src4, dst4)));
  } else if (proto == wire::ipproto::kUdp) {
    auto u = wire::UdpView::parse(seg);
    check(u.has_value() && (v6 ? u->checksum_ok(src6, dst6) : u->checksum_ok(src4, dst4)));
    check(u->checksum() != 0);  // RFC 768: a computed 0 goes out as all ones
  } else if (v6) {
    auto m = wire::Icmp6View::parse(seg);
    check(m.has_value() && m->checksum_ok(src6, dst6));
  } else {
    auto m = wire::Icmp4View::parse(seg);
    check(m.has_value() && m->checksum_ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    raw_read(data[0], data + 1, size - 1);
  } else {
    built_frame(data + 1, size - 1);
  }
  return 0;
}
