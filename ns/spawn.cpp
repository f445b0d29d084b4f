#include "ns/spawn.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tapir::ns {
namespace {

bool write_file(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::write(fd, text.data(), text.size());
  ::close(fd);
  return n == static_cast<ssize_t>(text.size());
}

// Child side: report a failure as one line on the status pipe and exit.
[[noreturn]] void child_fail(int status_fd, const char* what) {
  char line[256];
  const int n = std::snprintf(line, sizeof line, "%s: %s", what, strerrordesc_np(errno));
  if (n > 0) (void)!::write(status_fd, line, static_cast<size_t>(n));
  ::_exit(1);
}

}  // namespace

Expected<void, std::string> Spawned::release() {
  const char g = 'g';
  if (::write(go_.get(), &g, 1) != 1) return unexpected(std::string("cannot start the command"));
  go_.reset();
  return {};
}

void Spawned::abort() { go_.reset(); }

// True once `ifname` has a global IPv6 address (usable: DAD is off on
// taps of tapir run, see app/attach).
bool has_global_ipv6(const std::string& ifname) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) < 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET6 || ifname != i->ifa_name) continue;
    const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);  // NOLINT: getifaddrs' type
    found = !IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr);
  }
  ::freeifaddrs(list);
  return found;
}

Expected<Spawned, std::string> spawn_in_new_namespaces(const std::vector<std::string>& argv,
                                                       const std::string& hostname,
                                                       const std::string& wait_ipv6_on) {
  int status_pipe[2];  // child -> parent: empty on success (EOF at exec / ready), else a message
  int ready_pipe[2];   // child -> parent: one byte when the namespaces exist
  int go_pipe[2];      // parent -> child
  if (::pipe2(status_pipe, O_CLOEXEC) < 0 || ::pipe2(ready_pipe, O_CLOEXEC) < 0 ||
      ::pipe2(go_pipe, O_CLOEXEC) < 0) {
    return unexpected(std::string("pipe: ") + strerrordesc_np(errno));
  }
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return unexpected(std::string("fork: ") + strerrordesc_np(errno));
  if (pid == 0) {
    ::close(status_pipe[0]);
    ::close(ready_pipe[0]);
    ::close(go_pipe[1]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // tapir is already gone
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS) < 0) {
      child_fail(status_pipe[1], "cannot create namespaces (unshare)");
    }
    if (!write_file("/proc/self/setgroups", "deny")) child_fail(status_pipe[1], "write setgroups");
    if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1")) {
      child_fail(status_pipe[1], "write uid_map");
    }
    if (!write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
      child_fail(status_pipe[1], "write gid_map");
    }
    // Mount changes inside stay inside.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
      child_fail(status_pipe[1], "make mounts private");
    }
    if (!hostname.empty() && ::sethostname(hostname.data(), hostname.size()) < 0) {
      child_fail(status_pipe[1], "sethostname");
    }
    const char r = 'r';
    if (::write(ready_pipe[1], &r, 1) != 1) ::_exit(1);
    ::close(ready_pipe[1]);
    char g = 0;
    if (::read(go_pipe[0], &g, 1) != 1 || g != 'g') ::_exit(1);  // tapir gave up
    ::close(go_pipe[0]);
    if (!wait_ipv6_on.empty()) {
      for (int i = 0; i < 150 && !has_global_ipv6(wait_ipv6_on); ++i) ::usleep(20 * 1000);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execvp's type
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    const int err = errno;
    std::fprintf(stderr, "tapir: cannot run %s: %s\n", args[0], strerrordesc_np(err));
    ::_exit(err == ENOENT ? 127 : 126);
  }
  ::close(status_pipe[1]);
  ::close(ready_pipe[1]);
  ::close(go_pipe[0]);
  Fd status(status_pipe[0]);
  Fd ready(ready_pipe[0]);
  Fd go(go_pipe[1]);
  char r = 0;
  ssize_t n;
  do n = ::read(ready.get(), &r, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) {
    char msg[256] = {};
    const ssize_t m = ::read(status.get(), msg, sizeof msg - 1);
    ::waitpid(pid, nullptr, 0);
    return unexpected(m > 0 ? std::string(msg, static_cast<size_t>(m))
                            : std::string("the namespace child exited early"));
  }
  return Spawned(pid, std::move(go));
}

}  // namespace tapir::ns
