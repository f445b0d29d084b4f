#pragma once
// Opening the tap device, in whatever network namespace the calling thread
// is in (ns/attach.cpp calls this from a child that has joined the target).
//
// Theory of operation. /dev/net/tun with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR
// either creates a tap of that name or attaches to an existing persistent
// one (rootlesskit pre-creates tap0); the kernel decides which, and
// attaching needs the same owner or CAP_NET_ADMIN in the device's
// namespace. With a vnet header every frame in either direction starts with
// a 12-byte virtio_net_hdr (TUNSETVNETHDRSZ 12, the virtio 1.0 layout in
// wire/virtio_net_hdr.hpp), which is what lets the kernel hand us
// 64 KiB TCP/UDP segments and skip checksums once offloads are on.
//
// Offloads are negotiated from the most to the least capable set, because
// older kernels refuse the whole TUNSETOFFLOAD call if one bit is unknown
// (USO arrived in 6.2): CSUM|TSO4|TSO6|USO4|USO6, then CSUM|TSO4|TSO6, then
// CSUM, then none. What was accepted is reported so the engine knows what
// the guest may send it.

#include <cstdint>
#include <string>

#include "base/error.hpp"
#include "base/fd.hpp"

namespace tapir::tap {

// TUN_F_* bits as accepted by TUNSETOFFLOAD.
struct Offloads {
  bool csum = false;
  bool tso4 = false;
  bool tso6 = false;
  bool uso4 = false;
  bool uso6 = false;

  unsigned to_tun_flags() const;
  static Offloads from_tun_flags(unsigned flags);
  // "csum tso4 tso6 uso4 uso6", or "none".
  std::string to_string() const;
  bool operator==(const Offloads&) const = default;
};

struct TapDevice {
  Fd fd;                    // blocking; the engine sets O_NONBLOCK if it wants it
  std::string name;         // the kernel's name for it (may differ if a pattern was given)
  int ifindex = 0;
  size_t vnet_hdr_len = 0;  // 12, or 0 without a vnet header
  Offloads offloads;
};

struct TapRequest {
  std::string name = "tap0";
  bool vnet_hdr = true;
  Offloads want{true, true, true, true, true};
};

// Opens or attaches the tap named in `req` in the current network namespace.
// Errors name the step: "open /dev/net/tun", "TUNSETIFF", "TUNSETVNETHDRSZ".
SysResult<TapDevice> open_tap(const TapRequest& req);

}  // namespace tapir::tap
