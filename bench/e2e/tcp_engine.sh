#!/usr/bin/env bash
# bench/e2e/tcp.sh's user side: one user-mode engine at one MTU, run as the
# unprivileged test user in the benchmark's host namespace.
#   tcp_engine.sh ENGINE MTU RUN...    RUN: up:STREAMS | down:STREAMS
# ENGINE: tapir | slirp4netns | pasta. A guest (unshare --user --net) gets
# its network from ENGINE; iperf3 in the guest talks to a one-shot iperf3
# server on this namespace's loopback, reached through the gateway. Prints
# one JSON object per RUN; a setup failure fails every RUN, never the script.
# BENCH_KIND (environment): tcp (the above), udp (the same with iperf3 -u),
# or fwd: the server runs in the guest on port BENCH_PORT, published on
# BENCH_FWD_PORT by the engine's own port forwarding (tapir -p, slirp4netns
# add_hostfwd through its API socket, pasta -t), and the client in this
# namespace connects to BENCH_FWD_ADDR:BENCH_FWD_PORT.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/tcp_run.sh"
set -uo pipefail

engine="$1" mtu="$2"; shift 2
kind=${BENCH_KIND:-tcp}
port=${BENCH_PORT:-5201}
fport=${BENCH_FWD_PORT:-15201}
WORK=$(mktemp -d /tmp/tapir-bench-tcp.XXXXXX)
export TMPDIR=$WORK  # each run's files too, so cleanup takes them
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# On Ctrl-C: clean up, then die of SIGINT, so the caller stops too.
trap 'cleanup; trap - EXIT INT; kill -INT $$' INT
trap 'exit 143' TERM
wait_for() { for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }

dir_of() { [[ $1 == up:* ]] && echo "guest->host" || echo "host->guest"; }
fail_all() {
  local r
  for r in "${RUNS[@]}"; do tcp_fail_json "$engine" "$mtu" "$(dir_of "$r")" "${r#*:}" "$1"; done
  exit 0
}
RUNS=("$@")

unshare --user --map-root-user --net sleep 3600 &
GUEST=$!; PIDS+=("$GUEST")
# (A function, so that each try reads the links anew.)
guest_netns() { [[ "$(readlink "/proc/$GUEST/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ]]; }
wait_for guest_netns || fail_all "cannot create the guest namespace"
in_guest() { nsenter -t "$GUEST" -U -n --preserve-credentials "$@"; }

case "$engine" in
  tapir)
    [[ -x ${TAPIR:-} ]] || fail_all "no tapir binary"
    fwd=()
    [[ $kind == fwd ]] && fwd=(-p "$fport:$port")
    "$TAPIR" -c --mtu "$mtu" "${fwd[@]}" "$GUEST" tap0 >"$WORK/helper.log" 2>&1 &
    target=10.0.2.2 ;;
  slirp4netns)
    # Host loopback through 10.0.2.2 is slirp4netns's default
    # (--disable-host-loopback turns it off).
    api=()
    [[ $kind == fwd ]] && api=(--api-socket "$WORK/api.sock")
    slirp4netns --configure --mtu "$mtu" "${api[@]}" "$GUEST" tap0 >"$WORK/helper.log" 2>&1 &
    target=10.0.2.2 ;;
  pasta)
    # pasta copies the host's address and default gateway into the guest and
    # maps TCP to the gateway address onto the host's loopback (unless
    # --no-map-gw). No port forwarding in either direction but the fwd
    # kind's -t HOSTPORT:GUESTPORT; foreground, so the PID is pasta's own.
    target=$(ip -4 route show default | awk '{ print $3; exit }')
    [[ -n $target ]] || fail_all "the host namespace has no default gateway for pasta"
    tfwd=none
    [[ $kind == fwd ]] && tfwd=$fport:$port
    pasta --config-net -f -q -t "$tfwd" -u none -T none -U none --mtu "$mtu" "$GUEST" \
      >"$WORK/helper.log" 2>&1 &
    ;;
  *) fail_all "unknown engine $engine" ;;
esac
HELPER=$!; PIDS+=("$HELPER")

ready() { in_guest ip -4 route show default 2>/dev/null | grep -q . ; }
if ! wait_for ready; then
  fail_all "$engine did not configure the guest: $(head -c 300 "$WORK/helper.log" | tr '\n' ' ')"
fi

if [[ $engine == slirp4netns && $kind == fwd ]]; then
  # slirp4netns publishes through its API only (one JSON request a connection).
  wait_for test -S "$WORK/api.sock" || fail_all "slirp4netns made no API socket"
  req='{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":'$fport',"guest_port":'$port'}}'
  reply=$(printf '%s' "$req" | socat -t 5 -T 10 - "UNIX-CONNECT:$WORK/api.sock" 2>&1)
  jq -e '.return.id' <<<"$reply" >/dev/null 2>&1 || fail_all "slirp4netns add_hostfwd: $reply"
fi

SERVER_CMD=()
CLIENT_CMD=(nsenter -t "$GUEST" -U -n --preserve-credentials)
run_one=tcp_one_run
[[ $kind == udp ]] && run_one=udp_one_run
if [[ $kind == fwd ]]; then
  SERVER_CMD=("${CLIENT_CMD[@]}")
  CLIENT_CMD=()
  target=${BENCH_FWD_ADDR:-192.0.2.2}
  export BENCH_CLIENT_PORT=$fport
  # Published and listening before the first run (pasta and tapir bind at
  # start, slirp4netns on the API request).
  wait_for eval 'ss -Hltn "sport = :$fport" | grep -q .' || fail_all "$engine does not listen on port $fport"
fi
for r in "${RUNS[@]}"; do
  if ! kill -0 "$HELPER" 2>/dev/null; then
    tcp_fail_json "$engine" "$mtu" "$(dir_of "$r")" "${r#*:}" "$engine exited: $(tail -c 300 "$WORK/helper.log" | tr '\n' ' ')"
    continue
  fi
  "$run_one" "$engine" "$mtu" "$(dir_of "$r")" "${r#*:}" "$target" "$HELPER"
done
