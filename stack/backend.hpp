#pragma once
// What the process lifecycle (app/serve) needs of an engine, and all it
// may use: serve() starts it, runs it until a lifecycle fd fires, stops it,
// and the control API reads its counters and drives its port forwarding
// through this interface alone. The io_uring engine (stack/stack) is one
// implementation; another engine (libslirp) is a second one.
//
// Lifecycle. The implementation's factory sets everything up and runs
// nothing. start() arms every watch: once it returned, the engine serves
// frames and the ready-fd may be written. run() serves until one of the
// lifecycle fds the engine was given fires (its index: it stays disarmed
// until rearm()) or the tap is gone (kTapGone). stop() cancels what is in
// flight and closes the flows; stats() answers afterwards too, with the
// counters as they were at the stop.

#include <cstddef>
#include <string>

#include "base/expected.hpp"
#include "flows/port_forward.hpp"
#include "loop/socket_watcher.hpp"
#include "stack/stats.hpp"

namespace tapir::stack {

class Backend {
 public:
  // run(): the tap stopped working (its namespace died).
  static constexpr size_t kTapGone = ~size_t{0};

  virtual ~Backend() = default;

  // The error is the reason, without "cannot start the engine".
  virtual Expected<void, std::string> start() = 0;
  virtual Expected<size_t, std::string> run() = 0;
  virtual void rearm(size_t watch) = 0;
  virtual void stop() = 0;

  // Every counter, in the shape of the API's stats reply (stack/stats).
  virtual StatGroup stats() const = 0;
  // -p/--publish and the API's add_hostfwd, list_hostfwd, remove_hostfwd.
  virtual flows::ForwardTable& port_forwards() = 0;
  // The loop the control API's sockets are watched on.
  virtual loop::SocketWatcher& watcher() = 0;
  // How the engine runs, for the start-up log line ("io_uring <mode>").
  virtual std::string describe() const = 0;
};

}  // namespace tapir::stack
