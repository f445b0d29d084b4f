#include "base/clock.hpp"

#include <ctime>

namespace tapir {

MonoTime mono_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return MonoTime{static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec};
}

WallTime wall_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return WallTime{static_cast<int64_t>(ts.tv_sec), static_cast<int32_t>(ts.tv_nsec / 1000)};
}

}  // namespace tapir
