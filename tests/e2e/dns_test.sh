#!/usr/bin/env bash
# e2e for issue 7: the DNS forwarder answers the guest through local
# upstreams only (TESTING.md: never the machine's resolv.conf), with
# tapir running unprivileged in a private host namespace.
#   dns_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TAPIR=$(readlink -f "${1:?usage: dns_test.sh TAPIR}")
e2e_require_root
e2e_ensure_user
for tool in dig dnsmasq socat xxd; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test installs it)"
done
trap e2e_netns_down EXIT
e2e_netns_up || e2e_skip "cannot create the test namespaces"
# The user's upstreams listen on port 53 of the test's own loopback; the
# sysctl is per network namespace, so this touches nothing outside the test.
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53

BIN=$(mktemp -d /tmp/tapir-e2e-bin.XXXXXX)
trap 'e2e_netns_down; rm -rf "$BIN"' EXIT
cp "$TAPIR" "$BIN/tapir"; chmod 755 "$BIN" "$BIN/tapir"
TAPIR="$BIN/tapir"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cp "$HERE/lib.sh" "$HERE/dns_cases.sh" "$BIN/"
# dnsmasq lives in /usr/sbin, which is on e2e_as_user's PATH.
e2e_as_user bash "$BIN/dns_cases.sh" | tee "$BIN/user.log"
line=$(tail -1 "$BIN/user.log")
if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  E2E_PASSED=${BASH_REMATCH[1]}; E2E_FAILED=${BASH_REMATCH[2]}
else
  E2E_FAILED=1; echo "not ok - the user-side cases did not finish"
fi

e2e_report "e2e dns"
