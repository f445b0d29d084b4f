#pragma once
// Classic pcap files (the libpcap 2.4 format), LINKTYPE_ETHERNET.
//
// The engine writes every tap frame to `--pcap FILE` with PcapWriter; tests
// read captured fixtures with PcapReader. Layout:
//
//   file header (24): magic(4) version_major(2)=2 version_minor(2)=4
//                     thiszone(4)=0 sigfigs(4)=0 snaplen(4) linktype(4)
//   record header (16): ts_sec(4) ts_frac(4) incl_len(4) orig_len(4)
//   then incl_len bytes of frame
//
// Every field is in the writer's byte order; the magic tells which
// (0xa1b2c3d4 microseconds, 0xa1b23c4d nanoseconds, either byte order).
// PcapWriter writes host order with microsecond stamps, as tcpdump does.

#include <cstdint>
#include <optional>
#include <span>

#include "base/clock.hpp"
#include "base/error.hpp"
#include "base/expected.hpp"
#include "base/fd.hpp"
#include "wire/bytes.hpp"
#include "wire/parse_error.hpp"

namespace tapir::wire {

inline constexpr uint32_t kPcapMagicMicros = 0xa1b2c3d4;
inline constexpr uint32_t kPcapMagicNanos = 0xa1b23c4d;
inline constexpr uint32_t kLinktypeEthernet = 1;
inline constexpr size_t kPcapFileHeaderLen = 24;
inline constexpr size_t kPcapRecordHeaderLen = 16;
// Largest record PcapReader accepts, whatever the file's snaplen claims:
// bigger than any frame a tap can carry (64 KiB + headers), small enough that
// a corrupt length cannot make a reader walk far.
inline constexpr uint32_t kPcapMaxRecordLen = 262144;

class PcapWriter {
 public:
  // Creates (or truncates) `path` with mode 0600 and writes the file header.
  // Refused: a symbolic link at `path` (O_NOFOLLOW), a regular file owned
  // by another user (EPERM), anything but a regular file or a FIFO.
  // Frames longer than `snaplen` are cut to it (orig_len keeps the truth).
  static SysResult<PcapWriter> create(const char* path, uint32_t snaplen = 65535);
  // Takes over an open fd (a pipe to tcpdump -r -, a test's memfd).
  static SysResult<PcapWriter> from_fd(Fd fd, uint32_t snaplen = 65535);

  // Appends one record. `pieces` are concatenated into one frame, so a
  // frame whose headers and payload live in different buffers needs no
  // copy. One writev per record; short writes are completed.
  SysResult<void> write(std::span<const ConstBytes> pieces, WallTime ts);
  SysResult<void> write(ConstBytes frame, WallTime ts) { return write(std::span(&frame, 1), ts); }

  uint64_t records_written() const { return records_; }
  int fd() const { return fd_.get(); }

 private:
  PcapWriter(Fd fd, uint32_t snaplen) : fd_(std::move(fd)), snaplen_(snaplen) {}
  Fd fd_;
  uint32_t snaplen_;
  uint64_t records_ = 0;
};

struct PcapRecord {
  int64_t ts_sec = 0;
  uint32_t ts_nsec = 0;    // nanoseconds, whatever resolution the file had
  uint32_t orig_len = 0;   // length on the wire; >= data.size()
  ConstBytes data;         // the captured bytes; valid while the file bytes are
};

// Reads a pcap file held in memory. Untrusted: every length is checked.
class PcapReader {
 public:
  // Errors: kTruncated (< 24 bytes), kBadMagic (not a pcap file),
  // kUnsupported (version other than 2.x).
  static Expected<PcapReader, ParseError> parse(ConstBytes file);

  uint32_t linktype() const { return linktype_; }
  uint32_t snaplen() const { return snaplen_; }
  bool nanosecond() const { return nanos_; }

  // The next record; std::nullopt at a clean end of file. Errors:
  // kTruncated (record header or data cut short), kBadLength (incl_len >
  // kPcapMaxRecordLen, or incl_len > orig_len). After an error, next()
  // keeps returning it.
  Expected<std::optional<PcapRecord>, ParseError> next();

 private:
  explicit PcapReader(ConstBytes file) : file_(file) {}
  uint32_t load32(size_t off) const;

  ConstBytes file_;
  size_t pos_ = kPcapFileHeaderLen;
  bool swapped_ = false;
  bool nanos_ = false;
  uint32_t snaplen_ = 0;
  uint32_t linktype_ = 0;
  std::optional<ParseError> failed_;
};

}  // namespace tapir::wire
