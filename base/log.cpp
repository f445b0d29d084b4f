#include "base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace tapir {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

}  // namespace

void set_log_level(LogLevel level) noexcept { g_level.store(level, std::memory_order_relaxed); }
LogLevel log_level() noexcept { return g_level.load(std::memory_order_relaxed); }

void log_write(LogLevel level, const char* fmt, ...) noexcept {
  if (!log_enabled(level)) return;
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "tapir: %s: ", level_name(level));
  if (n < 0) return;
  size_t len = static_cast<size_t>(n);
  va_list ap;
  va_start(ap, fmt);
  const int m = std::vsnprintf(buf + len, sizeof buf - len, fmt, ap);
  va_end(ap);
  if (m > 0) len += static_cast<size_t>(m);
  // Truncated messages keep their newline.
  if (len > sizeof buf - 2) len = sizeof buf - 2;
  buf[len++] = '\n';
  const char* p = buf;
  while (len > 0) {
    const ssize_t w = ::write(STDERR_FILENO, p, len);
    if (w <= 0) return;  // stderr gone: nothing sensible left to do
    p += w;
    len -= static_cast<size_t>(w);
  }
}

bool RateLimit::allow(MonoTime now) noexcept {
  if (!started_ || now - window_start_ >= interval_) {
    started_ = true;
    window_start_ = now;
    used_ = 0;
  }
  if (used_ < burst_) {
    ++used_;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t RateLimit::take_suppressed() noexcept {
  const uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

}  // namespace tapir
