#pragma once
// Monotonic time. The engine samples now() once per loop iteration and
// passes the value down, so everything handled in one iteration agrees on
// the time and the hot path makes one clock_gettime call, not many.

#include <compare>
#include <cstdint>

namespace tapir {

// Nanoseconds on CLOCK_MONOTONIC. A plain value type: cheap to copy and
// compare; arithmetic in Duration.
struct Duration {
  int64_t ns = 0;
  static constexpr Duration nanos(int64_t v) { return {v}; }
  static constexpr Duration micros(int64_t v) { return {v * 1000}; }
  static constexpr Duration millis(int64_t v) { return {v * 1000 * 1000}; }
  static constexpr Duration seconds(int64_t v) { return {v * 1000 * 1000 * 1000}; }
  constexpr int64_t to_millis() const { return ns / (1000 * 1000); }
  constexpr auto operator<=>(const Duration&) const = default;
  constexpr Duration operator+(Duration o) const { return {ns + o.ns}; }
  constexpr Duration operator-(Duration o) const { return {ns - o.ns}; }
};

struct MonoTime {
  int64_t ns = 0;  // since an arbitrary epoch (boot)
  constexpr auto operator<=>(const MonoTime&) const = default;
  constexpr MonoTime operator+(Duration d) const { return {ns + d.ns}; }
  constexpr Duration operator-(MonoTime o) const { return {ns - o.ns}; }
};

// CLOCK_MONOTONIC now.
MonoTime mono_now() noexcept;

// Wall-clock time as {seconds, microseconds} since the Unix epoch; for
// timestamps that leave the process (pcap records, log lines).
struct WallTime {
  int64_t sec = 0;
  int32_t usec = 0;
};
WallTime wall_now() noexcept;

}  // namespace tapir
