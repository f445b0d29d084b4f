#include "loop/uring.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/check.hpp"

namespace tapir::loop {

SysResult<Ring> Ring::create(unsigned entries) {
  Ring r;
  struct Try {
    unsigned flags;
    const char* name;
  };
  const Try tries[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single-issuer, defer-taskrun"},
      {IORING_SETUP_COOP_TASKRUN, "coop-taskrun"},
      {0, "plain"},
  };
  int err = 0;
  for (const Try& t : tries) {
    err = io_uring_queue_init(entries, &r.ring_, t.flags);
    if (err == 0) {
      r.live_ = true;
      r.mode_ = t.name;
      return r;
    }
  }
  return sys_error("io_uring_queue_init", -err);
}

Ring::~Ring() {
  if (live_) io_uring_queue_exit(&ring_);
}

Ring::Ring(Ring&& o) noexcept : ring_(o.ring_), live_(std::exchange(o.live_, false)), mode_(o.mode_) {}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  TAPIR_CHECK(s != nullptr);
  return s;
}

SysResult<void> Ring::submit_and_wait() {
  while (true) {
    const int r = io_uring_submit_and_wait(&ring_, 1);
    if (r >= 0) return {};
    if (r == -EINTR) continue;
    return sys_error("io_uring_submit_and_wait", -r);
  }
}

}  // namespace tapir::loop
