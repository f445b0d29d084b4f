#pragma once
// Domain names in DNS wire format (RFC 1035 3.1), for the search-list
// options: DHCPv4 option 119 (RFC 3397), DHCPv6 option 24 (RFC 8415 21.8)
// and the NDP DNSSL option (RFC 8106 5.2).
//
// Theory of operation. A name is a sequence of labels, each a length byte
// (1..63) and that many bytes, ended by the zero-length root label; the
// whole name is at most 255 bytes. Text names ("example.com", an optional
// trailing dot) are checked once: no empty label, no label over 63 bytes.
// RFC 3397 allows RFC 1035 4.1.4 compression in option 119 (pointers
// relative to the start of the option data); RFC 8415 and RFC 8106 forbid
// it, so it is a flag. The compressor matches whole label suffixes of names
// already written, case-insensitively (RFC 4343), as a DNS server would.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/bytes.hpp"

namespace tapir::services {

// RFC 1035 2.3.4: a name in wire form is at most 255 bytes.
inline constexpr size_t kMaxDomainWireLen = 255;

// Whether `name` is a domain name the encoder takes.
bool valid_domain_name(std::string_view name);

// Writes `names` one after another into `out`. Returns the length, or
// nullopt when a name is invalid or the list does not fit `out`.
std::optional<size_t> encode_domain_list(const std::vector<std::string>& names,
                                         wire::MutBytes out, bool compress);

}  // namespace tapir::services
