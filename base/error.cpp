#include "base/error.hpp"

#include <cstring>

namespace tapir {

std::string SysError::message() const {
  std::string out = op;
  out += ": ";
  // strerrordesc_np is thread-safe and never formats "Unknown error" into a
  // shared buffer; glibc >= 2.32.
  const char* desc = strerrordesc_np(err);
  out += desc != nullptr ? desc : "unknown error";
  return out;
}

}  // namespace tapir
