#include "services/dhcp4_options.hpp"

#include <algorithm>

namespace tapir::services {

using namespace tapir::wire;

namespace {

constexpr uint8_t kHardwareEthernet = 1;
constexpr uint8_t kMacLen = 6;

// The only size each option tapir reads may have (0: any).
constexpr size_t fixed_size(uint8_t code) {
  switch (code) {
    case dhcp4_opt::kMessageType: return 1;
    case dhcp4_opt::kOverload: return 1;
    case dhcp4_opt::kRequestedIp: return 4;
    case dhcp4_opt::kServerId: return 4;
    case dhcp4_opt::kMaxMessageSize: return 2;
    default: return 0;
  }
}

}  // namespace

bool Dhcp4Options::requested(uint8_t code) const {
  for (size_t i = 0; i < params_len; ++i) {
    if (params[i] == code) return true;
  }
  return false;
}

Expected<void, ParseError> Dhcp4Options::walk(ConstBytes area) {
  size_t i = 0;
  while (i < area.size()) {
    const uint8_t code = load_u8(area, i);
    if (code == dhcp4_opt::kPad) {
      ++i;
      continue;
    }
    if (code == dhcp4_opt::kEnd) break;
    if (i + 1 >= area.size()) return unexpected(ParseError::kBadOption);  // no length byte
    const size_t len = load_u8(area, i + 1);
    if (i + 2 + len > area.size()) return unexpected(ParseError::kBadOption);
    const ConstBytes data = area.subspan(i + 2, len);
    const size_t want = fixed_size(code);
    if (want != 0 && len != want) return unexpected(ParseError::kBadOption);
    switch (code) {
      case dhcp4_opt::kMessageType: message_type = load_u8(data, 0); break;
      case dhcp4_opt::kOverload: overload = load_u8(data, 0); break;
      case dhcp4_opt::kRequestedIp: requested_ip = Ipv4Addr::load(data, 0); break;
      case dhcp4_opt::kServerId: server_id = Ipv4Addr::load(data, 0); break;
      case dhcp4_opt::kMaxMessageSize: max_message_size = load_be16(data, 0); break;
      case dhcp4_opt::kRapidCommit: rapid_commit = true; break;
      case dhcp4_opt::kClientId: client_id = data; break;
      case dhcp4_opt::kHostname: hostname = data; break;
      case dhcp4_opt::kParamRequestList:
        for (size_t k = 0; k < len && params_len < params.size(); ++k) {
          params[params_len++] = load_u8(data, k);
        }
        break;
      default: break;  // not needed by a server; skipped
    }
    i += 2 + len;
  }
  return {};
}

Expected<Dhcp4Options, ParseError> Dhcp4Options::parse(ConstBytes area) {
  Dhcp4Options o;
  if (auto r = o.walk(area); !r) return unexpected(r.error());
  return o;
}

Expected<Dhcp4View, ParseError> Dhcp4View::parse(ConstBytes message) {
  if (message.size() < kDhcp4OptionsOffset) return unexpected(ParseError::kTruncated);
  if (load_be32(message, kCookieOffset) != kDhcp4MagicCookie) {
    return unexpected(ParseError::kBadMagic);
  }
  if (load_u8(message, kHtypeOffset) != kHardwareEthernet ||
      load_u8(message, kHlenOffset) != kMacLen) {
    return unexpected(ParseError::kUnsupported);
  }
  Dhcp4Options o;
  if (auto r = o.walk(message.subspan(kDhcp4OptionsOffset)); !r) return unexpected(r.error());
  // RFC 2131 4.1: with Overload, file is walked first, then sname. An
  // Overload option inside them is not followed again.
  const uint8_t overload = o.overload;
  if (overload == 1 || overload == 3) {
    if (auto r = o.walk(message.subspan(kFileOffset, kFileLen)); !r) return unexpected(r.error());
  }
  if (overload == 2 || overload == 3) {
    if (auto r = o.walk(message.subspan(kSnameOffset, kSnameLen)); !r) {
      return unexpected(r.error());
    }
  }
  o.overload = overload;
  return Dhcp4View(message, o);
}

bool Dhcp4OptionWriter::put(uint8_t code, ConstBytes data) {
  TAPIR_CHECK(data.size() <= 255);
  if (2 + data.size() > remaining()) return false;
  store_u8(area_, len_, code);
  store_u8(area_, len_ + 1, static_cast<uint8_t>(data.size()));
  store_bytes(area_, len_ + 2, data);
  len_ += 2 + data.size();
  return true;
}

bool Dhcp4OptionWriter::put_long(uint8_t code, ConstBytes data) {
  const size_t pieces = data.empty() ? 1 : (data.size() + 254) / 255;
  if (2 * pieces + data.size() > remaining()) return false;
  size_t off = 0;
  do {
    const size_t n = std::min<size_t>(255, data.size() - off);
    put(code, data.subspan(off, n));
    off += n;
  } while (off < data.size());
  return true;
}

bool Dhcp4OptionWriter::put_u8(uint8_t code, uint8_t v) {
  const std::array<std::byte, 1> b{std::byte{v}};
  return put(code, b);
}

bool Dhcp4OptionWriter::put_u16(uint8_t code, uint16_t v) {
  std::array<std::byte, 2> b{};
  store_be16(b, 0, v);
  return put(code, b);
}

bool Dhcp4OptionWriter::put_u32(uint8_t code, uint32_t v) {
  std::array<std::byte, 4> b{};
  store_be32(b, 0, v);
  return put(code, b);
}

size_t Dhcp4OptionWriter::finish() {
  TAPIR_CHECK(len_ < area_.size());
  store_u8(area_, len_, dhcp4_opt::kEnd);
  return len_ + 1;
}

}  // namespace tapir::services
