#include "services/arp.hpp"

#include "wire/proto.hpp"
#include "services/dhcp4.hpp"

namespace tapir::services {

using namespace tapir::wire;

bool arp_answers_for(Ipv4Addr target, const ServiceConfig& cfg, const GuestState& state,
                     MonoTime now) {
  const AddressPlan& p = cfg.plan;
  if (target == p.gateway4 || target == p.dns4) return true;
  if (!p.net4.contains(target)) return false;
  if (target == p.net4.network() || target == p.net4.broadcast()) return false;
  if (state.ip4 && *state.ip4 == target) return false;
  if (dhcp4_address_bound(target, cfg, state, now)) return false;
  return true;
}

ServiceResult arp_reply(const EthernetView& eth, const ArpView& arp, const ServiceConfig& cfg,
                        GuestState& state, MonoTime now, MutBytes out) {
  const Ipv4Addr sender_ip = arp.sender_ip();
  const Ipv4Addr target_ip = arp.target_ip();
  const MacAddr sender_mac = arp.sender_mac();
  // A multicast sender hardware address is never a real interface (and a
  // reply to it would go everywhere): drop without learning.
  if (sender_mac.is_multicast() || eth.source().is_multicast()) return size_t{0};

  state.mac = eth.source();
  const bool probe = sender_ip.is_unspecified();
  const bool announcement = sender_ip == target_ip;
  if (!probe && cfg.plan.net4.contains(sender_ip) && sender_ip != cfg.plan.gateway4 &&
      sender_ip != cfg.plan.dns4) {
    state.ip4 = sender_ip;
  }

  if (arp.operation() != arp_op::kRequest || announcement) return size_t{0};
  if (probe) {
    if (target_ip != cfg.plan.gateway4 && target_ip != cfg.plan.dns4) return size_t{0};
  } else if (!arp_answers_for(target_ip, cfg, state, now)) {
    return size_t{0};
  }
  if (out.size() < kArpReplyLen) return size_t{0};

  EthernetRepr{eth.source(), cfg.plan.gateway_mac, ethertype::kArp}.emit(out);
  // RFC 5227 2.1.1: a probe's sender address is 0.0.0.0, so the reply's
  // target address is too; the requester recognises it by the MAC.
  ArpRepr{arp_op::kReply, cfg.plan.gateway_mac, target_ip, sender_mac, sender_ip}.emit(
      out.subspan(kEthernetHeaderLen));
  return kArpReplyLen;
}

}  // namespace tapir::services
