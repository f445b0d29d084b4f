#!/usr/bin/env bash
# DNS forwarding end to end (issue 7, item 8): dnsperf from a guest through
# tapir (10.0.2.3), slirp4netns (10.0.2.3) and pasta (--dns-forward
# 10.0.2.3), and straight at the upstream — a local dnsmasq on the host
# namespace's loopback — in the same run, as root, inside namespaces it
# creates (TESTING.md). Every engine and dnsperf run as the unprivileged
# test user.
#
#   dns.sh TAPIR [--quick] [--time S] [--clients N]
#          [--engines "tapir slirp4netns pasta direct"] [--repeat N] [--out FILE.json]
#          [--querysets "unique repeat routed"]
# Environment: BENCH_TIME, BENCH_CLIENTS, BENCH_ENGINES, BENCH_REPEAT, BENCH_OUT, BENCH_QUERYSETS.
#
# Three query sets: "unique" (no name twice, tapir's cache off with
# --dns-cache-size 0), "repeat" (50 names over and over, tapir's cache
# on) and "routed" (unique's, with 20 --dns-route domains in tapir, one of
# them bench.test: the cost of split DNS; the other engines run it as unique). Prints queries/s and lost queries with tapir's ratios to slirp4netns
# and to the upstream itself, and writes every run to a JSON file. With
# --repeat N, everything N times, engines interleaved; medians reported.
BENCH_NAME="bench e2e dns"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAPIR_ARG="${1:-}"; shift || true
BENCH_TIME=${BENCH_TIME:-10}
BENCH_CLIENTS=${BENCH_CLIENTS:-4}
ENGINES=${BENCH_ENGINES:-"tapir slirp4netns pasta direct"}
REPEAT=${BENCH_REPEAT:-1}
QSETS=${BENCH_QUERYSETS:-"unique repeat routed"}
OUT=${BENCH_OUT:-}
usage() { sed -n '9,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-1}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) BENCH_TIME=3 ;;
    --time) BENCH_TIME=${2:?}; shift ;;
    --clients) BENCH_CLIENTS=${2:?}; shift ;;
    --engines) ENGINES=${2:?}; shift ;;
    --repeat) REPEAT=${2:?}; shift ;;
    --querysets) QSETS=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    -h|--help) usage 0 ;;
    *) bench_log "unknown argument: $1"; usage ;;
  esac
  shift
done
[[ $BENCH_TIME =~ ^[1-9][0-9]*$ ]] || bench_die "--time takes whole seconds"
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || bench_die "--repeat: use 1..99"
[[ $BENCH_CLIENTS =~ ^[1-9][0-9]?$ ]] || bench_die "--clients: use 1..99"
for e in $ENGINES; do
  case "$e" in tapir|slirp4netns|pasta|direct) ;; *) bench_die "unknown engine $e" ;; esac
done
for q in $QSETS; do
  case "$q" in unique|repeat|routed) ;; *) bench_die "unknown query set $q" ;; esac
done

tools=(dnsperf dnsmasq dig timeout)
[[ " $ENGINES " == *" slirp4netns "* ]] && tools+=(slirp4netns)
[[ " $ENGINES " == *" pasta "* ]] && tools+=(pasta)
bench_setup "$TAPIR_ARG" "${tools[@]}"
OUT=$(bench_out_path dns "$OUT")
RESULTS="$BIN/results.jsonl"
: >"$RESULTS"
# The upstream listens on port 53 of the benchmark's own loopback, as the
# test user; the sysctl is per network namespace.
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53

bench_log "dnsperf -c $BENCH_CLIENTS -l $BENCH_TIME; engines: $ENGINES; repeat: $REPEAT"
for rep in $(seq "$REPEAT"); do
  for qset in $QSETS; do
    for engine in $ENGINES; do
      bench_log "$engine, $qset names$([[ $REPEAT -gt 1 ]] && echo ", round $rep of $REPEAT") ..."
      e2e_as_user env BENCH_TIME="$BENCH_TIME" BENCH_CLIENTS="$BENCH_CLIENTS" \
        bash "$BIN/dns_engine.sh" "$engine" "$qset" 2>>"$BIN/engine.err" |
        jq -c --argjson rep "$rep" '. + {rep: $rep}' >>"$RESULTS"
      jq -r --arg e "$engine" --arg q "$qset" --argjson rep "$rep" \
        'select(.engine == $e and .queryset == $q and .rep == $rep and .status != "ok")
         | "  failed: \(.error)"' "$RESULTS" >&2
    done
  done
done

jq -s --arg commit "$(bench_commit)" --arg date "$(date -u +%FT%TZ)" \
  --argjson t "$BENCH_TIME" --argjson c "$BENCH_CLIENTS" --argjson n "$REPEAT" --arg kernel "$(uname -r)" \
  --arg dnsperf "$(dnsperf -h 2>&1 | sed -n 's/^Version //p')" \
  --arg slirp "$(slirp4netns --version 2>/dev/null | head -1)" \
  --arg passt "$(dpkg-query -W -f='${Version}' passt 2>/dev/null)" --arg qsets "$QSETS" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
                      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  . as $runs
  | ($runs | group_by([.engine, .queryset])
      | map(map(select(.status == "ok")) as $ok
            | {engine: .[0].engine, queryset: .[0].queryset, repetitions: length, ok: ($ok | length),
               status: (if ($ok | length) > 0 then "ok" else "failed" end),
               qps: ($ok | map(.qps) | median), lost: ($ok | map(.lost) | median),
               cpu_us_per_query: ($ok | map(.cpu_us_per_query | select(. != null)) | median),
               error: (map(.error | select(. != null)) | first)})) as $summary
  | def qps($e; $q): ($summary[] | select(.engine == $e and .queryset == $q and .status == "ok") | .qps) // null;
    def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
  {bench: "e2e dns", date: $date, commit: $commit, kernel: $kernel,
   versions: {dnsperf: $dnsperf, slirp4netns: $slirp, passt: $passt},
   config: {time_s: $t, clients: $c, repeat: $n, upstream: "dnsmasq on the host namespace loopback"},
   summary: $summary,
   runs: $runs,
   ratios: ($qsets | [splits(" +")] | map(select(. != "")) | map(. as $q | {queryset: $q,
     tapir_vs_slirp4netns: ratio(qps("tapir"; $q); qps("slirp4netns"; $q)),
     tapir_vs_pasta: ratio(qps("tapir"; $q); qps("pasta"; $q)),
     tapir_vs_direct: ratio(qps("tapir"; $q); qps("direct"; $q))}))}
  ' "$RESULTS" >"$OUT" || bench_die "cannot write $OUT"

echo
echo "DNS through each engine: queries/s (lost queries), dnsperf -c $BENCH_CLIENTS -l $BENCH_TIME$([[ $REPEAT -gt 1 ]] && echo ", medians of $REPEAT"); commit $(bench_commit)"
ratio_cols=()
for e in slirp4netns pasta direct; do
  [[ " $ENGINES " == *" tapir "* && " $ENGINES " == *" $e "* ]] && ratio_cols+=("$e")
done
{
  printf 'names'; printf '\t%s' $ENGINES
  for e in "${ratio_cols[@]}"; do printf '\ttapir/%s' "$e"; done
  printf '\n'
  for qset in $QSETS; do
    case "$qset" in
      unique) row=("unique (tapir cache off)") ;;
      repeat) row=("repeat (tapir cache on)") ;;
      routed) row=("unique, 20 --dns-route in tapir (cache off)") ;;
    esac
    declare -A q=()
    for e in $ENGINES; do
      cell=$(jq -r --arg e "$e" --arg q "$qset" '.summary[] | select(.engine == $e and .queryset == $q)
        | if .status == "ok" then "\(.qps) \(.lost)\(if .ok < .repetitions then "*" else "" end)"
          else "failed" end' "$OUT" | head -1)
      if [[ $cell == failed || -z $cell ]]; then
        row+=("${cell:--}")
      else
        q[$e]=${cell% *}
        row+=("$(awk -v x="${cell% *}" 'BEGIN { printf "%.0f", x }') (${cell#* })")
      fi
    done
    for e in "${ratio_cols[@]}"; do row+=("$(bench_ratio "${q[tapir]:-}" "${q[$e]:-}")"); done
    unset q
    (IFS=$'\t'; echo "${row[*]}")
  done
} | column -t -s $'\t'

helpers=()
for e in $ENGINES; do [[ $e != direct ]] && helpers+=("$e"); done
if [[ ${#helpers[@]} -gt 0 ]]; then
  echo
  echo "CPU of the network helper process (utime+stime), microseconds per answered query"
  {
    printf 'names'; printf '\t%s' "${helpers[@]}"; printf '\n'
    for qset in $QSETS; do
      row=("$qset")
      for e in "${helpers[@]}"; do
        row+=("$(jq -r --arg e "$e" --arg q "$qset" '.summary[] | select(.engine == $e and .queryset == $q)
          | if .status != "ok" then "failed" elif .cpu_us_per_query == null then "-"
            else (.cpu_us_per_query * 10 | round / 10 | tostring) end' "$OUT" | head -1)")
      done
      (IFS=$'\t'; echo "${row[*]}")
    done
  } | column -t -s $'\t'
fi
echo
echo "results: $OUT"
nfail=$(jq '[.runs[] | select(.status != "ok")] | length' "$OUT")
[[ $nfail -gt 0 ]] && echo "$nfail run(s) failed (* marks a median over fewer repetitions); reasons in the JSON file (.runs[].error)"
exit 0
