#!/usr/bin/env bash
# e2e for issue 7: the DNS forwarder answers the guest through local
# upstreams only (TESTING.md: never the machine's resolv.conf), with
# tapir running unprivileged in a private host namespace.
#   dns_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
for tool in dig dnsmasq socat xxd; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test installs it)"
done
# The user's upstreams listen on port 53 of the test's own loopback; the
# sysctl is per network namespace, so this touches nothing outside the test.
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53

# dnsmasq lives in /usr/sbin, which is on e2e_as_user's PATH.
e2e_run_cases dns_cases.sh

e2e_report "e2e dns"
