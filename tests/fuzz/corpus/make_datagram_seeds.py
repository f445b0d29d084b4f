#!/usr/bin/env python3
# Writes the seed scripts of udp_flows/ and icmp_echo_flows/ (the formats
# are at the top of tests/fuzz/udp_flows_fuzz.cpp and
# icmp_echo_flows_fuzz.cpp). Guest frames are the captured ones in frame/;
# the host's side (replies, ICMP errors, failures, the clock) is scripted.
#   python3 tests/fuzz/corpus/make_datagram_seeds.py
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def frame(name):
    with open(os.path.join(here, 'frame', name), 'rb') as f:
        b = f.read()
    return bytes([0]) + struct.pack('<H', len(b)) + b


def gso_frame(name, size):
    with open(os.path.join(here, 'frame', name), 'rb') as f:
        b = f.read()
    return bytes([0x80]) + struct.pack('<H', size) + struct.pack('<H', len(b)) + b


def write(target, name, *parts):
    os.makedirs(os.path.join(here, target), exist_ok=True)
    with open(os.path.join(here, target, name + '.bin'), 'wb') as f:
        f.write(b''.join(parts))


# --- udp_flows: op 7 is fam (bit 0 v6, >>1 destination index), sport, dport, len/11
def udp(fam, dest, sport, dport, n, gso=None):
    op = 7 | (0x80 if gso is not None else 0)
    b = bytes([op, (dest << 1) | fam]) + struct.pack('<HH', sport, dport) + bytes([n])
    return b + (bytes([gso]) if gso is not None else b'')


def host(idx, what, *extra):
    return bytes([3, idx, what, *extra])


def ready(idx, ev=1):
    return bytes([1, idx, ev])


def clock(n):
    return bytes([2, n])


T = 'udp_flows'
write(T, 'captured-to-gateway', frame('udp-000.bin'), host(0, 0, 10), ready(0))
write(T, 'captured-v6-to-gateway', frame('udp-002.bin'), host(0, 0, 10), ready(0))
write(T, 'captured-bulk', frame('udp-004.bin'), frame('udp-005.bin'), frame('udp-006.bin'), host(0, 0, 200),
      ready(0), host(0, 1, 200), ready(0))
write(T, 'captured-gso', gso_frame('udp-004.bin', 500), host(0, 0, 3), ready(0))
write(T, 'v4-reply', udp(0, 0, 40000, 7000, 5), host(0, 0, 4), ready(0))
write(T, 'v6-reply', udp(1, 0, 40000, 7000, 5), host(0, 0, 4), ready(0))
write(T, 'port-unreachable', udp(0, 1, 40000, 9, 1), host(0, 2, 3), udp(0, 1, 40000, 9, 1), ready(0, 2))
write(T, 'port-unreachable-v6', udp(1, 1, 40000, 9, 1), host(0, 2, 4), ready(0, 3))
write(T, 'frag-needed', udp(0, 0, 40000, 7000, 100), host(0, 3, 100), ready(0, 2))
write(T, 'packet-too-big', udp(1, 0, 40000, 7000, 100), host(0, 3, 100), ready(0, 2))
write(T, 'time-exceeded', udp(0, 0, 1, 2, 1), host(0, 4), ready(0, 2), udp(1, 0, 1, 2, 1), host(1, 4), ready(1, 2))
write(T, 'local-error', udp(0, 0, 1, 2, 1), host(0, 6), ready(0, 2))
write(T, 'too-big-reply', udp(0, 0, 1, 2, 1), host(0, 1, 200), host(0, 0, 3), ready(0))
write(T, 'martians', *[udp(f, d, 1000 + d, 53, 1) for f in (0, 1) for d in range(2, 10)])
write(T, 'cap', *[udp(0, 0, 2000 + i, 7000, 1) for i in range(10)], clock(70), udp(0, 0, 3000, 7000, 1))
write(T, 'expiry', udp(0, 0, 1, 2, 1), udp(0, 1, 3, 4, 1), host(1, 0, 1), ready(1), clock(60), clock(10),
      ready(0), clock(250), clock(250), clock(250), ready(1))
write(T, 'failures', bytes([4, 1]), udp(0, 0, 1, 2, 1), bytes([4, 2]), udp(0, 0, 1, 2, 1), bytes([4, 4]),
      udp(0, 0, 1, 2, 1), bytes([4, 0]), udp(0, 0, 1, 2, 1))
write(T, 'gso-split', udp(0, 0, 5000, 7000, 50, gso=100), udp(1, 0, 5000, 7000, 50, gso=99))
rev = bytes([5, 0, 1]) + struct.pack('<HH', 33333, 5000) + bytes([4])
rev6 = bytes([5, 1, 2]) + struct.pack('<HH', 33334, 5001) + bytes([4])
write(T, 'reverse-flow', rev, udp(0, 8, 5000, 33333, 2), rev, rev6, udp(1, 8, 5001, 33334, 2), bytes([6, 1]),
      udp(0, 8, 5000, 33333, 2), clock(100))

# --- icmp_echo_flows: ops 5..7 are fam, id, seq, len/5
def echo(fam, dest, ident, seq, n):
    return bytes([5, (dest << 1) | fam]) + struct.pack('<HH', ident, seq) + bytes([n])


def iready(idx):
    return bytes([1, idx])


T = 'icmp_echo_flows'
write(T, 'captured-v4', frame('icmp-006.bin'), host(0, 0), iready(0))
write(T, 'captured-v4-large', frame('icmp-012.bin'), host(0, 0), iready(0))
write(T, 'captured-v6', frame('icmp-022.bin'), host(0, 0), iready(0))
write(T, 'captured-v6-large', frame('icmp-026.bin'), host(0, 0), iready(0))
write(T, 'captured-local-echo', frame('icmp-000.bin'), frame('icmp-016.bin'))
write(T, 'v4-reply', echo(0, 0, 0x1234, 1, 11), host(0, 0), iready(0), echo(0, 0, 0x1234, 2, 11), host(0, 0),
      iready(0))
write(T, 'v6-reply', echo(1, 0, 0x4321, 1, 11), host(0, 0), iready(0))
write(T, 'two-ids', echo(0, 0, 1, 1, 1), echo(0, 0, 2, 1, 1), host(1, 0), host(0, 0), iready(1), iready(0))
write(T, 'runt-and-big', echo(0, 0, 7, 1, 1), host(0, 2, 3), host(0, 3, 100), host(0, 1, 64), iready(0))
write(T, 'hard-error', echo(0, 0, 7, 1, 1), host(0, 4, 3, 3), host(0, 0), iready(0), iready(0))
write(T, 'prohibited', bytes([4, 1]), echo(0, 0, 1, 1, 1), echo(1, 0, 1, 1, 1), bytes([4, 2]),
      echo(0, 1, 1, 1, 1), bytes([4, 3]), echo(0, 0, 2, 1, 1))
write(T, 'failures', bytes([4, 4]), echo(0, 0, 1, 1, 1), bytes([4, 8]), echo(0, 0, 1, 1, 1), bytes([4, 0]),
      echo(0, 0, 1, 1, 1))
write(T, 'martians', *[echo(f, d, 100 + d, 1, 1) for f in (0, 1) for d in range(2, 10)])
write(T, 'cap-and-expiry', *[echo(0, 0, 10 + i, 1, 1) for i in range(10)], clock(40), clock(40),
      echo(0, 0, 99, 1, 1), host(0, 0), iready(0))
