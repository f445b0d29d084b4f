#!/usr/bin/env bash
# e2e for martian destinations (issue 12 item 3): a guest with a raw socket
# aims TCP SYNs, UDP datagrams and echo requests at loopback, unspecified,
# multicast, broadcast and IPv4-mapped addresses; nothing may reach the
# host's loopback, whatever --disable-host-loopback says. tapir runs
# unprivileged in a private host namespace (TESTING.md).
#   martian_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"

# The martian tool (tests/e2e/tools); ctest sets TAPIR_MARTIAN.
[[ -x ${TAPIR_MARTIAN:-} ]] || e2e_skip "the martian tool is not built (ctest sets TAPIR_MARTIAN)"
cp "$TAPIR_MARTIAN" "$BIN/martian" && chmod 755 "$BIN/martian"

# An echo server in the world, for the transfer with --disable-host-loopback.
ip netns exec "$E2E_WNS" socat TCP4-LISTEN:7302,bind=192.0.2.1,fork,reuseaddr EXEC:cat &
WORLD_ECHO=$!
E2E_ON_EXIT='kill $WORLD_ECHO 2>/dev/null'

e2e_run_cases martian_cases.sh
e2e_report "e2e martian"
