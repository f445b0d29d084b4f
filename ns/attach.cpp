#include "ns/attach.hpp"

#include <fcntl.h>

#include <net/if.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ns/netlink.hpp"

namespace tapir::ns {
namespace {

// Child -> parent message: "ok VNETLEN OFFLOADBITS IFINDEX NAME" with the
// fd attached, or "err MESSAGE".
constexpr size_t kMsgMax = 512;

bool send_msg(int sock, const std::string& text, int fd) {
  iovec iov{const_cast<char*>(text.data()), text.size()};  // NOLINT: sendmsg's type
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

std::string errno_text(const SysError& e) { return e.message(); }

// Runs in the forked child; never returns.
[[noreturn]] void child_main(int sock, const ns::Target& target, const AttachRequest& req) {
  auto fail = [sock](const std::string& why) {
    send_msg(sock, "err " + why, -1);
    ::_exit(1);
  };
  if (auto j = ns::join(target); !j) fail(j.error());

  tap::TapRequest treq;
  treq.name = req.tapname;
  treq.vnet_hdr = req.vnet_hdr;
  auto dev = tap::open_tap(treq);
  if (!dev) {
    const int err = dev.error().err;
    if (err == EACCES || err == EPERM) {
      fail("cannot open the tap " + req.tapname + ": " + errno_text(dev.error()) +
           " (is /dev/net/tun mode 0666, and is the tap owned by this user?)");
    }
    fail("cannot open the tap " + req.tapname + ": " + errno_text(dev.error()));
  }

  if (req.configure) {
    auto nl = ns::Netlink::open();
    if (!nl) fail("netlink: " + errno_text(nl.error()));
    const int lo = static_cast<int>(if_nametoindex("lo"));
    if (lo > 0) {
      if (auto r = nl->set_link(lo, true, 0, nullptr); !r) fail("lo: " + errno_text(r.error()));
    }
    if (req.fast_slaac && req.plan.ipv6) {
      // Per-namespace sysctls: /proc/sys/net follows the reader's netns.
      const std::string base = "/proc/sys/net/ipv6/conf/" + dev->name + "/";
      for (const char* knob : {"accept_dad", "router_solicitation_delay"}) {
        Fd f(::open((base + knob).c_str(), O_WRONLY | O_CLOEXEC));
        if (!f || ::write(f.get(), "0", 1) != 1) {
          // Not fatal: SLAAC then takes its usual second or two.
        }
      }
    }
    const wire::MacAddr* mac = req.mac ? &*req.mac : nullptr;
    if (auto r = nl->set_link(dev->ifindex, true, req.mtu, mac); !r) {
      fail(dev->name + ": " + errno_text(r.error()));
    }
    if (auto r = nl->add_address4(dev->ifindex, req.plan.guest4, req.plan.net4.len); !r) {
      fail(dev->name + ": " + errno_text(r.error()));
    }
    if (auto r = nl->add_default_route4(dev->ifindex, req.plan.gateway4); !r) {
      fail(dev->name + ": " + errno_text(r.error()));
    }
  }
  const std::string ok = "ok " + std::to_string(dev->vnet_hdr_len) + " " +
                         std::to_string(dev->offloads.to_tun_flags()) + " " +
                         std::to_string(dev->ifindex) + " " + dev->name;
  if (!send_msg(sock, ok, dev->fd.get())) ::_exit(1);
  ::_exit(0);
}

}  // namespace

Expected<Attached, std::string> attach_tap(const ns::Target& target, const AttachRequest& req) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    return unexpected(std::string("socketpair: ") + strerrordesc_np(errno));
  }
  Fd parent_end(sv[0]);
  Fd child_end(sv[1]);
  const pid_t pid = ::fork();
  if (pid < 0) return unexpected(std::string("fork: ") + strerrordesc_np(errno));
  if (pid == 0) {
    parent_end.reset();
    child_main(child_end.get(), target, req);
  }
  child_end.reset();

  char buf[kMsgMax + 1] = {};
  iovec iov{buf, kMsgMax};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do n = ::recvmsg(parent_end.get(), &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Fd fd;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int raw;
      std::memcpy(&raw, CMSG_DATA(c), sizeof raw);
      fd.reset(raw);
    }
  }
  if (n <= 0) {
    if (WIFSIGNALED(status)) {
      return unexpected("the attach child was killed by signal " + std::to_string(WTERMSIG(status)));
    }
    return unexpected(std::string("the attach child exited without a word"));
  }
  const std::string text(buf, static_cast<size_t>(n));
  if (text.rfind("err ", 0) == 0) return unexpected(text.substr(4));
  unsigned long vnet = 0, flags = 0;
  int ifindex = 0;
  char name[IFNAMSIZ + 1] = {};
  if (std::sscanf(text.c_str(), "ok %lu %lu %d %16s", &vnet, &flags, &ifindex, name) != 4 || !fd) {
    return unexpected("the attach child sent a malformed reply: " + text);
  }
  Attached a;
  a.fd = std::move(fd);
  a.name = name;
  a.ifindex = ifindex;
  a.vnet_hdr_len = vnet;
  a.offloads = tap::Offloads::from_tun_flags(static_cast<unsigned>(flags));
  return a;
}

}  // namespace tapir::ns
