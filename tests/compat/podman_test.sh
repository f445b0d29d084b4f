#!/usr/bin/env bash
# compat: rootless podman with tapir as its slirp4netns (issue 3).
#   podman_test.sh /path/to/tapir
# podman 4 runs `network_cmd_path` (containers.conf) in place of slirp4netns:
# it reads the helper's --help for the options it may pass, then runs it with
# -c -e FD -r FD --netns-type=path NETNS tap0 and waits for the ready fd. The
# container must see tap0 with 10.0.2.100/24, default via 10.0.2.2 and the
# MTU podman asked for.
#
# Everything runs as the unprivileged user tapir-e2e in a private host
# namespace (TESTING.md) with runc, cgroupfs, vfs storage, a HOME of its own
# and an image imported from a busybox rootfs this test builds; nothing is
# pulled. Failures of podman itself (before tapir is involved) skip.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TAPIR=$(readlink -f "${1:?usage: podman_test.sh TAPIR}")
e2e_require_root
compat_require podman runc conmon newuidmap newgidmap nsenter unshare timeout tar
[[ -x /bin/busybox ]] || e2e_skip "no /bin/busybox for the test image (package busybox or busybox-static)"
e2e_ensure_user
compat_ensure_subids
compat_setup podman

# --- the image: a busybox rootfs with an applet symlink for each command ----
R="$WORK/rootfs"
mkdir -p "$R"/{bin,etc,dev,proc,sys,tmp,root,run,var/tmp}
chmod 1777 "$R/tmp" "$R/var/tmp"
cp /bin/busybox "$R/bin/busybox"
# busybox-static needs nothing else; Debian's dynamic busybox (the two
# packages conflict, the rest of the suite may want either) brings its
# libraries and loader, at the paths ldd names.
for lib in $(ldd /bin/busybox 2>/dev/null | grep -oE '/[^ ]+'); do
  cp -L --parents "$lib" "$R/" || e2e_skip "cannot copy $lib into the test image"
done
for applet in $(/bin/busybox --list); do
  [[ $applet == busybox ]] || ln -s busybox "$R/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
tar --numeric-owner --owner=0 --group=0 -C "$R" -cf "$WORK/busybox-rootfs.tar" . ||
  e2e_skip "cannot build the busybox rootfs tarball"
chmod 0644 "$WORK/busybox-rootfs.tar"
rm -rf "$R"

# --- podman's configuration: all of it under $WORK ----------------------------
cat >"$WORK/containers.conf" <<CONF
[containers]
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
network_cmd_path = "$TAPIR"
CONF
cat >"$WORK/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$WORK/home/storage"
runroot = "$WORK/run/storage"
CONF
# No registry to search: a name that is not local is an error, not a pull.
echo 'unqualified-search-registries = []' >"$WORK/registries.conf"
chmod 0644 "$WORK"/*.conf
COMPAT_ENV=(CONTAINERS_CONF="$WORK/containers.conf"
            CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
            CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf")

compat_as_user 840 bash "$WORK/bin/podman_cases.sh" 2>&1 | tee "$WORK/user.log"
compat_take_counts "${PIPESTATUS[0]}" "$WORK/user.log"
e2e_report "compat podman"
