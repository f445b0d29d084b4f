#include "services/dhcp6_options.hpp"

#include <algorithm>
#include <cstring>

#include "services/guest_state.hpp"

namespace tapir::services {

using namespace tapir::wire;

namespace {

// One option header and its data inside `area` at `i`; kBadOption when
// either runs past the end.
struct Tlv {
  uint16_t code;
  ConstBytes data;
};

Expected<Tlv, ParseError> next_tlv(ConstBytes area, size_t i) {
  if (i + kDhcp6OptionHeaderLen > area.size()) return unexpected(ParseError::kBadOption);
  const uint16_t code = load_be16(area, i);
  const size_t len = load_be16(area, i + 2);
  if (i + kDhcp6OptionHeaderLen + len > area.size()) return unexpected(ParseError::kBadOption);
  return Tlv{code, area.subspan(i + kDhcp6OptionHeaderLen, len)};
}

// Options inside options (IAADDR's, status codes): only their framing is checked.
Expected<void, ParseError> check_framing(ConstBytes area) {
  for (size_t i = 0; i < area.size();) {
    auto t = next_tlv(area, i);
    if (!t) return unexpected(t.error());
    i += kDhcp6OptionHeaderLen + t->data.size();
  }
  return {};
}

Expected<void, ParseError> parse_ia_na(ConstBytes data, Dhcp6Message& m) {
  if (data.size() < dhcp6_opt::kIaNaFixedLen) return unexpected(ParseError::kBadOption);
  Dhcp6IaNa ia;
  ia.iaid = load_be32(data, 0);
  ia.t1 = load_be32(data, 4);
  ia.t2 = load_be32(data, 8);
  const ConstBytes opts = data.subspan(dhcp6_opt::kIaNaFixedLen);
  for (size_t i = 0; i < opts.size();) {
    auto t = next_tlv(opts, i);
    if (!t) return unexpected(t.error());
    if (t->code == dhcp6_opt::kIaAddr) {
      if (t->data.size() < dhcp6_opt::kIaAddrFixedLen) return unexpected(ParseError::kBadOption);
      if (auto r = check_framing(t->data.subspan(dhcp6_opt::kIaAddrFixedLen)); !r) {
        return unexpected(r.error());
      }
      const Dhcp6IaAddr a{Ipv6Addr::load(t->data, 0), load_be32(t->data, 16),
                          load_be32(t->data, 20)};
      if (ia.addr_count < kMaxIaAddrs) ia.addrs[ia.addr_count++] = a;
      if (m.all_addr_count < kMaxAllAddrs) m.all_addrs[m.all_addr_count++] = a.addr;
    }
    i += kDhcp6OptionHeaderLen + t->data.size();
  }
  if (!m.ia_na) m.ia_na = ia;
  ++m.ia_na_count;
  return {};
}

}  // namespace

bool Dhcp6Message::requested(uint16_t code) const {
  return std::find(oro.begin(), oro.begin() + static_cast<ptrdiff_t>(oro_len), code) !=
         oro.begin() + static_cast<ptrdiff_t>(oro_len);
}

Expected<Dhcp6Message, ParseError> Dhcp6Message::parse(ConstBytes message) {
  if (message.size() < kDhcp6HeaderLen) return unexpected(ParseError::kTruncated);
  Dhcp6Message m;
  m.msg_type = load_u8(message, 0);
  if (m.msg_type == dhcp6_msg::kRelayForw || m.msg_type == dhcp6_msg::kRelayRepl) {
    return unexpected(ParseError::kUnsupported);
  }
  m.transaction_id = load_be32(message, 0) & 0x00ffffffu;
  const ConstBytes opts = message.subspan(kDhcp6HeaderLen);
  for (size_t i = 0; i < opts.size();) {
    auto t = next_tlv(opts, i);
    if (!t) return unexpected(t.error());
    const ConstBytes d = t->data;
    switch (t->code) {
      case dhcp6_opt::kClientId:
      case dhcp6_opt::kServerId:
        if (d.empty() || d.size() > kMaxDuidLen) return unexpected(ParseError::kBadOption);
        (t->code == dhcp6_opt::kClientId ? m.client_id : m.server_id) = d;
        break;
      case dhcp6_opt::kOro:
        if (d.size() % 2 != 0) return unexpected(ParseError::kBadOption);
        for (size_t k = 0; k + 1 < d.size() && m.oro_len < kMaxOro; k += 2) {
          m.oro[m.oro_len++] = load_be16(d, k);
        }
        break;
      case dhcp6_opt::kElapsedTime:
        if (d.size() != 2) return unexpected(ParseError::kBadOption);
        break;
      case dhcp6_opt::kRapidCommit:
        if (!d.empty()) return unexpected(ParseError::kBadOption);
        m.rapid_commit = true;
        break;
      case dhcp6_opt::kIaNa:
        if (auto r = parse_ia_na(d, m); !r) return unexpected(r.error());
        break;
      default: break;
    }
    i += kDhcp6OptionHeaderLen + d.size();
  }
  return m;
}

bool Dhcp6OptionWriter::put(uint16_t code, ConstBytes data) {
  if (data.size() > 0xffff || kDhcp6OptionHeaderLen + data.size() > remaining()) return false;
  store_be16(area_, len_, code);
  store_be16(area_, len_ + 2, static_cast<uint16_t>(data.size()));
  store_bytes(area_, len_ + kDhcp6OptionHeaderLen, data);
  len_ += kDhcp6OptionHeaderLen + data.size();
  return true;
}

bool Dhcp6OptionWriter::put_u8(uint16_t code, uint8_t v) {
  const std::array<std::byte, 1> b{std::byte{v}};
  return put(code, b);
}

bool Dhcp6OptionWriter::put_u32(uint16_t code, uint32_t v) {
  std::array<std::byte, 4> b{};
  store_be32(b, 0, v);
  return put(code, b);
}

bool Dhcp6OptionWriter::put_status(uint16_t status, const char* message) {
  const size_t n = message == nullptr ? 0 : std::strlen(message);
  auto mark = begin(dhcp6_opt::kStatusCode, 2 + n);
  if (!mark) return false;
  MutBytes d = data_at(*mark, 2 + n);
  store_be16(d, 0, status);
  for (size_t i = 0; i < n; ++i) store_u8(d, 2 + i, static_cast<uint8_t>(message[i]));
  end(*mark);
  return true;
}

std::optional<size_t> Dhcp6OptionWriter::begin(uint16_t code, size_t fixed) {
  if (kDhcp6OptionHeaderLen + fixed > remaining()) return std::nullopt;
  const size_t mark = len_;
  store_be16(area_, mark, code);
  store_be16(area_, mark + 2, 0);
  MutBytes d = area_.subspan(mark + kDhcp6OptionHeaderLen, fixed);
  std::fill(d.begin(), d.end(), std::byte{0});
  len_ += kDhcp6OptionHeaderLen + fixed;
  return mark;
}

void Dhcp6OptionWriter::end(size_t mark) {
  TAPIR_CHECK(mark + kDhcp6OptionHeaderLen <= len_ && len_ - mark - kDhcp6OptionHeaderLen <= 0xffff);
  store_be16(area_, mark + 2, static_cast<uint16_t>(len_ - mark - kDhcp6OptionHeaderLen));
}

}  // namespace tapir::services
