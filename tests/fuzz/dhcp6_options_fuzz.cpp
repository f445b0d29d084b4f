// Fuzz target: the DHCPv6 message parser (nested IA_NA / IAADDR walks)
// and the option writer's nesting. Input: a DHCPv6 message (UDP payload).
#include <array>
#include <cstdint>

#include "services/dhcp6_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  using namespace tapir::services;
  auto m = Dhcp6Message::parse(as_bytes({data, size}));
  if (!m) return 0;
  if (m->oro_len > kMaxOro || m->all_addr_count > kMaxAllAddrs) __builtin_trap();
  if (m->ia_na && (m->ia_na->addr_count > kMaxIaAddrs || m->ia_na_count == 0)) __builtin_trap();
  if (m->transaction_id > 0xffffff) __builtin_trap();

  // Re-emit the IA_NA and identifiers and parse them back.
  std::array<std::byte, 1024> out{};
  store_be32(out, 0, (uint32_t{m->msg_type} << 24) | m->transaction_id);
  Dhcp6OptionWriter w(MutBytes(out).subspan(kDhcp6HeaderLen));
  if (m->client_id && !w.put(dhcp6_opt::kClientId, *m->client_id)) __builtin_trap();
  if (m->ia_na) {
    auto mark = w.begin(dhcp6_opt::kIaNa, dhcp6_opt::kIaNaFixedLen);
    if (!mark) __builtin_trap();
    store_be32(w.data_at(*mark, 12), 0, m->ia_na->iaid);
    for (size_t i = 0; i < m->ia_na->addr_count; ++i) {
      auto a = w.begin(dhcp6_opt::kIaAddr, dhcp6_opt::kIaAddrFixedLen);
      if (!a) __builtin_trap();
      m->ia_na->addrs[i].addr.store(w.data_at(*a, 24), 0);
      w.end(*a);
    }
    w.end(*mark);
  }
  auto back = Dhcp6Message::parse(ConstBytes(out).first(kDhcp6HeaderLen + w.len()));
  if (!back || back->msg_type != m->msg_type || back->transaction_id != m->transaction_id) {
    __builtin_trap();
  }
  if (m->ia_na) {
    if (!back->ia_na || back->ia_na->iaid != m->ia_na->iaid ||
        back->ia_na->addr_count != m->ia_na->addr_count) {
      __builtin_trap();
    }
    for (size_t i = 0; i < m->ia_na->addr_count; ++i) {
      if (back->ia_na->addrs[i].addr != m->ia_na->addrs[i].addr) __builtin_trap();
    }
  }
  return 0;
}
