#include "base/fd.hpp"

#include <unistd.h>

namespace tapir {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) {
    // close() on Linux releases the descriptor even when it reports EINTR;
    // retrying could close an fd another thread just got. Never retry.
    ::close(fd_);
  }
  fd_ = fd;
}

}  // namespace tapir
