// Fuzz target: VirtioNetHdrView::parse (12- and 10-byte layouts),
// validate_against_frame, and the VirtioNetHdrRepr round trip. The input is
// what a tap read returns: the header, then the frame.
#include <cstdint>
#include <cstring>
#include <vector>

#include "wire/virtio_net_hdr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  const ConstBytes in = as_bytes({data, size});
  for (size_t hdr_size : {kVirtioNetHdrLen, kVirtioNetHdrLegacyLen}) {
    auto h = VirtioNetHdrView::parse(in, hdr_size);
    if (!h) continue;
    if (h->header_len() != hdr_size) __builtin_trap();
    // Touch every accessor.
    (void)(h->needs_csum() || h->data_valid() || h->rsc_info() || h->gso_ecn());
    (void)h->gso_protocol();
    (void)h->hdr_len();
    (void)h->num_buffers();
    if (h->gso_type() != vnet_gso::kNone && h->gso_size() == 0) __builtin_trap();
    const size_t frame_len = size - hdr_size;
    const bool ok = h->validate_against_frame(frame_len).has_value();
    if (h->needs_csum() && ok && size_t{h->csum_start()} + h->csum_offset() + 2 > frame_len) {
      __builtin_trap();
    }

    // parse -> emit reproduces the header exactly, and parses again.
    const VirtioNetHdrRepr repr = VirtioNetHdrRepr::parse(*h);
    std::vector<uint8_t> out(VirtioNetHdrRepr::buffer_len(hdr_size));
    repr.emit(as_writable_bytes(out), hdr_size);
    if (std::memcmp(out.data(), data, hdr_size) != 0) __builtin_trap();
    auto again = VirtioNetHdrView::parse(as_bytes(out), hdr_size);
    if (!again || !(VirtioNetHdrRepr::parse(*again) == repr)) __builtin_trap();
  }
  return 0;
}
