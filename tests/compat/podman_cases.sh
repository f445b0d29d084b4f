#!/usr/bin/env bash
# podman cases, run by podman_test.sh as the test user in the host namespace
# (in a PID namespace of their own). $TAPIR is podman's network_cmd_path;
# $WORK holds the rootfs tarball, the logs and this user's HOME.
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

IMAGE=localhost/tapir-compat-busybox:test
LOGS="$WORK/logs"
P=(podman --runtime runc --cgroup-manager cgroupfs --storage-driver vfs)

skip_with() {  # skip_with REASON OUTPUT: podman itself does not work here
  echo "SKIP: $1: $(grep -m1 -iE 'error|fail' <<<"$2" || tail -1 <<<"$2")"
  exit 77
}
cleanup() { timeout 60 "${P[@]}" rm -af -t 0 >/dev/null 2>&1; }
trap cleanup EXIT

# --- podman itself, before tapir is involved ----------------------------------
out=$(timeout 60 "${P[@]}" info 2>&1) || skip_with "rootless podman does not start here" "$out"
out=$(timeout 180 "${P[@]}" import --change CMD=/bin/sh "$WORK/busybox-rootfs.tar" "$IMAGE" 2>&1) ||
  skip_with "podman cannot import the busybox image" "$out"
out=$(timeout 90 "${P[@]}" run --rm --pull=never --network none "$IMAGE" true 2>&1) ||
  skip_with "podman cannot run a container here even without a network" "$out"

# --- --network slirp4netns[:mtu=N] with tapir as the helper --------------------
# podman_case NAME NETWORK MTU [ADDR/LEN GATEWAY]: ip addr / ip route in a
# container; the address plan defaults to slirp4netns's 10.0.2.0/24.
podman_case() {
  local name="$1" net="$2" mtu="$3" addr="${4:-10.0.2.100/24}" gw="${5:-10.0.2.2}" rc cmdline
  local out="$LOGS/$name.out" err="$LOGS/$name.err" failed_before=$E2E_FAILED
  timeout 100 "${P[@]}" --log-level=debug run --rm --pull=never --network "$net" "$IMAGE" \
    sh -c 'ip addr show tap0; echo ---; ip route' >"$out" 2>"$err"
  rc=$?
  cmdline=$(grep -m1 -o 'slirp4netns command: [^"]*' "$err")
  echo "# $name: podman ran: ${cmdline#slirp4netns command: }"
  check "$name: podman run exits 0" test "$rc" = 0
  check "$name: podman ran tapir as its network helper" \
    test "${cmdline#slirp4netns command: }" != "${cmdline#slirp4netns command: $TAPIR }"
  if [[ $rc -ne 0 ]]; then
    echo "# $name: podman said:"
    grep -E 'level=(error|fatal)|^Error' "$err" | sed 's/^/#   /'
    # podman keeps the helper's output in slirp4netns-<id>.log in its tmp dir.
    find "$XDG_RUNTIME_DIR" -name 'slirp4netns*.log' -exec sh -c 'echo "# $1:"; sed "s/^/#   /" "$1"' _ {} \; 2>/dev/null
  fi
  check "$name: podman passed --mtu=$mtu" grep -q -- "--mtu=$mtu " <<<"$cmdline "
  # tapir's --help lists both, so podman asks for the sandbox and the filter.
  check "$name: podman passed --enable-sandbox" grep -q -- "--enable-sandbox " <<<"$cmdline "
  check "$name: podman passed --enable-seccomp" grep -q -- "--enable-seccomp " <<<"$cmdline "
  check "$name: tap0 has $addr" grep -qF "    inet $addr " "$out"
  check "$name: default via $gw dev tap0" grep -qF "default via $gw dev tap0" "$out"
  check "$name: tap0 MTU is $mtu" grep -qE "^[0-9]+: tap0: .* mtu $mtu " "$out"
  # podman closes the exit fd when the container is gone; tapir must follow.
  check "$name: tapir has exited after the container" wait_for sh -c '! pgrep -x tapir >/dev/null'
  [[ $E2E_FAILED -eq $failed_before ]] || sed 's/^/#   container: /' "$out"
}

podman_case default slirp4netns 65520
podman_case mtu1500 slirp4netns:mtu=1500 1500
podman_case mtu9000 slirp4netns:mtu=9000 9000
podman_case cidr slirp4netns:cidr=10.0.135.128/25,mtu=1500 1500 10.0.135.228/25 10.0.135.130

# --- -p with port_handler=slirp4netns: podman adds the forward through
# tapir's API (--api-socket, add_hostfwd), and the page busybox httpd
# serves in the container is fetched with curl from the host namespace.
PAGE="served by busybox httpd through tapir"
cid=$(timeout 100 "${P[@]}" run -d --pull=never --network slirp4netns:port_handler=slirp4netns \
  -p 8080:80 "$IMAGE" sh -c "mkdir -p /www && echo '$PAGE' >/www/index.html && exec httpd -f -p 80 -h /www" \
  2>"$LOGS/publish.err")
check "publish: podman run -d -p 8080:80 (port_handler=slirp4netns) succeeds" test -n "$cid" \
  || sed 's/^/#   podman: /' "$LOGS/publish.err"
check "publish: tapir listens on port 8080 (podman's add_hostfwd was answered)" \
  wait_for listening 8080
out=$(curl -s --max-time 120 http://127.0.0.1:8080/)
check "publish: curl http://127.0.0.1:8080/ gets the container's page" test "$out" = "$PAGE" \
  || echo "#   got: $out"
out=$(curl -s --max-time 120 http://192.0.2.2:8080/)
check "publish: curl http://192.0.2.2:8080/ (the host's address) gets it too" test "$out" = "$PAGE" \
  || echo "#   got: $out"
[[ -n $cid ]] && timeout 60 "${P[@]}" rm -f -t 0 "$cid" >/dev/null 2>&1

e2e_report "podman (as $(id -un))"
