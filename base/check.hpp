#pragma once
// TAPIR_CHECK(cond): a broken invariant of tapir's own code aborts with
// file:line. Never use it on untrusted input — a malformed frame is a
// ParseError, not a crash.

#include <cstdio>
#include <cstdlib>

namespace tapir::detail {
[[noreturn]] inline void check_failed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "tapir: %s:%d: invariant broken: %s\n", file, line, cond);
  std::abort();
}
}  // namespace tapir::detail

#define TAPIR_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::tapir::detail::check_failed(#cond, __FILE__, __LINE__))
