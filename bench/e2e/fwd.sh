#!/usr/bin/env bash
# Port-forwarded TCP throughput end to end (issue 6, item 5): iperf3 from the
# host namespace to a server in the guest through tapir -p, slirp4netns
# add_hostfwd and pasta -t, plus a kernel veth pair straight across, in the
# same run. tcp.sh with BENCH_KIND=fwd; its header lists the options.
BENCH_KIND=fwd exec bash "$(dirname "${BASH_SOURCE[0]}")/tcp.sh" "$@"
