#!/usr/bin/env bash
# The smoke set on an old kernel (issue 12): run by scripts/test-kernel as
# root inside its VM (Debian 12's kernel under qemu), never by ctest (the
# name does not end in _test.sh).
#   kernel_smoke.sh TAPIR TOOLS-DIR     (TOOLS-DIR: tcpcheck, udpstream, kernelinfo)
# Here, as root: what the kernel accepts (kernelinfo, printed as "# "
# lines), the world's servers, then the cases as the test user
# (kernel_cases.sh), the same harness as the other e2e suites (lib.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"
TOOLS=${2:?usage: kernel_smoke.sh TAPIR TOOLS-DIR}
for tool in socat dig dnsmasq curl sha256sum busybox; do
  command -v "$tool" >/dev/null || e2e_skip "$tool is not installed (scripts/test-kernel installs it)"
done
for tool in tcpcheck udpstream kernelinfo; do
  [[ -x $TOOLS/$tool ]] || e2e_skip "$TOOLS/$tool is not built"
  cp "$TOOLS/$tool" "$BIN/$tool" && chmod 755 "$BIN/$tool"
done

echo "# kernel $(uname -r)"
unshare --net "$BIN/kernelinfo" 2>&1 | sed 's/^/# /'
echo "# unprivileged user namespaces: $(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 'no switch (allowed)')"

# The world's servers: the checked exchange (7000) and a UDP echo (7001).
ip netns exec "$E2E_WNS" "$BIN/tcpcheck" serve 192.0.2.1:7000 >"$BIN/world.log" 2>&1 &
WORLD_SERVER=$!
ip netns exec "$E2E_WNS" socat -b 70000 UDP4-RECVFROM:7001,bind=192.0.2.1,fork EXEC:cat &
WORLD_UDP=$!
E2E_ON_EXIT='kill $WORLD_SERVER $WORLD_UDP 2>/dev/null'
for _ in $(seq 200); do grep -q listening "$BIN/world.log" && break; sleep 0.05; done
# The user's DNS upstream (dnsmasq) listens on port 53 of the test's own
# loopback; the sysctl is per network namespace.
ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ip_unprivileged_port_start=53

e2e_run_cases kernel_cases.sh

kill -TERM "$WORLD_SERVER"
wait "$WORLD_SERVER" 2>/dev/null
check "the world's server found every upload intact" \
  grep -Eq '^served [1-9][0-9]* ok, 0 failed' "$BIN/world.log" || cat "$BIN/world.log"

e2e_report "kernel smoke (Linux $(uname -r))"
