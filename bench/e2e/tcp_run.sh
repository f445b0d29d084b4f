# shellcheck shell=bash
# One iperf3 measurement for bench/e2e/tcp.sh, sourced by the root driver
# (veth rows) and by tcp_engine.sh (the user-mode engines, as the test user).
#
# tcp_one_run ENGINE MTU DIRECTION STREAMS TARGET HELPER_PID
#   DIRECTION: "guest->host" (the guest sends) or "host->guest" (iperf3 -R).
#   HELPER_PID: the network helper whose CPU time is charged to the run, or
#   0 (veth: the kernel does the work, nobody to charge).
#   Uses the arrays SERVER_CMD (prefix that runs a command where the server
#   lives: the host namespace, or the guest for port forwarding) and
#   CLIENT_CMD (prefix to where the client runs), and BENCH_TIME, BENCH_OMIT,
#   BENCH_PORT (the server's port), BENCH_CLIENT_PORT (the port the client
#   connects to, when a forward maps it; default BENCH_PORT). Prints one
#   JSON object.
#
# udp_one_run ENGINE MTU DIRECTION STREAMS TARGET HELPER_PID: the same with
#   iperf3 -u at BENCH_UDP_RATE (iperf3 -b; 0 = as fast as it can) and
#   datagrams of BENCH_UDP_LEN bytes; reports the receiver's Gbit/s and the
#   datagrams lost.

# helper_ticks PID: utime + stime of the whole thread group (io_uring
# workers included), in clock ticks; empty when PID is gone.
helper_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # Fields after "(comm)": state is 3, utime 14, stime 15 (proc(5)).
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' <<<"$stat"
}

tcp_fail_json() {  # ENGINE MTU DIRECTION STREAMS REASON
  jq -cn --arg e "$1" --argjson m "$2" --arg d "$3" --argjson s "$4" --arg r "$5" \
    '{engine:$e, mtu:$m, direction:$d, streams:$s, status:"failed", error:$r}'
}

tcp_one_run() { BENCH_PROTO=tcp iperf_one_run "$@"; }
udp_one_run() { BENCH_PROTO=udp iperf_one_run "$@"; }

iperf_one_run() {
  local engine="$1" mtu="$2" dir="$3" streams="$4" target="$5" helper="$6"
  local port=${BENCH_PORT:-5201} t=${BENCH_TIME:-5} o=${BENCH_OMIT:-1}
  local cport=${BENCH_CLIENT_PORT:-}
  [[ -n $cport ]] || cport=$port
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/tapir-bench-run.XXXXXX")
  local rev=() udp=()
  # "guest->host" means the guest sends; the client is in the guest unless
  # the server is (port forwarding, BENCH_KIND=fwd), then -R flips it.
  if [[ ${BENCH_KIND:-tcp} == fwd ]]; then
    [[ $dir == "guest->host" ]] && rev=(-R)
  else
    [[ $dir == "host->guest" ]] && rev=(-R)
  fi
  [[ ${BENCH_PROTO:-tcp} == udp ]] && udp=(-u -b "${BENCH_UDP_RATE:-0}" -l "${BENCH_UDP_LEN:-1400}")

  "${SERVER_CMD[@]}" iperf3 -s -1 -p "$port" >"$work/server.log" 2>&1 &
  local server=$!
  local i
  for i in $(seq 100); do
    "${SERVER_CMD[@]}" ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
    sleep 0.05
  done

  local ticks0="" ticks1="" hz
  hz=$(getconf CLK_TCK)
  [[ $helper != 0 ]] && ticks0=$(helper_ticks "$helper")
  # Bounded: a connection that never comes up gives up after 5 s, and the
  # whole client after its duration plus a margin.
  timeout --foreground -k 2 $((t + o + 20)) "${CLIENT_CMD[@]}" iperf3 -c "$target" -p "$cport" \
    -t "$t" -O "$o" -P "$streams" "${rev[@]}" "${udp[@]}" -J --connect-timeout 5000 \
    >"$work/client.json" 2>"$work/client.err"
  local rc=$?
  [[ $helper != 0 ]] && ticks1=$(helper_ticks "$helper")
  kill "$server" 2>/dev/null
  wait "$server" 2>/dev/null

  local err=""
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    err="iperf3 did not finish within $((t + o + 20)) s"
  elif ! jq -e . "$work/client.json" >/dev/null 2>&1; then
    err="iperf3 exited $rc: $(head -c 300 "$work/client.err" | tr '\n' ' ')"
  else
    err=$(jq -r '.error // empty' "$work/client.json")
    [[ -z $err ]] && ! jq -e '.end.sum_received.bits_per_second > 0' "$work/client.json" \
      >/dev/null && err="nothing was received"
  fi
  if [[ $helper != 0 && -z $err && -z $ticks1 ]]; then
    err="the $engine process ($helper) died during the run"
  fi
  if [[ -n $err ]]; then
    tcp_fail_json "$engine" "$mtu" "$dir" "$streams" "$err"
    rm -rf "$work"
    return 0
  fi

  local cpu="null"
  if [[ $helper != 0 ]]; then
    cpu=$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$hz" 'BEGIN { printf "%.3f", (b - a) / hz }')
  fi
  # Throughput: the receiver's view, omitted seconds excluded (iperf3's own
  # sums). CPU is charged per byte over the whole run, omitted seconds
  # included, because the helper's CPU time covers them too.
  jq -c --arg e "$engine" --argjson m "$mtu" --arg d "$dir" --argjson s "$streams" \
    --argjson cpu "$cpu" --arg proto "${BENCH_PROTO:-tcp}" --argjson t "$t" --argjson o "$o" '
    # UDP: the intervals count what was sent, so take what arrived, scaled
    # from the measured seconds to the whole run.
    (if $proto == "udp" then .end.sum_received.bytes * ($t + $o) / $t
     else [.intervals[].sum.bytes] | add end) as $all
    | {engine:$e, mtu:$m, direction:$d, streams:$s, status:"ok",
       gbps: (.end.sum_received.bits_per_second / 1e9),
       bytes_measured: .end.sum_received.bytes,
       bytes_total: $all,
       retransmits: (.end.sum_sent.retransmits // null),
       loss_pct: (.end.sum_received.lost_percent // null),
       helper_cpu_s: $cpu,
       cpu_s_per_gb: (if $cpu == null or $all == 0 then null else $cpu / ($all / 1e9) end)}
    ' "$work/client.json"
  rm -rf "$work"
}
