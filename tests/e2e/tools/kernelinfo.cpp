// kernelinfo: what the running kernel accepts of the features tapir probes
// for, asked one by one (scripts/test-kernel prints it beside the smoke
// results, so a report on an old kernel names what differs there):
//   * SO_PEEK_OFF on TCP and UDP sockets (TCP since Linux 6.9),
//   * each tap offload bit through TUNSETOFFLOAD (USO since 6.2),
//   * each io_uring setup flag tapir tries (DEFER_TASKRUN since 6.1).
// Needs CAP_NET_ADMIN for the tap part (run it as root in a namespace of its
// own: `unshare -n kernelinfo`). Prints lines "kernelinfo: KEY: VALUE".
// No tapir code: this asks the kernel, not tapir.

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

// Older uapi headers lack the newer bits; the values are the kernel's ABI.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

namespace {

std::string verdict(int rc, int err) {
  if (rc == 0) return "accepted";
  return std::string("refused (") + strerrorname_np(err) + ")";
}

void peek_off(const char* name, int type) {
  const int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) {
    std::printf("kernelinfo: SO_PEEK_OFF on %s: no socket (%s)\n", name, strerrorname_np(errno));
    return;
  }
  const int zero = 0;
  const int rc = ::setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
  std::printf("kernelinfo: SO_PEEK_OFF on %s: %s\n", name, verdict(rc, errno).c_str());
  ::close(fd);
}

void tap_offloads() {
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::printf("kernelinfo: tap: cannot open /dev/net/tun (%s)\n", strerrorname_np(errno));
    return;
  }
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "kinfo0");
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
    std::printf("kernelinfo: tap: TUNSETIFF failed (%s)\n", strerrorname_np(errno));
    ::close(fd);
    return;
  }
  struct Bit {
    unsigned flag;
    const char* name;
  };
  // Each segmentation bit needs CSUM beside it, ECN needs TSO (tun.c
  // refuses them alone); USO is asked for both families at once, as tapir
  // does (Linux 6.2 takes USO4 and USO6 only together).
  const Bit bits[] = {{TUN_F_CSUM, "csum"},
                      {TUN_F_CSUM | TUN_F_TSO4, "tso4"},
                      {TUN_F_CSUM | TUN_F_TSO6, "tso6"},
                      {TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN, "tso-ecn"},
                      {TUN_F_CSUM | TUN_F_UFO, "ufo"},
                      {TUN_F_CSUM | TUN_F_USO4 | TUN_F_USO6, "uso4+uso6"}};
  std::string ok;
  std::string no;
  for (const Bit& b : bits) {
    const int rc = ::ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(b.flag));
    std::string& list = rc == 0 ? ok : no;
    if (!list.empty()) list += ' ';
    list += b.name;
  }
  std::printf("kernelinfo: TUNSETOFFLOAD accepts: %s\n", ok.empty() ? "(none)" : ok.c_str());
  std::printf("kernelinfo: TUNSETOFFLOAD refuses: %s\n", no.empty() ? "(none)" : no.c_str());
  ::close(fd);
}

void uring_flags() {
  struct Try {
    unsigned flags;
    const char* name;
  };
  const Try tries[] = {
      {0, "plain"},
      {IORING_SETUP_COOP_TASKRUN, "coop-taskrun"},
      {IORING_SETUP_SINGLE_ISSUER, "single-issuer"},
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single-issuer+defer-taskrun"},
  };
  for (const Try& t : tries) {
    io_uring_params p{};
    p.flags = t.flags;
    const long fd = ::syscall(SYS_io_uring_setup, 8, &p);
    const int err = errno;
    if (fd >= 0) {
      std::printf("kernelinfo: io_uring setup %s: accepted (features 0x%x)\n", t.name, p.features);
      ::close(static_cast<int>(fd));
    } else {
      std::printf("kernelinfo: io_uring setup %s: %s\n", t.name, verdict(-1, err).c_str());
    }
  }
}

}  // namespace

int main() {
  utsname u{};
  ::uname(&u);
  std::printf("kernelinfo: kernel: %s %s\n", u.release, u.version);
  peek_off("TCP", SOCK_STREAM);
  peek_off("UDP", SOCK_DGRAM);
  tap_offloads();
  uring_flags();
  return 0;
}
