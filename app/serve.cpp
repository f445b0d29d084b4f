#include "app/serve.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.hpp"
#include "ns/namespace.hpp"

namespace tapir::app {
namespace {

// Writes "1" and closes; EINTR-safe. A pipe whose reader is gone is not an
// error worth dying for: the runtime simply stopped waiting.
void signal_ready(int fd) {
  if (fd < 0) return;
  ssize_t n;
  do n = ::write(fd, "1", 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) LOG_WARN("cannot write to ready-fd %d: %s", fd, strerrordesc_np(errno));
  ::close(fd);
}

int wait_status_to_exit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int serve(Attached& tap, const ServeConfig& cfg, ServeStats& stats) {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGPIPE);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) {
    LOG_ERROR("sigprocmask: %s", strerrordesc_np(errno));
    return 1;
  }
  sigdelset(&mask, SIGPIPE);  // blocked, never waited for: EPIPE comes back as an error
  Fd sigfd(::signalfd(-1, &mask, SFD_CLOEXEC));
  if (!sigfd) {
    LOG_ERROR("signalfd: %s", strerrordesc_np(errno));
    return 1;
  }

  Fd pidfd;
  const pid_t watched = cfg.command_pid != 0 ? cfg.command_pid : cfg.watch_pid;
  if (watched != 0) {
    auto p = ns::open_pidfd(watched);
    if (!p) {
      LOG_ERROR("cannot watch process %d: %s", watched, p.error().message().c_str());
      return 1;
    }
    pidfd = std::move(*p);
  }

  enum Slot { kTap, kSignal, kPid, kExit, kSlots };
  pollfd fds[kSlots] = {};
  fds[kTap] = {tap.fd.get(), POLLIN, 0};
  fds[kSignal] = {sigfd.get(), POLLIN, 0};
  fds[kPid] = {pidfd ? pidfd.get() : -1, POLLIN, 0};
  fds[kExit] = {cfg.exit_fd, POLLIN, 0};  // POLLHUP/POLLERR are always reported

  signal_ready(cfg.ready_fd);
  LOG_DEBUG("serving %s (vnet header %zu, offloads %s)", tap.name.c_str(), tap.vnet_hdr_len,
            tap.offloads.to_string().c_str());

  std::vector<std::byte> frame(65536 + 64);
  bool terminating = false;
  while (true) {
    const int n = ::poll(fds, kSlots, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("poll: %s", strerrordesc_np(errno));
      return 1;
    }
    if (fds[kExit].revents != 0) {
      LOG_INFO("exit-fd %d reported an event; exiting", cfg.exit_fd);
      return 0;
    }
    if (fds[kPid].revents != 0) {
      if (cfg.command_pid != 0) {
        int status = 0;
        while (::waitpid(cfg.command_pid, &status, 0) < 0 && errno == EINTR) {
        }
        const int code = wait_status_to_exit(status);
        LOG_DEBUG("command exited with status %d", code);
        return code;
      }
      LOG_INFO("target process %d exited; exiting", cfg.watch_pid);
      return 0;
    }
    if (fds[kSignal].revents != 0) {
      signalfd_siginfo si{};
      if (::read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (cfg.command_pid != 0) {
          // The command decides when we are done; pass the signal on once.
          if (!terminating) {
            LOG_DEBUG("passing signal %u on to the command", si.ssi_signo);
            ::kill(cfg.command_pid, static_cast<int>(si.ssi_signo));
            terminating = true;
          }
        } else {
          LOG_INFO("%s received; exiting", strsignal(static_cast<int>(si.ssi_signo)));
          return 0;
        }
      }
    }
    if (fds[kTap].revents & (POLLERR | POLLHUP | POLLNVAL)) {
      LOG_ERROR("the tap %s went away; exiting", tap.name.c_str());
      return 1;
    }
    if (fds[kTap].revents & POLLIN) {
      const ssize_t r = ::read(tap.fd.get(), frame.data(), frame.size());
      if (r > 0) {
        ++stats.frames_in;
        stats.bytes_in += static_cast<uint64_t>(r);
      }
    }
  }
}

}  // namespace tapir::app
