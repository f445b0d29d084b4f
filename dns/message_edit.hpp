#pragma once
// In-place rewrites of a DNS message the forwarder relays: ID, TTLs,
// question case, OPT removal and truncation to the client's UDP size.
//
// Theory of operation. Each helper takes the message bytes mutably
// (exactly the message: `msg.size()` is its length), parses them again
// (so it cannot act on a stale view), and fails without touching anything
// if they do not parse. Nothing allocates; rewrites that shorten the
// message move bytes down with memmove and return the new length.
//
// Removing records is safe for compression because parse() only accepts
// owner-name pointers that point backwards (name.hpp): a kept record never
// points into a later, dropped one. A name inside RDATA that points
// forward (no real server writes one) could be left dangling; the client
// then rejects that answer, tapir's own memory is not at stake.

#include <cstdint>
#include <optional>

#include "dns/message.hpp"

namespace tapir::dns {

// Stores `id` in the header (the client's ID on the way back, a fresh
// random one on the way up). msg.size() >= 12.
void set_id(MutBytes msg, uint16_t id);

// Calls f(ttl) -> new ttl for every record TTL except OPT's (whose "TTL"
// holds EDNS flags, RFC 6891 6.1.3). False if `msg` does not parse.
template <class F>
bool rewrite_ttls(MutBytes msg, F&& f) {
  auto m = Message::parse(msg);
  if (!m) return false;
  for (const Record& r : m->all_records()) {
    if (r.type == rrtype::kOpt) continue;
    wire::store_be32(msg, r.ttl_offset, f(r.ttl));
  }
  return true;
}

// Every TTL minus `elapsed` seconds, stopping at 0 (RFC 1035 3.2.1, RFC 2181 8:
// TTLs are unsigned 32-bit).
bool age_ttls(MutBytes msg, uint32_t elapsed);

// Overwrites the question name with `name`, which must equal it
// case-insensitively and must be how the question is stored (no
// compression pointer). Restores a client's 0x20 mixed case in a cached
// answer; answer owners that point at the question follow along. False
// (unchanged) otherwise.
bool copy_question_case(MutBytes msg, const Name& name);

// Drops the OPT record, and any additional records after it (they are
// optional, RFC 2181 9), for a client that sent no OPT (RFC 6891 7).
// Returns the new length; msg.size() if there was no OPT; nullopt if it
// does not parse.
std::optional<size_t> remove_opt(MutBytes msg);

// Makes the message fit `limit` bytes (the client's UDP size: 512 without
// EDNS, else Edns::effective_udp_size()). Keeps the header, the question
// and as many whole records as fit, in order; the OPT record is kept and
// moved after them (RFC 6891 7), and additional records after OPT are
// dropped. TC is set when an answer or authority record had to go; losing
// only additional records does not set it (RFC 2181 9). Returns the new
// length (msg.size() if it already fits), or nullopt if it does not parse.
std::optional<size_t> clamp_to_size(MutBytes msg, size_t limit);

}  // namespace tapir::dns
