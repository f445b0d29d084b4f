#!/usr/bin/env bash
# Built-in services (issue 4), run by services_test.sh as the unprivileged
# test user inside the test's host namespace. tapir is attached WITHOUT -c:
# the guest configures itself from tapir's DHCP, RAs and DHCPv6, with the
# real clients (busybox udhcpc, dhclient, the kernel's SLAAC, rdisc6).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=$(mktemp -d /tmp/tapir-e2e-services.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT


unshare --user --map-root-user --net sleep 300 &
GUEST=$!; PIDS+=("$GUEST")
# In its own network namespace once unshare is done: read on every try (a
# "$(...)" in the arguments would be read once, before the loop).
netns_differs() {
  local n
  n=$(readlink "/proc/$1/ns/net" 2>/dev/null) && [ -n "$n" ] && [ "$n" != "$(readlink /proc/self/ns/net)" ]
}
wait_for netns_differs "$GUEST"
in_guest() { nsenter -t "$GUEST" -U -n --preserve-credentials "$@"; }

"$TAPIR" "${E2E_LOCK[@]}" --debug -6 --mtu 1400 --search example.test --search corp.test "$GUEST" tap0 \
  >"$WORK/out" 2>"$WORK/err" &
TAPIR_PID=$!; PIDS+=("$TAPIR_PID")
tap_there() { in_guest ip link show tap0 >/dev/null 2>&1; }
wait_for tap_there
in_guest ip link set lo up
in_guest ip link set tap0 up

# --- DHCPv4: busybox udhcpc ---------------------------------------------------
cat >"$WORK/udhcpc.sh" <<'S'
#!/bin/sh
[ "$1" = bound ] && env | grep -E '^(ip|subnet|router|dns|mtu|search|domain|serverid|lease)=' >"$UDHCPC_OUT"
exit 0
S
chmod +x "$WORK/udhcpc.sh"
in_guest env UDHCPC_OUT="$WORK/udhcpc.env" timeout 20 \
  busybox udhcpc -i tap0 -f -q -n -t 5 -O mtu -O search -s "$WORK/udhcpc.sh" >/dev/null 2>&1
got() { grep -qx "$2" "$1" 2>/dev/null; }
check "udhcpc: lease 10.0.2.15" got "$WORK/udhcpc.env" ip=10.0.2.15
check "udhcpc: netmask 255.255.255.0" got "$WORK/udhcpc.env" subnet=255.255.255.0
check "udhcpc: router 10.0.2.2" got "$WORK/udhcpc.env" router=10.0.2.2
check "udhcpc: DNS 10.0.2.3" got "$WORK/udhcpc.env" dns=10.0.2.3
check "udhcpc: MTU 1400" got "$WORK/udhcpc.env" mtu=1400
check "udhcpc: search list (option 119)" got "$WORK/udhcpc.env" "search=example.test corp.test"
check "udhcpc: server id 10.0.2.2" got "$WORK/udhcpc.env" serverid=10.0.2.2

# --- DHCPv4: ISC dhclient -----------------------------------------------------
# dhclient gives its script an environment of its own: the output path is
# written into the script.
cat >"$WORK/dhclient.sh" <<S
#!/bin/sh
case "\$reason" in BOUND|BOUND6) env | grep -E '^new_' >"$WORK/dhclient.\$reason" ;; esac
exit 0
S
chmod +x "$WORK/dhclient.sh"
in_guest timeout 30 dhclient -1 -d -sf "$WORK/dhclient.sh" \
  -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" tap0 >/dev/null 2>&1
D4="$WORK/dhclient.BOUND"
check "dhclient: lease 10.0.2.15 (stable per MAC)" got "$D4" new_ip_address=10.0.2.15
check "dhclient: router 10.0.2.2" got "$D4" new_routers=10.0.2.2
check "dhclient: DNS 10.0.2.3" got "$D4" new_domain_name_servers=10.0.2.3
check "dhclient: MTU 1400" got "$D4" new_interface_mtu=1400
check "dhclient: search list" got "$D4" "new_domain_search=example.test. corp.test."

# Give the guest the address so the rest can use it.
in_guest ip addr add 10.0.2.15/24 dev tap0
in_guest ip route add default via 10.0.2.2

# --- ping to the gateway and the DNS address --------------------------------
check "ping 10.0.2.2 answers" in_guest ping -q -c1 -W3 10.0.2.2 >/dev/null
check "ping 10.0.2.3 answers" in_guest ping -q -c1 -W3 10.0.2.3 >/dev/null

# --- IPv6: the kernel's SLAAC, rdisc6, dhclient -6 ---------------------------
LL=fe80::5055:aff:fe00:202   # tapir's link-local: from its gateway MAC 52:55:0a:00:02:02
slaac_addr() { in_guest ip -j -6 addr show dev tap0 scope global | jq -r '.[0].addr_info[]? | select(.tentative != true) | .local' | grep -q '^fd00::'; }
slaac_route() { [[ $(in_guest ip -j -6 route show default | jq -r '.[0].gateway') == "$LL" ]]; }
check "SLAAC: a non-tentative fd00::/64 address" wait_for slaac_addr
check "SLAAC: default route via tapir's link-local address" wait_for slaac_route
in_guest rdisc6 -1 -w 3000 tap0 >"$WORK/rdisc6" 2>&1
check "rdisc6: RDNSS fd00::3" grep -Eq 'Recursive DNS server +: fd00::3' "$WORK/rdisc6"
check "rdisc6: MTU 1400" grep -Eq 'MTU +: +1400 ' "$WORK/rdisc6"
check "rdisc6: prefix fd00::/64" grep -Eq 'Prefix +: fd00::/64' "$WORK/rdisc6"
check "rdisc6: DNSSL example.test" grep -Eq 'DNS search list +: example.test' "$WORK/rdisc6"
check "ping -6 fd00::2 answers" in_guest ping -q -6 -c1 -W3 fd00::2 >/dev/null
in_guest timeout 30 dhclient -6 -1 -d -sf "$WORK/dhclient.sh" \
  -lf "$WORK/dhclient6.leases" -pf "$WORK/dhclient6.pid" tap0 >/dev/null 2>&1
D6="$WORK/dhclient.BOUND6"
check "dhclient -6: an IA_NA address in fd00::/64" grep -Eq '^new_ip6_address=fd00::' "$D6"
check "dhclient -6: DNS server fd00::3" got "$D6" new_dhcp6_name_servers=fd00::3
check "dhclient -6: domain list" grep -Eq '^new_dhcp6_domain_search=.*example.test' "$D6"

# --- bad input: garbage DHCP / NDP frames from inside the guest --------------
# Written into the tap with a packet socket (socat INTERFACE:). Hex frames
# built offline with correct IPv4 header and ICMPv6 checksums, each broken
# at the layer it tests: a DHCP message cut inside the BOOTP header, a
# DISCOVER whose option 55 claims 40 bytes and has 2, and a router
# solicitation with a zero-length option. (A frame shorter than an Ethernet
# header cannot be sent through a packet socket: the kernel refuses it.)
send_frame() { printf '%s' "$1" | xxd -r -p | in_guest socat -u - INTERFACE:tap0 2>/dev/null; }
send_frame ffffffffffff5254001234560800450000300001000040117abd00000000ffffffff00440043001c00000102030405060708090a0b0c0d0e0f1011121314
send_frame ffffffffffff52540012345608004500011300020000401179d900000000ffffffff0044004300ff000001010600123456780000000000000000000000000000000000000000525400123456$(printf '0%.0s' $(seq 404))6382536335010137280103
send_frame 33330000000252540012345686dd6000000000103afffe80000000000000505400fffe123456ff020000000000000000000000000002850071b6000000000100525400123456
rm -f "$WORK/udhcpc.env"
in_guest env UDHCPC_OUT="$WORK/udhcpc.env" timeout 20 \
  busybox udhcpc -i tap0 -f -q -n -t 5 -s "$WORK/udhcpc.sh" >/dev/null 2>&1
check "after garbage frames, the next DHCP request is still answered" got "$WORK/udhcpc.env" ip=10.0.2.15
check "tapir is still running" kill -0 "$TAPIR_PID"
kill -TERM "$TAPIR_PID"; wait "$TAPIR_PID"
malformed=$(sed -nE 's/.* ([0-9]+) malformed$/\1/p' "$WORK/err" | tail -1)
check "the garbage frames were counted as malformed (${malformed:-?})" test "${malformed:-0}" -ge 3

# --- ping to the gateway is tapir's own answer, with --disable-host-loopback too
check "with --disable-host-loopback, ping 10.0.2.2 still answers" \
  "$TAPIR" run "${E2E_LOCK[@]}" --disable-host-loopback -- ping -q -c1 -W3 10.0.2.2 >/dev/null 2>&1

e2e_report "services (as $(id -un))"
