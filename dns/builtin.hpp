#pragma once
// Names the forwarder answers itself and never sends upstream.
//
// Theory of operation. A small table of (name, address) pairs:
// host.containers.internal and host.docker.internal (the address that
// reaches the host: podman and docker spell it differently, so both),
// gateway.containers.internal, then every --add-host NAME:ADDR in order.
// answer() looks at a standard query for class IN (or ANY):
//   * the name of an entry (ASCII case-insensitive, RFC 4343): A and AAAA
//     answer with that name's addresses of the family asked for, ANY with
//     both; a family or type the name does not have is NODATA (NOERROR, no
//     answer: the name exists, RFC 2308 2.2), never NXDOMAIN — and never
//     forwarded, which would leak the name and could return NXDOMAIN;
//   * the reverse name of an entry's address (in-addr.arpa, RFC 1035 3.5;
//     ip6.arpa, RFC 3596 2.5): PTR answers with the first entry that has
//     that address, so the host's address resolves to host.containers.internal;
//   * anything else: nullopt, "not mine", for the forwarder to pass on.
// The hosts files' entries (hosts_file.hpp, set_hosts) come after the
// table: a name or address the table has is answered from the table alone
// (--add-host wins over the file), anything else from the hosts entries by
// the same rules. set_hosts replaces them on a live reload.
// Answers are authoritative (AA), echo the client's question and OPT
// (message_build.hpp) and carry a short TTL: the table changes only with
// tapir's command line, but a client should not hold it long past a restart.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/expected.hpp"
#include "dns/hosts_file.hpp"
#include "dns/message.hpp"
#include "wire/addr.hpp"

namespace tapir::dns {

struct BuiltinConfig {
  // The addresses that reach the host (NAT mode: the gateway address,
  // which maps to host loopback; DESIGN.md "Address plan").
  std::optional<wire::Ipv4Addr> host4;
  std::optional<wire::Ipv6Addr> host6;
  std::optional<wire::Ipv4Addr> gateway4;
  std::optional<wire::Ipv6Addr> gateway6;
  uint32_t ttl = 60;
};

enum class AddHostError : uint8_t {
  kBadSyntax,      // no ':' between NAME and ADDR
  kBadName,        // empty label, label > 63, name > 255
  kBadAddress,     // not IPv4, IPv6 (optionally [bracketed]) or host-gateway
  kNoHostAddress,  // host-gateway, but no host address is configured
};
const char* add_host_error_name(AddHostError e) noexcept;

class BuiltinNames {
 public:
  explicit BuiltinNames(const BuiltinConfig& config);

  // --add-host NAME:ADDR, docker's syntax: split at the first ':', so
  // "db:fd00::5" works; ADDR "host-gateway" means the host's addresses.
  Expected<void, AddHostError> add_host(std::string_view spec);
  void add(const Name& name, wire::Ipv4Addr addr);
  void add(const Name& name, const wire::Ipv6Addr& addr);
  // The hosts files' entries, in order (replacing the last ones).
  void set_hosts(std::vector<HostEntry> entries) { hosts_ = std::move(entries); }
  size_t hosts_size() const { return hosts_.size(); }

  // The response to `query` if it is about a built-in name or address,
  // written to `out`; nullopt if not ("not mine") or if `out` is too small.
  // `from_hosts`, if given, says whether a hosts file answered.
  std::optional<size_t> answer(const Message& query, MutBytes out, bool* from_hosts = nullptr) const;

 private:
  // The answer from `table` alone, if it has the name or address.
  std::optional<size_t> answer_from(const std::vector<HostEntry>& table, const Message& query,
                                    MutBytes out) const;
  std::vector<HostEntry> entries_;
  std::vector<HostEntry> hosts_;
  BuiltinConfig config_;
};

// "10.0.2.2" -> 2.2.0.10.in-addr.arpa; fd00::2 -> 2.0.0.0...0.0.d.f.ip6.arpa.
Name reverse_name(wire::Ipv4Addr addr);
Name reverse_name(const wire::Ipv6Addr& addr);

}  // namespace tapir::dns
