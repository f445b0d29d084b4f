#pragma once
// Errors from the environment (syscalls, files, the kernel) carry errno and
// the operation that failed, so a log line can say "open /dev/net/tun: EACCES
// (Permission denied)" without the caller re-deriving anything.

#include <cerrno>
#include <string>

#include "base/expected.hpp"

namespace tapir {

struct SysError {
  int err = 0;              // errno value
  const char* op = "";      // what was attempted, e.g. "open /dev/net/tun"; static storage

  // "op: strerror(err)"
  std::string message() const;
};

// Shorthand for syscall wrappers: captures errno right away.
inline Unexpected<SysError> sys_error(const char* op, int err = errno) {
  return Unexpected<SysError>(SysError{err, op});
}

template <class T>
using SysResult = Expected<T, SysError>;

}  // namespace tapir
