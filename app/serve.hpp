#pragma once
// The process lifecycle around the tap (slirp4netns-compatible):
//
// * -r FD gets exactly "1" and is closed once the tap is up, this loop is
//   running and every fd it waits on is armed;
// * -e FD: any event on it (the other end closed: HUP) ends tapir with 0;
// * SIGTERM / SIGINT end tapir cleanly (run mode: passed on to the command,
//   and tapir ends with the command);
// * PID mode: when the target process is gone (pidfd readable), tapir ends;
// * run mode: when the command exits, tapir exits with its status.
//
// Until the engine exists (issue 5), frames from the guest are read, counted
// and dropped — never answered with anything made up.

#include <sys/types.h>

#include <cstdint>

#include "app/attach.hpp"

namespace tapir::app {

struct ServeConfig {
  int exit_fd = -1;
  int ready_fd = -1;
  pid_t watch_pid = 0;     // PID mode: the target
  pid_t command_pid = 0;   // run mode: the command (our child)
};

struct ServeStats {
  uint64_t frames_in = 0;
  uint64_t bytes_in = 0;
};

// Runs until one of the ends above; returns the process exit status.
int serve(Attached& tap, const ServeConfig& cfg, ServeStats& stats);

}  // namespace tapir::app
