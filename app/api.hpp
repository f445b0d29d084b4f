#pragma once
// The control API (-a/--api-socket PATH): slirp4netns's protocol, exactly,
// plus tapir's own commands.
//
// Protocol. A unix stream socket; one JSON request per connection, one
// compact JSON reply, then tapir closes the connection.
//
//   {"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0",
//     "host_port":8080,"guest_addr":"10.0.2.100","guest_port":80}}
//                                        -> {"return":{"id":1}}
//   {"execute":"list_hostfwd"}           -> {"entries":[{"id":1,"proto":"tcp",...}]}
//   {"execute":"remove_hostfwd","arguments":{"id":1}}
//                                        -> {"return":{}}
//   {"execute":"stats"}                  -> {"return":{...tapir's counters...}}
//
// list_hostfwd's reply has no "return" around it: that is what slirp4netns
// 1.2 sends, and clients parse it so. Errors are {"error":{"desc":"..."}}
// with slirp4netns's texts (kErr* below); an empty or missing host_addr is
// 0.0.0.0, an empty or missing guest_addr the guest's address. tapir also
// takes IPv6 host and guest addresses. A request of 4096 bytes or more is
// "too large", as in slirp4netns (whose buffer is 4096 bytes).
//
// Framing. slirp4netns answers whatever one read() returned. tapir reads
// without blocking until the request is complete: a whole JSON value has
// arrived (text after it is ignored, as slirp4netns's parser does), the
// client shut down its side, 4096 bytes arrived, or the connection's time
// ran out; then it answers what it has. So a client that sends in pieces
// works, and one that never sends is closed after ApiLimits::timeout.
//
// The server never blocks the engine: the listener and every client are
// non-blocking and watched on it (loop/engine), a client's buffer is
// bounded, and so is the number of clients (more are answered with an
// error and closed at once). A request that is too large is answered at
// once and our side shut down (the client reads the answer, then EOF);
// then at most kApiMaxDrain more bytes are read and discarded, so a client
// that sent its whole oversized request in one go does not fail with EPIPE
// before it reads the answer, and the connection is closed. A client that
// never stops writing (cat /dev/zero) is cut off there, within
// milliseconds; slirp4netns closes after its single read.
//
// Access. The socket file is created mode 0600 whatever the umask, and a
// peer whose uid (SO_PEERCRED, at connect time) is neither tapir's
// effective uid nor root is refused: it gets kErrPeer and the connection
// is closed before anything is read from it. slirp4netns has no such
// check; tapir answers rather than closing silently so that a client run
// as the wrong user is told why, in the same {"error":...} shape every
// other refusal has; the peer learns nothing stat(2) on the path would not
// tell it. At start, only a stale socket at PATH (a socket file nobody
// listens on) is removed; any other file there, or a socket someone still
// listens on, is an error and is left alone (slirp4netns unlinks whatever
// is there).

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/expected.hpp"
#include "base/fd.hpp"
#include "loop/socket_watcher.hpp"
#include "flows/port_forward.hpp"
#include "wire/address_plan.hpp"

namespace tapir::app {

inline constexpr size_t kApiMaxRequest = 4096;  // this many bytes or more: too large
// After a "too large" answer: at most this much more is read, then close.
inline constexpr size_t kApiMaxDrain = size_t{1} << 20;

// slirp4netns's error texts (api.c), which clients match on.
inline constexpr const char* kErrTooLarge = "bad request: too large message";
inline constexpr const char* kErrParse = "bad request: cannot parse JSON";
inline constexpr const char* kErrNotObject = "bad request: json_object() failed";
inline constexpr const char* kErrNoExecute = "bad request: no execute found";
inline constexpr const char* kErrUnknownExecute = "bad request: unknown execute";
inline constexpr const char* kErrProto = "bad request: add_hostfwd: bad arguments.proto";
inline constexpr const char* kErrHostAddr = "bad request: add_hostfwd: bad arguments.host_addr";
inline constexpr const char* kErrHostPort = "bad request: add_hostfwd: bad arguments.host_port";
inline constexpr const char* kErrGuestAddr = "bad request: add_hostfwd: bad arguments.guest_addr";
inline constexpr const char* kErrGuestPort = "bad request: add_hostfwd: bad arguments.guest_port";
inline constexpr const char* kErrAddFailed = "bad request: add_hostfwd: slirp_add_hostfwd failed";
inline constexpr const char* kErrRemoveId = "bad request: remove_hostfwd: bad arguments.id";
// tapir's own.
inline constexpr const char* kErrBusy = "busy: too many API clients";
inline constexpr const char* kErrPeer =
    "permission denied: only tapir's user and root may use this API";

// Whether the bytes received so far are a request to answer.
enum class RequestState {
  kIncomplete,  // could still become a JSON value: wait for more
  kReady,       // a whole JSON value, or bytes that can never become one
  kTooLarge,    // kApiMaxRequest bytes or more
};
RequestState classify_request(std::string_view received);

// The request -> reply function; no I/O of its own.
class ApiHandler {
 public:
  using StatsFn = std::function<nlohmann::json()>;
  ApiHandler(flows::ForwardTable& table, const wire::AddressPlan& plan, StatsFn stats);

  // The compact JSON reply to one request (as received; see classify_request).
  std::string handle(std::string_view request);

 private:
  std::string add_hostfwd(const nlohmann::json& req);
  std::string list_hostfwd();
  std::string remove_hostfwd(const nlohmann::json& req);

  flows::ForwardTable& table_;
  wire::AddressPlan plan_;
  StatsFn stats_;
};

// {"error":{"desc":DESC}}
std::string api_error(std::string_view desc);

struct ApiLimits {
  size_t max_clients = 8;
  Duration timeout = Duration::seconds(5);
};

struct ApiStats {
  uint64_t accepted = 0;
  uint64_t requests = 0;  // answered
  uint64_t busy = 0;      // refused: max_clients
  uint64_t refused = 0;   // refused: peer uid neither ours nor root
  uint64_t timeouts = 0;  // closed: no complete request in time
  uint64_t too_large = 0;
  uint64_t io_errors = 0;
};

class ApiServer final : public loop::SocketClient {
 public:
  // Binds PATH, mode 0600 (removing a stale socket file there first, and
  // nothing else), and listens. The error is one line naming PATH.
  static Expected<std::unique_ptr<ApiServer>, std::string> open(const std::string& path,
                                                                ApiHandler& handler,
                                                                ApiLimits limits = {});
  ~ApiServer() override;  // removes the socket file, unless told not to
  // The sandbox and the seccomp filter leave tapir no way to remove a path:
  // the file stays at exit, and the next start replaces it as a stale one.
  void keep_file_at_exit() { keep_file_ = true; }
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Starts watching the listener (and a 1 s timer for client timeouts).
  // false when the engine has no watch slot left.
  bool attach(loop::SocketWatcher& engine);
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;

  const ApiStats& stats() const { return stats_; }
  size_t clients() const { return conns_.size(); }

 private:
  ApiServer(std::string path, Fd listener, Fd timer, ApiHandler& handler, ApiLimits limits);
  struct Conn {
    Fd fd;
    loop::WatchHandle watch;
    std::string in;
    std::string out;
    size_t out_done = 0;
    bool writing = false;
    bool want_out = false;  // watched for POLLOUT
    bool draining = false;  // answered "too large": discarding the rest until EOF
    size_t drained = 0;     // ... this much so far (at most kApiMaxDrain)
    MonoTime deadline{};
  };
  void accept_all(MonoTime now);
  void on_conn(uint64_t id, Conn& c, unsigned revents);
  void start_reply(uint64_t id, Conn& c, std::string reply);
  void flush(uint64_t id, Conn& c);
  void close_conn(uint64_t id);
  void expire(MonoTime now);

  static constexpr uint64_t kListenerCookie = 0;
  static constexpr uint64_t kTimerCookie = 1;

  std::string path_;
  bool keep_file_ = false;  // keep_file_at_exit()
  Fd listener_;
  Fd timer_;
  ApiHandler& handler_;
  ApiLimits limits_;
  loop::SocketWatcher* engine_ = nullptr;
  loop::WatchHandle listener_watch_;
  loop::WatchHandle timer_watch_;
  std::map<uint64_t, Conn> conns_;
  uint64_t next_id_ = 2;
  ApiStats stats_;
};

}  // namespace tapir::app
