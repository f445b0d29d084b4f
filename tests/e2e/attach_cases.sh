#!/usr/bin/env bash
# Attach cases for issue 3, run by attach_test.sh as the unprivileged test
# user inside the test's host namespace. $TAPIR is the binary under test.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORK=$(mktemp -d /tmp/tapir-e2e-attach.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A guest: new user+net namespaces holding a sleeping process. unshare execs
# sleep in place, so $! is the guest's PID.
start_guest() {
  unshare --user --map-root-user --net sleep 300 &
  GUEST=$!
  PIDS+=("$GUEST")
  for _ in $(seq 100); do
    [[ $(readlink /proc/$GUEST/ns/net 2>/dev/null) != "$(readlink /proc/self/ns/net)" ]] && return 0
    sleep 0.05
  done
  return 1
}
in_guest() { nsenter -t "$GUEST" -U -n --preserve-credentials "$@"; }

# wait_exit PID: waits up to 10 s for PID to end; sets EXIT_CODE.
# (kill -0 succeeds on a zombie, so an exited-but-unreaped child counts as
# gone: its state in /proc is Z.)
gone() { [[ ! -e /proc/$1 || $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }
wait_exit() {
  for _ in $(seq 200); do
    if gone "$1"; then wait "$1"; EXIT_CODE=$?; return 0; fi
    sleep 0.05
  done
  return 1
}

addr_of() {  # addr_of IFACE -> "ADDR/LEN" of its first IPv4 address in the guest
  in_guest ip -j -4 addr show "$1" | jq -r '.[0].addr_info[0] | "\(.local)/\(.prefixlen)"'
}
default_via() { in_guest ip -j -4 route show default | jq -r '.[0].gateway'; }
link_field() { in_guest ip -j link show "$1" | jq -r ".[0].$2"; }
has_tap() { in_guest ip link show "$1" >/dev/null 2>&1; }
is_up() { [[ $(in_guest ip -j link show "$1" | jq -r '.[0].flags | index("UP") != null') == true ]]; }

# --- PID mode, -c, ready-fd as a pipe ---------------------------------------
start_guest || { echo "not ok - guest namespace"; exit 1; }
mkfifo "$WORK/ready"
"$TAPIR" "${E2E_LOCK[@]}" -c -r 3 "$GUEST" tap0 3>"$WORK/ready" >"$WORK/out1" 2>"$WORK/err1" &
T=$!; PIDS+=("$T")
READY=$(timeout 10 cat "$WORK/ready")
check "ready-fd (pipe) gets exactly \"1\" and is closed" test "$READY" = 1
check "PID mode -c: tap0 has 10.0.2.100/24" test "$(addr_of tap0)" = 10.0.2.100/24
check "PID mode -c: default route via 10.0.2.2" test "$(default_via)" = 10.0.2.2
check "PID mode -c: MTU 1500" test "$(link_field tap0 mtu)" = 1500
check "PID mode -c: tap0 is up" is_up tap0
check "PID mode -c: lo is up" is_up lo
check "banner names the recommended IP" grep -q 'Recommended IP:  10.0.2.100' "$WORK/out1"
check "offload negotiation is logged" grep -q 'offloads accepted:' "$WORK/err1"
kill -TERM "$T"
check "SIGTERM: tapir exits" wait_exit "$T"
check "SIGTERM: exit status 0" test "$EXIT_CODE" = 0
check "SIGTERM: the tap it created is gone" wait_for eval '! has_tap tap0'

# --- ready-fd as a regular file, exit-fd ------------------------------------
mkfifo "$WORK/exitfifo"
"$TAPIR" "${E2E_LOCK[@]}" -c -r 3 -e 4 "$GUEST" tap0 3>"$WORK/readyfile" 4<"$WORK/exitfifo" >/dev/null 2>&1 &
T=$!; PIDS+=("$T")
exec 5>"$WORK/exitfifo"   # the writer the exit-fd watches
file_is_1() { [[ $(cat "$WORK/readyfile" 2>/dev/null) == 1 ]]; }
check "ready-fd (regular file) gets \"1\"" wait_for file_is_1
check "still running while exit-fd is open" kill -0 "$T"
exec 5>&-
check "exit-fd HUP: tapir exits" wait_exit "$T"
check "exit-fd HUP: exit status 0" test "$EXIT_CODE" = 0

# --- the target goes away -----------------------------------------------------
"$TAPIR" "${E2E_LOCK[@]}" -c "$GUEST" tap0 >/dev/null 2>"$WORK/err6" &
T=$!; PIDS+=("$T")
wait_for has_tap tap0
kill -9 "$GUEST"
check "target killed: tapir exits" wait_exit "$T"
check "target killed: exit status 0" test "$EXIT_CODE" = 0 || { echo "# status $EXIT_CODE"; sed 's/^/# /' "$WORK/err6"; }

# --- --cidr and --macaddress --------------------------------------------------
start_guest
"$TAPIR" "${E2E_LOCK[@]}" -c --cidr 10.0.135.128/25 --macaddress 52:54:00:12:34:56 -m 9000 "$GUEST" tap0 >/dev/null 2>&1 &
T=$!; PIDS+=("$T")
route_via() { [[ $(default_via 2>/dev/null) == "$1" ]]; }
wait_for route_via 10.0.135.130
check "--cidr 10.0.135.128/25 gives 10.0.135.228/25" test "$(addr_of tap0)" = 10.0.135.228/25
check "--cidr moves the gateway to 10.0.135.130" test "$(default_via)" = 10.0.135.130
check "--macaddress is applied" test "$(link_field tap0 address)" = 52:54:00:12:34:56
check "--mtu 9000 is applied" test "$(link_field tap0 mtu)" = 9000
kill "$T"; wait_exit "$T"

# --- no TAPNAME: tap0, configured --------------------------------------------
"$TAPIR" "${E2E_LOCK[@]}" "$GUEST" >/dev/null 2>"$WORK/err5" &
T=$!; PIDS+=("$T")
wait_for route_via 10.0.2.2 || cat "$WORK/err5"
check "tapir PID (no TAPNAME) configures tap0" test "$(addr_of tap0)" = 10.0.2.100/24
kill "$T"; wait_exit "$T"

# --- path + userns-path -------------------------------------------------------
"$TAPIR" "${E2E_LOCK[@]}" -c --netns-type=path --userns-path="/proc/$GUEST/ns/user" "/proc/$GUEST/ns/net" tap1 >/dev/null 2>"$WORK/err2" &
T=$!; PIDS+=("$T")
tap1_configured() { [[ $(addr_of tap1 2>/dev/null) == 10.0.2.100/24 ]]; }
check "path + userns-path: tap1 configured" wait_for tap1_configured
kill "$T"; wait_exit "$T"

# --- path alone, from inside the owning user namespace (podman's way) --------
cat >"$WORK/inner.sh" <<'INNER'
unshare --net sleep 300 &
G=$!
for _ in $(seq 100); do [[ $(readlink /proc/$G/ns/net) != "$(readlink /proc/self/ns/net)" ]] && break; sleep 0.05; done
"$TAPIR" "${E2E_LOCK[@]}" -c --netns-type=path "/proc/$G/ns/net" tap0 >/dev/null 2>&1 &
T=$!
for _ in $(seq 200); do nsenter -t $G -n ip -4 -br addr show tap0 2>/dev/null | grep -q 10.0.2.100/24 && break; sleep 0.05; done
nsenter -t $G -n ip -4 -br addr show tap0
kill $T $G
wait
INNER
check "path mode inside the owning user namespace" \
  bash -c "unshare --user --map-root-user bash '$WORK/inner.sh' 2>/dev/null | grep -q 10.0.2.100/24"

# --- an existing persistent tap (rootlesskit pre-creates tap0) ---------------
in_guest ip tuntap add mode tap name tap0
in_guest ip link set tap0 up
"$TAPIR" "${E2E_LOCK[@]}" "$GUEST" tap0 >/dev/null 2>"$WORK/err3" &
T=$!; PIDS+=("$T")
check "persistent tap: tapir attaches to it" wait_for grep -q 'attached tap0' "$WORK/err3"
carrier_on() { [[ $(link_field tap0 operstate) != DOWN ]]; }
check "persistent tap: carrier is on while attached" wait_for carrier_on
kill "$T"; wait_exit "$T"
check "persistent tap: left in place after tapir exits" has_tap tap0

# --- tapir run ---------------------------------------------------------------
OUT=$("$TAPIR" run "${E2E_LOCK[@]}" -- ip -j -4 addr show tap0 2>/dev/null)
check "tapir run: the command sees tap0 with 10.0.2.100/24" \
  test "$(jq -r '.[0].addr_info[0] | "\(.local)/\(.prefixlen)"' <<<"$OUT")" = 10.0.2.100/24
OUT=$("$TAPIR" run "${E2E_LOCK[@]}" -- ip -j -4 route show default 2>/dev/null)
check "tapir run: default route via 10.0.2.2" test "$(jq -r '.[0].gateway' <<<"$OUT")" = 10.0.2.2
check "tapir run: the command runs as root inside" test "$("$TAPIR" run "${E2E_LOCK[@]}" -- id -u 2>/dev/null)" = 0
"$TAPIR" run "${E2E_LOCK[@]}" -- sh -c 'exit 7' 2>/dev/null
check "tapir run: exits with the command's status" test $? = 7
"$TAPIR" run "${E2E_LOCK[@]}" -- /nonexistent/cmd 2>"$WORK/err4"
check "tapir run: a missing command gives 127" test $? = 127
check "tapir run: ... and says so in one line" test "$(wc -l <"$WORK/err4")" = 1
no_tapir_left() {
  local left
  left=$(e2e_own_tapirs)
  [[ -z $left ]] && return 0
  echo "# still there: $left"
  return 1
}
check "tapir run: nothing left running" no_tapir_left

# --- bad input: one line, status 1, nothing left behind ----------------------
bad() {  # bad DESC EXPECTED-SUBSTRING ARGS...
  local desc="$1" want="$2"; shift 2
  local err rc
  err=$("$TAPIR" "$@" 2>&1 >/dev/null); rc=$?
  check "bad input, $desc: exit 1" test "$rc" = 1
  check "bad input, $desc: one line naming the problem" \
    bash -c '[[ $(wc -l <<<"$1") == 1 && "$1" == *"$2"* ]]' _ "$err" "$want"
}
bad "nonexistent PID" "no process with PID 999999" 999999 tap0
bad "PID of another user" "belongs to another user" 1 tap0
bad "path that is not a netns" "is not a network namespace" --netns-type=path /etc/passwd tap0
bad "missing path" "existing path expected" --netns-type=path /nonexistent tap0
bad "bad CIDR" "CIDR needs to be a network address" --cidr 10.0.2.100/24 "$GUEST" tap0
bad "bad MTU" "MTU must be a positive integer (< 65522)" -m 65522 "$GUEST" tap0
bad "bad MAC" "is an invalid MAC address" -c --macaddress 52:54:00 "$GUEST" tap0
bad "unknown option" "unrecognized option '--frobnicate'" --frobnicate "$GUEST" tap0
bad "--userns-path that does not exist" "--userns-path /nonexistent/user: No such file or directory" \
  --userns-path=/nonexistent/user "$GUEST" tap9
bad "--userns-path that is not a user namespace" "/proc/$GUEST/ns/net is not a user namespace" \
  --userns-path="/proc/$GUEST/ns/net" "$GUEST" tap9

# An explicit --userns-path that exists but cannot be joined is an error,
# not skipped: attach_test.sh bind-mounted a user namespace of root's here
# (openable, not joinable: EPERM), while the guest's network namespace
# could still be joined, so ignoring the failure would go on in the wrong
# user namespace. The timeout only keeps a regression (tapir running on)
# from hanging the suite.
ROOT_USERNS="$(dirname "${BASH_SOURCE[0]}")/root-userns"
if [[ -r $ROOT_USERNS ]]; then
  timeout 30 "$TAPIR" "${E2E_LOCK[@]}" --userns-path="$ROOT_USERNS" "$GUEST" tap9 >/dev/null 2>"$WORK/userns.err"
  rc=$?
  check "bad input, --userns-path that cannot be joined: exit 1" test "$rc" = 1 || echo "#   rc=$rc"
  check "bad input, --userns-path that cannot be joined: one line naming the path and errno" \
    bash -c '[[ $(wc -l <"$1") == 1 && $(cat "$1") == *"cannot join user namespace $2: Operation not permitted"* ]]' \
    _ "$WORK/userns.err" "$ROOT_USERNS" || sed 's/^/#   /' "$WORK/userns.err"
else
  echo "skip - --userns-path that cannot be joined: attach_test.sh made no root-owned user namespace"
fi

# --pcap at a symbolic link: refused (O_NOFOLLOW), the file it points to
# untouched. (tapir run: its stderr carries only the error.)
printf 'keep me\n' >"$WORK/victim"
ln -s "$WORK/victim" "$WORK/link.pcap"
err=$("$TAPIR" run "${E2E_LOCK[@]}" --pcap "$WORK/link.pcap" -- true 2>&1); rc=$?
check "bad input, --pcap at a symbolic link: exit 1" test "$rc" = 1 || echo "#   rc=$rc"
check "bad input, --pcap at a symbolic link: one line naming it" \
  bash -c '[[ $(wc -l <<<"$1") == 1 && "$1" == *"$2"*"symbolic link"* ]]' _ "$err" "$WORK/link.pcap" \
  || echo "#   $err"
check "bad input, --pcap at a symbolic link: the file it points to is untouched" \
  test "$(cat "$WORK/victim")" = "keep me"
check "bad input left no tap behind" bash -c "! nsenter -t $GUEST -U -n --preserve-credentials ip link show tap9 2>/dev/null"
check "bad input left no tapir running" no_tapir_left

e2e_report "attach (as $(id -un))"
