#include "index/crawl.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "core/error.h"

namespace clap::index {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string extension_of(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos || dot == 0 ? std::string() : lower(name.substr(dot + 1));
}

int64_t ns(const timespec& t) { return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

bool matches_any(const std::vector<std::string>& globs, const std::string& relative, const std::string& name) {
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), relative.c_str(), 0) == 0 || fnmatch(g.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

// The real path of each library folder (every link resolved); folders that do not exist are left out.
std::vector<std::string> real_folders(const std::vector<std::string>& folders) {
  std::vector<std::string> out;
  for (const std::string& f : folders) {
    char buf[PATH_MAX];
    if (::realpath(f.c_str(), buf)) out.emplace_back(buf);
  }
  return out;
}

// A root's stat: a folder or a regular file, else clap::Error naming it and the reason.
struct stat root_stat(const std::string& root) {
  struct stat st{};
  if (::stat(root.c_str(), &st) != 0) throw Error(root + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) throw Error(root + ": not a folder or a regular file");
  return st;
}

class Crawler {
 public:
  Crawler(const CrawlOptions& o, CrawlResult& out, const std::vector<std::string>& roots) : o_(o), out_(out) {
    std::vector<std::string> folders = roots;
    folders.insert(folders.end(), o.library_roots.begin(), o.library_roots.end());
    real_roots_ = real_folders(folders);
    for (const auto& e : o.extensions.empty() ? default_audio_extensions() : o.extensions) {
      std::string x = lower(e);
      if (!x.empty() && x.front() == '.') x.erase(0, 1);
      exts_.insert(x);
    }
  }

  void root(const std::string& root) {
    const struct stat st = root_stat(root);
    if (S_ISREG(st.st_mode)) {
      add(root, root, st);
    } else {
      root_dirs_.insert({st.st_dev, st.st_ino});
      if (dirs_.insert({st.st_dev, st.st_ino}).second) walk(root, root, "");
    }
  }

 private:
  void warn(const std::string& path, const std::string& reason) { out_.warnings.push_back({path, reason}); }

  // Whether `path`, a link, leads out of every library folder. Left out unless follow_links_out
  // (said once, with where it leads and the way to allow it); `outside` says what it does.
  bool leaves_library(const std::string& path, bool& outside) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return false;  // gone meanwhile: the stat below says so
    const std::string real = buf;
    for (const std::string& r : real_roots_)
      if (path_under(real, r)) return false;
    outside = true;
    if (o_.follow_links_out) return false;
    warn(path, "a link to " + real + ", outside the library folders: not indexed (the server would never play it; "
                 "index its target folder as a folder of its own, or allow links out with --follow-links-out)");
    out_.links_out.push_back(path);
    return true;
  }

  void add(const std::string& path, const std::string& root, const struct stat& st, bool link = false, bool outside = false) {
    CrawledFile f;
    f.link = link;
    f.outside = outside;
    f.path = path;
    f.root = root;
    f.size = st.st_size;
    f.mtime_ns = ns(st.st_mtim);
    f.ctime_ns = ns(st.st_ctim);
    f.device = st.st_dev;
    f.inode = st.st_ino;
    if (o_.skip && o_.skip(f)) return;
    out_.files.push_back(std::move(f));
  }

  // Depth-first with an explicit stack of pending folders (no recursion depth limit).
  void walk(const std::string& top, const std::string& root, const std::string& top_relative) {
    // (path, relative, reached through a link out of the library: follow_links_out only)
    std::vector<std::tuple<std::string, std::string, bool>> stack = {{top, top_relative, false}};
    while (!stack.empty()) {
      auto [dir, rel, dir_outside] = std::move(stack.back());
      stack.pop_back();
      DIR* d = ::opendir(dir.c_str());
      if (!d) {
        warn(dir, std::string("folder skipped: ") + std::strerror(errno));
        continue;
      }
      std::vector<std::string> names;
      std::map<std::string, unsigned char> types;  // readdir's d_type of each name
      errno = 0;
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;  // ".", "..", hidden files ("._x.mp3" resource forks, .Trash)
        names.emplace_back(e->d_name);
        types[e->d_name] = e->d_type;
      }
      if (errno) warn(dir, std::string("folder partly read: ") + std::strerror(errno));
      const int dfd = ::dirfd(d);
      std::sort(names.begin(), names.end());
      std::vector<std::tuple<std::string, std::string, bool>> subdirs;
      for (const auto& name : names) {
        const std::string path = dir + "/" + name;
        const std::string relative = rel.empty() ? name : rel + "/" + name;
        struct stat st{};
        if (::fstatat(dfd, name.c_str(), &st, 0) != 0) {  // follows symbolic links
          const int err = errno;
          struct stat lst{};
          if (::fstatat(dfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode))
            warn(path, err == ELOOP ? "symbolic link loop" : std::string("broken symbolic link: ") + std::strerror(err));
          else
            warn(path, std::string("skipped: ") + std::strerror(err));
          continue;
        }
        struct stat lst{};
        const unsigned char type = types[name];
        const bool link = type == DT_LNK ||  // a file system without d_type: ask
                          (type == DT_UNKNOWN && ::fstatat(dfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode));
        bool outside = dir_outside;
        if (S_ISDIR(st.st_mode)) {
          if (matches_any(o_.exclude, relative, name)) continue;
          if (link && leaves_library(path, outside)) continue;
          if (!dirs_.insert({st.st_dev, st.st_ino}).second) {
            struct stat lst{};
            const bool is_link = ::fstatat(dfd, name.c_str(), &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode);
            if (!is_link && root_dirs_.count({st.st_dev, st.st_ino})) continue;  // also given as a root: no news
            warn(path, "folder already visited (symbolic link loop or a second link to it): skipped");
            continue;
          }
          subdirs.emplace_back(path, relative, outside);
        } else if (S_ISREG(st.st_mode)) {
          if (!exts_.count(extension_of(name))) continue;
          if (!o_.include.empty() && !matches_any(o_.include, relative, name)) continue;
          if (matches_any(o_.exclude, relative, name)) continue;
          if (link && leaves_library(path, outside)) continue;
          add(path, root, st, link, outside);
        } else if (exts_.count(extension_of(name)) && (o_.include.empty() || matches_any(o_.include, relative, name)) &&
                   !matches_any(o_.exclude, relative, name)) {
          // A FIFO, socket or device with an audio name: never opened (a FIFO would block), said.
          warn(path, std::string("skipped: not a regular file (") +
                         (S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" : "a device") + ")");
        }
      }
      ::closedir(d);
      // Push in reverse so the first folder in sorted order is walked first.
      for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));
    }
  }

  const CrawlOptions& o_;
  CrawlResult& out_;
  std::set<std::string> exts_;
  std::vector<std::string> real_roots_;
  std::set<std::pair<dev_t, ino_t>> dirs_, root_dirs_;
};

}  // namespace

const std::vector<std::string>& default_audio_extensions() {
  static const std::vector<std::string> exts = {"mp3", "flac", "ogg", "oga", "opus", "m4a", "aac",
                                                "wav", "wave", "aif", "aiff", "aifc", "wma", "alac",
                                                "mp4", "webm", "mka", "ape", "wv"};
  return exts;
}

std::string absolute_path(const std::string& path) {
  std::string p = fs::absolute(fs::path(path)).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

bool path_under(const std::string& path, const std::string& root) {
  if (root == "/") return !path.empty() && path.front() == '/';
  return path.size() >= root.size() && path.compare(0, root.size(), root) == 0 &&
         (path.size() == root.size() || path[root.size()] == '/');
}

void check_root(const std::string& root) { (void)root_stat(absolute_path(root)); }

CrawlResult crawl(const std::vector<std::string>& roots, const CrawlOptions& options) {
  CrawlResult out;
  std::vector<std::string> absolute;
  for (const auto& r : roots) absolute.push_back(absolute_path(r));
  Crawler crawler(options, out, absolute);
  for (const std::string& root : absolute) {
    out.roots.push_back(root);
    crawler.root(root);
  }
  std::sort(out.links_out.begin(), out.links_out.end());
  std::stable_sort(out.files.begin(), out.files.end(),
                   [](const CrawledFile& a, const CrawledFile& b) { return a.path < b.path; });
  // One entry per file: the same path from overlapping roots (silently), or one file behind
  // several names (a hard link, a symlink to a file): kept under its first name, with a warning
  // naming it for every other name, so nobody wonders why a file is missing from the index.
  std::map<std::pair<uint64_t, uint64_t>, std::string> kept;
  std::vector<CrawledFile> unique;
  unique.reserve(out.files.size());
  // A symbolic link's name is never served (docs/security.md), so the file is kept under a name
  // that is not a link when it has one: a link sorted before its target took the song's place
  // and left it unplayable.
  std::map<std::pair<uint64_t, uint64_t>, size_t> at;  // position in `unique`
  for (auto& f : out.files) {
    const auto [it, first] = kept.try_emplace({f.device, f.inode}, f.path);
    if (first) {
      at[{f.device, f.inode}] = unique.size();
      unique.push_back(std::move(f));
    } else if (it->second != f.path) {
      CrawledFile& held = unique[at.at({f.device, f.inode})];
      if (held.link && !f.link) {
        std::swap(held, f);
        it->second = held.path;
      }
      out.warnings.push_back({f.path, "the same file as " + it->second + " (a hard or symbolic link; indexed once)"});
    }
  }
  // A kept name changed from a link to its target's may be out of path order.
  std::sort(unique.begin(), unique.end(), [](const CrawledFile& a, const CrawledFile& b) { return a.path < b.path; });
  out.files = std::move(unique);
  return out;
}

}  // namespace clap::index
