#!/usr/bin/env bash
# Martian destinations, run by martian_test.sh as the unprivileged test user
# in the test's host namespace. A listener on every local address of the
# host namespace (0.0.0.0 and [::], so 127.0.0.0/8 and ::1 too) reports any
# contact; the world's echo (192.0.2.1:7302) comes from martian_test.sh.
# The guest's raw-socket sender (martian send) aims at the martians
# from inside a tapir run guest, where it is root. Then the API's stats must
# show every frame dropped by reason, and an ordinary checksummed transfer
# through the gateway must still work.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/martian

WORK=$(mktemp -d /tmp/tapir-e2e-martian.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# wait_long: the same for the guest's steps (SLAAC, the sender's answers), at most 2 minutes.
wait_long() { for _ in $(seq 2400); do "$@" && return 0; sleep 0.05; done; return 1; }
api() { printf '%s' "$1" | socat -t 5 -T 10 - "UNIX-CONNECT:$2" 2>/dev/null; }

"$MT" listen 7300 >"$WORK/listen.log" 2>&1 &
PIDS+=($!)
socat TCP4-LISTEN:7302,bind=127.0.0.1,fork,reuseaddr EXEC:cat &
PIDS+=($!)
wait_for grep -q listening "$WORK/listen.log"
wait_for ss -Hltn 'sport = :7302' | grep -q 7302

# guest_round NAME ECHO [TAPIR OPTIONS]: one guest: the sender, then 1 MiB
# through the echo server at ECHO (sha256 both ways); the stats are taken
# while it waits.
guest_round() {
  local name="$1" echo="$2"; shift 2
  local dir="$WORK/$name" api="$WORK/$name/api.sock"
  mkdir -p "$dir" && chmod 777 "$dir"
  head -c 1048576 /dev/urandom >"$dir/data"
  "$TAPIR" run "${E2E_LOCK[@]}" --enable-ipv6 -a "$api" "$@" -- bash -c "
    for i in \$(seq 400); do ip -6 addr show dev tap0 scope global -tentative | grep -q fd00:: && break; sleep 0.05; done
    ping -c1 -W5 10.0.2.2 >/dev/null 2>&1
    '$MT' send tap0 --port 7300 >$dir/send.log 2>&1
    socat -t 30 -T 30 - TCP:$echo <$dir/data >$dir/back 2>$dir/socat.err
    touch $dir/guest.done
    for i in \$(seq 2400); do [ -e $dir/stats.done ] && break; sleep 0.05; done
  " >"$dir/tapir.log" 2>&1 &
  local tp=$!
  wait_long test -e "$dir/guest.done"
  api '{"execute":"stats"}' "$api" >"$dir/stats.json"
  touch "$dir/stats.done"
  wait "$tp"

  check "$name: the sender sent its frames ($(head -1 "$dir/send.log"))" grep -q '^sent [0-9]* frames' "$dir/send.log" ||
    cat "$dir/send.log" "$dir/tapir.log"
  check "$name: nothing reached the host's listeners ($(grep -c '^contact' "$WORK/listen.log") contacts)" \
    test "$(grep -c '^contact' "$WORK/listen.log")" = 0 || grep '^contact' "$WORK/listen.log" | sort | uniq -c
  local answers
  answers=$(grep '^answers:' "$dir/send.log")
  check "$name: every SYN to a unicast martian got a reset, every datagram and echo 'prohibited' ($answers)" \
    grep -Eq '^answers: ([0-9]+) resets of \1, ([0-9]+) prohibited of \2, 0 contacts$' "$dir/send.log"
  local want got
  want=$(sed -n 's/^expect //p' "$dir/send.log" | jq -cS .)
  got=$(jq -cS '.return.drops.martian' "$dir/stats.json" 2>/dev/null)
  check "$name: the stats count every frame by reason ($got)" test -n "$want" -a "$want" = "$got" ||
    echo "#   expected $want"
  check "$name: 1 MiB to $echo right after comes back intact" \
    test "$(sha256sum <"$dir/data")" = "$(sha256sum <"$dir/back" 2>/dev/null)" || cat "$dir/socat.err"
}

guest_round default 10.0.2.2:7302
# The gateway is closed too then: the transfer goes to the world's echo.
guest_round disable-host-loopback 192.0.2.1:7302 --disable-host-loopback

e2e_report "martian (as $(id -un))"
