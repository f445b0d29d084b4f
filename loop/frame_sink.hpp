#pragma once
// Where frames to the guest go: the one interface the flows, services and
// the DNS forwarder see of the tap's transmit side (tap/tap_io.hpp is the
// real one; unit tests and fuzzers use a detached queue).
//
// A producer acquire()s a buffer, builds its frame in place (Ethernet
// header first), and send()s it with the length it wrote, or cancel()s it.
// At most one buffer is acquired at a time. An empty span from acquire()
// means every buffer is in flight: the producer drops or retries its frame
// and counts it.

#include <cstddef>
#include <cstdint>

#include "wire/bytes.hpp"
#include "wire/virtio_net_hdr.hpp"

namespace tapir::loop {

class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // A buffer for one Ethernet frame, valid until send() or cancel(); empty
  // when none is free.
  virtual wire::MutBytes acquire() = 0;
  // Queues the buffer from the last acquire() with `len` (> 0) bytes of
  // frame, and the vnet header the guest gets with it (GSO or a partial
  // checksum needs has_vnet_hdr(); none(): complete checksums).
  virtual void send(size_t len, const wire::VirtioNetHdrRepr& vnet) = 0;
  void send(size_t len) { send(len, wire::VirtioNetHdrRepr::none()); }
  // Returns the buffer from the last acquire() unsent.
  virtual void cancel() = 0;
  // False for a tap without IFF_VNET_HDR (--no-offload): frames must then
  // be MTU-sized with complete checksums.
  virtual bool has_vnet_hdr() const = 0;
  virtual size_t free_slots() const = 0;
};

}  // namespace tapir::loop
