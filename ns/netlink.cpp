#include "ns/netlink.hpp"

// <net/if.h> before any <linux/if*.h>: glibc and the uapi headers then agree.
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace tapir::ns {
namespace {

uint32_t be32(wire::Ipv4Addr a) { return __builtin_bswap32(a.value); }

// MNL_SOCKET_BUFFER_SIZE is a runtime expression (it asks for the page size);
// requests and their ACKs are tiny, so a fixed 8 KiB is plenty.
constexpr size_t kBufSize = 8192;

// An RTM_NEWADDR request for `ifindex` (universe scope) in `buf`; the
// caller adds the attributes.
nlmsghdr* new_address(char* buf, unsigned char family, int ifindex, unsigned prefix_len,
                      unsigned char flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = family;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix_len);
  ifa->ifa_flags = flags;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  return nlh;
}

// An RTM_NEWROUTE request for a default route (prefix length 0) of the
// main table in `buf`; the caller adds the gateway and the interface.
nlmsghdr* new_default_route(char* buf, unsigned char family) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWROUTE;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = family;
  rtm->rtm_dst_len = 0;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = RT_SCOPE_UNIVERSE;
  rtm->rtm_type = RTN_UNICAST;
  return nlh;
}

}  // namespace

SysResult<Netlink> Netlink::open() {
  mnl_socket* s = mnl_socket_open(NETLINK_ROUTE);
  if (s == nullptr) return sys_error("netlink socket");
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(s);
    return sys_error("netlink bind", err);
  }
  return Netlink(s);
}

Netlink::~Netlink() {
  if (sock_ != nullptr) mnl_socket_close(sock_);
}

Netlink::Netlink(Netlink&& o) noexcept : sock_(std::exchange(o.sock_, nullptr)), seq_(o.seq_) {}

SysResult<void> Netlink::transact(nlmsghdr* nlh, const char* what) {
  nlh->nlmsg_seq = seq_++;
  nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (mnl_socket_sendto(sock_, nlh, nlh->nlmsg_len) < 0) return sys_error(what);
  alignas(nlmsghdr) char buf[kBufSize];
  const ssize_t n = mnl_socket_recvfrom(sock_, buf, sizeof buf);
  if (n < 0) return sys_error(what);
  // mnl_cb_run returns -1 with errno set from an NLMSG_ERROR payload.
  if (mnl_cb_run(buf, static_cast<size_t>(n), nlh->nlmsg_seq, mnl_socket_get_portid(sock_), nullptr,
                 nullptr) < 0) {
    return sys_error(what);
  }
  return {};
}

SysResult<void> Netlink::set_link(int ifindex, bool up, unsigned mtu, const wire::MacAddr* mac) {
  alignas(nlmsghdr) char buf[kBufSize];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifm = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = ifindex;
  if (up) {
    ifm->ifi_flags = IFF_UP;
    ifm->ifi_change = IFF_UP;
  }
  if (mtu != 0) mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  if (mac != nullptr) mnl_attr_put(nlh, IFLA_ADDRESS, mac->octets.size(), mac->octets.data());
  return transact(nlh, "set link (RTM_NEWLINK)");
}

SysResult<void> Netlink::add_address4(int ifindex, wire::Ipv4Addr addr, unsigned prefix_len) {
  alignas(nlmsghdr) char buf[kBufSize];
  nlmsghdr* nlh = new_address(buf, AF_INET, ifindex, prefix_len, 0);
  mnl_attr_put_u32(nlh, IFA_LOCAL, be32(addr));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, be32(addr));
  // The broadcast address, as SIOCSIFNETMASK would have set it.
  const uint32_t host_mask = prefix_len >= 32 ? 0 : (~uint32_t{0} >> prefix_len);
  mnl_attr_put_u32(nlh, IFA_BROADCAST, be32(wire::Ipv4Addr{addr.value | host_mask}));
  return transact(nlh, "add address (RTM_NEWADDR)");
}

SysResult<void> Netlink::add_address6(int ifindex, const wire::Ipv6Addr& addr, unsigned prefix_len) {
  alignas(nlmsghdr) char buf[kBufSize];
  // IFA_F_NODAD: tapir owns the link, nothing else can hold the address.
  nlmsghdr* nlh = new_address(buf, AF_INET6, ifindex, prefix_len, IFA_F_NODAD);
  mnl_attr_put(nlh, IFA_LOCAL, 16, addr.octets.data());
  mnl_attr_put(nlh, IFA_ADDRESS, 16, addr.octets.data());
  return transact(nlh, "add address (RTM_NEWADDR)");
}

SysResult<void> Netlink::add_default_route4(int ifindex, wire::Ipv4Addr gateway) {
  alignas(nlmsghdr) char buf[kBufSize];
  nlmsghdr* nlh = new_default_route(buf, AF_INET);
  mnl_attr_put_u32(nlh, RTA_GATEWAY, be32(gateway));
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
  return transact(nlh, "add default route (RTM_NEWROUTE)");
}

SysResult<void> Netlink::add_default_route6(int ifindex, const wire::Ipv6Addr& gateway) {
  alignas(nlmsghdr) char buf[kBufSize];
  nlmsghdr* nlh = new_default_route(buf, AF_INET6);
  mnl_attr_put(nlh, RTA_GATEWAY, 16, gateway.octets.data());
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
  return transact(nlh, "add default route (RTM_NEWROUTE)");
}

}  // namespace tapir::ns
