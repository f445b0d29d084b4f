#!/usr/bin/env bash
# e2e for the TCP translation (issue 5 "Tests"), with tapir running
# unprivileged in a private host namespace (TESTING.md):
#   tcp_test.sh /path/to/tapir        (tcpcheck and tcpgarbage from
#                                       $TAPIR_TCPCHECK, $TAPIR_TCPGARBAGE,
#                                       which ctest sets; see tests/e2e/tools)
# With TAPIR_NO_PEEK_OFF=1 (ctest's e2e.tcp_nopeekoff), tapir peeks as on
# kernels before 6.9.
# Here, as root: the world's side — IPv6 on the veth, the extra host
# addresses the --outbound-addr cases bind to, and the servers in the world
# namespace. The cases themselves run as the test user (tcp_cases.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"

TCPCHECK=${TAPIR_TCPCHECK:-}
[[ -x $TCPCHECK ]] || e2e_skip "tcpcheck not found (TAPIR_TCPCHECK=$TCPCHECK; ctest sets it)"
cp "$TCPCHECK" "$BIN/tcpcheck" && chmod 755 "$BIN/tcpcheck"
TCPGARBAGE=${TAPIR_TCPGARBAGE:-}
[[ -x $TCPGARBAGE ]] || e2e_skip "tcpgarbage not found (TAPIR_TCPGARBAGE=$TCPGARBAGE; ctest sets it)"
cp "$TCPGARBAGE" "$BIN/tcpgarbage" && chmod 755 "$BIN/tcpgarbage"

# IPv6 between host and world, and a default route, so tapir run gives the
# guest IPv6 (it does when the host has an IPv6 default route).
ip -n "$E2E_HNS" addr add 2001:db8::2/64 dev eth0 nodad
ip -n "$E2E_WNS" addr add 2001:db8::1/64 dev eth0 nodad
ip -n "$E2E_HNS" -6 route add default via 2001:db8::1
# --outbound-addr targets: a second address on eth0 (never the default
# source: IPv4 secondary, IPv6 deprecated), and an interface of its own,
# eth1 (a veth whose peer stays in the host namespace), routed back by the
# world through eth0.
ip -n "$E2E_HNS" addr add 192.0.2.3/24 dev eth0
ip -n "$E2E_HNS" addr add 2001:db8::3/64 dev eth0 nodad preferred_lft 0
ip -n "$E2E_HNS" link add eth1 type veth peer name eth1p
ip -n "$E2E_HNS" addr add 198.51.100.2/24 dev eth1
ip -n "$E2E_HNS" addr add 2001:db8:1::2/64 dev eth1 nodad
ip -n "$E2E_HNS" link set eth1 up
ip -n "$E2E_HNS" link set eth1p up
ip -n "$E2E_WNS" route add 198.51.100.0/24 via 192.0.2.2
ip -n "$E2E_WNS" -6 route add 2001:db8:1::/64 via 2001:db8::2

# The world's servers: the checked exchange (7000) and "who is calling"
# (7003, answers with the caller's address), IPv4 and IPv6.
ip netns exec "$E2E_WNS" "$BIN/tcpcheck" serve 192.0.2.1:7000 '[2001:db8::1]:7000' \
  >"$BIN/world.log" 2>&1 &
WORLD_SERVER=$!
ip netns exec "$E2E_WNS" "$BIN/tcpcheck" serve --tell-peer 192.0.2.1:7003 '[2001:db8::1]:7003' \
  >"$BIN/world-peer.log" 2>&1 &
WORLD_PEER=$!
E2E_ON_EXIT='kill $WORLD_SERVER $WORLD_PEER 2>/dev/null'
for _ in $(seq 100); do
  grep -q listening "$BIN/world.log" && grep -q listening "$BIN/world-peer.log" && break
  sleep 0.05
done

# TAPIR_TCP_ONLY="stream semantics garbage" runs only those sections (tcp_cases.sh).
printf %s "${TAPIR_TCP_ONLY:-}" >"$BIN/tcp_only"
e2e_run_cases tcp_cases.sh

# What the world's server saw of the connections that reached it.
kill -TERM "$WORLD_SERVER"
wait "$WORLD_SERVER" 2>/dev/null
# (A partial run, TAPIR_TCP_ONLY, may not have reached it at all.)
min='[1-9][0-9]*'; [[ -n ${TAPIR_TCP_ONLY:-} ]] && min='[0-9]+'
check "the world's server found every upload intact" \
  grep -Eq "^served $min ok, 0 failed" "$BIN/world.log" || cat "$BIN/world.log"

e2e_report "e2e tcp"
