#include "app/api.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "base/log.hpp"

namespace tapir::app {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

enum class Parsed { kOk, kIncomplete, kBad };

// Builds the value from nlohmann's SAX events. Unlike json::parse it stops
// after the first value (strict = false: what follows is ignored, as
// slirp4netns's parser does), rejects duplicate keys (as that parser does),
// and tells "ended too early" from "can never be JSON".
class DomBuilder final : public nlohmann::json_sax<json> {
 public:
  DomBuilder(json& root, size_t input_len) : root_(root), input_len_(input_len) {}

  bool null() override { return put(nullptr); }
  bool boolean(bool v) override { return put(v); }
  bool number_integer(number_integer_t v) override { return put(v); }
  bool number_unsigned(number_unsigned_t v) override { return put(v); }
  bool number_float(number_float_t v, const string_t&) override { return put(v); }
  bool string(string_t& v) override { return put(std::move(v)); }
  bool binary(binary_t&) override { return false; }  // not in JSON text
  bool start_object(std::size_t) override {
    json* o = place(json::object());
    stack_.push_back(o);
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) return false;  // a duplicate key
    slot_ = &(*stack_.back())[k];
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    stack_.push_back(place(json::array()));
    keys_.emplace_back();
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    keys_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception&) override {
    // The lexer reads one past the end when the input stops mid-value.
    incomplete_ = position > input_len_;
    return false;
  }
  bool incomplete() const { return incomplete_; }

 private:
  template <class V>
  bool put(V&& v) {
    place(json(std::forward<V>(v)));
    return true;
  }
  json* place(json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  json& root_;
  size_t input_len_;
  std::vector<json*> stack_;
  std::vector<std::set<std::string>> keys_;
  json* slot_ = nullptr;
  bool incomplete_ = false;
};

// slirp4netns parses the request as a C string: a NUL ends it.
std::string_view up_to_nul(std::string_view s) {
  const size_t nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

Parsed parse_request(std::string_view text, json& out) {
  text = up_to_nul(text);
  DomBuilder b(out, text.size());
  if (json::sax_parse(text, &b, json::input_format_t::json, /*strict=*/false)) return Parsed::kOk;
  return b.incomplete() ? Parsed::kIncomplete : Parsed::kBad;
}

// A member of "arguments", or nullptr.
const json* argument(const json& req, const char* name) {
  auto a = req.find("arguments");
  if (a == req.end() || !a->is_object()) return nullptr;
  auto v = a->find(name);
  return v == a->end() ? nullptr : &*v;
}

// The string argument, or "" when it is missing or not a string (as
// parson's json_object_dotget_string gives NULL then).
std::string string_argument(const json& req, const char* name) {
  const json* v = argument(req, name);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// slirp4netns casts the number to int; anything else counts as 0.
long number_argument(const json& req, const char* name, long max) {
  const json* v = argument(req, name);
  if (v == nullptr || !v->is_number()) return 0;
  const double d = v->get<double>();
  if (!(d >= 0) || d >= static_cast<double>(max) + 1) return 0;  // also NaN
  return static_cast<long>(d);
}

}  // namespace

std::string api_error(std::string_view desc) {
  ordered_json j;
  j["error"]["desc"] = desc;
  return j.dump();
}

RequestState classify_request(std::string_view received) {
  if (received.size() >= kApiMaxRequest) return RequestState::kTooLarge;
  json j;
  return parse_request(received, j) == Parsed::kIncomplete ? RequestState::kIncomplete
                                                           : RequestState::kReady;
}

ApiHandler::ApiHandler(flows::ForwardTable& table, const wire::AddressPlan& plan, StatsFn stats)
    : table_(table), plan_(plan), stats_(std::move(stats)) {}

std::string ApiHandler::handle(std::string_view request) {
  if (request.size() >= kApiMaxRequest) return api_error(kErrTooLarge);
  json req;
  if (parse_request(request, req) != Parsed::kOk) return api_error(kErrParse);
  if (!req.is_object()) return api_error(kErrNotObject);
  auto ex = req.find("execute");
  if (ex == req.end() || !ex->is_string()) return api_error(kErrNoExecute);
  const std::string& execute = ex->get_ref<const std::string&>();
  if (execute == "add_hostfwd") return add_hostfwd(req);
  if (execute == "list_hostfwd") return list_hostfwd();
  if (execute == "remove_hostfwd") return remove_hostfwd(req);
  if (execute == "stats") {
    ordered_json r;
    r["return"] = stats_ ? ordered_json(stats_()) : ordered_json::object();
    return r.dump();
  }
  return api_error(kErrUnknownExecute);
}

std::string ApiHandler::add_hostfwd(const json& req) {
  flows::ForwardRule rule;
  const std::string proto = string_argument(req, "proto");
  if (proto == "tcp") {
    rule.proto = flows::FwdProto::kTcp;
  } else if (proto == "udp") {
    rule.proto = flows::FwdProto::kUdp;
  } else {
    return api_error(kErrProto);
  }
  const std::string host = string_argument(req, "host_addr");
  if (host.empty()) {
    rule.host_addr = wire::IpAddr{};  // 0.0.0.0
  } else if (auto a = wire::IpAddr::parse(host)) {
    rule.host_addr = *a;
  } else {
    return api_error(kErrHostAddr);
  }
  rule.host_port = static_cast<uint16_t>(number_argument(req, "host_port", 65535));
  if (rule.host_port == 0) return api_error(kErrHostPort);
  const std::string guest = string_argument(req, "guest_addr");
  if (guest.empty()) {
    // The guest's address, in the host address's family where the guest has IPv6.
    rule.guest_v6 = rule.host_addr.v6 && plan_.ipv6;
  } else if (auto a = wire::IpAddr::parse(guest); a && (!a->v6 || plan_.ipv6)) {
    rule.guest_addr = *a;
    rule.guest_v6 = a->v6;
  } else {
    return api_error(kErrGuestAddr);
  }
  rule.guest_port = static_cast<uint16_t>(number_argument(req, "guest_port", 65535));
  if (rule.guest_port == 0) return api_error(kErrGuestPort);
  auto id = table_.add(rule);
  if (!id) {
    LOG_WARN("api: add_hostfwd %s %s:%u: %s", proto.c_str(), rule.host_addr.to_string().c_str(),
             rule.host_port, id.error().message().c_str());
    return api_error(kErrAddFailed);
  }
  ordered_json r;
  r["return"]["id"] = *id;
  return r.dump();
}

std::string ApiHandler::list_hostfwd() {
  ordered_json entries = ordered_json::array();
  for (const auto& e : table_.list()) {
    ordered_json o;
    o["id"] = e.id;
    o["proto"] = e.rule.proto == flows::FwdProto::kUdp ? "udp" : "tcp";
    o["host_addr"] = e.rule.host_addr.to_string();
    o["host_port"] = e.rule.host_port;
    o["guest_addr"] = e.guest_addr.to_string();
    o["guest_port"] = e.rule.guest_port;
    entries.push_back(std::move(o));
  }
  ordered_json r;
  r["entries"] = std::move(entries);
  return r.dump();
}

std::string ApiHandler::remove_hostfwd(const json& req) {
  const long id = number_argument(req, "id", 0xffffffffL);
  if (id == 0 || !table_.remove(static_cast<uint32_t>(id))) return api_error(kErrRemoveId);
  return R"({"return":{}})";
}

// --- ApiServer -------------------------------------------------------------

namespace {

std::string errno_text(int err) {
  const char* d = strerrordesc_np(err);
  return d != nullptr ? d : "unknown error";
}

// Clears the way for bind(): nothing at PATH, or a stale socket (one that
// nobody listens on: connect() is refused), which is removed. Anything
// else is left alone and is an error.
Expected<void, std::string> remove_stale_socket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return {};
    return unexpected("cannot check the API socket path " + path + ": " + errno_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return unexpected("the API socket path " + path +
                      " exists and is not a socket; not removing it");
  }
  // Non-blocking: a live listener with a full backlog says EAGAIN, not a wait.
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe) return unexpected(std::string("api socket: ") + errno_text(errno));
  const auto* sa = reinterpret_cast<const sockaddr*>(&addr);  // NOLINT: the sockets API
  if (::connect(probe.get(), sa, sizeof addr) == 0 || errno == EAGAIN || errno == EINPROGRESS) {
    return unexpected("the API socket " + path + " is in use by another process; not removing it");
  }
  if (errno != ECONNREFUSED) {
    return unexpected("cannot check the API socket " + path + ": " + errno_text(errno));
  }
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
    return unexpected("cannot remove the stale API socket " + path + ": " + errno_text(errno));
  }
  return {};
}

// SO_PEERCRED: the uid the peer had when it connected.
bool peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return false;
  return cred.uid == ::geteuid() || cred.uid == 0;
}

}  // namespace

ApiServer::ApiServer(std::string path, Fd listener, Fd timer, ApiHandler& handler, ApiLimits limits)
    : path_(std::move(path)),
      listener_(std::move(listener)),
      timer_(std::move(timer)),
      handler_(handler),
      limits_(limits) {}

Expected<std::unique_ptr<ApiServer>, std::string> ApiServer::open(const std::string& path,
                                                                  ApiHandler& handler,
                                                                  ApiLimits limits) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return unexpected("--api-socket path must be 1-" + std::to_string(sizeof addr.sun_path - 1) +
                      " bytes long, not " + std::to_string(path.size()));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  // A socket left behind by an earlier run would make bind fail (EADDRINUSE).
  if (auto r = remove_stale_socket(path, addr); !r) return unexpected(r.error());
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return unexpected(std::string("api socket: ") + strerrordesc_np(errno));
  // bind() creates the file with 0777 & ~umask; fchmod on a socket does not
  // reach the file, and a chmod after bind leaves a window. tapir has no
  // other thread yet, so the process-wide umask is ours to set briefly.
  const mode_t old_umask = ::umask(0177);
  const int bound =
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);  // NOLINT
  const int bind_errno = errno;
  ::umask(old_umask);
  if (bound < 0) {
    return unexpected("cannot bind the API socket " + path + ": " + strerrordesc_np(bind_errno));
  }
  if (::listen(fd.get(), 16) < 0) {
    const int e = errno;
    ::unlink(path.c_str());
    return unexpected("cannot listen on the API socket " + path + ": " + strerrordesc_np(e));
  }
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer) {
    const int e = errno;
    ::unlink(path.c_str());
    return unexpected(std::string("timerfd: ") + strerrordesc_np(e));
  }
  return std::unique_ptr<ApiServer>(
      new ApiServer(path, std::move(fd), std::move(timer), handler, limits));
}

ApiServer::~ApiServer() {
  // The engine may be gone at exit; its shutdown() cancelled the polls.
  conns_.clear();
  if (keep_file_) {
    LOG_DEBUG("api: %s stays (sandboxed: no path can be removed); the next start replaces it",
              path_.c_str());
    return;
  }
  ::unlink(path_.c_str());
}

bool ApiServer::attach(loop::SocketWatcher& engine) {
  engine_ = &engine;
  listener_watch_ = engine.watch(listener_.get(), POLLIN, *this, kListenerCookie);
  if (!listener_watch_.valid()) return false;
  itimerspec its{};
  its.it_interval.tv_sec = 1;
  its.it_value.tv_sec = 1;
  ::timerfd_settime(timer_.get(), 0, &its, nullptr);
  timer_watch_ = engine.watch(timer_.get(), POLLIN, *this, kTimerCookie);
  return timer_watch_.valid();
}

void ApiServer::on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& /*tx*/) {
  if (cookie == kListenerCookie) return accept_all(now);
  if (cookie == kTimerCookie) {
    uint64_t expirations;
    while (::read(timer_.get(), &expirations, sizeof expirations) > 0) {
    }
    return expire(now);
  }
  auto it = conns_.find(cookie);
  if (it != conns_.end()) on_conn(it->first, it->second, revents);
}

void ApiServer::accept_all(MonoTime now) {
  // Bounded: the listener's backlog is.
  for (int i = 0; i < 64; ++i) {
    Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    ++stats_.accepted;
    if (!peer_allowed(fd.get())) {
      if (stats_.refused++ == 0) LOG_WARN("api: refused a client of another user (counted)");
      const std::string err = api_error(kErrPeer);
      (void)!::send(fd.get(), err.data(), err.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      continue;  // closes
    }
    if (conns_.size() >= limits_.max_clients) {
      ++stats_.busy;
      const std::string err = api_error(kErrBusy);
      (void)!::send(fd.get(), err.data(), err.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      continue;  // closes
    }
    const uint64_t id = next_id_++;
    Conn c;
    c.fd = std::move(fd);
    c.deadline = now + limits_.timeout;
    c.in.reserve(kApiMaxRequest);
    c.watch = engine_->watch(c.fd.get(), POLLIN, *this, id);
    if (!c.watch.valid()) {
      ++stats_.busy;
      continue;
    }
    conns_.emplace(id, std::move(c));
  }
}

void ApiServer::on_conn(uint64_t id, Conn& c, unsigned revents) {
  if (c.draining && !c.writing) {
    // Until EAGAIN (the poll wakes again only for new data), or until the
    // bound: a client that is still writing then is not sending a request,
    // and would hold the connection for ever. The bound also keeps one
    // wake short.
    char sink[16384];
    while (c.drained < kApiMaxDrain) {
      const ssize_t n = ::recv(c.fd.get(), sink, sizeof sink, MSG_DONTWAIT);
      if (n > 0) {
        c.drained += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return close_conn(id);  // EOF or an error: done
    }
    return close_conn(id);
  }
  if (c.writing) {
    if ((revents & (POLLERR | POLLHUP)) != 0 && (revents & POLLOUT) == 0) return close_conn(id);
    return flush(id, c);
  }
  bool eof = false;
  char buf[kApiMaxRequest];
  while (c.in.size() < kApiMaxRequest) {
    const ssize_t n = ::recv(c.fd.get(), buf, kApiMaxRequest - c.in.size(), MSG_DONTWAIT);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    ++stats_.io_errors;
    return close_conn(id);
  }
  const RequestState st = classify_request(c.in);
  if (st == RequestState::kTooLarge) {
    ++stats_.too_large;
    LOG_WARN("api: too large message (>= %zu bytes)", kApiMaxRequest);
    c.draining = !eof;
    return start_reply(id, c, api_error(kErrTooLarge));
  }
  if (st == RequestState::kIncomplete && !eof) return;  // wait for the rest
  LOG_DEBUG("api: request: %.*s", static_cast<int>(c.in.size()), c.in.data());
  start_reply(id, c, handler_.handle(c.in));
}

void ApiServer::start_reply(uint64_t id, Conn& c, std::string reply) {
  ++stats_.requests;
  c.writing = true;
  c.out = std::move(reply);
  c.out_done = 0;
  c.in.clear();
  c.in.shrink_to_fit();
  flush(id, c);
}

void ApiServer::flush(uint64_t id, Conn& c) {
  while (c.out_done < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_done, c.out.size() - c.out_done,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      c.out_done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The client is slow to read a long reply: wait for room (the
      // deadline still applies).
      if (!c.want_out) {
        engine_->unwatch(c.watch);
        c.watch = engine_->watch(c.fd.get(), POLLOUT, *this, id);
        c.want_out = true;
        if (!c.watch.valid()) return close_conn(id);
      }
      return;
    }
    ++stats_.io_errors;
    return close_conn(id);
  }
  if (c.draining) {
    // Answered "too large": the client sees the end of the answer now,
    // and may finish writing before it reads it.
    ::shutdown(c.fd.get(), SHUT_WR);
    if (c.want_out) {
      engine_->unwatch(c.watch);
      c.watch = engine_->watch(c.fd.get(), POLLIN, *this, id);
      c.want_out = false;
      if (!c.watch.valid()) return close_conn(id);
    }
    c.writing = false;
    return;
  }
  // One request per connection, as slirp4netns.
  ::shutdown(c.fd.get(), SHUT_RDWR);
  close_conn(id);
}

void ApiServer::close_conn(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  // The peer must see the end now: the engine's poll holds its own file
  // reference, so close() alone may leave the socket open for a while (for
  // good, when unwatched from inside its own callback: issue 12, item 5).
  ::shutdown(it->second.fd.get(), SHUT_RDWR);
  engine_->unwatch(it->second.watch);
  conns_.erase(it);  // closes
}

void ApiServer::expire(MonoTime now) {
  std::vector<uint64_t> late;
  for (const auto& [id, c] : conns_) {
    if (now >= c.deadline) late.push_back(id);
  }
  for (uint64_t id : late) {
    auto it = conns_.find(id);
    if (it == conns_.end()) continue;
    if (!it->second.writing && !it->second.in.empty()) {
      // Something arrived but never became a whole request: answer it.
      start_reply(id, it->second, handler_.handle(it->second.in));
      if (conns_.count(id) == 0) continue;  // answered and closed
    }
    ++stats_.timeouts;
    close_conn(id);
  }
}

}  // namespace tapir::app
