#include "dns/io/service.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "dns/io/sockaddr.hpp"
#include "dns/query_log.hpp"
#include "services/frame.hpp"

namespace tapir::dns {
namespace {

constexpr Duration kTimerInterval = Duration::millis(100);
constexpr uint8_t kHopLimit = 64;

dns::ForwarderConfig with_mtu(dns::ForwarderConfig f, uint32_t mtu) {
  // An answer must fit one frame to the guest: MTU minus IPv6 and UDP headers.
  const size_t budget = mtu > wire::kIpv6HeaderLen + wire::kUdpHeaderLen
                            ? mtu - wire::kIpv6HeaderLen - wire::kUdpHeaderLen
                            : dns::kClassicUdpSize;
  f.max_udp_answer = std::max(dns::kClassicUdpSize, std::min(f.max_udp_answer, budget));
  return f;
}

dns::BuiltinNames builtin_names(const DnsServiceConfig& cfg) {
  dns::BuiltinNames names(cfg.builtin);
  for (const std::string& spec : cfg.add_hosts) {
    // The command line checked them; only host-gateway without a host address fails here.
    if (auto r = names.add_host(spec); !r) {
      LOG_WARN("dns: --add-host %s: %s; ignored", spec.c_str(),
               dns::add_host_error_name(r.error()));
    }
  }
  return names;
}

}  // namespace

DnsService::DnsService(const wire::AddressPlan& plan, DnsServiceConfig cfg)
    : plan_(plan),
      log_queries_(cfg.log_queries),
      log_format_(cfg.log_format),
      forwarder_(with_mtu(cfg.forwarder, plan.mtu), builtin_names(cfg), *this),
      rx_(dns::Forwarder::kMaxMessage),
      resolv_conf_(std::move(cfg.resolv_conf)),
      initial_upstreams_(cfg.upstreams),
      loop_holdoff_(cfg.forwarder.upstream.loop_holdoff),
      stream_idle_(cfg.stream_idle),
      streams_(cfg.max_streams) {
  forwarder_.set_upstreams(cfg.upstreams);
  if (!cfg.hosts_files.empty()) {
    cfg.hosts_files.resize(std::min(cfg.hosts_files.size(), DnsServiceConfig::kMaxHostsFiles));
    hosts_watch_.emplace(cfg.hosts_files);
    forwarder_.set_hosts(hosts_watch_->entries());
  }
  sockets_.resize(forwarder_.attempt_capacity());
  // At most one pooled socket per attempt is busy; idle ones fill the rest.
  udp_.resize(forwarder_.attempt_capacity());
  udp_free_.reserve(udp_.size());
  for (size_t i = udp_.size(); i-- > 0;) udp_free_.push_back(static_cast<uint32_t>(i));
}

DnsService::~DnsService() {
  // The engine is shut down (nothing in flight) before this runs.
  for (Socket& s : sockets_) {
    if (s.fd >= 0) ::close(s.fd);
  }
  for (UdpSocket& u : udp_) {
    if (u.fd >= 0) ::close(u.fd);
  }
  for (Stream& st : streams_) {
    if (st.fd >= 0) ::close(st.fd);
  }
}

void DnsService::attach(loop::SocketWatcher& engine) {
  engine_ = &engine;
  start_resolv_watch(engine);
  start_hosts_watch(engine);
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_) {
    LOG_WARN("dns: timerfd: %s; timeouts follow the 1 s tick", strerrordesc_np(errno));
    return;
  }
  timer_watch_ = engine.watch(timer_.get(), POLLIN, *this, kTimerCookie);
}

void DnsService::start_resolv_watch(loop::SocketWatcher& engine) {
  if (resolv_conf_.empty()) return;
  resolv_watch_.emplace(resolv_conf_, std::move(initial_upstreams_));
  if (!resolv_watch_->valid()) return;
  resolv_handle_ = engine.watch(resolv_watch_->fd(), POLLIN, *this, kResolvCookie);
  if (!resolv_handle_.valid()) {
    LOG_WARN("dns: no engine slot to watch %s; changes to it need a restart", resolv_conf_.c_str());
    return;
  }
  // A change between startup's read and the watch would otherwise go unseen.
  if (auto list = resolv_watch_->check_now()) {
    forwarder_.set_upstreams(*list);
    LOG_INFO("dns: %s changed; upstreams now %s", resolv_conf_.c_str(),
             describe_upstreams(*list).c_str());
  }
}

void DnsService::on_resolv_change() {
  if (auto list = resolv_watch_->on_readable()) {
    forwarder_.set_upstreams(*list);
    LOG_INFO("dns: %s changed; upstreams now %s", resolv_conf_.c_str(),
             describe_upstreams(*list).c_str());
  }
}

void DnsService::start_hosts_watch(loop::SocketWatcher& engine) {
  if (!hosts_watch_) return;
  for (size_t i = 0; i < hosts_watch_->size(); ++i) {
    const FileWatch& w = hosts_watch_->watch(i);
    if (!w.valid()) continue;
    hosts_handles_.push_back(engine.watch(w.fd(), POLLIN, *this, kHostsCookie - i));
    if (!hosts_handles_.back().valid()) {
      LOG_WARN("dns: no engine slot to watch %s; changes to it need a restart", w.path().c_str());
    }
  }
  // A change between the constructor's read and the watches would otherwise go unseen.
  on_hosts_change(hosts_watch_->check_now());
}

void DnsService::on_hosts_change(std::optional<std::vector<dns::HostEntry>> entries) {
  if (!entries) return;
  LOG_INFO("dns: hosts files changed; %zu entries now", entries->size());
  forwarder_.set_hosts(std::move(*entries));
}

void DnsService::update_timer(bool expired) {
  // Started when a query goes pending, stopped only when it expires with
  // none pending: one query after another would otherwise cost two
  // timerfd_settime() calls each.
  const bool want = forwarder_.pending() != 0;
  if (want == timer_running_ || (!want && !expired) || !timer_ || !timer_watch_.valid()) return;
  itimerspec its{};
  if (want) {
    its.it_value.tv_nsec = kTimerInterval.ns;
    its.it_interval.tv_nsec = kTimerInterval.ns;
  }
  if (::timerfd_settime(timer_.get(), 0, &its, nullptr) == 0) timer_running_ = want;
}

void DnsService::on_udp(const wire::GuestPacket& p, MonoTime now, loop::FrameSink& tx) {
  tx_ = &tx;
  dns::ClientKey c;
  if (p.v6()) {
    c.ipv6 = true;
    c.addr6 = p.ip6->source();
  } else {
    c.addr4 = p.ip4->source();
  }
  c.port = p.src_port;
  c.mac = p.eth.source();
  forwarder_.on_query(c, p.udp->payload(), now);
  resume_streams(now);
  update_timer();
}

void DnsService::on_tick(MonoTime now, loop::FrameSink& tx) {
  tx_ = &tx;
  forwarder_.on_tick(now);
  resume_streams(now);
  expire_streams(now);
  expire_udp(now);
  update_timer();
}

void DnsService::on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) {
  tx_ = &tx;
  if (cookie == kTimerCookie) {
    uint64_t expirations = 0;
    while (::read(timer_.get(), &expirations, sizeof expirations) < 0 && errno == EINTR) {
    }
    forwarder_.on_tick(now);
  } else if (cookie == kResolvCookie) {
    on_resolv_change();
  } else if (hosts_watch_ && kHostsCookie - cookie < hosts_watch_->size()) {
    on_hosts_change(hosts_watch_->on_readable(kHostsCookie - cookie));
  } else if (static_cast<uint32_t>(cookie) >= kStreamBase) {
    (void)revents;  // errors show up as recv's or send's errno
    stream_ready(cookie, now);
  } else if (static_cast<uint32_t>(cookie) >= kUdpBase) {
    (void)revents;  // errors show up as recvfrom's errno
    drain_udp(cookie, now);
  } else {
    (void)revents;  // errors show up as recvfrom's (or send's, recv's) errno
    const auto ref = dns::AttemptRef::unpack(cookie);
    if (ref.index < sockets_.size() && sockets_[ref.index].tcp) tcp_ready(ref, now);
  }
  resume_streams(now);
  update_timer(cookie == kTimerCookie);
}


void DnsService::close_socket(Socket& s) {
  // unwatch() first: the engine submits the poll removal and forgets the fd.
  engine_->unwatch(s.watch);
  ::close(s.fd);
  s.fd = -1;
  s.watch = {};
  s.tcp.reset();
}

bool DnsService::send_query_tcp(dns::AttemptRef ref, const dns::Endpoint& to,
                                wire::ConstBytes query) {
  if (engine_ == nullptr || ref.index >= sockets_.size() ||
      query.size() > dns::Forwarder::kMaxMessage) {
    return false;
  }
  Socket& s = sockets_[ref.index];
  if (s.udp >= 0 && s.generation == ref.generation) {  // the UDP socket is done
    release_udp(s.udp, s.udp == answering_);
    s.udp = -1;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!to_sockaddr(to, ss, len)) {
    ++stats_.socket_errors;
    return false;
  }
  Fd fd(::socket(to.is_ipv6() ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd || (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) < 0 &&  // NOLINT
              errno != EINPROGRESS)) {
    ++stats_.tcp_errors;
    return false;
  }
  auto t = std::make_unique<TcpExchange>();
  t->to = to;
  t->out.resize(2 + query.size());
  wire::store_be16(wire::MutBytes(t->out), 0, static_cast<uint16_t>(query.size()));
  std::memcpy(t->out.data() + 2, query.data(), query.size());
  t->in.resize(2 + dns::Forwarder::kMaxMessage);
  // POLLOUT for the connect and the query, POLLIN for the answer.
  const loop::WatchHandle h = engine_->watch(fd.get(), POLLIN | POLLOUT, *this, ref.pack());
  if (!h.valid()) {
    ++stats_.socket_errors;
    return false;
  }
  s.fd = fd.release();
  s.generation = ref.generation;
  s.watch = h;
  s.tcp = std::move(t);
  return true;
}

void DnsService::tcp_ready(dns::AttemptRef ref, MonoTime now) {
  Socket& s = sockets_[ref.index];
  if (s.fd < 0 || s.generation != ref.generation || !s.tcp) return;
  TcpExchange& t = *s.tcp;
  auto fail = [&] {
    ++stats_.tcp_errors;
    forwarder_.on_attempt_error(ref, now);
  };
  while (t.out_off < t.out.size()) {
    const ssize_t n = ::send(s.fd, t.out.data() + t.out_off, t.out.size() - t.out_off,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // still connecting, or full
    if (n < 0) return fail();  // ECONNREFUSED and friends
    t.out_off += static_cast<size_t>(n);
    if (t.out_off == t.out.size()) engine_->set_events(s.watch, POLLIN);  // the answer, now
  }
  while (true) {
    const ssize_t n = ::recv(s.fd, t.in.data() + t.in_len, t.in.size() - t.in_len, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return fail();  // an error, or closed before the whole answer came
    t.in_len += static_cast<size_t>(n);
    if (t.in_len < 2) continue;
    const size_t need = 2 + wire::load_be16(wire::ConstBytes(t.in), 0);
    if (t.in_len < need) continue;
    // One answer per exchange: on_reply ends the attempt (and frees `t`)
    // if it is accepted. One it rejected (wrong ID or question) is all this
    // connection had to say: the attempt has failed.
    const TcpExchange* before = &t;
    forwarder_.on_reply(ref, t.to, wire::ConstBytes(t.in).subspan(2, need - 2), now);
    if (s.fd >= 0 && s.generation == ref.generation && s.tcp.get() == before) fail();
    return;
  }
}

void DnsService::loop_detected(const dns::Endpoint& upstream) {
  LOG_WARN("dns: upstream %s sent our own query back to the DNS address: a forwarding loop; "
           "not using it for %lld s",
           upstream.to_string().c_str(), static_cast<long long>(loop_holdoff_.ns / 1'000'000'000));
}

void DnsService::answer(const dns::ClientKey& c, wire::ConstBytes msg, const dns::AnswerInfo& info) {
  if (log_queries_) log_answer(c, msg, info);
  if (c.transport == dns::ClientKey::Transport::kTcp) return stream_answer(c, msg);
  if (tx_ == nullptr) return;
  wire::MutBytes out = tx_->acquire();
  if (out.empty()) {
    ++stats_.tx_full;
    return;
  }
  const size_t off = c.ipv6 ? services::kUdp6PayloadOffset : services::kUdp4PayloadOffset;
  if (off + msg.size() > out.size()) {
    tx_->cancel();
    return;
  }
  std::memcpy(out.data() + off, msg.data(), msg.size());
  const services::L2Addrs l2{plan_.gateway_mac, c.mac};
  const size_t n = c.ipv6 ? services::finish_udp6(out, l2, plan_.dns6, c.addr6, dns::kDnsPort, c.port,
                                                  msg.size(), kHopLimit)
                          : services::finish_udp4(out, l2, plan_.dns4, c.addr4, dns::kDnsPort, c.port,
                                                  msg.size());
  tx_->send(n);
}

void DnsService::log_answer(const dns::ClientKey& c, wire::ConstBytes msg,
                            const dns::AnswerInfo& info) const {
  if (!log_enabled(LogLevel::kInfo)) return;
  // "10.0.2.100:40000", "[fd00::100]:40000", or for TCP the stream
  // ("tcp#3": the TCP translation has the address).
  // (append, not operator+: g++ 12 warns falsely about -Wrestrict on the latter)
  std::string who;
  if (c.transport == dns::ClientKey::Transport::kTcp) {
    who.append("tcp#").append(std::to_string(static_cast<uint32_t>(c.conn) - kStreamBase));
  } else if (c.ipv6) {
    who.append("[").append(c.addr6.to_string()).append("]:").append(std::to_string(c.port));
  } else {
    who.append(c.addr4.to_string()).append(":").append(std::to_string(c.port));
  }
  if (log_format_ == dns::LogFormat::kText) {
    LOG_INFO("%s", dns::query_log_text(who, msg).c_str());
    return;
  }
  // JSON Lines: the object alone on its line (no log prefix), one write.
  std::string line = dns::query_log_json(wall_now(), who, msg, info);
  line.push_back('\n');
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace tapir::dns