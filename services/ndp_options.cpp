#include "services/ndp_options.hpp"

#include <algorithm>
#include <array>

#include "services/domain_list.hpp"

namespace tapir::services {

using namespace tapir::wire;

Expected<NdpOptions, ParseError> NdpOptions::parse(ConstBytes area) {
  NdpOptions o;
  size_t i = 0;
  while (i < area.size()) {
    if (i + 2 > area.size()) return unexpected(ParseError::kBadOption);
    const uint8_t type = load_u8(area, i);
    const size_t len = size_t{load_u8(area, i + 1)} * ndp_opt::kUnit;
    if (len == 0 || i + len > area.size()) return unexpected(ParseError::kBadOption);
    const ConstBytes opt = area.subspan(i, len);
    switch (type) {
      case ndp_opt::kSourceLinkAddr:
      case ndp_opt::kTargetLinkAddr: {
        if (len != ndp_opt::kLinkAddrLen) return unexpected(ParseError::kBadOption);
        const MacAddr mac = MacAddr::load(opt, 2);
        (type == ndp_opt::kSourceLinkAddr ? o.source_link_addr : o.target_link_addr) = mac;
        break;
      }
      case ndp_opt::kMtu:
        if (len != ndp_opt::kMtuLen) return unexpected(ParseError::kBadOption);
        o.mtu = load_be32(opt, 4);
        break;
      case ndp_opt::kPrefixInfo:
        if (len != ndp_opt::kPrefixInfoLen) return unexpected(ParseError::kBadOption);
        break;
      case ndp_opt::kNonce: o.nonce = true; break;
      default: break;
    }
    ++o.count;
    i += len;
  }
  return o;
}

std::optional<MutBytes> NdpOptionWriter::reserve(uint8_t type, size_t n) {
  TAPIR_CHECK(n % ndp_opt::kUnit == 0 && n / ndp_opt::kUnit <= 255 && n > 0);
  if (len_ + n > area_.size()) return std::nullopt;
  MutBytes opt = area_.subspan(len_, n);
  std::fill(opt.begin(), opt.end(), std::byte{0});
  store_u8(opt, 0, type);
  store_u8(opt, 1, static_cast<uint8_t>(n / ndp_opt::kUnit));
  len_ += n;
  return opt;
}

bool NdpOptionWriter::put_link_addr(uint8_t type, const MacAddr& mac) {
  auto opt = reserve(type, ndp_opt::kLinkAddrLen);
  if (!opt) return false;
  mac.store(*opt, 2);
  return true;
}

bool NdpOptionWriter::put_mtu(uint32_t mtu) {
  auto opt = reserve(ndp_opt::kMtu, ndp_opt::kMtuLen);
  if (!opt) return false;
  store_be32(*opt, 4, mtu);
  return true;
}

bool NdpOptionWriter::put_prefix_info(const Ipv6Prefix& prefix, uint8_t flags,
                                      uint32_t valid_lifetime, uint32_t preferred_lifetime) {
  auto opt = reserve(ndp_opt::kPrefixInfo, ndp_opt::kPrefixInfoLen);
  if (!opt) return false;
  store_u8(*opt, 2, prefix.len);
  store_u8(*opt, 3, flags);
  store_be32(*opt, 4, valid_lifetime);
  store_be32(*opt, 8, preferred_lifetime);
  prefix.network().store(*opt, 16);  // 12: reserved (4)
  return true;
}

bool NdpOptionWriter::put_rdnss(uint32_t lifetime, std::span<const Ipv6Addr> servers) {
  if (servers.empty() || servers.size() > 127) return false;
  auto opt = reserve(ndp_opt::kRdnss, 8 + 16 * servers.size());
  if (!opt) return false;
  store_be32(*opt, 4, lifetime);
  for (size_t i = 0; i < servers.size(); ++i) servers[i].store(*opt, 8 + 16 * i);
  return true;
}

bool NdpOptionWriter::put_dnssl(uint32_t lifetime, const std::vector<std::string>& names) {
  std::array<std::byte, 255 * ndp_opt::kUnit - 8> buf{};
  const auto n = encode_domain_list(names, buf, /*compress=*/false);
  if (!n || *n == 0) return false;
  const size_t total = 8 + (*n + ndp_opt::kUnit - 1) / ndp_opt::kUnit * ndp_opt::kUnit;
  auto opt = reserve(ndp_opt::kDnssl, total);
  if (!opt) return false;
  store_be32(*opt, 4, lifetime);
  store_bytes(*opt, 8, ConstBytes(buf).first(*n));
  return true;
}

}  // namespace tapir::services
