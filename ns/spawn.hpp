#pragma once
// `tapir run`: a command in new user, network, mount and UTS namespaces.
//
// Theory of operation. A child unshares the four namespaces at once (the
// user namespace is created first and owns the others), maps the caller's
// uid and gid to root inside — an unprivileged process may map exactly its
// own ids, after writing "deny" to setgroups — makes its mounts private, and
// tells the parent it is ready. The parent attaches the tap through
// /proc/CHILD/ns/* like any PID target, then releases the child, which execs
// the command. If tapir dies first the child is killed (PR_SET_PDEATHSIG),
// so no command runs on without its network.

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/expected.hpp"
#include "base/fd.hpp"

namespace tapir::ns {

class Spawned {
 public:
  pid_t pid() const { return pid_; }
  // Lets the child exec its command.
  Expected<void, std::string> release();
  // Tells the child to give up (it exits 1 without running the command).
  void abort();
  Spawned(pid_t pid, Fd go) : pid_(pid), go_(std::move(go)) {}

 private:
  pid_t pid_;
  Fd go_;  // write end: one byte 'g' releases the child; EOF aborts it
};

// Forks the child and waits until its namespaces exist. `argv` must not be
// empty; hostname, when not empty, is set in the new UTS namespace. With
// `wait_ipv6_on` (an interface name), the released child waits up to 3 s
// for a global IPv6 address there (SLAAC from tapir's router
// advertisements) before running the command, so that a command using
// IPv6 at once finds it configured, as it finds IPv4.
Expected<Spawned, std::string> spawn_in_new_namespaces(const std::vector<std::string>& argv,
                                                       const std::string& hostname,
                                                       const std::string& wait_ipv6_on = {});

}  // namespace tapir::ns
