#include "dns/message_edit.hpp"

#include <cstring>

namespace tapir::dns {

void set_id(MutBytes msg, uint16_t id) {
  wire::store_be16(msg, Message::kIdOffset, id);
}

bool age_ttls(MutBytes msg, uint32_t elapsed) {
  return rewrite_ttls(msg, [elapsed](uint32_t ttl) { return ttl > elapsed ? ttl - elapsed : 0; });
}

bool copy_question_case(MutBytes msg, const Name& name) {
  auto m = Message::parse(msg);
  if (!m || m->qdcount() == 0) return false;
  Name stored;
  auto end = read_name(msg, kHeaderLen, &stored);
  if (!end || *end != kHeaderLen + stored.size() || !stored.equals_ci(name)) return false;
  wire::store_bytes(msg, kHeaderLen, name.wire());
  return true;
}

std::optional<size_t> remove_opt(MutBytes msg) {
  auto m = Message::parse(msg);
  if (!m) return std::nullopt;
  const auto e = m->edns();
  if (!e) return m->size();
  uint16_t kept = 0;
  for (const Record& r : m->records(Section::kAdditional)) {
    if (r.offset == e->record_offset) break;
    ++kept;
  }
  wire::store_be16(msg, Message::kArcountOffset, kept);
  return e->record_offset;
}

std::optional<size_t> clamp_to_size(MutBytes msg, size_t limit) {
  auto m = Message::parse(msg);
  if (!m) return std::nullopt;
  if (m->size() <= limit) return m->size();
  const auto e = m->edns();
  const size_t opt_len = e ? e->record_end - e->record_offset : 0;
  const bool keep_opt = e && m->questions_end() + opt_len <= limit;
  const size_t budget = keep_opt ? limit - opt_len : limit;

  // The kept records are a prefix of the record list: stop at the first
  // one that does not fit, or at OPT.
  size_t end = m->questions_end();
  uint16_t kept[3] = {0, 0, 0};
  bool dropped_required = false;
  for (const Record& r : m->all_records()) {
    if (r.type == rrtype::kOpt || r.end() > budget) {
      dropped_required = r.section != Section::kAdditional;
      break;
    }
    end = r.end();
    ++kept[static_cast<size_t>(r.section)];
  }
  if (keep_opt) {
    std::memmove(msg.data() + end, msg.data() + e->record_offset, opt_len);
    end += opt_len;
    ++kept[2];
  }
  wire::store_be16(msg, Message::kAncountOffset, kept[0]);
  wire::store_be16(msg, Message::kNscountOffset, kept[1]);
  wire::store_be16(msg, Message::kArcountOffset, kept[2]);
  if (dropped_required) {
    const uint16_t flags = wire::load_be16(msg, Message::kFlagsOffset);
    wire::store_be16(msg, Message::kFlagsOffset, flags | Message::kFlagTc);
  }
  return end;
}

}  // namespace tapir::dns
