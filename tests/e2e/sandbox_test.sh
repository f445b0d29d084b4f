#!/usr/bin/env bash
# e2e for issue 13: the walls --enable-sandbox and --enable-seccomp put up
# around a running tapir, seen from outside (root reads what the process
# itself no longer may), while the unprivileged user side checks that
# traffic, DNS reload and the control API still work behind them.
#   sandbox_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
e2e_tapir_sanitized && e2e_skip "a sanitizer build of tapir: its runtime's leak check at exit needs what the walls forbid (lib.sh E2E_LOCK); the release build runs this suite"
for tool in dig dnsmasq socat getpcaps; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test installs it)"
done
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53
# Where the two sides meet: the user side writes tapir's PID and its work
# directory, root writes its findings as TAP lines and then "done".
SHARE="/tmp/tapir-e2e-sandbox-$E2E_RUN_ID"
mkdir -m 0755 "$SHARE" && chown "$E2E_UID:$E2E_GID" "$SHARE"
E2E_ON_EXIT='rm -rf "$SHARE"'

# One finding: "ok - DESC" or "not ok - DESC (what was seen)".
finding() {
  local desc=$1 seen=$2; shift 2
  if "$@"; then echo "ok - $desc"; else echo "not ok - $desc (seen: $seen)"; fi >>"$SHARE/walls"
}
inspect() {
  wait_for test -s "$SHARE/pid" || { echo "not ok - no tapir PID from the user side" >>"$SHARE/walls"; return; }
  local pid work status root caps tmpdirs
  pid=$(cat "$SHARE/pid"); work=$(cat "$SHARE/work")
  status=$(cat "/proc/$pid/status")
  finding "seccomp filter on (Seccomp: 2)" "$(grep '^Seccomp:' <<<"$status")" \
    grep -Eq '^Seccomp:[[:space:]]+2$' <<<"$status"
  finding "no new privileges (NoNewPrivs: 1)" "$(grep '^NoNewPrivs:' <<<"$status")" \
    grep -Eq '^NoNewPrivs:[[:space:]]+1$' <<<"$status"
  caps=$(getpcaps "$pid" 2>&1)
  finding "getpcaps shows only cap_net_bind_service" "$caps" test "$caps" = "$pid: cap_net_bind_service=ep"
  finding "bounding set: cap_net_bind_service only (CapBnd 0x400)" "$(grep '^CapBnd:' <<<"$status")" \
    grep -Eq '^CapBnd:[[:space:]]+0000000000000400$' <<<"$status"
  # (proc(5): a process that is not dumpable has its /proc/PID files, but
  # not the directory itself, owned by root.)
  finding "not dumpable: /proc/PID/environ belongs to root, tapir to the test user" \
    "$(stat -c %u "/proc/$pid/environ") $(awk '/^Uid:/ {print $2}' <<<"$status")" \
    test "$(stat -c %u "/proc/$pid/environ")" = 0 -a "$(awk '/^Uid:/ {print $2}' <<<"$status")" = "$E2E_UID"
  root=$(ls -A "/proc/$pid/root" | tr '\n' ' ')
  # /etc and /run, and /tmp only for the --resolv-conf directory in it.
  finding "the root holds only etc, run and the resolv.conf directory's tmp" "$root" \
    test "$root" = "etc run tmp "
  tmpdirs=$(cd "/proc/$pid/root" && find tmp -mindepth 1 -maxdepth 1 | tr '\n' ' ')
  finding "... tmp holds only that directory" "$tmpdirs" test "$tmpdirs" = "${work#/} "
  finding "... no /home, /root, /var" "$root" \
    test ! -e "/proc/$pid/root/home" -a ! -e "/proc/$pid/root/root" -a ! -e "/proc/$pid/root/var"
  finding "... and it is read-only" "a file could be created" \
    sh -c "! touch /proc/$pid/root/.probe 2>/dev/null"
  finding "the kept /etc is the one tapir saw (the test's hosts file)" "" \
    cmp -s "/proc/$pid/root/etc/hosts" "$E2E_HOSTS"
  touch "$SHARE/done"
}
inspect &
INSPECT=$!

e2e_run_cases sandbox_cases.sh
wait "$INSPECT"

e2e_report "e2e sandbox"
