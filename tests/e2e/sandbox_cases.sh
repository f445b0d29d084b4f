#!/usr/bin/env bash
# The sandbox and seccomp filter (issue 13), run by sandbox_test.sh as the
# unprivileged test user: tapir attaches to a guest with both on (and, as in
# every suite, TAPIR_SECCOMP_DEFAULT=kill), root inspects the walls from
# outside, and then traffic, a resolv.conf change and the control API must
# all still work behind them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_cases_begin sandbox
SHARE="/tmp/tapir-e2e-sandbox-$E2E_RUN_ID"
# Two upstreams: "before" answers .test with 192.0.2.99, "after" with .98.
for up in 127.0.0.1:192.0.2.99 127.0.0.2:192.0.2.98; do
  dnsmasq -k --no-resolv --no-hosts --listen-address="${up%%:*}" --bind-interfaces --port=53 \
    --address=/test/"${up#*:}" --pid-file= 2>>"$WORK/dnsmasq.err" &
  PIDS+=($!)
done
answers_at() { dig @"$1" +time=1 +tries=1 +short probe.test 2>/dev/null | grep -qx "$2"; }
check "the test upstreams answer" wait_for answers_at 127.0.0.1 192.0.2.99
wait_for answers_at 127.0.0.2 192.0.2.98
# A 4 MiB blob served on the host's loopback, fetched through the gateway.
head -c 4194304 /dev/urandom >"$WORK/blob"
socat TCP-LISTEN:18080,bind=127.0.0.1,reuseaddr,fork OPEN:"$WORK/blob",rdonly 2>/dev/null &
PIDS+=($!)
wait_for listening 18080
echo "nameserver 127.0.0.1" >"$WORK/resolv.conf"

# tapir run puts both walls up by default (this one without E2E_LOCK);
# --no-sandbox --no-seccomp take them down.
"$TAPIR" run --debug --dns-upstream 127.0.0.1 -- dig +time=3 +tries=1 @10.0.2.3 +short run.test \
  >"$WORK/run.out" 2>"$WORK/run.err"
check "tapir run: sandboxed by default" grep -q 'sandbox: root is a read-only tmpfs' "$WORK/run.err"
check "tapir run: filtered by default" grep -q 'seccomp: allowlist loaded' "$WORK/run.err"
check "tapir run: ... and DNS works behind both ($(cat "$WORK/run.out"))" \
  test "$(cat "$WORK/run.out")" = 192.0.2.99
"$TAPIR" run --debug --no-sandbox --no-seccomp -- true 2>"$WORK/norun.err"
check "tapir run --no-sandbox --no-seccomp: neither" \
  sh -c "! grep -qE 'sandbox: root|seccomp: allowlist' '$WORK/norun.err'"

e2e_guest_up
"$TAPIR" "${E2E_LOCK[@]}" --debug -c --resolv-conf "$WORK/resolv.conf" -a "$WORK/api.sock" \
  "$GUEST" tap0 >"$WORK/out" 2>"$WORK/err" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
locked() { grep -q 'seccomp: allowlist loaded' "$WORK/err"; }
tap_ready() { in_guest ip -4 addr show dev tap0 2>/dev/null | grep -q 10.0.2.100; }
check "tapir attached, sandboxed and filtered" wait_for locked
wait_for tap_ready
check "... and says so in its log" grep -q 'sandbox: root is a read-only tmpfs with /etc, /run, '"$WORK" "$WORK/err"

# Root's findings, from outside.
echo "$WORK" >"$SHARE/work"
echo "$TAPIR_PID" >"$SHARE/pid"
wait_for test -e "$SHARE/done"
while IFS= read -r line; do
  desc=${line#ok - }; desc=${desc#not ok - }
  check "$desc" test "${line%% - *}" = ok
done <"$SHARE/walls"

# Traffic behind the walls.
in_guest socat -T 30 -u TCP:10.0.2.2:18080 CREATE:"$WORK/got" 2>"$WORK/socat.err"
check "a 4 MiB download through the gateway arrives intact (sha256)" \
  test "$(sha256sum <"$WORK/blob")" = "$(sha256sum <"$WORK/got" 2>/dev/null)"
d() { in_guest dig +time=3 +tries=1 @10.0.2.3 +short "$@"; }
check "DNS through the forwarder ($(d one.test A))" test "$(d one.test A)" = 192.0.2.99
echo "nameserver 127.0.0.2" >"$WORK/resolv.conf.new"
mv "$WORK/resolv.conf.new" "$WORK/resolv.conf"
answers() { test "$(d "$1" A)" = "$2"; }
check "a resolv.conf replaced by rename is re-read inside the sandbox" wait_for answers two.test 192.0.2.98

# The API: a new forward binds a new port (no path needed).
api() { printf '%s' "$1" | socat -t 5 -T 10 - "UNIX-CONNECT:$WORK/api.sock" 2>/dev/null; }
in_guest socat -T 10 TCP-LISTEN:8080,reuseaddr SYSTEM:'echo behind-the-walls' 2>/dev/null &
PIDS+=($!)
in_listening() { in_guest ss -Hltn 'sport = :8080' | grep -q .; }
wait_for in_listening
reply=$(api '{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"127.0.0.1","host_port":18081,"guest_port":8080}}')
check "add_hostfwd through the API ($reply)" grep -q '"id"' <<<"$reply"
got=$(socat -T 10 - TCP:127.0.0.1:18081 </dev/null 2>/dev/null)
check "... and the new port reaches the guest ($got)" test "$got" = behind-the-walls

check "tapir is still running" kill -0 "$TAPIR_PID"
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"
check "SIGTERM: tapir exits 0" test $? = 0
check "nothing failed with EPERM along the way" sh -c "! grep -i 'operation not permitted' '$WORK/err'"

e2e_report "sandbox (as $(id -un))"
