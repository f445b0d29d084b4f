#include "ns/namespace.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tapir::ns {
namespace {

std::string errno_text(int err) {
  const char* d = strerrordesc_np(err);
  return d != nullptr ? d : "unknown error";
}

// Opens `path` and checks it is a namespace of `type` (CLONE_NEW*).
Expected<Fd, std::string> open_ns(const std::string& path, int type, const char* what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return unexpected(path + ": " + errno_text(errno));
  const int got = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (got < 0 || got != type) return unexpected(path + " is not a " + what + " namespace");
  return fd;
}

// True once the process behind `pidfd` has exited (its pidfd is readable).
bool has_exited(const Fd& pidfd) {
  pollfd p{pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// True if `fd` is the user namespace this process is in already.
bool is_own_userns(const Fd& fd) {
  struct stat mine {};
  struct stat theirs {};
  return ::stat("/proc/self/ns/user", &mine) == 0 && ::fstat(fd.get(), &theirs) == 0 &&
         mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

}  // namespace

Expected<Target, std::string> target_from_pid(pid_t pid, const std::string& userns_override) {
  Target t;
  t.pid = pid;
  const std::string no_such = "no process with PID " + std::to_string(pid);
  // The pidfd first: it names one process for good, where a PID may be
  // reused. /proc/PID/ns/* opened while that process is still alive (checked
  // after) are its namespaces, not those of a newcomer with the same PID.
  auto pidfd = open_pidfd(pid);
  if (!pidfd) return unexpected(no_such);
  t.pidfd = std::move(*pidfd);
  t.netns_path = "/proc/" + std::to_string(pid) + "/ns/net";
  auto net = open_ns(t.netns_path, CLONE_NEWNET, "network");
  if (!net) {
    // The common cases get a plainer message than the path's errno.
    if (has_exited(t.pidfd)) return unexpected(no_such);
    if (::syscall(SYS_pidfd_send_signal, t.pidfd.get(), 0, nullptr, 0) < 0 && errno == EPERM) {
      return unexpected("cannot use the namespaces of PID " + std::to_string(pid) +
                        ": it belongs to another user (" + net.error() + ")");
    }
    return unexpected(net.error());
  }
  t.netns = std::move(*net);
  if (userns_override.empty()) {
    // Optional: join() tolerates its absence and a failed join (slirp4netns).
    t.userns_path = "/proc/" + std::to_string(pid) + "/ns/user";
    if (auto user = open_ns(t.userns_path, CLONE_NEWUSER, "user")) t.userns = std::move(*user);
  } else {
    t.userns_path = userns_override;
    t.userns_required = true;
    auto user = open_ns(userns_override, CLONE_NEWUSER, "user");
    if (!user) return unexpected("--userns-path " + user.error());
    t.userns = std::move(*user);
  }
  if (has_exited(t.pidfd)) return unexpected(no_such + " (it exited while tapir looked at it)");
  return t;
}

Expected<Target, std::string> target_from_path(const std::string& netns_path,
                                               const std::string& userns_path) {
  Target t;
  t.netns_path = netns_path;
  if (::access(netns_path.c_str(), F_OK) < 0) {
    return unexpected("existing path expected when --netns-type=path: " + netns_path + ": " +
                      errno_text(errno));
  }
  auto net = open_ns(netns_path, CLONE_NEWNET, "network");
  if (!net) return unexpected(net.error());
  t.netns = std::move(*net);
  if (!userns_path.empty()) {
    t.userns_path = userns_path;
    t.userns_required = true;
    if (::access(userns_path.c_str(), F_OK) < 0 && errno == ENOENT) {
      return unexpected("userns path doesn't exist: " + userns_path);
    }
    auto user = open_ns(userns_path, CLONE_NEWUSER, "user");
    if (!user) return unexpected("--userns-path " + user.error());
    t.userns = std::move(*user);
  }
  return t;
}

Expected<void, std::string> join(const Target& t) {
  if (t.userns && ::setns(t.userns.get(), CLONE_NEWUSER) < 0) {
    const int err = errno;
    // The target's own (PID mode, no --userns-path): EINVAL when we are in it
    // already, EPERM when not allowed but perhaps not needed; the network
    // namespace join decides (as slirp4netns). One the user named must be
    // joined: if it cannot be, what follows would run in the wrong one. Only
    // "already in it" (the kernel's EINVAL) is no failure.
    if (t.userns_required && !is_own_userns(t.userns)) {
      return unexpected("cannot join user namespace " + t.userns_path + ": " + errno_text(err));
    }
  }
  if (::setns(t.netns.get(), CLONE_NEWNET) < 0) {
    return unexpected("cannot join network namespace " + t.netns_path + ": " + errno_text(errno));
  }
  return {};
}

SysResult<Fd> open_pidfd(pid_t pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return sys_error("pidfd_open");
  return Fd(static_cast<int>(fd));
}

}  // namespace tapir::ns
