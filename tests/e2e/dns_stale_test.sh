#!/usr/bin/env bash
# e2e for issue 18 items 2, 3 and 5: serve-stale (--dns-stale-max),
# prefetch, and the JSON query log (--dns-log-format json). The upstream is
# the test's own dnsmasq in the test's private host namespace, stopped and
# continued (SIGSTOP/SIGCONT) to play an upstream that goes silent and
# comes back; tapir runs unprivileged.
#   dns_stale_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
for tool in dig dnsmasq socat jq python3; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test installs it)"
done
# The upstream listens on port 53 of the test's own loopback; the sysctl is
# per network namespace, so this touches nothing outside the test.
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53

e2e_run_cases dns_stale_cases.sh

e2e_report "e2e dns_stale"
