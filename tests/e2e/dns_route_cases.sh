#!/usr/bin/env bash
# Split DNS (--dns-route, issue 18), run by dns_route_test.sh as the
# unprivileged test user inside the test's host namespace. Upstreams are
# the test's own, each logging every query it gets:
#   "VPN"  dnsmasq on 127.0.0.11:53 and [::1]:53: corp.example and the
#          reverse zone 8.10.in-addr.arpa (the VPN's 10.8.0.0/16)
#   "ISP"  dnsmasq on 127.0.0.12:53: everything, with a different (public)
#          address for corp.example, so a misrouted name shows in the answer
#   dead   socat on 127.0.0.13:53 receiving and never answering
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_cases_begin dnsroute

dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.11 --listen-address=::1 --bind-interfaces \
  --port=53 --address=/corp.example/10.8.0.10 --ptr-record=53.0.8.10.in-addr.arpa,ns.corp.example \
  --local-ttl=300 --pid-file= --log-queries --log-facility="$WORK/vpn.log" 2>"$WORK/vpn.err" &
PIDS+=($!)
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.12 --bind-interfaces --port=53 \
  --address=/isp.test/192.0.2.20 --address=/corp.example/192.0.2.66 --address=/xcorp.example/192.0.2.67 \
  --ptr-record=53.0.8.10.in-addr.arpa,wrong.isp.test \
  --local-ttl=300 --pid-file= --log-queries --log-facility="$WORK/isp.log" 2>"$WORK/isp.err" &
PIDS+=($!)
: >"$WORK/dead.count"
socat -u UDP4-RECVFROM:53,bind=127.0.0.13,fork SYSTEM:"echo q >>$WORK/dead.count" \
  2>"$WORK/socat.err" &
PIDS+=($!)
vpn_up() { dig @127.0.0.11 +time=1 +tries=1 +short probe.corp.example 2>/dev/null | grep -q 10.8.0.10; }
vpn6_up() { dig @::1 +time=1 +tries=1 +short probe.corp.example 2>/dev/null | grep -q 10.8.0.10; }
isp_up() { dig @127.0.0.12 +time=1 +tries=1 +short probe.isp.test 2>/dev/null | grep -q 192.0.2.20; }
check "the VPN upstream (127.0.0.11) answers" wait_for vpn_up
check "... and on [::1]" wait_for vpn6_up
check "the ISP upstream (127.0.0.12) answers" wait_for isp_up
# Queries for names at or under the domain(s) $2 (an ERE, any case) that
# upstream $1 logged, the probes above excluded.
asked() { grep -v ' probe\.' "$WORK/$1.log" 2>/dev/null | grep -ciE "query\[[A-Z]+\] ([^ ]*\.)?($2) from"; }

# --- routes: the VPN's names to the VPN, everything else to the ISP --------
cat >"$WORK/split.sh" <<'S'
#!/bin/bash
d() { echo "$1=$(dig +time=4 +tries=1 @10.0.2.3 +short "${@:2}" | tr '\n' ' ')"; }
d intranet intranet.corp.example A
d wiki wiki.Corp.Example. A
d ptr -x 10.8.0.53
d public www.isp.test A
d lookalike xcorp.example A
d v6 host.v6.corp.example A
d printer printer.lan.test A
d nxlocal other.lan.test A
echo "nxstatus=$(dig +time=4 +tries=1 @10.0.2.3 other.lan.test A | sed -nE 's/.*status: ([A-Z]+),.*/\1/p')"
d again intranet.corp.example A
S
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.12 --dns-route corp.example=127.0.0.11 \
  --dns-route 8.10.in-addr.arpa=127.0.0.11:53 --dns-route 'v6.corp.example=[::1]:53' \
  --dns-route lan.test=local --add-host printer.lan.test:10.0.2.50 \
  -- bash "$WORK/split.sh" >"$WORK/split" 2>"$WORK/split.err"
got() { sed -n "s/^$1=//p" "$WORK/split"; }
check "a VPN name is answered by the VPN ($(got intranet))" test "$(got intranet)" = "10.8.0.10 "
check "... in any case, with a trailing dot ($(got wiki))" test "$(got wiki)" = "10.8.0.10 "
check "a routed reverse zone: PTR from the VPN ($(got ptr))" test "$(got ptr)" = "ns.corp.example. "
check "other names go to the ISP ($(got public))" test "$(got public)" = "192.0.2.20 "
check "xcorp.example is not under corp.example: the ISP's ($(got lookalike))" \
  test "$(got lookalike)" = "192.0.2.67 "
check "an IPv6 route ([::1]:53) answers its subdomain ($(got v6))" test "$(got v6)" = "10.8.0.10 "
check "DOMAIN=local: --add-host answers ($(got printer))" test "$(got printer)" = "10.0.2.50 "
check "DOMAIN=local: other names NXDOMAIN ($(got nxstatus))" test "$(got nxstatus)" = NXDOMAIN
check "a repeated VPN name is answered from the cache ($(got again))" test "$(got again)" = "10.8.0.10 "
check "the ISP never saw a corp.example name ($(asked isp 'corp\.example') queries)" \
  test "$(asked isp 'corp\.example')" = 0
check "... nor the VPN's reverse zone ($(asked isp '8\.10\.in-addr\.arpa'))" \
  test "$(asked isp '8\.10\.in-addr\.arpa')" = 0
check "... nor a local name ($(asked isp 'lan\.test'))" test "$(asked isp 'lan\.test')" = 0
check "the VPN saw intranet.corp.example once (cached after: $(asked vpn 'intranet\.corp\.example'))" \
  test "$(asked vpn 'intranet\.corp\.example')" = 1
check "... the longest route's name came over IPv6 ($(grep -c 'host\.v6\.corp\.example from ::1' "$WORK/vpn.log"))" \
  test "$(grep -c 'host\.v6\.corp\.example from ::1' "$WORK/vpn.log")" = 1
check "the VPN never saw an ISP name or a local one ($(asked vpn 'isp\.test|lan\.test|xcorp\.example'))" \
  test "$(asked vpn 'isp\.test|lan\.test|xcorp\.example')" = 0
check "the ISP saw its own names (www.isp.test: $(asked isp 'www\.isp\.test'))" \
  test "$(asked isp 'www\.isp\.test')" = 1

# --- a routed set fails over within itself, never to the default set --------
cat >"$WORK/failover.sh" <<'S'
#!/bin/bash
echo "first=$(dig +time=4 +tries=1 @10.0.2.3 +short fo1.corp.example A)"
c1=$(wc -l <"$WORK/dead.count")
echo "second=$(dig +time=4 +tries=1 @10.0.2.3 +short fo2.corp.example A)"
echo "dead=$(( $(wc -l <"$WORK/dead.count") - c1 ))"
S
sed -i "s|\$WORK|$WORK|g" "$WORK/failover.sh"
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.12 --dns-route corp.example=127.0.0.13 \
  --dns-route corp.example=127.0.0.11 -- bash "$WORK/failover.sh" >"$WORK/failover" 2>"$WORK/failover.err"
fo() { sed -n "s/^$1=//p" "$WORK/failover"; }
check "first VPN resolver silent: the second one answers ($(fo first))" test "$(fo first)" = 10.8.0.10
check "... the silent one did get the first query ($(wc -l <"$WORK/dead.count"))" \
  test "$(wc -l <"$WORK/dead.count")" -ge 1
check "... and is skipped by the next query ($(fo dead) more)" test "$(fo dead)" = 0
check "... and the ISP was never asked for them ($(asked isp 'fo[12]\.corp\.example'))" \
  test "$(asked isp 'fo[12]\.corp\.example')" = 0

# --- without a route, names pass through unchanged to the default upstream --
# (how systemd-resolved's per-link ~domain routing on 127.0.0.53 applies:
# tapir forwards the name as asked and the stub routes it.)
"$TAPIR" run "${E2E_LOCK[@]}" --dns-upstream 127.0.0.12 -- dig +time=4 +tries=1 @10.0.2.3 +short Plain.Corp.Example A \
  >"$WORK/plain" 2>"$WORK/plain.err"
check "no route: a corp.example name goes to the default upstream ($(tr '\n' ' ' <"$WORK/plain"))" \
  test "$(cat "$WORK/plain")" = 192.0.2.66
check "... asked there by the name the guest gave" grep -qi 'query\[A\] plain\.corp\.example from' "$WORK/isp.log"

# --- bad values: refused with one line, before anything starts -------------
bad_route() {
  "$TAPIR" run "${E2E_LOCK[@]}" --dns-route "$1" -- true >"$WORK/bad.out" 2>"$WORK/bad.err"
  local rc=$?
  [ "$rc" -ne 0 ] && [ "$(wc -l <"$WORK/bad.err")" = 1 ] && grep -qxF "tapir: $2" "$WORK/bad.err" ||
    { echo "# rc=$rc: $(cat "$WORK/bad.err")"; return 1; }
}
check "--dns-route without '=' refused in one line" bad_route corp.example \
  'invalid --dns-route "corp.example": expected DOMAIN=ADDR[:PORT] or DOMAIN=local'
check "--dns-route with a name for an address refused in one line" bad_route corp.example=vpn.example \
  'invalid --dns-route "corp.example=vpn.example": upstream "vpn.example": not an IPv4 or IPv6 address'
check "--dns-route with a bad port refused in one line" bad_route corp.example=10.8.0.53:70000 \
  'invalid --dns-route "corp.example=10.8.0.53:70000": upstream "10.8.0.53:70000": bad port (1-65535)'
check "--dns-route for the root refused in one line" bad_route .=10.8.0.53 \
  'invalid --dns-route ".=10.8.0.53": the root is the default set: use --dns-upstream for it'

e2e_report "dns_route (as $(id -un))"
