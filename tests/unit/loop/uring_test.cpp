// The ring's opcode allowlist, on the running kernel: what tapir submits
// completes, anything else (here OPENAT, the one a compromised process would
// want first) completes with -EACCES before the kernel looks at it.

#include "loop/uring.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstring>

namespace tapir::loop {
namespace {

int submit_one(Ring& ring, void (*prep)(io_uring_sqe*)) {
  prep(ring.sqe());
  EXPECT_TRUE(ring.submit_and_wait().has_value());
  io_uring_cqe* cqe = nullptr;
  EXPECT_EQ(io_uring_peek_cqe(ring.raw(), &cqe), 0);
  if (cqe == nullptr) return 1;
  const int res = cqe->res;
  io_uring_cqe_seen(ring.raw(), cqe);
  return res;
}

TEST(Ring, IsRestrictedOnEveryKernelTapirSupports) {
  // IORING_REGISTER_RESTRICTIONS is 5.10; tapir supports 5.14 and later.
  auto ring = Ring::create(8);
  ASSERT_TRUE(ring.has_value()) << ring.error().message();
  EXPECT_TRUE(ring->restricted()) << strerrordesc_np(ring->restrict_error());
}

TEST(Ring, AnAllowedOpcodeCompletes) {
  auto ring = Ring::create(8);
  ASSERT_TRUE(ring.has_value()) << ring.error().message();
  EXPECT_EQ(submit_one(*ring, [](io_uring_sqe* s) { io_uring_prep_nop(s); }), 0);
}

TEST(Ring, AnOpcodeOutsideTheListIsRefused) {
  auto ring = Ring::create(8);
  ASSERT_TRUE(ring.has_value()) << ring.error().message();
  ASSERT_TRUE(ring->restricted());
  const int res = submit_one(*ring, [](io_uring_sqe* s) {
    io_uring_prep_openat(s, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC, 0);
  });
  EXPECT_EQ(res, -EACCES);
}

TEST(Ring, SqeFlagsAreRefused) {
  auto ring = Ring::create(8);
  ASSERT_TRUE(ring.has_value()) << ring.error().message();
  ASSERT_TRUE(ring->restricted());
  // No SQE flag is allowed (tapir sets none).
  const int res = submit_one(*ring, [](io_uring_sqe* s) {
    io_uring_prep_nop(s);
    io_uring_sqe_set_flags(s, IOSQE_ASYNC);
  });
  EXPECT_EQ(res, -EACCES);
}

}  // namespace
}  // namespace tapir::loop
