#include "wire/pcap.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

namespace tapir::wire {
namespace {

template <size_t N>
void put_host32(std::array<std::byte, N>& a, size_t off, uint32_t v) {
  std::memcpy(a.data() + off, &v, sizeof v);
}
template <size_t N>
void put_host16(std::array<std::byte, N>& a, size_t off, uint16_t v) {
  std::memcpy(a.data() + off, &v, sizeof v);
}

// writev until everything is written; completes short writes.
SysResult<void> write_all(int fd, std::vector<iovec>& iov) {
  size_t first = 0;
  while (first < iov.size()) {
    const ssize_t n = ::writev(fd, iov.data() + first, static_cast<int>(iov.size() - first));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write pcap");
    }
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < iov.size() && left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return {};
}

}  // namespace

SysResult<PcapWriter> PcapWriter::create(const char* path, uint32_t snaplen) {
  // O_NOFOLLOW: a symbolic link planted at the path (in /tmp, say) must not
  // steer the capture, or the truncation, into the file it points to. No
  // O_TRUNC either until the file is known to be ours.
  Fd fd(::open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) {
    if (errno == ELOOP) return sys_error("pcap file is a symbolic link; not following it");
    return sys_error("open pcap file");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return sys_error("stat pcap file");
  if (S_ISREG(st.st_mode)) {
    // Writable is not enough: another user's file (mode 0666, or ours to
    // write through a group) is not ours to overwrite.
    if (st.st_uid != ::geteuid()) {
      return sys_error("pcap file belongs to another user; not overwriting it", EPERM);
    }
    if (::ftruncate(fd.get(), 0) < 0) return sys_error("truncate pcap file");
  } else if (!S_ISFIFO(st.st_mode)) {  // a FIFO to tcpdump -r - is fine
    return sys_error("pcap file is not a regular file or a FIFO", EINVAL);
  }
  return from_fd(std::move(fd), snaplen);
}

SysResult<PcapWriter> PcapWriter::from_fd(Fd fd, uint32_t snaplen) {
  std::array<std::byte, kPcapFileHeaderLen> h{};
  put_host32(h, 0, kPcapMagicMicros);
  put_host16(h, 4, 2);  // version 2.4
  put_host16(h, 6, 4);
  // thiszone and sigfigs stay 0
  put_host32(h, 16, snaplen);
  put_host32(h, 20, kLinktypeEthernet);
  std::vector<iovec> iov = {{h.data(), h.size()}};
  if (auto r = write_all(fd.get(), iov); !r) return unexpected(r.error());
  return PcapWriter(std::move(fd), snaplen);
}

SysResult<void> PcapWriter::write(std::span<const ConstBytes> pieces, WallTime ts) {
  size_t total = 0;
  for (const auto& p : pieces) total += p.size();
  const uint32_t orig_len = static_cast<uint32_t>(total);
  const uint32_t incl_len = std::min(orig_len, snaplen_);

  std::array<std::byte, kPcapRecordHeaderLen> h{};
  put_host32(h, 0, static_cast<uint32_t>(ts.sec));
  put_host32(h, 4, static_cast<uint32_t>(ts.usec));
  put_host32(h, 8, incl_len);
  put_host32(h, 12, orig_len);

  std::vector<iovec> iov;
  iov.reserve(pieces.size() + 1);
  iov.push_back({h.data(), h.size()});
  size_t budget = incl_len;
  for (const auto& p : pieces) {
    if (budget == 0) break;
    const size_t n = std::min(budget, p.size());
    // writev takes a non-const base; the data is only read.
    iov.push_back({const_cast<std::byte*>(p.data()), n});  // NOLINT
    budget -= n;
  }
  if (auto r = write_all(fd_.get(), iov); !r) return r;
  ++records_;
  return {};
}

uint32_t PcapReader::load32(size_t off) const {
  TAPIR_CHECK(off + 4 <= file_.size());
  uint32_t v;
  std::memcpy(&v, file_.data() + off, sizeof v);
  return swapped_ ? __builtin_bswap32(v) : v;
}

Expected<PcapReader, ParseError> PcapReader::parse(ConstBytes file) {
  if (file.size() < kPcapFileHeaderLen) return unexpected(ParseError::kTruncated);
  PcapReader r(file);
  const uint32_t magic = r.load32(0);
  if (magic == kPcapMagicMicros || magic == kPcapMagicNanos) {
    r.swapped_ = false;
  } else if (__builtin_bswap32(magic) == kPcapMagicMicros ||
             __builtin_bswap32(magic) == kPcapMagicNanos) {
    r.swapped_ = true;
  } else {
    return unexpected(ParseError::kBadMagic);
  }
  r.nanos_ = (r.swapped_ ? __builtin_bswap32(magic) : magic) == kPcapMagicNanos;
  uint16_t major;
  std::memcpy(&major, file.data() + 4, sizeof major);
  if (r.swapped_) major = __builtin_bswap16(major);
  if (major != 2) return unexpected(ParseError::kUnsupported);
  r.snaplen_ = r.load32(16);
  r.linktype_ = r.load32(20) & 0x0fffffff;  // upper bits are FCS flags (pcap-linktype(7))
  return r;
}

Expected<std::optional<PcapRecord>, ParseError> PcapReader::next() {
  if (failed_) return unexpected(*failed_);
  if (pos_ == file_.size()) return std::optional<PcapRecord>{};
  auto fail = [this](ParseError e) -> Expected<std::optional<PcapRecord>, ParseError> {
    failed_ = e;
    return unexpected(e);
  };
  if (file_.size() - pos_ < kPcapRecordHeaderLen) return fail(ParseError::kTruncated);
  PcapRecord rec;
  rec.ts_sec = load32(pos_);
  const uint32_t frac = load32(pos_ + 4);
  const uint32_t incl_len = load32(pos_ + 8);
  rec.orig_len = load32(pos_ + 12);
  if (incl_len > kPcapMaxRecordLen || incl_len > rec.orig_len) return fail(ParseError::kBadLength);
  if (nanos_ ? frac >= 1000000000u : frac >= 1000000u) return fail(ParseError::kBadLength);
  rec.ts_nsec = nanos_ ? frac : frac * 1000;
  const size_t data_at = pos_ + kPcapRecordHeaderLen;
  if (file_.size() - data_at < incl_len) return fail(ParseError::kTruncated);
  rec.data = file_.subspan(data_at, incl_len);
  pos_ = data_at + incl_len;
  return std::optional<PcapRecord>(rec);
}

}  // namespace tapir::wire
