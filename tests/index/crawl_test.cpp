// Crawling music folders: extensions, globs, order, symlinks (loops included), FIFOs,
// unreadable folders.
#include "index/crawl.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "support/golden.h"

namespace clap::index {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p, const std::string& content = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

std::vector<std::string> relative_paths(const CrawlResult& r, const std::string& root) {
  std::vector<std::string> out;
  for (const auto& f : r.files) out.push_back(fs::path(f.path).lexically_relative(root).string());
  return out;
}

TEST(Crawl, ExtensionsOrderAndHiddenFiles) {
  const std::string root = test::temp_dir() + "/music";
  for (const char* f : {"b/2.flac", "b/1.MP3", "a.ogg", "a.txt", "cover.jpg", "z/deep/er/x.opus", ".hidden.mp3",
                        ".cache/y.mp3", "c/._resource.m4a", "noext", "w.wav", "v.WAVE", "x.aiff", "y.m4a"})
    touch(fs::path(root) / f);
  const CrawlResult r = crawl({root});
  EXPECT_EQ(relative_paths(r, root), (std::vector<std::string>{"a.ogg", "b/1.MP3", "b/2.flac", "v.WAVE", "w.wav",
                                                               "x.aiff", "y.m4a", "z/deep/er/x.opus"}));
  ASSERT_EQ(r.roots.size(), 1u);
  EXPECT_EQ(r.roots[0], root);
  for (const auto& f : r.files) {
    EXPECT_EQ(f.root, root);
    EXPECT_EQ(f.size, 1);
    EXPECT_GT(f.mtime_ns, 0);
  }
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Crawl, IncludeExcludeGlobs) {
  const std::string root = test::temp_dir() + "/music";
  for (const char* f : {"rock/a.mp3", "rock/b.flac", "jazz/c.mp3", "Podcasts/p.mp3", "jazz/live/d.flac"})
    touch(fs::path(root) / f);
  auto rel = [&](const CrawlOptions& o) { return relative_paths(crawl({root}, o), root); };
  CrawlOptions o;
  o.include = {"*.flac"};
  EXPECT_EQ(rel(o), (std::vector<std::string>{"jazz/live/d.flac", "rock/b.flac"}));
  o = {};
  o.exclude = {"Podcasts"};  // a folder name
  EXPECT_EQ(rel(o), (std::vector<std::string>{"jazz/c.mp3", "jazz/live/d.flac", "rock/a.mp3", "rock/b.flac"}));
  o.exclude = {"*/live/*", "rock/a.mp3"};  // relative paths
  EXPECT_EQ(rel(o), (std::vector<std::string>{"Podcasts/p.mp3", "jazz/c.mp3", "rock/b.flac"}));
  o = {};
  o.include = {"jazz/*"};
  o.exclude = {"*.flac"};
  EXPECT_EQ(rel(o), (std::vector<std::string>{"jazz/c.mp3"}));
  o = {};
  o.extensions = {"flac"};
  EXPECT_EQ(rel(o), (std::vector<std::string>{"jazz/live/d.flac", "rock/b.flac"}));
}

TEST(Crawl, SymlinkLoopsFifosAndDuplicates) {
  const std::string root = test::temp_dir() + "/music";
  touch(fs::path(root) / "a/song.mp3");
  touch(fs::path(root) / "b/other.flac");
  fs::create_directory_symlink("..", fs::path(root) / "a/loop");          // a/loop -> music
  fs::create_directory_symlink(root + "/a", fs::path(root) / "b/to_a");   // second way into a
  fs::create_symlink(root + "/b/other.flac", fs::path(root) / "link.flac");  // file symlink: same file twice
  fs::create_symlink(root + "/missing.mp3", fs::path(root) / "broken.mp3");
  fs::create_symlink("self.mp3", fs::path(root) / "self.mp3");  // symlink to itself
  ASSERT_EQ(mkfifo((root + "/pipe.mp3").c_str(), 0644), 0);    // opening it would block forever
  touch(fs::path(root) / "outside/ext.wav");
  fs::create_directory_symlink(root + "/outside", fs::path(root) / "c_linked");
  const auto t0 = std::chrono::steady_clock::now();
  const CrawlResult r = crawl({root});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  // Each file once, under its first path in sorted order; symlinked folders are followed.
  EXPECT_EQ(relative_paths(r, root), (std::vector<std::string>{"a/song.mp3", "b/other.flac", "c_linked/ext.wav"}));
  bool loop_warned = false, broken_warned = false, self_warned = false;
  for (const auto& w : r.warnings) {
    std::printf("[ warning ] %s: %s\n", w.path.c_str(), w.reason.c_str());
    if (w.path == root + "/a/loop") loop_warned = true;
    if (w.path == root + "/broken.mp3") broken_warned = w.reason.find("broken symbolic link") != std::string::npos;
    if (w.path == root + "/self.mp3") self_warned = w.reason.find("loop") != std::string::npos;
  }
  EXPECT_TRUE(loop_warned);
  EXPECT_TRUE(broken_warned);
  EXPECT_TRUE(self_warned);
}

// R7S-1's sibling: a file behind two names was kept under the first in path order, so a link
// sorted before its target ("a-link.flac -> b/song.flac") took the song's place, and the server
// never serves a link: the song, whose file is in the library, could not be played. The name that
// is not a link is kept.
TEST(Crawl, AFileIsKeptUnderItsOwnNameNotALinksName) {
  const std::string root = test::temp_dir() + "/link-first";
  fs::remove_all(root);
  touch(fs::path(root) / "b/song.flac");
  fs::create_symlink(root + "/b/song.flac", fs::path(root) / "a-link.flac");
  const CrawlResult r = crawl({root});
  EXPECT_EQ(relative_paths(r, root), (std::vector<std::string>{"b/song.flac"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].path, root + "/a-link.flac");
  EXPECT_EQ(r.warnings[0].reason, "the same file as " + root + "/b/song.flac (a hard or symbolic link; indexed once)");
}

// crawl({root}) as the unprivileged user nobody (65534) in a child process: root reads every
// folder whatever its permissions, and the tests run as root in CI. Files and warnings come back
// through a pipe, one per line ("F path", "W path<TAB>reason").
CrawlResult crawl_as_nobody(const std::string& root) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    std::string out;
    if (setgid(65534) != 0 || setuid(65534) != 0) {
      out = "E cannot become nobody\n";
    } else {
      try {
        const CrawlResult r = crawl({root});
        for (const auto& f : r.files) out += "F " + f.path + "\n";
        for (const auto& w : r.warnings) out += "W " + w.path + "\t" + w.reason + "\n";
      } catch (const std::exception& e) {
        out = std::string("E ") + e.what() + "\n";
      }
    }
    for (size_t at = 0; at < out.size();) {
      const ssize_t n = write(fds[1], out.data() + at, out.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  CrawlResult r;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("E ", 0) == 0) throw std::runtime_error("crawl as nobody: " + line.substr(2));
    if (line.rfind("F ", 0) == 0) r.files.push_back({line.substr(2), root});
    if (line.rfind("W ", 0) == 0) {
      const size_t tab = line.find('\t');
      r.warnings.push_back({line.substr(2, tab - 2), line.substr(tab + 1)});
    }
  }
  return r;
}

TEST(Crawl, UnreadableFolderIsSkippedWithWarning) {
  const std::string dir = test::temp_dir();
  const std::string root = dir + "/music";
  touch(fs::path(root) / "ok/a.mp3");
  touch(fs::path(root) / "locked/b.mp3");
  fs::permissions(fs::path(root) / "locked", fs::perms::none);
  CrawlResult r;
  if (geteuid() == 0) {
    // nobody must reach the music folder: every folder above it opened for traversal and reading.
    for (fs::path p = root; p != fs::path(dir).parent_path().parent_path(); p = p.parent_path())
      fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                             fs::perms::others_exec);
    fs::permissions(fs::path(root) / "ok", fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
    r = crawl_as_nobody(root);
  } else {
    r = crawl({root});
  }
  fs::permissions(fs::path(root) / "locked", fs::perms::owner_all);
  EXPECT_EQ(relative_paths(r, root), std::vector<std::string>{"ok/a.mp3"});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].path, root + "/locked");
  EXPECT_NE(r.warnings[0].reason.find("Permission denied"), std::string::npos) << r.warnings[0].reason;
}

TEST(Crawl, RootsFilesAndErrors) {
  const std::string dir = test::temp_dir();
  touch(fs::path(dir) / "m/a.mp3");
  touch(fs::path(dir) / "m/sub/b.mp3");
  touch(fs::path(dir) / "notes.xyz");
  // Overlapping roots give each file once; a file root is taken whatever its extension.
  const CrawlResult r = crawl({dir + "/m/sub", dir + "/m/", dir + "/notes.xyz"});
  EXPECT_EQ(relative_paths(r, dir), (std::vector<std::string>{"m/a.mp3", "m/sub/b.mp3", "notes.xyz"}));
  EXPECT_EQ(r.roots, (std::vector<std::string>{dir + "/m/sub", dir + "/m", dir + "/notes.xyz"}));
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_THROW(crawl({dir + "/does-not-exist"}), Error);
  EXPECT_TRUE(path_under("/a/b/c.mp3", "/a/b"));
  EXPECT_TRUE(path_under("/a/b", "/a/b"));
  EXPECT_FALSE(path_under("/a/bc/d.mp3", "/a/b"));
  EXPECT_TRUE(path_under("/x", "/"));
  EXPECT_EQ(absolute_path("/a/./b//c/../d/"), "/a/b/d");
}

}  // namespace
}  // namespace clap::index
