# shellcheck shell=bash
# The demo `scripts/run` runs with no arguments. Source it; call tapir_demo.
#
# Everything happens inside namespaces it creates and removes (TESTING.md:
# nothing leaves the machine): a private "host" namespace (with a veth to a
# "world" namespace, as in tests/e2e/lib.sh) holding a small web server and a
# DNS upstream on its loopback; tapir runs there unprivileged, as the test
# user, and gives a guest its network. The guest shows its address and
# routes, fetches the page through the gateway 10.0.2.2 (the host's
# loopback), and resolves names through tapir's DNS forwarder at 10.0.2.3.

# tapir_demo TAPIR
tapir_demo() {
  local tapir="$1"
  if [[ $(id -u) -ne 0 ]]; then
    cat >&2 <<'TXT'
scripts/run (the demo) needs root, only to build its sandbox: it creates a
private network namespace with a web server and a DNS server on its
loopback, and an unprivileged user (tapir-e2e) to run tapir as — tapir
itself never runs as root. Run it as root (or with sudo), or try tapir
directly without root:

  scripts/run run -- ip addr
TXT
    return 1
  fi
  local t
  for t in busybox dnsmasq setpriv nsenter unshare ip; do
    command -v "$t" >/dev/null || { echo "demo: $t is not installed" >&2; return 1; }
  done
  (
    # The e2e suite's sandbox: user, namespaces, a resolv.conf naming the
    # namespace's own loopback, and e2e_as_user.
    source "$TAPIR_ROOT/tests/e2e/lib.sh"
    e2e_skip() { echo "demo: $*" >&2; exit 1; }
    e2e_ensure_user
    DEMO=$(mktemp -d /tmp/tapir-demo.XXXXXX)
    trap 'e2e_netns_down; rm -rf "$DEMO"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    e2e_netns_up || e2e_skip "cannot create the demo namespaces"
    # The user's servers listen on low ports of the demo's own loopback
    # (the sysctl is per network namespace).
    ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53
    cp "$tapir" "$DEMO/tapir"
    TAPIR="$DEMO/tapir"  # what e2e_as_user hands on
    mkdir "$DEMO/www"
    cat >"$DEMO/www/index.html" <<'HTML'
<h1>Hello from the host!</h1>
<p>This page is served by busybox httpd on 127.0.0.1:8080 of the host namespace.</p>
HTML
    echo "nameserver 10.0.2.3" >"$DEMO/guest-resolv.conf"
    cat >"$DEMO/guest.sh" <<'GUEST'
# Runs inside the guest (new user, net and mount namespaces), started by tapir run.
say() { printf '\n== %s\n' "$*"; }
say "guest: ip addr show tap0 (configured by tapir run)"
ip addr show tap0
say "guest: ip route"
ip route
say "guest: wget http://10.0.2.2:8080/ (10.0.2.2 is the host's loopback)"
# (timeout, not wget -T: Debian 12's busybox wget crashes with -T.)
if page=$(timeout 10 busybox wget -q -O - http://10.0.2.2:8080/ 2>&1); then
  printf '%s\n' "$page"
else
  echo "fetch failed (exit $?): $page"
  echo "(tapir's counters at the end say how far the connection got)"
fi
# Our own resolv.conf, in the guest's private mount namespace only.
mount --bind "$DEMO/guest-resolv.conf" /etc/resolv.conf
say "guest: /etc/resolv.conf"
cat /etc/resolv.conf
say "guest: getent hosts demo.test host.containers.internal (through 10.0.2.3)"
getent hosts demo.test || echo "demo.test: no answer"
getent hosts host.containers.internal || echo "host.containers.internal: no answer"
say "guest: busybox nslookup -type=a demo.test 10.0.2.3"
busybox nslookup -type=a demo.test 10.0.2.3 2>&1 | grep -v '^$'
true
GUEST
    chmod 755 "$DEMO" "$DEMO/tapir" "$DEMO/www"
    chmod 644 "$DEMO"/www/index.html "$DEMO"/guest-resolv.conf "$DEMO"/guest.sh
    cat >"$DEMO/host.sh" <<'HOST'
# Runs as the unprivileged user in the demo's host namespace.
set -u
busybox httpd -f -p 127.0.0.1:8080 -h "$DEMO/www" &
HTTPD=$!
dnsmasq -k --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --port=53 \
  --address=/demo.test/192.0.2.80 --pid-file= --log-facility=/dev/null 2>/dev/null &
DNSMASQ=$!
trap 'kill $HTTPD $DNSMASQ 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do
  ss -Hltn 'sport = :8080' | grep -q . && ss -Hlun 'sport = :53' | grep -q . && break
  sleep 0.05
done
printf '== host namespace (as %s): web server on 127.0.0.1:8080, DNS (dnsmasq, demo.test) on 127.0.0.1:53\n' "$(id -un)"
printf '== tapir run --debug -- sh guest.sh\n'
# --debug: tapir's banner before and its counters after, on stderr.
"$DEMO/tapir" run --debug -- sh "$DEMO/guest.sh" 2>"$DEMO/tapir.log"
rc=$?
printf '\n== tapir (exit %s): its banner and, at exit, its counters\n' "$rc"
grep -E '^(Starting tapir|\* )|frames from the guest|(udp|dns|tcp): ' "$DEMO/tapir.log" \
  | sed -E 's/^(tapir: )?debug: //' || cat "$DEMO/tapir.log"
HOST
    chmod 644 "$DEMO/host.sh"
    chmod 1777 "$DEMO"  # the user writes tapir.log here
    e2e_as_user env DEMO="$DEMO" bash "$DEMO/host.sh"
  )
}
