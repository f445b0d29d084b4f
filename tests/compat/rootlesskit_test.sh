#!/usr/bin/env bash
# compat: rootlesskit --net=slirp4netns with tapir as its slirp4netns (issue 3).
#   rootlesskit_test.sh /path/to/tapir
# rootlesskit creates user+net namespaces, pre-creates tap0 in the child,
# reads the helper's --help for the options it may pass, runs it with
# --netns-type=path --userns-path=... /proc/CHILD/ns/net tap0 and a ready
# fd, and configures tap0 itself. The command in the child must see tap0 with
# 10.0.2.100/24, default via 10.0.2.2 and the MTU given with --mtu.
#
# Runs as the unprivileged user tapir-e2e in a private host namespace
# (TESTING.md). Failures of rootlesskit itself (before tapir is involved,
# i.e. with --net=host) skip.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TAPIR=$(readlink -f "${1:?usage: rootlesskit_test.sh TAPIR}")
e2e_require_root
compat_require rootlesskit newuidmap newgidmap nsenter unshare timeout ip
e2e_ensure_user
compat_ensure_subids
compat_setup rootlesskit

compat_as_user 600 bash "$WORK/bin/rootlesskit_cases.sh" 2>&1 | tee "$WORK/user.log"
compat_take_counts "${PIPESTATUS[0]}" "$WORK/user.log"
e2e_report "compat rootlesskit"
