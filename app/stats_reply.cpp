#include "app/stats_reply.hpp"

namespace tapir::app {

nlohmann::json stats_reply(const stack::StackCounters& c, const ApiStats* api, size_t api_clients) {
  using nlohmann::json;
  const auto& es = c.tap;
  const auto& ds = c.dispatch;
  const auto& us = c.udp;
  const auto& is = c.echo;
  const auto& fs = c.forward;
  json j;
  j["frames"] = {{"from_guest", es.frames_in},
                 {"to_guest", c.tx_sent},
                 {"service_replies", ds.replies},
                 {"gso_from_guest", ds.gso_frames}};
  j["bytes"] = {{"from_guest", es.bytes_in}, {"to_guest", c.tx_bytes}};
  const auto& ts = c.tcp;
  j["flows"] = {
      {"tcp",
       {{"active", c.tcp_active},
        {"created", ts.created},
        {"forwarded", ts.forwarded},
        {"closed", ts.closed},
        {"bytes_to_host", ts.bytes_to_host},
        {"bytes_to_guest", ts.bytes_to_guest},
        {"retransmits", ts.retransmits},
        {"fast_retransmits", ts.fast_retransmits}}},
      {"udp",
       {{"active", c.udp_active},
        {"created", us.created},
        {"reverse_created", us.reverse_created},
        {"expired", us.expired},
        {"to_host", us.to_host},
        {"to_guest", us.to_guest},
        {"from_forwarded_ports", us.from_listener}}},
      {"icmp_echo",
       {{"active", c.echo_active},
        {"max", c.echo_max},
        {"created", is.created},
        {"expired", is.expired},
        {"to_host", is.to_host},
        {"to_guest", is.to_guest}}},
      {"port_forward",
       {{"rules", c.forward_rules},
        {"tcp_accepted", fs.tcp_accepted},
        {"udp_datagrams", fs.udp_datagrams}}},
  };
  json malformed = json::object();
  for (size_t i = 0; i < wire::kParseErrorCount; ++i) {
    const auto e = static_cast<wire::ParseError>(i);
    const uint64_t n = ds.drops[e] + es.drops[e];
    if (n != 0) malformed[wire::parse_error_name(e)] = n;
  }
  // Martian destinations (flows/nat.hpp), by reason, whichever protocol.
  json martian = json::object();
  for (size_t i = 0; i < flows::kMartianCount; ++i) {
    const auto m = static_cast<flows::Martian>(i);
    martian[flows::martian_name(m)] = ts.martians[m] + us.martians[m] + is.martians[m];
  }
  j["drops"] = {
      {"malformed", malformed},
      {"martian", martian},
      {"no_data_path", ds.no_data_path},
      {"tx_full", ds.tx_full + c.tx_no_buffer},
      {"tap_read_errors", es.read_errors},
      {"dns_disabled", ds.dns_disabled},
      {"udp_send_errors", us.send_errors},
      {"udp_refused", us.refused},
      {"udp_socket_errors", us.socket_errors},
      {"udp_table_full", us.table_full},
      {"udp_unreachable", us.unreachable},
      {"udp_too_big", us.too_big},
      {"icmp_prohibited", is.prohibited},
      {"icmp_unreachable", is.unreachable},
      {"icmp_socket_errors", is.socket_errors},
      {"icmp_table_full", is.table_full},
      {"tcp_refused", ts.refused},
      {"tcp_unreachable", ts.unreachable},
      {"tcp_table_full", ts.table_full},
      {"tcp_socket_errors", ts.socket_errors},
      {"tcp_out_of_order", ts.out_of_order},
      {"tcp_no_flow", ts.no_flow},
      {"tcp_bad_checksum", ts.bad_checksum},
      {"tcp_bad_segment", ts.bad_segment},
      {"tcp_timeouts", ts.timeouts},
      {"tcp_window_timeouts", ts.window_timeouts},
      {"tcp_resets_to_guest", ts.resets_to_guest},
      {"tcp_resets_from_guest", ts.resets_from_guest},
      {"forward_tcp_refused", fs.tcp_refused},
      {"forward_accept_errors", fs.accept_errors},
      {"forward_udp_dropped", fs.udp_dropped},
      {"forward_recv_errors", fs.recv_errors},
  };
  if (c.dns) {
    const dns::DnsStatsSnapshot& d = *c.dns;
    json ups = json::array();
    for (const auto& u : d.upstreams) {
      ups.push_back({{"address", u.address},
                     {"queries", u.queries},
                     {"replies", u.replies},
                     {"timeouts", u.timeouts},
                     {"loops", u.loops},
                     {"latency_us", u.latency_us},
                     {"healthy", u.healthy},
                     {"looping", u.looping}});
    }
    j["dns"] = {{"queries", d.queries},
                {"cache_hits", d.cache_hits},
                {"cache_misses", d.cache_misses},
                {"cache_entries", d.cache_entries},
                {"builtin", d.builtin},
                {"upstream_queries", d.upstream_queries},
                {"coalesced", d.coalesced},
                {"timeouts", d.timeouts},
                {"servfail", d.servfail},
                {"formerr", d.formerr},
                {"dropped", d.dropped},
                {"loops", d.loops},
                {"tcp_retries", d.tcp_retries},
                {"tcp_streams", d.tcp_streams},
                {"tcp_streams_total", d.tcp_streams_total},
                {"upstreams", ups}};
  }
  if (api != nullptr) {
    const auto& a = *api;
    j["api"] = {{"clients", api_clients}, {"accepted", a.accepted}, {"requests", a.requests},
                {"busy", a.busy},         {"timeouts", a.timeouts}, {"too_large", a.too_large},
                {"refused", a.refused}};
  }
  return j;
}

}  // namespace tapir::app
