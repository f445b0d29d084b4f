#pragma once
// Live reload of resolv.conf for the DNS forwarder (issue 7: rewriting the
// file and replacing it by rename both take effect without a restart).
//
// Theory of operation. inotify cannot follow a file across a rename: a
// watch on the file itself sees the old inode, which is gone when an editor
// or a resolver manager replaces it (write a temporary, rename it over).
// So the watch is on the *directory*, for entries named like the file:
//
//   event on the entry (IN_*)         meaning
//   CLOSE_WRITE                       rewritten in place (`echo > f`)
//   MOVED_TO                          replaced by rename
//   CREATE (only of a symlink)        a symlink made anew (`ln -s`; a regular
//                                     file is read on its CLOSE_WRITE, not
//                                     while still empty)
//   DELETE, MOVED_FROM                gone: the last list is kept (a manager
//                                     is usually about to put a new one there)
//
// When the path is a symlink — systemd-resolved's /etc/resolv.conf ->
// /run/systemd/resolve/stub-resolv.conf — the target's directory is
// watched as well, for the target's name: that is where the content
// changes. After every relevant event the link is resolved again, so a
// link that now points into another directory gets that directory watched
// too (watches are never removed; there are at most a handful).
//
// FileWatch does that for any file and hands back its text after every
// relevant event. ResolvConfWatch compares the nameservers in it with the
// last list, and HostsWatch the entries of hosts files (hosts_file.hpp)
// with the last ones; only a difference is reported, so a rewrite with the
// same content, or a burst of events for one change, reloads nothing.
// Reading is bounded (kMaxFile) and synchronous: the files are small and local.
//
// No I/O beyond inotify and reading the file; the owner (DnsService)
// watches fd() on the engine and calls on_readable().

#include <optional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "dns/endpoint.hpp"
#include "dns/hosts_file.hpp"

namespace tapir::dns {

class FileWatch {
 public:
  static constexpr size_t kMaxFile = 64 * 1024;

  // Starts watching `path`'s directory (and its symlink target's). valid()
  // is false when inotify is unavailable (the reason is logged once).
  explicit FileWatch(std::string path);

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // Drains pending events; true if one of them was about the file (it
  // changed, appeared or went: read_now() tells which).
  bool on_readable();
  // The file's text now; nullopt when it cannot be read (missing, a
  // directory, no permission). Bounded by kMaxFile.
  std::optional<std::string> read_now() const;

 private:
  struct Dir {
    int wd = -1;
    std::string dir;
    std::string name;  // the entry in that directory we care about
  };
  void watch_chain();
  void add_dir_watch(const std::string& file);
  bool relevant(int wd, const char* name, uint32_t mask) const;

  std::string path_;
  Fd fd_;
  std::vector<Dir> dirs_;
};

class ResolvConfWatch {
 public:
  static constexpr size_t kMaxFile = FileWatch::kMaxFile;

  // `current` is the list the forwarder was started with.
  ResolvConfWatch(std::string path, std::vector<dns::Endpoint> current)
      : watch_(std::move(path)), last_(std::move(current)) {}

  bool valid() const { return watch_.valid(); }
  int fd() const { return watch_.fd(); }
  const std::string& path() const { return watch_.path(); }

  // Drains pending events; the new nameserver list if the file changed it.
  std::optional<std::vector<dns::Endpoint>> on_readable();
  // Reads the file now (e.g. right after the watches were set up, to catch
  // a change made between startup's read and them); the new list if it
  // differs from the last one.
  std::optional<std::vector<dns::Endpoint>> check_now();

  uint64_t reloads() const { return reloads_; }

 private:
  std::optional<std::vector<dns::Endpoint>> changed(const std::optional<std::string>& text);
  FileWatch watch_;
  std::vector<dns::Endpoint> last_;
  uint64_t reloads_ = 0;
};

// The hosts files (--hosts-file, or /etc/hosts), each watched: their
// entries, in file order (the first file's first), and a change to any of
// them reported as the whole new list. A file that cannot be read adds
// nothing (and a file that disappears keeps nothing of its own: unlike a
// resolv.conf, no hosts file is a valid state, where no nameserver is not).
class HostsWatch {
 public:
  explicit HostsWatch(const std::vector<std::string>& paths);

  // The entries read at construction (each file's parse logged at debug).
  const std::vector<HostEntry>& entries() const { return last_; }
  size_t size() const { return watches_.size(); }
  const FileWatch& watch(size_t i) const { return watches_.at(i); }

  // Drains file i's events; the new list of all entries if it changed.
  std::optional<std::vector<HostEntry>> on_readable(size_t i);
  // Reads every file again; the new list if it differs.
  std::optional<std::vector<HostEntry>> check_now();

 private:
  std::vector<HostEntry> read_all();
  std::vector<FileWatch> watches_;
  std::vector<HostEntry> last_;
};

// "127.0.0.1:53, [fd00::1]:53", or "none".
std::string describe_upstreams(const std::vector<dns::Endpoint>& list);

}  // namespace tapir::dns
