// Finding the audio files under the folders given to `clapsearch index`.
//
// Recursive and deterministic (paths sorted). Symbolic links are followed, to files and to
// folders; a folder reached twice (a symlink loop, or two links to one folder) is walked once,
// recognised by device + inode. Folders that cannot be read (permission denied...) are skipped
// with a warning; FIFOs, sockets and device files are ignored without being opened (so a FIFO
// never blocks the crawl). A file reachable by several paths (hard or symbolic links) is listed
// once, under the first path in sorted order, with a warning for each other path.
//
// Selection: the extension must be one of `extensions` (case-insensitive); when `include`
// globs are given the file must match one of them; a file or folder matching an `exclude`
// glob is skipped. Globs use fnmatch(3) and are tried on the path relative to the root and on
// the base name ("*.flac", "Podcasts", "*/live/*").
//
// Paths are absolute and lexically normal, but symbolic links are not resolved: a library
// at ~/Music that links to another disk keeps its ~/Music paths.
//
// A link (to a file or a folder) whose target resolves outside every library folder (the roots
// of this crawl and CrawlOptions::library_roots) is left out with a warning naming it, where it
// leads and how to allow it, unless CrawlOptions::follow_links_out: the server never plays such a
// file without that opt-in (docs/security.md), so it would be listed and never played. A root
// given as a link is a library folder, not a link out.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace clap::index {

// mp3 flac ogg oga opus m4a aac wav wave aif aiff aifc wma alac mp4 webm mka ape wv
const std::vector<std::string>& default_audio_extensions();

struct CrawledFile {
  std::string path;  // absolute
  std::string root;  // the root it was found under (absolute)
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  uint64_t device = 0, inode = 0;
  bool link = false;  // the name is a symbolic link (never served: docs/security.md)
  // Reached through a link out of every library folder (follow_links_out only): the indexer
  // compares its ctime too, which the server checks before playing it.
  bool outside = false;
};

struct CrawlOptions {
  std::vector<std::string> extensions;  // lower case, no dot; empty = default_audio_extensions()
  std::vector<std::string> include, exclude;
  // Files left out of this crawl (not listed, so neither indexed nor counted as missing): the
  // files a watcher (index/watcher.h) sees still being written. Unset = none.
  std::function<bool(const CrawledFile&)> skip;
  bool follow_links_out = false;           // --follow-links-out: links out of the library are crawled too
  std::vector<std::string> library_roots;  // the index's other folders (links into them are inside)
};

struct CrawlWarning {
  std::string path, reason;
};

struct CrawlResult {
  std::vector<std::string> roots;   // absolute, lexically normal, in the order given
  std::vector<CrawledFile> files;   // sorted by path
  std::vector<CrawlWarning> warnings;
  std::vector<std::string> links_out;  // the links left out (files and folders), sorted
};

// Roots may be folders or single files (a file given explicitly is taken whatever its
// extension). Throws clap::Error when a root does not exist or is neither.
CrawlResult crawl(const std::vector<std::string>& roots, const CrawlOptions& options = {});
// The same check of each root, and its error, on its own: asked before `index` creates a new
// index, so that a mistyped folder leaves nothing at the --db path (hostile pass 12, R12C-1).
void check_root(const std::string& root);

// Absolute and lexically normal (no ".", "..", duplicate or trailing slashes); symlinks kept.
std::string absolute_path(const std::string& path);
// True when `path` is `root` or lies under it (plain path-prefix comparison on whole components).
bool path_under(const std::string& path, const std::string& root);

}  // namespace clap::index
