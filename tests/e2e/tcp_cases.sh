#!/usr/bin/env bash
# TCP translation (issue 5 "Tests"), run by tcp_test.sh as the unprivileged
# test user in the test's host namespace. Servers: on the host namespace's
# loopback (started here; the guest reaches them as 10.0.2.2 / fd00::2) and
# in the world namespace (192.0.2.1 / 2001:db8::1, started by tcp_test.sh).
# Every guest is a fresh `tapir run --debug`; its output and tapir's log go
# to one file, shown when a check fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcpcheck
TG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tcpgarbage

WORK=$(mktemp -d /tmp/tapir-e2e-tcp.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# guest NAME [TAPIR OPTIONS] -- SHELL-COMMAND: runs the command (bash -c) as
# the guest of a fresh tapir run, for at most 120 s; everything it and tapir
# print goes to $WORK/NAME.txt. Returns the command's status.
guest() {
  local name="$1"; shift
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  timeout -k 5 120 "$TAPIR" run "${E2E_LOCK[@]}" --debug "${opts[@]}" -- bash -c "$1" >"$WORK/$name.txt" 2>&1
}
# The guest's IPv6 comes from SLAAC (tapir's router advertisements), after
# the command started: a guest command that uses IPv6 first waits (at most
# 10 s) for a usable address and the default route.
V6="for i in \$(seq 200); do ip -6 addr show dev tap0 scope global -tentative | grep -q fd00:: &&
      ip -6 route show default | grep -q . && break; sleep 0.05; done;"
# show NAME: the end of a guest's transcript, for a failed check.
show() {
  echo "--- $1 (last 40 lines of $1.txt, without tapir's banner)"
  grep -v '^\* ' "$WORK/$1.txt" | tail -40 | sed 's/^/    /'
}
# want SECTION: run this section? (All, unless tcp_test.sh was given
# TAPIR_TCP_ONLY="stream integrity ipv6 semantics churn garbage" or a part of it.)
want() { [[ ! -s $(dirname "${BASH_SOURCE[0]}")/tcp_only ]] || grep -qw "$1" "$(dirname "${BASH_SOURCE[0]}")/tcp_only"; }
# said NAME PATTERN: the transcript has a line matching PATTERN (grep -E).
said() { grep -Eq "$2" "$WORK/$1.txt"; }

# The checked-exchange server on the host's loopback, and the counting one
# (prints "peer ..." per connection) that the garbage must never reach.
"$TC" serve 127.0.0.1:7000 '[::1]:7000' >"$WORK/host.log" 2>&1 &
HOST_SERVER=$!; PIDS+=($!)
"$TC" serve --tell-peer 127.0.0.1:7009 '[::1]:7009' >"$WORK/counted.log" 2>&1 &
PIDS+=($!)
wait_for grep -q listening "$WORK/host.log"
wait_for grep -q listening "$WORK/counted.log"

# A first connection, or nothing below can work: stop early rather than let
# every case run into its timeout.
guest first -- "'$TC' client --idle-ms 10000 --up 1K --down 1K 10.0.2.2:7000"
if ! check "a first connection to the host's loopback (10.0.2.2)" said first '^tcpcheck: 1 ok'; then
  show first
  e2e_report "tcp (as $(id -un)), stopped after the first connection failed"
  exit 1
fi
# Which way tapir reads host data (it says so once at start): the pass with
# TAPIR_NO_PEEK_OFF=1 must really run the fallback of kernels before 6.9.
if [[ ${TAPIR_NO_PEEK_OFF:-} == 1 ]]; then
  check "TAPIR_NO_PEEK_OFF=1: tapir peeks from the queue's head" \
    said first "host data is peeked from the queue's head \(no SO_PEEK_OFF: TAPIR_NO_PEEK_OFF=1\)" || show first
else
  check "tapir says how it peeks host data ($(grep -o 'host data is peeked.*' "$WORK/first.txt"))" \
    said first 'host data is peeked (with SO_PEEK_OFF|from the queue.s head)' || show first
fi

# --- the host's stream, as it arrives ------------------------------------------
if want stream; then

# A host sender that writes one line every few ms: between two lines the
# socket's queue holds only bytes already sent, which is "nothing new", not
# the end of the stream. Checked on content: all 100 lines, in order.
# (The writer starts with the connection; a script, as socat's address
# syntax would take the loop apart.)
seq 100 | sed 's/^/line /' >"$WORK/slow.want"
printf '#!/bin/sh\nfor i in $(seq 100); do echo "line $i"; sleep 0.005; done\n' >"$WORK/slow-writer"
chmod 755 "$WORK/slow-writer"
socat -T 60 TCP-LISTEN:7103,bind=127.0.0.1,reuseaddr EXEC:"$WORK/slow-writer" 2>"$WORK/slow.err" &
PIDS+=($!)
wait_for listening 7103
guest slow -- "socat -u TCP:10.0.2.2:7103 - >$WORK/slow.recv"
check "a host sender writing a line every 5 ms: the guest gets all 100 lines, in order ($(wc -l <"$WORK/slow.recv" 2>/dev/null) came)" \
  cmp -s "$WORK/slow.want" "$WORK/slow.recv" || { cat "$WORK/slow.err"; show slow; }

# Urgent data: a host server sends 4 MiB of a checked stream with a byte
# sent as MSG_OOB every 100 000 bytes; the guest must get every byte once,
# in order (the urgent ones inline, where they were sent).
timeout 120 "$TC" urgent serve 127.0.0.1:7104 21 4M 100000 >"$WORK/urgent.log" 2>&1 &
URGENT=$!; PIDS+=($!)
wait_for grep -q listening "$WORK/urgent.log"
guest urgent -- "socat -u TCP:10.0.2.2:7104 - | sha256sum >$WORK/urgent.recv"
wait "$URGENT"
check "urgent data from the host: it sent them ($(tail -1 "$WORK/urgent.log"))" \
  grep -q '^sent 4194304 bytes, 41 urgent$' "$WORK/urgent.log" || show urgent
check "urgent data from the host: sha256 of what the guest got is the stream's" \
  test "$("$TC" gen 21 4M | sha256sum)" = "$(cat "$WORK/urgent.recv" 2>/dev/null)" || show urgent

fi

# --- integrity ---------------------------------------------------------------
if want integrity; then

# 1 GiB each way over socat, sha256 at both ends. gen is a fast reproducible
# stream; tee hands it to sha256sum on the sending side. The guest (and
# tapir run) must not end while some of the stream still sits in the
# guest's kernel: the guest's socat half-closes at the end of its input and
# then waits for the host's sink to close, which it does only after reading
# everything (-t is the hang guard, not a wait: a linger timeout here lost
# the tail of the stream on a busy machine).
timeout 120 socat -u TCP-LISTEN:7100,bind=127.0.0.1,reuseaddr - 2>"$WORK/sink.err" | sha256sum >"$WORK/up.recv" &
SINK=$!; PIDS+=($!)
wait_for listening 7100
guest bulk-up -- "'$TC' gen 11 1G | tee >(sha256sum >$WORK/up.sent) | socat -t 600 - TCP:10.0.2.2:7100"
wait "$SINK"
wait_for test -s "$WORK/up.sent"
check "1 GiB guest -> host: sha256 the same at both ends" \
  test "$(cat "$WORK/up.sent")" = "$(cat "$WORK/up.recv")" ||
  { echo "    sent $(cat "$WORK/up.sent"), received $(cat "$WORK/up.recv")"; cat "$WORK/sink.err"; show bulk-up; }

bash -c "'$TC' gen 12 1G | tee >(sha256sum >$WORK/down.sent) |
         timeout 120 socat -u - TCP-LISTEN:7101,bind=127.0.0.1,reuseaddr" 2>"$WORK/source.err" &
SOURCE=$!; PIDS+=($!)
wait_for listening 7101
guest bulk-down -- "socat -u TCP:10.0.2.2:7101 - | sha256sum >$WORK/down.recv"
wait "$SOURCE"
wait_for test -s "$WORK/down.sent"
check "1 GiB host -> guest: sha256 the same at both ends" \
  test "$(cat "$WORK/down.sent")" = "$(cat "$WORK/down.recv" 2>/dev/null)" ||
  { echo "    sent $(cat "$WORK/down.sent"), received $(cat "$WORK/down.recv")"; cat "$WORK/source.err"; show bulk-down; }

# Many at once, random sizes, every byte checked at both ends.
guest conc4 -- "'$TC' client --conns 200 --parallel 200 --max-up 3M --max-down 3M --seed 4 10.0.2.2:7000"
check "200 concurrent connections to the host's loopback, up to 3 MB each way, all intact" \
  said conc4 '^tcpcheck: 200 ok, 0 failed' || show conc4
guest conc4w -- "'$TC' client --conns 100 --parallel 100 --max-up 1M --max-down 1M --seed 5 192.0.2.1:7000"
check "100 concurrent connections to the world, up to 1 MB each way, all intact" \
  said conc4w '^tcpcheck: 100 ok, 0 failed' || show conc4w

fi

# IPv6, smaller.
if want ipv6; then
timeout 120 socat -u TCP6-LISTEN:7102,bind=[::1],reuseaddr - 2>"$WORK/sink6.err" | sha256sum >"$WORK/up6.recv" &
SINK=$!; PIDS+=($!)
wait_for listening 7102
guest bulk-up6 -- "$V6 '$TC' gen 13 128M | tee >(sha256sum >$WORK/up6.sent) | socat -t 600 - TCP6:[fd00::2]:7102"
wait "$SINK"
wait_for test -s "$WORK/up6.sent"
check "IPv6: 128 MiB guest -> host: sha256 the same at both ends" \
  test "$(cat "$WORK/up6.sent")" = "$(cat "$WORK/up6.recv")" || { cat "$WORK/sink6.err"; show bulk-up6; }
guest conc6 -- "$V6 '$TC' client --conns 50 --parallel 50 --max-up 2M --max-down 2M --seed 6 [fd00::2]:7000"
check "IPv6: 50 concurrent connections to the host's loopback, all intact" \
  said conc6 '^tcpcheck: 50 ok, 0 failed' || show conc6
guest conc6w -- "$V6 '$TC' client --conns 50 --parallel 50 --max-up 1M --max-down 1M --seed 7 [2001:db8::1]:7000"
check "IPv6: 50 concurrent connections to the world, all intact" \
  said conc6w '^tcpcheck: 50 ok, 0 failed' || show conc6w

fi

# --- semantics ---------------------------------------------------------------
if want semantics; then

guest hc-guest -- "'$TC' client --guest-half-close --up 4M --down 16M 10.0.2.2:7000"
check "the guest half-closes (sends 4 MB, shuts down writing), the host then sends 16 MB" \
  said hc-guest '^tcpcheck: 1 ok' || show hc-guest
guest hc-host -- "'$TC' client --host-half-close --up 16M --down 4M 10.0.2.2:7000"
check "the host half-closes (sends 4 MB, shuts down writing), the guest then sends 16 MB" \
  said hc-host '^tcpcheck: 1 ok' || show hc-host
guest hc-guest6 -- "$V6 '$TC' client --guest-half-close --up 1M --down 4M [fd00::2]:7000"
check "IPv6: the guest half-closes, the host keeps sending" said hc-guest6 '^tcpcheck: 1 ok' || show hc-guest6

# The host's server dies with unread data: its kernel resets the connection,
# and the guest must see the reset, not a clean end.
"$TC" serve --hold 1000 127.0.0.1:7002 >"$WORK/hold.log" 2>&1 &
HOLD=$!; PIDS+=($!)
wait_for grep -q listening "$WORK/hold.log"
guest reset -- "'$TC' client --expect-reset --up 2000 10.0.2.2:7002" &
RESET_GUEST=$!
if check "the host's server has the guest's bytes" wait_for grep -q holding "$WORK/hold.log"; then
  { kill -9 "$HOLD"; wait "$HOLD"; } 2>/dev/null
  wait "$RESET_GUEST"
  check "host server killed -> the guest reads ECONNRESET" \
    said reset '^(read|send): Connection reset by peer' || show reset
else
  kill -9 "$HOLD"; wait "$RESET_GUEST"; show reset
fi

guest refused -- "socat -u TCP:10.0.2.2:7999 -"
check "connect to a closed port of the host: socat says 'Connection refused'" \
  said refused 'socat.*Connection refused' || show refused
guest refused-w -- "'$TC' client --expect-connect-error ECONNREFUSED 192.0.2.1:7999"
check "... a closed port in the world: ECONNREFUSED" said refused-w '^tcpcheck: 1 ok' || show refused-w
guest refused6 -- "$V6 '$TC' client --expect-connect-error ECONNREFUSED [fd00::2]:7999"
check "... IPv6, a closed port of the host: ECONNREFUSED" said refused6 '^tcpcheck: 1 ok' || show refused6

# Readers that stop for 10 s while the other side keeps sending: the
# windows close, and reopen; nothing may be lost. Both directions at once.
guest zerowin -- "'$TC' client --pause-at 1M --pause-ms 10000 --up 1K --down 64M 10.0.2.2:7000 &
                  '$TC' client --server-pause-at 1M --server-pause-ms 10000 --up 64M --down 1K 10.0.2.2:7000; wait \$!"
check "the guest stops reading for 10 s (zero window), then drains 64 MB intact" \
  said zerowin '^conn 0: complete after the pause' || show zerowin
check "the host's server stops reading for 10 s, the guest's 64 MB arrive intact" \
  test "$(grep -c '^tcpcheck: 1 ok' "$WORK/zerowin.txt")" = 2 || show zerowin
check "... and the guest's receive queue did fill while it paused" \
  said zerowin 'reading again; [1-9][0-9]* bytes were queued' || show zerowin

guest rcvbuf -- "'$TC' client --rcvbuf 4096 --up 8M --down 32M 10.0.2.2:7000 &&
                 '$TC' client --sndbuf 4096 --up 32M --down 8M 10.0.2.2:7000"
check "guest SO_RCVBUF 4096: 32 MB down intact" said rcvbuf '^tcpcheck: 1 ok, 0 failed, 8388608 bytes up' ||
  show rcvbuf
check "guest SO_SNDBUF 4096: 32 MB up intact" said rcvbuf '^tcpcheck: 1 ok, 0 failed, 33554432 bytes up' ||
  show rcvbuf

# (A closed port: if the gateway were reachable, the answer would be
# "Connection refused" at once, not a hang.)
guest dhl --disable-host-loopback -- "$V6 socat -u TCP:10.0.2.2:7999 - ; socat -u TCP6:[fd00::2]:7999 -"
check "--disable-host-loopback: 10.0.2.2 and fd00::2 are 'Network is unreachable'" \
  test "$(grep -c 'Network is unreachable' "$WORK/dhl.txt")" = 2 || show dhl

# The source address the world sees (the 7003 server answers with it).
peer_case() {  # DESC WANT DST [TAPIR OPTIONS]
  local desc="$1" want="$2" dst="$3"; shift 3
  guest peer "$@" -- "$V6 socat -u TCP:$dst -"
  check "$desc: the world sees $want" said peer "^$want\$" || show peer
}
peer_case "no --outbound-addr" 192.0.2.2 192.0.2.1:7003
peer_case "--outbound-addr 192.0.2.3" 192.0.2.3 192.0.2.1:7003 --outbound-addr 192.0.2.3
peer_case "--outbound-addr eth1 (by name)" 198.51.100.2 192.0.2.1:7003 --outbound-addr eth1
peer_case "--outbound-addr6 2001:db8::3" 2001:db8::3 '[2001:db8::1]:7003' --outbound-addr6 2001:db8::3
peer_case "--outbound-addr6 eth1 (by name)" 2001:db8:1::2 '[2001:db8::1]:7003' --outbound-addr6 eth1

fi

# --- churn -------------------------------------------------------------------
if want churn; then

# 20 000 short connections; afterwards tapir's open fds are back where they
# were before (polled until they settle, bounded).
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
timeout -k 5 300 "$TAPIR" run "${E2E_LOCK[@]}" --debug -- bash -c "touch $WORK/churn.ready; while [ ! -e $WORK/churn.go ]; do sleep 0.05; done
  '$TC' client --conns 20000 --parallel 8 --max-up 64 --max-down 64 --quiet 10.0.2.2:7000
  touch $WORK/churn.done; while [ ! -e $WORK/churn.end ]; do sleep 0.05; done" >"$WORK/churn.txt" 2>&1 &
CHURN=$!; PIDS+=($!)
if check "churn: the guest is up" wait_for test -e "$WORK/churn.ready"; then
  TAPIR_PID=$(pgrep -P "$CHURN" | head -1)  # timeout's child
  idle=$(fds "$TAPIR_PID")
  touch "$WORK/churn.go"
  # Until the client is done, or the run ended without it (tapir died, or
  # the timeout above stopped a hang): the event, not a guess at its speed.
  while [[ ! -e $WORK/churn.done ]] && kill -0 "$CHURN" 2>/dev/null; do sleep 0.1; done
  check "churn: 20 000 connections, all intact" said churn '^tcpcheck: 20000 ok, 0 failed' || show churn
  for _ in $(seq 300); do [[ $(fds "$TAPIR_PID") -le $idle ]] && break; sleep 0.1; done
  now=$(fds "$TAPIR_PID")
  check "churn: tapir's open fds back to idle ($idle before, $now after)" test "$now" -le "$idle" ||
    ls -l "/proc/$TAPIR_PID/fd" | tail -20
fi
touch "$WORK/churn.end"
wait "$CHURN"
# ... and its flows: the exit statistics count those still open.
check "churn: no TCP flow left open ($(grep -o '([0-9]* open at exit)' "$WORK/churn.txt"))" \
  said churn 'tcp: [0-9]+ connections \(0 open at exit\)' || show churn
fi

# --- bad input while a transfer runs -----------------------------------------
if want garbage; then

# The guest runs checked exchanges (4 at a time) to the host's loopback and,
# meanwhile, writes garbage onto its own tap: malformed frames, SYNs that
# must not open anything, resets outside the live connections' windows.
guest garbage -- "$V6 '$TC' client --conns 100000 --parallel 4 --max-up 4M --max-down 4M --quiet \
                     --until-file $WORK/garbage.stop 10.0.2.2:7000 | sed 's/^/during: /' &
  '$TG' tap0 --gw4 10.0.2.2 --gw6 fd00::2 --port 7009 --live-port 7000 --rounds 1000
  touch $WORK/garbage.stop; wait
  echo tap0 tx dropped: \$(ip -j -s link show tap0 | jq '.[0].stats64.tx.dropped')
  '$TC' client --up 1M --down 1M 10.0.2.2:7000 | sed 's/^/after: /'"
check "garbage: the tool wrote its frames while the transfers ran" said garbage '^sent [0-9]+ frames' ||
  show garbage
check "garbage: the transfers beside it stayed intact" \
  said garbage '^during: tcpcheck: [1-9][0-9]* ok, 0 failed' || show garbage
check "garbage: a new connection afterwards works" said garbage '^after: tcpcheck: 1 ok, 0 failed' ||
  show garbage
check "garbage: no bad SYN reached the host's listener ($(grep -c '^peer' "$WORK/counted.log") did)" \
  test "$(grep -c '^peer' "$WORK/counted.log")" = 0 || grep '^peer' "$WORK/counted.log" | sort | uniq -c
# tapir's exit statistics (--debug): malformed frames, and TCP checksum errors,
# less what the guest's kernel dropped before tapir (tap0's TX drops).
lost=$(sed -nE 's/^tap0 tx dropped: ([0-9]+)$/\1/p' "$WORK/garbage.txt")
lost=${lost:-0}
sent_bad=$(sed -nE 's/^sent [0-9]+ frames, ([0-9]+) malformed.*/\1/p' "$WORK/garbage.txt")
counted=$(sed -nE 's/^.*frames from the guest.* ([0-9]+) malformed.*/\1/p' "$WORK/garbage.txt" | tail -1)
check "garbage: tapir counted the malformed frames (sent ${sent_bad:-?}, $lost lost in tap0, counted ${counted:-?})" \
  test "${counted:-0}" -ge "$(( ${sent_bad:-1} - lost ))" || show garbage
sent_csum=$(sed -nE 's/^sent .* ([0-9]+) bad TCP checksums.*/\1/p' "$WORK/garbage.txt")
counted_csum=$(sed -nE 's/^.*tcp detail:.* ([0-9]+) bad checksums.*/\1/p' "$WORK/garbage.txt" | tail -1)
check "garbage: tapir counted the bad TCP checksums (sent ${sent_csum:-?}, $lost lost in tap0, counted ${counted_csum:-?})" \
  test "${counted_csum:-0}" -ge "$(( ${sent_csum:-1} - lost ))" || show garbage

fi

# The host's server found every upload intact (its verdicts for the
# host-half-close case only show here).
kill -TERM "$HOST_SERVER"; wait "$HOST_SERVER" 2>/dev/null
check "the host's server found every upload intact" \
  grep -q '^served [1-9][0-9]* ok, 0 failed' "$WORK/host.log" || cat "$WORK/host.log"

e2e_report "tcp (as $(id -un))"
