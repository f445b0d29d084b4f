#include "ns/namespace.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
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

}  // namespace

Expected<Target, std::string> target_from_pid(pid_t pid, const std::string& userns_override) {
  Target t;
  t.pid = pid;
  t.netns_path = "/proc/" + std::to_string(pid) + "/ns/net";
  auto net = open_ns(t.netns_path, CLONE_NEWNET, "network");
  if (!net) {
    // The common case gets a plainer message than the path's errno.
    const int kr = ::kill(pid, 0);
    const int kerr = errno;
    if (kr < 0 && kerr == ESRCH) {
      return unexpected("no process with PID " + std::to_string(pid));
    }
    if (kr < 0 && kerr == EPERM) {
      return unexpected("cannot use the namespaces of PID " + std::to_string(pid) +
                        ": it belongs to another user (" + net.error() + ")");
    }
    return unexpected(net.error());
  }
  t.netns = std::move(*net);
  // Before anything else can happen to the process: once it has died and
  // been reaped, pidfd_open would fail, and tapir could not tell why.
  auto pidfd = open_pidfd(pid);
  if (!pidfd) return unexpected("no process with PID " + std::to_string(pid));
  t.pidfd = std::move(*pidfd);
  t.userns_path = userns_override.empty() ? "/proc/" + std::to_string(pid) + "/ns/user" : userns_override;
  auto user = open_ns(t.userns_path, CLONE_NEWUSER, "user");
  if (user) {
    t.userns = std::move(*user);
  } else if (!userns_override.empty()) {
    return unexpected("userns path doesn't exist or is not a user namespace: " + userns_override);
  }
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
    if (::access(userns_path.c_str(), F_OK) < 0) {
      return unexpected("userns path doesn't exist: " + userns_path);
    }
    auto user = open_ns(userns_path, CLONE_NEWUSER, "user");
    if (!user) return unexpected(user.error());
    t.userns = std::move(*user);
  }
  return t;
}

Expected<void, std::string> join(const Target& t) {
  if (t.userns) {
    // EINVAL: already in it (or an ancestor); EPERM: not allowed but perhaps
    // not needed. Either way the network namespace join decides.
    (void)::setns(t.userns.get(), CLONE_NEWUSER);
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
