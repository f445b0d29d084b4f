#!/usr/bin/env bash
# e2e for port forwarding (-p) and the control API (-a), issue 6, with
# tapir running unprivileged in a private host namespace (TESTING.md).
#   fwd_test.sh /path/to/tapir
#
# A client in the world namespace: the user-side cases cannot enter it, so
# two relays run there as root. A datagram to 192.0.2.1:7100 is sent on
# from the world (source 192.0.2.1) to the host's 192.0.2.2:17055, a
# connection to 192.0.2.1:7101 is made on to 192.0.2.2:17082, and the
# answers come back the same way: through them the guest's servers meet a
# client with a real, non-loopback address.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
# tcpcheck sends urgent data to a published port ($TAPIR_TCPCHECK, which
# ctest sets; that case is skipped without it). With TAPIR_NO_PEEK_OFF=1
# (ctest's e2e.fwd_nopeekoff), tapir peeks as on kernels before 6.9.
if [[ -x ${TAPIR_TCPCHECK:-} ]]; then
  cp "$TAPIR_TCPCHECK" "$BIN/tcpcheck" && chmod 755 "$BIN/tcpcheck"
fi

# (A script, because socat's address syntax would split a command line at its colons.)
printf '#!/bin/sh\nexec socat -T 3 - UDP4:192.0.2.2:17055\n' >"$BIN/world-udp-relay"
chmod 755 "$BIN/world-udp-relay"
ip netns exec "$E2E_WNS" socat -T 5 UDP4-RECVFROM:7100,bind=192.0.2.1,fork EXEC:"$BIN/world-udp-relay" &
WORLD_UDP=$!
ip netns exec "$E2E_WNS" socat TCP4-LISTEN:7101,bind=192.0.2.1,fork,reuseaddr TCP4:192.0.2.2:17082 &
WORLD_TCP=$!
E2E_ON_EXIT='kill $WORLD_UDP $WORLD_TCP 2>/dev/null'
# unixflood (tests/e2e/tools): the API client that never stops writing.
if [[ -x ${TAPIR_UNIXFLOOD:-} ]]; then
  cp "$TAPIR_UNIXFLOOD" "$BIN/unixflood" && chmod 755 "$BIN/unixflood"
fi

e2e_run_cases fwd_cases.sh
e2e_report "e2e fwd"
