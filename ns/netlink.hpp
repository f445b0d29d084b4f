#pragma once
// rtnetlink link, address and route setup (libmnl), in the network
// namespace of the calling thread — ns/attach.cpp calls these from the
// child that joined the target, never from tapir's main process.
//
// Each call is one request with NLM_F_ACK; the kernel's answer (an ACK or
// an errno) is waited for, so an error names the step that failed.

#include <string>

#include "base/error.hpp"
#include "wire/addr.hpp"

struct mnl_socket;  // libmnl's, kept out of this header
struct nlmsghdr;

namespace tapir::ns {

class Netlink {
 public:
  static SysResult<Netlink> open();
  ~Netlink();
  Netlink(Netlink&& o) noexcept;
  Netlink& operator=(Netlink&&) = delete;
  Netlink(const Netlink&) = delete;

  // Link up; MTU and MAC when given (mtu 0 / nullptr: leave as is).
  SysResult<void> set_link(int ifindex, bool up, unsigned mtu, const wire::MacAddr* mac);
  SysResult<void> add_address4(int ifindex, wire::Ipv4Addr addr, unsigned prefix_len);
  SysResult<void> add_address6(int ifindex, const wire::Ipv6Addr& addr, unsigned prefix_len);
  SysResult<void> add_default_route4(int ifindex, wire::Ipv4Addr gateway);
  SysResult<void> add_default_route6(int ifindex, const wire::Ipv6Addr& gateway);

 private:
  explicit Netlink(::mnl_socket* s) : sock_(s) {}
  SysResult<void> transact(::nlmsghdr* nlh, const char* what);
  ::mnl_socket* sock_ = nullptr;
  unsigned seq_ = 1;
};

}  // namespace tapir::ns
