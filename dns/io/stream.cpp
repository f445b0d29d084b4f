// DnsService's guest TCP streams (dns_io.hpp, adopt_stream): DNS over TCP
// from the guest, RFC 1035 4.2.2 framing, RFC 7766 pipelining.
//
//   readable   -> read into `in`; every whole message -> Forwarder::on_query
//                 (client: transport kTcp, conn = the stream's cookie)
//   answer     -> 2-byte length + message appended to `out`, sent at once;
//                 what the peer does not take waits for POLLOUT (asked
//                 for only while something waits)
//   writable   -> send the rest of `out`; below kStreamOutPause, read again
//   EOF        -> no more queries; closed once every answer owed is sent
//   idle       -> closed after stream_idle without a byte either way
//
// A stream's cookie carries its generation, so an answer for a stream that
// closed meanwhile (the forwarder still had it waiting) is dropped.

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "dns/io/service.hpp"

namespace tapir::dns {

bool DnsService::adopt_stream(Fd fd, MonoTime now) {
  if (engine_ == nullptr || !fd) return false;
  size_t i = 0;
  while (i < streams_.size() && streams_[i].fd >= 0) ++i;
  if (i == streams_.size()) {
    ++stats_.streams_refused;
    return false;
  }
  // Non-blocking, whatever the caller did: the engine thread must never wait.
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    ++stats_.stream_errors;
    return false;
  }
  Stream& st = streams_[i];
  if (++st.generation == 0) st.generation = 1;
  const uint64_t cookie = (uint64_t{st.generation} << 32) | (kStreamBase + i);
  // POLLIN for queries; POLLOUT is added while answers wait (stream_flush).
  const loop::WatchHandle h = engine_->watch(fd.get(), POLLIN, *this, cookie);
  if (!h.valid()) {
    ++stats_.socket_errors;
    return false;
  }
  st.fd = fd.release();
  st.watch = h;
  st.buf = std::make_unique<StreamBuffers>();
  st.buf->in.resize(2 + dns::Forwarder::kMaxMessage);
  st.last_active = now;
  st.waiting = 0;
  st.in_query = false;
  st.eof = false;
  st.paused = false;
  st.want_out = false;
  ++streams_used_;
  ++stats_.streams_adopted;
  return true;
}

DnsService::Stream* DnsService::find_stream(uint64_t cookie) {
  const uint32_t low = static_cast<uint32_t>(cookie);
  if (low < kStreamBase || low - kStreamBase >= streams_.size()) return nullptr;
  Stream& st = streams_[low - kStreamBase];
  if (st.fd < 0 || st.generation != static_cast<uint32_t>(cookie >> 32)) return nullptr;
  return &st;
}

void DnsService::close_stream(Stream& st) {
  engine_->unwatch(st.watch);
  ::close(st.fd);
  st.fd = -1;
  st.watch = {};
  st.buf.reset();
  --streams_used_;
}

void DnsService::stream_ready(uint64_t cookie, MonoTime now) {
  Stream* st = find_stream(cookie);
  if (st == nullptr) return;
  if (!stream_flush(*st)) return;
  stream_read(*st, cookie, now);
}

void DnsService::stream_read(Stream& st, uint64_t cookie, MonoTime now) {
  StreamBuffers& b = *st.buf;
  st.paused = false;
  while (!st.eof) {
    if (b.out.size() - b.out_off >= kStreamOutPause || st.waiting >= kStreamMaxWaiting) {
      st.paused = true;  // POLLOUT or the owed answers resume it
      return;
    }
    // Whole messages first: what a previous read left, then fresh bytes.
    if (b.in_len >= 2) {
      const size_t len = wire::load_be16(wire::ConstBytes(b.in), 0);
      if (len == 0) {
        // Not a DNS message; nothing sensible can follow in this framing.
        ++stats_.stream_errors;
        return close_stream(st);
      }
      if (b.in_len >= 2 + len) {
        dns::ClientKey c;
        c.transport = dns::ClientKey::Transport::kTcp;
        c.conn = cookie;
        // An answer that comes during the call (cache, built-in, error) is
        // this query's; one that comes later is owed (`waiting`). (In the
        // rare case that the call also completes an earlier query of this
        // stream — a loop detected — the count stays one too high and the
        // stream ends by the idle timeout instead of at EOF.)
        st.in_query = true;
        const bool later = forwarder_.on_query(c, wire::ConstBytes(b.in).subspan(2, len), now);
        if (find_stream(cookie) == nullptr) return;  // the answer failed the stream
        st.in_query = false;
        if (later) ++st.waiting;
        b.in_len -= 2 + len;
        std::memmove(b.in.data(), b.in.data() + 2 + len, b.in_len);
        continue;
      }
    }
    const ssize_t n = ::recv(st.fd, b.in.data() + b.in_len, b.in.size() - b.in_len, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {
      ++stats_.stream_errors;
      return close_stream(st);
    }
    if (n == 0) {
      st.eof = true;
      break;
    }
    b.in_len += static_cast<size_t>(n);
    st.last_active = now;
  }
  if (st.eof && st.waiting == 0 && b.out_off == b.out.size()) close_stream(st);
}

bool DnsService::stream_flush(Stream& st) {
  StreamBuffers& b = *st.buf;
  while (b.out_off < b.out.size()) {
    const ssize_t n = ::send(st.fd, b.out.data() + b.out_off, b.out.size() - b.out_off,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!st.want_out) {
        ++stats_.stream_waits;
        engine_->set_events(st.watch, POLLIN | POLLOUT);
      }
      st.want_out = true;
      return true;
    }
    if (n < 0) {
      ++stats_.stream_errors;
      close_stream(st);
      return false;
    }
    b.out_off += static_cast<size_t>(n);
  }
  b.out.clear();
  b.out_off = 0;
  if (st.want_out) engine_->set_events(st.watch, POLLIN);
  st.want_out = false;
  return true;
}

void DnsService::stream_answer(const dns::ClientKey& c, wire::ConstBytes msg) {
  Stream* st = find_stream(c.conn);
  if (st == nullptr) return;  // closed while the answer was on its way
  if (!st->in_query && st->waiting > 0) {
    --st->waiting;
    if (st->paused) resume_wanted_ = true;
  }
  StreamBuffers& b = *st->buf;
  if (b.out.size() - b.out_off + 2 + msg.size() > kStreamOutMax) {
    ++stats_.stream_out_full;
    return;
  }
  const size_t at = b.out.size();
  b.out.resize(at + 2 + msg.size());
  wire::store_be16(wire::MutBytes(b.out), at, static_cast<uint16_t>(msg.size()));
  std::memcpy(b.out.data() + at + 2, msg.data(), msg.size());
  if (!stream_flush(*st)) return;
  if (st->eof && st->waiting == 0 && b.out_off == b.out.size()) close_stream(*st);
}

void DnsService::resume_streams(MonoTime now) {
  if (!resume_wanted_) return;
  resume_wanted_ = false;
  for (size_t i = 0; i < streams_.size(); ++i) {
    Stream& st = streams_[i];
    if (st.fd < 0 || !st.paused) continue;
    stream_read(st, (uint64_t{st.generation} << 32) | (kStreamBase + i), now);
  }
}

void DnsService::expire_streams(MonoTime now) {
  if (streams_used_ == 0) return;
  for (Stream& st : streams_) {
    if (st.fd >= 0 && now >= st.last_active + stream_idle_) {
      ++stats_.streams_idle;
      close_stream(st);
    }
  }
}

}  // namespace tapir::dns
