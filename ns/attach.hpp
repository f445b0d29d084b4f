#pragma once
// Getting a configured tap fd out of the target namespace.
//
// Theory of operation (DESIGN.md "Process model"). tapir's main process
// stays in the caller's namespaces, where every host socket must live. A
// forked child joins the target's user and network namespaces, opens the
// tap (tap/tap_device.hpp), configures the link over rtnetlink when asked
// (ns/netlink.hpp), sends the fd back over a SOCK_SEQPACKET socketpair with
// SCM_RIGHTS together with a one-line status, and exits. Everything the child
// knows about a failure travels in that line, so the parent reports it as
// one clear message.

#include <optional>
#include <string>

#include "base/expected.hpp"
#include "base/fd.hpp"
#include "wire/address_plan.hpp"
#include "ns/namespace.hpp"
#include "tap/tap_device.hpp"

namespace tapir::ns {

struct AttachRequest {
  std::string tapname = "tap0";
  bool configure = false;
  unsigned mtu = 1500;
  std::optional<wire::MacAddr> mac;
  wire::AddressPlan plan;
  bool vnet_hdr = true;  // --no-offload: a plain tap, MTU-sized frames both ways
  // tapir run: no duplicate address detection and no router solicitation
  // delay on the tap, so SLAAC completes in milliseconds (tapir is the only
  // other node on the link).
  bool fast_slaac = false;
};

struct Attached {
  Fd fd;
  std::string name;
  int ifindex = 0;
  size_t vnet_hdr_len = 0;
  tap::Offloads offloads;
};

Expected<Attached, std::string> attach_tap(const ns::Target& target, const AttachRequest& req);

}  // namespace tapir::ns
