#!/usr/bin/env bash
# e2e for issue 18 item 1: split DNS (--dns-route). Two local upstreams in
# the test's private host namespace play a corporate VPN's resolver and
# the ISP's; tapir runs unprivileged, and both upstreams count what they
# were asked, so "never reaches the ISP" is counted, not assumed.
#   dns_route_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
for tool in dig dnsmasq socat; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test installs it)"
done
# The upstreams listen on port 53 of the test's own loopback; the sysctl is
# per network namespace, so this touches nothing outside the test.
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53

e2e_run_cases dns_route_cases.sh

e2e_report "e2e dns_route"
