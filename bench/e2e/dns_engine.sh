#!/usr/bin/env bash
# bench/e2e/dns.sh's user side: dnsperf through one engine, run as the
# unprivileged test user in the benchmark's host namespace.
#   dns_engine.sh ENGINE QUERYSET
# ENGINE: tapir | slirp4netns | pasta | direct (dnsperf straight at the
# upstream). QUERYSET: unique (every name once; tapir's cache off),
# repeat (a few names over and over; tapir's cache on, its default size)
# or routed (unique's names, with 20 --dns-route domains configured in
# tapir: bench.test among them, to the same upstream, so every query walks
# the routes and goes out through a routed set; the others are as unique).
# The upstream is dnsmasq on this namespace's 127.0.0.1:53, answering every
# name under bench.test from its configuration. Prints one JSON object; a
# failure is reported in it, never by the script's exit status.
set -uo pipefail

engine="$1" qset="$2"
secs=${BENCH_TIME:-10}
clients=${BENCH_CLIENTS:-4}
WORK=$(mktemp -d /tmp/tapir-bench-dns.XXXXXX)
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

fail() {
  jq -cn --arg e "$engine" --arg q "$qset" --arg r "$1" \
    '{engine:$e, queryset:$q, status:"failed", error:$r}'
  exit 0
}

# The query sets. unique: more distinct names than any engine gets through
# in the run, so nothing repeats; repeat: 50 names, round and round.
case "$qset" in
  unique|routed) awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "u%d.bench.test A\n", i }' >"$WORK/queries" ;;
  repeat) awk 'BEGIN { for (i = 0; i < 50; i++) printf "r%d.bench.test A\n", i }' >"$WORK/queries" ;;
  *) fail "unknown query set $qset" ;;
esac

# --cache-size=0: dnsmasq answers from its configuration anyway.
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --address=/bench.test/192.0.2.10 --local-ttl=300 --cache-size=0 --pid-file= \
  2>"$WORK/dnsmasq.err" &
PIDS+=($!)
upstream_up() { dig @127.0.0.1 +time=1 +tries=1 +short probe.bench.test 2>/dev/null | grep -q 192.0.2.10; }
wait_for upstream_up || fail "the upstream dnsmasq did not come up: $(head -c 300 "$WORK/dnsmasq.err")"

HELPER=0
CLIENT=()
server=""
if [[ $engine == direct ]]; then
  server=127.0.0.1
else
  unshare --user --map-root-user --net sleep 3600 &
  GUEST=$!; PIDS+=("$GUEST")
  guest_netns() { [[ "$(readlink "/proc/$GUEST/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ]]; }
  wait_for guest_netns || fail "cannot create the guest namespace"
  CLIENT=(nsenter -t "$GUEST" -U -n --preserve-credentials)
  case "$engine" in
    tapir)
      [[ -x ${TAPIR:-} ]] || fail "no tapir binary"
      cache=()
      [[ $qset == unique || $qset == routed ]] && cache=(--dns-cache-size 0)
      routes=()
      if [[ $qset == routed ]]; then
        for i in $(seq 19); do routes+=(--dns-route "corp$i.example=127.0.0.$((i + 1)):53"); done
        routes+=(--dns-route bench.test=127.0.0.1:53)
      fi
      # Upstreams from the namespace's resolv.conf (nameserver 127.0.0.1),
      # as slirp4netns and pasta find theirs.
      "$TAPIR" -c "${cache[@]}" "${routes[@]}" "$GUEST" tap0 >"$WORK/helper.log" 2>&1 &
      server=10.0.2.3 ;;
    slirp4netns)
      slirp4netns --configure "$GUEST" tap0 >"$WORK/helper.log" 2>&1 &
      server=10.0.2.3 ;;
    pasta)
      # --dns-forward: this guest address is mapped to the first resolver
      # of resolv.conf, the upstream on 127.0.0.1.
      server=10.0.2.3
      pasta --config-net -f -q -t none -u none -T none -U none --dns-forward "$server" "$GUEST" \
        >"$WORK/helper.log" 2>&1 &
      ;;
    *) fail "unknown engine $engine" ;;
  esac
  HELPER=$!; PIDS+=("$HELPER")
  ready() { "${CLIENT[@]}" ip -4 route show default 2>/dev/null | grep -q . ; }
  wait_for ready || fail "$engine did not configure the guest: $(head -c 300 "$WORK/helper.log" | tr '\n' ' ')"
fi

# One answered probe first: the path works before it is timed.
probe() { "${CLIENT[@]}" dig "@$server" +time=1 +tries=1 +short probe.bench.test 2>/dev/null | grep -q 192.0.2.10; }
wait_for probe || fail "no answer from $server through $engine: $(tail -c 300 "$WORK/helper.log" 2>/dev/null | tr '\n' ' ')"

ticks() { [[ $HELPER != 0 ]] && awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$HELPER/stat" 2>/dev/null; }
# Where lost queries went, seen from the client's namespace: UDP datagrams
# its sockets had no room for, and frames the guest's interface dropped.
drops() {
  "${CLIENT[@]}" cat /proc/net/snmp 2>/dev/null |
    awk '$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) n[$i] = i; h = 1; next }
         $1 == "Udp:" { r = $n["RcvbufErrors"] } END { printf "%d", r }'
  printf ' '
  "${CLIENT[@]}" ip -s -j link show 2>/dev/null |
    jq -r '[.[] | select(.ifname != "lo") | .stats64 | .rx.dropped + .tx.dropped] | add // 0'
}
read -r rcvbuf0 ifdrop0 <<<"$(drops)"
t0=$(ticks)
timeout --foreground -k 2 $((secs + 20)) "${CLIENT[@]}" dnsperf -s "$server" -d "$WORK/queries" \
  -c "$clients" -l "$secs" -t 2 >"$WORK/dnsperf.out" 2>"$WORK/dnsperf.err"
rc=$?
t1=$(ticks)
read -r rcvbuf1 ifdrop1 <<<"$(drops)"
[[ $rc -eq 0 ]] || fail "dnsperf exited $rc: $(head -c 300 "$WORK/dnsperf.err" | tr '\n' ' ')"
val() { sed -nE "s/^ *$1: *([0-9.]+).*/\\1/p" "$WORK/dnsperf.out" | head -1; }
sent=$(val 'Queries sent') completed=$(val 'Queries completed') lost=$(val 'Queries lost')
qps=$(val 'Queries per second')
[[ -n $qps && -n $completed && -n $lost ]] || fail "cannot read dnsperf's output: $(head -c 300 "$WORK/dnsperf.out" | tr '\n' ' ')"
cpu=null
if [[ $HELPER != 0 && -n $t0 && -n $t1 ]]; then
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", (b - a) / hz }')
fi
jq -cn --arg e "$engine" --arg q "$qset" --argjson sent "${sent:-0}" --argjson completed "$completed" \
  --argjson lost "$lost" --argjson qps "$qps" --argjson cpu "$cpu" --argjson c "$clients" \
  --argjson rcvbuf "$((rcvbuf1 - rcvbuf0))" --argjson ifdrop "$((ifdrop1 - ifdrop0))" \
  '{engine:$e, queryset:$q, status:"ok", clients:$c, qps:$qps, sent:$sent, completed:$completed,
    lost:$lost, client_udp_rcvbuf_errors:$rcvbuf, client_interface_drops:$ifdrop, helper_cpu_s:$cpu,
    cpu_us_per_query: (if $cpu == null or $completed == 0 then null else $cpu * 1e6 / $completed end)}'
