#!/usr/bin/env bash
# The DNS forwarder (issue 7), run by dns_test.sh as the unprivileged test
# user inside the test's host namespace. Upstreams are local and the
# test's own: dnsmasq on 127.0.0.1:53 with test records (it logs every
# query it gets, so cache hits can be counted), and a silent "upstream" on
# 127.0.0.2:53 (socat receiving and never answering) for failover.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_cases_begin dns


dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --address=/example.test/192.0.2.10 --address=/example.test/2001:db8::10 \
  --address=/missing.test/ --local-ttl=300 --pid-file= \
  --log-queries --log-facility="$WORK/dnsmasq.log" 2>"$WORK/dnsmasq.err" &
PIDS+=($!)
# Each datagram it receives adds a line to dead.count (and nothing answers).
: >"$WORK/dead.count"
socat -u UDP4-RECVFROM:53,bind=127.0.0.2,fork SYSTEM:"echo q >>$WORK/dead.count" \
  2>"$WORK/socat.err" &
PIDS+=($!)
# (probe.example.test: the cache check below counts the queries for example.test itself)
upstream_up() { dig @127.0.0.1 +time=1 +tries=1 +short probe.example.test 2>/dev/null | grep -q 192.0.2.10; }
check "the test upstream (dnsmasq on 127.0.0.1) answers" wait_for upstream_up
queries() { grep -c "query\[$1\] $2 from" "$WORK/dnsmasq.log" 2>/dev/null; }

# --- guest 1: upstream from a resolv.conf of the test's own ------------------
printf '# test resolv.conf\nnameserver 127.0.0.1\nsearch test\n' >"$WORK/resolv.conf"
e2e_guest_up
"$TAPIR" "${E2E_LOCK[@]}" --debug -c -6 --resolv-conf "$WORK/resolv.conf" --dns-log "$GUEST" tap0 \
  >"$WORK/out" 2>"$WORK/err" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
tap_ready() { in_guest ip -4 addr show dev tap0 2>/dev/null | grep -q 10.0.2.100; }
wait_for tap_ready
v6_ready() { in_guest ip -j -6 addr show dev tap0 scope global | jq -r '.[0].addr_info[]? | select(.tentative != true) | .local' | grep -q '^fd00::'; }
wait_for v6_ready

DIG=(dig +time=3 +tries=1)
status() { "${DIG[@]}" "$@" +noall +comments 2>/dev/null | sed -nE 's/.*status: ([A-Z]+),.*/\1/p'; }
check "dig @10.0.2.3 example.test A -> 192.0.2.10" \
  test "$(in_guest "${DIG[@]}" @10.0.2.3 +short example.test A)" = 192.0.2.10
check "dig -6 @fd00::3 example.test AAAA -> 2001:db8::10 (IPv6 transport)" \
  test "$(in_guest "${DIG[@]}" -6 @fd00::3 +short example.test AAAA)" = 2001:db8::10
check "missing.test -> NXDOMAIN" test "$(in_guest bash -c "$(declare -f status); DIG=(${DIG[*]}); status @10.0.2.3 missing.test")" = NXDOMAIN
check "host.containers.internal -> 10.0.2.2 (built-in)" \
  test "$(in_guest "${DIG[@]}" @10.0.2.3 +short host.containers.internal)" = 10.0.2.2
check "host.containers.internal AAAA -> fd00::2 (built-in)" \
  test "$(in_guest "${DIG[@]}" @10.0.2.3 +short host.containers.internal AAAA)" = fd00::2
check "the built-in name never reached the upstream" test "$(queries A host.containers.internal)" = 0

before=$(queries A example.test)
in_guest "${DIG[@]}" @10.0.2.3 +short EXAMPLE.test A >"$WORK/cached" 2>&1
check "second identical question answered (0x20 case kept: EXAMPLE.test)" \
  grep -qx 192.0.2.10 "$WORK/cached"
check "... from the cache: dnsmasq saw example.test A once ($before)" \
  test "$(queries A example.test)" = "$before" -a "$before" = 1
answer_name=$(in_guest "${DIG[@]}" @10.0.2.3 +noall +answer EXAMPLE.test A | awk '{print $1}')
check "the cached answer carries the client's spelling ($answer_name)" test "$answer_name" = EXAMPLE.test.

# Garbage: a header with one question and a truncated name -> FORMERR with
# the client's ID; a 3-byte datagram is dropped; the next query is answered.
formerr=$(printf '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f' |
  in_guest socat -t 2 - UDP4:10.0.2.3:53 2>/dev/null | xxd -p | head -c 8)
# ID 1234, QR|RD (81), then RA and RCODE 1 (FORMERR) in the low nibble.
is_formerr() { [[ $1 =~ ^123481[0-9a-f]1$ ]]; }
check "garbage query -> FORMERR with its ID (${formerr:-none})" is_formerr "$formerr"
printf 'xyz' | in_guest socat -u - UDP4-SENDTO:10.0.2.3:53 2>/dev/null
check "after garbage, the next query is still answered" \
  test "$(in_guest "${DIG[@]}" @10.0.2.3 +short example.test AAAA)" = 2001:db8::10
# DNS over TCP from the guest (the TCP translation hands the connection to
# the forwarder): IPv4 and IPv6 transport, and several queries on one
# connection (+keepopen).
check "dig +tcp @10.0.2.3 tcp1.example.test A -> 192.0.2.10" \
  test "$(in_guest "${DIG[@]}" +tcp @10.0.2.3 +short tcp1.example.test A)" = 192.0.2.10
check "dig +tcp -6 @fd00::3 tcp2.example.test AAAA -> 2001:db8::10" \
  test "$(in_guest "${DIG[@]}" +tcp -6 @fd00::3 +short tcp2.example.test AAAA)" = 2001:db8::10
keepopen=$(in_guest "${DIG[@]}" +tcp +keepopen @10.0.2.3 +short tcp3.example.test A \
  host.containers.internal A tcp3.example.test AAAA | tr '\n' ' ')
check "three queries on one TCP connection ($keepopen)" \
  test "$keepopen" = "192.0.2.10 10.0.2.2 2001:db8::10 "
# glibc's resolver, through a resolv.conf naming 10.0.2.3 that only the
# guest sees (its own mount namespace); "options use-vc" makes it use TCP.
printf 'nameserver 10.0.2.3\n' >"$WORK/guest-resolv.conf"
printf 'nameserver 10.0.2.3\noptions use-vc\n' >"$WORK/guest-resolv-tcp.conf"
guest_getent() {
  in_guest unshare --mount sh -c 'mount --bind "$1" /etc/resolv.conf && getent ahostsv4 "$2"' - "$@" |
    awk 'NR == 1 {print $1}'
}
check "getent (glibc) in the guest resolves through tapir over UDP" \
  test "$(guest_getent "$WORK/guest-resolv.conf" glibc1.example.test)" = 192.0.2.10
check "... and over TCP (options use-vc)" \
  test "$(guest_getent "$WORK/guest-resolv-tcp.conf" glibc2.example.test)" = 192.0.2.10
check "... which tapir saw arrive over TCP (--dns-log names its stream)" \
  grep -q 'dns: tcp#[0-9]* glibc2.example.test type 1 -> rcode 0' "$WORK/err"
check "... and the UDP one over UDP" grep -q 'dns: 10.0.2.100:[0-9]* glibc1.example.test type 1' "$WORK/err"
check "--dns-log logged the answers" grep -q 'dns: 10.0.2.100:[0-9]* example.test type 1 -> rcode 0, 1 answers' "$WORK/err"
check "tapir is still running" kill -0 "$TAPIR_PID"
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"

# --- forwarding loop: the first upstream leads back to tapir itself --------
# A relay on 127.0.0.5:53 hands every query, byte for byte, into the guest
# and to 10.0.2.3 — tapir receives its own upstream query from the guest
# side. It must see the loop, drop that query, ask the next upstream at
# once, log it once, and leave the looping upstream out afterwards.
: >"$WORK/loop.count"
cat >"$WORK/relay.sh" <<S
#!/bin/bash
echo q >>$WORK/loop.count
exec nsenter -t $GUEST -U -n --preserve-credentials socat -T1 - UDP4:10.0.2.3:53
S
socat UDP4-RECVFROM:53,bind=127.0.0.5,fork EXEC:"bash $WORK/relay.sh" 2>"$WORK/relay.err" &
PIDS+=($!)
"$TAPIR" "${E2E_LOCK[@]}" -c --dns-upstream 127.0.0.5 --dns-upstream 127.0.0.1 "$GUEST" tap0 \
  >"$WORK/loop.out" 2>"$WORK/loop.err" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
wait_for tap_ready
check "loop: the query is still answered, by the next upstream" \
  test "$(in_guest "${DIG[@]}" @10.0.2.3 +short loop1.example.test A)" = 192.0.2.10
check "loop: the relay carried tapir's query round once ($(wc -l <"$WORK/loop.count"))" \
  test "$(wc -l <"$WORK/loop.count")" = 1
check "loop: detected and logged once" \
  test "$(grep -c 'upstream 127.0.0.5:53 sent our own query back to the DNS address: a forwarding loop' "$WORK/loop.err")" = 1 ||
  cat "$WORK/loop.err" "$WORK/relay.err"
check "loop: a later query is answered without asking the looping upstream" \
  test "$(in_guest "${DIG[@]}" @10.0.2.3 +short loop2.example.test A)" = 192.0.2.10 -a \
  "$(wc -l <"$WORK/loop.count")" = 1
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"

# --- first upstream silent: failover to the next ----------------------------
cat >"$WORK/failover.sh" <<'S'
#!/bin/bash
t0=$(date +%s%N)
a=$(dig +time=4 +tries=1 @10.0.2.3 +short example.test A)
t1=$(date +%s%N)
c1=$(wc -l <"$WORK/dead.count")
b=$(dig +time=4 +tries=1 @10.0.2.3 +short example.test AAAA)
c2=$(wc -l <"$WORK/dead.count")
echo "first=$a ms1=$(( (t1 - t0) / 1000000 )) second=$b dead=$(( c2 - c1 ))"
S
sed -i "s|\$WORK|$WORK|g" "$WORK/failover.sh"
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.2 --dns-upstream 127.0.0.1:53 -- bash "$WORK/failover.sh" \
  >"$WORK/failover" 2>"$WORK/failover.err"
read -r first ms1 second dead < <(sed -E 's/first=(\S*) ms1=(\S*) second=(\S*) dead=(\S*)/\1 \2 \3 \4/' "$WORK/failover")
check "first upstream silent: answer from the second (${first:-none})" test "${first:-}" = 192.0.2.10
# How long the failover took is the forwarder's per-attempt timeout (1 s),
# checked with a clock of its own in the unit tests (ForwarderTest); here it
# is only reported, since a wall-clock bound fails on a loaded machine.
echo "# failover answered after ${ms1:-?} ms"
# "At once", counted rather than timed: the dead upstream hears nothing.
check "a later query skips the dead upstream (it received ${dead:-?} queries meanwhile)" \
  test "${second:-}" = 2001:db8::10 -a "${dead:-1}" = 0
# ... and the count is real: the first query did go to it.
check "the silent upstream received the first query" test "$(wc -l <"$WORK/dead.count")" -ge 1

# --- all upstreams silent: SERVFAIL, not NXDOMAIN, before glibc's 5 s ------
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.2 -- dig +time=5 +tries=1 @10.0.2.3 example.test \
  >"$WORK/dead" 2>&1
check "no upstream answers -> SERVFAIL" grep -q 'status: SERVFAIL' "$WORK/dead"

# --- TC from upstream -> the full answer over TCP -------------------------
# A small upstream of the test's own on 127.0.0.6 (socat + bash): over UDP
# it answers every query with no records and TC set; over TCP it answers
# with 40 A records (192.0.2.1-40: 656 bytes, more than 512). Each
# exchange adds a line to tc.log, so the TCP retry is counted.
cat >"$WORK/tc_udp.sh" <<'S'
#!/bin/bash
q=$(dd bs=65535 count=1 status=none | xxd -p | tr -d '\n')
echo udp >>"$(dirname "$0")/tc.log"
# The query itself, as a response: ID, then QR|TC|RD and RA, the rest as asked.
printf '%s' "${q:0:4}8380${q:8}" | xxd -r -p
S
cat >"$WORK/tc_tcp.sh" <<'S'
#!/bin/bash
n=$((16#$(dd bs=2 count=1 iflag=fullblock status=none | xxd -p)))
q=$(dd bs="$n" count=1 iflag=fullblock status=none | xxd -p | tr -d '\n')
pos=24  # the question name starts after the 12-byte header
while l=$((16#${q:pos:2})); [ "$l" -ne 0 ]; do pos=$((pos + 2 + 2 * l)); done
question=${q:24:pos + 10 - 24}
answers=$(cat "$(dirname "$0")/tc_answers.hex")
# ID, QR|RD and RA, one question, 40 answers (0x28), no authority or additional.
msg="${q:0:4}81800001002800000000${question}${answers}"
echo tcp >>"$(dirname "$0")/tc.log"
printf '%04x%s' $((${#msg} / 2)) "$msg" | xxd -r -p
S
# The 40 answer records, made once: per connection the upstream then forks
# only dd and xxd, so it answers quickly on a loaded machine too.
for i in $(seq 40); do printf 'c00c000100010000012c0004c00002%02x' "$i"; done >"$WORK/tc_answers.hex"
: >"$WORK/tc.log"
socat UDP4-RECVFROM:53,bind=127.0.0.6,fork EXEC:"bash $WORK/tc_udp.sh" 2>"$WORK/tc_udp.err" &
PIDS+=($!)
socat TCP4-LISTEN:53,bind=127.0.0.6,reuseaddr,fork EXEC:"bash $WORK/tc_tcp.sh" 2>"$WORK/tc_tcp.err" &
PIDS+=($!)
tc_up() { dig @127.0.0.6 +time=1 +tries=1 +ignore probe.example.test 2>/dev/null | grep -q 'flags: qr tc rd'; }
check "the TC test upstream (127.0.0.6) truncates over UDP" wait_for tc_up
# The TCP listener is another process: wait for it too, not only for UDP.
tc_tcp_up() { test "$(dig @127.0.0.6 +time=2 +tries=1 +tcp +short probe.example.test 2>/dev/null | wc -l)" = 40; }
check "... and answers 40 records over TCP" wait_for tc_tcp_up
: >"$WORK/tc.log"
cat >"$WORK/tc.sh" <<'S'
#!/bin/bash
echo "edns=$(dig +time=3 +tries=1 @10.0.2.3 +short big.example.test A | wc -l)"
echo "tcp=$(dig +time=3 +tries=1 +tcp +noedns @10.0.2.3 +short big.example.test A | wc -l)"
echo "noedns=$(dig +time=3 +tries=1 +noedns +ignore @10.0.2.3 big.example.test A |
  sed -nE 's/.*flags: ([a-z ]*);.*ANSWER: ([0-9]+).*/\1 \2/p')"
S
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.6 -- bash "$WORK/tc.sh" >"$WORK/tc" 2>"$WORK/tc.err"
check "TC from upstream: all 40 records reach the guest over UDP with EDNS ($(sed -n 's/^edns=//p' "$WORK/tc"))" \
  test "$(sed -n 's/^edns=//p' "$WORK/tc")" = 40
check "... after one UDP and one TCP exchange with the upstream ($(tr '\n' ' ' <"$WORK/tc.log"))" \
  test "$(tr '\n' ' ' <"$WORK/tc.log")" = "udp tcp "
# Without EDNS: 512 bytes at most, so TC and as many records as fit, from the cache.
noedns=$(sed -n 's/^noedns=//p' "$WORK/tc")
tc_noedns() { [[ $noedns =~ ^qr\ tc\ rd\ ra\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 0 && BASH_REMATCH[1] < 40)); }
check "... a client without EDNS gets TC and part of it, from the cache (${noedns:-none})" tc_noedns
check "... a TCP client without EDNS gets all 40, from the cache ($(sed -n 's/^tcp=//p' "$WORK/tc"))" \
  test "$(sed -n 's/^tcp=//p' "$WORK/tc")" = 40
check "... which asked the upstream nothing more" test "$(wc -l <"$WORK/tc.log")" = 2

# --- live reload: resolv.conf rewritten, and replaced by rename -----------
# A second upstream (127.0.0.4) gives example.test another address, so each
# answer shows which upstream was asked. The file is a symlink into a
# "run" directory, as systemd-resolved's; the script in the guest changes
# it, then asks names not asked before (so no cache answers) until the new
# upstream answers.
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.4 --bind-interfaces --port=53 \
  --address=/example.test/192.0.2.40 --pid-file= 2>"$WORK/dnsmasq2.err" &
PIDS+=($!)
upstream2_up() { dig @127.0.0.4 +time=1 +tries=1 +short probe.example.test 2>/dev/null | grep -q 192.0.2.40; }
check "the second test upstream (dnsmasq on 127.0.0.4) answers" wait_for upstream2_up
mkdir -p "$WORK/etc" "$WORK/run"
printf 'nameserver 127.0.0.1\n' >"$WORK/run/stub-resolv.conf"
ln -s ../run/stub-resolv.conf "$WORK/etc/resolv.conf"
cat >"$WORK/reload.sh" <<'S'
#!/bin/bash
ask() { echo "$1=$(dig +time=2 +tries=1 @10.0.2.3 +short "$1.example.test" A)"; }
# Asks names not asked before (no cache answers) until the answer is $2:
# waits for the reload itself, bounded (10 s), instead of for a fixed time.
ask_until() {
  local a=
  for i in $(seq 100); do
    a=$(dig +time=2 +tries=1 @10.0.2.3 +short "$1-$i.example.test" A)
    [ "$a" = "$2" ] && break
    sleep 0.1
  done
  echo "$1=$a"
}
ask r1
printf 'nameserver 127.0.0.4\n' >"$WORK/run/stub-resolv.conf"      # target rewritten in place
ask_until r2 192.0.2.40
printf 'nameserver 127.0.0.1\n' >"$WORK/run/stub-resolv.conf.tmp"  # target replaced by rename
mv "$WORK/run/stub-resolv.conf.tmp" "$WORK/run/stub-resolv.conf"
ask_until r3 192.0.2.10
printf 'nameserver 127.0.0.4\n' >"$WORK/etc/resolv.conf.new"       # the link replaced by a file
mv "$WORK/etc/resolv.conf.new" "$WORK/etc/resolv.conf"
ask_until r4 192.0.2.40
printf 'nameserver 127.0.0.1\n' >"$WORK/etc/resolv.conf"           # that file rewritten in place
ask_until r5 192.0.2.10
S
sed -i "s|\$WORK|$WORK|g" "$WORK/reload.sh"
"$TAPIR" run "${E2E_LOCK[@]}" --resolv-conf "$WORK/etc/resolv.conf" -- bash "$WORK/reload.sh" \
  >"$WORK/reload" 2>"$WORK/reload.err"
answer_of() { sed -n "s/^$1=//p" "$WORK/reload"; }
check "reload: before any change, the first upstream answers ($(answer_of r1))" test "$(answer_of r1)" = 192.0.2.10
check "reload: symlink target rewritten -> new upstream ($(answer_of r2))" test "$(answer_of r2)" = 192.0.2.40
check "reload: symlink target replaced by rename -> picked up ($(answer_of r3))" test "$(answer_of r3)" = 192.0.2.10
check "reload: the link replaced by a file (rename) -> picked up ($(answer_of r4))" test "$(answer_of r4)" = 192.0.2.40
check "reload: that file rewritten in place -> picked up ($(answer_of r5))" test "$(answer_of r5)" = 192.0.2.10
check "reload: each change logged once with the new list" \
  test "$(grep -c 'resolv.conf changed; upstreams now 127.0.0.[14]:53$' "$WORK/reload.err")" = 4 ||
  cat "$WORK/reload.err"

# --- --dns-upstream is fixed: a resolv.conf change does not touch it ------
cat >"$WORK/fixed.sh" <<'S'
#!/bin/bash
printf 'nameserver 127.0.0.4\n' >"$WORK/etc/resolv.conf"
sleep 1; echo "f1=$(dig +time=2 +tries=1 @10.0.2.3 +short f1.example.test A)"
S
sed -i "s|\$WORK|$WORK|g" "$WORK/fixed.sh"
printf 'nameserver 127.0.0.1\n' >"$WORK/etc/resolv.conf"
"$TAPIR" run "${E2E_LOCK[@]}" --resolv-conf "$WORK/etc/resolv.conf" --dns-upstream 127.0.0.1 -- bash "$WORK/fixed.sh" \
  >"$WORK/fixed" 2>"$WORK/fixed.err"
check "--dns-upstream: a resolv.conf change is not applied ($(sed -n 's/^f1=//p' "$WORK/fixed"))" \
  test "$(sed -n 's/^f1=//p' "$WORK/fixed")" = 192.0.2.10

# --- --add-host: A, AAAA and PTR from the built-in table -----------------
cat >"$WORK/addhost.sh" <<'S'
#!/bin/bash
d() { dig +time=2 +tries=1 @10.0.2.3 +short "$@" | tr '\n' ' '; }
echo "a=$(d db.test A)"
echo "aaaa=$(d DB.test AAAA)"
echo "ptr=$(d -x 192.0.2.7)"
echo "gw=$(d gw.test A)"
S
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.1 --add-host db.test:192.0.2.7 --add-host db.test:fd00::7 \
  --add-host gw.test:host-gateway -- bash "$WORK/addhost.sh" >"$WORK/addhost" 2>"$WORK/addhost.err"
ah() { sed -n "s/^$1=//p" "$WORK/addhost"; }
check "--add-host: A ($(ah a))" test "$(ah a)" = "192.0.2.7 "
check "--add-host: AAAA, any case ($(ah aaaa))" test "$(ah aaaa)" = "fd00::7 "
check "--add-host: PTR ($(ah ptr))" test "$(ah ptr)" = "db.test. "
check "--add-host NAME:host-gateway ($(ah gw))" test "$(ah gw)" = "10.0.2.2 "
check "--add-host names never reached the upstream" test "$(queries A db.test)" = 0
"$TAPIR" run "${E2E_LOCK[@]}" --add-host nocolon -- true >"$WORK/badhost.out" 2>"$WORK/badhost.err"
rc=$?
check "--add-host with a bad spec: exit $rc and one line ($(head -1 "$WORK/badhost.err"))" \
  test "$rc" -ne 0 -a "$(wc -l <"$WORK/badhost.err")" = 1 -a \
  "$(grep -c '^tapir: invalid --add-host "nocolon": expected NAME:ADDR$' "$WORK/badhost.err")" = 1

# --- --disable-dns: nothing answers on the DNS address --------------------
"$TAPIR" run "${E2E_LOCK[@]}" --disable-dns --dns-upstream 127.0.0.1 -- \
  dig +time=1 +tries=1 @10.0.2.3 example.test >"$WORK/disabled" 2>&1
check "--disable-dns: the query times out" grep -q 'timed out' "$WORK/disabled"

e2e_report "dns (as $(id -un))"
