#pragma once
// An upstream Endpoint as a sockaddr and back, for dns/io's sockets.

#include <sys/socket.h>

#include "dns/endpoint.hpp"

namespace tapir::dns {

// The upstream as a sockaddr; false for an IPv6 scope that names no interface.
bool to_sockaddr(const dns::Endpoint& e, sockaddr_storage& ss, socklen_t& len);
dns::Endpoint from_sockaddr(const sockaddr_storage& ss);

}  // namespace tapir::dns
