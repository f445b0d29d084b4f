// The allowlist on the running kernel, in a forked child (a filter cannot
// be taken off again): what tapir needs still works, what a compromised
// tapir would want first fails with EPERM, or kills with
// TAPIR_SECCOMP_DEFAULT=kill.

#include "sandbox/seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace tapir::sandbox {
namespace {

bool eperm(long r) { return r < 0 && errno == EPERM; }
bool works(long r) {
  if (r >= 0) {
    ::close(static_cast<int>(r));
    return true;
  }
  return errno != EPERM;
}

struct Probe {
  const char* what;
  std::function<bool()> ok;  // true: the filter did what it should
};

// Runs the probes in a child behind the filter; returns the names of the
// ones that did not hold (or the child's fate, if it did not exit).
std::vector<std::string> run_filtered(const std::vector<Probe>& probes) {
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    if (!apply_seccomp()) _exit(100);
    for (size_t i = 0; i < probes.size(); ++i) {
      const char bit = probes[i].ok() ? '1' : '0';
      if (::write(pipefd[1], &bit, 1) != 1) _exit(101);
    }
    _exit(0);
  }
  ::close(pipefd[1]);
  std::string bits;
  char c;
  while (::read(pipefd[0], &c, 1) == 1) bits += c;
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::vector<std::string> bad;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad.push_back("child status " + std::to_string(status));
  for (size_t i = 0; i < probes.size(); ++i) {
    if (i >= bits.size() || bits[i] != '1') bad.emplace_back(probes[i].what);
  }
  return bad;
}

TEST(Seccomp, WhatTapirNeedsStillWorks) {
  ::unsetenv("TAPIR_SECCOMP_DEFAULT");
  const std::vector<Probe> probes = {
      {"UDP socket", [] { return works(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)); }},
      {"TCP6 socket", [] { return works(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)); }},
      {"ping socket", [] { return works(::socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)); }},
      {"read-only open", [] { return works(::open("/proc/self/status", O_RDONLY | O_CLOEXEC)); }},
      {"AF_UNIX stream pair", [] {
         int sv[2];
         const bool ok = ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0;
         if (ok) { ::close(sv[0]); ::close(sv[1]); }
         return ok;
       }},
  };
  const auto bad = run_filtered(probes);
  EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);
}

TEST(Seccomp, WhatACompromisedTapirWouldWantFailsWithEperm) {
  ::unsetenv("TAPIR_SECCOMP_DEFAULT");
  const std::vector<Probe> probes = {
      {"open for writing", [] { return eperm(::open("/dev/null", O_WRONLY | O_CLOEXEC)); }},
      {"open with O_CREAT", [] { return eperm(::open("/tmp/x", O_RDONLY | O_CREAT, 0600)); }},
      {"AF_UNIX socket", [] { return eperm(::socket(AF_UNIX, SOCK_STREAM, 0)); }},
      {"raw socket", [] { return eperm(::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)); }},
      {"netlink socket", [] { return eperm(::socket(AF_NETLINK, SOCK_RAW, 0)); }},
      {"packet socket", [] { return eperm(::socket(AF_PACKET, SOCK_RAW, 0)); }},
      {"io_uring_setup", [] {
         io_uring_params p{};
         return eperm(::syscall(__NR_io_uring_setup, 4, &p));
       }},
      {"execve", [] {
         char* const argv[] = {const_cast<char*>("true"), nullptr};
         return eperm(::execve("/bin/true", argv, nullptr));
       }},
      {"unshare(CLONE_NEWUSER)", [] { return eperm(::unshare(CLONE_NEWUSER)); }},
      {"mount", [] { return eperm(::mount("none", "/tmp", "tmpfs", 0, nullptr)); }},
      {"unlink", [] { return eperm(::unlink("/tmp/tapir-seccomp-test-none")); }},
      {"ptrace", [] { return eperm(::syscall(SYS_ptrace, 0, 0, 0, 0)); }},
  };
  const auto bad = run_filtered(probes);
  EXPECT_TRUE(bad.empty()) << ::testing::PrintToString(bad);
}

TEST(Seccomp, KillModeKillsOnTheFirstCallOffTheList) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("TAPIR_SECCOMP_DEFAULT", "kill", 1);
    if (!apply_seccomp()) _exit(100);
    ::mount("none", "/tmp", "tmpfs", 0, nullptr);
    _exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

}  // namespace
}  // namespace tapir::sandbox
