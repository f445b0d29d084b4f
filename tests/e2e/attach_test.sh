#!/usr/bin/env bash
# e2e for issue 3: every attach mode, the lifecycle and bad input, with
# tapir running unprivileged in a private host namespace (TESTING.md).
#   attach_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TAPIR=$(readlink -f "${1:?usage: attach_test.sh TAPIR}")
e2e_require_root
e2e_ensure_user
trap e2e_netns_down EXIT
e2e_netns_up || e2e_skip "cannot create the test namespaces"

# The user must be able to run the binary from the build tree.
BIN=$(mktemp -d /tmp/tapir-e2e-bin.XXXXXX)
trap 'e2e_netns_down; rm -rf "$BIN"' EXIT
cp "$TAPIR" "$BIN/tapir"; chmod 755 "$BIN" "$BIN/tapir"
TAPIR="$BIN/tapir"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cp "$HERE/lib.sh" "$HERE/attach_cases.sh" "$BIN/"
e2e_as_user bash "$BIN/attach_cases.sh" | tee "$BIN/user.log"
line=$(tail -1 "$BIN/user.log")
if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  E2E_PASSED=${BASH_REMATCH[1]}; E2E_FAILED=${BASH_REMATCH[2]}
else
  E2E_FAILED=1; echo "not ok - the user-side cases did not finish"
fi

# /dev/net/tun not accessible: a private mount namespace where the device
# node is replaced by a root-only file, so the machine's node is untouched.
install -m 0600 /dev/null "$BIN/no-tun"
err=$(unshare --mount bash -c "mount --bind '$BIN/no-tun' /dev/net/tun && \
  mount --bind '$E2E_RESOLV' /etc/resolv.conf && \
  nsenter --net=/run/netns/$E2E_HNS -- setpriv --reuid=$E2E_UID --regid=$E2E_GID --init-groups \
  bash -c 'unshare -rn sleep 30 & G=\$!; sleep 0.3; $TAPIR \$G tap0; rc=\$?; kill \$G; exit \$rc'" 2>&1)
rc=$?
check "bad input, /dev/net/tun not accessible: exit 1" test "$rc" = 1
check "bad input, /dev/net/tun not accessible: says so in one line" \
  bash -c '[[ $(wc -l <<<"$1") == 1 && "$1" == *"/dev/net/tun"*"Permission denied"* ]]' _ "$err"

e2e_report "e2e attach"
