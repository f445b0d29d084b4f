#pragma once
// The control API's "stats" reply: every counter the data path keeps,
// grouped as flows (by type), frames and bytes each way, and drops by
// reason, then the DNS forwarder's and the API server's own.

#include <cstddef>
#include <nlohmann/json.hpp>

#include "app/api.hpp"
#include "stack/counters.hpp"

namespace tapir::app {

// `api`: nullptr when there is no API server (the group is left out).
nlohmann::json stats_reply(const stack::StackCounters& counters, const ApiStats* api,
                           size_t api_clients);

}  // namespace tapir::app
