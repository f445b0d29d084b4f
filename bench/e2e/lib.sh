# shellcheck shell=bash disable=SC2034  # variables for the drivers that source it
# Shared by the end-to-end benchmarks (bench/e2e/*.sh), root side: the
# private namespaces of tests/e2e/lib.sh (TESTING.md: nothing leaves the
# machine), the unprivileged user every engine runs as, cleanup that also
# holds on Ctrl-C, and result helpers. Source it from a benchmark driver.

BENCH_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The e2e suite's namespace and user helpers (e2e_netns_up, e2e_as_user, ...).
source "$BENCH_E2E_DIR/../../tests/e2e/lib.sh"
set -uo pipefail

bench_log() { printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# bench_kill_own: every process this run started, wherever it is (guest
# holders sit in namespaces of their own, out of reach of `ip netns pids`):
# they all carry E2E_RUN_ID in their environment.
bench_kill_own() {
  local dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [[ $pid == "$$" ]] && continue
    if { tr "\0" "\n" <"/proc/$pid/environ"; } 2>/dev/null | grep -qx "E2E_RUN_ID=$E2E_RUN_ID"; then
      kill -9 "$pid" 2>/dev/null
    fi
  done
}

bench_cleanup() {
  trap - EXIT INT TERM
  eval "${BENCH_ON_EXIT:-}"
  bench_kill_own
  e2e_netns_down
  [[ -n ${BIN:-} ]] && rm -rf "$BIN"
  return 0
}

# bench_setup TAPIR TOOL...: root, the tools, the test user, the host and
# world namespaces (tests/e2e/lib.sh), and a copy of TAPIR the user may run
# in $BIN. Sets TAPIR and BIN; tears everything down at exit, Ctrl-C or TERM
# (running $BENCH_ON_EXIT first).
bench_setup() {
  local tapir="$1"; shift
  [[ $(id -u) -eq 0 ]] || bench_die "the e2e benchmarks create namespaces and run every engine as the unprivileged user $E2E_USER; run as root"
  local t
  for t in jq setpriv nsenter unshare ip "$@"; do
    command -v "$t" >/dev/null || bench_die "$t is not installed (scripts/bench installs it)"
  done
  e2e_ensure_user
  export E2E_RUN_ID
  BIN=$(mktemp -d /tmp/tapir-bench-bin.XXXXXX)
  trap bench_cleanup EXIT
  trap 'bench_log "interrupted; cleaning up"; exit 130' INT
  trap 'exit 143' TERM
  e2e_netns_up || bench_die "cannot create the benchmark namespaces"
  TAPIR=""
  if [[ -n $tapir && -x $tapir ]]; then
    cp "$tapir" "$BIN/tapir"
    TAPIR="$BIN/tapir"
  fi
  cp "$BENCH_E2E_DIR"/*.sh "$BIN/"
  chmod 755 "$BIN" "$BIN"/*
}

# bench_out_path NAME [PATH]: where the JSON results go (PATH, or a
# timestamped file under build/bench-results/).
bench_out_path() {
  if [[ -n ${2:-} ]]; then echo "$2"; return; fi
  local root
  root=$(cd "$BENCH_E2E_DIR/../.." && pwd)
  mkdir -p "$root/build/bench-results"
  echo "$root/build/bench-results/e2e-$1-$(date +%Y%m%d-%H%M%S).json"
}

bench_commit() {
  git -C "$BENCH_E2E_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown
}

# bench_ratio A B: A/B with two decimals, or "-" when either is missing.
bench_ratio() {
  awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
    if (a == "" || b == "" || a == "null" || b == "null" || b + 0 == 0) print "-";
    else printf "%.2f\n", a / b }'
}
