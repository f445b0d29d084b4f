#pragma once
// Building DNS messages: queries, answers for built-in names, and error
// responses (RFC 1035 4.1, RFC 6891 for OPT).
//
// Theory of operation. Every builder writes into a buffer the caller owns
// and returns the message length, or nullopt if the buffer was too small
// (nothing is ever written past out.size()). Nothing allocates.
//
// Responses copy the client's question as the client wrote it (the name
// decompressed, case kept: RFC 1035 7.3 and the 0x20 practice of matching
// answers by the question's exact case) and echo ID, OPCODE, RD and CD
// (RFC 1035 4.1.1, RFC 4035 3.2.2). Answer owner names are a pointer to
// the question name at offset 12. A response to a query that carried an
// OPT record carries one too (RFC 6891 7), advertising kAdvertisedUdpSize
// and echoing DO (RFC 3225 3).

#include <cstdint>
#include <optional>

#include "dns/message.hpp"
#include "wire/addr.hpp"

namespace tapir::dns {

// Sequential writer over a caller's buffer; remembers overflow instead of
// writing past the end, so builders check once at the end.
class Writer {
 public:
  explicit Writer(MutBytes out) : out_(out) {}
  void u8(uint8_t v);
  void be16(uint16_t v);
  void be32(uint32_t v);
  void bytes(ConstBytes b);
  void patch_be16(size_t off, uint16_t v);  // at an offset already written
  size_t pos() const { return pos_; }
  bool ok() const { return ok_; }

 private:
  bool room(size_t n);
  MutBytes out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The EDNS option that carries the forwarder's loop nonce in every upstream
// query (forwarder.hpp "Forwarding loops"): a code of the Local/Experimental
// range (RFC 6891 9), 8 bytes of data.
inline constexpr uint16_t kLoopNonceOption = 65431;

struct QuerySpec {
  uint16_t id = 0;
  Name qname;
  uint16_t qtype = rrtype::kA;
  uint16_t qclass = kClassIn;
  bool rd = true;
  bool cd = false;
  bool ad = false;  // RFC 6840 5.7: a query may set AD to ask for it
  // OPT with this UDP payload size; nullopt: no OPT (a classic query).
  std::optional<uint16_t> edns_udp_size = kAdvertisedUdpSize;
  bool dnssec_ok = false;
  // Written as kLoopNonceOption in the OPT record (none without OPT).
  std::optional<uint64_t> loop_nonce;
};

// A standard query with one question (and an OPT record unless
// edns_udp_size is nullopt).
std::optional<size_t> build_query(MutBytes out, const QuerySpec& q);

// An answer for a query tapir answers itself. Construct, add records,
// finish(). `query` must have parsed and have a question.
class ResponseBuilder {
 public:
  ResponseBuilder(MutBytes out, const Message& query, uint8_t rcode, bool authoritative);
  void add_a(uint32_t ttl, wire::Ipv4Addr addr);
  void add_aaaa(uint32_t ttl, const wire::Ipv6Addr& addr);
  void add_ptr(uint32_t ttl, const Name& target);
  // Appends the OPT record if the query had one, fixes the counts; the
  // message length, or nullopt if `out` was too small.
  std::optional<size_t> finish();

 private:
  void answer_header(uint16_t type, uint32_t ttl, uint16_t rdlen);
  Writer w_;
  uint16_t ancount_ = 0;
  bool has_question_ = false;
  bool edns_ = false;
  bool dnssec_ok_ = false;
};

// SERVFAIL / FORMERR / REFUSED / NOTIMP for a query given as raw bytes.
// If the query parses and has a question, the question is echoed (and
// OPT if it had one); if only the 12-byte header is readable, the response
// echoes ID, OPCODE and RD with no question (RFC 1035 4.1.1 allows an
// empty question section in a FORMERR). Returns nullopt for fewer than 12
// bytes, and for messages with QR set: tapir never answers a response,
// which is how two forwarders pointed at each other stop bouncing.
std::optional<size_t> build_error_response(MutBytes out, ConstBytes query, uint8_t rcode);

}  // namespace tapir::dns
