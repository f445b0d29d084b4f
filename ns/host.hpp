#pragma once
// What tapir learns about the host (the caller's namespaces), read from
// /proc in the main process — never from inside the target.

namespace tapir::ns {

// True if the caller's network namespace has a usable IPv6 default route
// (::/0, not a reject route, not on lo). tapir's own invocations (tapir run,
// tapir PID without a TAPNAME) turn IPv6 on only then.
bool host_has_ipv6_default_route();

}  // namespace tapir::ns
