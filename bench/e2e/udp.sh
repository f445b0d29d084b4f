#!/usr/bin/env bash
# UDP throughput and loss end to end (issue 6, item 5): iperf3 -u between a
# guest and the host namespace's loopback through the gateway, both ways,
# through tapir, slirp4netns, pasta and a kernel veth pair, in the same run.
# tcp.sh with BENCH_KIND=udp; its header lists the options.
BENCH_KIND=udp exec bash "$(dirname "${BASH_SOURCE[0]}")/tcp.sh" "$@"
