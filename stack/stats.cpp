#include "stack/stats.hpp"

namespace tapir::stack {

StatGroup::Entry& StatGroup::add(std::string_view name, Kind kind) {
  Entry& e = entries_.emplace_back();
  e.name = name;
  e.kind = kind;
  return e;
}

void StatGroup::count(std::string_view name, uint64_t value, Shown shown) {
  Entry& e = add(name, Kind::kCount);
  e.value = value;
  e.shown = shown;
}

void StatGroup::flag(std::string_view name, bool value) {
  add(name, Kind::kFlag).value = value ? 1 : 0;
}

void StatGroup::text(std::string_view name, std::string value) {
  add(name, Kind::kText).text = std::move(value);
}

StatGroup& StatGroup::group(std::string_view name) {
  return add(name, Kind::kGroup).groups.emplace_back();
}

void StatGroup::list(std::string_view name) {
  add(name, Kind::kList);
}

StatGroup& StatGroup::add_item(std::string_view name) {
  for (Entry& e : entries_) {
    if (e.kind == Kind::kList && e.name == name) return e.groups.emplace_back();
  }
  list(name);
  return entries_.back().groups.emplace_back();
}

const StatGroup::Entry* StatGroup::find(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const StatGroup* StatGroup::group_at(std::string_view path) const {
  const StatGroup* g = this;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const Entry* e = g->find(path.substr(0, dot));
    if (e == nullptr || e->kind != Kind::kGroup) return nullptr;
    g = &e->groups.front();
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return g;
}

uint64_t StatGroup::value(std::string_view path) const {
  const size_t dot = path.rfind('.');
  const StatGroup* g = dot == std::string_view::npos ? this : group_at(path.substr(0, dot));
  if (g == nullptr) return 0;
  const Entry* e = g->find(dot == std::string_view::npos ? path : path.substr(dot + 1));
  if (e == nullptr || (e->kind != Kind::kCount && e->kind != Kind::kFlag)) return 0;
  return e->value;
}

uint64_t StatGroup::sum(std::string_view path) const {
  const StatGroup* g = group_at(path);
  uint64_t n = 0;
  if (g == nullptr) return 0;
  for (const Entry& e : g->entries_) {
    if (e.kind == Kind::kCount) n += e.value;
  }
  return n;
}

}  // namespace tapir::stack
