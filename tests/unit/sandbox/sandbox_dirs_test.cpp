// What the sandbox's root keeps: /etc and /run, then the extra directories
// that are not already inside a kept one.

#include <gtest/gtest.h>

#include "sandbox/sandbox.hpp"

namespace tapir::sandbox {
namespace {

using Dirs = std::vector<std::string>;

TEST(SandboxDirs, EtcAndRunAlways) {
  EXPECT_EQ(sandbox_dirs({}), (Dirs{"/etc", "/run"}));
}

TEST(SandboxDirs, DirectoriesInsideKeptOnesAreNotBoundAgain) {
  EXPECT_EQ(sandbox_dirs({.read_dirs = {"/etc", "/run/systemd/resolve", "/etc/"}}),
            (Dirs{"/etc", "/run"}));
}

TEST(SandboxDirs, OthersAreKeptOnceShortestFirst) {
  EXPECT_EQ(sandbox_dirs({.read_dirs = {"/tmp/a/b", "/tmp/a", "/srv/dns", "/tmp/a/"}}),
            (Dirs{"/etc", "/run", "/tmp/a", "/srv/dns"}));
}

TEST(SandboxDirs, ANameThatOnlySharesAPrefixIsItsOwn) {
  EXPECT_EQ(sandbox_dirs({.read_dirs = {"/etcetera", "/running"}}),
            (Dirs{"/etc", "/run", "/running", "/etcetera"}));
}

TEST(SandboxDirs, RelativeAndRootAreRefused) {
  // The root itself would keep everything; a relative path means nothing
  // after pivot_root. main() passes realpath()s, so neither happens there.
  EXPECT_EQ(sandbox_dirs({.read_dirs = {"/", "relative/dir", ""}}), (Dirs{"/etc", "/run"}));
}

}  // namespace
}  // namespace tapir::sandbox
