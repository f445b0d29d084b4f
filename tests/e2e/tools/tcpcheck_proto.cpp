// tcpcheck's shared pieces (tcpcheck_proto.hpp).
#include "tcpcheck_proto.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tcpcheck {

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void stream_fill(uint64_t seed, uint64_t pos, uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t p = pos + i;
    out[i] = static_cast<uint8_t>(splitmix(seed ^ (p >> 3) * 0x100000001b3ULL) >> ((p & 7) * 8));
  }
}

long stream_mismatch(uint64_t seed, uint64_t pos, const uint8_t* got, size_t n) {
  uint8_t want[4096];
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(n - done, sizeof want);
    stream_fill(seed, pos + done, want, k);
    if (std::memcmp(want, got + done, k) != 0) {
      for (size_t i = 0; i < k; ++i)
        if (want[i] != got[done + i]) return static_cast<long>(done + i);
    }
    done += k;
  }
  return -1;
}

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

void Header::encode(uint8_t* p) const {
  std::memcpy(p, kMagic, 8);
  put32(p + 8, flags);
  put32(p + 12, server_pause_ms);
  put64(p + 16, up_len);
  put64(p + 24, down_len);
  put64(p + 32, seed);
  put64(p + 40, server_pause_at);
}

bool Header::decode(const uint8_t* p) {
  if (std::memcmp(p, kMagic, 8) != 0) return false;
  flags = get32(p + 8);
  server_pause_ms = get32(p + 12);
  up_len = get64(p + 16);
  down_len = get64(p + 24);
  seed = get64(p + 32);
  server_pause_at = get64(p + 40);
  return true;
}

bool parse_endpoint(const std::string& s, sockaddr_storage& ss, socklen_t& len) {
  std::string host;
  std::string port;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return false;
  std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

std::string addr_text(const sockaddr_storage& ss, bool with_port) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
    port = ntohs(sin.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &ss, sizeof sin6);
    inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof host);
    port = ntohs(sin6.sin6_port);
  }
  if (!with_port) return host;
  char out[INET6_ADDRSTRLEN + 10];
  std::snprintf(out, sizeof out, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
                static_cast<unsigned>(port));
  return out;
}

uint64_t parse_size(const char* s) {
  char* end = nullptr;
  uint64_t v = std::strtoull(s, &end, 10);
  switch (*end) {
    case 'K': v <<= 10; break;
    case 'M': v <<= 20; break;
    case 'G': v <<= 30; break;
    case '\0': break;
    default: std::fprintf(stderr, "tcpcheck: bad size %s\n", s); std::exit(2);
  }
  return v;
}

std::string errno_name(int e) {
  switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPIPE: return "EPIPE";
    default: return "errno " + std::to_string(e);
  }
}

}  // namespace tcpcheck
