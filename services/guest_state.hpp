#pragma once
// What the services learn about the guest, and the DHCP lease tables.
//
// Theory of operation. The responders are pure functions of a request, the
// ServiceConfig and this state; the engine owns one GuestState per guest
// (per tap) and passes it to every call, together with `now` — nothing here
// reads a clock. Everything is fixed-size: a hostile guest can fill a table,
// never grow one.
//
// Learned addresses. The guest's MAC and IPv4 address come from the ARP
// messages it sends (any sender address it uses is its own, RFC 826) and
// from DHCPv4 ACKs; its IPv6 addresses from the neighbour discovery it does
// (DAD probes name an address it is claiming, RFC 4862 5.4.2; NS/NA sources
// and unsolicited NA targets are its own) and from DHCPv6 replies. ARP and
// NDP use them to never answer for an address that is the guest's.
//
// Leases. LeaseTable maps a client key (the MAC for DHCPv4, as libslirp
// does; the DUID for DHCPv6, RFC 8415 11) to a slot, and slot i to an
// address (dhcp4.cpp: net+15+i; dhcp6.cpp: P::15+i), so an address is
// stable per client for as long as the client keeps its slot. A slot keeps
// its client after release and expiry and is taken from it only when no
// never-used slot is left, so a client that comes back usually gets its
// address again. A declined slot (DHCPDECLINE: someone else answers for that
// address, RFC 2131 4.3.3) is out of use for one lease time.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "base/clock.hpp"
#include "wire/addr.hpp"
#include "wire/bytes.hpp"

namespace tapir::services {

enum class LeaseState : uint8_t {
  kFree,      // never used: no client
  kOffered,   // offered (DHCPOFFER / ADVERTISE), held until `expires`
  kBound,     // acknowledged, valid until `expires`
  kReleased,  // given back by the client; still remembered as its slot
  kDeclined,  // the client saw the address in use; unusable until `expires`
};

template <class Key>
struct Lease {
  Key client{};
  LeaseState state = LeaseState::kFree;
  MonoTime expires{};

  // Still the client's: bound or offered and not expired.
  bool active(MonoTime now) const {
    return (state == LeaseState::kBound || state == LeaseState::kOffered) && now < expires;
  }
  // Acknowledged (not only offered) and not expired.
  bool bound(MonoTime now) const { return state == LeaseState::kBound && now < expires; }
  // May be given to another client.
  bool reclaimable(MonoTime now) const {
    if (state == LeaseState::kFree || state == LeaseState::kReleased) return true;
    return now >= expires;  // offered, bound or declined, and timed out
  }
};

template <class Key, size_t N>
class LeaseTable {
 public:
  static constexpr size_t kSlots = N;

  // The slot remembered for `client` (any state but free/declined).
  std::optional<size_t> find(const Key& client) const {
    for (size_t i = 0; i < N; ++i) {
      const auto& s = slots_[i];
      if (s.state != LeaseState::kFree && s.state != LeaseState::kDeclined && s.client == client) {
        return i;
      }
    }
    return std::nullopt;
  }

  // The slot for `client`: its own; else `wanted` if that is reclaimable;
  // else a never-used slot; else the first reclaimable one. `usable(i)`
  // says whether slot i maps to an address the plan allows. nullopt: every
  // usable slot is some other client's.
  template <class Usable>
  std::optional<size_t> choose(const Key& client, std::optional<size_t> wanted, MonoTime now,
                               Usable&& usable) const {
    if (auto own = find(client); own && usable(*own)) return own;
    if (wanted && *wanted < N && usable(*wanted) && slots_[*wanted].reclaimable(now)) {
      return wanted;
    }
    for (size_t i = 0; i < N; ++i) {
      if (usable(i) && slots_[i].state == LeaseState::kFree) return i;
    }
    for (size_t i = 0; i < N; ++i) {
      if (usable(i) && slots_[i].reclaimable(now)) return i;
    }
    return std::nullopt;
  }

  void set(size_t i, const Key& client, LeaseState state, MonoTime expires) {
    slots_.at(i) = Lease<Key>{client, state, expires};
  }
  const Lease<Key>& at(size_t i) const { return slots_.at(i); }
  Lease<Key>& at(size_t i) { return slots_.at(i); }

 private:
  std::array<Lease<Key>, N> slots_{};
};

// RFC 8415 11: a DUID is a 2-byte type and at most 128 bytes more.
inline constexpr size_t kMaxDuidLen = 130;

struct Duid {
  std::array<uint8_t, kMaxDuidLen> bytes{};
  size_t len = 0;

  // nullopt when `b` is empty or longer than kMaxDuidLen.
  static std::optional<Duid> from(wire::ConstBytes b);
  wire::ConstBytes view() const { return wire::as_bytes({bytes.data(), len}); }
  bool operator==(const Duid& o) const {
    return len == o.len && std::equal(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(len),
                                      o.bytes.begin());
  }
};

inline constexpr size_t kMaxLeases4 = 16;  // libslirp's NB_BOOTP_CLIENTS
inline constexpr size_t kMaxLeases6 = 16;
inline constexpr size_t kMaxGuestAddrs6 = 8;

using Lease4Table = LeaseTable<wire::MacAddr, kMaxLeases4>;
using Lease6Table = LeaseTable<Duid, kMaxLeases6>;

struct GuestState {
  std::optional<wire::MacAddr> mac;
  std::optional<wire::Ipv4Addr> ip4;
  Lease4Table leases4;
  Lease6Table leases6;

  // The guest's IPv6 addresses seen so far (ring: the oldest is forgotten).
  void learn_ip6(const wire::Ipv6Addr& a);
  bool owns_ip6(const wire::Ipv6Addr& a) const;
  size_t ip6_count() const { return ip6_count_; }

 private:
  std::array<wire::Ipv6Addr, kMaxGuestAddrs6> ip6_{};
  size_t ip6_count_ = 0;
  size_t ip6_next_ = 0;
};

}  // namespace tapir::services
