// Parsing a full-size Ethernet + IPv4 + TCP data segment (timestamps
// option, 1448 bytes of payload — what a Linux guest sends at MTU 1500), the
// work the dispatcher does for every frame before it finds the flow.
//
//   scripts/bench --benchmark_filter=Parse

#include <benchmark/benchmark.h>

#include <vector>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/proto.hpp"
#include "wire/tcp.hpp"
#include "wire/tcp_options.hpp"

namespace {

using namespace tapir::wire;

std::vector<uint8_t> make_frame() {
  constexpr size_t kPayload = 1448;
  TcpRepr tcp;
  tcp.src_port = 43210;
  tcp.dst_port = 80;
  tcp.seq = 0x12345678;
  tcp.ack = 0x9abcdef0;
  tcp.flags = tcp_flag::kAck | tcp_flag::kPsh;
  tcp.window = 502;
  tcp.options.timestamps = TcpTimestamps{123456, 654321};
  const size_t tcp_len = tcp.buffer_len() + kPayload;

  Ipv4Repr ip;
  ip.src = Ipv4Addr::from_octets(10, 0, 2, 100);
  ip.dst = Ipv4Addr::from_octets(192, 0, 2, 1);
  ip.protocol = ipproto::kTcp;
  ip.payload_len = tcp_len;

  std::vector<uint8_t> f(kEthernetHeaderLen + ip.total_len(), 0x5a);
  MutBytes b = as_writable_bytes(f);
  EthernetRepr{*MacAddr::parse("52:55:0a:00:02:02"), *MacAddr::parse("52:54:00:12:34:56"),
               ethertype::kIpv4}
      .emit(b);
  ip.emit(b.subspan(kEthernetHeaderLen));
  MutBytes seg = b.subspan(kEthernetHeaderLen + Ipv4Repr::buffer_len());
  if (!tcp.emit(seg)) std::abort();
  fill_tcp_checksum(seg, ip.src, ip.dst);
  return f;
}

// Headers only: Ethernet -> IPv4 -> TCP -> options, no checksum.
void BM_ParseEthIpv4Tcp(benchmark::State& state) {
  const auto frame = make_frame();
  const ConstBytes in = as_bytes(frame);
  for (auto _ : state) {
    auto eth = EthernetView::parse(in);
    auto ip = Ipv4View::parse(eth->payload());
    auto tcp = TcpView::parse(ip->payload());
    auto opts = TcpOptions::parse(tcp->options());
    benchmark::DoNotOptimize(tcp->sequence_number());
    benchmark::DoNotOptimize(opts->timestamps);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The same plus verifying the IPv4 header and TCP checksums, as the
// dispatcher must when the tap gives no DATA_VALID / NEEDS_CSUM hint.
void BM_ParseEthIpv4TcpVerify(benchmark::State& state) {
  const auto frame = make_frame();
  const ConstBytes in = as_bytes(frame);
  for (auto _ : state) {
    auto eth = EthernetView::parse(in);
    auto ip = Ipv4View::parse(eth->payload());
    auto tcp = TcpView::parse(ip->payload());
    auto opts = TcpOptions::parse(tcp->options());
    bool ok = ip->header_checksum_ok() && tcp->checksum_ok(ip->source(), ip->destination());
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(opts->timestamps);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(frame.size()));
}

BENCHMARK(BM_ParseEthIpv4Tcp);
BENCHMARK(BM_ParseEthIpv4TcpVerify);

}  // namespace
