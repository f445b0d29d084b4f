#pragma once
// The walls tapir puts up around itself once everything it needs is open
// (app/serve calls both, in this order, after the engine started and before
// -r is signalled). Neither opens anything the data path needs later: the
// tap, every socket, --pcap, the API socket, the timerfds and the ring are
// open by then.
//
// enter_sandbox() (--enable-sandbox, slirp4netns's behaviour, and more):
//   * new mount, IPC and UTS namespaces; first a user namespace of its own
//     (the uid and gid mapped to themselves) when the process may not create
//     a mount namespace where it is: started by hand, unprivileged. Under
//     podman or rootlesskit tapir already runs in a user namespace it owns
//     and none is added;
//   * the root becomes an empty tmpfs holding only /etc and /run (where the
//     DNS forwarder re-reads resolv.conf and hosts files, and the links they
//     point through) and the directory of any --resolv-conf or --hosts-file
//     outside them, each bound at its own path; everything is read-only,
//     nosuid, nodev and noexec. No /home, /root, /tmp, /var, /proc, /sys;
//   * capabilities are dropped to CAP_NET_BIND_SERVICE (effective and
//     permitted), the bounding set to the same, ambient ones cleared;
//   * PR_SET_NO_NEW_PRIVS, and not dumpable (no ptrace, no core, /proc/PID
//     owned by root).
// A step the kernel refuses is an error naming the step and the cause.
//
// apply_seccomp() (--enable-seccomp): seccomp.hpp.

#include <string>
#include <vector>

#include "base/expected.hpp"

namespace tapir::sandbox {

struct SandboxPlan {
  // Directories the process still reads after the lock, besides /etc and
  // /run (the parents of --resolv-conf and --hosts-file files); absolute.
  std::vector<std::string> read_dirs;
};

// The directories a root made from `plan` holds, in the order they are
// mounted: /etc, /run, then plan.read_dirs that are not inside those
// (duplicates and nested ones dropped). Pure; unit-tested.
std::vector<std::string> sandbox_dirs(const SandboxPlan& plan);

Expected<void, std::string> enter_sandbox(const SandboxPlan& plan);

}  // namespace tapir::sandbox
