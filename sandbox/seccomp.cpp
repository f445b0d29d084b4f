#include "sandbox/seccomp.hpp"

#include <fcntl.h>
#include <seccomp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/log.hpp"

namespace tapir::sandbox {
namespace {

// The calls allowed with any arguments, by name (a name the architecture
// does not have, such as open on arm64, is skipped).
constexpr const char* kAllowed[] = {
    // Descriptors: tap reads, socket and file I/O, closing, polling.
    "read", "readv", "write", "writev", "pread64", "close", "fcntl", "lseek", "fstat",
    "newfstatat", "statx", "lstat", "stat", "poll", "ppoll",
    // The ring (io_uring_setup and io_uring_register are not here).
    "io_uring_enter",
    // Sockets (socket itself is below, with its arguments).
    "connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "sendmmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt", "getsockname", "getpeername",
    // Timers: the DNS service's, the port forwarder's, the API's.
    "timerfd_create", "timerfd_settime", "timerfd_gettime", "clock_gettime", "clock_getres",
    "gettimeofday", "nanosleep", "clock_nanosleep",
    // DNS files: following resolv.conf's links, the inotify watches.
    "readlink", "readlinkat", "inotify_add_watch", "inotify_rm_watch",
    // Memory.
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
    // Signals, the command's lifecycle, leaving.
    "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "restart_syscall", "kill",
    "tgkill", "wait4", "waitid", "getpid", "gettid", "getppid", "geteuid", "getuid", "getegid",
    "getgid", "exit", "exit_group",
    // glibc's own: locks, random seeds, rseq at thread start.
    "futex", "getrandom", "rseq", "sched_yield",
};

// One argument comparison; libseccomp's SCMP_A<n> macros are C compound
// literals, which C++ compilers accept only as an extension.
scmp_arg_cmp arg(unsigned n, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  scmp_arg_cmp c{};
  c.arg = n;
  c.op = op;
  c.datum_a = a;
  c.datum_b = b;
  return c;
}

// Both families, both types (flags such as SOCK_NONBLOCK aside).
int allow_sockets(scmp_filter_ctx ctx) {
  for (const int family : {AF_INET, AF_INET6}) {
    for (const int type : {SOCK_STREAM, SOCK_DGRAM}) {
      const int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
                                     arg(0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(family)),
                                     arg(1, SCMP_CMP_MASKED_EQ, 0xf, static_cast<scmp_datum_t>(type)));
      if (r < 0) return r;
    }
  }
  return 0;
}

// socketpair: AF_UNIX streams only (a guest's DNS-over-TCP stream is one,
// flows/tcp_host local_pair); a pair reaches nothing outside the process.
int allow_local_pairs(scmp_filter_ctx ctx) {
  return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 2,
                          arg(0, SCMP_CMP_EQ, static_cast<scmp_datum_t>(AF_UNIX)),
                          arg(1, SCMP_CMP_MASKED_EQ, 0xf, static_cast<scmp_datum_t>(SOCK_STREAM)));
}

// open and openat for reading only: no O_WRONLY/O_RDWR, no O_CREAT, no
// O_TRUNC, no O_TMPFILE.
int allow_read_only_opens(scmp_filter_ctx ctx) {
  constexpr scmp_datum_t kWriteBits = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_TMPFILE;
  int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                           arg(2, SCMP_CMP_MASKED_EQ, kWriteBits, 0));
  if (r < 0) return r;
  if (seccomp_syscall_resolve_name("open") >= 0) {
    r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                         arg(1, SCMP_CMP_MASKED_EQ, kWriteBits, 0));
  }
  return r;
}

// ioctl: SIOCOUTQ (TCP's unsent bytes) and FIONREAD only.
int allow_ioctls(scmp_filter_ctx ctx) {
  for (const unsigned long req : {static_cast<unsigned long>(SIOCOUTQ),
                                  static_cast<unsigned long>(FIONREAD)}) {
    const int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                   arg(1, SCMP_CMP_EQ, static_cast<scmp_datum_t>(req)));
    if (r < 0) return r;
  }
  return 0;
}

struct CtxFree {
  void operator()(void* c) const { seccomp_release(c); }
};

}  // namespace

Expected<void, std::string> apply_seccomp() {
  const char* mode = std::getenv("TAPIR_SECCOMP_DEFAULT");
  const bool kill = mode != nullptr && std::strcmp(mode, "kill") == 0;
  std::unique_ptr<void, CtxFree> ctx(
      seccomp_init(kill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_ERRNO(EPERM)));
  if (!ctx) return unexpected(std::string("seccomp: seccomp_init failed"));
  for (const char* name : kAllowed) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if (const int r = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0); r < 0) {
      return unexpected(std::string("seccomp: cannot allow ") + name + ": " + strerrordesc_np(-r));
    }
  }
  if (const int r = allow_sockets(ctx.get()); r < 0) {
    return unexpected(std::string("seccomp: socket rules: ") + strerrordesc_np(-r));
  }
  if (const int r = allow_local_pairs(ctx.get()); r < 0) {
    return unexpected(std::string("seccomp: socketpair rule: ") + strerrordesc_np(-r));
  }
  if (const int r = allow_read_only_opens(ctx.get()); r < 0) {
    return unexpected(std::string("seccomp: open rules: ") + strerrordesc_np(-r));
  }
  if (const int r = allow_ioctls(ctx.get()); r < 0) {
    return unexpected(std::string("seccomp: ioctl rules: ") + strerrordesc_np(-r));
  }
  // seccomp(2) needs NO_NEW_PRIVS (or CAP_SYS_ADMIN); libseccomp sets it.
  if (const int r = seccomp_load(ctx.get()); r < 0) {
    return unexpected(std::string("seccomp: cannot load the filter: ") + strerrordesc_np(-r));
  }
  LOG_DEBUG("seccomp: allowlist loaded; anything else %s",
            kill ? "kills tapir (TAPIR_SECCOMP_DEFAULT=kill)" : "fails with EPERM");
  return {};
}

std::string libseccomp_version() {
  const scmp_version* v = seccomp_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

}  // namespace tapir::sandbox
