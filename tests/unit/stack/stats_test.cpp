// The self-describing stats table (stack/stats) and the engine's table
// built from its counters (stack/counters): values found by path, groups
// summed, detail values kept apart from what the API shows.

#include "stack/stats.hpp"

#include <gtest/gtest.h>

#include "stack/counters.hpp"

namespace tapir::stack {
namespace {

TEST(StatGroup, ValuesByPath) {
  StatGroup t;
  t.count("top", 1);
  StatGroup& a = t.group("a");
  StatGroup& b = a.group("b");
  // References stay valid while siblings are added after them.
  for (int i = 0; i < 100; ++i) t.count("filler" + std::to_string(i), 0);
  b.count("c", 7);
  b.flag("on", true);
  b.text("name", "x");
  a.count("d", 9, Shown::kDetail);
  EXPECT_EQ(t.value("top"), 1u);
  EXPECT_EQ(t.value("a.b.c"), 7u);
  EXPECT_EQ(t.value("a.b.on"), 1u);
  EXPECT_EQ(t.value("a.d"), 9u);
  EXPECT_EQ(t.find("a")->groups.front().find("d")->shown, Shown::kDetail);
  // Missing, or not a number: 0.
  EXPECT_EQ(t.value("a.b.name"), 0u);
  EXPECT_EQ(t.value("a.b.none"), 0u);
  EXPECT_EQ(t.value("nothing.at.all"), 0u);
  EXPECT_EQ(t.value("a"), 0u);
  EXPECT_EQ(t.sum("a.b"), 7u);  // counts only: the flag is not summed
  EXPECT_EQ(t.sum("nothing"), 0u);
}

TEST(StatGroup, Lists) {
  StatGroup t;
  t.list("l");
  EXPECT_EQ(t.find("l")->kind, StatGroup::Kind::kList);
  EXPECT_TRUE(t.find("l")->groups.empty());
  StatGroup& first = t.add_item("l");
  t.add_item("l").count("n", 2);
  first.count("n", 1);
  ASSERT_EQ(t.find("l")->groups.size(), 2u);
  EXPECT_EQ(t.find("l")->groups.front().value("n"), 1u);
  EXPECT_EQ(t.find("l")->groups.back().value("n"), 2u);
}

TEST(StatsTable, SumsAndDetails) {
  StackCounters c;
  c.tx_no_buffer = 3;
  c.dispatch.tx_full = 4;
  c.tap.drops.count(wire::ParseError::kBadVnetHeader);
  c.dispatch.drops.count(wire::ParseError::kBadVnetHeader);
  c.dispatch.drops.count(wire::ParseError::kTruncated);
  c.tcp.martians.count(flows::Martian::kLoopback);
  c.udp.martians.count(flows::Martian::kLoopback);
  c.tcp.segments_in = 11;
  const StatGroup t = stats_table(c);
  EXPECT_EQ(t.value("drops.tx_full"), 7u);  // the services' and the tap's together
  EXPECT_EQ(t.value("drops.service_tx_full"), 4u);
  EXPECT_EQ(t.value("drops.tap_tx_no_buffer"), 3u);
  EXPECT_EQ(t.value("drops.malformed.bad_vnet_header"), 2u);
  EXPECT_EQ(t.sum("drops.malformed"), 3u);
  // Only the reasons seen; every martian reason.
  EXPECT_EQ(t.find("drops")->groups.front().find("malformed")->groups.front().entries().size(), 2u);
  EXPECT_EQ(t.value("drops.martian.loopback"), 2u);
  EXPECT_EQ(t.find("drops")->groups.front().find("martian")->groups.front().entries().size(),
            flows::kMartianCount);
  EXPECT_EQ(t.value("flows.tcp.segments_in"), 11u);
  EXPECT_EQ(t.find("flows")->groups.front().find("tcp")->groups.front().find("segments_in")->shown,
            Shown::kDetail);
  EXPECT_EQ(t.find("dns"), nullptr);  // no DNS service
  c.dns = dns::DnsStatsSnapshot{};
  c.dns->queries = 5;
  EXPECT_EQ(stats_table(c).value("dns.queries"), 5u);
}

}  // namespace
}  // namespace tapir::stack
