#pragma once
// Finding, checking and joining the target's namespaces.
//
// tapir's main process never enters the target: only a short-lived child
// does (app/attach.cpp). The main process opens the namespace files up front
// so that a bad target is reported before anything is forked, and keeps a
// pidfd on a PID target so it can exit when that process is gone.

#include <sys/types.h>

#include <string>

#include "base/error.hpp"
#include "base/expected.hpp"
#include "base/fd.hpp"

namespace tapir::ns {

struct Target {
  pid_t pid = 0;             // PID mode only
  std::string netns_path;    // /proc/PID/ns/net or the given path
  std::string userns_path;   // /proc/PID/ns/user, --userns-path, or empty (path mode)
  Fd netns;                  // O_RDONLY on netns_path, checked to be a network namespace
  Fd userns;                 // may be invalid: joining the target's user namespace is optional
  bool userns_required = false;  // --userns-path: joining it must succeed
  Fd pidfd;                      // PID mode: opened before the namespaces, which are checked
                                 // to be that process's; a target that dies at any later
                                 // point shows as a readable pidfd
};

// Opens a pidfd for PID, then /proc/PID/ns/{net,user} (and `userns_override`
// instead of the latter when not empty), then checks the process is still
// alive: so the files are that process's even if the PID is reused. The
// error string is one line naming the problem.
Expected<Target, std::string> target_from_pid(pid_t pid, const std::string& userns_override);
// Opens a network namespace file (e.g. /run/user/1000/netns/cni-...) and,
// when given, a user namespace file.
Expected<Target, std::string> target_from_path(const std::string& netns_path,
                                               const std::string& userns_path);

// In the calling (single-threaded, forked) process: joins the user namespace
// if there is one — for the target's own, a failure is tolerated, as
// slirp4netns does, since the caller may already be in it or privileged
// enough without it; one given by --userns-path must be joined (or be ours
// already) — then the network namespace, which must succeed.
Expected<void, std::string> join(const Target& t);

// pidfd for `pid` (readable once the process has exited).
SysResult<Fd> open_pidfd(pid_t pid);

}  // namespace tapir::ns
