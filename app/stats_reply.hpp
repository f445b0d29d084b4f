#pragma once
// The control API's "stats" reply: the engine's stats table (stack/stats),
// every counter the data path keeps grouped as frames and bytes each way,
// flows by type, drops by reason and the DNS forwarder's, plus the API
// server's own. Detail values of the table are left out: the reply's keys
// are what clients parse.

#include <cstddef>
#include <nlohmann/json.hpp>

#include "app/api.hpp"
#include "stack/stats.hpp"

namespace tapir::app {

// The API server's counters, as the table's "api" group.
void add_api_stats(stack::StatGroup& table, const ApiStats& stats, size_t clients);

// The reply's "return" value: a group is an object, a list an array.
nlohmann::json stats_json(const stack::StatGroup& table);

}  // namespace tapir::app
