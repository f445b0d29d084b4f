#include "flows/icmp_errors.hpp"

#include <algorithm>
#include <array>

#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/proto.hpp"
#include "services/frame.hpp"

namespace tapir::flows {
namespace {

constexpr size_t kIcmp6MaxMessage = 1280 - wire::kIpv6HeaderLen;  // RFC 4443 2.4(c)

}  // namespace

size_t build_icmp4_error(wire::MutBytes out, const wire::AddressPlan& plan,
                         const wire::MacAddr& guest_mac, const wire::Ipv4View& offending,
                         uint8_t type, uint8_t code, uint32_t info) {
  const wire::ConstBytes orig = offending.bytes();
  const size_t quote = std::min(orig.size(), offending.header_len() + 8);
  const size_t icmp_len = wire::kIcmp4HeaderLen + quote;
  wire::MutBytes icmp = out.subspan(services::kL4v4Offset, icmp_len);
  wire::Icmp4ErrorRepr{type, code, info}.emit(icmp);
  wire::store_bytes(icmp, wire::kIcmp4HeaderLen, orig.first(quote));
  wire::icmp4_fill_checksum(icmp);
  return services::finish_ipv4(out, {plan.gateway_mac, guest_mac}, plan.gateway4,
                               offending.source(), wire::ipproto::kIcmp, icmp_len);
}

size_t build_icmp6_error(wire::MutBytes out, const wire::AddressPlan& plan,
                         const wire::MacAddr& guest_mac, const wire::Ipv6View& offending,
                         uint8_t type, uint8_t code, uint32_t info) {
  const wire::ConstBytes orig = offending.bytes();
  const size_t quote = std::min(orig.size(), kIcmp6MaxMessage - 8);
  const size_t icmp_len = 8 + quote;
  wire::MutBytes icmp = out.subspan(services::kL4v6Offset, icmp_len);
  wire::Icmp6ErrorRepr{type, code, info}.emit(icmp);
  wire::store_bytes(icmp, 8, orig.first(quote));
  return services::finish_icmp6(out, {plan.gateway_mac, guest_mac}, plan.gateway6,
                                offending.source(), 64, icmp_len);
}

size_t build_icmp_error_for_flow(wire::MutBytes out, const wire::AddressPlan& plan,
                                 const wire::MacAddr& guest_mac, const wire::IpAddr& guest,
                                 const wire::IpAddr& dst, uint8_t protocol,
                                 wire::ConstBytes l4_head, uint8_t type, uint8_t code,
                                 uint32_t info) {
  std::array<std::byte, wire::kIpv6HeaderLen + 20> quoted{};
  const size_t ip_len = guest.v6 ? wire::kIpv6HeaderLen : wire::kIpv4MinHeaderLen;
  if (l4_head.size() > quoted.size() - ip_len) return 0;
  wire::MutBytes q(quoted);
  wire::store_bytes(q, ip_len, l4_head);
  const wire::MutBytes packet = q.first(ip_len + l4_head.size());
  if (guest.v6) {
    wire::Ipv6Repr{guest.as_v6(), dst.as_v6(), protocol, 64, 0, 0, l4_head.size()}.emit(q);
    auto v = wire::Ipv6View::parse(packet);
    return v ? build_icmp6_error(out, plan, guest_mac, *v, type, code, info) : 0;
  }
  wire::Ipv4Repr ip;
  ip.src = guest.as_v4();
  ip.dst = dst.as_v4();
  ip.protocol = protocol;
  ip.payload_len = l4_head.size();
  ip.emit(q);
  auto v = wire::Ipv4View::parse(packet);
  return v ? build_icmp4_error(out, plan, guest_mac, *v, type, code, info) : 0;
}

size_t build_refusal(wire::MutBytes out, const wire::AddressPlan& plan,
                     const wire::GuestPacket& offending, Refusal why) {
  const wire::MacAddr guest_mac = offending.eth.source();
  if (offending.v6()) {
    return build_icmp6_error(out, plan, guest_mac, *offending.ip6,
                             wire::icmp6_type::kDestUnreachable,
                             why == Refusal::kUnreachable ? wire::icmp6_unreach::kNoRoute
                                                          : wire::icmp6_unreach::kAdminProhibited);
  }
  return build_icmp4_error(out, plan, guest_mac, *offending.ip4, wire::icmp4_type::kDestUnreachable,
                           why == Refusal::kUnreachable ? wire::icmp4_unreach::kNet
                                                        : wire::icmp4_unreach::kAdminProhibited);
}

}  // namespace tapir::flows
