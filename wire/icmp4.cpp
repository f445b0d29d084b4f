#include "wire/icmp4.hpp"

#include "wire/checksum.hpp"

namespace tapir::wire {

Expected<Icmp4View, ParseError> Icmp4View::parse(ConstBytes message) {
  if (message.size() < kIcmp4HeaderLen) return unexpected(ParseError::kTruncated);
  return Icmp4View(message);
}

bool Icmp4View::checksum_ok() const {
  return internet_checksum(bytes_) == 0;
}

void icmp4_fill_checksum(MutBytes message) {
  TAPIR_CHECK(message.size() >= kIcmp4HeaderLen);
  store_be16(message, Icmp4View::kChecksumOffset, 0);
  store_be16(message, Icmp4View::kChecksumOffset, internet_checksum(message));
}

}  // namespace tapir::wire
