#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/log.hpp"

namespace tapir {
namespace {

bool fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(Fd, ClosesOnDestructionAndMoves) {
  int raw[2];
  ASSERT_EQ(pipe(raw), 0);
  {
    Fd a(raw[0]);
    Fd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), raw[0]);
    EXPECT_TRUE(fd_open(raw[0]));
  }
  EXPECT_FALSE(fd_open(raw[0]));
  Fd w(raw[1]);
  const int released = w.release();
  EXPECT_FALSE(w.valid());
  EXPECT_TRUE(fd_open(released));
  close(released);
}

TEST(Fd, ResetClosesPrevious) {
  int raw[2];
  ASSERT_EQ(pipe(raw), 0);
  Fd a(raw[0]);
  a.reset(raw[1]);
  EXPECT_FALSE(fd_open(raw[0]));
  EXPECT_TRUE(fd_open(raw[1]));
}

TEST(SysError, MessageNamesOperationAndErrno) {
  SysResult<int> r = sys_error("open /nonexistent", ENOENT);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "open /nonexistent: No such file or directory");
}

TEST(Clock, MonotonicNeverGoesBack) {
  MonoTime a = mono_now();
  MonoTime b = mono_now();
  EXPECT_LE(a, b);
  EXPECT_EQ((a + Duration::millis(5)) - a, Duration::micros(5000));
}

TEST(RateLimit, AllowsBurstThenCountsSuppressed) {
  RateLimit rl(3, Duration::seconds(1));
  MonoTime t{1'000'000'000};
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += rl.allow(t) ? 1 : 0;
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(rl.allow(t + Duration::seconds(1)));
  EXPECT_EQ(rl.take_suppressed(), 7u);
  EXPECT_EQ(rl.take_suppressed(), 0u);
}

TEST(Log, LevelFilters) {
  set_log_level(LogLevel::kWarn);
  EXPECT_TRUE(log_enabled(LogLevel::kError));
  EXPECT_FALSE(log_enabled(LogLevel::kInfo));
  testing::internal::CaptureStderr();
  LOG_INFO("hidden %d", 1);
  LOG_WARN("shown %s", "here");
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "tapir: warning: shown here\n");
  set_log_level(LogLevel::kInfo);
}

}  // namespace
}  // namespace tapir
