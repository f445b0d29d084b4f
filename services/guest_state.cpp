#include "services/guest_state.hpp"

namespace tapir::services {

std::optional<Duid> Duid::from(wire::ConstBytes b) {
  if (b.empty() || b.size() > kMaxDuidLen) return std::nullopt;
  Duid d;
  for (size_t i = 0; i < b.size(); ++i) d.bytes[i] = wire::load_u8(b, i);
  d.len = b.size();
  return d;
}

void GuestState::learn_ip6(const wire::Ipv6Addr& a) {
  if (a.is_unspecified() || a.is_multicast() || owns_ip6(a)) return;
  ip6_[ip6_next_] = a;
  ip6_next_ = (ip6_next_ + 1) % kMaxGuestAddrs6;
  if (ip6_count_ < kMaxGuestAddrs6) ++ip6_count_;
}

bool GuestState::owns_ip6(const wire::Ipv6Addr& a) const {
  for (size_t i = 0; i < ip6_count_; ++i) {
    if (ip6_[i] == a) return true;
  }
  return false;
}

}  // namespace tapir::services
