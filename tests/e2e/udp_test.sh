#!/usr/bin/env bash
# e2e for UDP flows and ping to other hosts (issue 6, first part), with
# tapir running unprivileged in a private host namespace (TESTING.md).
#   udp_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"

# IPv6 between the host and world namespaces (documentation prefix), so
# tapir run turns IPv6 on (the host has an IPv6 default route).
ip -n "$E2E_HNS" addr add 2001:db8::2/64 dev eth0 nodad
ip -n "$E2E_WNS" addr add 2001:db8::1/64 dev eth0 nodad
ip -n "$E2E_HNS" -6 route add default via 2001:db8::1

# The world's UDP echo servers, as root in the world netns: socat for
# single datagrams (7001) and udpstream's for the streams (7003).
ip netns exec "$E2E_WNS" socat -b 70000 UDP4-RECVFROM:7001,bind=192.0.2.1,fork EXEC:cat &
WORLD_ECHO=$!
ip netns exec "$E2E_WNS" socat -b 70000 'UDP6-RECVFROM:7001,bind=[2001:db8::1],fork' EXEC:cat &
WORLD_ECHO6=$!
if [[ -x ${TAPIR_UDPSTREAM:-} ]]; then
  cp "$TAPIR_UDPSTREAM" "$BIN/udpstream" && chmod 755 "$BIN/udpstream"
  ip netns exec "$E2E_WNS" "$BIN/udpstream" --echo 192.0.2.1 7003 &
  ip netns exec "$E2E_WNS" "$BIN/udpstream" --echo 2001:db8::1 7003 &
fi
E2E_ON_EXIT='kill $WORLD_ECHO $WORLD_ECHO6 2>/dev/null; ip netns pids "$E2E_WNS" | xargs -r kill 2>/dev/null'

# udpgso (tests/e2e/tools) for the UDP_SEGMENT case; ctest sets TAPIR_UDPGSO.
if [[ -x ${TAPIR_UDPGSO:-} ]]; then
  cp "$TAPIR_UDPGSO" "$BIN/udpgso" && chmod 755 "$BIN/udpgso"
fi

e2e_run_cases udp_cases.sh

# Ping sockets forbidden (ping_group_range "1 0", in the test's host
# namespace only): the guest is told "administratively prohibited".
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ping_group_range="1 0"
out=$(e2e_as_user "$TAPIR" run "${E2E_LOCK[@]}" -- ping -c1 -W3 192.0.2.1 2>&1)
check "ping sockets forbidden: the guest's ping is answered 'prohibited', not silence" \
  grep -qi 'prohibited' <<<"$out"
check "... and tapir says why in its log" grep -q 'ping_group_range' <<<"$out"
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"

e2e_report "e2e udp"
