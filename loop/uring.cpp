#include "loop/uring.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <utility>

#include "base/check.hpp"

namespace tapir::loop {

namespace {

// io_uring_register(2) itself: Debian 12's liburing.so (2.3) does not
// export io_uring_register_restrictions() or io_uring_enable_rings().
int ring_register(io_uring* ring, unsigned op, const void* arg, unsigned n) {
  const long r = ::syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n);
  return r < 0 ? -errno : 0;
}

// Registers kAllowedOps as the ring's only opcodes (no SQE flags, no
// register operations) and enables it; 0 or -errno.
int restrict_and_enable(io_uring* ring) {
  io_uring_restriction res[std::size(kAllowedOps)] = {};
  for (size_t i = 0; i < std::size(kAllowedOps); ++i) {
    res[i].opcode = IORING_RESTRICTION_SQE_OP;
    res[i].sqe_op = kAllowedOps[i];
  }
  const int err = ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, std::size(kAllowedOps));
  if (err < 0) return err;
  return ring_register(ring, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
}

}  // namespace

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
  // Restricted first (5.10+: created disabled, restricted, then enabled);
  // a kernel or filter that refuses that gets an unrestricted ring.
  for (const bool restricted : {true, false}) {
    for (const Try& t : tries) {
      err = io_uring_queue_init(entries, &r.ring_,
                                t.flags | (restricted ? IORING_SETUP_R_DISABLED : 0u));
      if (err != 0) {
        if (restricted) r.restrict_error_ = -err;
        continue;
      }
      if (restricted) {
        if (const int e = restrict_and_enable(&r.ring_); e < 0) {
          io_uring_queue_exit(&r.ring_);
          r.ring_ = {};
          r.restrict_error_ = -e;
          break;  // restrictions themselves failed: no use trying the other setups
        }
      }
      r.live_ = true;
      r.mode_ = t.name;
      r.restricted_ = restricted;
      return r;
    }
  }
  return sys_error("io_uring_queue_init", -err);
}

Ring::~Ring() {
  if (live_) io_uring_queue_exit(&ring_);
}

Ring::Ring(Ring&& o) noexcept
    : ring_(o.ring_),
      live_(std::exchange(o.live_, false)),
      restricted_(o.restricted_),
      restrict_error_(o.restrict_error_),
      mode_(o.mode_) {}

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
