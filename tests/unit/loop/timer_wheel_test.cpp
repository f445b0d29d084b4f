#include "loop/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace tapir::loop {
namespace {

MonoTime at_ms(int64_t ms) { return MonoTime{Duration::millis(ms).ns}; }

TEST(TimerWheel, FiresEachDeadlineOnceWhenDue) {
  TimerWheel w(8, Duration::millis(10), 16);
  w.arm(1, at_ms(1050));
  w.arm(2, at_ms(1020));
  std::vector<uint32_t> fired;
  auto fire = [&](uint32_t id) { fired.push_back(id); };
  w.expire(at_ms(1000), fire);
  EXPECT_TRUE(fired.empty());
  w.expire(at_ms(1030), fire);
  EXPECT_EQ(fired, std::vector<uint32_t>{2});
  w.expire(at_ms(1060), fire);
  EXPECT_EQ(fired, (std::vector<uint32_t>{2, 1}));
  w.expire(at_ms(2000), fire);
  EXPECT_EQ(fired.size(), 2u);
}

TEST(TimerWheel, DeadlinesBeyondTheWheelWaitTheirTurn) {
  TimerWheel w(4, Duration::millis(10), 8);  // spans 80 ms
  std::vector<uint32_t> fired;
  auto fire = [&](uint32_t id) { fired.push_back(id); };
  w.expire(at_ms(0), fire);
  w.arm(3, at_ms(500));
  for (int64_t t = 10; t < 500; t += 10) w.expire(at_ms(t), fire);
  EXPECT_TRUE(fired.empty());
  w.expire(at_ms(510), fire);
  EXPECT_EQ(fired, std::vector<uint32_t>{3});
}

TEST(TimerWheel, CancelAndRearm) {
  TimerWheel w(4, Duration::millis(10), 8);
  std::vector<uint32_t> fired;
  w.arm(0, at_ms(20));
  w.cancel(0);
  EXPECT_FALSE(w.armed(0));
  w.arm(1, at_ms(20));
  w.arm(1, at_ms(40));  // replaces
  w.expire(at_ms(30), [&](uint32_t id) { fired.push_back(id); });
  EXPECT_TRUE(fired.empty());
  // Re-arming from inside fire() lands in a later bucket, not this walk.
  w.expire(at_ms(50), [&](uint32_t id) {
    fired.push_back(id);
    w.arm(id, at_ms(50));
  });
  EXPECT_EQ(fired, std::vector<uint32_t>{1});
  EXPECT_TRUE(w.armed(1));
}

TEST(TimerWheel, AFirstExpireLateStillFiresEarlierDeadlines) {
  TimerWheel w(2, Duration::millis(10), 64);
  w.arm(0, at_ms(100));
  std::vector<uint32_t> fired;
  w.expire(at_ms(300), [&](uint32_t id) { fired.push_back(id); });
  EXPECT_EQ(fired, std::vector<uint32_t>{0});
}

}  // namespace
}  // namespace tapir::loop
