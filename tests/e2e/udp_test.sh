#!/usr/bin/env bash
# e2e for UDP flows (issue 6, first part), with
# tapir running unprivileged in a private host namespace (TESTING.md).
#   services_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TAPIR=$(readlink -f "${1:?usage: services_test.sh TAPIR}")
e2e_require_root
e2e_ensure_user
trap e2e_netns_down EXIT
e2e_netns_up || e2e_skip "cannot create the test namespaces"

# The user must be able to run the binary from the build tree.
BIN=$(mktemp -d /tmp/tapir-e2e-bin.XXXXXX)
trap 'e2e_netns_down; rm -rf "$BIN"' EXIT
cp "$TAPIR" "$BIN/tapir"; chmod 755 "$BIN" "$BIN/tapir"
TAPIR="$BIN/tapir"

# The world's UDP echo server (192.0.2.1:7001), as root in the world netns.
ip netns exec "$E2E_WNS" socat -b 70000 UDP4-RECVFROM:7001,bind=192.0.2.1,fork EXEC:cat &
WORLD_ECHO=$!
trap 'kill $WORLD_ECHO 2>/dev/null; e2e_netns_down; rm -rf "$BIN"' EXIT

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cp "$HERE/lib.sh" "$HERE/udp_cases.sh" "$BIN/"
e2e_as_user bash "$BIN/udp_cases.sh" | tee "$BIN/user.log"
line=$(tail -1 "$BIN/user.log")
if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  E2E_PASSED=${BASH_REMATCH[1]}; E2E_FAILED=${BASH_REMATCH[2]}
else
  E2E_FAILED=1; echo "not ok - the user-side cases did not finish"
fi

# Ping sockets forbidden (ping_group_range "1 0", in the test's host
# namespace only): the guest is told "administratively prohibited".
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ping_group_range="1 0"
out=$(e2e_as_user "$TAPIR" run -- ping -c1 -W3 192.0.2.1 2>&1)
check "ping sockets forbidden: the guest's ping is answered 'prohibited', not silence" \
  grep -qi 'prohibited' <<<"$out"
check "... and tapir says why in its log" grep -q 'ping_group_range' <<<"$out"
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

e2e_report "e2e udp"
