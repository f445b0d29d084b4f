// resolv.conf live reload: real inotify on a temporary directory. Events
// are queued by the syscall that caused them, so every check reads them
// right after the change: nothing here waits or times anything.

#include "dns/io/resolv_watch.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "dns/resolv_conf.hpp"

namespace tapir::dns {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "tapir-resolv-XXXXXX").string();
    EXPECT_NE(::mkdtemp(t.data()), nullptr);
    path = t;
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::trunc) << text;
}

// Written beside, then renamed over: how editors and resolver managers do it.
void replace_file(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  write_file(tmp, text);
  fs::rename(tmp, p);
}

dns::Endpoint ep(const char* a) {
  return *dns::parse_upstream(a);
}

TEST(ResolvConfWatch, RewriteInPlaceIsSeen) {
  TempDir d;
  const fs::path f = d.path / "resolv.conf";
  write_file(f, "nameserver 127.0.0.1\n");
  ResolvConfWatch w(f.string(), {ep("127.0.0.1")});
  ASSERT_TRUE(w.valid());
  EXPECT_FALSE(w.on_readable());  // nothing happened yet

  write_file(f, "# new\nnameserver 127.0.0.4\nnameserver fd00::1\n");
  auto list = w.on_readable();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0], ep("127.0.0.4"));
  EXPECT_EQ((*list)[1], ep("fd00::1"));
  EXPECT_EQ(describe_upstreams(*list), "127.0.0.4:53, [fd00::1]:53");
  EXPECT_EQ(w.reloads(), 1u);

  // The same servers again (a comment changed): nothing to report.
  write_file(f, "nameserver 127.0.0.4\nnameserver fd00::1\n");
  EXPECT_FALSE(w.on_readable());
  EXPECT_EQ(w.reloads(), 1u);
}

TEST(ResolvConfWatch, ReplaceByRenameIsSeen) {
  TempDir d;
  const fs::path f = d.path / "resolv.conf";
  write_file(f, "nameserver 127.0.0.1\n");
  ResolvConfWatch w(f.string(), {ep("127.0.0.1")});
  ASSERT_TRUE(w.valid());
  replace_file(f, "nameserver 127.0.0.5\n");
  auto list = w.on_readable();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0], ep("127.0.0.5"));
  // ... and again: the directory watch survives the inode going away.
  replace_file(f, "nameserver 127.0.0.6\n");
  list = w.on_readable();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.6"));
}

TEST(ResolvConfWatch, OtherFilesInTheDirectoryAreIgnored) {
  TempDir d;
  const fs::path f = d.path / "resolv.conf";
  write_file(f, "nameserver 127.0.0.1\n");
  ResolvConfWatch w(f.string(), {ep("127.0.0.1")});
  ASSERT_TRUE(w.valid());
  write_file(d.path / "hosts", "127.0.0.1 localhost\n");
  write_file(d.path / "resolv.conf.bak", "nameserver 127.0.0.9\n");
  EXPECT_FALSE(w.on_readable());
  EXPECT_EQ(w.reloads(), 0u);
}

TEST(ResolvConfWatch, DeletedFileKeepsTheLastListUntilANewOneAppears) {
  TempDir d;
  const fs::path f = d.path / "resolv.conf";
  write_file(f, "nameserver 127.0.0.1\n");
  ResolvConfWatch w(f.string(), {ep("127.0.0.1")});
  ASSERT_TRUE(w.valid());
  fs::remove(f);
  EXPECT_FALSE(w.on_readable());
  write_file(f, "nameserver 127.0.0.7\n");
  auto list = w.on_readable();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.7"));
}

// systemd-resolved: /etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf,
// and the content changes in the target's directory.
TEST(ResolvConfWatch, SymlinkTargetDirectoryIsWatched) {
  TempDir d;
  fs::create_directories(d.path / "etc");
  fs::create_directories(d.path / "run" / "resolve");
  fs::create_directories(d.path / "other");
  const fs::path target = d.path / "run" / "resolve" / "stub-resolv.conf";
  const fs::path link = d.path / "etc" / "resolv.conf";
  write_file(target, "nameserver 127.0.0.53\n");
  fs::create_symlink("../run/resolve/stub-resolv.conf",
                     link);  // relative, as distributions ship it

  ResolvConfWatch w(link.string(), {ep("127.0.0.53")});
  ASSERT_TRUE(w.valid());
  replace_file(target, "nameserver 127.0.0.54\n");
  auto list = w.on_readable();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.54"));
  write_file(target, "nameserver 127.0.0.55\n");
  list = w.on_readable();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.55"));

  // The link re-pointed into another directory: seen, and that directory
  // is followed from then on.
  const fs::path other = d.path / "other" / "resolv.conf";
  write_file(other, "nameserver 127.0.0.60\n");
  const fs::path tmp_link = d.path / "etc" / "resolv.conf.new";
  fs::create_symlink(other, tmp_link);
  fs::rename(tmp_link, link);
  list = w.on_readable();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.60"));
  write_file(other, "nameserver 127.0.0.61\n");
  list = w.on_readable();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.61"));
}

TEST(ResolvConfWatch, CheckNowReportsOnlyADifference) {
  TempDir d;
  const fs::path f = d.path / "resolv.conf";
  write_file(f, "nameserver 127.0.0.1\n");
  ResolvConfWatch same(f.string(), {ep("127.0.0.1")});
  EXPECT_FALSE(same.check_now());
  ResolvConfWatch stale(f.string(), {ep("127.0.0.2")});
  auto list = stale.check_now();
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0], ep("127.0.0.1"));
}

TEST(ResolvConfWatch, MissingDirectoryIsNotValid) {
  ResolvConfWatch w("/nonexistent-tapir-dir/resolv.conf", {});
  EXPECT_FALSE(w.valid());
}

// Hosts files (--hosts-file, repeatable): the entries of all of them in
// order, and a change to any one reported as the whole new list.
TEST(HostsWatch, EntriesOfEveryFileAndEachChangeAsANewList) {
  TempDir d;
  const fs::path a = d.path / "hosts";
  const fs::path b = d.path / "more";
  write_file(a, "127.0.0.1 localhost\n192.0.2.7 db.test\n");
  write_file(b, "192.0.2.8 web.test\n");
  HostsWatch w({a.string(), b.string(), (d.path / "missing").string()});
  ASSERT_EQ(w.size(), 3u);
  ASSERT_EQ(w.entries().size(), 2u);
  EXPECT_EQ(w.entries()[0].name.to_string(), "db.test");
  EXPECT_EQ(w.entries()[1].name.to_string(), "web.test");
  EXPECT_FALSE(w.on_readable(1));  // nothing happened yet

  replace_file(b, "192.0.2.9 web.test\n");
  auto list = w.on_readable(1);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].a4, wire::Ipv4Addr::from_octets(192, 0, 2, 9));
  // The same entries with other comments: nothing to reload.
  write_file(a, "# edited\n192.0.2.7   db.test\n");
  EXPECT_FALSE(w.on_readable(0));
  // A file that appears adds its entries.
  write_file(d.path / "missing", "192.0.2.10 late.test\n");
  list = w.on_readable(2);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 3u);
  // One that goes keeps nothing.
  fs::remove(a);
  list = w.on_readable(0);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
}

}  // namespace
}  // namespace tapir::dns
