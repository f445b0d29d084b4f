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
// Every relevant event re-reads the file and compares its nameservers
// with the last list; only a different list is reported, so a rewrite with
// the same content, or a burst of events for one change, reloads nothing.
// Reading is bounded (kMaxFile) and synchronous: the file is small and local.
//
// No I/O beyond inotify and reading the file; the owner (DnsService)
// watches fd() on the engine and calls on_readable().

#include <optional>
#include <string>
#include <vector>

#include "base/fd.hpp"
#include "dns/endpoint.hpp"

namespace tapir::dns {

class ResolvConfWatch {
 public:
  static constexpr size_t kMaxFile = 64 * 1024;

  // Starts watching `path`'s directory (and its symlink target's);
  // `current` is the list the forwarder was started with. valid() is false
  // when inotify is unavailable (the reason is logged once).
  ResolvConfWatch(std::string path, std::vector<dns::Endpoint> current);

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

  // Drains pending events; the new nameserver list if the file changed it.
  std::optional<std::vector<dns::Endpoint>> on_readable();
  // Reads the file now (e.g. right after the watches were set up, to catch
  // a change made between startup's read and them); the new list if it
  // differs from the last one.
  std::optional<std::vector<dns::Endpoint>> check_now();

  uint64_t reloads() const { return reloads_; }

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
  std::vector<dns::Endpoint> last_;
  uint64_t reloads_ = 0;
};

// "127.0.0.1:53, [fd00::1]:53", or "none".
std::string describe_upstreams(const std::vector<dns::Endpoint>& list);

}  // namespace tapir::dns
