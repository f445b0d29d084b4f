#!/usr/bin/env bash
# Make the captured-traffic fixtures in tests/data/ (see README.md there).
#
#   sudo tests/data/capture.sh
#
# Runs as root. All traffic stays inside network namespaces this script
# creates (tapir-cap-{g,h,v}-$$) and removes again on exit, also on failure;
# nothing is sent to the machine's own resolver, gateway or any outside
# address. Idempotent: every run rewrites the same files.
#
# Output (overwritten):
#   tests/data/{arp,icmp,ndp,tcp,udp,dns,dhcp,dhcp6}.pcap  classic pcap, LINKTYPE_ETHERNET,
#       captured on the guest's veth, offloads off (checksums are real, segments wire-sized)
#   tests/data/vnet/<step>-<n>.bin   12-byte virtio_net_hdr + Ethernet frame as
#       read from a tap with IFF_VNET_HDR and CSUM/TSO/USO offloads on
#   tests/data/vnet/frames.txt       one line per .bin: header fields and a summary
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${CAPTURE_OUT:-$HERE}
TOOL_SRC=$HERE/../tools/tap_vnet_capture.cpp

if [[ $EUID -ne 0 ]]; then
  echo "capture.sh: must run as root (sudo $0)" >&2
  exit 1
fi

G=tapir-cap-g-$$   # plays the guest
H=tapir-cap-h-$$   # plays the host / gateway
V=tapir-cap-v-$$   # the tap with a vnet header
GUEST_MAC=52:54:00:12:34:56
HOST_MAC=52:54:00:00:00:02
TMP=$(mktemp -d "/tmp/tapir-cap-$$.XXXXXX")
BG_PIDS=()

cleanup() {
  local rc=$?
  set +e
  for p in "${BG_PIDS[@]}"; do
    kill "$p" 2>/dev/null
  done
  for p in "${BG_PIDS[@]}"; do
    wait "$p" 2>/dev/null
  done
  # dhclient daemonises; its pid files are in $TMP.
  for f in "$TMP"/*.pid; do
    [[ -s $f ]] && kill "$(cat "$f")" 2>/dev/null
  done
  for ns in "$G" "$H" "$V"; do
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }
gx() { ip netns exec "$G" "$@"; }
hx() { ip netns exec "$H" "$@"; }
vx() { ip netns exec "$V" "$@"; }

# Start a background process and remember it for cleanup; sets BG_LAST.
# gx/hx/vx are expanded to `ip netns exec NS` here, not run as shell
# functions: a function would run in a forked subshell and $! would be that
# subshell. `ip netns exec` execs its command, so $! is the program itself.
bg() {
  local cmd=("$@")
  case $1 in
    gx) cmd=(ip netns exec "$G" "${@:2}") ;;
    hx) cmd=(ip netns exec "$H" "${@:2}") ;;
    vx) cmd=(ip netns exec "$V" "${@:2}") ;;
  esac
  "${cmd[@]}" &
  BG_LAST=$!
  BG_PIDS+=("$BG_LAST")
}

stop() {
  local p
  for p in "$@"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

wait_for() {  # wait_for SECONDS CMD...: poll until CMD succeeds
  local until=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= until)); then
      echo "capture.sh: timed out waiting for: $*" >&2
      return 1
    fi
    sleep 0.1
  done
}

# ---------------------------------------------------------------- packages
need_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
need tcpdump tcpdump
need socat socat
need dnsmasq dnsmasq-base
need dig bind9-dnsutils
need busybox busybox
need dhclient isc-dhcp-client
need rdisc6 ndisc6
need arping iputils-arping
need ping iputils-ping
need ethtool ethtool
need nft nftables
need g++ g++
need ip iproute2
if ((${#need_pkgs[@]})); then
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${need_pkgs[@]}" || { apt-get update && apt-get install -y "${need_pkgs[@]}"; }
fi

log "building tap_vnet_capture"
TOOL=$TMP/tap_vnet_capture
g++ -std=c++20 -O2 -Wall -Wextra -o "$TOOL" "$TOOL_SRC"

# ---------------------------------------------------------------- namespaces
log "namespaces $G (guest) and $H (host)"
ip netns add "$G"
ip netns add "$H"
ip -n "$G" link set lo up
ip -n "$H" link set lo up
# The veth pair is made inside the guest namespace and its peer moved straight
# into the host namespace: it never exists in the machine's namespace.
ip -n "$G" link add eth0 type veth peer name eth0 netns "$H"
ip -n "$G" link set eth0 address "$GUEST_MAC" mtu 1500
ip -n "$H" link set eth0 address "$HOST_MAC" mtu 1500

# Quiet IPv6 autoconfiguration noise: no RS from the kernel (rdisc6 sends
# them on purpose), the host ns acts as a router (forwards, ignores RAs).
gx sysctl -qw net.ipv6.conf.eth0.router_solicitations=0
hx sysctl -qw net.ipv6.conf.eth0.router_solicitations=0
hx sysctl -qw net.ipv6.conf.eth0.accept_ra=0
hx sysctl -qw net.ipv4.ip_forward=1
hx sysctl -qw net.ipv6.conf.all.forwarding=1
# Every ICMP error the steps below provoke must be sent, not rate limited.
hx sysctl -qw net.ipv4.icmp_ratelimit=0
hx sysctl -qw net.ipv6.icmp.ratelimit=0

ip -n "$G" addr add 10.0.2.100/24 dev eth0
ip -n "$G" addr add fd00::100/64 dev eth0 nodad
ip -n "$H" addr add 10.0.2.2/24 dev eth0
ip -n "$H" addr add fd00::2/64 dev eth0 nodad

# Offloads off on both ends: frames on the veth then carry finished
# checksums and are no larger than the MTU, as on a real wire.
for ns in "$G" "$H"; do
  ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off tx off rx off >/dev/null 2>&1 ||
    ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off tx off >/dev/null
done

ip -n "$G" link set eth0 up
ip -n "$H" link set eth0 up
ip -n "$G" route add default via 10.0.2.2
ip -n "$G" -6 route add default via fd00::2 dev eth0

# Host-side routes that make the host answer with ICMP errors:
#  198.51.100.0/24, 2001:db8:1::/64  point back at the guest: TTL 1 -> time exceeded
#  203.0.113.0/24, 2001:db8:2::/64   same but MTU 1280: big DF packets -> frag needed / packet too big
#  192.0.2.0/24, 2001:db8::/64 (rest) no route at all -> net unreachable / no route
ip -n "$H" route add 198.51.100.0/24 via 10.0.2.100
ip -n "$H" route add 203.0.113.0/24 via 10.0.2.100 mtu lock 1280
ip -n "$H" -6 route add 2001:db8:1::/64 via fd00::100
ip -n "$H" -6 route add 2001:db8:2::/64 via fd00::100 mtu 1280

# Let link-local DAD and the MLD reports of the link coming up pass before
# the first capture starts.
wait_for 10 bash -c "! ip -n $G -6 addr show dev eth0 | grep -q tentative"
wait_for 10 bash -c "! ip -n $H -6 addr show dev eth0 | grep -q tentative"
sleep 3

# ---------------------------------------------------------------- capture helpers
CAP_PID=
cap_start() {  # cap_start NAME: tcpdump on the guest's veth into $TMP/NAME.pcap
  CAP_NAME=$1
  rm -f "$TMP/$1.pcap"
  bg gx tcpdump -i eth0 -s 0 -U -nn -Z root -w "$TMP/$1.pcap" 2>"$TMP/$1.tcpdump.log"
  CAP_PID=$BG_LAST
  wait_for 10 grep -q "listening on" "$TMP/$1.tcpdump.log"
  sleep 0.3
}
cap_stop() {
  sleep 0.7
  kill -TERM "$CAP_PID" 2>/dev/null || true
  wait "$CAP_PID" 2>/dev/null || true
  mv -f "$TMP/$CAP_NAME.pcap" "$OUT/$CAP_NAME.pcap"
  chmod 0644 "$OUT/$CAP_NAME.pcap"
  log "$CAP_NAME.pcap: $(tcpdump -r "$OUT/$CAP_NAME.pcap" -nn 2>/dev/null | wc -l) frames, $(stat -c %s "$OUT/$CAP_NAME.pcap") bytes"
}

DNSMASQ_COMMON=(dnsmasq -C /dev/null -k --no-resolv --no-hosts --user=root --group=root)

# ---------------------------------------------------------------- arp.pcap
log "arp"
ip -n "$G" neigh flush dev eth0
ip -n "$H" neigh flush dev eth0
cap_start arp
gx ping -c1 -W2 10.0.2.2 >/dev/null                               # request + reply before the echo
gx arping -c1 -w2 -I eth0 10.0.2.2 >/dev/null                      # arping's own request (unicast reply)
gx arping -D -c1 -w1 -I eth0 10.0.2.100 >/dev/null || true         # ARP probe (DAD): sender 0.0.0.0
gx arping -U -c1 -w1 -I eth0 -s 10.0.2.100 10.0.2.100 >/dev/null || true  # gratuitous ARP, request form
gx arping -A -c1 -w1 -I eth0 -s 10.0.2.100 10.0.2.100 >/dev/null || true  # gratuitous ARP, reply form
ip -n "$H" neigh flush dev eth0
hx ping -c1 -W2 10.0.2.100 >/dev/null                              # host asks, guest answers
cap_stop

# ---------------------------------------------------------------- icmp.pcap
log "icmp"
cap_start icmp
gx ping -c2 -i0.2 -W2 10.0.2.2 >/dev/null                          # echo request / reply
gx ping -c1 -W2 -s 1400 -p 7461706972 10.0.2.2 >/dev/null          # bigger echo with a pattern
# First ICMP error to the guest: ip_error() (no route) shares a per-source
# token bucket with the ICMP rate limit, which icmp_ratelimit=0 leaves empty
# after any other error, so "net unreachable" would be suppressed later on.
gx ping -c1 -W1 192.0.2.99 >/dev/null || true                      # -> net unreachable
echo "closed port v4" | gx socat -u - UDP4-SENDTO:10.0.2.2:33434   # -> port unreachable
gx ping -c1 -W1 -t1 198.51.100.1 >/dev/null || true                # -> time exceeded
gx ping -c1 -W1 -M do -s 1400 203.0.113.1 >/dev/null || true       # -> fragmentation needed (MTU 1280)
gx ping -6 -c2 -i0.2 -W2 fd00::2 >/dev/null                        # echo request / reply v6
echo "closed port v6" | gx socat -u - UDP6-SENDTO:[fd00::2]:33434  # -> port unreachable v6
gx ping -6 -c1 -W1 2001:db8::99 >/dev/null || true                 # -> no route
gx ping -6 -c1 -W1 -t1 2001:db8:1::1 >/dev/null || true            # -> hop limit exceeded
gx ping -6 -c1 -W1 -s 1400 2001:db8:2::1 >/dev/null || true        # -> packet too big (MTU 1280)
cap_stop
# The packet-too-big above lowered the guest's path MTU to 2001:db8:2::/64 only;
# flush the cache anyway so later steps see MTU 1500 everywhere.
ip -n "$G" route flush cache 2>/dev/null || true
ip -n "$G" -6 route flush cache 2>/dev/null || true

# ---------------------------------------------------------------- tcp.pcap
log "tcp"
# Small request/response servers (v4 and v6), a bulk sink, and a deterministic
# loss in the host ns (every 20th full-size data segment to the bulk sink,
# starting with the 8th) so the bulk transfer shows dup ACKs with SACK blocks
# and fast retransmissions.
bg hx socat TCP4-LISTEN:8080,bind=10.0.2.2,reuseaddr,fork SYSTEM:'read l; echo "pong $l"'
S1=$BG_LAST
bg hx socat TCP6-LISTEN:8080,bind=[fd00::2],reuseaddr,fork SYSTEM:'read l; echo "pong6 $l"'
S2=$BG_LAST
bg hx socat -u TCP4-LISTEN:8081,bind=10.0.2.2,reuseaddr CREATE:"$TMP/bulk.recv"
S3=$BG_LAST
hx nft -f - <<'EOF'
table inet tapircap {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8081 meta length > 1000 numgen inc mod 20 == 7 drop
  }
}
EOF
wait_for 5 hx bash -c 'ss -ltn | grep -q "10.0.2.2:8080" && ss -ltn | grep -q "\[fd00::2\]:8080" && ss -ltn | grep -q ":8081"'
head -c 102400 /dev/urandom >"$TMP/bulk.src"

cap_start tcp
echo ping | gx socat -t 2 - TCP4:10.0.2.2:8080 >/dev/null          # handshake, data both ways, FIN
gx socat -u /dev/null TCP4:10.0.2.2:9 2>/dev/null || true          # closed port -> RST
echo ping | gx socat -t 2 - TCP6:[fd00::2]:8080 >/dev/null
gx socat -u /dev/null TCP6:[fd00::2]:9 2>/dev/null || true
gx socat -u OPEN:"$TMP/bulk.src" TCP4:10.0.2.2:8081                # 100 KB, with loss -> SACK
wait "$S3" 2>/dev/null || true
cap_stop
stop "$S1" "$S2"
hx nft delete table inet tapircap
if ! cmp -s "$TMP/bulk.src" "$TMP/bulk.recv"; then
  echo "capture.sh: bulk TCP transfer arrived damaged" >&2
  exit 1
fi

# ---------------------------------------------------------------- udp.pcap
log "udp"
bg hx socat -T 1 UDP4-RECVFROM:5000,bind=10.0.2.2,fork PIPE          # echo servers
S1=$BG_LAST
bg hx socat -T 1 UDP6-RECVFROM:5000,bind=[fd00::2],fork PIPE
S2=$BG_LAST
wait_for 5 hx bash -c 'ss -lun | grep -q "10.0.2.2:5000" && ss -lun | grep -q "\[fd00::2\]:5000"'
cap_start udp
echo "hello tapir v4" | gx socat -t 1 - UDP4:10.0.2.2:5000 >/dev/null
echo "hello tapir v6" | gx socat -t 1 - UDP6:[fd00::2]:5000 >/dev/null
# 3000-byte datagrams over MTU 1500: IPv4 fragments / IPv6 Fragment headers, both ways.
head -c 3000 /dev/urandom | gx socat -t 1 - UDP4:10.0.2.2:5000 >/dev/null
head -c 3000 /dev/urandom | gx socat -t 1 - UDP6:[fd00::2]:5000 >/dev/null
echo "" | gx socat -u - UDP4-SENDTO:10.0.2.2:5001                  # 1-byte datagram, no listener
cap_stop
stop "$S1" "$S2"

# ---------------------------------------------------------------- dns.pcap
log "dns"
bg hx "${DNSMASQ_COMMON[@]}" --port=53 --listen-address=10.0.2.2 --listen-address=fd00::2 \
  --bind-interfaces --pid-file="$TMP/dnsmasq-dns.pidfile" --log-facility="$TMP/dnsmasq-dns.log" \
  --address=/example.test/192.0.2.10 --address=/example.test/2001:db8::10 \
  --local=/test/ --txt-record=txt.test,"tapir test record","second string" \
  --mx-host=mail.test,mx.example.test,10 --srv-host=_http._tcp.srv.test,www.example.test,80,0,5 \
  --cname=alias.test,www.example.test --ptr-record=2.2.0.10.in-addr.arpa,gateway.test
S1=$BG_LAST
wait_for 5 hx bash -c 'ss -lun | grep -q "10.0.2.2:53 "'
DIG=(dig +tries=1 +time=2)
cap_start dns
gx "${DIG[@]}" @10.0.2.2 example.test A >/dev/null
gx "${DIG[@]}" @10.0.2.2 www.example.test AAAA >/dev/null
gx "${DIG[@]}" @10.0.2.2 txt.test TXT >/dev/null
gx "${DIG[@]}" @10.0.2.2 mail.test MX >/dev/null
gx "${DIG[@]}" @10.0.2.2 _http._tcp.srv.test SRV >/dev/null
gx "${DIG[@]}" @10.0.2.2 alias.test A >/dev/null
gx "${DIG[@]}" @10.0.2.2 -x 10.0.2.2 >/dev/null
gx "${DIG[@]}" @10.0.2.2 missing.test A >/dev/null                  # NXDOMAIN
gx "${DIG[@]}" @10.0.2.2 +noedns example.test A >/dev/null          # plain, no OPT record
gx "${DIG[@]}" @10.0.2.2 +tcp example.test A >/dev/null             # DNS over TCP
gx "${DIG[@]}" @fd00::2 example.test AAAA >/dev/null                # over IPv6
cap_stop
stop "$S1"

# ---------------------------------------------------------------- dhcp.pcap (DHCPv4)
log "dhcp"
bg hx "${DNSMASQ_COMMON[@]}" --port=0 --interface=eth0 --bind-interfaces \
  --pid-file="$TMP/dnsmasq-dhcp.pidfile" --log-facility="$TMP/dnsmasq-dhcp.log" \
  --dhcp-leasefile="$TMP/dnsmasq-dhcp.leases" --dhcp-authoritative --no-ping \
  --dhcp-range=10.0.2.15,10.0.2.50,255.255.255.0,1h \
  --dhcp-option=option:router,10.0.2.2 --dhcp-option=option:dns-server,10.0.2.3 \
  --domain=tapir.test
S1=$BG_LAST
wait_for 5 hx bash -c 'ss -lun | grep -q ":67 "'
cap_start dhcp
# busybox udhcpc: DISCOVER/OFFER/REQUEST/ACK (it sends no RELEASE: the lease is never configured).
gx timeout 30 busybox udhcpc -i eth0 -f -q -n -t 3 -T 2 -s /bin/true >/dev/null 2>&1
# ISC dhclient: DISCOVER/OFFER/REQUEST/ACK, daemonises once bound; -r releases it.
gx timeout 30 dhclient -1 -v -sf /bin/true -lf "$TMP/dhclient.leases" -pf "$TMP/dhclient.pid" eth0 2>/dev/null
gx timeout 30 dhclient -r -v -sf /bin/true -lf "$TMP/dhclient.leases" -pf "$TMP/dhclient.pid" eth0 2>/dev/null || true
cap_stop
stop "$S1"
# dnsmasq put an ARP entry for the offered address into the host's table;
# drop it, or the host's unicast ARP re-probes of it show up in later captures.
ip -n "$H" -4 neigh flush dev eth0

# ---------------------------------------------------------------- ndp.pcap
log "ndp"
gx sysctl -qw net.ipv6.conf.eth0.ndisc_notify=1   # unsolicited NA after each DAD
ip -n "$G" -6 neigh flush dev eth0
ip -n "$H" -6 neigh flush dev eth0
cap_start ndp
gx ping -6 -c1 -W2 fd00::2 >/dev/null                              # NS (multicast) / NA
gx ndisc6 -1 -r 2 -w 1000 fd00::2 eth0 >/dev/null                  # ndisc6's own NS / NA
ip -n "$H" -6 neigh flush dev eth0
hx ping -6 -c1 -W2 fd00::100 >/dev/null                            # host asks, guest answers
# A router advertiser (RA only, SLAAC prefix) for rdisc6's RS to get an answer.
bg hx "${DNSMASQ_COMMON[@]}" --port=0 --interface=eth0 --bind-interfaces --enable-ra \
  --pid-file="$TMP/dnsmasq-ra.pidfile" --log-facility="$TMP/dnsmasq-ra.log" \
  --dhcp-range=fd00::,ra-stateless,64,1h --dhcp-option=option6:dns-server,[fd00::3]
S1=$BG_LAST
sleep 1
gx rdisc6 -1 -r 2 -w 1500 eth0 >/dev/null || true                  # RS / RA
# The RA's prefix makes the kernel configure a SLAAC address: DAD NS from ::.
# And an address added without nodad: another DAD NS. With ndisc_notify the
# kernel follows each finished DAD with an unsolicited NA to ff02::1.
gx ip addr add fd00::101/64 dev eth0
sleep 2.5
cap_stop
stop "$S1"
ip -n "$G" addr del fd00::101/64 dev eth0

# ---------------------------------------------------------------- dhcp6.pcap
log "dhcp6"
bg hx "${DNSMASQ_COMMON[@]}" --port=0 --interface=eth0 --bind-interfaces --enable-ra \
  --pid-file="$TMP/dnsmasq-dhcp6.pidfile" --log-facility="$TMP/dnsmasq-dhcp6.log" \
  --dhcp-leasefile="$TMP/dnsmasq-dhcp6.leases" --dhcp-authoritative \
  --dhcp-range=fd00::10,fd00::ff,64,1h --dhcp-option=option6:dns-server,[fd00::3] \
  --domain=tapir.test
S1=$BG_LAST
cap_start dhcp6
sleep 1                                                              # dnsmasq's first RA (M flag)
# SOLICIT/ADVERTISE/REQUEST/REPLY, then RELEASE/REPLY; then stateless INFORMATION-REQUEST/REPLY.
gx timeout 30 dhclient -6 -1 -v -sf /bin/true -lf "$TMP/dhclient6.leases" -pf "$TMP/dhclient6.pid" eth0 2>/dev/null
gx timeout 30 dhclient -6 -r -v -sf /bin/true -lf "$TMP/dhclient6.leases" -pf "$TMP/dhclient6.pid" eth0 2>/dev/null || true
gx timeout 30 dhclient -6 -S -1 -v -sf /bin/true -lf "$TMP/dhclient6s.leases" -pf "$TMP/dhclient6s.pid" eth0 2>/dev/null || true
# dhclient -S may return before its (randomly delayed) Info-Request went out.
wait_for 5 grep -q INFORMATION-REQUEST "$TMP/dnsmasq-dhcp6.log" || true
sleep 0.5
[[ -s $TMP/dhclient6s.pid ]] && kill "$(cat "$TMP/dhclient6s.pid")" 2>/dev/null || true
cap_stop
stop "$S1"

ip netns del "$G"
ip netns del "$H"

# ---------------------------------------------------------------- vnet/
# A tap with IFF_VNET_HDR and offloads on, in its own namespace. The tap is
# made persistent so its addresses survive between the capture runs; each
# step attaches the capture tool (carrier up), makes the kernel send one kind
# of packet and stores what the tool read. --dst keeps only frames towards
# 10.0.2.2 / fd00::2, so the MLD/RS/DAD chatter of every re-attach is left
# out (it is the first step's subject). Static neighbour entries: no ARP/NS
# is needed, nobody answers anyway.
log "vnet (tap $V)"
VNET=$OUT/vnet
mkdir -p "$VNET"
rm -f "$VNET"/*.bin "$VNET"/frames.txt
ip netns add "$V"
ip -n "$V" link set lo up
ip -n "$V" tuntap add dev tap0 mode tap vnet_hdr
ip -n "$V" link set tap0 address "$GUEST_MAC" mtu 1500
ip -n "$V" addr add 10.0.2.100/24 dev tap0
ip -n "$V" addr add fd00::100/64 dev tap0 nodad
ip -n "$V" link set tap0 up
ip -n "$V" neigh add 10.0.2.2 lladdr "$HOST_MAC" dev tap0
ip -n "$V" -6 neigh add fd00::2 lladdr "$HOST_MAC" dev tap0

vnet_step() {  # vnet_step PREFIX COUNT TIMEOUT FILTER-DST|- CMD...
  local prefix=$1 count=$2 timeout=$3 dst=$4
  shift 4
  local args=(capture --tap tap0 --out "$VNET" --prefix "$prefix" --count "$count"
    --timeout "$timeout" --ready "$TMP/vnet-$prefix.ready")
  [[ $dst != - ]] && args+=(--dst "$dst")
  rm -f "$TMP/vnet-$prefix.ready"
  bg vx "$TOOL" "${args[@]}" >"$TMP/vnet-$prefix.txt"
  local pid=$BG_LAST
  wait_for 5 test -e "$TMP/vnet-$prefix.ready"
  if (($#)); then
    sleep 0.2
    "$@" >/dev/null 2>&1 || true
  fi
  wait "$pid"
  grep -v '^#' "$TMP/vnet-$prefix.txt" >>"$VNET/frames.txt" || true
  [[ -f $VNET/offload.txt ]] || grep '^#' "$TMP/vnet-$prefix.txt" | head -1 >"$VNET/offload.txt"
}

# The carrier coming up: MLDv2 reports, DAD NS of the link-local address, RS.
vnet_step nd 12 4 - ip -n "$V" -6 addr add fd00::101/64 dev tap0
ip -n "$V" -6 addr del fd00::101/64 dev tap0
vnet_step icmp4 1 3 10.0.2.2 vx ping -c1 -W1 10.0.2.2
vnet_step icmp6 1 3 fd00::2 vx ping -6 -c1 -W1 fd00::2
vnet_step udp4 1 3 10.0.2.2 bash -c "printf 'hello tapir v4\n' | ip netns exec $V socat -u - UDP4-SENDTO:10.0.2.2:5000"
vnet_step udp6 1 3 fd00::2 bash -c "printf 'hello tapir v6\n' | ip netns exec $V socat -u - UDP6-SENDTO:[fd00::2]:5000"
vnet_step udpfrag4 3 3 10.0.2.2 bash -c "head -c 3000 /dev/zero | ip netns exec $V socat -u - UDP4-SENDTO:10.0.2.2:5000"
vnet_step udpfrag6 3 3 fd00::2 bash -c "head -c 3000 /dev/zero | ip netns exec $V socat -u - UDP6-SENDTO:[fd00::2]:5000"
vnet_step tcpsyn4 1 3 10.0.2.2 vx timeout 2 socat -u /dev/null TCP4:10.0.2.2:8080,connect-timeout=1
vnet_step tcpsyn6 1 3 fd00::2 vx timeout 2 socat -u /dev/null TCP6:[fd00::2]:8080,connect-timeout=1
# TSO: an ESTABLISHED socket made with TCP_REPAIR (no handshake needed).
vnet_step tso4 2 3 10.0.2.2 vx "$TOOL" tcp-repair-send --src 10.0.2.100 --sport 40000 --dst 10.0.2.2 --dport 8080 --bytes 8000 --hold-ms 400
vnet_step tso6 2 3 fd00::2 vx "$TOOL" tcp-repair-send --src fd00::100 --sport 40000 --dst fd00::2 --dport 8080 --bytes 8000 --hold-ms 400
# USO: UDP_SEGMENT (SOL_UDP=17, UDP_SEGMENT=103) with 1400-byte segments.
vnet_step uso4 1 3 10.0.2.2 bash -c "head -c 4000 /dev/zero | ip netns exec $V socat -u - UDP4-SENDTO:10.0.2.2:5000,setsockopt-int=17:103:1400"
vnet_step uso6 1 3 fd00::2 bash -c "head -c 4000 /dev/zero | ip netns exec $V socat -u - UDP6-SENDTO:[fd00::2]:5000,setsockopt-int=17:103:1400"
chmod 0644 "$VNET"/*

log "vnet: $(ls "$VNET"/*.bin | wc -l) frames"
cat "$VNET/offload.txt" "$VNET/frames.txt" >&2
log "done"
