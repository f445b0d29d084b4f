#pragma once
// Protocol numbers from the IANA registries, as named constants.

#include <cstdint>

namespace tapir::wire {

namespace ethertype {
inline constexpr uint16_t kIpv4 = 0x0800;
inline constexpr uint16_t kArp = 0x0806;
inline constexpr uint16_t kVlan = 0x8100;   // IEEE 802.1Q customer tag
inline constexpr uint16_t kQinQ = 0x88a8;   // IEEE 802.1ad service tag
inline constexpr uint16_t kVlan9100 = 0x9100;  // pre-standard QinQ, still seen
inline constexpr uint16_t kIpv6 = 0x86dd;
}  // namespace ethertype

// IP protocol / IPv6 next-header numbers.
namespace ipproto {
inline constexpr uint8_t kHopByHop = 0;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kEsp = 50;
inline constexpr uint8_t kAh = 51;
inline constexpr uint8_t kIcmpv6 = 58;
inline constexpr uint8_t kNoNextHeader = 59;
inline constexpr uint8_t kDestOptions = 60;
}  // namespace ipproto

}  // namespace tapir::wire
