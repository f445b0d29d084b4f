// tapir — user-mode networking for rootless containers.
//
// This is the entry point only. Today tapir has its foundation (the wire
// layer, tests, fuzzing and benchmarks) and no engine yet, so the binary
// explains itself and refuses to pretend: anything but --help/--version
// exits 1 with a line saying what is missing.

#include <getopt.h>

#include <cstdio>
#include <cstring>

#include "base/log.hpp"

#ifndef TAPIR_VERSION
#define TAPIR_VERSION "0.1.0"
#endif

namespace {

constexpr const char kUsage[] =
    "Usage: tapir [OPTIONS] PID|PATH [TAPNAME]\n"
    "       tapir run [OPTIONS] -- CMD [ARGS...]\n"
    "\n"
    "User-mode networking for unprivileged network namespaces: a tap device\n"
    "in the target namespace, translated to ordinary host sockets.\n"
    "\n"
    "Status: only the foundation exists in this build (packet parsing and\n"
    "building, checksums, pcap). Attaching to a namespace and the data path\n"
    "are not implemented yet; see README.md.\n"
    "\n"
    "Options:\n"
    "  -h, --help      show this help and exit\n"
    "  -v, --version   show version information and exit\n"
    "  -q, --quiet     log only warnings and errors\n"
    "      --debug     log debugging detail\n";

void print_version() {
  std::printf("tapir version %s\n", TAPIR_VERSION);
#ifdef TAPIR_GIT_COMMIT
  std::printf("commit: %s\n", TAPIR_GIT_COMMIT);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  enum { kOptDebug = 1000 };
  static const option kLongOptions[] = {
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'v'},
      {"quiet", no_argument, nullptr, 'q'},
      {"debug", no_argument, nullptr, kOptDebug},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;  // we print our own one-line errors
  int c;
  while ((c = getopt_long(argc, argv, "+hvq", kLongOptions, nullptr)) != -1) {
    switch (c) {
      case 'h': std::fputs(kUsage, stdout); return 0;
      case 'v': print_version(); return 0;
      case 'q': tapir::set_log_level(tapir::LogLevel::kWarn); break;
      case kOptDebug: tapir::set_log_level(tapir::LogLevel::kDebug); break;
      case '?':
      default:
        if (optopt != 0) {
          std::fprintf(stderr, "tapir: unknown option -%c (see tapir --help)\n", optopt);
        } else {
          std::fprintf(stderr, "tapir: unknown option %s (see tapir --help)\n", argv[optind - 1]);
        }
        return 1;
    }
  }
  if (optind >= argc) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  std::fprintf(stderr,
               "tapir: attaching to a namespace is not implemented yet in this build "
               "(see README.md, Status)\n");
  return 1;
}
