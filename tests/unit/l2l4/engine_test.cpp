// The engine loop, driven without a tap: one end of a SOCK_SEQPACKET
// socketpair plays the tap (it keeps frame boundaries, as a tap does), the
// test holds the other end, and an eventfd in the watch list ends run.

#include "l2l4/engine.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <vector>

#include "l2l4/wire/checksum.hpp"
#include "l2l4/wire/ethernet.hpp"
#include "l2l4/wire/ipv4.hpp"
#include "l2l4/wire/proto.hpp"
#include "l2l4/wire/udp.hpp"

namespace tapir::l2l4 {
namespace {

using Bytes = std::vector<uint8_t>;

struct Pair {
  int tap = -1;   // given to the engine
  int peer = -1;  // the test's end
  Pair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    tap = sv[0];
    peer = sv[1];
  }
  ~Pair() {
    ::close(tap);
    ::close(peer);
  }
};

void stop(int efd) {
  const uint64_t one = 1;
  ASSERT_EQ(::write(efd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

// Records frames; echoes each back with its first byte flipped; stops after `want`.
class Echo : public FrameHandler {
 public:
  Echo(int efd, size_t want) : efd_(efd), want_(want) {}
  void on_frame(wire::MutBytes frame, FrameMeta& meta, MonoTime, TxQueue& tx) override {
    const auto* p = reinterpret_cast<const uint8_t*>(frame.data());
    as_delivered.emplace_back(p, p + frame.size());
    metas.push_back(meta);
    // A consumer that verifies checksums completes a partial one first.
    meta.complete_checksum(frame);
    frames.emplace_back(p, p + frame.size());
    gso_sizes.push_back(meta.gso_size);
    wire::MutBytes out = tx.acquire();
    ASSERT_FALSE(out.empty());
    std::memcpy(out.data(), frame.data(), frame.size());
    out[0] ^= std::byte{0xff};
    tx.send(frame.size());
    if (frames.size() == want_) stop(efd_);
  }
  void on_tick(MonoTime, TxQueue&) override { ++ticks; }
  std::vector<Bytes> as_delivered;  // before complete_checksum()
  std::vector<FrameMeta> metas;
  std::vector<Bytes> frames;        // after
  std::vector<uint16_t> gso_sizes;
  int ticks = 0;

 private:
  int efd_;
  size_t want_;
};

Bytes read_frame(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return {};
  Bytes b(70000);
  const ssize_t n = ::read(fd, b.data(), b.size());
  b.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return b;
}

TEST(Engine, FramesInAndRepliesOutWithVnetHeader) {
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Echo echo(efd, 3);
  EngineConfig cfg;
  cfg.tap_fd = pair.tap;
  cfg.vnet_hdr_len = kVnetHdrLen;
  cfg.watch_fds = {-1, efd};  // an unused watch keeps the others' indices
  auto engine = Engine::create(cfg, echo);
  ASSERT_TRUE(engine) << engine.error().message();
  ASSERT_TRUE((*engine)->start());
  EXPECT_EQ(echo.ticks, 1);  // on_tick runs once at start

  for (uint8_t i = 1; i <= 3; ++i) {
    Bytes f(kVnetHdrLen, 0);  // flags 0, no GSO
    for (int j = 0; j < 60; ++j) f.push_back(static_cast<uint8_t>(i + j));
    ASSERT_EQ(::write(pair.peer, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  auto fired = (*engine)->run_until_watch();
  ASSERT_TRUE(fired);
  EXPECT_EQ(*fired, 1u);
  ASSERT_EQ(echo.frames.size(), 3u);
  for (uint8_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(echo.frames[i - 1].size(), 60u);  // header stripped
    EXPECT_EQ(echo.frames[i - 1][0], i);
  }
  // Replies left with a 12-byte all-zero vnet header in front.
  (*engine)->shutdown();
  for (uint8_t i = 1; i <= 3; ++i) {
    Bytes r = read_frame(pair.peer);
    ASSERT_EQ(r.size(), kVnetHdrLen + 60);
    EXPECT_EQ(Bytes(r.begin(), r.begin() + kVnetHdrLen), Bytes(kVnetHdrLen, 0));
    EXPECT_EQ(r[kVnetHdrLen], static_cast<uint8_t>(i ^ 0xff));
  }
  EXPECT_EQ((*engine)->tx().sent(), 3u);
  ::close(efd);
}

TEST(Engine, PassesPartialChecksumsOnAndDropsBadVnetHeaders) {
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Echo echo(efd, 1);
  EngineConfig cfg;
  cfg.tap_fd = pair.tap;
  cfg.watch_fds = {efd};
  auto engine = Engine::create(cfg, echo);
  ASSERT_TRUE(engine);
  ASSERT_TRUE((*engine)->start());

  // A malformed vnet header (unknown GSO type 9) is dropped and counted.
  Bytes bad(kVnetHdrLen + 60, 0);
  bad[1] = 9;
  ASSERT_GT(::write(pair.peer, bad.data(), bad.size()), 0);

  // A UDP datagram as a guest kernel hands it over with TUN_F_CSUM: the
  // checksum field holds only the pseudo-header sum (NEEDS_CSUM, csum_start
  // 34, csum_offset 6).
  const auto src = wire::Ipv4Addr::from_octets(10, 0, 2, 100);
  const auto dst = wire::Ipv4Addr::from_octets(192, 0, 2, 1);
  Bytes frame(14 + 20 + 8 + 11, 0);
  wire::MutBytes fb = wire::as_writable_bytes(frame);
  wire::EthernetRepr{wire::MacAddr::broadcast(), wire::MacAddr{}, wire::ethertype::kIpv4}.emit(fb);
  wire::Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = wire::ipproto::kUdp;
  ip.payload_len = 8 + 11;
  ip.emit(fb.subspan(14));
  wire::UdpRepr{40000, 53, 11}.emit(fb.subspan(34));
  std::memcpy(frame.data() + 42, "hello tapir", 11);
  wire::Checksum pseudo;
  pseudo.add_ipv4_pseudo(src, dst, wire::ipproto::kUdp, 19);
  wire::store_be16(fb, 40, pseudo.sum());  // folded, not inverted
  Bytes f = {1, 0, 0, 0, 0, 0, 34, 0, 6, 0, 0, 0};  // NEEDS_CSUM, start 34, offset 6 (LE)
  f.insert(f.end(), frame.begin(), frame.end());
  ASSERT_GT(::write(pair.peer, f.data(), f.size()), 0);

  ASSERT_TRUE((*engine)->run_until_watch());
  ASSERT_EQ(echo.frames.size(), 1u);
  // The engine passes the partial checksum on untouched, with what the
  // vnet header said about it: the data path never pays for completing it.
  ASSERT_TRUE(echo.metas[0].needs_csum);
  EXPECT_EQ(echo.metas[0].csum_start, 34);
  EXPECT_EQ(echo.metas[0].csum_offset, 6);
  EXPECT_EQ(echo.as_delivered[0], Bytes(f.begin() + kVnetHdrLen, f.end()));
  auto udp = wire::UdpView::parse(wire::as_bytes(echo.frames[0]).subspan(34));
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->checksum_ok(src, dst));  // completed in place
  EXPECT_EQ((*engine)->stats().drops[wire::ParseError::kBadVnetHeader], 1u);
  (*engine)->shutdown();
  ::close(efd);
}

// Counts readiness; unwatches itself after `limit` calls.
class Reader : public SocketClient {
 public:
  Reader(Engine*& e, int efd) : engine_(e), efd_(efd) {}
  void on_socket(uint64_t cookie, unsigned revents, MonoTime, TxQueue&) override {
    ++calls;
    last_cookie = cookie;
    if (revents & POLLIN) {
      char buf[64];
      while (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) ++datagrams;
    }
    if (datagrams >= 2 && handle.valid()) {
      engine_->unwatch(handle);
      handle = {};
      stop(efd_);
    }
  }
  int fd = -1;
  WatchHandle handle;
  int calls = 0;
  int datagrams = 0;
  uint64_t last_cookie = 0;

 private:
  Engine*& engine_;
  int efd_;
};

TEST(Engine, WatchesHostSocketsUntilUnwatched) {
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Echo echo(efd, 100);
  EngineConfig cfg;
  cfg.tap_fd = pair.tap;
  cfg.watch_fds = {efd};
  cfg.socket_slots = 2;
  auto engine = Engine::create(cfg, echo);
  ASSERT_TRUE(engine);
  Engine* raw = engine->get();
  ASSERT_TRUE(raw->start());

  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
  Reader reader(raw, efd);
  reader.fd = sv[0];
  reader.handle = raw->watch(sv[0], POLLIN, reader, 77);
  ASSERT_TRUE(reader.handle.valid());
  EXPECT_EQ(raw->watched_sockets(), 1u);
  ASSERT_EQ(::send(sv[1], "a", 1, 0), 1);
  ASSERT_EQ(::send(sv[1], "b", 1, 0), 1);
  ASSERT_TRUE(raw->run_until_watch());
  EXPECT_EQ(reader.datagrams, 2);
  EXPECT_EQ(reader.last_cookie, 77u);
  const int calls = reader.calls;

  // After unwatch, more data raises no callback; once the kernel confirmed
  // the removal the slot is free again and can be reused.
  ASSERT_EQ(::send(sv[1], "c", 1, 0), 1);
  uint64_t drain;
  ASSERT_EQ(::read(efd, &drain, sizeof drain), static_cast<ssize_t>(sizeof drain));
  raw->rearm_watch(0);  // lifecycle watches are one-shot
  Reader other(raw, efd);
  int sv2[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv2), 0);
  other.fd = sv2[0];
  other.handle = raw->watch(sv2[0], POLLIN, other, 78);
  ASSERT_TRUE(other.handle.valid());
  ASSERT_EQ(::send(sv2[1], "x", 1, 0), 1);
  ASSERT_EQ(::send(sv2[1], "y", 1, 0), 1);
  ASSERT_TRUE(raw->run_until_watch());
  EXPECT_EQ(reader.calls, calls);  // the unwatched client heard nothing more
  EXPECT_EQ(other.datagrams, 2);
  // Shutdown drains every submission — multishot polls included, whose
  // several completions count as one, and the tick, which cancel-any does
  // not reach — rather than giving up after its bounded rounds.
  raw->shutdown();
  EXPECT_EQ(raw->in_flight(), 0u);
  EXPECT_EQ(raw->watched_sockets(), 0u);
  for (int fd : {sv[0], sv[1], sv2[0], sv2[1], efd}) ::close(fd);
}

TEST(Engine, WatchReportsFullSlotTable) {
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Echo echo(efd, 1);
  EngineConfig cfg;
  cfg.tap_fd = pair.tap;
  cfg.watch_fds = {efd};
  cfg.socket_slots = 1;
  auto engine = Engine::create(cfg, echo);
  ASSERT_TRUE(engine);
  ASSERT_TRUE((*engine)->start());
  Engine* raw = engine->get();
  Reader r(raw, efd);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_TRUE(raw->watch(sv[0], POLLIN, r, 1).valid());
  EXPECT_FALSE(raw->watch(sv[1], POLLIN, r, 2).valid());
  raw->shutdown();
  for (int fd : {sv[0], sv[1], efd}) ::close(fd);
}

// Unwatches itself in its first callback, as a flow that ends on an error
// does; counts calls.
class OneShot : public SocketClient {
 public:
  void on_socket(uint64_t cookie, unsigned, MonoTime, TxQueue&) override {
    ++calls[cookie];
    if (handles[cookie].valid()) {
      engine->unwatch(handles[cookie]);
      handles[cookie] = {};
      ++unwatched;
    }
  }
  Engine* engine = nullptr;
  std::vector<WatchHandle> handles;
  std::vector<int> calls;
  size_t unwatched = 0;
};

// Stops the loop at the end of the first batch in which `done()` holds.
class StopWhen : public FrameHandler {
 public:
  StopWhen(int efd, std::function<bool()> done) : efd_(efd), done_(std::move(done)) {}
  void on_frame(wire::MutBytes, FrameMeta&, MonoTime, TxQueue&) override {}
  void on_tick(MonoTime, TxQueue&) override {}
  void on_batch_end(MonoTime, TxQueue&) override {
    if (!stopped_ && done_ && done_()) {
      stopped_ = true;
      stop(efd_);
    }
  }

 private:
  int efd_;
  std::function<bool()> done_;
  bool stopped_ = false;
};

// DESIGN.md: a slot is freed exactly once, also when the last completion
// of a multishot poll (no F_MORE) reaches a client that unwatches inside
// its callback. A ring whose completion queue holds 32 entries and
// thousands of sockets made ready at once: the kernel ends most multishot
// polls (it cannot post their completion with F_MORE), and each of those
// final completions reaches a client that unwatches.
TEST(Engine, ASlotIsFreedOnceWhenTheLastCompletionMeetsAnUnwatch) {
  constexpr int kSockets = 3000;
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Engine* raw = nullptr;
  OneShot client;
  size_t idle = 0;
  StopWhen handler(efd, [&] { return client.unwatched == kSockets && raw->in_flight() == idle; });
  EngineConfig cfg;
  cfg.tap_fd = pair.tap;
  cfg.watch_fds = {efd};
  cfg.socket_slots = 2 * kSockets;
  cfg.tx_slots = 4;
  cfg.ring_entries = 16;  // completion queue: 32 entries
  auto engine = Engine::create(cfg, handler);
  ASSERT_TRUE(engine);
  raw = engine->get();
  client.engine = raw;
  ASSERT_TRUE(raw->start());
  idle = raw->in_flight();  // the tap's poll, the lifecycle watch, the tick

  // Every socket readable before its poll goes in: all of them complete
  // in the first round, far more than the completion queue holds.
  std::vector<int> fds;
  client.calls.assign(kSockets, 0);
  for (int i = 0; i < kSockets; ++i) {
    const int fd = ::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    ASSERT_GE(fd, 0) << "eventfd " << i << ": " << std::strerror(errno);
    fds.push_back(fd);
    client.handles.push_back(raw->watch(fd, POLLIN, client, static_cast<uint64_t>(i)));
    ASSERT_TRUE(client.handles.back().valid());
  }
  EXPECT_EQ(raw->watched_sockets(), static_cast<size_t>(kSockets));
  ASSERT_TRUE(raw->run_until_watch());
  // Every client heard of its socket once, unwatched, and every removal
  // and final completion arrived.
  EXPECT_EQ(client.unwatched, static_cast<size_t>(kSockets));
  for (int i = 0; i < kSockets; ++i)
    EXPECT_EQ(client.calls[static_cast<size_t>(i)], 1) << "socket " << i;
  EXPECT_EQ(raw->watched_sockets(), 0u);
  EXPECT_EQ(raw->in_flight(), idle - 1);  // the lifecycle watch fired and waits for rearm_watch()

  // The slots are free once each: as many new watches get distinct ones.
  std::vector<bool> seen(cfg.socket_slots, false);
  OneShot quiet;
  quiet.engine = raw;
  for (int i = 0; i < kSockets; ++i) {
    const WatchHandle h = raw->watch(fds[static_cast<size_t>(i)], POLLOUT, quiet, 0);
    ASSERT_TRUE(h.valid());
    ASSERT_FALSE(seen[h.slot]) << "slot " << h.slot << " handed out twice";
    seen[h.slot] = true;
  }
  EXPECT_EQ(raw->watched_sockets(), static_cast<size_t>(kSockets));
  raw->shutdown();
  EXPECT_EQ(raw->in_flight(), 0u);
  EXPECT_EQ(raw->watched_sockets(), 0u);
  for (int fd : fds) ::close(fd);
  ::close(efd);
}

}  // namespace
}  // namespace tapir::l2l4
