#!/usr/bin/env bash
# rootlesskit cases, run by rootlesskit_test.sh as the test user in the host
# namespace (in a PID namespace of their own). $TAPIR is the helper under test.
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

LOGS="$WORK/logs"
RK=(rootlesskit --state-dir="$WORK/run/rk")   # must not exist yet; rootlesskit removes it
SHOW='ip addr show tap0; echo ---; ip route'

# --- rootlesskit itself, before tapir is involved -----------------------------
out=$(timeout 60 "${RK[@]}" --net=host true 2>&1) || {
  echo "SKIP: rootlesskit does not work here: $(grep -m1 -iE 'error|fail' <<<"$out" || tail -1 <<<"$out")"
  exit 77
}

# rk_case NAME MTU ADDR/LEN GATEWAY [ROOTLESSKIT-OPTIONS...]: ip addr /
# ip route in the child.
rk_case() {
  local name="$1" mtu="$2" addr="$3" gw="$4" rc i; shift 4
  local out="$LOGS/$name.out" err="$LOGS/$name.err" failed_before=$E2E_FAILED
  timeout 60 "${RK[@]}" --debug --net=slirp4netns --slirp4netns-binary="$TAPIR" "$@" \
    sh -c "$SHOW" >"$out" 2>"$err"
  rc=$?
  [[ $name == default ]] &&
    grep -m1 -o 'slirp4netns features [^"]*' "$err" | sed 's/^/# rootlesskit read tapir --help: /'
  check "$name: rootlesskit exits 0" test "$rc" = 0
  check "$name: tapir attached rootlesskit's tap0" grep -q 'tapir: info: attached tap0' "$err"
  if [[ $rc -ne 0 ]]; then
    echo "# $name: rootlesskit said (exit $rc):"
    grep -v 'level=debug' "$err" | sed 's/^/#   /'
    # rootlesskit logs the helper's own stderr as network/slirp4netns lines.
    grep -F 'msg="network/slirp4netns: ' "$err" | sed 's/^/#   helper: /'
  fi
  check "$name: tap0 has $addr" grep -qF "    inet $addr " "$out"
  check "$name: default via $gw dev tap0" grep -qF "default via $gw dev tap0" "$out"
  check "$name: tap0 MTU is $mtu" grep -qE "^[0-9]+: tap0: .* mtu $mtu " "$out"
  check "$name: tapir has exited after rootlesskit" wait_for sh -c '! pgrep -x tapir >/dev/null'
  [[ $E2E_FAILED -eq $failed_before ]] || sed 's/^/#   child: /' "$out"
}

NET=(10.0.2.100/24 10.0.2.2)
rk_case default 65520 "${NET[@]}"
rk_case mtu1500 1500 "${NET[@]}" --mtu=1500
rk_case mtu9000 9000 "${NET[@]}" --mtu=9000
rk_case ipv6 65520 "${NET[@]}" --ipv6
rk_case cidr 1500 10.0.135.228/25 10.0.135.130 --cidr=10.0.135.128/25 --mtu=1500
# =true, not auto: rootlesskit refuses to start unless the helper's --help
# lists --enable-sandbox and --enable-seccomp, and then passes both.
rk_case sandbox 65520 "${NET[@]}" --slirp4netns-sandbox=true --slirp4netns-seccomp=true
# Passed on to the helper; only where tapir's --help offers it (rootlesskit
# refuses a helper that does not).
if [[ $("$TAPIR" --help) == *--disable-host-loopback* ]]; then
  rk_case no-host-loopback 65520 "${NET[@]}" --disable-host-loopback
else
  echo "# not run: --disable-host-loopback (tapir's --help does not list it yet)"
fi

# --- --port-driver=slirp4netns -p 127.0.0.1:8080:80/tcp: rootlesskit adds
# the forward through tapir's API; busybox httpd serves in the child, curl
# fetches from the host namespace.
PAGE="served by busybox httpd through tapir and rootlesskit"
mkdir -p "$WORK/tmp/www" && echo "$PAGE" >"$WORK/tmp/www/index.html"
timeout 60 "${RK[@]}" --net=slirp4netns --slirp4netns-binary="$TAPIR" --port-driver=slirp4netns \
  -p 127.0.0.1:8080:80/tcp sh -c "busybox httpd -f -p 80 -h '$WORK/tmp/www' & sleep 20" \
  >"$LOGS/publish.out" 2>"$LOGS/publish.err" &
RKPID=$!
check "publish: tapir listens on 127.0.0.1:8080 (rootlesskit's add_hostfwd was answered)" \
  wait_for sh -c 'ss -Hltn "sport = :8080" | grep -q 127.0.0.1:8080' \
  || grep -v 'level=debug' "$LOGS/publish.err" | sed 's/^/#   /'
out=$(curl -s --max-time 120 http://127.0.0.1:8080/)
check "publish: curl http://127.0.0.1:8080/ gets the child's page" test "$out" = "$PAGE" \
  || echo "#   got: $out"
kill "$RKPID" 2>/dev/null; wait "$RKPID" 2>/dev/null

e2e_report "rootlesskit (as $(id -un))"
