// Fuzz target: the TCP option walker, and parse -> emit -> parse stability.
#include <cstdint>
#include <vector>

#include "wire/tcp_options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tapir::wire;
  auto opts = TcpOptions::parse(as_bytes({data, size}));
  if (!opts) return 0;
  TcpOptions o = *opts;
  if (o.sack_count > kTcpMaxSackBlocks || o.sacks().size() != o.sack_count) __builtin_trap();
  const size_t len = o.buffer_len();
  if (len % 4 != 0) __builtin_trap();

  std::vector<uint8_t> out(len);
  if (!o.fits()) {
    // Refused without a write; trimming SACK blocks always makes it fit.
    if (o.emit(as_writable_bytes(out))) __builtin_trap();
    o.trim_sack_blocks();
    if (!o.fits()) __builtin_trap();
    out.assign(o.buffer_len(), 0);
  }
  if (!o.emit(as_writable_bytes(out))) __builtin_trap();
  if (out.size() > kTcpMaxOptionsLen) __builtin_trap();

  // parse -> emit -> parse gives the same options, and emitting those
  // gives the same bytes.
  auto back = TcpOptions::parse(as_bytes(out));
  if (!back || !(*back == o)) __builtin_trap();
  std::vector<uint8_t> out2(back->buffer_len());
  if (!back->emit(as_writable_bytes(out2)) || out2 != out) __builtin_trap();
  return 0;
}
