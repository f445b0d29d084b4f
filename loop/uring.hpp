#pragma once
// A thin io_uring ring (liburing) and the tags tapir puts on submissions.
//
// Every submission's user_data is a Tag {op, slot, generation} packed into
// 64 bits — never a pointer — so a completion that arrives after its slot
// was reused (stale generation) is recognised and dropped instead of
// touching someone else's buffer or flow (DESIGN.md "Data path").
//
// The ring is created with SINGLE_ISSUER | DEFER_TASKRUN where the kernel
// has them (6.1+: completions are processed only when we ask, on our one
// thread), falling back to COOP_TASKRUN, then to no flags.
//
// seccomp cannot see what a ring does, so the ring is created disabled
// (IORING_SETUP_R_DISABLED), restricted to kAllowedOps with no SQE flags and
// no register operations (IORING_REGISTER_RESTRICTIONS, 5.10+), then
// enabled: a submission of any other opcode (OPENAT, CONNECT, ...) completes
// with -EACCES. Where the kernel refuses, the ring is unrestricted and
// restricted() says so.

#include <liburing.h>

#include <cstdint>

#include "base/clock.hpp"
#include "base/error.hpp"

namespace tapir::loop {

enum class Op : uint8_t {
  kNone = 0,
  kTapRead = 1,
  kTapWrite = 2,
  kWatch = 3,   // poll on a lifecycle fd (exit-fd, signals, pidfd)
  kTick = 4,    // the one timeout that drives timers
  kSocket = 5,  // multishot poll on a host socket (Engine::watch)
  kCancel = 6,  // a cancel; its completion carries nothing
  kUpdate = 7,  // a change of a socket poll's events (Engine::set_events)
};

struct Tag {
  Op op = Op::kNone;
  uint32_t slot = 0;        // 24 bits
  uint32_t generation = 0;  // 32 bits

  static constexpr uint32_t kMaxSlot = (1u << 24) - 1;
  constexpr uint64_t pack() const {
    return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{slot & kMaxSlot} << 32) |
           generation;
  }
  static constexpr Tag unpack(uint64_t v) {
    return {static_cast<Op>(v >> 56), static_cast<uint32_t>((v >> 32) & kMaxSlot),
            static_cast<uint32_t>(v & 0xffffffffu)};
  }
};

// Every opcode tapir submits: tap I/O (tap/tap_io: WRITE, NOP) and the
// loop's polls, tick and cancels (loop/engine). A new io_uring_prep_* call
// elsewhere needs its opcode here, or it completes with -EACCES.
inline constexpr uint8_t kAllowedOps[] = {
    IORING_OP_NOP,          IORING_OP_WRITE,   IORING_OP_POLL_ADD,       IORING_OP_POLL_REMOVE,
    IORING_OP_TIMEOUT,      IORING_OP_TIMEOUT_REMOVE, IORING_OP_ASYNC_CANCEL,
};

class Ring {
 public:
  static SysResult<Ring> create(unsigned entries);
  ~Ring();
  Ring(Ring&& o) noexcept;
  Ring& operator=(Ring&&) = delete;
  Ring(const Ring&) = delete;

  // A free submission entry, submitting what is queued first if the queue
  // is full. Never null (aborts if the kernel refuses even then: a broken
  // invariant, since tapir bounds its own in-flight work).
  io_uring_sqe* sqe();
  // Submits and waits for at least one completion, or until `timeout` if
  // not null.
  SysResult<void> submit_and_wait();
  io_uring* raw() { return &ring_; }
  const char* setup_mode() const { return mode_; }
  // Whether kAllowedOps is enforced; if not, the errno the kernel gave.
  bool restricted() const { return restricted_; }
  int restrict_error() const { return restrict_error_; }

 private:
  Ring() = default;
  io_uring ring_{};
  bool live_ = false;
  bool restricted_ = false;
  int restrict_error_ = 0;
  const char* mode_ = "";
};

}  // namespace tapir::loop
