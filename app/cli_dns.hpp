#pragma once
// The DNS forwarder's command-line options (cli.cpp parses the rest): their
// getopt_long table, their parsing into Options, and their --help lines.

#include <getopt.h>

#include <string>

#include "app/cli.hpp"
#include "base/expected.hpp"

namespace tapir::app {

// getopt_long values of the DNS options: kFirstDnsOption and up.
inline constexpr int kFirstDnsOption = 2000;
// As many as the DNS service watches (DnsServiceConfig::kMaxHostsFiles).
inline constexpr size_t kMaxHostsFiles = 16;

// Terminated by an all-zero entry.
extern const option kDnsLongOptions[];

bool is_dns_option(int c);

// Applies DNS option `c` with argument `arg` (null for a flag) to `o`;
// the error is one line.
Expected<void, std::string> parse_dns_option(int c, const char* arg, Options& o);

// The --help lines of the DNS options.
extern const char kDnsUsage[];

}  // namespace tapir::app
