#pragma once
// Stats that describe themselves: one table of named values in named
// groups, in the shape of the control API's "stats" reply. The reply
// (app/stats_reply) renders it as JSON, the exit log reads its values by
// name, and metrics can walk it; none of them restates the counters.
//
// A group holds, in the order they were added: values (a count, a flag, a
// text), nested groups, and lists of groups (the DNS upstreams, one group
// each). A value added as Shown::kDetail is in the table for the exit log
// and metrics but not in the API's reply (counters that reply never had:
// adding one there would change the reply clients parse).
//
// Entries live in a deque and groups in a list: a reference to a group
// stays valid while more entries are added after it.

#include <cstdint>
#include <deque>
#include <list>
#include <string>
#include <string_view>

namespace tapir::stack {

enum class Shown : uint8_t {
  kApi,     // in the API's reply, the exit log and metrics
  kDetail,  // not in the API's reply
};

class StatGroup {
 public:
  enum class Kind : uint8_t { kCount, kFlag, kText, kGroup, kList };
  struct Entry {
    std::string name;
    Kind kind = Kind::kCount;
    Shown shown = Shown::kApi;
    uint64_t value = 0;           // kCount; kFlag: 0 or 1
    std::string text;             // kText
    std::list<StatGroup> groups;  // kGroup: exactly one; kList: the elements
  };

  void count(std::string_view name, uint64_t value, Shown shown = Shown::kApi);
  void flag(std::string_view name, bool value);
  void text(std::string_view name, std::string value);
  // A nested group, empty; filled through the reference.
  StatGroup& group(std::string_view name);
  // A list of groups, empty; the elements are added with add_item().
  void list(std::string_view name);
  // A new, empty element at the end of list `name` (added by list()).
  StatGroup& add_item(std::string_view name);

  const std::deque<Entry>& entries() const { return entries_; }
  // The entry called `name` in this group, or nullptr.
  const Entry* find(std::string_view name) const;
  // The count (or flag) at a dotted path of group names ("flows.tcp.created");
  // 0 when there is none (a group left out: the DNS one with --disable-dns).
  uint64_t value(std::string_view path) const;
  // The sum of every count directly in the group at `path`; 0 if none.
  uint64_t sum(std::string_view path) const;

 private:
  const StatGroup* group_at(std::string_view path) const;
  Entry& add(std::string_view name, Kind kind);

  std::deque<Entry> entries_;
};

}  // namespace tapir::stack
