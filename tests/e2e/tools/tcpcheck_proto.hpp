#pragma once
// tcpcheck's exchange (tcpcheck.cpp has the picture): the header both ends
// agree on, the reproducible byte stream each end checks, and the small
// helpers the server (tcpcheck_server.cpp) and client (tcpcheck_client.cpp)
// share.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace tcpcheck {

uint64_t splitmix(uint64_t x);
// Byte `pos` of stream(seed): random access, so chunk boundaries don't matter.
void stream_fill(uint64_t seed, uint64_t pos, uint8_t* out, size_t n);
// Offset of the first byte in `got` that differs from stream(seed) at `pos`, or -1.
long stream_mismatch(uint64_t seed, uint64_t pos, const uint8_t* got, size_t n);

uint64_t now_ms();
void put64(uint8_t* p, uint64_t v);
uint64_t get64(const uint8_t* p);
void put32(uint8_t* p, uint32_t v);
uint32_t get32(const uint8_t* p);

inline constexpr char kMagic[] = "TCPCHK01";
inline constexpr char kTrailerOk[] = "TCPCHKOK";
inline constexpr char kTrailerBad[] = "TCPCHKBD";
inline constexpr size_t kHeaderLen = 48;
inline constexpr size_t kTrailerLen = 16;
inline constexpr uint32_t kGuestHalfClose = 1;
inline constexpr uint32_t kHostHalfClose = 2;

struct Header {
  uint32_t flags = 0;
  uint32_t server_pause_ms = 0;
  uint64_t up_len = 0;
  uint64_t down_len = 0;
  uint64_t seed = 0;
  uint64_t server_pause_at = 0;

  void encode(uint8_t* p) const;
  bool decode(const uint8_t* p);
};
inline uint64_t down_seed(uint64_t seed) {
  return ~seed;
}

bool parse_endpoint(const std::string& s, sockaddr_storage& ss, socklen_t& len);
std::string addr_text(const sockaddr_storage& ss, bool with_port = true);
// "123", "4K", "16M", "1G"; exits with status 2 on anything else.
uint64_t parse_size(const char* s);
std::string errno_name(int e);

// The modes (tcpcheck.cpp dispatches on argv[1]).
int serve(int argc, char** argv);
int client(int argc, char** argv);

}  // namespace tcpcheck
