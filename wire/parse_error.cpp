#include "wire/parse_error.hpp"

#include <cstring>

#include "wire/bytes.hpp"

namespace tapir::wire {

const char* parse_error_name(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTruncated: return "truncated";
    case ParseError::kVlanTagged: return "vlan_tagged";
    case ParseError::kUnsupported: return "unsupported";
    case ParseError::kBadVersion: return "bad_version";
    case ParseError::kBadHeaderLength: return "bad_header_length";
    case ParseError::kBadLength: return "bad_length";
    case ParseError::kBadOption: return "bad_option";
    case ParseError::kBadExtensionHeader: return "bad_extension_header";
    case ParseError::kExtensionHeaderLimit: return "extension_header_limit";
    case ParseError::kBadVnetHeader: return "bad_vnet_header";
    case ParseError::kBadMagic: return "bad_magic";
    case ParseError::kBadChecksum: return "bad_checksum";
    case ParseError::kMartianSource: return "martian_source";
    case ParseError::kCount_: break;
  }
  return "unknown";
}

void store_bytes(MutBytes dst, size_t off, ConstBytes src) {
  TAPIR_CHECK(off <= dst.size() && src.size() <= dst.size() - off);
  if (!src.empty()) std::memcpy(dst.data() + off, src.data(), src.size());
}

}  // namespace tapir::wire
