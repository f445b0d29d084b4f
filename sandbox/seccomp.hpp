#pragma once
// The steady-state system call allowlist (--enable-seccomp), through
// libseccomp.
//
// What stays allowed is what the loop, the flows, DNS, the control API and
// the lifecycle call once everything is open (seccomp.cpp lists each with
// its user): reading and writing open descriptors, io_uring_enter on the
// ring that exists, sockets of the families and types tapir uses (AF_INET
// and AF_INET6, stream and datagram: no raw, packet, netlink or Unix
// sockets), their options and addresses, timerfds, memory, time, signals
// to the command tapir runs, waiting for it, and opening files read-only
// (the DNS forwarder re-reads resolv.conf and hosts files; with
// --enable-sandbox the root holds nothing else to read).
//
// Everything else fails with EPERM, so a path tapir did not foresee fails
// like any refused call and is logged by its caller instead of killing the
// network of a running container. io_uring_setup and io_uring_register
// fail too: the ring's own allowlist (loop/uring) cannot be widened, and no
// second ring can be made. execve, ptrace, mount, open for writing, a new
// user namespace: EPERM.
//
// TAPIR_SECCOMP_DEFAULT=kill in the environment makes anything off the
// list kill the process instead (SIGSYS, with the call's number in the
// kernel's audit log): the test suites run that way, so that a call missing
// from the list fails a test instead of degrading silently.

#include <string>

#include "base/expected.hpp"

namespace tapir::sandbox {

Expected<void, std::string> apply_seccomp();

// "2.5.4": the libseccomp tapir runs with (--version, as slirp4netns says it).
std::string libseccomp_version();

}  // namespace tapir::sandbox
