#include "app/stats_reply.hpp"

namespace tapir::app {

void add_api_stats(stack::StatGroup& table, const ApiStats& a, size_t clients) {
  stack::StatGroup& g = table.group("api");
  g.count("clients", clients);
  g.count("accepted", a.accepted);
  g.count("requests", a.requests);
  g.count("busy", a.busy);
  g.count("timeouts", a.timeouts);
  g.count("too_large", a.too_large);
  g.count("refused", a.refused);
  g.count("io_errors", a.io_errors, stack::Shown::kDetail);
}

nlohmann::json stats_json(const stack::StatGroup& table) {
  using Kind = stack::StatGroup::Kind;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& e : table.entries()) {
    if (e.shown != stack::Shown::kApi) continue;
    switch (e.kind) {
      case Kind::kCount: j[e.name] = e.value; break;
      case Kind::kFlag: j[e.name] = e.value != 0; break;
      case Kind::kText: j[e.name] = e.text; break;
      case Kind::kGroup: j[e.name] = stats_json(e.groups.front()); break;
      case Kind::kList: {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& g : e.groups) a.push_back(stats_json(g));
        j[e.name] = std::move(a);
        break;
      }
    }
  }
  return j;
}

}  // namespace tapir::app
