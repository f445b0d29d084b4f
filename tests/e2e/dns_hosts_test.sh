#!/usr/bin/env bash
# e2e for issue 18 item 2: hosts files (/etc/hosts by default,
# --hosts-file, --no-hosts) answered by the DNS forwarder with live
# reload, tapir unprivileged in the test's private host namespace.
#   dns_hosts_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
for tool in dig dnsmasq; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test installs it)"
done
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53
# What tapir finds as /etc/hosts (lib.sh binds the test's own file there).
printf '127.0.0.1 localhost\n192.0.2.40 etc-hosts.test\n' >>"$E2E_HOSTS"

e2e_run_cases dns_hosts_cases.sh

e2e_report "e2e dns_hosts"
