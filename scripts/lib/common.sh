# Shared by scripts/*: package installation and builds. Source it; don't run it.
#
# Every script installs what it needs from Debian when it is missing (a bare
# Debian 12 has no compiler), with one `apt-get update` per run at most, and
# says nothing when everything is already there.

set -euo pipefail

TAPIR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export TAPIR_ROOT

# What building and unit-testing tapir needs.
TAPIR_BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  liburing-dev libslirp-dev libcap-ng-dev libseccomp-dev libmnl-dev nlohmann-json3-dev
)
# Fuzzing: clang with libFuzzer and the sanitizer runtimes.
TAPIR_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)
# End-to-end tests: namespaces and the real clients they drive.
TAPIR_TEST_PACKAGES=(iproute2 util-linux procps passwd jq podman runc conmon rootlesskit uidmap busybox)
# The clients the services e2e drives (tests/e2e/services_cases.sh).
TAPIR_TEST_PACKAGES+=(isc-dhcp-client ndisc6 socat xxd iputils-ping curl)
# The DNS e2e: dig and a local upstream (tests/e2e/dns_cases.sh).
TAPIR_TEST_PACKAGES+=(bind9-dnsutils dnsmasq-base)
# The sandbox e2e reads the capabilities a running tapir kept (getpcaps).
TAPIR_TEST_PACKAGES+=(libcap2-bin)
# scripts/test-kernel: qemu for the VM, kmod for the kernel package's
# modules.dep (depmod) and their load order (modprobe --show-depends).
TAPIR_KERNEL_PACKAGES=(qemu-system-x86 kmod)
# The end-to-end benchmarks (scripts/bench e2e ...): the load generators, the
# peers tapir is compared with, and the namespaces they run in.
TAPIR_BENCH_PACKAGES=(iproute2 util-linux passwd jq bsdextrautils iperf3 slirp4netns passt dnsperf
  dnsmasq-base bind9-dnsutils busybox socat)

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

_tapir_apt_updated=0

# ensure_packages PKG...: installs the ones that are not installed.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}) and not root; run: apt-get install -y ${missing[*]}"
    sudo=(sudo)
  fi
  log "installing ${missing[*]}"
  if [[ $_tapir_apt_updated -eq 0 ]]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      || die "apt-get update failed"
    _tapir_apt_updated=1
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# build_tree DIR [CMAKE_ARGS...]: configures DIR (when its cache is missing or
# the arguments changed) and builds it with Ninja.
build_tree() {
  local dir="$1"; shift
  local stamp="$dir/.tapir-configure-args"
  local want="$*"
  mkdir -p "$dir"
  if [[ ! -f "$dir/CMakeCache.txt" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    cmake -S "$TAPIR_ROOT" -B "$dir" -G Ninja "$@" >"$dir/tapir-configure.log" 2>&1 || {
      cat "$dir/tapir-configure.log" >&2
      die "cmake configure of $dir failed"
    }
    printf '%s' "$want" >"$stamp"
  fi
  # Ninja's progress is noise when all is well; show the log if it fails.
  if ! ninja -C "$dir" >"$dir/tapir-build.log" 2>&1; then
    grep -E -B2 -A12 'error|FAILED' "$dir/tapir-build.log" | head -150 >&2 || true
    die "build of $dir failed (full log: $dir/tapir-build.log)"
  fi
}

# The release build that scripts/run and the test suite use: build/tapir.
build_release() {
  build_tree "$TAPIR_ROOT/build" -DCMAKE_BUILD_TYPE=Release -DTAPIR_WERROR=ON -DTAPIR_BENCH=OFF
}
