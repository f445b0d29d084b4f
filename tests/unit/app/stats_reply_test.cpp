// The control API's "stats" reply, byte for byte, for a known set of
// counters: every counter has a value of its own, so a key that names the
// wrong counter, a group in the wrong place or a reordered key shows up
// here. Clients (and the e2e checks) read this reply by key path.

#include "app/stats_reply.hpp"
#include "stack/counters.hpp"

#include <gtest/gtest.h>

#include <string>

#include "app/api.hpp"

namespace tapir::app {
namespace {

class NoTable : public flows::ForwardTable {
 public:
  Expected<uint32_t, flows::ForwardFailure> add(const flows::ForwardRule&) override {
    return unexpected(flows::ForwardFailure{flows::ForwardError::kBind, EADDRINUSE});
  }
  bool remove(uint32_t) override { return false; }
  std::vector<flows::ForwardEntry> list() const override { return {}; }
};

// Every counter a distinct value, counted up from 1 in declaration order
// (the martian reasons are summed over the three flow types: their sums
// are distinct too).
stack::StackCounters known_counters() {
  uint64_t n = 0;
  stack::StackCounters c;
  c.tap.frames_in = ++n;
  c.tap.bytes_in = ++n;
  c.tap.read_errors = ++n;
  c.tap.drops.by_reason[static_cast<size_t>(wire::ParseError::kBadVnetHeader)] = ++n;
  // Summed with another counter in the reply: far from every other value,
  // so that no sum equals a counter of its own.
  c.tap.drops.by_reason[static_cast<size_t>(wire::ParseError::kTruncated)] = ++n * 1000;
  c.tx_sent = ++n;
  c.tx_bytes = ++n;
  c.tx_no_buffer = ++n * 1000;  // summed, as above
  auto& d = c.dispatch;
  d.frames = ++n;
  d.replies = ++n;
  d.no_reply = ++n;
  d.no_data_path = ++n;
  d.gso_frames = ++n;
  d.uso_frames = ++n;
  d.tx_full = ++n;
  d.dns_disabled = ++n;
  d.drops.by_reason[static_cast<size_t>(wire::ParseError::kTruncated)] = ++n;
  d.drops.by_reason[static_cast<size_t>(wire::ParseError::kBadChecksum)] = ++n;
  d.drops.by_reason[static_cast<size_t>(wire::ParseError::kMartianSource)] = ++n;
  auto& t = c.tcp;
  for (uint64_t* p : {&t.created,          &t.forwarded,         &t.closed,
                      &t.refused,          &t.unreachable,       &t.table_full,
                      &t.socket_errors,    &t.segments_in,       &t.bytes_to_host,
                      &t.segments_out,     &t.bytes_to_guest,    &t.retransmits,
                      &t.fast_retransmits, &t.partial_sends,     &t.out_of_order,
                      &t.resets_to_guest,  &t.resets_from_guest, &t.no_flow,
                      &t.late_fins,        &t.bad_checksum,      &t.bad_segment,
                      &t.timeouts,         &t.window_probes,     &t.window_timeouts,
                      &t.tx_full}) {
    *p = ++n;
  }
  for (auto& m : t.martians.by_reason) m = ++n;
  c.tcp_active = ++n;
  auto& u = c.udp;
  for (uint64_t* p : {&u.created, &u.expired, &u.to_host, &u.to_guest, &u.send_errors, &u.refused,
                      &u.socket_errors, &u.table_full, &u.unreachable, &u.too_big, &u.icmp_errors,
                      &u.reverse_created, &u.from_listener}) {
    *p = ++n;
  }
  for (auto& m : u.martians.by_reason) m = ++n;
  c.udp_active = ++n;
  auto& e = c.echo;
  for (uint64_t* p : {&e.created, &e.expired, &e.to_host, &e.to_guest, &e.prohibited,
                      &e.unreachable, &e.socket_errors, &e.table_full}) {
    *p = ++n;
  }
  for (auto& m : e.martians.by_reason) m = ++n;
  c.echo_active = ++n;
  c.echo_max = ++n;
  auto& f = c.forward;
  for (uint64_t* p : {&f.tcp_accepted, &f.tcp_refused, &f.accept_errors, &f.udp_datagrams,
                      &f.udp_dropped, &f.recv_errors, &f.waited_for_mac}) {
    *p = ++n;
  }
  c.forward_rules = ++n;
  dns::DnsStatsSnapshot s;
  for (uint64_t* p : {&s.queries, &s.cache_hits, &s.cache_misses, &s.cache_entries, &s.builtin,
                      &s.upstream_queries, &s.coalesced, &s.timeouts, &s.servfail, &s.formerr,
                      &s.dropped, &s.loops, &s.tcp_retries, &s.tcp_streams, &s.tcp_streams_total,
                      &s.routed, &s.local, &s.stale, &s.prefetch, &s.refreshes}) {
    *p = ++n;
  }
  for (const char* a : {"127.0.0.1:53", "[fe80::1%eth0]:53"}) {
    dns::UpstreamSnapshot up;
    up.address = a;
    if (!s.upstreams.empty()) up.route = "corp.example";  // a --dns-route set's
    for (uint64_t* p : {&up.queries, &up.replies, &up.timeouts, &up.loops, &up.latency_us}) {
      *p = ++n;
    }
    up.healthy = s.upstreams.empty();
    up.looping = !s.upstreams.empty();
    s.upstreams.push_back(up);
  }
  c.dns = s;
  return c;
}

std::string stats(const stack::StackCounters& c, const ApiStats* api, size_t clients) {
  NoTable table;
  ApiHandler h(table, wire::AddressPlan{}, [&] {
    stack::StatGroup t = stack::stats_table(c);
    if (api != nullptr) add_api_stats(t, *api, clients);
    return stats_json(t);
  });
  return h.handle(R"({"execute":"stats"})");
}

TEST(StatsReply, EveryCounterInItsPlace) {
  ApiStats a;
  uint64_t n = 1000;
  for (uint64_t* p :
       {&a.accepted, &a.requests, &a.busy, &a.refused, &a.timeouts, &a.too_large, &a.io_errors}) {
    *p = ++n;
  }
  EXPECT_EQ(
      stats(known_counters(), &a, 999),
      R"({"return":{"api":{"accepted":1001,"busy":1003,"clients":999,"refused":1004,)"
      R"("requests":1002,"timeouts":1005,"too_large":1006},"bytes":{"from_guest":2,"to_guest":7},)"
      R"("dns":{"builtin":100,"cache_entries":99,"cache_hits":97,"cache_misses":98,)"
      R"("coalesced":102,"dropped":106,"formerr":105,"local":112,"loops":107,"prefetch":114,)"
      R"("queries":96,"refreshes":115,"routed":111,"servfail":104,"stale":113,)"
      R"("tcp_retries":108,"tcp_streams":109,"tcp_streams_total":110,"timeouts":103,)"
      R"("upstream_queries":101,"upstreams":[{"address":"127.0.0.1:53","healthy":true,)"
      R"("latency_us":120,"looping":false,"loops":119,"queries":116,"replies":117,"route":"",)"
      R"("timeouts":118},{"address":"[fe80::1%eth0]:53","healthy":false,"latency_us":125,)"
      R"("looping":true,"loops":124,"queries":121,"replies":122,"route":"corp.example",)"
      R"("timeouts":123}]},)"
      R"("drops":{"dns_disabled":16,"forward_accept_errors":90,"forward_recv_errors":93,)"
      R"("forward_tcp_refused":89,"forward_udp_dropped":92,"icmp_prohibited":76,)"
      R"("icmp_socket_errors":78,"icmp_table_full":79,"icmp_unreachable":77,)"
      R"("malformed":{"bad_checksum":18,"bad_vnet_header":4,"martian_source":19,)"
      R"("truncated":5017},"martian":{"broadcast":199,"loopback":190,"multicast":196,)"
      R"("reserved":202,"unspecified":193,"v4_mapped":205},"no_data_path":12,"tap_read_errors":3,)"
      R"("tcp_bad_checksum":39,"tcp_bad_segment":40,"tcp_no_flow":37,"tcp_out_of_order":34,)"
      R"("tcp_refused":23,"tcp_resets_from_guest":36,"tcp_resets_to_guest":35,)"
      R"("tcp_socket_errors":26,"tcp_table_full":25,"tcp_timeouts":41,"tcp_unreachable":24,)"
      R"("tcp_window_timeouts":43,"tx_full":8015,"udp_refused":57,"udp_send_errors":56,)"
      R"("udp_socket_errors":58,"udp_table_full":59,"udp_too_big":61,"udp_unreachable":60},)"
      R"("flows":{"icmp_echo":{"active":86,"created":72,"expired":73,"max":87,"to_guest":75,)"
      R"("to_host":74},"port_forward":{"rules":95,"tcp_accepted":88,"udp_datagrams":91},)"
      R"("tcp":{"active":51,"bytes_to_guest":30,"bytes_to_host":28,"closed":22,"created":20,)"
      R"("fast_retransmits":32,"forwarded":21,"retransmits":31},"udp":{"active":71,"created":52,)"
      R"("expired":53,"from_forwarded_ports":64,"reverse_created":63,"to_guest":55,)"
      R"("to_host":54}},"frames":{"from_guest":1,"gso_from_guest":13,"service_replies":10,)"
      R"("to_guest":6}}})");
}

// No DNS forwarder (--disable-dns), no API server, nothing dropped, no
// upstream: those groups are left out or empty.
TEST(StatsReply, WithoutDnsAndApi) {
  stack::StackCounters c;
  c.tcp.created = 1;
  c.udp.martians.by_reason[1] = 2;
  EXPECT_EQ(
      stats(c, nullptr, 0),
      R"({"return":{"bytes":{"from_guest":0,"to_guest":0},"drops":{"dns_disabled":0,)"
      R"("forward_accept_errors":0,"forward_recv_errors":0,"forward_tcp_refused":0,)"
      R"("forward_udp_dropped":0,"icmp_prohibited":0,"icmp_socket_errors":0,"icmp_table_full":0,)"
      R"("icmp_unreachable":0,"malformed":{},"martian":{"broadcast":0,"loopback":0,"multicast":0,)"
      R"("reserved":0,"unspecified":2,"v4_mapped":0},"no_data_path":0,"tap_read_errors":0,)"
      R"("tcp_bad_checksum":0,"tcp_bad_segment":0,"tcp_no_flow":0,"tcp_out_of_order":0,)"
      R"("tcp_refused":0,"tcp_resets_from_guest":0,"tcp_resets_to_guest":0,"tcp_socket_errors":0,)"
      R"("tcp_table_full":0,"tcp_timeouts":0,"tcp_unreachable":0,"tcp_window_timeouts":0,)"
      R"("tx_full":0,"udp_refused":0,"udp_send_errors":0,"udp_socket_errors":0,)"
      R"("udp_table_full":0,"udp_too_big":0,"udp_unreachable":0},)"
      R"("flows":{"icmp_echo":{"active":0,"created":0,"expired":0,"max":0,"to_guest":0,)"
      R"("to_host":0},"port_forward":{"rules":0,"tcp_accepted":0,"udp_datagrams":0},)"
      R"("tcp":{"active":0,"bytes_to_guest":0,"bytes_to_host":0,"closed":0,"created":1,)"
      R"("fast_retransmits":0,"forwarded":0,"retransmits":0},"udp":{"active":0,"created":0,)"
      R"("expired":0,"from_forwarded_ports":0,"reverse_created":0,"to_guest":0,"to_host":0}},)"
      R"("frames":{"from_guest":0,"gso_from_guest":0,"service_replies":0,"to_guest":0}}})");
  c.dns = dns::DnsStatsSnapshot{};
  c.dns->queries = 3;
  EXPECT_EQ(
      stats(c, nullptr, 0),
      R"({"return":{"bytes":{"from_guest":0,"to_guest":0},"dns":{"builtin":0,"cache_entries":0,)"
      R"("cache_hits":0,"cache_misses":0,"coalesced":0,"dropped":0,"formerr":0,"local":0,)"
      R"("loops":0,"prefetch":0,"queries":3,"refreshes":0,"routed":0,"servfail":0,"stale":0,)"
      R"("tcp_retries":0,"tcp_streams":0,"tcp_streams_total":0,)"
      R"("timeouts":0,"upstream_queries":0,"upstreams":[]},"drops":{"dns_disabled":0,)"
      R"("forward_accept_errors":0,"forward_recv_errors":0,"forward_tcp_refused":0,)"
      R"("forward_udp_dropped":0,"icmp_prohibited":0,"icmp_socket_errors":0,"icmp_table_full":0,)"
      R"("icmp_unreachable":0,"malformed":{},"martian":{"broadcast":0,"loopback":0,"multicast":0,)"
      R"("reserved":0,"unspecified":2,"v4_mapped":0},"no_data_path":0,"tap_read_errors":0,)"
      R"("tcp_bad_checksum":0,"tcp_bad_segment":0,"tcp_no_flow":0,"tcp_out_of_order":0,)"
      R"("tcp_refused":0,"tcp_resets_from_guest":0,"tcp_resets_to_guest":0,"tcp_socket_errors":0,)"
      R"("tcp_table_full":0,"tcp_timeouts":0,"tcp_unreachable":0,"tcp_window_timeouts":0,)"
      R"("tx_full":0,"udp_refused":0,"udp_send_errors":0,"udp_socket_errors":0,)"
      R"("udp_table_full":0,"udp_too_big":0,"udp_unreachable":0},)"
      R"("flows":{"icmp_echo":{"active":0,"created":0,"expired":0,"max":0,"to_guest":0,)"
      R"("to_host":0},"port_forward":{"rules":0,"tcp_accepted":0,"udp_datagrams":0},)"
      R"("tcp":{"active":0,"bytes_to_guest":0,"bytes_to_host":0,"closed":0,"created":1,)"
      R"("fast_retransmits":0,"forwarded":0,"retransmits":0},"udp":{"active":0,"created":0,)"
      R"("expired":0,"from_forwarded_ports":0,"reverse_created":0,"to_guest":0,"to_host":0}},)"
      R"("frames":{"from_guest":0,"gso_from_guest":0,"service_replies":0,"to_guest":0}}})");
}

}  // namespace
}  // namespace tapir::app
