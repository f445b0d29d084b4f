// The tap's reader and writer on the loop, driven without a tap: one end of
// a SOCK_SEQPACKET socketpair plays the tap (it keeps frame boundaries, as a
// tap does), the test holds the other end, and an eventfd in the engine's
// watch list ends run.

#include "tap/tap_io.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/proto.hpp"
#include "wire/udp.hpp"

namespace tapir::tap {
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
class Echo : public FrameHandler, public loop::LoopHandler {
 public:
  Echo(int efd, size_t want) : efd_(efd), want_(want) {}
  void on_frame(wire::MutBytes frame, FrameMeta& meta, MonoTime, loop::FrameSink& tx) override {
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
  void on_tick(MonoTime, loop::FrameSink&) override { ++ticks; }
  std::vector<Bytes> as_delivered;  // before complete_checksum()
  std::vector<FrameMeta> metas;
  std::vector<Bytes> frames;        // after
  std::vector<uint16_t> gso_sizes;
  int ticks = 0;

 private:
  int efd_;
  size_t want_;
};

// An engine with the tap's reader and writer on it, both started.
struct Rig {
  std::unique_ptr<loop::Engine> engine;
  std::unique_ptr<TapIo> io;
  Rig(int tap_fd, size_t vnet_hdr_len, const loop::EngineConfig& cfg, Echo& echo) {
    auto e = loop::Engine::create(cfg, echo);
    EXPECT_TRUE(e) << e.error().message();
    engine = std::move(*e);
    TapIoConfig tc;
    tc.tap_fd = tap_fd;
    tc.vnet_hdr_len = vnet_hdr_len;
    auto t = TapIo::create(tc, *engine, echo);
    EXPECT_TRUE(t) << t.error().message();
    io = std::move(*t);
    io->start();
    EXPECT_TRUE(engine->start());
  }
};

Bytes read_frame(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return {};
  Bytes b(70000);
  const ssize_t n = ::read(fd, b.data(), b.size());
  b.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return b;
}

TEST(TapIo, FramesInAndRepliesOutWithVnetHeader) {
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Echo echo(efd, 3);
  loop::EngineConfig cfg;
  cfg.watch_fds = {-1, efd};  // an unused watch keeps the others' indices
  Rig rig(pair.tap, wire::kVirtioNetHdrLen, cfg, echo);
  EXPECT_EQ(echo.ticks, 1);  // on_tick runs once at start

  for (uint8_t i = 1; i <= 3; ++i) {
    Bytes f(wire::kVirtioNetHdrLen, 0);  // flags 0, no GSO
    for (int j = 0; j < 60; ++j) f.push_back(static_cast<uint8_t>(i + j));
    ASSERT_EQ(::write(pair.peer, f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  auto fired = rig.engine->run_until_watch();
  ASSERT_TRUE(fired);
  EXPECT_EQ(*fired, 1u);
  ASSERT_EQ(echo.frames.size(), 3u);
  for (uint8_t i = 1; i <= 3; ++i) {
    EXPECT_EQ(echo.frames[i - 1].size(), 60u);  // header stripped
    EXPECT_EQ(echo.frames[i - 1][0], i);
  }
  // Replies left with a 12-byte all-zero vnet header in front.
  rig.engine->shutdown();
  for (uint8_t i = 1; i <= 3; ++i) {
    Bytes r = read_frame(pair.peer);
    ASSERT_EQ(r.size(), wire::kVirtioNetHdrLen + 60);
    EXPECT_EQ(Bytes(r.begin(), r.begin() + wire::kVirtioNetHdrLen), Bytes(wire::kVirtioNetHdrLen, 0));
    EXPECT_EQ(r[wire::kVirtioNetHdrLen], static_cast<uint8_t>(i ^ 0xff));
  }
  EXPECT_EQ(rig.io->tx().sent(), 3u);
  ::close(efd);
}

TEST(TapIo, PassesPartialChecksumsOnAndDropsBadVnetHeaders) {
  Pair pair;
  const int efd = ::eventfd(0, EFD_CLOEXEC);
  Echo echo(efd, 1);
  loop::EngineConfig cfg;
  cfg.watch_fds = {efd};
  Rig rig(pair.tap, wire::kVirtioNetHdrLen, cfg, echo);

  // A malformed vnet header (unknown GSO type 9) is dropped and counted.
  Bytes bad(wire::kVirtioNetHdrLen + 60, 0);
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

  ASSERT_TRUE(rig.engine->run_until_watch());
  ASSERT_EQ(echo.frames.size(), 1u);
  // The engine passes the partial checksum on untouched, with what the
  // vnet header said about it: the data path never pays for completing it.
  ASSERT_TRUE(echo.metas[0].needs_csum);
  EXPECT_EQ(echo.metas[0].csum_start, 34);
  EXPECT_EQ(echo.metas[0].csum_offset, 6);
  EXPECT_EQ(echo.as_delivered[0], Bytes(f.begin() + wire::kVirtioNetHdrLen, f.end()));
  auto udp = wire::UdpView::parse(wire::as_bytes(echo.frames[0]).subspan(34));
  ASSERT_TRUE(udp);
  EXPECT_TRUE(udp->checksum_ok(src, dst));  // completed in place
  EXPECT_EQ(rig.io->stats().drops[wire::ParseError::kBadVnetHeader], 1u);
  rig.engine->shutdown();
  ::close(efd);
}

// RFC 768: a UDP checksum that computes to 0 is sent as all ones, since 0
// means "none" — and over IPv6, where the checksum is mandatory (RFC 8200
// 8.1), a 0 gets the datagram dropped. Completing a partial checksum is the
// sender's offload, so it must do the same (as Linux's skb_checksum_help()
// does); 0xffff is the same value in ones' complement, so TCP and ICMP are
// not affected. Found by tap_frame_fuzz.
TEST(TapIo, PartialChecksumThatComputesToZeroIsCompletedAsAllOnes) {
  wire::Ipv6Addr src, dst;
  src.octets = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
  dst.octets = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03};
  constexpr size_t kL4 = 14 + 40;
  Bytes frame(kL4 + 8 + 2, 0);
  wire::MutBytes fb = wire::as_writable_bytes(frame);
  wire::UdpRepr{40000, 53, 2}.emit(fb.subspan(kL4));
  wire::Checksum pseudo;
  pseudo.add_ipv6_pseudo(src, dst, wire::ipproto::kUdp, 10);
  wire::store_be16(fb, kL4 + 6, pseudo.sum());  // what the guest's kernel leaves there
  // A payload word that makes the sum all ones, so the checksum computes to 0.
  const uint16_t sum =
      wire::checksum_fold(wire::checksum_partial(wire::as_bytes(frame).subspan(kL4)));
  wire::store_be16(fb, kL4 + 8, static_cast<uint16_t>(~sum));

  ASSERT_TRUE(complete_partial_checksum(fb, kL4, 6));
  auto udp = wire::UdpView::parse(wire::as_bytes(frame).subspan(kL4));
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->checksum(), 0xffff);
  EXPECT_TRUE(udp->checksum_ok(src, dst));
}

}  // namespace
}  // namespace tapir::tap
