#include "stack/counters.hpp"

namespace tapir::stack {

StatGroup stats_table(const StackCounters& c) {
  const auto& es = c.tap;
  const auto& ds = c.dispatch;
  const auto& ts = c.tcp;
  const auto& us = c.udp;
  const auto& is = c.echo;
  const auto& fs = c.forward;
  constexpr Shown kDetail = Shown::kDetail;
  StatGroup t;

  StatGroup& frames = t.group("frames");
  frames.count("from_guest", es.frames_in);
  frames.count("to_guest", c.tx_sent);
  frames.count("service_replies", ds.replies);
  frames.count("gso_from_guest", ds.gso_frames);
  frames.count("dispatched", ds.frames, kDetail);
  frames.count("no_service_reply", ds.no_reply, kDetail);
  frames.count("uso_from_guest", ds.uso_frames, kDetail);

  StatGroup& bytes = t.group("bytes");
  bytes.count("from_guest", es.bytes_in);
  bytes.count("to_guest", c.tx_bytes);

  StatGroup& flows = t.group("flows");
  StatGroup& tcp = flows.group("tcp");
  tcp.count("active", c.tcp_active);
  tcp.count("created", ts.created);
  tcp.count("forwarded", ts.forwarded);
  tcp.count("closed", ts.closed);
  tcp.count("bytes_to_host", ts.bytes_to_host);
  tcp.count("bytes_to_guest", ts.bytes_to_guest);
  tcp.count("retransmits", ts.retransmits);
  tcp.count("fast_retransmits", ts.fast_retransmits);
  tcp.count("segments_in", ts.segments_in, kDetail);
  tcp.count("segments_out", ts.segments_out, kDetail);
  tcp.count("partial_sends", ts.partial_sends, kDetail);
  tcp.count("late_fins", ts.late_fins, kDetail);
  tcp.count("window_probes", ts.window_probes, kDetail);
  tcp.count("tx_full", ts.tx_full, kDetail);
  StatGroup& udp = flows.group("udp");
  udp.count("active", c.udp_active);
  udp.count("created", us.created);
  udp.count("reverse_created", us.reverse_created);
  udp.count("expired", us.expired);
  udp.count("to_host", us.to_host);
  udp.count("to_guest", us.to_guest);
  udp.count("from_forwarded_ports", us.from_listener);
  udp.count("icmp_errors_to_guest", us.icmp_errors, kDetail);
  StatGroup& echo = flows.group("icmp_echo");
  echo.count("active", c.echo_active);
  echo.count("max", c.echo_max);
  echo.count("created", is.created);
  echo.count("expired", is.expired);
  echo.count("to_host", is.to_host);
  echo.count("to_guest", is.to_guest);
  StatGroup& fwd = flows.group("port_forward");
  fwd.count("rules", c.forward_rules);
  fwd.count("tcp_accepted", fs.tcp_accepted);
  fwd.count("udp_datagrams", fs.udp_datagrams);
  fwd.count("waited_for_mac", fs.waited_for_mac, kDetail);

  StatGroup& drops = t.group("drops");
  // Malformed frames by reason, the tap's and the dispatcher's together;
  // only the reasons seen.
  StatGroup& malformed = drops.group("malformed");
  for (size_t i = 0; i < wire::kParseErrorCount; ++i) {
    const auto e = static_cast<wire::ParseError>(i);
    const uint64_t n = ds.drops[e] + es.drops[e];
    if (n != 0) malformed.count(wire::parse_error_name(e), n);
  }
  // Martian destinations (flows/nat.hpp), by reason, whichever protocol.
  StatGroup& martian = drops.group("martian");
  for (size_t i = 0; i < flows::kMartianCount; ++i) {
    const auto m = static_cast<flows::Martian>(i);
    martian.count(flows::martian_name(m), ts.martians[m] + us.martians[m] + is.martians[m]);
  }
  drops.count("no_data_path", ds.no_data_path);
  drops.count("tx_full", ds.tx_full + c.tx_no_buffer);
  drops.count("service_tx_full", ds.tx_full, kDetail);
  drops.count("tap_tx_no_buffer", c.tx_no_buffer, kDetail);
  drops.count("tap_read_errors", es.read_errors);
  drops.count("dns_disabled", ds.dns_disabled);
  drops.count("udp_send_errors", us.send_errors);
  drops.count("udp_refused", us.refused);
  drops.count("udp_socket_errors", us.socket_errors);
  drops.count("udp_table_full", us.table_full);
  drops.count("udp_unreachable", us.unreachable);
  drops.count("udp_too_big", us.too_big);
  drops.count("icmp_prohibited", is.prohibited);
  drops.count("icmp_unreachable", is.unreachable);
  drops.count("icmp_socket_errors", is.socket_errors);
  drops.count("icmp_table_full", is.table_full);
  drops.count("tcp_refused", ts.refused);
  drops.count("tcp_unreachable", ts.unreachable);
  drops.count("tcp_table_full", ts.table_full);
  drops.count("tcp_socket_errors", ts.socket_errors);
  drops.count("tcp_out_of_order", ts.out_of_order);
  drops.count("tcp_no_flow", ts.no_flow);
  drops.count("tcp_bad_checksum", ts.bad_checksum);
  drops.count("tcp_bad_segment", ts.bad_segment);
  drops.count("tcp_timeouts", ts.timeouts);
  drops.count("tcp_window_timeouts", ts.window_timeouts);
  drops.count("tcp_resets_to_guest", ts.resets_to_guest);
  drops.count("tcp_resets_from_guest", ts.resets_from_guest);
  drops.count("forward_tcp_refused", fs.tcp_refused);
  drops.count("forward_accept_errors", fs.accept_errors);
  drops.count("forward_udp_dropped", fs.udp_dropped);
  drops.count("forward_recv_errors", fs.recv_errors);

  if (c.dns) {
    const dns::DnsStatsSnapshot& d = *c.dns;
    StatGroup& g = t.group("dns");
    g.count("queries", d.queries);
    g.count("cache_hits", d.cache_hits);
    g.count("cache_misses", d.cache_misses);
    g.count("cache_entries", d.cache_entries);
    g.count("builtin", d.builtin);
    g.count("upstream_queries", d.upstream_queries);
    g.count("coalesced", d.coalesced);
    g.count("timeouts", d.timeouts);
    g.count("servfail", d.servfail);
    g.count("formerr", d.formerr);
    g.count("dropped", d.dropped);
    g.count("loops", d.loops);
    g.count("tcp_retries", d.tcp_retries);
    g.count("routed", d.routed);
    g.count("local", d.local);
    g.count("stale", d.stale);
    g.count("prefetch", d.prefetch);
    g.count("refreshes", d.refreshes);
    g.count("tcp_streams", d.tcp_streams);
    g.count("tcp_streams_total", d.tcp_streams_total);
    g.list("upstreams");
    for (const auto& u : d.upstreams) {
      StatGroup& up = g.add_item("upstreams");
      up.text("route", u.route);
      up.text("address", u.address);
      up.count("queries", u.queries);
      up.count("replies", u.replies);
      up.count("timeouts", u.timeouts);
      up.count("loops", u.loops);
      up.count("latency_us", u.latency_us);
      up.flag("healthy", u.healthy);
      up.flag("looping", u.looping);
    }
  }
  return t;
}

}  // namespace tapir::stack
