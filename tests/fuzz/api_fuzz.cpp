// Fuzz target: the control API's request parser and dispatcher (app/api):
// framing (classify_request) and request -> reply against a small
// in-memory forwarding table. Every reply must be one JSON object with
// "return", "entries" or "error".
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "app/api.hpp"

namespace {

class Table final : public tapir::flows::ForwardTable {
 public:
  tapir::Expected<uint32_t, tapir::flows::ForwardFailure> add(
      const tapir::flows::ForwardRule& r) override {
    if (rules_.size() >= 16) {
      return tapir::unexpected(
          tapir::flows::ForwardFailure{tapir::flows::ForwardError::kTableFull, 0});
    }
    rules_.emplace(next_, r);
    return next_++;
  }
  bool remove(uint32_t id) override { return rules_.erase(id) == 1; }
  std::vector<tapir::flows::ForwardEntry> list() const override {
    std::vector<tapir::flows::ForwardEntry> out;
    for (const auto& [id, r] : rules_)
      out.push_back({id, r, r.guest_addr.value_or(tapir::wire::IpAddr{})});
    return out;
  }

 private:
  std::map<uint32_t, tapir::flows::ForwardRule> rules_;
  uint32_t next_ = 1;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);  // NOLINT
  (void)tapir::app::classify_request(text);
  Table table;
  tapir::wire::AddressPlan plan;
  plan.ipv6 = size % 2 == 0;
  tapir::app::ApiHandler handler(table, plan, [] { return nlohmann::json{{"frames", 1}}; });
  // The same request twice: the second add of a rule must also be answered.
  for (int i = 0; i < 2; ++i) {
    const std::string reply = handler.handle(text);
    const auto j = nlohmann::json::parse(reply, nullptr, false);
    if (!j.is_object() || j.size() != 1) __builtin_trap();
    if (!j.contains("return") && !j.contains("entries") && !j.contains("error")) __builtin_trap();
  }
  return 0;
}
