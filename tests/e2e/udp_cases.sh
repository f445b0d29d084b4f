#!/usr/bin/env bash
# UDP flows (issue 6, first part), run by udp_test.sh as the unprivileged
# test user in the test's host namespace. Echo servers: one in the world
# namespace (192.0.2.1:7001, started by udp_test.sh as root) and one on the
# host namespace's loopback (127.0.0.1:7002, started here), which the guest
# reaches through the gateway address 10.0.2.2.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=$(mktemp -d /tmp/tapir-e2e-udp.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

socat -b 70000 -T 30 UDP4-RECVFROM:7002,bind=127.0.0.1,fork EXEC:cat &
PIDS+=($!)

# echo_check DESC DST SIZE [TAPIR ARGS...]: sends SIZE random bytes in one
# datagram from a fresh guest to DST through tapir run, and compares the
# sha256 of what came back with what was sent.
echo_check() {
  local desc="$1" dst="$2" size="$3"; shift 3
  head -c "$size" /dev/urandom >"$WORK/out.bin"
  # One datagram out (-b larger than the file: one read, one datagram), and
  # whatever comes back on the same socket within 3 idle seconds.
  "$TAPIR" run "${E2E_LOCK[@]}" "$@" -- sh -c "socat -T 3 -b 70000 - UDP4:$dst <$WORK/out.bin >$WORK/back.bin" \
    >/dev/null 2>"$WORK/err"
  check "$desc: $size bytes come back intact" \
    test "$(sha256sum <"$WORK/out.bin")" = "$(sha256sum <"$WORK/back.bin" 2>/dev/null)"
}

echo_check "to the world (192.0.2.1)" 192.0.2.1:7001 1000
echo_check "to the gateway (host loopback)" 10.0.2.2:7002 1400
echo_check "a full-MTU datagram" 192.0.2.1:7001 1472
echo_check "a jumbo datagram at MTU 65520" 192.0.2.1:7001 65000 --mtu 65520

# --disable-host-loopback: the gateway's loopback is out of reach.
"$TAPIR" run "${E2E_LOCK[@]}" --disable-host-loopback -- sh -c "echo hi | socat -T 2 - UDP4:10.0.2.2:7002 >$WORK/dhl.out" \
  >/dev/null 2>&1
check "--disable-host-loopback: nothing comes back from the host's loopback" test ! -s "$WORK/dhl.out"

# --- UDP segmentation offload from the guest (UDP_SEGMENT) -------------------
# One send of 8 x 1200 bytes leaves the guest as one GSO frame; tapir must
# split it into 8 datagrams, and each must come back from the echo whole.
UDPGSO="$(dirname "${BASH_SOURCE[0]}")/udpgso"
if [[ -x $UDPGSO ]]; then
  out=$("$TAPIR" run "${E2E_LOCK[@]}" -- "$UDPGSO" 192.0.2.1 7001 8 1200 2>&1)
  check "a UDP_SEGMENT send is split into datagrams that all come back whole" \
    grep -q '8 of 8 datagrams came back whole' <<<"$out" || echo "$out" | tail -3
else
  echo "skip - UDP_SEGMENT: the udpgso tool is not built (ctest sets TAPIR_UDPGSO)"
fi

# --- ICMP errors from the host side (IP_RECVERR) reach the guest -------------
# Nothing listens on 192.0.2.1:7999: the world's kernel answers "port
# unreachable" to tapir's socket, and tapir passes it on, so the guest's
# connected socket fails with ECONNREFUSED.
out=$("$TAPIR" run "${E2E_LOCK[@]}" -- sh -c 'echo hi | socat -T 3 - UDP4:192.0.2.1:7999' 2>&1)
check "ICMP port unreachable from the world reaches the guest's socket (ECONNREFUSED)" \
  grep -q 'Connection refused' <<<"$out"

# --- 100 MB with sequence checks: numbered, checksummed datagrams through
# an echo server, at most 32 in flight (so no buffer may overflow and
# nothing may be lost), each checked on its way back -------------------------
UDPSTREAM="$(dirname "${BASH_SOURCE[0]}")/udpstream"
if [[ -x $UDPSTREAM ]]; then
  "$UDPSTREAM" --echo 127.0.0.1 7004 &
  PIDS+=($!)
  # stream_check DESC "TAPIR OPTIONS" UDPSTREAM ARGS...
  stream_check() {
    local desc="$1" opts="$2"; shift 2
    # shellcheck disable=SC2086  # word splitting of the options is meant
    out=$("$TAPIR" run "${E2E_LOCK[@]}" $opts -- "$UDPSTREAM" "$@" 2>&1)
    check "$desc: $(grep udpstream: <<<"$out" | tail -1)" grep -q 'came back in order and intact$' <<<"$out"
  }
  stream_check "100 MB through the gateway (host loopback)" "" 10.0.2.2 7004 100000000
  stream_check "100 MB to the world (192.0.2.1)" "" 192.0.2.1 7003 100000000
  stream_check "IPv6: 100 MB to the world (2001:db8::1)" "" 2001:db8::1 7003 100000000
  stream_check "60000-byte datagrams at MTU 65520" "--mtu 65520" 192.0.2.1 7003 12000000 60000
else
  echo "skip - UDP streams: the udpstream tool is not built (ctest sets TAPIR_UDPSTREAM)"
fi

# IPv6 echoes.
out=$("$TAPIR" run "${E2E_LOCK[@]}" -- sh -c "head -c 1200 /dev/urandom | tee $WORK/out6.bin | socat -T 3 -b 70000 - UDP6:[2001:db8::1]:7001 >$WORK/back6.bin" 2>&1)
check "IPv6: 1200 bytes to the world come back intact" \
  test "$(sha256sum <"$WORK/out6.bin")" = "$(sha256sum <"$WORK/back6.bin" 2>/dev/null)"

# --- ICMP echo to other hosts, through unprivileged ping sockets -------------
out=$("$TAPIR" run "${E2E_LOCK[@]}" -- ping -c3 -W3 192.0.2.1 2>&1)
check "ping -c3 192.0.2.1 (the world) through a ping socket" grep -q '3 received' <<<"$out"
out=$("$TAPIR" run "${E2E_LOCK[@]}" -- ping -6 -c3 -W3 2001:db8::1 2>&1)
check "ping -6 -c3 2001:db8::1 (the world) through a ping socket" grep -q '3 received' <<<"$out"
out=$("$TAPIR" run "${E2E_LOCK[@]}" --disable-host-loopback -- ping -c1 -W3 10.0.2.50 2>&1)
check "--disable-host-loopback: ping to the host's loopback gets 'Net Unreachable'" \
  grep -qi 'net unreachable' <<<"$out"
# (UDP to the gateway with --disable-host-loopback also draws ICMP net
# unreachable — checked frame by frame in udp_flows_test — but Linux treats
# that code as a soft error for UDP sockets and reports it only with
# IP_RECVERR, so no ordinary client can show it here.)

e2e_report "udp (as $(id -un))"
