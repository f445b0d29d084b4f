#include "base/expected.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace tapir {
namespace {

enum class Err { kA, kB };

Expected<int, Err> half(int v) {
  if (v % 2 != 0) return unexpected(Err::kA);
  return v / 2;
}

TEST(Expected, ValueAndError) {
  auto ok = half(8);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok.has_value());
  EXPECT_EQ(*ok, 4);
  EXPECT_EQ(ok.value(), 4);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Err::kA);
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_EQ(ok.value_or(-1), 4);
}

TEST(Expected, MoveOnlyValue) {
  Expected<std::unique_ptr<int>, Err> e(std::make_unique<int>(7));
  ASSERT_TRUE(e);
  std::unique_ptr<int> p = std::move(e).value();
  EXPECT_EQ(*p, 7);
}

TEST(Expected, ArrowReachesMembers) {
  Expected<std::string, Err> s(std::string("tap0"));
  EXPECT_EQ(s->size(), 4u);
}

TEST(Expected, VoidSpecialisation) {
  Expected<void, Err> ok;
  EXPECT_TRUE(ok);
  Expected<void, Err> bad = unexpected(Err::kB);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Err::kB);
}

TEST(ExpectedDeathTest, ValueOnErrorAborts) {
  auto bad = half(1);
  EXPECT_DEATH((void)bad.value(), "Expected misuse");
}

}  // namespace
}  // namespace tapir
