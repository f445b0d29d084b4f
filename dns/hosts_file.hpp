#pragma once
// Hosts files (hosts(5)): names the forwarder answers from the host's
// /etc/hosts, or --hosts-file, before asking any upstream.
//
// Theory of operation. parse_hosts() reads the text of a hosts file as
// glibc does, and never fails: the file is the host's, and a container
// should get the best reading of it.
//   * '#' starts a comment, anywhere on a line.
//   * A line is ADDR NAME [ALIAS...], separated by blanks (spaces, tabs);
//     ADDR is IPv4 or IPv6. Every NAME and ALIAS gets ADDR, in file order.
//   * A line whose ADDR does not parse, or that has no name, is skipped
//     and counted; so is a name that is not a domain name (empty label,
//     over 63 or 255 octets), on its own.
//   * Addresses that mean something else inside the guest are skipped and
//     counted: loopback (127/8, ::1: "localhost" and the host's own name
//     on 127.0.1.1 would name the guest's loopback), unspecified (0.0.0.0,
//     ::, used to block names) and IPv6 link-local (only valid with the
//     host's interface).
// At most kMaxEntries entries are kept; the rest are counted.

#include <cstddef>
#include <string_view>
#include <vector>

#include "dns/name.hpp"
#include "wire/addr.hpp"

namespace tapir::dns {

// One name and one address (a hosts line with two names is two entries).
struct HostEntry {
  Name name;
  bool v6 = false;
  wire::Ipv4Addr a4;
  wire::Ipv6Addr a6;

  bool operator==(const HostEntry& o) const {
    return name == o.name && v6 == o.v6 && (v6 ? a6 == o.a6 : a4 == o.a4);
  }
};

struct HostsFile {
  std::vector<HostEntry> entries;  // in file order
  size_t bad_lines = 0;            // no address, a bad address, or no name
  size_t bad_names = 0;            // names that are not domain names
  size_t skipped = 0;              // loopback, unspecified, link-local, or past kMaxEntries
};

inline constexpr size_t kMaxHostEntries = 100000;

HostsFile parse_hosts(std::string_view text);

}  // namespace tapir::dns
