#include "ns/host.hpp"

#include <cstdio>
#include <cstring>

namespace tapir::ns {

bool host_has_ipv6_default_route() {
  // /proc/net/ipv6_route: dest(32 hex) dest_len(2 hex) src(32) src_len(2)
  // next_hop(32) metric refcnt use flags(8 hex) device.
  FILE* f = std::fopen("/proc/net/ipv6_route", "re");
  if (f == nullptr) return false;
  constexpr unsigned kRtfReject = 0x0200;
  char dest[33], src[33], nh[33], dev[64];
  unsigned dlen, slen, metric, refcnt, use, flags;
  bool found = false;
  while (std::fscanf(f, "%32s %x %32s %x %32s %x %x %x %x %63s", dest, &dlen, src, &slen, nh, &metric,
                     &refcnt, &use, &flags, dev) == 10) {
    if (dlen == 0 && std::strspn(dest, "0") == 32 && (flags & kRtfReject) == 0 &&
        std::strcmp(dev, "lo") != 0) {
      found = true;
      break;
    }
  }
  std::fclose(f);
  return found;
}

}  // namespace tapir::ns
