#include "flows/tcp_flows.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/check.hpp"
#include "base/log.hpp"
#include "flows/icmp_errors.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp4.hpp"
#include "wire/icmp6.hpp"
#include "wire/proto.hpp"
#include "wire/tcp_options.hpp"
#include "wire/tcp_frame.hpp"
#include "wire/virtio_net_hdr.hpp"

namespace tapir::flows {

// Connection states. What each allows (the flags below refine kEstablished
// into the half-closed cases):
//
//   state         host socket               guest segments
//   ------------  ------------------------  ---------------------------------
//   kFree         none                      (slot unused)
//   kConnecting   connect in progress;      a repeated SYN is ignored (the
//                 waiting for POLLOUT       SYN-ACK waits for the host); RST
//                                           ends the flow
//   kSynReceived  connected; SYN-ACK sent   the ACK of our SYN -> kEstablished
//                 (retransmitted on RTO)    (it may carry data); a repeated
//                                           SYN gets the SYN-ACK again
//   kSynSent      accepted on a forwarded   the guest's SYN-ACK -> our ACK,
//                 port; our SYN sent to     kEstablished; RST: the host
//                 the guest                 client sees a reset
//   kEstablished  data both ways            ACKs, data at rcv_nxt, FIN, RST
//
//   in kEstablished    guest_fin: the host socket was shut for writing;
//                      later guest data is only acknowledged again.
//                      host_eof: the host peer finished; fin_seq is where
//                      our FIN goes, fin_sent once it is in flight,
//                      fin_acked once the guest acknowledged it.
//                      guest_fin && fin_acked: the flow ends (no TIME-WAIT:
//                      the guest keeps that state, tapir needs none).
enum class TcpFlows::State : uint8_t { kFree, kConnecting, kSynReceived, kSynSent, kEstablished };

struct TcpFlows::Flow {
  TcpFlowKey key;
  wire::MacAddr mac;
  State state = State::kFree;
  uint32_t generation = 0;
  size_t hash = 0;
  int fd = -1;
  loop::WatchHandle watch;
  unsigned events = 0;
  // Towards the guest (our sequence space).
  uint32_t iss = 0;
  uint32_t snd_una = 0;  // oldest byte the guest has not acknowledged
  uint32_t snd_nxt = 0;  // next byte to send
  uint32_t snd_max = 0;  // highest snd_nxt so far (ACKs up to it are valid)
  uint32_t snd_wnd = 0;  // the guest's window, in bytes
  uint32_t fin_seq = 0;  // valid with host_eof
  uint16_t mss = 536;    // segment size towards the guest
  uint8_t snd_wscale = 0;  // the guest's shift
  uint8_t rcv_wscale = 0;  // ours
  // From the guest.
  uint32_t irs = 0;
  uint32_t rcv_nxt = 0;   // next byte expected = everything the host took
  size_t room = 0;        // host socket's free send space (estimate)
  size_t sndbuf = 0;      // its send buffer
  size_t adv_room = 0;    // the window last advertised, in bytes
  uint32_t acked = 0;     // the rcv_nxt our last segment acknowledged
  // Flags.
  bool guest_fin = false;
  bool host_eof = false;
  bool fin_sent = false;
  bool fin_acked = false;
  bool peek_offset = true;  // SO_PEEK_OFF works on this socket
  bool send_blocked = false;
  bool ack_due = false;
  bool tx_waiting = false;
  uint8_t dupacks = 0;
  uint8_t retries = 0;
  uint8_t probes = 0;  // zero-window probes since the window was last open
  Duration rto = kMinRto;
  MonoTime last_activity{};

  uint32_t in_flight() const { return snd_nxt - snd_una; }
};

struct TcpFlows::Seg {
  TcpFlowKey key;
  wire::MacAddr mac;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  wire::ConstBytes options;
  wire::ConstBytes payload;
  bool has(uint8_t f) const { return (flags & f) != 0; }
};

namespace {

namespace tf = wire::tcp_flag;

constexpr uint8_t kOurWindowScale = 7;  // up to 8 MiB of window
constexpr uint64_t kCookieGenShift = 32;
constexpr Duration kSynRto = Duration::seconds(1);

bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
bool seq_gt(uint32_t a, uint32_t b) { return seq_lt(b, a); }
bool seq_ge(uint32_t a, uint32_t b) { return seq_le(b, a); }

// A frame from the destination the guest used to the guest, with the
// flow's ports; the caller sets the rest of the TCP header.
wire::TcpFrameRepr frame_to_guest(const TcpFlowKey& key, const wire::MacAddr& guest_mac,
                                  const wire::MacAddr& gw_mac) {
  wire::TcpFrameRepr fr;
  fr.src_mac = gw_mac;
  fr.dst_mac = guest_mac;
  fr.src = key.dst;
  fr.dst = key.guest;
  fr.tcp.src_port = key.dst_port;
  fr.tcp.dst_port = key.guest_port;
  return fr;
}

// Sends a frame built in the buffer from the last acquire(): with a vnet
// header the checksum is left partial and a payload larger than the MSS
// becomes one GSO frame; without, it is complete.
void send_frame(const wire::TcpFrameRepr& fr, wire::MutBytes out, loop::FrameSink& tx) {
  wire::VirtioNetHdrRepr vnet;
  const size_t len = fr.emit(out, wire::ChecksumCaps::for_tap(tx.has_vnet_hdr()), vnet);
  TAPIR_CHECK(len != 0);  // tapir's own options always fit
  tx.send(len, vnet);
}

// Guest-facing segment size: what the guest asked for, within our MTU.
uint16_t clamp_mss(std::optional<uint16_t> asked, bool v6, uint32_t mtu) {
  const uint32_t ours = mtu - (v6 ? 60 : 40);
  const uint32_t m = std::min<uint32_t>(asked.value_or(v6 ? 1220 : 536), ours);
  return static_cast<uint16_t>(std::max<uint32_t>(m, 64));
}

// The NAT decisions for either family (flows/nat.hpp).
std::optional<Martian> martian_dst(const wire::AddressPlan& plan, const wire::IpAddr& dst) {
  return dst.v6 ? martian6(dst.as_v6()) : martian4(plan, dst.as_v4());
}

MapResult map_dst(const NatConfig& nat, const wire::IpAddr& dst, uint16_t port, sockaddr_storage& to,
                  socklen_t& to_len, Martian& why) {
  return dst.v6 ? map_destination6(nat, dst.as_v6(), port, to, to_len, why)
                : map_destination4(nat, dst.as_v4(), port, to, to_len, why);
}

}  // namespace

// --- table -----------------------------------------------------------------

TcpFlows::TcpFlows(TcpConfig cfg, TcpHost& host)
    : cfg_(std::move(cfg)),
      host_(host),
      hasher_(cfg_.fixed_secret != 0 ? FlowHasher(cfg_.fixed_secret) : FlowHasher()),
      isn_hasher_(cfg_.fixed_secret != 0 ? FlowHasher(~cfg_.fixed_secret) : FlowHasher()),
      flows_(std::max<size_t>(cfg_.max_flows, 1)),
      timers_(flows_.size(), Duration::millis(10)) {
  size_t cap = 16;
  while (cap < 2 * flows_.size()) cap <<= 1;
  index_.assign(cap, 0);
  index_mask_ = cap - 1;
  free_.reserve(flows_.size());
  for (size_t i = flows_.size(); i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
  dirty_.reserve(256);
  tx_wait_.reserve(256);
}

TcpFlows::~TcpFlows() { close_all(); }

void TcpFlows::close_all() {
  for (Flow& f : flows_) {
    if (f.state == State::kFree) continue;
    if (f.fd >= 0) host_.close(f.fd, false);
    f.fd = -1;
    f.state = State::kFree;
  }
  used_ = 0;
}

size_t TcpFlows::hash(const TcpFlowKey& k) const {
  return hasher_({FlowHasher::word(k.guest.bytes, 0), FlowHasher::word(k.guest.bytes, 1),
                  FlowHasher::word(k.dst.bytes, 0), FlowHasher::word(k.dst.bytes, 1),
                  (uint64_t{k.guest_port} << 32) | (uint64_t{k.dst_port} << 16) | (k.v6() ? 1u : 0u)});
}

// RFC 6528: a 4 µs clock plus a keyed hash of the connection's 4-tuple.
uint32_t TcpFlows::initial_sequence(const TcpFlowKey& k, MonoTime now) const {
  const uint64_t f = isn_hasher_({FlowHasher::word(k.guest.bytes, 0), FlowHasher::word(k.guest.bytes, 1),
                                  FlowHasher::word(k.dst.bytes, 0), FlowHasher::word(k.dst.bytes, 1),
                                  (uint64_t{k.guest_port} << 16) | k.dst_port});
  return static_cast<uint32_t>(now.ns / 4000) + static_cast<uint32_t>(f);
}

TcpFlows::Flow* TcpFlows::find(const TcpFlowKey& key, size_t h) {
  for (size_t i = h & index_mask_;; i = (i + 1) & index_mask_) {
    const uint32_t e = index_[i];
    if (e == 0) return nullptr;
    Flow& f = flows_[e - 1];
    if (f.hash == h && f.key == key) return &f;
  }
}

TcpFlows::Flow* TcpFlows::allocate(const TcpFlowKey& key, size_t h, MonoTime now) {
  if (free_.empty()) return nullptr;
  const uint32_t slot = free_.back();
  free_.pop_back();
  Flow& f = flows_[slot];
  const uint32_t gen = f.generation + 1;
  f = Flow{};
  f.generation = gen;
  f.key = key;
  f.hash = h;
  f.last_activity = now;
  size_t i = h & index_mask_;
  while (index_[i] != 0) i = (i + 1) & index_mask_;
  index_[i] = slot + 1;
  ++used_;
  return &f;
}

// Linear probing with backward-shift deletion: no tombstones, so lookups
// stay short however many flows come and go.
void TcpFlows::index_erase(uint32_t slot) {
  size_t i = flows_[slot].hash & index_mask_;
  while (index_[i] != slot + 1) i = (i + 1) & index_mask_;
  size_t j = i;
  while (true) {
    j = (j + 1) & index_mask_;
    if (index_[j] == 0) break;
    const size_t home = flows_[index_[j] - 1].hash & index_mask_;
    // Move j back to i unless its home lies cyclically in (i, j].
    const bool stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = 0;
}

void TcpFlows::release(Flow& f, bool reset_host) {
  const uint32_t slot = static_cast<uint32_t>(&f - flows_.data());
  if (watcher_ != nullptr) watcher_->unwatch(f.watch);
  if (f.fd >= 0) host_.close(f.fd, reset_host);
  f.fd = -1;
  timers_.cancel(slot);
  index_erase(slot);
  f.state = State::kFree;
  ++f.generation;
  free_.push_back(slot);
  --used_;
  ++stats_.closed;
}

void TcpFlows::set_events(Flow& f, unsigned events) {
  if (f.events == events) return;
  f.events = events;
  if (watcher_ != nullptr) watcher_->set_events(f.watch, events);
}

void TcpFlows::arm(Flow& f, MonoTime at) { timers_.arm(static_cast<uint32_t>(&f - flows_.data()), at); }

// --- frames ----------------------------------------------------------------

void TcpFlows::refresh_window(Flow& f) {
  const TcpHost::SendRoom r = host_.send_room(f.fd);
  f.room = r.room;
  f.sndbuf = r.buffer;
}

uint32_t TcpFlows::advertised_window(const Flow& f) const {
  const size_t limit = size_t{0xffff} << f.rcv_wscale;
  return static_cast<uint32_t>(std::min(f.room, limit) >> f.rcv_wscale);
}

bool TcpFlows::send_control(Flow& f, uint8_t flags, uint32_t seq, loop::FrameSink& tx, bool syn_options) {
  wire::MutBytes out = tx.acquire();
  if (out.empty()) {
    ++stats_.tx_full;
    return false;
  }
  wire::TcpFrameRepr fr = frame_to_guest(f.key, f.mac, cfg_.nat.plan.gateway_mac);
  wire::TcpRepr& t = fr.tcp;
  t.seq = seq;
  t.ack = (flags & tf::kAck) != 0 ? f.rcv_nxt : 0;
  t.flags = flags;
  if ((flags & tf::kSyn) != 0) {
    // Window fields in SYNs are never scaled.
    t.window = static_cast<uint16_t>(std::min<size_t>(f.room, 0xffff));
    if (syn_options) {
      t.options.mss = static_cast<uint16_t>(cfg_.nat.plan.mtu - (f.key.v6() ? 60 : 40));
      if (f.rcv_wscale != 0) t.options.window_scale = f.rcv_wscale;
    }
  } else {
    t.window = static_cast<uint16_t>(advertised_window(f));
  }
  send_frame(fr, out, tx);
  if ((flags & tf::kAck) != 0) {
    f.ack_due = false;
    f.acked = f.rcv_nxt;
    f.adv_room = (flags & tf::kSyn) != 0 ? t.window : size_t{t.window} << f.rcv_wscale;
  }
  if ((flags & tf::kRst) != 0) ++stats_.resets_to_guest;
  return true;
}

void TcpFlows::send_reset_for(const Seg& seg, loop::FrameSink& tx) {
  if (seg.has(tf::kRst)) return;
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  wire::TcpFrameRepr fr = frame_to_guest(seg.key, seg.mac, cfg_.nat.plan.gateway_mac);
  if (seg.has(tf::kAck)) {
    fr.tcp.seq = seg.ack;
    fr.tcp.flags = tf::kRst;
  } else {
    fr.tcp.seq = 0;
    fr.tcp.ack = seg.seq + static_cast<uint32_t>(seg.payload.size()) + (seg.has(tf::kSyn) ? 1 : 0) +
                 (seg.has(tf::kFin) ? 1 : 0);
    fr.tcp.flags = tf::kRst | tf::kAck;
  }
  send_frame(fr, out, tx);
  ++stats_.resets_to_guest;
}

void TcpFlows::send_late_fin_ack(const Seg& seg, loop::FrameSink& tx) {
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  wire::TcpFrameRepr fr = frame_to_guest(seg.key, seg.mac, cfg_.nat.plan.gateway_mac);
  fr.tcp.seq = seg.ack;
  fr.tcp.ack = seg.seq + 1;
  fr.tcp.flags = tf::kAck;
  send_frame(fr, out, tx);
}

// ICMP unreachable for a connection attempt, quoting a SYN like the guest's.
void TcpFlows::send_icmp_unreachable(const Flow& f, bool host, loop::FrameSink& tx) {
  wire::TcpRepr quoted;
  quoted.src_port = f.key.guest_port;
  quoted.dst_port = f.key.dst_port;
  quoted.seq = f.irs;
  quoted.flags = tf::kSyn;
  std::array<std::byte, wire::kTcpHeaderLen> syn{};
  const bool wrote = quoted.emit(wire::MutBytes(syn));
  TAPIR_CHECK(wrote);
  wire::MutBytes out = tx.acquire();
  if (out.empty()) return;
  const uint8_t type = f.key.v6() ? wire::icmp6_type::kDestUnreachable : wire::icmp4_type::kDestUnreachable;
  const uint8_t code = f.key.v6() ? (host ? wire::icmp6_unreach::kAddress : wire::icmp6_unreach::kNoRoute)
                                : (host ? wire::icmp4_unreach::kHost : wire::icmp4_unreach::kNet);
  const size_t len = build_icmp_error_for_flow(out, cfg_.nat.plan, f.mac, f.key.v6(), f.key.guest.bytes, f.key.dst.bytes,
                                               wire::ipproto::kTcp, syn, type, code);
  if (len == 0) return tx.cancel();
  tx.send(len);
  ++stats_.unreachable;
}

// A window too small for the guest to send into must grow again without
// waiting for the guest: watch the host socket drain. Below an eighth of
// the buffer the kernel does not call the socket writable, so arming the
// poll now marks it as waited for (SOCK_NOSPACE), and the wakeup comes
// when it drains; the kernel also grows a send buffer only for a writer it
// has seen wait.
void TcpFlows::watch_room(Flow& f) {
  if (f.room < f.sndbuf / 8) set_events(f, f.events | POLLOUT);
}

void TcpFlows::want_ack(Flow& f) {
  if (f.ack_due) return;
  f.ack_due = true;
  dirty_.push_back(static_cast<uint32_t>(&f - flows_.data()));
}

// --- from the guest --------------------------------------------------------

namespace {

// The parts of a guest segment that do not depend on the IP version.
template <class Seg>
void fill_segment(Seg& s, const wire::EthernetView& eth, const wire::TcpView& tcp) {
  s.key.guest_port = tcp.source_port();
  s.key.dst_port = tcp.destination_port();
  s.mac = eth.source();
  s.seq = tcp.sequence_number();
  s.ack = tcp.acknowledgment_number();
  s.flags = tcp.flags();
  s.window = tcp.window();
  s.options = tcp.options();
  s.payload = tcp.payload();
}

}  // namespace

void TcpFlows::on_guest4(const wire::EthernetView& eth, const wire::Ipv4View& ip, const wire::TcpView& tcp,
                         const tap::FrameMeta& meta, MonoTime now, loop::FrameSink& tx) {
  const bool csum_ok = meta.needs_csum || tcp.checksum_ok(ip.source(), ip.destination());
  on_guest(eth, wire::IpAddr::from(ip.source()), wire::IpAddr::from(ip.destination()), tcp, csum_ok, now, tx);
}

void TcpFlows::on_guest6(const wire::EthernetView& eth, const wire::Ipv6View& ip, const wire::TcpView& tcp,
                         const tap::FrameMeta& meta, MonoTime now, loop::FrameSink& tx) {
  const bool csum_ok = meta.needs_csum || tcp.checksum_ok(ip.source(), ip.destination());
  on_guest(eth, wire::IpAddr::from(ip.source()), wire::IpAddr::from(ip.destination()), tcp, csum_ok, now, tx);
}

// Either family, once the checksum is known: `csum_ok` is true when it was
// verified, or left to us by the guest's kernel (which vouches for the data).
void TcpFlows::on_guest(const wire::EthernetView& eth, const wire::IpAddr& src, const wire::IpAddr& dst,
                        const wire::TcpView& tcp, bool csum_ok, MonoTime now, loop::FrameSink& tx) {
  if (!csum_ok) {
    ++stats_.bad_checksum;
    return;
  }
  Seg s;
  s.key.guest = src;
  s.key.dst = dst;
  fill_segment(s, eth, tcp);
  on_segment(s, now, tx);
}

void TcpFlows::on_segment(const Seg& s, MonoTime now, loop::FrameSink& tx) {
  ++stats_.segments_in;
  guest_mac_ = s.mac;
  have_guest_mac_ = true;
  Flow* fp = find(s.key, hash(s.key));
  if (fp == nullptr) {
    if (s.has(tf::kSyn) && !s.has(tf::kAck) && !s.has(tf::kRst) && !s.has(tf::kFin)) {
      return on_new_syn(s, now, tx);
    }
    // No reply from a multicast or broadcast source (RFC 1122 4.2.3.10);
    // other martians get the closed port's reset below, like any stranger.
    if (const auto martian = martian_dst(cfg_.nat.plan, s.key.dst)) {
      stats_.martians.count(*martian);
      if (!martian_answered(*martian)) return;
    }
    if (s.has(tf::kFin) && s.has(tf::kAck) && !s.has(tf::kSyn) && !s.has(tf::kRst) && s.payload.empty()) {
      // A bare FIN repeated after the flow ended: our ACK of it was lost
      // (a full receive queue in the guest drops frames). Acknowledge it,
      // as TIME-WAIT would, rather than reset a connection that closed well.
      ++stats_.late_fins;
      return send_late_fin_ack(s, tx);
    }
    if (!s.has(tf::kRst)) {
      ++stats_.no_flow;
      send_reset_for(s, tx);
    }
    return;
  }
  Flow& f = *fp;
  f.last_activity = now;
  if (s.has(tf::kRst)) {
    bool acceptable;
    if (f.state == State::kSynSent) {
      acceptable = s.has(tf::kAck) && s.ack == f.iss + 1;
    } else if (f.state == State::kConnecting) {
      acceptable = s.seq == f.rcv_nxt;
    } else {
      const uint32_t wnd = std::max<uint32_t>(static_cast<uint32_t>(f.adv_room), 1);
      acceptable = seq_ge(s.seq, f.rcv_nxt) && seq_lt(s.seq, f.rcv_nxt + wnd);
    }
    if (!acceptable) return static_cast<void>(++stats_.bad_segment);
    ++stats_.resets_from_guest;
    return release(f, true);
  }
  switch (f.state) {
    case State::kFree: return;
    case State::kConnecting: return;  // the SYN-ACK waits for the host
    case State::kSynSent: return on_syn_sent(f, s, now, tx);
    case State::kSynReceived:
      if (s.has(tf::kSyn)) {
        if (!s.has(tf::kAck) && s.seq == f.irs) send_control(f, tf::kSyn | tf::kAck, f.iss, tx, true);
        return;
      }
      if (!s.has(tf::kAck)) return static_cast<void>(++stats_.bad_segment);
      if (s.ack != f.iss + 1) {
        ++stats_.bad_segment;
        return send_reset_for(s, tx);
      }
      f.state = State::kEstablished;
      f.snd_una = f.iss + 1;
      f.snd_wnd = uint32_t{s.window} << f.snd_wscale;
      f.retries = 0;
      f.rto = kMinRto;
      timers_.cancel(static_cast<uint32_t>(&f - flows_.data()));
      break;
    case State::kEstablished:
      if (s.has(tf::kSyn)) {
        // A repeated SYN (our SYN-ACK was slow); anything else is invalid.
        if (s.seq != f.irs) ++stats_.bad_segment;
        return want_ack(f);
      }
      if (!s.has(tf::kAck)) return static_cast<void>(++stats_.bad_segment);
      break;
  }
  const uint32_t gen = f.generation;
  on_ack(f, s, now, tx);
  if (f.generation != gen || f.state == State::kFree) return;
  on_data(f, s, now, tx);
  if (f.generation != gen || f.state == State::kFree) return;
  maybe_finish(f, tx);
}

void TcpFlows::on_new_syn(const Seg& s, MonoTime now, loop::FrameSink& tx) {
  sockaddr_storage to{};
  socklen_t to_len = 0;
  Martian why{};
  const MapResult m = map_dst(cfg_.nat, s.key.dst, s.key.dst_port, to, to_len, why);
  if (m == MapResult::kMartian) {
    // No host socket, ever: answered as a closed port (RFC 9293 3.10.7.1),
    // except for multicast and broadcast (RFC 1122 4.2.3.10: discarded).
    stats_.martians.count(why);
    if (martian_answered(why)) send_reset_for(s, tx);
    return;
  }
  const bool dns = is_dns_stream(m, s.key.dst_port);
  if (m == MapResult::kLocal && !dns) return send_reset_for(s, tx);  // nothing listens there
  if (dns && dns_ == nullptr) return;  // --disable-dns: nothing answers at all
  if (used_ >= cfg_.max_flows) {
    ++stats_.table_full;
    static RateLimit rl(1, Duration::seconds(10));
    TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "TCP flow table full (%zu flows, --max-flows): new connections refused",
                 used_);
    return send_reset_for(s, tx);
  }
  const size_t h = hash(s.key);
  Flow* fp = allocate(s.key, h, now);
  if (fp == nullptr) return send_reset_for(s, tx);
  Flow& f = *fp;
  f.mac = s.mac;
  f.irs = s.seq;
  f.rcv_nxt = s.seq + 1;
  wire::TcpOptions opts;
  if (auto o = wire::TcpOptions::parse(s.options)) opts = *o;
  f.mss = clamp_mss(opts.mss, s.key.v6(), cfg_.nat.plan.mtu);
  if (opts.window_scale) {
    f.snd_wscale = std::min<uint8_t>(*opts.window_scale, wire::kTcpMaxWindowScale);
    f.rcv_wscale = kOurWindowScale;
  }
  f.snd_wnd = s.window;
  f.iss = initial_sequence(s.key, now);
  f.snd_una = f.snd_nxt = f.snd_max = f.iss;
  f.state = State::kConnecting;
  ++stats_.created;

  if (m == MapResult::kUnreachable) {
    send_icmp_unreachable(f, false, tx);
    return release(f, false);
  }
  bool in_progress = false;
  int fd;
  if (dns) {
    fd = open_dns_stream(now);
  } else {
    fd = host_.connect(to, to_len, cfg_.outbound, in_progress);
  }
  if (fd < 0) {
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
      ++stats_.socket_errors;
      static RateLimit rl(5, Duration::seconds(10));
      TAPIR_LOG_RL(LogLevel::kWarn, rl, now, "TCP: cannot open a host socket: %s", strerrordesc_np(-fd));
    }
    return on_connect_error(f, -fd, tx);
  }
  f.fd = fd;
  f.events = in_progress ? POLLOUT : (POLLIN | POLLRDHUP);
  if (watcher_ != nullptr) {
    f.watch = watcher_->watch(fd, f.events, *this,
                              (uint64_t{f.generation} << kCookieGenShift) | static_cast<uint64_t>(&f - flows_.data()));
  }
  if (!f.watch.valid()) {
    ++stats_.socket_errors;
    send_reset_for(s, tx);
    return release(f, true);
  }
  if (!in_progress) on_connected(f, now, tx);
}

// --- DNS over TCP ----------------------------------------------------------
//
// The one TCP destination tapir answers itself: a guest connection to the
// DNS address on port 53 (DNS over TCP, RFC 7766) is a flow like any other,
// but its host socket is our end of a local socket pair whose other end the
// DNS service (dns/io) adopts. Everything TCP knows of this case is here.

bool TcpFlows::is_dns_stream(MapResult m, uint16_t dst_port) { return m == MapResult::kLocal && dst_port == 53; }

// Our end of a new stream to the DNS service, or -errno (-ECONNREFUSED: the
// service would not take it, at its cap).
int TcpFlows::open_dns_stream(MonoTime now) {
  int ours = -1;
  int theirs = -1;
  if (int r = host_.local_pair(ours, theirs); r < 0) return r;
  if (!dns_->adopt_stream(Fd(theirs), now)) {
    host_.close(ours, true);
    return -ECONNREFUSED;
  }
  return ours;
}

void TcpFlows::on_connected(Flow& f, MonoTime now, loop::FrameSink& tx) {
  f.state = State::kSynReceived;
  set_events(f, POLLIN | POLLRDHUP);
  f.peek_offset = host_.set_peek_offset(f.fd, 0);
  refresh_window(f);
  f.snd_nxt = f.snd_max = f.iss + 1;
  send_control(f, tf::kSyn | tf::kAck, f.iss, tx, true);
  arm(f, now + kSynRto);
}

void TcpFlows::on_connect_error(Flow& f, int err, loop::FrameSink& tx) {
  if (err == ENETUNREACH || err == EHOSTUNREACH || err == ETIMEDOUT || err == EHOSTDOWN) {
    send_icmp_unreachable(f, err != ENETUNREACH, tx);
  } else {
    if (err == ECONNREFUSED) ++stats_.refused;
    // RST|ACK for the guest's SYN (RFC 9293 3.10.7.1).
    f.snd_nxt = 0;
    send_control(f, tf::kRst | tf::kAck, 0, tx);
  }
  release(f, false);
}

void TcpFlows::on_syn_sent(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx) {
  if (s.has(tf::kAck) && s.ack != f.iss + 1) return send_reset_for(s, tx);
  if (!s.has(tf::kSyn) || !s.has(tf::kAck)) return static_cast<void>(++stats_.bad_segment);
  f.irs = s.seq;
  f.rcv_nxt = s.seq + 1;
  wire::TcpOptions opts;
  if (auto o = wire::TcpOptions::parse(s.options)) opts = *o;
  f.mss = clamp_mss(opts.mss, f.key.v6(), cfg_.nat.plan.mtu);
  if (opts.window_scale) {
    f.snd_wscale = std::min<uint8_t>(*opts.window_scale, wire::kTcpMaxWindowScale);
  } else {
    f.snd_wscale = f.rcv_wscale = 0;
  }
  f.snd_wnd = s.window;
  f.snd_una = f.iss + 1;
  f.state = State::kEstablished;
  f.retries = 0;
  f.rto = kMinRto;
  timers_.cancel(static_cast<uint32_t>(&f - flows_.data()));
  refresh_window(f);
  send_control(f, tf::kAck, f.snd_nxt, tx);
  push(f, now, tx);
}

// The guest's acknowledgement and window.
void TcpFlows::on_ack(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx) {
  const uint32_t ack = s.ack;
  if (seq_gt(ack, f.snd_max)) {
    ++stats_.bad_segment;  // acknowledges what we never sent
    return want_ack(f);
  }
  const uint32_t wnd = uint32_t{s.window} << f.snd_wscale;
  bool progress = false;
  if (seq_gt(ack, f.snd_una)) {
    const uint32_t data_end = (f.host_eof && seq_gt(ack, f.fin_seq)) ? f.fin_seq : ack;
    const uint32_t n = data_end - f.snd_una;
    // A consume stops short at the urgent mark: repeat until all n are
    // taken, or snd_una and the socket's queue would disagree from now on.
    for (uint32_t left = n; left > 0;) {
      const ssize_t r = host_.consume(f.fd, left);
      if (r <= 0 || static_cast<size_t>(r) > left)
        return host_error(f, r < 0 ? static_cast<int>(-r) : EIO, tx);
      left -= static_cast<uint32_t>(r);
    }
    if (f.host_eof && seq_gt(ack, f.fin_seq)) f.fin_acked = f.fin_sent = true;
    f.snd_una = ack;
    if (seq_lt(f.snd_nxt, ack)) f.snd_nxt = ack;  // acknowledges bytes sent before a rewind
    f.dupacks = 0;
    f.retries = 0;
    f.rto = kMinRto;
    progress = true;
  } else if (ack == f.snd_una && s.payload.empty() && !s.has(tf::kFin) && wnd == f.snd_wnd &&
             f.in_flight() != 0) {
    if (++f.dupacks == 3) {
      ++stats_.fast_retransmits;
      rewind(f);
    }
  }
  f.snd_wnd = wnd;
  if (wnd != 0) f.probes = 0;
  const uint32_t slot = static_cast<uint32_t>(&f - flows_.data());
  if (f.in_flight() != 0) {
    if (progress || !timers_.armed(slot)) arm(f, now + f.rto);
  } else if (f.guest_fin || f.fin_acked) {
    if (!timers_.armed(slot)) arm(f, f.last_activity + kClosingIdle);  // half-closed: idle limit
  } else {
    timers_.cancel(slot);
  }
  push(f, now, tx);
}

// The guest's data and FIN, into the host socket.
void TcpFlows::on_data(Flow& f, const Seg& s, MonoTime now, loop::FrameSink& tx) {
  (void)now;
  const size_t len = s.payload.size();
  const bool fin = s.has(tf::kFin);
  if (len == 0 && !fin) {
    // A segment below rcv_nxt is a window probe (or a keepalive): answer it
    // with our window (RFC 9293 3.10.7.4).
    if (seq_lt(s.seq, f.rcv_nxt)) want_ack(f);
    return;
  }
  if (f.guest_fin) return want_ack(f);  // a retransmission after the FIN
  if (seq_gt(s.seq, f.rcv_nxt)) {
    // A gap: something before it was not taken. A duplicate ACK at once
    // (not coalesced) lets the guest retransmit fast.
    ++stats_.out_of_order;
    send_control(f, tf::kAck, f.snd_nxt, tx);
    return;
  }
  const uint32_t skip = f.rcv_nxt - s.seq;
  if (skip > len || (skip == len && !fin)) return want_ack(f);  // all seen before
  wire::ConstBytes data = s.payload.subspan(skip);
  if (!data.empty()) {
    ssize_t n = host_.send(f.fd, data.data(), data.size());
    if (n == -EAGAIN) n = 0;
    if (n < 0) return host_error(f, static_cast<int>(-n), tx);
    f.rcv_nxt += static_cast<uint32_t>(n);
    stats_.bytes_to_host += static_cast<uint64_t>(n);
    f.room = f.room > static_cast<size_t>(n) ? f.room - static_cast<size_t>(n) : 0;
    if (static_cast<size_t>(n) < data.size()) {
      // The host socket is full: acknowledge what it took, and tell the
      // guest the new window when it drains (POLLOUT).
      ++stats_.partial_sends;
      f.send_blocked = true;
      set_events(f, f.events | POLLOUT);  // send() saw it full: a wakeup will come
      return want_ack(f);
    }
  }
  if (fin) {
    host_.shutdown_write(f.fd);
    f.guest_fin = true;
    f.rcv_nxt += 1;
    const uint32_t slot = static_cast<uint32_t>(&f - flows_.data());
    if (!timers_.armed(slot)) arm(f, now + kClosingIdle);
  }
  want_ack(f);
}

// Both FINs are acknowledged: the flow ends, but only after the guest has
// the ACK of its own FIN (and of any data just before it), which would
// otherwise still wait for the batch end, and be lost with the flow.
void TcpFlows::maybe_finish(Flow& f, loop::FrameSink& tx) {
  if (!f.guest_fin || !f.fin_acked) return;
  if (f.acked != f.rcv_nxt && !send_control(f, tf::kAck, f.snd_nxt, tx)) {
    want_ack(f);  // no transmit buffer: the batch end tries again
    return;
  }
  release(f, false);
}

// --- towards the guest -----------------------------------------------------

void TcpFlows::rewind(Flow& f) {
  f.snd_nxt = f.snd_una;
  if (!f.fin_acked) f.fin_sent = false;
  if (f.peek_offset) f.peek_offset = host_.set_peek_offset(f.fd, 0);
}

void TcpFlows::push(Flow& f, MonoTime now, loop::FrameSink& tx) {
  if (f.state != State::kEstablished || f.fin_sent) return;
  const bool v6 = f.key.v6();
  const bool vnet = tx.has_vnet_hdr();
  const size_t max_payload = vnet ? wire::TcpFrameRepr::max_payload(v6) : f.mss;
  const uint32_t slot = static_cast<uint32_t>(&f - flows_.data());
  while (!f.fin_sent) {
    if (f.host_eof && f.snd_nxt == f.fin_seq) {
      if (!send_control(f, tf::kFin | tf::kAck, f.snd_nxt, tx)) break;
      f.fin_sent = true;
      f.snd_nxt = f.fin_seq + 1;
      if (seq_gt(f.snd_nxt, f.snd_max)) f.snd_max = f.snd_nxt;
      if (!timers_.armed(slot)) arm(f, now + f.rto);
      break;
    }
    const uint32_t flight = f.in_flight();
    if (flight >= f.snd_wnd) {
      // Window full or zero: an ACK reopens it; a zero window is probed.
      if (f.snd_wnd == 0 && !timers_.armed(slot)) arm(f, now + f.rto);
      break;
    }
    size_t want = std::min<size_t>(f.snd_wnd - flight, max_payload);
    // Whole segments only, as a NIC would cut them: no runt at the end.
    if (want > f.mss) want -= want % f.mss;
    if (!f.peek_offset) {
      if (scratch_.empty()) scratch_.resize(size_t{4} << 20);
      if (flight >= scratch_.size()) break;
    }
    wire::MutBytes out = tx.acquire();
    if (out.empty()) {
      ++stats_.tx_full;
      if (!f.tx_waiting) {
        f.tx_waiting = true;
        tx_wait_.push_back(slot);
      }
      break;
    }
    wire::TcpFrameRepr fr = frame_to_guest(f.key, f.mac, cfg_.nat.plan.gateway_mac);
    std::byte* dst = out.data() + fr.payload_offset();
    // Without a peek offset the peek starts at the queue's head: what is in
    // flight goes to the scratch buffer first.
    const size_t skip = f.peek_offset ? 0 : flight;
    const ssize_t r = host_.peek(f.fd, scratch_.data(), skip, dst, want);
    if (r == -EAGAIN || r == -EWOULDBLOCK) {
      tx.cancel();
      break;
    }
    if (r < 0) {
      tx.cancel();
      return host_error(f, static_cast<int>(-r), tx);
    }
    if (r == 0) {
      // End of stream: only a read of an empty queue says 0. (Without a
      // peek offset, the queue still holds what is in flight at the end of
      // the stream too; the FIN waits until the guest acknowledged it.)
      tx.cancel();
      f.host_eof = true;
      f.fin_seq = f.snd_nxt;
      continue;  // the FIN goes out at the top of the loop
    }
    if (static_cast<size_t>(r) <= skip) {
      // Nothing beyond what was sent (or the urgent mark stopped the read
      // right there): would-block, never end of stream. The guest's ACK
      // brings the next push.
      tx.cancel();
      break;
    }
    const ssize_t n = r - static_cast<ssize_t>(skip);
    fr.tcp.seq = f.snd_nxt;
    fr.tcp.ack = f.rcv_nxt;
    fr.tcp.flags = tf::kAck | (static_cast<size_t>(n) < want ? tf::kPsh : 0);
    fr.tcp.window = static_cast<uint16_t>(advertised_window(f));
    fr.payload_len = static_cast<size_t>(n);
    fr.gso_size = f.mss;
    send_frame(fr, out, tx);
    f.ack_due = false;
    f.acked = f.rcv_nxt;
    f.adv_room = size_t{fr.tcp.window} << f.rcv_wscale;
    ++stats_.segments_out;
    stats_.bytes_to_guest += static_cast<uint64_t>(n);
    f.snd_nxt += static_cast<uint32_t>(n);
    if (seq_gt(f.snd_nxt, f.snd_max)) f.snd_max = f.snd_nxt;
    if (!timers_.armed(slot)) arm(f, now + f.rto);
    // Drained for now; POLLIN brings more. (A read cut short at the urgent
    // mark resumes when the guest acknowledges it.)
    if (static_cast<size_t>(n) < want) break;
  }
}

void TcpFlows::host_error(Flow& f, int err, loop::FrameSink& tx) {
  LOG_DEBUG("TCP: host connection error (%s): resetting the guest's connection", strerrordesc_np(err));
  send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
  release(f, false);
}

void TcpFlows::on_socket(uint64_t cookie, unsigned revents, MonoTime now, loop::FrameSink& tx) {
  const uint32_t slot = static_cast<uint32_t>(cookie & 0xffffffffu);
  if (slot >= flows_.size()) return;
  Flow& f = flows_[slot];
  if (f.state == State::kFree || f.generation != static_cast<uint32_t>(cookie >> kCookieGenShift)) return;
  if (f.state == State::kConnecting) {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) return;
    const int r = host_.connect_result(f.fd);
    if (r == 0) return on_connected(f, now, tx);
    return on_connect_error(f, -r, tx);
  }
  if ((revents & POLLERR) != 0) {
    const int r = host_.connect_result(f.fd);
    if (r != 0) return host_error(f, -r, tx);
  }
  if ((revents & POLLOUT) != 0) {
    // The host socket drained (the kernel calls it writable once at most
    // two thirds of its buffer are queued): tell the guest its window grew.
    set_events(f, f.events & ~static_cast<unsigned>(POLLOUT));
    refresh_window(f);
    f.send_blocked = false;
    if (f.state == State::kEstablished && f.room > f.adv_room && !send_control(f, tf::kAck, f.snd_nxt, tx)) {
      want_ack(f);
    }
  }
  if ((revents & (POLLIN | POLLRDHUP | POLLHUP)) != 0) push(f, now, tx);
}

void TcpFlows::on_batch_end(MonoTime now, loop::FrameSink& tx) {
  std::vector<uint32_t> due;
  due.swap(dirty_);
  for (uint32_t slot : due) {
    Flow& f = flows_[slot];
    if (f.state == State::kFree || !f.ack_due) continue;
    refresh_window(f);
    if (!send_control(f, tf::kAck, f.snd_nxt, tx)) {
      dirty_.push_back(slot);  // no transmit buffer: the next batch end (a write completed) tries again
      continue;
    }
    watch_room(f);
    maybe_finish(f, tx);
  }
  if (dirty_.empty()) {
    due.clear();
    dirty_.swap(due);  // keep the capacity
  }
  if (tx_wait_.empty() || tx.free_slots() == 0) return;
  std::vector<uint32_t> waiting;
  waiting.swap(tx_wait_);
  for (uint32_t slot : waiting) {
    Flow& f = flows_[slot];
    f.tx_waiting = false;
    if (f.state != State::kFree) push(f, now, tx);
  }
  if (tx_wait_.empty()) {
    waiting.clear();
    tx_wait_.swap(waiting);  // keep the capacity
  }
}

void TcpFlows::on_tick(MonoTime now, loop::FrameSink& tx) {
  timers_.expire(now, [&](uint32_t slot) { on_timer(slot, now, tx); });
}

void TcpFlows::on_timer(uint32_t slot, MonoTime now, loop::FrameSink& tx) {
  Flow& f = flows_[slot];
  switch (f.state) {
    case State::kFree:
    case State::kConnecting: return;
    case State::kSynReceived:
    case State::kSynSent:
      if (++f.retries > kMaxSynRetries) {
        ++stats_.timeouts;
        if (f.state == State::kSynReceived) send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
        return release(f, true);
      }
      send_control(f, f.state == State::kSynSent ? tf::kSyn : (tf::kSyn | tf::kAck), f.iss, tx, true);
      arm(f, now + Duration::seconds(int64_t{1} << std::min<int>(f.retries, 5)));
      return;
    case State::kEstablished: break;
  }
  if (f.in_flight() != 0) {
    if (++f.retries > kMaxRetries) {
      ++stats_.timeouts;
      LOG_DEBUG("TCP: the guest stopped acknowledging; resetting the connection");
      send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
      return release(f, true);
    }
    ++stats_.retransmits;
    rewind(f);
    f.rto = Duration::nanos(std::min(f.rto.ns * 2, kMaxRto.ns));
    arm(f, now + f.rto);
    return push(f, now, tx);
  }
  if (f.snd_wnd == 0 && !f.fin_acked) {
    // Zero-window probe: an ACK below snd_una makes the guest answer with
    // its current window. A window shut for kMaxWindowProbes probes ends
    // the flow, so a guest cannot pin host socket memory forever.
    if (++f.probes > kMaxWindowProbes) {
      ++stats_.timeouts;
      ++stats_.window_timeouts;
      LOG_DEBUG("TCP: the guest's window stayed shut; resetting the connection");
      send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
      return release(f, true);
    }
    ++stats_.window_probes;
    send_control(f, tf::kAck, f.snd_una - 1, tx);
    f.rto = Duration::nanos(std::min(f.rto.ns * 2, kMaxRto.ns));
    arm(f, now + f.rto);
    return;
  }
  if (f.guest_fin || f.fin_acked) {
    if (now - f.last_activity >= kClosingIdle) {
      ++stats_.timeouts;
      send_control(f, tf::kRst | tf::kAck, f.snd_nxt, tx);
      return release(f, true);
    }
    arm(f, f.last_activity + kClosingIdle);
  }
}

// --- port forwarding -------------------------------------------------------

bool TcpFlows::forward_tcp(Fd conn, const ForwardTarget& t, MonoTime now, loop::FrameSink& tx) {
  TcpFlowKey key;
  key.guest = wire::IpAddr{t.v6, t.guest};
  key.dst = wire::IpAddr{t.v6, t.peer};
  key.guest_port = t.guest_port;
  key.dst_port = t.peer_port;
  const size_t h = hash(key);
  if (!have_guest_mac_ || used_ >= cfg_.max_flows || find(key, h) != nullptr) {
    if (used_ >= cfg_.max_flows) ++stats_.table_full;
    host_.close(conn.release(), true);
    return false;
  }
  Flow* fp = allocate(key, h, now);
  if (fp == nullptr) {
    host_.close(conn.release(), true);
    return false;
  }
  Flow& f = *fp;
  f.mac = guest_mac_;
  f.fd = conn.release();
  f.state = State::kSynSent;
  f.mss = clamp_mss(std::nullopt, key.v6(), cfg_.nat.plan.mtu);
  f.rcv_wscale = kOurWindowScale;
  f.iss = initial_sequence(key, now);
  f.snd_una = f.iss;
  f.snd_nxt = f.snd_max = f.iss + 1;
  f.events = POLLIN | POLLRDHUP;
  if (watcher_ != nullptr) {
    f.watch = watcher_->watch(f.fd, f.events, *this, (uint64_t{f.generation} << kCookieGenShift) | static_cast<uint64_t>(&f - flows_.data()));
  }
  if (!f.watch.valid()) {
    ++stats_.socket_errors;
    release(f, true);
    return false;
  }
  f.peek_offset = host_.set_peek_offset(f.fd, 0);
  refresh_window(f);
  send_control(f, tf::kSyn, f.iss, tx, true);
  arm(f, now + kSynRto);
  ++stats_.forwarded;
  return true;
}

}  // namespace tapir::flows
