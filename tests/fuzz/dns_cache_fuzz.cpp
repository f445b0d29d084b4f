// Fuzz target: the DNS cache alone (dns/cache). The input is a script of
// records: an op byte, a 2-byte length and that many bytes. Ops insert an
// answer (as an upstream would send it, DO/CD from the op byte), look a
// query up, or move time on. What must hold: a hit is a message that
// parses, answers the query's ID, and fits the buffer; the table never
// holds more than its cap; nothing crashes on any answer bytes.
#include <cstdint>
#include <vector>

#include "dns/cache.hpp"
#include "dns/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir;
  dns::CacheConfig cfg;
  cfg.max_entries = 8;  // small: evictions happen
  dns::Cache cache(cfg, dns::KeyedHash(1, 2));
  MonoTime now{Duration::seconds(1000).ns};
  std::vector<std::byte> out(4096);
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t op = data[pos];
    const size_t len = size_t{data[pos + 1]} << 8 | data[pos + 2];
    pos += 3;
    const size_t take = len < size - pos ? len : size - pos;
    const wire::ConstBytes body = wire::as_bytes({data + pos, take});
    pos += take;
    switch (op & 3) {
      case 0:
        (void)cache.insert(body, (op & 4) != 0, (op & 8) != 0, now);
        break;
      case 1: {
        auto q = dns::Message::parse(body);
        if (!q) break;
        const std::vector<std::byte>::size_type cap = (op & 4) != 0 ? 512 : out.size();
        auto n = cache.lookup(*q, now, wire::MutBytes(out.data(), cap));
        if (!n) break;
        if (*n > cap) __builtin_trap();
        auto m = dns::Message::parse(wire::ConstBytes(out.data(), *n));
        if (!m || m->id() != q->id()) __builtin_trap();
        break;
      }
      case 2:
        now = now + Duration::seconds(op >> 2);
        break;
      default:
        if ((op & 0xfc) == 0) cache.clear();
        break;
    }
    if (cache.size() > cfg.max_entries) __builtin_trap();
  }
  return 0;
}
