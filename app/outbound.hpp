#pragma once
// --outbound-addr / --outbound-addr6 (slirp4netns): the source address of
// outgoing connections, given as an address or as an interface name whose
// address is used. Resolved once at start, in the caller's namespace.

#include <string>

#include "base/expected.hpp"
#include "flows/tcp_host.hpp"

namespace tapir::app {

// Empty strings leave that family unbound. The error is one line, in
// slirp4netns's words.
Expected<flows::OutboundAddrs, std::string> resolve_outbound(const std::string& v4, const std::string& v6);

}  // namespace tapir::app
