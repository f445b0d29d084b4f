#!/usr/bin/env bash
# TCP throughput end to end (issue 5, item 8): iperf3 from a guest namespace
# to a server on the host namespace's loopback, through tapir, slirp4netns,
# pasta and a plain kernel veth pair, in the same run, as root, inside
# namespaces it creates (TESTING.md). Every user-mode engine runs as the
# unprivileged test user.
#
#   tcp.sh TAPIR [--quick] [--time S] [--omit S] [--mtus "1500 65520"]
#          [--streams "1 4"] [--engines "tapir slirp4netns pasta veth"]
#          [--repeat N] [--out FILE.json]
#   fwd.sh TAPIR [the same] [--addr A]   udp.sh TAPIR [the same] [--rate R] [--len B]
# Environment: BENCH_TIME, BENCH_OMIT, BENCH_MTUS, BENCH_STREAMS,
# BENCH_ENGINES, BENCH_REPEAT, BENCH_OUT (the options win).
#
# BENCH_KIND=fwd (bench/e2e/fwd.sh; issue 6, item 5): port forwarding into
# the guest. The iperf3 server runs in the guest on port 5201, published on
# the host namespace's port 15201 by each engine's own forwarder (tapir -p,
# slirp4netns add_hostfwd through --api-socket, pasta -t); the client runs
# in the host namespace and connects to 192.0.2.2:15201, the host
# namespace's own non-loopback address (--addr 127.0.0.1 would make pasta
# splice the two sockets in the kernel instead of using its tap). veth:
# client and server straight across the pair, no forwarding. One stream.
# BENCH_KIND=udp (bench/e2e/udp.sh): iperf3 -u guest->host and host->guest
# through the gateway as for tcp (no omitted seconds: iperf3 3.12 miscounts
# UDP loss with -O), offered at --rate (iperf3 -b, default 0,
# as fast as the sender can) in datagrams of --len bytes (default 1400 at
# MTU < 9000, else 8000); the receiver's Gbit/s and the datagrams lost.
#
# --repeat N runs the whole matrix N times, engines interleaved (so a load
# spike on a shared machine hits them alike), and reports medians.
# Prints a table of Gbit/s with tapir's ratios to the others, the network
# helper's CPU seconds per GB moved, and writes every run to a JSON file.
# A run that fails (e.g. tapir before it has TCP) is reported "failed" with
# its reason; the other rows still run.
KIND=${BENCH_KIND:-tcp}
BENCH_NAME="bench e2e $KIND"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAPIR_ARG="${1:-}"; shift || true
BENCH_TIME=${BENCH_TIME:-5}
BENCH_OMIT=${BENCH_OMIT:-1}
# iperf3 3.12 miscounts UDP loss when seconds are omitted (-O): none for udp.
[[ $KIND == udp ]] && BENCH_OMIT=${BENCH_OMIT_UDP:-0}
MTUS=${BENCH_MTUS:-"1500 65520"}
STREAMS=${BENCH_STREAMS:-"1 4"}
[[ $KIND != tcp ]] && STREAMS=${BENCH_STREAMS:-1}
FWD_ADDR=${BENCH_FWD_ADDR:-192.0.2.2}
UDP_RATE=${BENCH_UDP_RATE:-0}
UDP_LEN=${BENCH_UDP_LEN:-}
ENGINES=${BENCH_ENGINES:-"tapir slirp4netns pasta veth"}
REPEAT=${BENCH_REPEAT:-1}
OUT=${BENCH_OUT:-}
usage() { sed -n '8,13p' "$BENCH_E2E_DIR/tcp.sh" | sed 's/^# \{0,1\}//' >&2; exit "${1:-1}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) BENCH_TIME=2; [[ $KIND == udp ]] || BENCH_OMIT=1; MTUS=1500; STREAMS=1 ;;
    --time) BENCH_TIME=${2:?}; shift ;;
    --omit) BENCH_OMIT=${2:?}; shift ;;
    --mtus) MTUS=${2:?}; shift ;;
    --streams) STREAMS=${2:?}; shift ;;
    --engines) ENGINES=${2:?}; shift ;;
    --repeat) REPEAT=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    --addr) [[ $KIND == fwd ]] || bench_die "--addr is an option of fwd"; FWD_ADDR=${2:?}; shift ;;
    --rate) [[ $KIND == udp ]] || bench_die "--rate is an option of udp"; UDP_RATE=${2:?}; shift ;;
    --len) [[ $KIND == udp ]] || bench_die "--len is an option of udp"; UDP_LEN=${2:?}; shift ;;
    -h|--help) usage 0 ;;
    *) bench_log "unknown argument: $1"; usage ;;
  esac
  shift
done
[[ $BENCH_TIME =~ ^[1-9][0-9]*$ && $BENCH_OMIT =~ ^[0-9]+$ ]] || bench_die "--time and --omit take whole seconds"
[[ $KIND == udp && $BENCH_OMIT != 0 ]] && bench_die "--omit: iperf3 miscounts UDP loss with omitted seconds; udp runs use none"
for m in $MTUS; do
  [[ $m =~ ^[0-9]+$ && $m -ge 1280 && $m -le 65520 ]] || bench_die "MTU $m: use 1280..65520"
done
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || bench_die "--repeat: use 1..99"
for s in $STREAMS; do [[ $s =~ ^[1-9][0-9]?$ ]] || bench_die "streams $s: use 1..99"; done
for e in $ENGINES; do
  case "$e" in tapir|slirp4netns|pasta|veth) ;; *) bench_die "unknown engine $e" ;; esac
done
[[ $UDP_RATE =~ ^[0-9]+[KMG]?$ ]] || bench_die "--rate: bits/s as iperf3 -b takes them (0, 800M, 10G)"
[[ -z $UDP_LEN || ( $UDP_LEN =~ ^[0-9]+$ && $UDP_LEN -ge 64 && $UDP_LEN -le 65000 ) ]] || bench_die "--len: 64..65000 bytes"
[[ $FWD_ADDR =~ ^[0-9.]+$ ]] || bench_die "--addr: an IPv4 address of the host namespace"
# udp_len MTU: the datagram size for that MTU.
udp_len() {
  if [[ -n $UDP_LEN ]]; then echo "$UDP_LEN"; elif [[ $1 -lt 9000 ]]; then echo 1400; else echo 8000; fi
}
export BENCH_TIME BENCH_OMIT BENCH_KIND=$KIND BENCH_FWD_ADDR=$FWD_ADDR BENCH_UDP_RATE=$UDP_RATE

tools=(iperf3 ss timeout)
[[ $KIND == fwd && " $ENGINES " == *" slirp4netns "* ]] && tools+=(socat)
[[ " $ENGINES " == *" slirp4netns "* ]] && tools+=(slirp4netns)
[[ " $ENGINES " == *" pasta "* ]] && tools+=(pasta)
bench_setup "$TAPIR_ARG" "${tools[@]}"
OUT=$(bench_out_path "$KIND" "$OUT")
RESULTS="$BIN/results.jsonl"
: >"$RESULTS"

RUNS=()
for s in $STREAMS; do RUNS+=("up:$s" "down:$s"); done

# The kernel path: a veth pair between the host namespace and a guest
# namespace of its own (10.0.3.1 <-> 10.0.3.2), both ends at the MTU.
VNS=tapir-v-$$
BENCH_ON_EXIT='ip netns del $VNS 2>/dev/null'
veth_rows() {
  local mtu="$1"
  if ! ip netns list | grep -qw "$VNS"; then
    ip netns add "$VNS" &&
      ip -n "$E2E_HNS" link add vb0 type veth peer name eth0 netns "$VNS" &&
      ip -n "$E2E_HNS" addr add 10.0.3.1/24 dev vb0 &&
      ip -n "$VNS" addr add 10.0.3.2/24 dev eth0 &&
      ip -n "$VNS" link set lo up &&
      ip -n "$VNS" link set eth0 up &&
      ip -n "$E2E_HNS" link set vb0 up || {
        local r
        for r in "${RUNS[@]}"; do
          (source "$BIN/tcp_run.sh"; tcp_fail_json veth "$mtu" "$(dir_of "$r")" "${r#*:}" "cannot create the veth pair")
        done
        return
      }
  fi
  ip -n "$E2E_HNS" link set vb0 mtu "$mtu"
  ip -n "$VNS" link set eth0 mtu "$mtu"
  (
    source "$BIN/tcp_run.sh"
    export TMPDIR=$BIN
    # As the test user, exec'd all the way down (so $! is the server).
    local as_user=(setpriv --reuid="$E2E_UID" --regid="$E2E_GID" --init-groups
      env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="/home/$E2E_USER" E2E_RUN_ID="$E2E_RUN_ID")
    SERVER_CMD=(nsenter --net="/run/netns/$E2E_HNS" -- "${as_user[@]}")
    CLIENT_CMD=(nsenter --net="/run/netns/$VNS" -- "${as_user[@]}")
    local target=10.0.3.1 run_one=tcp_one_run
    [[ $KIND == udp ]] && run_one=udp_one_run
    if [[ $KIND == fwd ]]; then
      # The server in the guest, the client in the host namespace.
      local swap=("${SERVER_CMD[@]}")
      SERVER_CMD=("${CLIENT_CMD[@]}")
      CLIENT_CMD=("${swap[@]}")
      target=10.0.3.2
    fi
    for r in "${RUNS[@]}"; do
      "$run_one" veth "$mtu" "$(dir_of "$r")" "${r#*:}" "$target" 0
    done
  )
}
dir_of() { [[ $1 == up:* ]] && echo "guest->host" || echo "host->guest"; }

bench_log "$KIND: iperf3 -t $BENCH_TIME -O $BENCH_OMIT; MTUs: $MTUS; streams: $STREAMS; engines: $ENGINES; repeat: $REPEAT"
for rep in $(seq "$REPEAT"); do
  for mtu in $MTUS; do
    for engine in $ENGINES; do
      bench_log "$engine, MTU $mtu$([[ $REPEAT -gt 1 ]] && echo ", round $rep of $REPEAT") ..."
      if [[ $engine == veth ]]; then
        BENCH_UDP_LEN=$(udp_len "$mtu") veth_rows "$mtu"
      else
        e2e_as_user env BENCH_TIME="$BENCH_TIME" BENCH_OMIT="$BENCH_OMIT" BENCH_KIND="$KIND" \
          BENCH_FWD_ADDR="$FWD_ADDR" BENCH_UDP_RATE="$UDP_RATE" BENCH_UDP_LEN="$(udp_len "$mtu")" \
          bash "$BIN/tcp_engine.sh" "$engine" "$mtu" "${RUNS[@]}" 2>>"$BIN/engine.err"
      fi | jq -c --argjson rep "$rep" '. + {rep: $rep}' >>"$RESULTS"
      # Whatever failed, say why right away.
      jq -r --arg e "$engine" --argjson m "$mtu" --argjson rep "$rep" \
        'select(.engine == $e and .mtu == $m and .rep == $rep and .status != "ok")
         | "  failed: \(.direction), \(.streams) stream(s): \(.error)"' "$RESULTS" >&2
    done
  done
done

# --- results --------------------------------------------------------------
jq -s --arg commit "$(bench_commit)" --arg date "$(date -u +%FT%TZ)" \
  --argjson t "$BENCH_TIME" --argjson o "$BENCH_OMIT" --argjson n "$REPEAT" --arg kind "$KIND" --arg addr "$FWD_ADDR" \
  --arg rate "$UDP_RATE" --arg len "$UDP_LEN" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg kernel "$(uname -r)" \
  --arg cpus "$(nproc)" --arg iperf3 "$(iperf3 --version | head -1)" \
  --arg slirp "$(slirp4netns --version 2>/dev/null | head -1)" \
  --arg passt "$(dpkg-query -W -f='${Version}' passt 2>/dev/null)" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  . as $runs
  # One row per engine and case: medians over the repetitions that worked.
  | ($runs | group_by([.engine, .mtu, .direction, .streams])
      | map(map(select(.status == "ok")) as $ok
            | {engine: .[0].engine, mtu: .[0].mtu, direction: .[0].direction, streams: .[0].streams,
               repetitions: length, ok: ($ok | length),
               status: (if ($ok | length) > 0 then "ok" else "failed" end),
               gbps: ($ok | map(.gbps) | median),
               gbps_min: ($ok | map(.gbps) | min), gbps_max: ($ok | map(.gbps) | max),
               cpu_s_per_gb: ($ok | map(.cpu_s_per_gb | select(. != null)) | median),
               loss_pct: ($ok | map(.loss_pct | select(. != null)) | median),
               error: (map(.error | select(. != null)) | first)})) as $summary
  | def gbps($e; $r): ($summary[] | select(.engine == $e and .mtu == $r.mtu and .direction == $r.direction
                                            and .streams == $r.streams and .status == "ok") | .gbps) // null;
    def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
  {bench: ("e2e " + $kind), date: $date, commit: $commit, kernel: $kernel, cpus: ($cpus | tonumber),
   versions: {iperf3: $iperf3, slirp4netns: $slirp, passt: $passt},
   config: ({time_s: $t, omit_s: $o, repeat: $n, load_at_end: $load}
            + (if $kind == "fwd" then {client_to: ($addr + ":15201"), guest_port: 5201} else {} end)
            + (if $kind == "udp" then {rate: $rate, len: (if $len == "" then "1400 below MTU 9000, else 8000" else $len end)} else {} end)),
   summary: $summary,
   runs: $runs,
   ratios: ([$runs[] | {mtu, direction, streams}] | unique
            | map(. as $r | $r + {
                tapir_vs_slirp4netns: ratio(gbps("tapir"; $r); gbps("slirp4netns"; $r)),
                tapir_vs_pasta: ratio(gbps("tapir"; $r); gbps("pasta"; $r)),
                tapir_vs_veth: ratio(gbps("tapir"; $r); gbps("veth"; $r))}))}
  ' "$RESULTS" >"$OUT" || bench_die "cannot write $OUT"

# cell ENGINE FIELD: per row key, the value or "failed"/"-".
table() {
  local field="$1"
  jq -r --arg f "$field" --arg engines "$ENGINES" '
    .summary as $runs
    | ($engines | split(" ") | map(select(. != ""))) as $es
    | [$runs[] | {direction, streams, mtu}] | unique | sort_by(.direction != "guest->host", .streams, .mtu)[]
    | . as $r
    | [$r.direction, ($r.streams | tostring), ($r.mtu | tostring)]
      + ($es | map(. as $e
          | ([$runs[] | select(.engine == $e and .mtu == $r.mtu and .direction == $r.direction
                               and .streams == $r.streams)] | first) as $x
          | if $x == null then "-"
            elif $x.status != "ok" then "failed"
            elif $x[$f] == null then "-"
            else ($x[$f] | tostring) + (if $x.ok < $x.repetitions then "*" else "" end) end))
    | @tsv' "$OUT"
}

echo
case "$KIND" in
  tcp) title="TCP throughput" ;;
  fwd) title="Port-forwarded TCP throughput (host namespace -> $FWD_ADDR:15201 -> guest :5201; veth: straight across)" ;;
  udp) title="UDP throughput received (iperf3 -u -b $UDP_RATE, -l $(udp_len 1500) at MTU 1500, $(udp_len 65520) at 65520)" ;;
esac
echo "$title, Gbit/s (iperf3 -t $BENCH_TIME -O $BENCH_OMIT, receiver side$([[ $REPEAT -gt 1 ]] && echo ", median of $REPEAT"); commit $(bench_commit); load $(cut -d' ' -f1-3 /proc/loadavg))"
read -r -a hdr <<<"direction streams mtu $ENGINES"
ratio_cols=()
for e in slirp4netns pasta veth; do
  [[ " $ENGINES " == *" tapir "* && " $ENGINES " == *" $e "* ]] && ratio_cols+=("$e")
done
{
  printf '%s' "${hdr[0]}"; printf '\t%s' "${hdr[@]:1}"
  for e in "${ratio_cols[@]}"; do printf '\ttapir/%s' "$e"; done
  printf '\n'
  table gbps | while IFS=$'\t' read -r -a row; do
    out=("${row[@]:0:3}")
    declare -A val=()
    i=3
    for e in $ENGINES; do
      v=${row[$i]}
      star=""
      [[ $v == *'*' ]] && { star='*'; v=${v%'*'}; }
      [[ $v =~ ^[0-9.e+-]+$ ]] && { val[$e]=$v; v=$(awk -v x="$v" 'BEGIN { printf "%.2f", x }')$star; }
      out+=("$v"); i=$((i + 1))
    done
    for e in "${ratio_cols[@]}"; do out+=("$(bench_ratio "${val[tapir]:-}" "${val[$e]:-}")"); done
    unset val
    (IFS=$'\t'; echo "${out[*]}")
  done
} | column -t -s $'\t'

# small_table FIELD FORMAT ENGINE...: one number per engine and row.
small_table() {
  local field="$1" fmt="$2"; shift 2
  printf 'direction\tstreams\tmtu'; printf '\t%s' "$@"; printf '\n'
  ENGINES="$*" table "$field" | while IFS=$'\t' read -r -a row; do
    out=("${row[@]:0:3}")
    for v in "${row[@]:3}"; do
      star=""
      [[ $v == *'*' ]] && { star='*'; v=${v%'*'}; }
      [[ $v =~ ^[0-9.e+-]+$ ]] && v=$(awk -v x="$v" -v f="$fmt" 'BEGIN { printf f, x }')$star
      out+=("$v")
    done
    (IFS=$'\t'; echo "${out[*]}")
  done
}
if [[ $KIND == udp ]]; then
  echo
  echo "Datagrams lost, % of those sent"
  # shellcheck disable=SC2086
  small_table loss_pct "%.1f" $ENGINES | column -t -s $'\t'
fi

helpers=()
for e in $ENGINES; do [[ $e != veth ]] && helpers+=("$e"); done
if [[ ${#helpers[@]} -gt 0 ]]; then
  echo
  echo "CPU of the network helper process (utime+stime, all its threads), seconds per GB moved"
  small_table cpu_s_per_gb "%.3f" "${helpers[@]}" | column -t -s $'\t'
fi
echo
echo "results: $OUT"
nfail=$(jq '[.runs[] | select(.status != "ok")] | length' "$OUT")
[[ $nfail -gt 0 ]] && echo "$nfail run(s) failed (* marks a median over fewer repetitions); reasons in the JSON file (.runs[].error)"
exit 0
