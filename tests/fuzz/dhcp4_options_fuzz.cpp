// Fuzz target: the DHCPv4 message view and option walker (overload
// included), and writer -> walker round trips of what was parsed.
// Input: a DHCP message (the UDP payload).
#include <array>
#include <cstdint>

#include "services/dhcp4_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  using namespace tapir::services;
  const ConstBytes in = as_bytes({data, size});
  (void)Dhcp4View::parse(in);
  // The same bytes as a bare option area.
  auto o = Dhcp4Options::parse(in);
  if (!o) return 0;
  if (o->params_len > o->params.size()) __builtin_trap();

  // Emit what was parsed and walk it again: the fields must survive.
  std::array<std::byte, 1024> area{};
  Dhcp4OptionWriter w(area);
  if (o->message_type != 0 && !w.put_u8(dhcp4_opt::kMessageType, o->message_type)) __builtin_trap();
  if (o->requested_ip && !w.put_addr(dhcp4_opt::kRequestedIp, *o->requested_ip)) __builtin_trap();
  if (o->server_id && !w.put_addr(dhcp4_opt::kServerId, *o->server_id)) __builtin_trap();
  if (o->max_message_size && !w.put_u16(dhcp4_opt::kMaxMessageSize, *o->max_message_size)) {
    __builtin_trap();
  }
  if (o->rapid_commit && !w.put_flag(dhcp4_opt::kRapidCommit)) __builtin_trap();
  if (o->client_id.size() > 0 && !w.put(dhcp4_opt::kClientId, o->client_id)) __builtin_trap();
  std::array<std::byte, 255> prl{};
  for (size_t i = 0; i < o->params_len; ++i) prl[i] = std::byte{o->params[i]};
  if (o->params_len > 0 &&
      !w.put_long(dhcp4_opt::kParamRequestList, ConstBytes(prl).first(o->params_len))) {
    __builtin_trap();
  }
  const size_t len = w.finish();
  auto back = Dhcp4Options::parse(ConstBytes(area).first(len));
  if (!back) __builtin_trap();
  if (back->message_type != o->message_type || back->requested_ip != o->requested_ip ||
      back->server_id != o->server_id || back->max_message_size != o->max_message_size ||
      back->rapid_commit != o->rapid_commit || back->params_len != o->params_len) {
    __builtin_trap();
  }
  for (size_t i = 0; i < o->params_len; ++i) {
    if (back->params[i] != o->params[i]) __builtin_trap();
  }
  return 0;
}
