#!/usr/bin/env bash
# The smoke set on an old kernel (issue 12), run by kernel_smoke.sh as the
# unprivileged test user in the test's host namespace, inside
# scripts/test-kernel's VM. One or two cases of each kind the e2e suites
# cover in depth (attach_cases.sh, services_cases.sh, tcp_cases.sh,
# udp_cases.sh, dns_cases.sh, fwd_cases.sh), sized for a TCG VM. Servers: on
# the host namespace's loopback (started here; the guest reaches them as
# 10.0.2.2) and in the world namespace (192.0.2.1, started by
# kernel_smoke.sh). Lines starting "# tapir:" report what tapir chose on
# this kernel.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcpcheck

WORK=$(mktemp -d /tmp/tapir-e2e-kernel.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  {
    for p in "${PIDS[@]}"; do kill -9 "$p"; done
    wait
  } 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# wait_for COND...: polls COND up to 60 s (a TCG VM is slow to start things).
gone() { [[ ! -e /proc/$1 || $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
# show FILE: its end, for a failed check.
show() { echo "--- $(basename "$1") (last 30 lines)"; tail -30 "$1" | sed 's/^/    /'; }

# A guest: new user+net namespaces holding a sleeping process ($GUEST).
start_guest() {
  unshare --user --map-root-user --net sleep 600 &
  GUEST=$!
  PIDS+=("$GUEST")
  wait_for guest_unshared
}
# (A function, so each poll reads the links anew.)
guest_unshared() { [[ $(readlink "/proc/$GUEST/ns/net" 2>/dev/null) != "$(readlink /proc/self/ns/net)" ]]; }
in_guest() { nsenter -t "$GUEST" -U -n --preserve-credentials "$@"; }
addr_of() { in_guest ip -j -4 addr show "$1" | jq -r '.[0].addr_info[0] | "\(.local)/\(.prefixlen)"'; }
default_via() { in_guest ip -j -4 route show default | jq -r '.[0].gateway'; }

# --- attach by PID with -c ----------------------------------------------------
start_guest || { echo "not ok - guest namespace"; exit 1; }
mkfifo "$WORK/ready"
"$TAPIR" --debug -c -r 3 "$GUEST" tap0 3>"$WORK/ready" >"$WORK/attach.out" 2>"$WORK/attach.err" &
T=$!; PIDS+=("$T")
READY=$(timeout 60 cat "$WORK/ready")
check "attach -c: ready-fd gets \"1\"" test "$READY" = 1 || show "$WORK/attach.err"
check "attach -c: tap0 has 10.0.2.100/24" test "$(addr_of tap0)" = 10.0.2.100/24
check "attach -c: default route via 10.0.2.2" test "$(default_via)" = 10.0.2.2
check "attach -c: the offloads the tap accepted are logged" grep -q 'offloads accepted:' "$WORK/attach.err"
check "attach -c: the io_uring mode is logged" grep -q 'engine running on tap0 (io_uring' "$WORK/attach.err"
# (And the peek mode, once tapir logs it.)
sed -nE 's/.*(offloads accepted: .*)/# tapir: \1/p; s/.*engine running on tap0 \((.*)\)$/# tapir: \1/p
          s/^tapir: [a-z]+: (.*[Pp][Ee][Ee][Kk].*)/# tapir: \1/p' "$WORK/attach.err"
kill -TERM "$T"
wait_for gone "$T"
wait "$T"
check "attach -c: SIGTERM ends tapir with status 0" test $? = 0
kill -9 "$GUEST"

# --- DHCP with busybox udhcpc ---------------------------------------------------
start_guest || { echo "not ok - guest namespace"; exit 1; }
"$TAPIR" "$GUEST" tap0 >/dev/null 2>"$WORK/dhcp.err" &
T=$!; PIDS+=("$T")
tap_there() { in_guest ip link show tap0 >/dev/null 2>&1; }
wait_for tap_there
in_guest ip link set lo up
in_guest ip link set tap0 up
cat >"$WORK/udhcpc.sh" <<'S'
#!/bin/sh
[ "$1" = bound ] && env | grep -E '^(ip|subnet|router|dns)=' >"$UDHCPC_OUT"
exit 0
S
chmod +x "$WORK/udhcpc.sh"
in_guest env UDHCPC_OUT="$WORK/udhcpc.env" timeout 60 \
  busybox udhcpc -i tap0 -f -q -n -t 5 -s "$WORK/udhcpc.sh" >"$WORK/udhcpc.log" 2>&1
got() { grep -qx "$2" "$1" 2>/dev/null; }
check "udhcpc: lease 10.0.2.15" got "$WORK/udhcpc.env" ip=10.0.2.15 || show "$WORK/udhcpc.log"
check "udhcpc: router 10.0.2.2" got "$WORK/udhcpc.env" router=10.0.2.2
check "udhcpc: DNS 10.0.2.3" got "$WORK/udhcpc.env" dns=10.0.2.3
kill "$T" "$GUEST"

# guest NAME [TAPIR OPTIONS] -- SHELL-COMMAND: the command (bash -c) as the
# guest of a fresh `tapir run --debug`, for at most 300 s; everything it and
# tapir print goes to $WORK/NAME.txt. Returns the command's status.
guest() {
  local name="$1"; shift
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  timeout -k 5 300 "$TAPIR" run --debug "${opts[@]}" -- bash -c "$1" >"$WORK/$name.txt" 2>&1
}
said() { grep -Eq "$2" "$WORK/$1.txt"; }

# --- tapir run --------------------------------------------------------------
OUT=$("$TAPIR" run -- ip -j -4 addr show tap0 2>/dev/null)
check "tapir run: the command sees tap0 with 10.0.2.100/24" \
  test "$(jq -r '.[0].addr_info[0] | "\(.local)/\(.prefixlen)"' <<<"$OUT")" = 10.0.2.100/24
"$TAPIR" run -- sh -c 'exit 7' 2>/dev/null
check "tapir run: exits with the command's status" test $? = 7
# tapir run's default walls (issue 13) on this kernel: both up, none refused.
"$TAPIR" run --debug -- true 2>"$WORK/walls.err"
check "tapir run: sandboxed on this kernel" grep -q 'sandbox: root is a read-only tmpfs' "$WORK/walls.err"
check "tapir run: filtered on this kernel" grep -q 'seccomp: allowlist loaded' "$WORK/walls.err"
check "tapir run: no wall refused" sh -c "! grep -q 'going on without' '$WORK/walls.err'"
check "tapir run: nothing left running" test -z "$(e2e_own_tapirs)"

# --- TCP: 64 MiB each way through the gateway, sha256 at both ends -------------
timeout 300 socat -u TCP-LISTEN:7100,bind=127.0.0.1,reuseaddr - 2>"$WORK/sink.err" | sha256sum >"$WORK/up.recv" &
SINK=$!; PIDS+=($!)
wait_for listening 7100
guest bulk-up -- "'$TC' gen 11 64M | tee >(sha256sum >$WORK/up.sent) | socat -t 600 - TCP:10.0.2.2:7100"
wait "$SINK"
wait_for test -s "$WORK/up.sent"
check "TCP: 64 MiB guest -> host: sha256 the same at both ends" \
  test "$(cat "$WORK/up.sent")" = "$(cat "$WORK/up.recv")" ||
  { echo "    sent $(cat "$WORK/up.sent"), received $(cat "$WORK/up.recv")"; cat "$WORK/sink.err"; show "$WORK/bulk-up.txt"; }

bash -c "'$TC' gen 12 64M | tee >(sha256sum >$WORK/down.sent) |
         timeout 300 socat -u - TCP-LISTEN:7101,bind=127.0.0.1,reuseaddr" 2>"$WORK/source.err" &
SOURCE=$!; PIDS+=($!)
wait_for listening 7101
guest bulk-down -- "socat -u TCP:10.0.2.2:7101 - | tee >(wc -c >$WORK/down.count) | sha256sum >$WORK/down.recv"
wait "$SOURCE"
wait_for test -s "$WORK/down.sent"
check "TCP: 64 MiB host -> guest: sha256 the same at both ends" \
  test "$(cat "$WORK/down.sent")" = "$(cat "$WORK/down.recv" 2>/dev/null)" ||
  { echo "    sent $(cat "$WORK/down.sent"), received $(cat "$WORK/down.recv") ($(cat "$WORK/down.count") bytes)"
    cat "$WORK/source.err"; show "$WORK/bulk-down.txt"; }

# A host sender that writes a little at a time (100 lines, 20 ms apart): the
# guest's side must get every line, and then the end of the stream. (Before
# Linux 6.9 TCP has no SO_PEEK_OFF, and tapir's fallback path is the one
# this takes: a fast bulk sender hides a wrong end of stream there.)
bash -c "for i in \$(seq 100); do printf 'line %03d of a slow sender\n' \$i; sleep 0.02; done |
         tee >(sha256sum >$WORK/slow.sent) |
         timeout 300 socat -u - TCP-LISTEN:7102,bind=127.0.0.1,reuseaddr" 2>"$WORK/slow.err" &
SOURCE=$!; PIDS+=($!)
wait_for listening 7102
guest slow -- "socat -u TCP:10.0.2.2:7102 - >$WORK/slow.recv"
wait "$SOURCE"
wait_for test -s "$WORK/slow.sent"
check "TCP: a slow host sender's 100 lines all reach the guest, in order" \
  test "$(cat "$WORK/slow.sent")" = "$(sha256sum <"$WORK/slow.recv")" ||
  { echo "    the guest received $(wc -l <"$WORK/slow.recv") of 100 lines; its last: $(tail -1 "$WORK/slow.recv")"
    cat "$WORK/slow.err"; show "$WORK/slow.txt"; }

# --- 200 concurrent short connections, every byte checked at both ends --------
guest conc -- "'$TC' client --conns 200 --parallel 200 --max-up 16K --max-down 16K --seed 4 192.0.2.1:7000"
check "TCP: 200 concurrent short connections to the world, all intact" \
  said conc '^tcpcheck: 200 ok, 0 failed' || show "$WORK/conc.txt"

# --- UDP echo ----------------------------------------------------------------
# (udpstream's echo: one process, no fork and exec per datagram.)
"$(dirname "$TC")/udpstream" --echo 127.0.0.1 7002 &
PIDS+=($!)
udp_listening() { ss -Hlun "sport = :$1" | grep -q .; }
wait_for udp_listening 7002
# echo_check DESC DST SIZE: one datagram of SIZE random bytes out (socat -b
# larger than the file: one read, one datagram), and the guest waits for
# the SIZE bytes to come back, not for a clock: socat alone would give up
# half a second after its input ends (-t), which a TCG VM can overrun.
echo_check() {
  local desc="$1" dst="$2" size="$3"
  head -c "$size" /dev/urandom >"$WORK/out.bin"
  rm -f "$WORK/back.bin" "$WORK/udp.fifo"
  mkfifo "$WORK/udp.fifo"
  guest udp -- "socat -t 120 -T 120 -b 70000 - UDP4:$dst <$WORK/out.bin >$WORK/udp.fifo & S=\$!
    head -c $size <$WORK/udp.fifo >$WORK/back.bin; kill \$S"
  check "UDP echo $desc: $size bytes come back intact" \
    test "$(sha256sum <"$WORK/out.bin")" = "$(sha256sum <"$WORK/back.bin" 2>/dev/null)" ||
    show "$WORK/udp.txt"
}
echo_check "to the world (192.0.2.1)" 192.0.2.1:7001 1400
echo_check "to the gateway (host loopback)" 10.0.2.2:7002 1472

# --- DNS through the forwarder, against a local dnsmasq -------------------------
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --address=/example.test/192.0.2.10 --address=/missing.test/ --pid-file= \
  --log-queries --log-facility="$WORK/dnsmasq.log" 2>"$WORK/dnsmasq.err" &
PIDS+=($!)
upstream_up() { dig @127.0.0.1 +time=2 +tries=1 +short probe.example.test 2>/dev/null | grep -q 192.0.2.10; }
check "DNS: the test upstream (dnsmasq on 127.0.0.1) answers" wait_for upstream_up || cat "$WORK/dnsmasq.err"
guest dns -- "dig +time=10 +tries=1 @10.0.2.3 +short example.test A; dig +time=10 +tries=1 @10.0.2.3 missing.test A"
check "DNS: dig @10.0.2.3 example.test -> 192.0.2.10" said dns '^192\.0\.2\.10$' || show "$WORK/dns.txt"
check "DNS: missing.test -> NXDOMAIN" said dns 'status: NXDOMAIN' || show "$WORK/dns.txt"
check "DNS: the question reached dnsmasq through the forwarder" \
  grep -q 'query\[A\] example.test from 127.0.0.1' "$WORK/dnsmasq.log"

# --- a published port (-p), fetched from the host namespace ---------------------
mkdir -p "$WORK/www"
head -c 4M /dev/urandom >"$WORK/www/blob"
# The guest's server is up when it says so (a file beside the blob), and
# stops when told to (another).
guest fwd -p 127.0.0.1:17080:80 -- "busybox httpd -f -p 80 -h $WORK/www & S=\$!
  for i in \$(seq 1200); do ss -Hltn 'sport = :80' | grep -q . && break; sleep 0.05; done
  touch $WORK/httpd.up
  while [ ! -e $WORK/httpd.stop ]; do sleep 0.1; done
  kill \$S" &
FWD=$!
check "-p: the guest's web server is up" wait_for test -e "$WORK/httpd.up" || show "$WORK/fwd.txt"
# (The command may start before tapir has bound the published port.)
check "-p: tapir listens on 127.0.0.1:17080" wait_for listening 17080
curl -sS --max-time 120 -o "$WORK/fetched" http://127.0.0.1:17080/blob 2>"$WORK/curl.err"
check "-p 127.0.0.1:17080:80: 4 MiB fetched from the host namespace, intact" \
  test "$(sha256sum <"$WORK/www/blob")" = "$(sha256sum <"$WORK/fetched" 2>/dev/null)" ||
  { cat "$WORK/curl.err"; show "$WORK/fwd.txt"; }
touch "$WORK/httpd.stop"
wait "$FWD"

e2e_report "kernel cases (as $(id -un))"
