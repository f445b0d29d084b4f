#include "dns/io/resolv_watch.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.hpp"
#include "dns/resolv_conf.hpp"

namespace tapir::dns {
namespace {

constexpr uint32_t kDirEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM;
// A symlink chain longer than this is not followed further (the kernel's
// own limit for path resolution is 40; resolv.conf chains are 1 or 2).
constexpr int kMaxHops = 8;

std::string dir_of(const std::string& p) {
  const size_t slash = p.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return p.substr(0, slash);
}

std::string base_of(const std::string& p) {
  const size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

std::optional<std::string> FileWatch::read_now() const {
  Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return std::nullopt;
  std::string text(kMaxFile, '\0');
  size_t len = 0;
  while (len < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + len, text.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  text.resize(len);
  return text;
}

std::string describe_upstreams(const std::vector<dns::Endpoint>& list) {
  if (list.empty()) return "none";
  std::string s;
  for (const auto& e : list) {
    if (!s.empty()) s.append(", ");
    s.append(e.to_string());
  }
  return s;
}

FileWatch::FileWatch(std::string path) : path_(std::move(path)) {
  fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd_) {
    LOG_WARN("dns: inotify: %s; changes to %s need a restart", strerrordesc_np(errno),
             path_.c_str());
    return;
  }
  watch_chain();
  if (dirs_.empty()) {
    LOG_WARN("dns: cannot watch the directory of %s; changes to it need a restart", path_.c_str());
    fd_.reset();
  }
}

void FileWatch::add_dir_watch(const std::string& file) {
  const std::string dir = dir_of(file);
  const std::string name = base_of(file);
  const int wd = ::inotify_add_watch(fd_.get(), dir.c_str(), kDirEvents | IN_ONLYDIR);
  if (wd < 0) {
    LOG_DEBUG("dns: inotify_add_watch %s: %s", dir.c_str(), strerrordesc_np(errno));
    return;
  }
  for (const Dir& d : dirs_) {
    if (d.wd == wd && d.name == name) return;
  }
  dirs_.push_back({wd, dir, name});
}

void FileWatch::watch_chain() {
  std::string p = path_;
  for (int hop = 0; hop < kMaxHops; ++hop) {
    add_dir_watch(p);
    char target[PATH_MAX];
    const ssize_t n = ::readlink(p.c_str(), target, sizeof target - 1);
    if (n <= 0) return;  // not a symlink (or gone): the chain ends here
    target[n] = '\0';
    p = target[0] == '/' ? std::string(target) : dir_of(p) + "/" + target;
  }
}

bool FileWatch::relevant(int wd, const char* name, uint32_t mask) const {
  for (const Dir& d : dirs_) {
    if (d.wd != wd || d.name != name) continue;
    if ((mask & IN_CREATE) != 0) {
      // A new regular file is read when its writer closes it (CLOSE_WRITE),
      // not now while it may still be empty; a new symlink is complete.
      struct stat st {};
      const std::string full = d.dir + "/" + d.name;
      return ::lstat(full.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    }
    return true;
  }
  return false;
}

bool FileWatch::on_readable() {
  // inotify(7): a buffer of this size holds at least one event of any name length.
  alignas(inotify_event) char buf[4096 + sizeof(inotify_event) + NAME_MAX + 1];
  bool changed = false;
  while (true) {
    const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);  // NOLINT: inotify's ABI
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if ((ev->mask & IN_Q_OVERFLOW) != 0) {
        changed = true;  // events were lost: look at the file anyway
        continue;
      }
      if (ev->len == 0) continue;
      if (relevant(ev->wd, ev->name, ev->mask)) changed = true;
    }
  }
  // The link may point somewhere new now.
  if (changed) watch_chain();
  return changed;
}

std::optional<std::vector<dns::Endpoint>> ResolvConfWatch::on_readable() {
  if (!watch_.on_readable()) return std::nullopt;
  return check_now();
}

std::optional<std::vector<dns::Endpoint>> ResolvConfWatch::check_now() {
  return changed(watch_.read_now());
}

std::optional<std::vector<dns::Endpoint>> ResolvConfWatch::changed(
    const std::optional<std::string>& text) {
  if (!text) return std::nullopt;  // gone for now: keep the last list
  auto list = dns::parse_resolv_conf(*text).nameservers;
  if (list == last_) return std::nullopt;
  last_ = list;
  ++reloads_;
  return list;
}

HostsWatch::HostsWatch(const std::vector<std::string>& paths) {
  watches_.reserve(paths.size());
  for (const std::string& p : paths) watches_.emplace_back(p);
  last_ = read_all();
}

std::vector<HostEntry> HostsWatch::read_all() {
  std::vector<HostEntry> all;
  for (const FileWatch& w : watches_) {
    const auto text = w.read_now();
    if (!text) {
      LOG_DEBUG("dns: cannot read hosts file %s: %s", w.path().c_str(), strerrordesc_np(errno));
      continue;
    }
    HostsFile h = parse_hosts(*text);
    LOG_DEBUG("dns: %s: %zu entries (%zu bad lines, %zu bad names, %zu skipped)", w.path().c_str(),
              h.entries.size(), h.bad_lines, h.bad_names, h.skipped);
    for (HostEntry& e : h.entries) {
      if (all.size() >= kMaxHostEntries) break;
      all.push_back(std::move(e));
    }
  }
  return all;
}

std::optional<std::vector<HostEntry>> HostsWatch::on_readable(size_t i) {
  if (!watches_.at(i).on_readable()) return std::nullopt;
  return check_now();
}

std::optional<std::vector<HostEntry>> HostsWatch::check_now() {
  auto all = read_all();
  if (all == last_) return std::nullopt;
  last_ = all;
  return all;
}

}  // namespace tapir::dns
