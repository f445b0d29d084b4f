// Fuzz target: the forwarder state machine (dns/forwarder.hpp) driven by
// a script of events — client queries over UDP and TCP, upstream replies
// (raw, or the query sent turned into a response, with or without TC, from
// the right or a wrong address), socket errors, time passing, and a sent
// query fed back as a client query (a forwarding loop). Checks:
//   * every answer to a client is a response that parses, and a UDP
//     answer fits the client's size (512 without EDNS) and the glue's cap;
//   * the glue is never asked to close an attempt it does not have open,
//     nor to send on one that is open;
//   * only an upstream's answer names an upstream (AnswerInfo), and a
//     stale answer carries TTL 30 in every record;
//   * after the total deadline, nothing is pending and every attempt the
//     forwarder opened has been closed.
//
// Input: a sequence of events, each an opcode byte and its operands:
//   0 len bytes[len]        UDP query from client port (opcode byte)
//   1 k flags len2 bytes    a reply to the k-th query sent (counted from the
//                           last): `bytes` as they are, or with flags bit 0
//                           the sent query itself turned into a response
//                           (RCODE from bytes[0]); bit 1: from a wrong port,
//                           bit 2: TC set, bit 3: the sent query's ID
//                           patched in
//   2 n                     time passes: n x 20 ms, or with bit 7 set
//                           (n & 0x7f) x 10 s: far enough for answers to
//                           expire, be prefetched and served stale
//   3 k                     socket error on the k-th attempt
//   4 k                     the k-th sent query comes back as a client query
//   5 len bytes[len]        TCP query
#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

#include "dns/forwarder.hpp"
#include "dns/message.hpp"

namespace {

using namespace tapir;
using namespace tapir::dns;

struct Io final : ForwarderIo {
  struct Sent {
    AttemptRef ref;
    Endpoint to;
    std::vector<std::byte> msg;
  };
  std::vector<Sent> sent;
  std::set<uint64_t> open;
  size_t answers = 0;

  void answer(const ClientKey& c, ConstBytes msg, const AnswerInfo& info) override {
    ++answers;
    // Only an upstream's answer names an upstream.
    if ((info.upstream != nullptr) != (info.outcome == Outcome::kUpstream)) __builtin_trap();
    auto m = Message::parse(msg);
    if (!m || !m->qr()) __builtin_trap();
    if (c.transport == ClientKey::Transport::kUdp) {
      const size_t limit = m->edns() ? 65535 : kClassicUdpSize;
      // The clamp can only cut whole records: a message whose question alone
      // is larger than the limit stays as it is.
      if (msg.size() > limit && m->ancount() + m->nscount() != 0) __builtin_trap();
    }
    if (info.outcome == Outcome::kStale) {
      for (const Record& r : m->all_records()) {
        if (r.type != rrtype::kOpt && r.ttl != kStaleTtl) __builtin_trap();
      }
    }
  }
  bool send_query(AttemptRef a, const Endpoint& to, ConstBytes q) override {
    if (open.count(a.pack()) != 0) __builtin_trap();
    open.insert(a.pack());
    sent.push_back({a, to, std::vector<std::byte>(q.begin(), q.end())});
    return true;
  }
  bool send_query_tcp(AttemptRef a, const Endpoint& to, ConstBytes q) override {
    if (open.count(a.pack()) == 0) __builtin_trap();
    sent.push_back({a, to, std::vector<std::byte>(q.begin(), q.end())});
    return true;
  }
  void close_query(AttemptRef a) override {
    if (open.erase(a.pack()) != 1) __builtin_trap();
  }
};

const Endpoint kUp0 = Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 1), 53);
const Endpoint kUp1 = Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 2), 53);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Io io;
  ForwarderConfig cfg;
  cfg.seed = 1;
  cfg.max_pending = 8;
  cfg.max_waiters = 16;
  cfg.cache.max_entries = 16;
  cfg.cache.stale_max = 3600;  // an hour: reached and passed by a few long steps
  BuiltinConfig bc;
  bc.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
  Forwarder fwd(cfg, BuiltinNames(bc), io);
  fwd.set_upstreams({kUp0, kUp1});
  MonoTime now{1'000'000'000'000};

  size_t i = 0;
  auto byte = [&]() -> uint8_t { return i < size ? data[i++] : 0; };
  auto take = [&](size_t n) {
    n = std::min(n, size - std::min(i, size));
    ConstBytes b{reinterpret_cast<const std::byte*>(data) + i, n};  // NOLINT: octets as bytes
    i += n;
    return b;
  };
  auto pick = [&](uint8_t k) -> const Io::Sent* {
    if (io.sent.empty()) return nullptr;
    return &io.sent[io.sent.size() - 1 - (k % io.sent.size())];
  };
  std::vector<std::byte> buf;
  while (i < size) {
    const uint8_t op = byte() % 6;
    if (op == 0 || op == 5) {
      ClientKey c;
      c.transport = op == 5 ? ClientKey::Transport::kTcp : ClientKey::Transport::kUdp;
      c.addr4 = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
      c.port = byte();
      c.conn = c.port;
      const size_t len = byte();
      fwd.on_query(c, take(len), now);
    } else if (op == 1) {
      const uint8_t k = byte();
      const uint8_t flags = byte();
      const size_t len = size_t{byte()} << 8 | byte();
      const ConstBytes raw = take(len);
      const Io::Sent* s = pick(k);
      if (s == nullptr) continue;
      if ((flags & 1) != 0 && s->msg.size() >= kHeaderLen) {
        buf = s->msg;
        buf[2] |= std::byte{0x80};  // QR
        buf[3] = static_cast<std::byte>((static_cast<uint8_t>(buf[3]) & 0xf0) |
                                        (raw.empty() ? 0 : static_cast<uint8_t>(raw[0]) & 0x0f));
      } else {
        buf.assign(raw.begin(), raw.end());
      }
      if ((flags & 4) != 0 && buf.size() >= kHeaderLen) buf[2] |= std::byte{0x02};
      if ((flags & 8) != 0 && buf.size() >= 2 && s->msg.size() >= 2) {
        buf[0] = s->msg[0];
        buf[1] = s->msg[1];
      }
      Endpoint from = s->to;
      if ((flags & 2) != 0) from.port = static_cast<uint16_t>(from.port + 1);
      fwd.on_reply(s->ref, from, ConstBytes(buf), now);
    } else if (op == 2) {
      const uint8_t n = byte();
      now = now + ((n & 0x80) != 0 ? Duration::seconds(10 * int64_t{n & 0x7f})
                                   : Duration::millis(20 * int64_t{n}));
      fwd.on_tick(now);
    } else if (op == 3) {
      if (const Io::Sent* s = pick(byte())) fwd.on_attempt_error(s->ref, now);
    } else {
      const uint8_t k = byte();
      if (const Io::Sent* s = pick(k)) {
        buf = s->msg;
        ClientKey c;
        c.addr4 = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
        c.port = 40000;
        fwd.on_query(c, ConstBytes(buf), now);
      }
    }
  }
  // Past every deadline: all done, every socket closed.
  now = now + Duration::seconds(10);
  fwd.on_tick(now);
  if (fwd.pending() != 0 || !io.open.empty()) __builtin_trap();
  return 0;
}
