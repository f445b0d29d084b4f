// DNS over TCP from the guest, as the TCP translation will hand it over: a
// socketpair whose one end DnsService::adopt_stream takes. Runs the real
// engine loop; the upstream is a UDP server thread on 127.0.0.1. Nothing
// here is timed: every wait is a bounded poll for an event that must come.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <chrono>
#include <thread>
#include <vector>

#include "dns/message_build.hpp"
#include "tap/tap_io.hpp"
#include "tests/support/tap_engine.hpp"
#include "dns/io/service.hpp"

namespace tapir::dns {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes query(const char* name, uint16_t id, uint16_t qtype = dns::rrtype::kA) {
  dns::QuerySpec q;
  q.id = id;
  q.qname = *dns::Name::from_text(name);
  q.qtype = qtype;
  q.edns_udp_size = std::nullopt;  // a classic query: a UDP answer would be clamped to 512
  Bytes out(512);
  out.resize(*dns::build_query(wire::as_writable_bytes(out), q));
  return out;
}

Bytes framed(const Bytes& msg) {
  Bytes out(2 + msg.size());
  out[0] = static_cast<uint8_t>(msg.size() >> 8);
  out[1] = static_cast<uint8_t>(msg.size());
  std::memcpy(out.data() + 2, msg.data(), msg.size());
  return out;
}

// Answers every A query with `records` addresses (192.0.2.x), until closed;
// never answers a name that starts with "silent".
struct Upstream {
  int fd = -1;
  uint16_t port = 0;
  size_t records;
  std::thread thread;
  explicit Upstream(size_t count) : records(count) {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread = std::thread([this] {
      while (true) {
        // Until ~Upstream's shutdown() wakes it: a test may take its time
        // before the first query on a loaded machine.
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, -1) != 1) return;
        Bytes q(2048);
        sockaddr_storage from{};
        socklen_t fl = sizeof from;
        const ssize_t n =
            ::recvfrom(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n <= 0) return;
        q.resize(static_cast<size_t>(n));
        auto m = dns::Message::parse(wire::as_bytes(q));
        if (!m || m->qname().to_string().starts_with("silent")) continue;
        Bytes out(65535);
        dns::ResponseBuilder rb(wire::as_writable_bytes(out), *m, dns::rcode::kNoError, false);
        for (size_t i = 0; i < records; ++i) {
          rb.add_a(300, wire::Ipv4Addr::from_octets(192, 0, 2, static_cast<uint8_t>(i)));
        }
        out.resize(*rb.finish());
        ::sendto(fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
      }
    });
  }
  ~Upstream() {
    ::shutdown(fd, SHUT_RDWR);
    thread.join();
    ::close(fd);
  }
};

class Ticks : public tap::FrameHandler, public loop::LoopHandler {
 public:
  explicit Ticks(DnsService& d) : dns_(d) {}
  void on_frame(wire::MutBytes, tap::FrameMeta&, MonoTime, loop::FrameSink&) override {}
  void on_tick(MonoTime now, loop::FrameSink& tx) override { dns_.on_tick(now, tx); }

 private:
  DnsService& dns_;
};

struct Harness {
  int tap = -1, peer = -1, efd = -1;
  std::optional<Upstream> upstream;
  std::optional<DnsService> dns;
  std::optional<Ticks> ticks;
  std::unique_ptr<test::TapEngine> engine;

  explicit Harness(size_t records, size_t max_streams = 4,
                   Duration attempt_timeout = dns::ForwarderConfig{}.attempt_timeout) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    tap = sv[0];
    peer = sv[1];
    efd = ::eventfd(0, EFD_CLOEXEC);
    upstream.emplace(records);
    DnsServiceConfig cfg;
    cfg.builtin.host4 = wire::Ipv4Addr::from_octets(10, 0, 2, 2);
    cfg.builtin.gateway4 = cfg.builtin.host4;
    cfg.upstreams = {
        dns::Endpoint::ipv4(wire::Ipv4Addr::from_octets(127, 0, 0, 1), upstream->port)};
    cfg.max_streams = max_streams;
    cfg.forwarder.attempt_timeout = attempt_timeout;
    cfg.forwarder.total_deadline = attempt_timeout + attempt_timeout;
    const auto plan = wire::AddressPlan::nat({wire::Ipv4Addr::from_octets(10, 0, 2, 0), 24},
                                             *wire::Ipv6Prefix::parse("fd00::/64"), false);
    dns.emplace(plan, cfg);
    ticks.emplace(*dns);
    loop::EngineConfig ec;
    ec.watch_fds = {efd};
    auto e = test::TapEngine::create(tap, ec, *ticks, *ticks);
    EXPECT_TRUE(e);
    engine = std::move(*e);
    dns->attach(*engine);
    EXPECT_TRUE(engine->start());
  }
  ~Harness() {
    engine->shutdown();
    dns.reset();
    engine.reset();
    for (int fd : {tap, peer, efd}) ::close(fd);
  }
  // A new stream: the service's end adopted, the client's end returned.
  // `sndbuf`: a small send buffer on the service's end, so that answers
  // must wait for the client to read (0: the default).
  int connect(int sndbuf = 0) {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    if (sndbuf > 0) {
      EXPECT_EQ(::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    }
    EXPECT_TRUE(dns->adopt_stream(Fd(sv[0]), mono_now()));
    return sv[1];
  }
  void stop() const {
    const uint64_t one = 1;
    (void)!::write(efd, &one, sizeof one);
  }
  // After run_until_watch() returned: ready for the next run.
  void rearm() const {
    uint64_t v = 0;
    (void)!::read(efd, &v, sizeof v);
    engine->rearm_watch(0);
  }
};

// How long a wait for the peer may take before the test calls it stuck:
// generous, so that a loaded machine only makes a test slower, never red.
constexpr int kPatience = 60000;  // ms

void write_all(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    const ssize_t n = ::write(fd, b.data() + off, b.size() - off);
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ASSERT_EQ(::poll(&p, 1, kPatience), 1);
      continue;
    }
    ASSERT_GT(n, 0);
    off += static_cast<size_t>(n);
  }
}

// Reads length-prefixed messages until `count` came, or EOF, or kPatience
// of silence (a bound for a hung stream, not a speed requirement).
std::vector<Bytes> read_messages(int fd, size_t count, bool* eof = nullptr) {
  std::vector<Bytes> out;
  Bytes buf;
  while (out.size() < count || eof != nullptr) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kPatience) != 1) break;
    uint8_t chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n == 0 && eof != nullptr) {
      *eof = true;
      break;
    }
    if (n <= 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
    while (buf.size() >= 2 && buf.size() >= 2u + (size_t{buf[0]} << 8 | buf[1])) {
      const size_t len = size_t{buf[0]} << 8 | buf[1];
      out.emplace_back(buf.begin() + 2, buf.begin() + 2 + static_cast<std::ptrdiff_t>(len));
      buf.erase(buf.begin(), buf.begin() + 2 + static_cast<std::ptrdiff_t>(len));
    }
  }
  return out;
}

TEST(DnsStream, PipelinedQueriesAreAllAnsweredAndTheStreamEndsAfterEof) {
  Harness h(100);  // 100 records: 1612 bytes, far past UDP's 512
  const int c = h.connect();
  std::vector<Bytes> answers;
  bool eof = false;
  std::thread client([&] {
    // Three in one write: built-in, upstream, built-in.
    Bytes burst = framed(query("host.containers.internal", 1));
    for (const Bytes& b : {framed(query("big.test", 2)),
                           framed(query("host.containers.internal", 3, dns::rrtype::kAaaa))}) {
      burst.insert(burst.end(), b.begin(), b.end());
    }
    write_all(c, burst);
    // A fourth, cut in the middle of its length and again of its body.
    const Bytes fourth = framed(query("gateway.containers.internal", 4));
    write_all(c, Bytes(fourth.begin(), fourth.begin() + 1));
    write_all(c, Bytes(fourth.begin() + 1, fourth.begin() + 9));
    write_all(c, Bytes(fourth.begin() + 9, fourth.end()));
    answers = read_messages(c, 4);
    ::shutdown(c, SHUT_WR);  // done asking: tapir closes once all is answered
    read_messages(c, 0, &eof);
    h.stop();
  });
  ASSERT_TRUE(h.engine->run_until_watch());
  client.join();
  ::close(c);

  ASSERT_EQ(answers.size(), 4u);
  std::set<uint16_t> ids;
  for (const Bytes& a : answers) {
    auto m = dns::Message::parse(wire::as_bytes(a));
    ASSERT_TRUE(m);
    ids.insert(m->id());
    EXPECT_EQ(m->rcode(), dns::rcode::kNoError);
    EXPECT_FALSE(m->tc());
    if (m->id() == 2) {
      EXPECT_EQ(m->ancount(), 100);  // not clamped: TCP
    }
  }
  EXPECT_EQ(ids, (std::set<uint16_t>{1, 2, 3, 4}));
  EXPECT_TRUE(eof);
  EXPECT_EQ(h.dns->streams(), 0u);
  EXPECT_EQ(h.dns->stats().streams_adopted, 1u);
  EXPECT_EQ(h.dns->forwarder().stats().upstream_queries, 1u);
  EXPECT_EQ(h.dns->forwarder().stats().builtin, 3u);
}

// dig +keepopen: one query, its answer, then the next on the same connection.
TEST(DnsStream, QueriesOneAfterAnotherOnOneConnection) {
  Harness h(1);
  const int c = h.connect();
  std::vector<Bytes> answers;
  std::thread client([&] {
    for (const Bytes& q : {query("up.test", 1), query("host.containers.internal", 2),
                           query("up.test", 3, dns::rrtype::kAaaa), query("up.test", 4)}) {
      write_all(c, framed(q));
      auto got = read_messages(c, 1);
      if (got.size() != 1) break;
      answers.push_back(got[0]);
    }
    h.stop();
  });
  ASSERT_TRUE(h.engine->run_until_watch());
  client.join();
  ::close(c);
  ASSERT_EQ(answers.size(), 4u);
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i][1], i + 1);
  }
  EXPECT_EQ(h.dns->streams(), 1u);
}

// Asks `names` one after another on stream `c`, each once its previous
// answer came; the rcodes in order (fewer if an answer did not come).
std::vector<int> ask_in_turn(Harness& h, int c, const std::vector<std::string>& names) {
  std::vector<int> rcodes;
  std::thread client([&] {
    for (size_t i = 0; i < names.size(); ++i) {
      write_all(c, framed(query(names[i].c_str(), static_cast<uint16_t>(i))));
      auto got = read_messages(c, 1);
      if (got.size() != 1) break;
      auto m = dns::Message::parse(wire::as_bytes(got[0]));
      if (!m) break;
      rcodes.push_back(m->rcode());
    }
    h.stop();
  });
  EXPECT_TRUE(h.engine->run_until_watch());
  client.join();
  h.rearm();
  return rcodes;
}

// Upstream queries go out on pooled UDP sockets: one socket serves query
// after query, and is replaced after DnsService's use limit (32).
TEST(DnsStream, UpstreamSocketsArePooledAndRetiredAfterTheirUses) {
  Harness h(1);
  const int c = h.connect();
  std::vector<std::string> names;
  for (int i = 0; i < 70; ++i) {
    std::string n("n");  // (append: g++ 12 warns falsely about -Wrestrict on operator+)
    names.push_back(n.append(std::to_string(i)).append(".test"));
  }
  const auto rcodes = ask_in_turn(h, c, names);
  ::close(c);
  ASSERT_EQ(rcodes.size(), names.size());
  for (int r : rcodes) EXPECT_EQ(r, dns::rcode::kNoError);
  EXPECT_EQ(h.dns->forwarder().stats().upstream_queries, 70u);
  EXPECT_EQ(h.dns->forwarder().stats().replies, 70u);
  EXPECT_EQ(h.dns->stats().udp_opened, 3u);  // 32 + 32 + 6
  EXPECT_EQ(h.dns->stats().udp_reused, 67u);
  EXPECT_EQ(h.dns->stats().socket_errors, 0u);
  EXPECT_EQ(h.dns->udp_sockets(), 1u);
}

// A socket whose query got no answer is closed, not pooled: a late answer
// must never reach the next query. Answered ones are pooled.
TEST(DnsStream, AnUnansweredQuerysSocketIsNotReused) {
  Harness h(1, 4, Duration::millis(100));
  const int c = h.connect();
  const auto rcodes = ask_in_turn(h, c, {"a.test", "silent.test", "b.test", "c.test"});
  ::close(c);
  ASSERT_EQ(rcodes.size(), 4u);
  EXPECT_EQ(rcodes[0], dns::rcode::kNoError);
  EXPECT_EQ(rcodes[1], dns::rcode::kServFail);  // the deadline passed
  EXPECT_EQ(rcodes[2], dns::rcode::kNoError);
  EXPECT_EQ(rcodes[3], dns::rcode::kNoError);
  const uint64_t silent_attempts = h.dns->forwarder().stats().upstream_queries - 3;
  EXPECT_GE(silent_attempts, 1u);
  // a.test opens one; every silent attempt reused it or the one before and
  // closed it, so b.test needs a fresh one, which c.test reuses.
  EXPECT_EQ(h.dns->stats().udp_opened, silent_attempts + 1);
  EXPECT_EQ(h.dns->stats().udp_reused, 2u);
  EXPECT_EQ(h.dns->udp_sockets(), 1u);
}

// Idle pooled sockets are closed once they are kUdpMaxAge (5 s) old.
TEST(DnsStream, IdlePooledSocketsAgeOut) {
  Harness h(1);
  const int c = h.connect();
  ASSERT_EQ(ask_in_turn(h, c, {"a.test"}).size(), 1u);
  EXPECT_EQ(h.dns->udp_sockets(), 1u);
  h.dns->expire_udp(mono_now() + Duration::seconds(1));
  EXPECT_EQ(h.dns->udp_sockets(), 1u);
  h.dns->expire_udp(mono_now() + Duration::seconds(6));
  EXPECT_EQ(h.dns->udp_sockets(), 0u);
  // The next query opens a fresh one.
  ASSERT_EQ(ask_in_turn(h, c, {"b.test"}).size(), 1u);
  EXPECT_EQ(h.dns->stats().udp_opened, 2u);
  EXPECT_EQ(h.dns->udp_sockets(), 1u);
  ::close(c);
}

TEST(DnsStream, ManyPipelinedQueriesAreAllAnsweredWithBoundedBuffers) {
  Harness h(100);
  const int c = h.connect(4096);
  // 2000 pipelined queries for an upstream name (1612-byte answers: 3.2 MB
  // in all), none read until all are written: tapir must pause reading
  // rather than drop answers or grow its buffers.
  constexpr int kQueries = 2000;
  std::vector<Bytes> answers;
  std::thread client([&] {
    Bytes all;
    for (int i = 0; i < kQueries; ++i) {
      const Bytes f = framed(query("big.test", static_cast<uint16_t>(i)));
      all.insert(all.end(), f.begin(), f.end());
    }
    // Written from a second thread while this one reads: otherwise the
    // client itself would deadlock on full buffers, as a real one would.
    std::thread writer([&] { write_all(c, all); });
    // Start reading late, so the answers certainly fill the socket first
    // and the POLLOUT path must run (a reader as fast as tapir left it
    // untested on a quiet machine and made the check below flaky). The
    // sleep orders events; nothing here measures time.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    answers = read_messages(c, kQueries);
    writer.join();
    h.stop();
  });
  ASSERT_TRUE(h.engine->run_until_watch());
  client.join();
  ::close(c);
  EXPECT_EQ(answers.size(), static_cast<size_t>(kQueries));
  EXPECT_EQ(h.dns->stats().stream_out_full, 0u);
  EXPECT_GT(h.dns->stats().stream_waits, 0u);  // the peer's buffer did fill: POLLOUT resumed it
  EXPECT_EQ(h.dns->forwarder().stats().upstream_queries, 1u);  // the rest from the cache
  std::vector<uint16_t> ids;
  for (const Bytes& a : answers) ids.push_back(static_cast<uint16_t>(a[0] << 8 | a[1]));
  std::sort(ids.begin(), ids.end());
  for (int i = 0; i < kQueries; ++i) EXPECT_EQ(ids[static_cast<size_t>(i)], i);
}

TEST(DnsStream, CapIdleTimeoutAndGarbage) {
  Harness h(1, 2);
  const int a = h.connect();
  const int b = h.connect();
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_FALSE(h.dns->adopt_stream(Fd(sv[0]), mono_now()));  // at the cap: refused, and closed
  EXPECT_EQ(::read(sv[1], sv, 1), 0);                        // ... so the peer sees EOF
  ::close(sv[1]);
  EXPECT_EQ(h.dns->stats().streams_refused, 1u);
  EXPECT_EQ(h.dns->streams(), 2u);

  // A zero-length message is not DNS: that stream ends, the other stays.
  bool eof = false;
  std::thread client([&] {
    write_all(a, Bytes{0, 0});
    read_messages(a, 0, &eof);
    h.stop();
  });
  ASSERT_TRUE(h.engine->run_until_watch());
  client.join();
  EXPECT_TRUE(eof);
  EXPECT_EQ(h.dns->stats().stream_errors, 1u);
  EXPECT_EQ(h.dns->streams(), 1u);

  // Idle past stream_idle (30 s): closed by the tick.
  h.dns->expire_streams(mono_now() + Duration::seconds(10));
  EXPECT_EQ(h.dns->streams(), 1u);
  h.dns->expire_streams(mono_now() + Duration::seconds(31));
  EXPECT_EQ(h.dns->streams(), 0u);
  EXPECT_EQ(h.dns->stats().streams_idle, 1u);
  // The peer sees EOF once the engine has retired the watch (the kernel's
  // poll holds the socket until then).
  h.rearm();
  ssize_t got = -1;
  std::thread reader([&] {
    pollfd p{b, POLLIN, 0};
    if (::poll(&p, 1, kPatience) == 1) {
      char byte;
      got = ::read(b, &byte, 1);
    }
    h.stop();
  });
  ASSERT_TRUE(h.engine->run_until_watch());
  reader.join();
  EXPECT_EQ(got, 0);
  ::close(a);
  ::close(b);
}

}  // namespace
}  // namespace tapir::dns
