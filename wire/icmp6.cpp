#include "wire/icmp6.hpp"

#include "wire/checksum.hpp"
#include "wire/proto.hpp"

namespace tapir::wire {

Expected<Icmp6View, ParseError> Icmp6View::parse(ConstBytes message) {
  if (message.size() < kIcmp6HeaderLen) return unexpected(ParseError::kTruncated);
  return Icmp6View(message);
}

bool Icmp6View::checksum_ok(const Ipv6Addr& src, const Ipv6Addr& dst) const {
  return l4_checksum_ipv6(src, dst, ipproto::kIcmpv6, bytes_) == 0;
}

void icmp6_fill_checksum(MutBytes message, const Ipv6Addr& src, const Ipv6Addr& dst) {
  TAPIR_CHECK(message.size() >= kIcmp6HeaderLen);
  store_be16(message, Icmp6View::kChecksumOffset, 0);
  store_be16(message, Icmp6View::kChecksumOffset,
             l4_checksum_ipv6(src, dst, ipproto::kIcmpv6, message));
}

}  // namespace tapir::wire
