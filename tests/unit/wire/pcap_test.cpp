#include "wire/pcap.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace tapir::wire {
namespace {

std::vector<uint8_t> read_all(int fd) {
  std::vector<uint8_t> out;
  lseek(fd, 0, SEEK_SET);
  uint8_t buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  return out;
}

// A 24-byte big-endian, microsecond file header with snaplen 65535.
std::vector<uint8_t> be_header() {
  return {0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1};
}

TEST(PcapWriter, WritesWhatReaderReads) {
  Fd fd(memfd_create("pcap", MFD_CLOEXEC));
  ASSERT_TRUE(fd);
  const int raw = fd.get();
  auto w = PcapWriter::from_fd(std::move(fd), 100);
  ASSERT_TRUE(w) << w.error().message();
  std::vector<uint8_t> a(60, 0xaa), b(150, 0xbb), hdr(14, 0x11), body(20, 0x22);
  ASSERT_TRUE(w->write(as_bytes(a), WallTime{1700000000, 123456}));
  ASSERT_TRUE(w->write(as_bytes(b), WallTime{1700000001, 5}));  // cut to snaplen 100
  const ConstBytes pieces[] = {as_bytes(hdr), as_bytes(body)};
  ASSERT_TRUE(w->write(pieces, WallTime{1700000002, 0}));
  EXPECT_EQ(w->records_written(), 3u);

  const auto file = read_all(raw);
  auto r = PcapReader::parse(as_bytes(file));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->linktype(), kLinktypeEthernet);
  EXPECT_EQ(r->snaplen(), 100u);
  EXPECT_FALSE(r->nanosecond());

  auto r1 = r->next();
  ASSERT_TRUE(r1 && r1->has_value());
  EXPECT_EQ((*r1)->ts_sec, 1700000000);
  EXPECT_EQ((*r1)->ts_nsec, 123456000u);
  EXPECT_EQ((*r1)->data.size(), 60u);
  EXPECT_EQ((*r1)->orig_len, 60u);

  auto r2 = r->next();
  ASSERT_TRUE(r2 && r2->has_value());
  EXPECT_EQ((*r2)->data.size(), 100u);
  EXPECT_EQ((*r2)->orig_len, 150u);
  EXPECT_EQ(static_cast<uint8_t>((*r2)->data[99]), 0xbb);

  auto r3 = r->next();
  ASSERT_TRUE(r3 && r3->has_value());
  ASSERT_EQ((*r3)->data.size(), 34u);
  EXPECT_EQ(static_cast<uint8_t>((*r3)->data[13]), 0x11);
  EXPECT_EQ(static_cast<uint8_t>((*r3)->data[14]), 0x22);

  auto end = r->next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->has_value());
}

TEST(PcapReader, ReadsOtherByteOrderAndNanoseconds) {
  // Big-endian nanosecond file with one 4-byte record.
  std::vector<uint8_t> f = {0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0,
                            0, 0, 0xff, 0xff, 0, 0, 0, 1};
  const std::vector<uint8_t> rec = {0, 0, 0, 9, 0x3b, 0x9a, 0xc9, 0xff,  // 9 s, 999999999 ns
                                    0, 0, 0, 4, 0, 0, 0, 4, 1, 2, 3, 4};
  f.insert(f.end(), rec.begin(), rec.end());
  auto r = PcapReader::parse(as_bytes(f));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->nanosecond());
  EXPECT_EQ(r->linktype(), kLinktypeEthernet);
  auto x = r->next();
  ASSERT_TRUE(x && x->has_value());
  EXPECT_EQ((*x)->ts_sec, 9);
  EXPECT_EQ((*x)->ts_nsec, 999999999u);
  EXPECT_EQ(static_cast<uint8_t>((*x)->data[3]), 4);
}

TEST(PcapReader, MalformedFileHeaders) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    ParseError error;
  };
  std::vector<uint8_t> v1 = be_header();
  v1[5] = 1;  // version 1.4
  std::vector<uint8_t> short_header = be_header();
  short_header.pop_back();
  const std::vector<Case> cases = {
      {"empty", {}, ParseError::kTruncated},
      {"23 bytes", short_header, ParseError::kTruncated},
      {"pcapng magic", {0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
       ParseError::kBadMagic},
      {"version 1", v1, ParseError::kUnsupported},
  };
  for (const auto& c : cases) {
    auto r = PcapReader::parse(as_bytes(c.bytes));
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error(), c.error) << c.name << ": got " << parse_error_name(r.error());
  }
}

TEST(PcapReader, MalformedRecords) {
  struct Case {
    const char* name;
    std::vector<uint8_t> record;
    ParseError error;
  };
  const std::vector<Case> cases = {
      {"record header cut", {0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, ParseError::kTruncated},
      {"data cut", {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 1, 2, 3}, ParseError::kTruncated},
      {"incl_len > orig_len", {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 1, 2},
       ParseError::kBadLength},
      {"incl_len huge", {0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0, 0, 0, 0x7f, 0, 0, 0}, ParseError::kBadLength},
      {"usec >= 1e6", {0, 0, 0, 1, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 0, 0, 0, 0, 0}, ParseError::kBadLength},
  };
  for (const auto& c : cases) {
    auto f = be_header();
    f.insert(f.end(), c.record.begin(), c.record.end());
    auto r = PcapReader::parse(as_bytes(f));
    ASSERT_TRUE(r) << c.name;
    auto x = r->next();
    ASSERT_FALSE(x) << c.name;
    EXPECT_EQ(x.error(), c.error) << c.name << ": got " << parse_error_name(x.error());
    auto again = r->next();  // errors are sticky
    ASSERT_FALSE(again) << c.name;
  }
}

TEST(PcapWriter, CreateReportsErrno) {
  auto w = PcapWriter::create("/nonexistent-dir/x.pcap");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().err, ENOENT);
}

// --pcap at a path someone else prepared: never followed, never clobbered.
class PcapCreate : public ::testing::Test {
 protected:
  PcapCreate() {
    char tmpl[] = "/tmp/tapir-pcap-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~PcapCreate() override {
    for (const char* f : {"/victim", "/link", "/theirs", "/mine"}) ::unlink((dir_ + f).c_str());
    ::rmdir(dir_.c_str());
  }
  void write_file(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  std::string read_file(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return "<missing>";
    char buf[256];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
  }
  std::string dir_;
};

TEST_F(PcapCreate, SymlinkIsNotFollowed) {
  write_file(dir_ + "/victim", "keep me\n");
  ASSERT_EQ(::symlink((dir_ + "/victim").c_str(), (dir_ + "/link").c_str()), 0);
  auto w = PcapWriter::create((dir_ + "/link").c_str());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().err, ELOOP);
  EXPECT_NE(w.error().message().find("symbolic link"), std::string::npos) << w.error().message();
  EXPECT_EQ(read_file(dir_ + "/victim"), "keep me\n");
}

TEST_F(PcapCreate, AnotherUsersFileIsNotOverwritten) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  const std::string theirs = dir_ + "/theirs";
  write_file(theirs, "their data\n");
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(theirs.c_str(), 0666), 0);  // writable by anyone: still not ours
  auto w = PcapWriter::create(theirs.c_str());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().err, EPERM);
  EXPECT_NE(w.error().message().find("another user"), std::string::npos) << w.error().message();
  EXPECT_EQ(read_file(theirs), "their data\n");
}

TEST_F(PcapCreate, OwnFileIsTruncatedAndRewritten) {
  const std::string mine = dir_ + "/mine";
  write_file(mine, std::string(1000, 'x'));
  auto w = PcapWriter::create(mine.c_str());
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ(read_file(mine).size(), kPcapFileHeaderLen);
}

}  // namespace
}  // namespace tapir::wire
