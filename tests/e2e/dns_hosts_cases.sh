#!/usr/bin/env bash
# Hosts files (issue 18), run by dns_hosts_test.sh as the unprivileged test
# user inside the test's host namespace. The upstream is the test's own
# dnsmasq on 127.0.0.1:53, answering every name under .test with
# 192.0.2.99 and logging each query, so an answer from a hosts file is
# told from the upstream's, and "never asked upstream" is counted.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_cases_begin dnshosts
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --address=/test/192.0.2.99 --local-ttl=300 --pid-file= \
  --log-queries --log-facility="$WORK/dnsmasq.log" 2>"$WORK/dnsmasq.err" &
PIDS+=($!)
upstream_up() { dig @127.0.0.1 +time=1 +tries=1 +short probe.test 2>/dev/null | grep -q 192.0.2.99; }
check "the test upstream (dnsmasq on 127.0.0.1) answers" wait_for upstream_up
asked() { grep -ci "query\[[A-Z]*\] $1 from" "$WORK/dnsmasq.log" 2>/dev/null; }

# --- a guest with --hosts-file, changed while tapir runs -------------------
printf '# test hosts\n192.0.2.30 files.test files\n2001:db8::30 files.test\n192.0.2.7 db.test\n' \
  >"$WORK/hosts"
e2e_guest_up
"$TAPIR" "${E2E_LOCK[@]}" -c --dns-upstream 127.0.0.1 --hosts-file "$WORK/hosts" --add-host db.test:192.0.2.77 \
  "$GUEST" tap0 >"$WORK/out" 2>"$WORK/err" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
tap_ready() { in_guest ip -4 addr show dev tap0 2>/dev/null | grep -q 10.0.2.100; }
wait_for tap_ready
d() { in_guest dig +time=3 +tries=1 @10.0.2.3 +short "$@" | tr '\n' ' '; }
check "a hosts-file name: A ($(d files.test A))" test "$(d files.test A)" = "192.0.2.30 "
check "... AAAA ($(d FILES.test AAAA))" test "$(d FILES.test AAAA)" = "2001:db8::30 "
check "... an alias ($(d files A))" test "$(d files A)" = "192.0.2.30 "
check "... PTR ($(d -x 192.0.2.30))" test "$(d -x 192.0.2.30)" = "files.test. "
check "--add-host wins over the file ($(d db.test A))" test "$(d db.test A)" = "192.0.2.77 "
check "other names still go upstream ($(d other.test A))" test "$(d other.test A)" = "192.0.2.99 "
check "the hosts-file names never reached the upstream" \
  test "$(asked files.test)" = 0 -a "$(asked db.test)" = 0
# Rewritten in place, then replaced by rename: each picked up without a
# restart. Waits on the event (the new answer), polling with dig.
printf '192.0.2.31 files.test\n' >"$WORK/hosts"
answers() { test "$(d "$1" A)" = "$2 "; }
check "rewrite in place: the new address is answered" wait_for answers files.test 192.0.2.31
printf '192.0.2.32 files.test\n192.0.2.33 renamed.test\n' >"$WORK/hosts.new"
mv "$WORK/hosts.new" "$WORK/hosts"
check "replace by rename: the new file is answered" wait_for answers renamed.test 192.0.2.33
check "... and the old entry went with it ($(d files.test A))" test "$(d files.test A)" = "192.0.2.32 "
check "... still without asking upstream" test "$(asked files.test)" = 0 -a "$(asked renamed.test)" = 0
check "each reload logged" grep -q 'dns: hosts files changed; 2 entries now' "$WORK/err"
check "tapir is still running" kill -0 "$TAPIR_PID"
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"

# --- /etc/hosts by default; --no-hosts --------------------------------------
# dns_hosts_test.sh put etc-hosts.test (and localhost) in the /etc/hosts this
# user sees: the test's own file, never the machine's.
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.1 -- dig +time=3 +tries=1 @10.0.2.3 +short etc-hosts.test \
  >"$WORK/default" 2>"$WORK/default.err"
check "/etc/hosts is read by default ($(cat "$WORK/default"))" test "$(cat "$WORK/default")" = 192.0.2.40
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.1 --no-hosts -- dig +time=3 +tries=1 @10.0.2.3 +short etc-hosts.test \
  >"$WORK/nohosts" 2>"$WORK/nohosts.err"
check "--no-hosts: the name goes upstream ($(cat "$WORK/nohosts"))" test "$(cat "$WORK/nohosts")" = 192.0.2.99
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.1 -- dig +time=3 +tries=1 @10.0.2.3 +short localhost.test localhost \
  >"$WORK/lo" 2>"$WORK/lo.err"
check "loopback entries are not served (localhost goes upstream: $(tr '\n' ' ' <"$WORK/lo"))" \
  test "$(grep -c '^127\.' "$WORK/lo")" = 0

e2e_report "dns_hosts (as $(id -un))"
