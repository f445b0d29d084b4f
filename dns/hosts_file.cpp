#include "dns/hosts_file.hpp"

#include "dns/text.hpp"

namespace tapir::dns {

HostsFile parse_hosts(std::string_view text) {
  HostsFile out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    size_t pos = 0;
    const std::string_view addr = next_word(line, &pos);
    if (addr.empty()) continue;  // blank or comment only
    HostEntry proto;
    bool usable = true;
    if (auto a4 = wire::Ipv4Addr::parse(addr)) {
      proto.a4 = *a4;
      usable = !a4->is_loopback() && !a4->is_unspecified();
    } else if (auto a6 = wire::Ipv6Addr::parse(addr)) {
      proto.v6 = true;
      proto.a6 = *a6;
      usable = !a6->is_loopback() && !a6->is_unspecified() && !a6->is_link_local();
    } else {
      ++out.bad_lines;
      continue;
    }
    size_t names = 0;
    for (std::string_view t = next_word(line, &pos); !t.empty(); t = next_word(line, &pos)) {
      ++names;
      auto name = Name::from_text(t);
      if (!name || name->is_root()) {
        ++out.bad_names;
        continue;
      }
      if (!usable || out.entries.size() >= kMaxHostEntries) {
        ++out.skipped;
        continue;
      }
      HostEntry e = proto;
      e.name = *name;
      out.entries.push_back(e);
    }
    if (names == 0) ++out.bad_lines;
  }
  return out;
}

}  // namespace tapir::dns
