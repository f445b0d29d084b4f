#pragma once
// Leveled logging to stderr.
//
// One line per call, written with a single write(2) so lines from tapir and
// its short-lived children never interleave mid-line. printf-style format
// (checked by the compiler) because std::format is not in g++ 12.
//
// Levels: error > warn > info > debug. The default shows info and above;
// `-q` shows only warnings and errors; `--debug` shows everything. Messages
// about untrusted input (malformed frames, hostile traffic) must go through
// a RateLimit so a flood cannot turn into a log flood.

#include <cstdint>

#include "base/clock.hpp"

namespace tapir {

enum class LogLevel : uint8_t { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
inline bool log_enabled(LogLevel level) noexcept { return level <= log_level(); }

// Formats and writes "tapir: <level>: <message>\n" if `level` is enabled.
void log_write(LogLevel level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

// At most `burst` messages per `interval`; the rest are counted, and the next
// message that gets through says how many were suppressed.
class RateLimit {
 public:
  constexpr RateLimit(uint32_t burst, Duration interval) : burst_(burst), interval_(interval) {}

  // True if a message may be logged at `now`. When it returns true,
  // take_suppressed() yields the number dropped since the last one.
  bool allow(MonoTime now) noexcept;
  uint64_t take_suppressed() noexcept;

 private:
  uint32_t burst_;
  Duration interval_;
  MonoTime window_start_{};
  uint32_t used_ = 0;
  uint64_t suppressed_ = 0;
  bool started_ = false;
};

}  // namespace tapir

#define TAPIR_LOG(level, ...)                                        \
  do {                                                               \
    if (::tapir::log_enabled(level)) ::tapir::log_write(level, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) TAPIR_LOG(::tapir::LogLevel::kError, __VA_ARGS__)
#define LOG_WARN(...) TAPIR_LOG(::tapir::LogLevel::kWarn, __VA_ARGS__)
#define LOG_INFO(...) TAPIR_LOG(::tapir::LogLevel::kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) TAPIR_LOG(::tapir::LogLevel::kDebug, __VA_ARGS__)

// Rate-limited variant: `limiter` is a RateLimit that outlives the call site
// (usually a member or a function-local static), `now` a MonoTime.
#define TAPIR_LOG_RL(level, limiter, now, fmt, ...)                                  \
  do {                                                                                \
    if (::tapir::log_enabled(level) && (limiter).allow(now)) {                       \
      const uint64_t tapir_suppressed_ = (limiter).take_suppressed();                \
      if (tapir_suppressed_ != 0)                                                     \
        ::tapir::log_write(level, fmt " (%llu similar messages suppressed)",         \
                           ##__VA_ARGS__,                                             \
                           static_cast<unsigned long long>(tapir_suppressed_));       \
      else                                                                            \
        ::tapir::log_write(level, fmt, ##__VA_ARGS__);                               \
    }                                                                                 \
  } while (0)
