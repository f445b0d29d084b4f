# Shared by the end-to-end tests (TESTING.md): a private "host" namespace
# with a veth to a "world" namespace, an unprivileged test user, and
# check/report helpers. Source it from a test running as root.
#
# Nothing here reaches outside the namespaces a test creates: the host
# namespace's only route leads to the world namespace.

set -uo pipefail

E2E_USER=tapir-e2e
# Marks every process one test run starts (through its environment), so a
# test can tell its own leftovers from those of tests running beside it.
E2E_RUN_ID=${E2E_RUN_ID:-$$.$RANDOM}
E2E_PASSED=0
E2E_FAILED=0
E2E_SKIP=77   # ctest SKIP_RETURN_CODE

e2e_skip() { echo "SKIP: $*"; exit $E2E_SKIP; }

e2e_require_root() {
  [[ $(id -u) -eq 0 ]] || e2e_skip "end-to-end tests create namespaces and a test user; run as root"
  command -v jq >/dev/null || e2e_skip "jq is not installed (scripts/test installs it)"
  command -v setpriv >/dev/null || e2e_skip "setpriv is not installed"
}

# The unprivileged user tapir runs as. Created on first use, under a lock:
# ctest starts several tests at once, and useradd writes passwd, group and
# shadow one after the other, so a test that only checked `id` could find
# the user half made (setpriv: "cannot find uid") while another created it.
e2e_ensure_user() {
  local made=1
  {
    flock 9
    if ! id "$E2E_USER" >/dev/null 2>&1; then
      useradd --create-home --shell /bin/bash "$E2E_USER" || made=0
    fi
  } 9>/tmp/tapir-e2e-user.lock
  [[ $made == 1 ]] || e2e_skip "cannot create user $E2E_USER"
  E2E_UID=$(id -u "$E2E_USER")
  E2E_GID=$(id -g "$E2E_USER")
  # Distributions ship it 0666; some machines have it 0600.
  chmod 0666 /dev/net/tun
}

# e2e_netns_up: host namespace tapir-h-$$ and world namespace tapir-w-$$,
# veth 192.0.2.2/24 (host) <-> 192.0.2.1/24 (world), default route via world.
e2e_netns_up() {
  E2E_HNS=tapir-h-$$
  E2E_WNS=tapir-w-$$
  ip netns add "$E2E_HNS" && ip netns add "$E2E_WNS" || return 1
  ip -n "$E2E_HNS" link add eth0 type veth peer name eth0 netns "$E2E_WNS" || return 1
  ip -n "$E2E_HNS" addr add 192.0.2.2/24 dev eth0
  ip -n "$E2E_WNS" addr add 192.0.2.1/24 dev eth0
  for ns in "$E2E_HNS" "$E2E_WNS"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
  done
  ip -n "$E2E_HNS" route add default via 192.0.2.1
  # What tapir reads as the host's resolv.conf in every test: the test host
  # namespace's own loopback, never the machine's real resolver.
  E2E_RESOLV=$(mktemp /tmp/tapir-e2e-resolv.XXXXXX)
  echo "nameserver 127.0.0.1" >"$E2E_RESOLV"
  chmod 0644 "$E2E_RESOLV"
  # And as its /etc/hosts (which tapir answers from by default): the test's
  # own, so no test depends on the machine's.
  E2E_HOSTS=$(mktemp /tmp/tapir-e2e-hosts.XXXXXX)
  echo "# the e2e tests' /etc/hosts (tests/e2e/lib.sh)" >"$E2E_HOSTS"
  chmod 0644 "$E2E_HOSTS"
  # Ping sockets for everyone inside the test's host namespace only.
  ip netns exec "$E2E_HNS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
}

e2e_netns_down() {
  # Both namespaces: servers a test started there (and their forked
  # children, which would hold ctest's output pipe open) end with them.
  [[ -n ${E2E_HNS:-} ]] && ip netns pids "$E2E_HNS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  [[ -n ${E2E_WNS:-} ]] && ip netns pids "$E2E_WNS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  [[ -n ${E2E_HNS:-} ]] && ip netns del "$E2E_HNS" 2>/dev/null
  [[ -n ${E2E_WNS:-} ]] && ip netns del "$E2E_WNS" 2>/dev/null
  [[ -n ${E2E_RESOLV:-} ]] && rm -f "$E2E_RESOLV"
  [[ -n ${E2E_HOSTS:-} ]] && rm -f "$E2E_HOSTS"
  return 0
}


# e2e_as_user CMD...: runs CMD in the host namespace as the test user,
# seeing the test's resolv.conf and hosts file. (nsenter, not `ip netns
# exec`, so /sys and the cgroup mounts stay.)
e2e_as_user() {
  nsenter --net="/run/netns/$E2E_HNS" -- unshare --mount --propagation private -- \
    sh -c 'mount --bind "$0" /etc/resolv.conf && mount --bind "$1" /etc/hosts && shift && exec "$@"' \
    "$E2E_RESOLV" "$E2E_HOSTS" \
    setpriv --reuid="$E2E_UID" --regid="$E2E_GID" --init-groups \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="/home/$E2E_USER" USER="$E2E_USER" \
    TAPIR="$TAPIR" E2E_RUN_ID="$E2E_RUN_ID" TAPIR_NO_PEEK_OFF="${TAPIR_NO_PEEK_OFF:-}" \
    TAPIR_SECCOMP_DEFAULT=kill "$@"
}

# The suites start tapir with its sandbox and seccomp filter on (what podman
# gets), and e2e_as_user sets TAPIR_SECCOMP_DEFAULT=kill: a system call
# missing from the allowlist kills tapir and fails the test that needed it,
# instead of failing quietly with EPERM.
#
# Not in a sanitizer build: ASan's and LSan's runtime needs /proc, clone,
# pipe2 and ptrace when tapir exits (the leak check), which the walls
# exist to forbid. There the suites ask for no walls at all (tapir run's
# default included), and sandbox_test.sh skips, saying why.
e2e_tapir_sanitized() { [[ -n ${TAPIR:-} ]] && grep -q __asan_init "$TAPIR" 2>/dev/null; }
e2e_choose_lock() {
  if e2e_tapir_sanitized; then
    E2E_LOCK=(--no-sandbox --no-seccomp)
  else
    E2E_LOCK=(--enable-sandbox --enable-seccomp)
  fi
}
e2e_choose_lock  # (user side: TAPIR is set; root side: again in e2e_setup)

# wait_for COND...: waits for the event COND tests (a file, a listener, a
# line in a log), polling every 50 ms. The 120 s ceiling only keeps a hung
# step from hanging the suite: no step takes near it, however busy the
# machine, so the outcome never depends on the machine's speed.
wait_for() {
  for _ in $(seq 2400); do "$@" && return 0; sleep 0.05; done
  return 1
}
# listening PORT: a TCP listener on PORT in this namespace.
listening() { ss -Hltn "sport = :$1" | grep -q .; }

# check DESCRIPTION COMMAND...: one test; prints ok / not ok like TAP.
check() {
  local desc="$1"; shift
  if "$@"; then
    E2E_PASSED=$((E2E_PASSED + 1)); echo "ok - $desc"
  else
    E2E_FAILED=$((E2E_FAILED + 1)); echo "not ok - $desc"
    return 1  # so a caller can add diagnostics: check ... || { ...; }
  fi
}

# e2e_own_tapirs: "PID PPID STAT" of running tapir processes this test run
# started (zombies have no readable environment and are not running). A
# sandboxed tapir is not dumpable, so its environment is root's to read:
# for the test user it counts when this shell is among its ancestors.
e2e_descends_from_us() {
  local p=$1
  while [[ -n $p && $p -gt 1 ]]; do
    [[ $p -eq $$ ]] && return 0
    p=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
  done
  return 1
}
e2e_own_tapirs() {
  local pid
  for pid in $(pgrep -x tapir); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "E2E_RUN_ID=$E2E_RUN_ID"; then
      ps -o pid=,ppid=,stat=,args= -p "$pid"
    elif ! [[ -r /proc/$pid/environ ]] && e2e_descends_from_us "$pid"; then
      ps -o pid=,ppid=,stat=,args= -p "$pid"
    fi
  done
}

# e2e_kill_own: ends every process this test run started (marked with its
# E2E_RUN_ID), wherever it lives: servers left in a guest's namespaces after
# tapir run's command exited, for instance.
e2e_kill_own() {
  local pid
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [[ $pid -eq $$ ]] && continue
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "E2E_RUN_ID=$E2E_RUN_ID"; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
  return 0
}

# e2e_setup TAPIR: root checks, the test user, the namespaces and a copy of
# TAPIR the user may run; sets TAPIR and BIN, and tears it all down at exit
# (running $E2E_ON_EXIT first, for a test's own servers).
e2e_setup() {
  TAPIR=$(readlink -f "${1:?usage: $(basename "$0") TAPIR}")
  e2e_require_root
  e2e_ensure_user
  BIN=$(mktemp -d /tmp/tapir-e2e-bin.XXXXXX)
  trap 'eval "${E2E_ON_EXIT:-}"; e2e_kill_own; e2e_netns_down; rm -rf "$BIN"' EXIT
  e2e_netns_up || e2e_skip "cannot create the test namespaces"
  cp "$TAPIR" "$BIN/tapir"
  chmod 755 "$BIN" "$BIN/tapir"
  TAPIR="$BIN/tapir"
  e2e_choose_lock
}

# e2e_cases_begin NAME: for a user-side cases script: WORK, a private
# directory, and PIDS, where the script adds the servers it starts; at exit
# the servers are killed and WORK removed.
e2e_cases_begin() {
  WORK=$(mktemp -d "/tmp/tapir-e2e-$1.XXXXXX")
  PIDS=()
  trap e2e_cases_end EXIT
}
e2e_cases_end() {
  # (stderr of the whole block: bash reports each killed job there)
  {
    for p in "${PIDS[@]}"; do kill -9 "$p"; done
    wait
  } 2>/dev/null
  rm -rf "$WORK"
}

# e2e_guest_up: for a user-side cases script: a guest (new user and
# network namespaces, the user mapped to root) that sleeps, in GUEST (and
# PIDS) once it is in its own network namespace; in_guest CMD... runs CMD
# there.
e2e_netns_differs() {
  # Read on every try (a "$(...)" in wait_for's arguments would be read once).
  local n
  n=$(readlink "/proc/$1/ns/net" 2>/dev/null) && [ -n "$n" ] && [ "$n" != "$(readlink /proc/self/ns/net)" ]
}
e2e_guest_up() {
  unshare --user --map-root-user --net sleep 300 &
  GUEST=$!
  PIDS+=("$GUEST")
  wait_for e2e_netns_differs "$GUEST"
}
in_guest() { nsenter -t "$GUEST" -U -n --preserve-credentials "$@"; }

# e2e_take_counts LOG: adopts the "N passed, M failed" line a user-side
# script printed last; one that ended early counts as a failure.
e2e_take_counts() {
  local line
  # The user side's last summary line: the log also holds its stderr, and
  # bash may report a killed server after the summary.
  line=$(grep -E '^[^ ].*: [0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
  if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    E2E_PASSED=${BASH_REMATCH[1]}; E2E_FAILED=${BASH_REMATCH[2]}
  else
    E2E_FAILED=1; echo "not ok - the user-side cases did not finish"
  fi
}

# e2e_run_cases CASES.sh: runs the user-side script beside the calling test
# as the test user and adopts its counts.
e2e_run_cases() {
  local here
  here=$(cd "$(dirname "$0")" && pwd)
  cp "$here/lib.sh" "$here/$1" "$BIN/"
  # Into a file, not a pipe: a server a case leaves behind in a guest's
  # namespaces would hold a pipe (and ctest) open; e2e_kill_own ends it.
  e2e_as_user bash "$BIN/$1" >"$BIN/user.log" 2>&1
  cat "$BIN/user.log"
  e2e_take_counts "$BIN/user.log"
}

e2e_report() {
  # A run in which no check ran proves nothing: it fails.
  if [[ $E2E_PASSED -eq 0 && $E2E_FAILED -eq 0 ]]; then
    echo "not ok - no check ran"
    E2E_FAILED=1
  fi
  echo "$1: $E2E_PASSED passed, $E2E_FAILED failed"
  [[ $E2E_FAILED -eq 0 ]]
}
