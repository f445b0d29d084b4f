#!/usr/bin/env bash
# e2e for issue 3: every attach mode, the lifecycle and bad input, with
# tapir running unprivileged in a private host namespace (TESTING.md).
#   attach_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"

# A user namespace of root's, its nsfs file bind-mounted where the test
# user can open it (a bind-mounted namespace file needs no ptrace access)
# but not join it (no CAP_SYS_ADMIN there): the unjoinable --userns-path.
unshare --user sleep 600 &
ROOT_USERNS_PID=$!
for _ in $(seq 100); do
  [[ $(readlink /proc/$ROOT_USERNS_PID/ns/user 2>/dev/null) != "$(readlink /proc/self/ns/user)" ]] && break
  sleep 0.05
done
touch "$BIN/root-userns"
mount --bind "/proc/$ROOT_USERNS_PID/ns/user" "$BIN/root-userns" || rm -f "$BIN/root-userns"
E2E_ON_EXIT='umount "$BIN/root-userns" 2>/dev/null; kill $ROOT_USERNS_PID 2>/dev/null'

e2e_run_cases attach_cases.sh

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
