#include "tap/tap_device.hpp"

#include <fcntl.h>
// <net/if.h> before any <linux/if*.h>: glibc and the uapi headers then agree.
#include <net/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

namespace tapir::tap {
namespace {

// Older uapi headers lack the USO bits (Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

}  // namespace

Offloads Offloads::from_tun_flags(unsigned f) {
  Offloads o;
  o.csum = (f & TUN_F_CSUM) != 0;
  o.tso4 = (f & TUN_F_TSO4) != 0;
  o.tso6 = (f & TUN_F_TSO6) != 0;
  o.uso4 = (f & TUN_F_USO4) != 0;
  o.uso6 = (f & TUN_F_USO6) != 0;
  return o;
}

unsigned Offloads::to_tun_flags() const {
  unsigned f = 0;
  if (csum) f |= TUN_F_CSUM;
  // Segmentation offloads require checksum offload (the kernel enforces it).
  if (csum && tso4) f |= TUN_F_TSO4;
  if (csum && tso6) f |= TUN_F_TSO6;
  if (csum && uso4) f |= TUN_F_USO4;
  if (csum && uso6) f |= TUN_F_USO6;
  return f;
}

std::string Offloads::to_string() const {
  std::string s;
  auto add = [&s](bool on, const char* n) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += n;
  };
  add(csum, "csum");
  add(tso4, "tso4");
  add(tso6, "tso6");
  add(uso4, "uso4");
  add(uso6, "uso6");
  return s.empty() ? "none" : s;
}

SysResult<TapDevice> open_tap(const TapRequest& req) {
  if (req.name.empty() || req.name.size() >= IFNAMSIZ) return sys_error("tap name", EINVAL);
  TapDevice dev;
  dev.fd = Fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!dev.fd) return sys_error("open /dev/net/tun");

  ifreq ifr{};
  std::memcpy(ifr.ifr_name, req.name.data(), req.name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (req.vnet_hdr) ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_VNET_HDR);
  if (::ioctl(dev.fd.get(), TUNSETIFF, &ifr) < 0) return sys_error("TUNSETIFF");
  dev.name = ifr.ifr_name;
  dev.ifindex = static_cast<int>(if_nametoindex(dev.name.c_str()));

  if (req.vnet_hdr) {
    int len = 12;
    if (::ioctl(dev.fd.get(), TUNSETVNETHDRSZ, &len) < 0) return sys_error("TUNSETVNETHDRSZ");
    dev.vnet_hdr_len = 12;
    const Offloads& w = req.want;
    const Offloads tries[] = {
        w,
        Offloads{w.csum, w.tso4, w.tso6, false, false},
        Offloads{w.csum, false, false, false, false},
        Offloads{},
    };
    for (const Offloads& t : tries) {
      const unsigned flags = t.to_tun_flags();
      if (::ioctl(dev.fd.get(), TUNSETOFFLOAD, static_cast<unsigned long>(flags)) == 0) {
        dev.offloads = Offloads::from_tun_flags(flags);
        break;
      }
    }
  }
  return dev;
}

}  // namespace tapir::tap
