#!/usr/bin/env bash
# Serve-stale, prefetch and the JSON query log (issue 18), run by
# dns_stale_test.sh as the unprivileged test user inside the test's host
# namespace. The upstream is the test's own dnsmasq on 127.0.0.1:53,
# logging every query, with two records of short TTLs of their own:
#   popular.test  192.0.2.60, TTL 20: asked over and over, it is prefetched
#                 in the last 2 s of its TTL and never misses the cache
#   stale.test    192.0.2.50, TTL 2: the upstream is stopped (SIGSTOP),
#                 the entry expires, and tapir answers it stale (TTL 30);
#                 continued (SIGCONT), fresh answers come back
# Every step waits on an event (an answer, a counter in the API's stats, a
# log line), never on a fixed time; wait_for's ceiling only guards a hang.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_cases_begin dnsstale
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --host-record=popular.test,192.0.2.60,20 --host-record=stale.test,192.0.2.50,2 \
  --address=/probe.test/192.0.2.99 --local-ttl=300 --pid-file= \
  --log-queries --log-facility="$WORK/dnsmasq.log" 2>"$WORK/dnsmasq.err" &
DNSMASQ=$!; PIDS+=("$DNSMASQ")
upstream_up() { dig @127.0.0.1 +time=1 +tries=1 +short probe.test 2>/dev/null | grep -q 192.0.2.99; }
check "the test upstream (dnsmasq on 127.0.0.1) answers" wait_for upstream_up
asked() { grep -ci "query\[A\] $1 from" "$WORK/dnsmasq.log" 2>/dev/null; }

API=$WORK/api.sock
e2e_guest_up
"$TAPIR" "${E2E_LOCK[@]}" -c --dns-upstream 127.0.0.1 --no-hosts --dns-log --dns-log-format json -a "$API" \
  "$GUEST" tap0 >"$WORK/out" 2>"$WORK/err" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
tap_ready() { in_guest ip -4 addr show dev tap0 2>/dev/null | grep -q 10.0.2.100; }
wait_for tap_ready
# dns COUNTER: the counter from the API's stats.
dns() { printf '{"execute":"stats"}' | socat -t 5 -T 10 - "UNIX-CONNECT:$API" 2>/dev/null | jq -r ".return.dns.$1"; }
# answer NAME: "ADDRESS TTL" of the guest's answer (dig waits out tapir's
# 2.5 s deadline for a stale one).
answer() { in_guest dig +time=5 +tries=1 @10.0.2.3 +noall +answer "$1" A | awk '$4 == "A" {print $5, $2}'; }

# --- prefetch: popular.test (TTL 20) asked until it is refreshed -----------
check "popular.test answered ($(answer popular.test))" \
  test "$(answer popular.test | cut -d' ' -f1)" = 192.0.2.60
misses=$(dns cache_misses)
asked_before=$(asked popular.test)
# Each poll is a guest query answered from the cache; the one in the
# last 2 s of the TTL starts the prefetch.
prefetched() { test "$(answer popular.test | cut -d' ' -f1)" = 192.0.2.60 && test "$(dns prefetch)" -ge 1; }
check "prefetch: asked again near expiry, popular.test was prefetched" wait_for prefetched
upstream_asked() { test "$(asked popular.test)" -gt "$asked_before"; }
check "... which the upstream saw before the entry expired" wait_for upstream_asked
refreshed() { test "$(answer popular.test | cut -d' ' -f2)" -ge 10; }
check "... and the cached TTL went back up ($(answer popular.test))" wait_for refreshed
check "... while the guest never missed the cache (misses $misses -> $(dns cache_misses))" \
  test "$(dns cache_misses)" = "$misses"
check "... counted once (dns.prefetch $(dns prefetch))" test "$(dns prefetch)" = 1

# --- the JSON query log ----------------------------------------------------
json_line() { grep -m1 '"name":"popular.test".*"outcome":"upstream"' "$WORK/err"; }
check "--dns-log-format json: a line for the upstream answer" test -n "$(json_line)"
check "... that is one JSON object with time, client, name, type, outcome, upstream, latency" \
  python3 -c '
import json, re, sys
o = json.loads(sys.argv[1])
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o
assert re.fullmatch(r"10\.0\.2\.100:\d+", o["client"]), o
assert o["name"] == "popular.test" and o["type"] == 1 and o["rcode"] == 0, o
assert o["upstream"] == "127.0.0.1:53" and o["latency_ms"] >= 0, o
' "$(json_line)"
check "... and cache hits logged as such" grep -q '"name":"popular.test".*"outcome":"cache"' "$WORK/err"
check "... and no text lines for answers" test "$(grep -c 'dns: 10.0.2.100' "$WORK/err")" = 0
# A name with a quote, a backslash and a non-ASCII byte (dig's \DDD input):
# still one valid JSON line, the bytes escaped.
in_guest dig +time=3 +tries=1 @10.0.2.3 +short 'q\"\\\195.probe.test' A >/dev/null
odd_line() { grep -m1 -F '"name":"q\"\\\\\u00c3.probe.test"' "$WORK/err"; }
has_odd_line() { test -n "$(odd_line)"; }
check "... a name with \" \\ and a non-ASCII byte is escaped" wait_for has_odd_line
check "... and parses back to those bytes" python3 -c '
import json, sys
assert json.loads(sys.argv[1])["name"] == "q\"\\\\\u00c3.probe.test"' "$(odd_line)"

# --- serve-stale: stale.test (TTL 2), upstream stopped, then back ----------
check "stale.test answered fresh ($(answer stale.test))" \
  test "$(answer stale.test | cut -d' ' -f1)" = 192.0.2.50
kill -STOP "$DNSMASQ"
# Until the entry expires the cache answers (TTL 2 or less); then the query
# fails upstream and the stale answer comes, with TTL 30.
stale_answer() { test "$(answer stale.test)" = "192.0.2.50 30"; }
check "upstream silent: stale.test answered stale with TTL 30" wait_for stale_answer
check "... counted (dns.stale $(dns stale))" test "$(dns stale)" -ge 1
check "... and logged as stale" grep -q '"name":"stale.test".*"outcome":"stale"' "$WORK/err"
check "... never SERVFAIL (dns.servfail $(dns servfail))" test "$(dns servfail)" = 0
kill -CONT "$DNSMASQ"
# Back: the stale answers keep coming at once while the background refresh
# asks the upstream; then the fresh entry (TTL 2 or less) answers.
fresh_answer() { a=$(answer stale.test); test "${a% *}" = 192.0.2.50 -a "${a#* }" -le 2; }
check "upstream back: fresh answers again (TTL <= 2)" wait_for fresh_answer
check "... after a background refresh (dns.refreshes $(dns refreshes))" test "$(dns refreshes)" -ge 1
check "tapir is still running" kill -0 "$TAPIR_PID"
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"

# --- --dns-stale-max 0: SERVFAIL as before ------------------------------------
e2e_guest_up
"$TAPIR" "${E2E_LOCK[@]}" -c --dns-upstream 127.0.0.1 --no-hosts --dns-stale-max 0 "$GUEST" tap0 \
  >"$WORK/out0" 2>"$WORK/err0" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
wait_for tap_ready
check "--dns-stale-max 0: stale.test answered fresh ($(answer stale.test))" \
  test "$(answer stale.test | cut -d' ' -f1)" = 192.0.2.50
kill -STOP "$DNSMASQ"
status() { in_guest dig +time=5 +tries=1 @10.0.2.3 +noall +comments stale.test A | sed -nE 's/.*status: ([A-Z]+),.*/\1/p'; }
servfail() { test "$(status)" = SERVFAIL; }
check "... upstream silent: SERVFAIL once the entry expired" wait_for servfail
kill -CONT "$DNSMASQ"
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"

# --- bad values: one line naming the option and the value ------------------
for bad in "--dns-stale-max -1" "--dns-stale-max 1x" "--dns-log-format xml"; do
  rc=0
  # shellcheck disable=SC2086  # the option and its value, split on purpose
  "$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.1 $bad -- true >/dev/null 2>"$WORK/bad.err" || rc=$?
  opt=${bad% *}; val=${bad#* }
  check "$bad refused with one line ($(head -1 "$WORK/bad.err"))" \
    test "$rc" -ne 0 -a "$(wc -l <"$WORK/bad.err")" = 1 -a \
    "$(grep -c "^tapir: invalid $opt \"$val\": " "$WORK/bad.err")" = 1
done

e2e_report "dns_stale (as $(id -un))"
