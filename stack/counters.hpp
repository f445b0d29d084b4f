#pragma once
// Every counter one engine keeps, copied out at one moment: the stats
// structs of the tap, the dispatcher, the flows, the port forwarder and
// the DNS service, and the sizes of their tables; and the stats table
// (stack/stats) they make, the one place that names each counter.

#include <cstdint>
#include <optional>

#include "dns/forwarder.hpp"
#include "flows/icmp_echo_flows.hpp"
#include "flows/port_forward.hpp"
#include "flows/tcp_flows.hpp"
#include "flows/udp_flows.hpp"
#include "stack/dispatch.hpp"
#include "stack/stats.hpp"
#include "tap/tap_io.hpp"

namespace tapir::stack {

struct StackCounters {
  tap::TapStats tap;
  uint64_t tx_sent = 0;       // frames written to the tap
  uint64_t tx_bytes = 0;      // ... their bytes, without vnet headers
  uint64_t tx_no_buffer = 0;  // frames that waited or were dropped: no transmit buffer
  DispatchStats dispatch;
  flows::TcpStats tcp;
  uint64_t tcp_active = 0;
  flows::UdpFlowStats udp;
  uint64_t udp_active = 0;
  flows::EchoFlowStats echo;
  uint64_t echo_active = 0;
  uint64_t echo_max = 0;
  flows::PortForwardStats forward;
  uint64_t forward_rules = 0;
  std::optional<dns::DnsStatsSnapshot> dns;  // nullopt: --disable-dns
};

// The table: the groups and names of the API's stats reply, plus the
// counters that reply never had as Shown::kDetail values.
StatGroup stats_table(const StackCounters& counters);

}  // namespace tapir::stack
