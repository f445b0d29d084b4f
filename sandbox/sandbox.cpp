#include "sandbox/sandbox.hpp"

#include <cap-ng.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/fd.hpp"
#include "base/log.hpp"

namespace tapir::sandbox {
namespace {

using Result = Expected<void, std::string>;

Unexpected<std::string> failed(const std::string& step, int err = errno) {
  return unexpected("sandbox: " + step + ": " + strerrordesc_np(err));
}

bool inside(const std::string& dir, const std::string& top) {
  return dir == top || (dir.size() > top.size() && dir.compare(0, top.size(), top) == 0 &&
                        dir[top.size()] == '/');
}

Result write_file(const char* path, const std::string& text) {
  Fd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) return failed(std::string("open ") + path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return failed(std::string("write ") + path);
  }
  return {};
}

// A user namespace of our own, our uid and gid mapped to themselves, with
// every capability in it (and none outside it).
Result enter_user_namespace() {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER) < 0) return failed("unshare(CLONE_NEWUSER)");
  if (auto r = write_file("/proc/self/setgroups", "deny"); !r) return r;
  if (auto r = write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) +
                                                    " 1");
      !r) {
    return r;
  }
  return write_file("/proc/self/gid_map",
                    std::to_string(gid) + " " + std::to_string(gid) + " 1");
}

Result enter_namespaces() {
  constexpr int kFlags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  if (::unshare(kFlags) == 0) {
    LOG_DEBUG("sandbox: new mount, IPC and UTS namespaces");
    return {};
  }
  if (errno != EPERM) return failed("unshare(CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS)");
  // Unprivileged where we are: a user namespace first, which may create them.
  if (auto r = enter_user_namespace(); !r) return r;
  if (::unshare(kFlags) < 0) return failed("unshare(CLONE_NEWNS|CLONE_NEWIPC|CLONE_NEWUTS)");
  LOG_DEBUG("sandbox: new user, mount, IPC and UTS namespaces");
  return {};
}

// mkdir -p below `root` (a tmpfs of ours: nothing there but what we made).
Result make_dirs(const std::string& root, const std::string& path) {
  std::string at = root;
  size_t pos = 1;
  while (pos <= path.size()) {
    const size_t next = std::min(path.find('/', pos), path.size());
    at.push_back('/');
    at.append(path, pos, next - pos);
    if (::mkdir(at.c_str(), 0755) < 0 && errno != EEXIST) return failed("mkdir " + at);
    pos = next + 1;
  }
  return {};
}

// Clones of the trees to keep, taken before anything is mounted over them.
struct Kept {
  std::string path;
  Fd tree;
};

Result build_root(const std::vector<std::string>& dirs) {
  // Our mounts stay ours: nothing propagates back to the namespace we left.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    return failed("make / private");
  }
  std::vector<Kept> kept;
  for (const std::string& d : dirs) {
    Fd tree(::open_tree(AT_FDCWD, d.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree) {
      if (errno == ENOENT) {
        LOG_DEBUG("sandbox: %s does not exist; not kept", d.c_str());
        continue;
      }
      return failed("open_tree " + d);
    }
    kept.push_back({d, std::move(tree)});
  }
  // The new root is built on /tmp, which nobody else sees in this namespace.
  const std::string root = "/tmp";
  if (::mount("tmpfs", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=64k,mode=0755") < 0) {
    return failed("mount a tmpfs on " + root);
  }
  for (const Kept& k : kept) {
    if (auto r = make_dirs(root, k.path); !r) return r;
    const std::string to = root + k.path;
    if (::move_mount(k.tree.get(), "", AT_FDCWD, to.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      return failed("move_mount " + k.path);
    }
  }
  if (::chdir(root.c_str()) < 0) return failed("chdir " + root);
  // pivot_root(".", "."): the old root is stacked under the new one, and
  // detached right away (pivot_root(2), "NOTES").
  if (::syscall(SYS_pivot_root, ".", ".") < 0) return failed("pivot_root");
  if (::umount2(".", MNT_DETACH) < 0) return failed("detach the old root");
  if (::chdir("/") < 0) return failed("chdir /");
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) < 0) {
    return failed("make the new root read-only");
  }
  return {};
}

Result drop_capabilities() {
  capng_clear(CAPNG_SELECT_BOTH);
  if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                   CAP_NET_BIND_SERVICE) < 0 ||
      capng_update(CAPNG_ADD, CAPNG_BOUNDING_SET, CAP_NET_BIND_SERVICE) < 0) {
    return unexpected(std::string("sandbox: libcap-ng cannot describe the capability set"));
  }
  if (const int r = capng_apply(CAPNG_SELECT_BOTH); r < 0) {
    return unexpected("sandbox: cannot drop capabilities (capng_apply " + std::to_string(r) + ")");
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
    return failed("clear ambient capabilities");
  }
  return {};
}

}  // namespace

std::vector<std::string> sandbox_dirs(const SandboxPlan& plan) {
  std::vector<std::string> out = {"/etc", "/run"};
  std::vector<std::string> extra = plan.read_dirs;
  // Shortest first, so that a directory inside another kept one is dropped.
  std::sort(extra.begin(), extra.end(),
            [](const std::string& a, const std::string& b) { return a.size() < b.size(); });
  for (std::string d : extra) {
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    if (d.empty() || d[0] != '/' || d == "/") continue;
    if (std::none_of(out.begin(), out.end(), [&](const std::string& o) { return inside(d, o); })) {
      out.push_back(d);
    }
  }
  return out;
}

Expected<void, std::string> enter_sandbox(const SandboxPlan& plan) {
  if (auto r = enter_namespaces(); !r) return r;
  const std::vector<std::string> dirs = sandbox_dirs(plan);
  if (auto r = build_root(dirs); !r) return r;
  if (auto r = drop_capabilities(); !r) return r;
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return failed("PR_SET_NO_NEW_PRIVS");
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return failed("PR_SET_DUMPABLE");
  std::string kept;
  for (const std::string& d : dirs) {
    if (!kept.empty()) kept.append(", ");
    kept.append(d);
  }
  LOG_DEBUG("sandbox: root is a read-only tmpfs with %s; capabilities: net_bind_service",
            kept.c_str());
  return {};
}

}  // namespace tapir::sandbox
