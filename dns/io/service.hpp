#pragma once
// The DNS forwarder's I/O: guest datagrams in, host sockets out, answers
// back to the guest as frames.
//
// Theory of operation. dns::Forwarder decides everything; this class is
// the part that touches the kernel (DESIGN.md: dns/ stays I/O-free).
//
//   guest UDP to plan.dns4:53 / plan.dns6:53  -> on_udp -> Forwarder::on_query
//   ForwarderIo::send_query                   -> a pooled connected UDP socket for that
//                                                upstream (or a fresh one), send()
//   socket readable                           -> recvfrom() until EAGAIN or the answer
//                                                -> Forwarder::on_reply
//   ECONNREFUSED (ICMP unreachable)           -> Forwarder::on_attempt_error (failover now)
//   ForwarderIo::send_query_tcp (TC answer)   -> the attempt's UDP socket closed; a
//                                                non-blocking TCP connect to the same
//                                                upstream, length-prefixed query sent
//                                                when writable, answer read until its
//                                                length is complete -> on_reply
//   ForwarderIo::close_query                  -> the socket back to its pool if this
//                                                query's answer came on it, else
//                                                loop::Engine::unwatch, close()
//   ForwarderIo::answer                       -> a frame from the DNS address, port 53
//   timerfd every 100 ms while queries are pending, and the engine tick
//                                             -> Forwarder::on_tick
//   inotify on resolv.conf's directory        -> Forwarder::set_upstreams
//                                                (dns_resolv_watch.hpp)
//   inotify on each hosts file's directory    -> Forwarder::set_hosts (HostsWatch)
//   adopt_stream (guest TCP to port 53)       -> length-prefixed queries in, answers
//                                                out (dns_stream.cpp)
//
// Upstream UDP sockets come from a pool per upstream (upstream_udp.cpp). Each is connected to
// its upstream, so the kernel bound it to a random ephemeral source port
// (RFC 5452 9.2) and drops datagrams from anyone else; check_reply() checks
// the source, the ID and the question again anyway. A socket serves one
// query at a time, with a fresh random ID each (the forwarder's), and goes
// back to the pool only when that query's answer came on it — a socket
// whose query timed out, failed or was abandoned is closed, so a late
// answer can never meet the next query. A socket is retired after
// kUdpMaxUses queries or kUdpMaxAge, so the source ports keep changing;
// idle ones are closed after kUdpMaxAge too. The engine watch stays
// registered while a socket is pooled: the per-query path is one send()
// and one recvfrom(), where a socket per query cost socket(), connect(),
// a watch, an unwatch and close() besides (most of tapir's CPU per
// uncached query). The sockets live in tapir's own (the caller's) network
// namespace, so loopback resolvers such as 127.0.0.53 work for the guest.
//
// Allocation: the attempt table, the socket pool (one entry per possible
// attempt), the stream table and the receive buffer are sized in the
// constructor; the per-query path does not allocate, beyond what Forwarder
// documents (Cache::insert). The rare paths do: a pool's idle list, the
// first time an upstream is used, a TCP retry's buffers, and a guest TCP
// stream's buffers, each freed when it ends.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "dns/forwarder.hpp"
#include "dns/io/resolv_watch.hpp"
#include "dns/query_log.hpp"
#include "loop/socket_watcher.hpp"
#include "flows/tcp_flows.hpp"
#include "wire/address_plan.hpp"
#include "wire/guest_packet.hpp"

namespace tapir::dns {

struct DnsServiceConfig {
  dns::ForwarderConfig forwarder;
  dns::BuiltinConfig builtin;
  std::vector<std::string> add_hosts;  // --add-host NAME:ADDR, in order (BuiltinNames::add_host)
  std::vector<dns::Endpoint> upstreams;
  // Non-empty when `upstreams` came from this resolv.conf: it is watched
  // (dns_resolv_watch.hpp) and a change replaces the upstreams live.
  // Empty with --dns-upstream, which is fixed.
  std::string resolv_conf;
  // Hosts files (--hosts-file, or /etc/hosts; none with --no-hosts): read
  // at start and watched, a change replacing their entries live. At most
  // kMaxHostsFiles.
  std::vector<std::string> hosts_files;
  static constexpr size_t kMaxHostsFiles = 16;
  bool log_queries = false;  // --dns-log: one line per answer
  dns::LogFormat log_format = dns::LogFormat::kText;  // --dns-log-format (query_log.hpp)
  // Guest TCP connections (adopt_stream, dns_stream.cpp).
  size_t max_streams = 64;
  Duration stream_idle = Duration::seconds(30);  // RFC 7766 6.2.3: seconds, not minutes
};

struct DnsIoStats {
  uint64_t tx_full = 0;        // an answer was dropped: no transmit buffer
  uint64_t socket_errors = 0;  // socket/connect/send failed, or no watch slot
  uint64_t recv_errors = 0;
  uint64_t udp_opened = 0;     // upstream UDP sockets opened (the pool's misses)
  uint64_t udp_reused = 0;     // queries sent on a pooled socket
  uint64_t udp_stray = 0;      // datagrams on a pooled socket between queries, dropped
  uint64_t tcp_errors = 0;     // a TCP retry's connection failed or closed early
  uint64_t streams_adopted = 0;
  uint64_t streams_refused = 0;   // adopt_stream at the cap
  uint64_t streams_idle = 0;      // closed after stream_idle without traffic
  uint64_t stream_errors = 0;     // read/write errors, or a zero-length message
  uint64_t stream_out_full = 0;   // an answer dropped: the client does not read
  uint64_t stream_waits = 0;      // answers waited for the peer to make room
};

class DnsService final : public loop::SocketClient, public flows::StreamService, private dns::ForwarderIo {
 public:
  DnsService(const wire::AddressPlan& plan, DnsServiceConfig cfg);
  ~DnsService() override;
  DnsService(const DnsService&) = delete;
  DnsService& operator=(const DnsService&) = delete;

  // Before the loop starts: sockets are watched on `engine` from now on.
  // Without it every query that needs an upstream gets SERVFAIL.
  void attach(loop::SocketWatcher& engine);

  // A datagram from the guest to the DNS address, port 53 (`p` is UDP and
  // no segmentation-offload frame: the dispatcher splits those).
  void on_udp(const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx);
  void on_tick(MonoTime now, loop::FrameSink& tx);
  void on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) override;

  // DNS over TCP from the guest (RFC 1035 4.2.2, RFC 7766). The TCP
  // translation hands over its end of a socketpair for each guest
  // connection to the DNS address, port 53; `fd` must be a non-blocking
  // stream socket. Queries are read as 2-byte length + message, several per
  // connection and pipelined, answered through the same forwarder (cache,
  // built-in names, upstreams) in the same framing, in the order the
  // answers are ready (RFC 7766 7: not necessarily the order asked).
  // Returns false — and closes `fd` — at max_streams or without an engine.
  bool adopt_stream(Fd fd, MonoTime now) override;
  size_t streams() const { return streams_used_; }
  // Closes streams idle for stream_idle (on_tick calls it).
  void expire_streams(MonoTime now);
  // Closes pooled upstream sockets idle and past their age (on_tick calls it).
  void expire_udp(MonoTime now);
  // Upstream UDP sockets open, busy or idle.
  size_t udp_sockets() const { return udp_.size() - udp_free_.size(); }

  const dns::Forwarder& forwarder() const { return forwarder_; }
  // Everything `stats` in the control API shows about DNS (allocates).
  dns::DnsStatsSnapshot snapshot() const {
    dns::DnsStatsSnapshot s = forwarder_.snapshot();
    s.tcp_streams = streams_used_;
    s.tcp_streams_total = stats_.streams_adopted;
    return s;
  }
  const DnsIoStats& stats() const { return stats_; }

 private:
  // A TCP retry after a truncated answer (RFC 1035 4.2.2 framing). Made
  // only on that rare path, and freed with the attempt.
  struct TcpExchange {
    dns::Endpoint to;
    std::vector<std::byte> out;  // length + query
    size_t out_off = 0;
    std::vector<std::byte> in;   // length + answer, up to 2 + 65535
    size_t in_len = 0;
  };
  // An attempt's I/O: a pooled UDP socket, or after a TC answer a TCP
  // connection of its own.
  struct Socket {
    int fd = -1;  // the TCP connection
    uint32_t generation = 0;
    int32_t udp = -1;  // index in udp_, while the attempt uses a pooled socket
    loop::WatchHandle watch;
    std::unique_ptr<TcpExchange> tcp;
  };
  // A connected UDP socket to one upstream, watched for POLLIN as long as
  // it is open. Busy while `attempt` uses it, else in its pool's idle list.
  struct UdpSocket {
    int fd = -1;
    uint32_t generation = 0;  // bumped when the entry gets a new socket
    loop::WatchHandle watch;
    dns::Endpoint to;
    uint32_t uses = 0;
    MonoTime born{};
    bool busy = false;
    dns::AttemptRef attempt;
  };
  struct UdpPool {
    dns::Endpoint to;
    std::vector<uint32_t> idle;  // udp_ indices, the most recently used last
    uint32_t busy = 0;
  };
  static constexpr uint32_t kUdpMaxUses = 32;
  static constexpr Duration kUdpMaxAge = Duration::seconds(5);
  // A guest TCP connection. Buffers are allocated on adopt and freed on
  // close: `in` holds at most one whole message (2 + 65535), `out` the
  // answers not yet taken by the peer. No more queries are read while
  // `out` holds more than kStreamOutPause or kStreamMaxWaiting answers are
  // still owed, so a client that sends without reading stalls itself, not
  // tapir; and `out` never needs more than kStreamOutMax (what was there at
  // the pause plus every owed answer at the largest size), so in practice
  // no answer is dropped (stream_out_full counts it if one ever is).
  struct StreamBuffers {
    std::vector<std::byte> in;
    size_t in_len = 0;
    std::vector<std::byte> out;
    size_t out_off = 0;
  };
  struct Stream {
    int fd = -1;
    uint32_t generation = 0;
    loop::WatchHandle watch;
    std::unique_ptr<StreamBuffers> buf;
    MonoTime last_active{};
    uint32_t waiting = 0;   // queries whose answer the forwarder still owes
    bool in_query = false;  // inside Forwarder::on_query for this stream
    bool eof = false;       // the peer sent everything it will send
    bool paused = false;    // stopped reading: too much owed or unsent
    bool want_out = false;  // POLLOUT asked for: `out` waits for room
  };
  static constexpr size_t kStreamOutPause = 2 + dns::Forwarder::kMaxMessage;
  static constexpr uint32_t kStreamMaxWaiting = 16;
  static constexpr size_t kStreamOutMax =
      kStreamOutPause + (kStreamMaxWaiting + 1) * (2 + dns::Forwarder::kMaxMessage);
  // Stream cookies: the stream's index from kStreamBase up in the low word
  // (attempt indices stay far below it), its generation in the high word;
  // pooled UDP sockets the same from kUdpBase.
  static constexpr uint32_t kStreamBase = 0x8000'0000u;
  static constexpr uint32_t kUdpBase = 0x4000'0000u;
  static constexpr uint64_t kTimerCookie = ~uint64_t{0};
  static constexpr uint64_t kResolvCookie = ~uint64_t{1};
  // Hosts file i: kHostsCookie - i.
  static constexpr uint64_t kHostsCookie = ~uint64_t{2};

  void answer(const dns::ClientKey& client, wire::ConstBytes msg,
              const dns::AnswerInfo& info) override;
  bool send_query(dns::AttemptRef attempt, const dns::Endpoint& to, wire::ConstBytes query) override;
  bool send_query_tcp(dns::AttemptRef attempt, const dns::Endpoint& to,
                      wire::ConstBytes query) override;
  void tcp_ready(dns::AttemptRef ref, MonoTime now);
  void close_socket(Socket& s);
  void close_query(dns::AttemptRef attempt) override;
  void loop_detected(const dns::Endpoint& upstream) override;
  // The pool's socket for `to`: an idle one, or a fresh one; -1 if none
  // could be opened (counted).
  int32_t take_udp(const dns::Endpoint& to, bool fresh);
  int32_t open_udp(const dns::Endpoint& to);
  // Ends a query's use of udp_[i]: back to its pool if `clean` (its
  // answer came) and it has uses and time left, else closed.
  void release_udp(int32_t i, bool clean);
  void close_udp(int32_t i);
  UdpPool* find_pool(const dns::Endpoint& to);
  void drain_udp(uint64_t cookie, MonoTime now);
  // Keeps the 100 ms timer running while queries are pending: started by
  // the first, stopped when it `expired` with none left.
  void update_timer(bool expired = false);
  void log_answer(const dns::ClientKey& client, wire::ConstBytes msg,
                  const dns::AnswerInfo& info) const;
  void start_resolv_watch(loop::SocketWatcher& engine);
  Stream* find_stream(uint64_t cookie);
  void stream_ready(uint64_t cookie, MonoTime now);
  void stream_read(Stream& st, uint64_t cookie, MonoTime now);
  // Sends what `out` holds; false if the stream failed (and was closed).
  bool stream_flush(Stream& st);
  void stream_answer(const dns::ClientKey& client, wire::ConstBytes msg);
  void close_stream(Stream& st);
  // Reads on in streams that paused for owed answers which have come
  // since; outside any forwarder call (ForwarderIo must not call back in).
  void resume_streams(MonoTime now);
  void on_resolv_change();
  void start_hosts_watch(loop::SocketWatcher& engine);
  void on_hosts_change(std::optional<std::vector<dns::HostEntry>> entries);

  wire::AddressPlan plan_;
  bool log_queries_;
  dns::LogFormat log_format_;
  dns::Forwarder forwarder_;
  loop::SocketWatcher* engine_ = nullptr;
  loop::FrameSink* tx_ = nullptr;  // valid during an entry point only
  std::vector<Socket> sockets_;
  std::vector<UdpSocket> udp_;
  std::vector<uint32_t> udp_free_;  // udp_ entries without a socket
  std::vector<UdpPool> pools_;      // one per upstream in use (a handful)
  int32_t answering_ = -1;          // the udp_ entry whose datagram on_reply is reading
  std::vector<std::byte> rx_;
  Fd timer_;
  loop::WatchHandle timer_watch_;
  bool timer_running_ = false;
  std::string resolv_conf_;
  std::vector<dns::Endpoint> initial_upstreams_;
  std::optional<ResolvConfWatch> resolv_watch_;
  loop::WatchHandle resolv_handle_;
  std::optional<HostsWatch> hosts_watch_;
  std::vector<loop::WatchHandle> hosts_handles_;
  Duration loop_holdoff_;
  Duration stream_idle_;
  std::vector<Stream> streams_;
  size_t streams_used_ = 0;
  bool resume_wanted_ = false;
  DnsIoStats stats_;
};

}  // namespace tapir::dns
