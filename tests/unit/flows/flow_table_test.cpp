// The generic flow table (flows/flow_table.hpp): lookups across runs of
// colliding hashes survive backward-shift deletion, cookies go stale when
// a slot is reused, the cap holds, deadlines fire through the wheel.

#include "flows/flow_table.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace tapir::flows {

// A key whose hash the test chooses (found by argument-dependent lookup).
struct TestKey {
  uint32_t id = 0;
  size_t home = 0;  // the hash
  bool operator==(const TestKey&) const = default;
};
size_t flow_key_hash(const FlowHasher&, const TestKey& k) {
  return k.home;
}

namespace {

struct TestFlow {
  int value = 0;
};
using Table = FlowTable<TestKey, TestFlow>;

TEST(FlowTable, LookupsSurviveDeletionInsideCollidingRuns) {
  Table t(64, FlowHasher(1), Duration::seconds(1));
  std::mt19937 rng(7);
  std::vector<TestKey> live;
  for (uint32_t round = 0; round < 4000; ++round) {
    if (live.size() < 60 && (live.empty() || rng() % 3 != 0)) {
      TestKey k{round, rng() % 8};    // eight homes: long runs that wrap
      if (k.home == 7) k.home = 127;  // the last index slot: runs wrap to 0
      TestFlow* f = t.insert(k);
      ASSERT_NE(f, nullptr);
      f->value = static_cast<int>(round);
      live.push_back(k);
    } else {
      const size_t i = rng() % live.size();
      TestFlow* f = t.find(live[i]);
      ASSERT_NE(f, nullptr);
      t.erase(*f);
      live.erase(live.begin() + static_cast<long>(i));
    }
    ASSERT_EQ(t.size(), live.size());
    for (const TestKey& k : live) {
      TestFlow* f = t.find(k);
      ASSERT_NE(f, nullptr) << "round " << round;
      EXPECT_EQ(f->value, static_cast<int>(k.id));
      EXPECT_EQ(t.key(*f), k);
    }
  }
}

TEST(FlowTable, TheCapHoldsAndZeroMeansNone) {
  Table t(2, FlowHasher(1), Duration::seconds(1));
  EXPECT_NE(t.insert({1, 1}), nullptr);
  EXPECT_NE(t.insert({2, 1}), nullptr);
  EXPECT_TRUE(t.full());
  EXPECT_EQ(t.insert({3, 1}), nullptr);
  Table none(0, FlowHasher(1), Duration::seconds(1));
  EXPECT_EQ(none.insert({1, 1}), nullptr);
  EXPECT_EQ(none.capacity(), 0u);
}

TEST(FlowTable, ACookieGoesStaleWhenItsFlowIsErasedAndTheSlotReused) {
  Table t(1, FlowHasher(1), Duration::seconds(1));
  TestFlow* a = t.insert({1, 5});
  const uint64_t ca = t.cookie(*a);
  EXPECT_EQ(t.by_cookie(ca), a);
  t.erase(*a);
  EXPECT_EQ(t.by_cookie(ca), nullptr);
  TestFlow* b = t.insert({2, 5});
  ASSERT_EQ(b, a);  // the one slot, reused
  EXPECT_EQ(t.by_cookie(ca), nullptr);
  EXPECT_EQ(t.by_cookie(t.cookie(*b)), b);
  EXPECT_EQ(t.by_cookie(~uint64_t{0}), nullptr);
}

TEST(FlowTable, DeadlinesFireOnceAndCanBeMovedOnOrEndTheFlow) {
  Table t(8, FlowHasher(1), Duration::seconds(1));
  const MonoTime t0{Duration::seconds(100).ns};
  TestFlow* a = t.insert({1, 1});
  TestFlow* b = t.insert({2, 2});
  t.arm(*a, t0 + Duration::seconds(5));
  t.arm(*b, t0 + Duration::seconds(5));
  std::multiset<uint32_t> fired;
  auto step = [&](MonoTime now, bool move_on) {
    t.expire(now, [&](TestFlow& f) {
      fired.insert(t.key(f).id);
      if (move_on && t.key(f).id == 1) return t.arm(f, now + Duration::seconds(5));
      t.erase(f);
    });
  };
  step(t0 + Duration::seconds(4), true);
  EXPECT_TRUE(fired.empty());
  step(t0 + Duration::seconds(5), true);
  EXPECT_EQ(fired, (std::multiset<uint32_t>{1, 2}));
  EXPECT_EQ(t.size(), 1u);
  step(t0 + Duration::seconds(10), false);
  EXPECT_EQ(fired.count(1), 2u);
  EXPECT_EQ(t.size(), 0u);
  step(t0 + Duration::seconds(60), false);
  EXPECT_EQ(fired.size(), 3u);
}

TEST(FlowTable, FlowKeysOfBothFamiliesAreDistinct) {
  FlowTable<FlowKey, TestFlow> t(4, FlowHasher(9), Duration::seconds(1));
  FlowKey a;
  a.guest = wire::IpAddr::from(wire::Ipv4Addr::from_octets(10, 0, 2, 100));
  a.dst = wire::IpAddr::from(wire::Ipv4Addr::from_octets(192, 0, 2, 1));
  a.guest_port = 1;
  a.dst_port = 2;
  FlowKey b = a;
  b.guest.v6 = b.dst.v6 = true;  // the same bytes, the other family
  t.insert(a)->value = 4;
  EXPECT_EQ(t.find(b), nullptr);
  t.insert(b)->value = 6;
  EXPECT_EQ(t.find(a)->value, 4);
  EXPECT_EQ(t.find(b)->value, 6);
}

}  // namespace
}  // namespace tapir::flows
