#pragma once
// resolv.conf (resolv.conf(5), as glibc reads it) and --dns-upstream.
//
// Theory of operation. parse_resolv_conf() reads the text of a
// resolv.conf into the upstream list and search list the forwarder needs;
// it never fails, because the file is the host's and whatever it holds, a
// container should get the best reading of it glibc would:
//   * "#" or ";" in the first column (after optional blanks) starts a
//     comment line; a token starting with "#" or ";" ends a line.
//   * "nameserver ADDR": the first token is an IPv4 or IPv6 address, IPv6
//     optionally with "%scope" (link-local, RFC 4007 11). Port 53: the
//     file has no syntax for another. Addresses that do not parse are
//     skipped and counted. Unlike glibc (MAXNS = 3), every nameserver is
//     kept: the forwarder fails over through all of them. Loopback stubs
//     (127.0.0.53) are kept: the forwarder runs in the host's namespace,
//     where they answer.
//   * "search A B ..." and "domain A" both set the search list; the last
//     such line wins (resolv.conf(5)).
//   * "options ..." tokens are kept as written (ndots:N, edns0, ...), for
//     the passthrough mode's copy of the file.
//   * Everything else (sortlist, unknown keywords, junk) is skipped and counted.
// No nameserver at all leaves the list empty; the caller chooses the
// fallback (glibc's is the local host).
//
// parse_upstream() reads one --dns-upstream ADDR[:PORT]: "192.0.2.1",
// "192.0.2.1:5353", "fd00::1", "fe80::1%eth0", "[fd00::1]:53",
// "[fe80::1%eth0]:5353". A bare IPv6 address takes no port (its colons
// would make one ambiguous): bracket it to give one.

#include <string>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "dns/endpoint.hpp"

namespace tapir::dns {

struct ResolvConf {
  std::vector<Endpoint> nameservers;  // in file order
  std::vector<std::string> search;    // from the last search/domain line
  std::vector<std::string> options;   // raw tokens of every options line
  size_t bad_nameservers = 0;         // nameserver lines whose address did not parse
  size_t ignored_lines = 0;           // unknown keywords and junk
};

ResolvConf parse_resolv_conf(std::string_view text);

enum class UpstreamError : uint8_t {
  kEmpty,
  kBadAddress,  // not an IPv4 or IPv6 address, or an unclosed '['
  kBadPort,     // not 1-65535, or junk after the address
  kBadScope,    // empty, too long (> 15, IFNAMSIZ - 1), bad characters, or on IPv4
};
const char* upstream_error_name(UpstreamError e) noexcept;

Expected<Endpoint, UpstreamError> parse_upstream(std::string_view text);

}  // namespace tapir::dns
