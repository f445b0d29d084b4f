#pragma once
// What the forwarder tests share: a fake glue that records what the
// forwarder asked for, a faked clock, query and answer builders, and the
// fixture that wires them to a Forwarder with two upstreams.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "dns/forwarder.hpp"
#include "dns/message_build.hpp"

namespace tapir::dns::test {

using Bytes = std::vector<uint8_t>;
inline ConstBytes cb(const Bytes& b) { return wire::as_bytes(b); }
inline MutBytes mb(Bytes& b) { return wire::as_writable_bytes(b); }
inline Bytes to_vec(ConstBytes b) {
  const auto* p = reinterpret_cast<const uint8_t*>(b.data());  // NOLINT: bytes as octets
  return Bytes(p, p + b.size());
}

// The engine's clock, faked.
constexpr MonoTime kT0{1'000'000'000'000};
inline MonoTime at(double seconds) { return kT0 + Duration::nanos(static_cast<int64_t>(seconds * 1e9)); }

inline const Endpoint kUp0 = Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 1), 5353);
inline const Endpoint kUp1 = Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 1), 5354);

inline ClientKey client(uint16_t port) {
  ClientKey k;
  k.addr4 = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
  k.port = port;
  return k;
}

// What the forwarder asked the glue to do, in order.
struct FakeIo final : ForwarderIo {
  struct Answer {
    ClientKey to;
    Bytes msg;
    Outcome outcome = Outcome::kUpstream;
    FailReason reason = FailReason::kNone;
  };
  struct Sent {
    AttemptRef ref;
    Endpoint to;
    Bytes msg;
  };
  std::vector<Answer> answers;
  std::vector<Sent> sent;
  std::vector<AttemptRef> closed;
  bool fail_sends = false;

  void answer(const ClientKey& c, ConstBytes msg, const AnswerInfo& info) override {
    answers.push_back({c, to_vec(msg), info.outcome, info.reason});
  }
  bool send_query(AttemptRef a, const Endpoint& to, ConstBytes q) override {
    if (fail_sends) return false;
    sent.push_back({a, to, to_vec(q)});
    return true;
  }
  void close_query(AttemptRef a) override { closed.push_back(a); }
  std::vector<Endpoint> loops;
  std::vector<Sent> sent_tcp;
  bool tcp_works = true;
  bool send_query_tcp(AttemptRef a, const Endpoint& to, ConstBytes q) override {
    if (!tcp_works) return false;
    sent_tcp.push_back({a, to, to_vec(q)});
    return true;
  }
  void loop_detected(const Endpoint& up) override { loops.push_back(up); }
  bool is_closed(AttemptRef a) const {
    for (const auto& c : closed) {
      if (c == a) return true;
    }
    return false;
  }
};

inline Bytes query_for(const std::string& name, uint16_t id, uint16_t qtype = rrtype::kA,
                std::optional<uint16_t> edns = kAdvertisedUdpSize) {
  QuerySpec q;
  q.id = id;
  q.qname = *Name::from_text(name);
  q.qtype = qtype;
  q.edns_udp_size = edns;
  Bytes out(512);
  out.resize(*build_query(mb(out), q));
  return out;
}

// The upstream's answer to `query` (as the forwarder sent it): `count` A
// records with a TTL of 300, or an NXDOMAIN with an SOA.
inline Bytes answer_to(const Bytes& query, size_t count = 1, uint8_t rc = rcode::kNoError) {
  auto qm = Message::parse(cb(query));
  Bytes out(4096);
  ResponseBuilder rb(mb(out), *qm, rc, false);
  for (size_t i = 0; i < count; ++i) {
    rb.add_a(300, wire::Ipv4Addr::from_octets(192, 0, 2, static_cast<uint8_t>(10 + i)));
  }
  out.resize(*rb.finish());
  return out;
}

inline Message parsed(const Bytes& b) {
  auto m = Message::parse(cb(b));
  EXPECT_TRUE(m.has_value());
  return *m;
}

class ForwarderTest : public ::testing::Test {
 protected:
  ForwarderTest() { make({}); }
  void make(ForwarderConfig cfg, std::vector<Endpoint> ups = {kUp0, kUp1}) {
    cfg.seed = 42;
    BuiltinConfig bc;
    bc.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
    bc.gateway4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
    io = FakeIo{};
    fwd.emplace(cfg, BuiltinNames(bc), io);
    fwd->set_upstreams(ups);
  }
  FakeIo io;
  std::optional<Forwarder> fwd;
};

}  // namespace tapir::dns::test
