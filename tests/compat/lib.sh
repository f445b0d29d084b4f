# Shared by the compat tests (podman, rootlesskit): the e2e harness from
# tests/e2e/lib.sh (private host namespace, unprivileged user, check/report),
# plus what both runtimes need: subordinate ids for the test user, a copy of
# tapir the user can run, and a way to run a user-side script in the host
# namespace inside a PID namespace of its own, so that every process a
# runtime leaves behind (pause process, conmon, the network helper) dies
# with it.
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# compat_require CMD...: skip unless every CMD is installed.
compat_require() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null || e2e_skip "$c is not installed (scripts/test installs it)"
  done
}

# compat_ensure_subids: /etc/subuid and /etc/subgid entries for the test user
# (newuidmap/newgidmap need them to map more than the user's own id).
# Appends a free 65536-id range after the highest one in use; never edits
# existing lines.
compat_ensure_subids() {
  local f start lock
  # ctest may run both compat tests at once.
  exec {lock}>/run/lock/tapir-compat-subids.lock && flock -w 30 "$lock"
  for f in /etc/subuid /etc/subgid; do
    [[ -e $f ]] || install -m 0644 /dev/null "$f"
    grep -q "^$E2E_USER:" "$f" && continue
    start=$(awk -F: 'NF == 3 { e = $2 + $3; if (e > m) m = e } END { print (m > 100000 ? m : 100000) }' "$f")
    echo "$E2E_USER:$start:65536" >>"$f" || e2e_skip "cannot add $E2E_USER to $f"
  done
  exec {lock}>&-
}

# compat_setup NAME: work directory $WORK (removed on exit, with the test
# namespaces), the binary under test copied to $WORK/bin/tapir, a private
# HOME, XDG_RUNTIME_DIR and TMPDIR for the user.
compat_setup() {
  # Short: podman puts the API socket of a container at
  # $XDG_RUNTIME_DIR/libpod/tmp/<64-hex id>.net, and a unix socket path has
  # at most 107 bytes (sun_path).
  WORK=$(mktemp -d "/tmp/tc-$1.XXXXXX")
  trap compat_cleanup EXIT
  chmod 0711 "$WORK"
  mkdir -p "$WORK/bin" "$WORK/home" "$WORK/run" "$WORK/tmp"
  cp "$TAPIR" "$WORK/bin/tapir"
  chmod 0755 "$WORK/bin" "$WORK/bin/tapir"
  TAPIR="$WORK/bin/tapir"
  chown "$E2E_UID:$E2E_GID" "$WORK/home" "$WORK/run" "$WORK/tmp"
  chmod 0700 "$WORK/home" "$WORK/run" "$WORK/tmp"
  # The user-side scripts and the check/report helpers they source.
  cp "$COMPAT_DIR/../e2e/lib.sh" "$WORK/bin/e2e_lib.sh"
  cp "$COMPAT_DIR"/*_cases.sh "$WORK/bin/"
  chmod 0644 "$WORK/bin/"*.sh
  mkdir -p "$WORK/logs"; chown "$E2E_UID:$E2E_GID" "$WORK/logs"
  e2e_netns_up || e2e_skip "cannot create the test namespaces"
}

compat_cleanup() {
  # Every user-side process ran in the host namespace (killed here) or in a
  # PID namespace whose init died with it.
  e2e_netns_down
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    # Rootless storage leaves directories without write permission.
    chmod -R u+rwX "$WORK" 2>/dev/null
    rm -rf "$WORK"
  fi
  return 0
}

# compat_as_user TIMEOUT CMD...: CMD as the test user in the host namespace,
# in a new PID (and mount, for /proc and the test's resolv.conf) namespace, with HOME, XDG_RUNTIME_DIR
# and TMPDIR under $WORK and the extra environment in COMPAT_ENV.
# nsenter, not `ip netns exec`: the latter remounts /sys and hides cgroups.
COMPAT_ENV=()
compat_as_user() {
  local t="$1"; shift
  timeout --kill-after=10 "$t" \
    nsenter --net="/run/netns/$E2E_HNS" -- \
    unshare --pid --fork --kill-child --mount --mount-proc -- \
    sh -c 'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && exec "$@"' \
    "$E2E_RESOLV" "$E2E_HOSTS" \
    setpriv --reuid="$E2E_UID" --regid="$E2E_GID" --init-groups \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK/home" USER="$E2E_USER" \
    LOGNAME="$E2E_USER" XDG_RUNTIME_DIR="$WORK/run" TMPDIR="$WORK/tmp" TAPIR="$TAPIR" WORK="$WORK" \
    "${COMPAT_ENV[@]}" "$@"
}

# compat_take_counts LOG: adopts the "N passed, M failed" line the user-side
# script printed last; a script that ended early counts as a failure, one
# that asked to skip (77) skips the whole test with its reason.
compat_take_counts() {
  local rc="$1" log="$2"
  if [[ $rc -eq $E2E_SKIP ]]; then
    e2e_skip "$(grep -m1 '^SKIP: ' "$log" | sed 's/^SKIP: //')"
  fi
  e2e_take_counts "$log"
}
