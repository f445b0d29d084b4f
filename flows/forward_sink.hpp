#pragma once
// What port forwarding (flows/port_forward) hands to the data path: a
// connection accepted on a host listener, to be carried into the guest.
//
// The TCP translation (flows/tcp_flows) implements ForwardSink: it opens a
// connection *towards* the guest (our SYN, the guest's SYN-ACK) and then
// splices it to `conn` exactly like a connection the guest opened.

#include <cstdint>

#include "base/clock.hpp"
#include "base/fd.hpp"
#include "loop/socket_watcher.hpp"
#include "wire/addr.hpp"

namespace tapir::flows {

// Both addresses are of one family, the guest's.
struct ForwardTarget {
  // The source the guest sees: the client's real address, or the gateway
  // address for a client on host loopback (or of the other family).
  wire::IpAddr peer;
  uint16_t peer_port = 0;
  // The guest's address and port the connection goes to.
  wire::IpAddr guest;
  uint16_t guest_port = 0;
  bool v6() const { return guest.v6; }
};

class ForwardSink {
 public:
  virtual ~ForwardSink() = default;
  // Takes an accepted, non-blocking host TCP connection. Returns false when
  // it cannot be carried (flow table full, guest MAC unknown, ...): then
  // `conn` has been closed with a reset and the caller counts it.
  virtual bool forward_tcp(Fd conn, const ForwardTarget& target, MonoTime now, loop::FrameSink& tx) = 0;
};

}  // namespace tapir::flows
