// The watcher's logic (index/watcher.h) on real folders with real inotify: temporary names,
// durations, debounce and stable-file detection (driven with explicit times, so no test depends
// on how fast the machine is), coalescing and the bound on remembered changes, folders added and
// removed (watch descriptors released), a root that disappears and comes back, a root inotify
// cannot watch (polled), and an overflowing event queue. Waiting is polling with generous
// deadlines; nothing asserts how long anything took.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "index/watcher.h"
#include "support/golden.h"

namespace clap::index {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Change = ChangeTracker::Change;

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

void append(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app) << bytes;
}

std::string fresh_dir(const std::string& name) {
  const std::string d = test::temp_dir() + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

WatchOptions quick() {
  WatchOptions o;
  o.quiet = 200ms;
  o.rescan_every = 300ms;
  o.open_wait = 30s;
  return o;
}

TEST(Watcher, TemporaryNamesOfDownloadersAndEditors) {
  for (const char* name : {"song.mp3.part", "song.flac.crdownload", "song.mp3.tmp", "song.mp3~", ".song.mp3", "a.ogg.!qB",
                           "a.ogg.!ut", "x.partial", "X.PART", ".~lock.song.flac#", "y.mp3.download", ".song.mp3.swp"})
    EXPECT_TRUE(is_temporary_name(name)) << name;
  for (const char* name : {"song.mp3", "Part 2.flac", "tmp.ogg", "a.b.c.wav", "partial.m4a"})
    EXPECT_FALSE(is_temporary_name(name)) << name;
}

TEST(Watcher, Durations) {
  EXPECT_EQ(parse_duration("2s", "--x"), 2000ms);
  EXPECT_EQ(parse_duration("2", "--x"), 2000ms);
  EXPECT_EQ(parse_duration("500ms", "--x"), 500ms);
  EXPECT_EQ(parse_duration("1.5s", "--x"), 1500ms);
  EXPECT_EQ(parse_duration("10min", "--x"), 600'000ms);
  EXPECT_EQ(parse_duration("10m", "--x"), 600'000ms);
  EXPECT_EQ(parse_duration("1h", "--x"), 3'600'000ms);
  for (const char* bad : {"", "s", "2 weeks", "-1s", "0", "fast", "2d"}) {
    const std::string e = test::error_of([&] { parse_duration(bad, "--rescan-every"); });
    EXPECT_NE(e.find("--rescan-every"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_EQ(network_filesystem(test::temp_dir()), "");  // the test's scratch folder is local
}

TEST(Watcher, AClosedFileIsTakenAfterTheQuietPeriod) {
  const std::string root = fresh_dir("closed");
  const WatchOptions o = quick();
  ChangeTracker t(1, o);
  const auto t0 = WatchClock::now();
  write_file(root + "/a.mp3", "abc");
  t.note(0, root + "/a.mp3", Change::Written, t0);
  t.note(0, root + "/a.mp3", Change::Closed, t0 + 10ms);
  EXPECT_FALSE(t.due({root}, t0 + 100ms));
  const auto r = t.due({root}, t0 + 10ms + o.quiet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->roots, std::vector<std::string>{root});
  EXPECT_TRUE(r->not_ready.empty());
  EXPECT_EQ(r->reason, "1 change");
  EXPECT_TRUE(t.idle());
  EXPECT_FALSE(t.due({root}, t0 + 10s));  // forgotten once returned
}

TEST(Watcher, AFileStillOpenForWritingOrStillGrowingWaits) {
  const std::string root = fresh_dir("growing");
  const WatchOptions o = quick();
  ChangeTracker t(1, o);
  const auto t0 = WatchClock::now();
  const std::string growing = root + "/growing.flac", done = root + "/done.flac";
  write_file(growing, "first part");
  t.note(0, growing, Change::Written, t0);  // opened and written, not closed
  write_file(done, "whole");
  t.note(0, done, Change::Closed, t0);
  // Quiet for longer than the quiet period, but still open: the finished file is due, the open
  // one is left out of that rescan.
  auto r = t.due({root}, t0 + 3 * o.quiet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->not_ready, std::set<std::string>{growing});
  CrawledFile f;
  f.path = growing;
  EXPECT_TRUE(r->skip(f));
  f.path = done;
  EXPECT_FALSE(r->skip(f));
  EXPECT_EQ(*r->left_out, 1);
  EXPECT_EQ(t.pending(), 1u);
  // It grew without an event we saw (a writer on another machine, mmap): the quiet period starts again.
  append(growing, " second part");
  const auto t1 = t0 + 4 * o.quiet;
  EXPECT_FALSE(t.due({root}, t1));
  t.note(0, growing, Change::Closed, t1 + 10ms);
  EXPECT_FALSE(t.due({root}, t1 + 10ms + o.quiet / 2));
  r = t.due({root}, t1 + 10ms + o.quiet);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->not_ready.empty());
  // An open file that stays unchanged past open_wait is taken (a stalled download).
  t.note(0, growing, Change::Written, t1);
  EXPECT_FALSE(t.due({root}, t1 + o.open_wait - 1ms));
  EXPECT_TRUE(t.due({root}, t1 + o.open_wait));
}

TEST(Watcher, DeletionsAreTakenWhenTheDeletingIsOver) {
  // rm -r of a folder, file by file: no rescan half-way (when the indexer's "held" rule, more
  // than half of a root's tracks gone, would not yet protect the rest).
  const std::string root = fresh_dir("deleting");
  const WatchOptions o = quick();
  ChangeTracker t(1, o);
  const auto t0 = WatchClock::now();
  for (int i = 0; i < 10; ++i) t.note(0, root + "/f" + std::to_string(i) + ".mp3", Change::Gone, t0 + i * o.quiet / 2);
  const auto last = t0 + 9 * o.quiet / 2;
  EXPECT_FALSE(t.due({root}, last));  // the first deletions are long quiet, but deleting goes on
  EXPECT_FALSE(t.due({root}, last + o.quiet - 1ms));
  const auto r = t.due({root}, last + o.quiet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "10 changes");
}

TEST(Watcher, ChangesCoalesceAndTheirNumberIsBounded) {
  const std::string a = fresh_dir("bound-a"), b = fresh_dir("bound-b");
  WatchOptions o = quick();
  o.max_pending = 10;
  ChangeTracker t(2, o);
  const auto t0 = WatchClock::now();
  for (int i = 0; i < 1000; ++i) t.note(0, a + "/same.mp3", Change::Written, t0);
  EXPECT_EQ(t.pending(), 1u);
  for (int i = 0; i < 9; ++i) t.note(1, b + "/f" + std::to_string(i) + ".mp3", Change::Gone, t0);
  EXPECT_EQ(t.pending(), 10u);
  t.note(1, b + "/one-more.mp3", Change::Gone, t0);  // past the bound: whole rescans of both roots instead
  EXPECT_EQ(t.pending(), 0u);
  const auto r = t.due({a, b}, t0 + o.quiet);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->roots, (std::vector<std::string>{a, b}));
  EXPECT_NE(r->reason.find("more than 10 changed files"), std::string::npos) << r->reason;
  // A failed rescan is retried whole.
  t.failed(r->root_numbers, "locked", t0 + o.quiet);
  EXPECT_FALSE(t.due({a, b}, t0 + o.quiet));
  EXPECT_TRUE(t.due({a, b}, t0 + 2 * o.quiet));
}

// Steps a watcher until `done` holds (deadline 20 s), collecting the rescans it asks for.
bool step_until(Watcher& w, std::vector<Rescan>& rescans, const std::function<bool()>& done) {
  const auto deadline = WatchClock::now() + 20s;
  while (!done()) {
    if (WatchClock::now() > deadline) return false;
    w.step(50ms, [&](const Rescan& r) {
      rescans.push_back(r);
      return true;
    });
  }
  return true;
}

TEST(Watcher, FoldersGetWatchesAndLoseThem) {
  const std::string root = fresh_dir("tree");
  std::vector<std::string> log;
  Watcher w({root}, quick(), [&](const std::string& line) { log.push_back(line); });
  w.start();
  EXPECT_EQ(w.mode(0), Watcher::Mode::Inotify);
  EXPECT_EQ(w.watched_folders(), 1u);
  std::vector<Rescan> rescans;
  for (int i = 0; i < 30; ++i) fs::create_directories(root + "/album" + std::to_string(i) + "/cd1");
  ASSERT_TRUE(step_until(w, rescans, [&] { return w.watched_folders() == 61; })) << w.watched_folders();
  // Folders that appear cause one rescan (their files came without events), once quiet.
  ASSERT_TRUE(step_until(w, rescans, [&] { return !rescans.empty() && w.pending() == 0; }));
  for (int i = 0; i < 30; ++i) fs::remove_all(root + "/album" + std::to_string(i));
  ASSERT_TRUE(step_until(w, rescans, [&] { return w.watched_folders() == 1; })) << w.watched_folders();
  // A folder moved out of the tree and one moved in.
  fs::create_directories(root + "/x/y");
  ASSERT_TRUE(step_until(w, rescans, [&] { return w.watched_folders() == 3; }));
  const std::string outside = fresh_dir("outside");
  fs::rename(root + "/x", outside + "/x");
  ASSERT_TRUE(step_until(w, rescans, [&] { return w.watched_folders() == 1; }));
  fs::rename(outside + "/x", root + "/back");
  ASSERT_TRUE(step_until(w, rescans, [&] { return w.watched_folders() == 3; }));
  // The descriptors the kernel holds for this process are as many as the table says: none leaked.
  // (fdinfo of the inotify descriptor lists one "inotify wd:" line per watch.)
  size_t kernel_watches = 0;
  for (const auto& fd : fs::directory_iterator("/proc/self/fdinfo")) {
    std::ifstream in(fd.path());
    for (std::string line; std::getline(in, line);)
      if (line.rfind("inotify wd:", 0) == 0) ++kernel_watches;
  }
  EXPECT_EQ(kernel_watches, 3u);
}

TEST(Watcher, TemporaryNamesAreIgnoredUntilRenamed) {
  const std::string root = fresh_dir("temp-names");
  Watcher w({root}, quick(), {});
  w.start();
  std::vector<Rescan> rescans;
  write_file(root + "/cover.jpg", "not audio");
  write_file(root + "/song.mp3.part", "partial download");
  write_file(root + "/.song.mp3", "hidden");
  // Several quiet periods with only ignored names: nothing to rescan.
  const auto until = WatchClock::now() + 5 * quick().quiet;
  while (WatchClock::now() < until) w.step(50ms, [&](const Rescan& r) {
    rescans.push_back(r);
    return true;
  });
  EXPECT_TRUE(rescans.empty());
  EXPECT_EQ(w.pending(), 0u);
  fs::rename(root + "/song.mp3.part", root + "/song.mp3");
  ASSERT_TRUE(step_until(w, rescans, [&] { return !rescans.empty(); }));
  EXPECT_EQ(rescans[0].roots, std::vector<std::string>{root});
  EXPECT_EQ(rescans[0].reason, "1 change");
}

TEST(Watcher, AFolderThatDisappearsIsNotRescannedAndIsWatchedAgainWhenBack) {
  const std::string parent = fresh_dir("vanishing"), root = parent + "/music", away = parent + "/away";
  write_file(root + "/a/one.mp3", "x");
  std::vector<std::string> log;
  Watcher w({root}, quick(), [&](const std::string& line) { log.push_back(line); });
  w.start();
  std::vector<Rescan> rescans;
  fs::rename(root, away);  // an unmounted drive, as the watcher sees it
  ASSERT_TRUE(step_until(w, rescans, [&] { return w.mode(0) == Watcher::Mode::Missing; }));
  EXPECT_EQ(w.watched_folders(), 0u);
  // Its files' changes are not rescanned while it is gone (the tracks stay in the index).
  const auto until = WatchClock::now() + 5 * quick().quiet;
  while (WatchClock::now() < until) w.step(50ms, [&](const Rescan& r) {
    rescans.push_back(r);
    return true;
  });
  EXPECT_TRUE(rescans.empty());
  fs::rename(away, root);
  ASSERT_TRUE(step_until(w, rescans, [&] { return !rescans.empty(); }));
  EXPECT_EQ(w.mode(0), Watcher::Mode::Inotify);
  EXPECT_EQ(w.watched_folders(), 2u);
  EXPECT_EQ(rescans[0].reason, "the folder is back");
  bool said_gone = false, said_back = false;
  for (const auto& line : log) {
    said_gone |= line.find("not there") != std::string::npos;
    said_back |= line.find("back") != std::string::npos;
  }
  EXPECT_TRUE(said_gone && said_back);
  // Replaced by another folder of the same name (deleted and made again): watched afresh.
  fs::remove_all(root);
  fs::create_directories(root);
  rescans.clear();
  ASSERT_TRUE(step_until(w, rescans, [&] { return !rescans.empty(); }));
  EXPECT_EQ(w.mode(0), Watcher::Mode::Inotify);
  EXPECT_EQ(w.watched_folders(), 1u);
}

TEST(Watcher, ARootInotifyCannotWatchIsRescannedPeriodically) {
  // A single file as a root stands for the roots watching cannot follow (network filesystems,
  // the watch limit): periodic rescans, said once in the log.
  const std::string dir = fresh_dir("polled");
  write_file(dir + "/single.mp3", "x");
  std::vector<std::string> log;
  Watcher w({dir + "/single.mp3"}, quick(), [&](const std::string& line) { log.push_back(line); });
  w.start();
  EXPECT_EQ(w.mode(0), Watcher::Mode::Polling);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("rescanned every 300 ms instead of watched"), std::string::npos) << log[0];
  std::vector<Rescan> rescans;
  ASSERT_TRUE(step_until(w, rescans, [&] { return rescans.size() >= 2; }));
  EXPECT_EQ(rescans[0].reason, "periodic rescan");
  // A periodic rescan leaves out files modified within the quiet period (maybe still being written).
  CrawledFile recent;
  recent.path = dir + "/single.mp3";
  recent.mtime_ns = rescans[0].modified_after_ns + 1;
  EXPECT_TRUE(rescans[0].skip(recent));
  recent.mtime_ns = rescans[0].modified_after_ns - 1'000'000'000;
  EXPECT_FALSE(rescans[0].skip(recent));
  EXPECT_EQ(log.size(), 1u);  // said once
}

TEST(Watcher, AnOverflowingEventQueueMeansOneFullRescan) {
  int max_queued = 16384;
  std::ifstream("/proc/sys/fs/inotify/max_queued_events") >> max_queued;
  if (max_queued > 200'000) GTEST_SKIP() << "max_queued_events is " << max_queued << ": too many events to overflow it";
  const std::string root = fresh_dir("overflow");
  std::vector<std::string> log;
  Watcher w({root}, quick(), [&](const std::string& line) { log.push_back(line); });
  w.start();
  // Three events per file (created, closed, deleted), none read meanwhile.
  for (int i = 0; i < max_queued / 3 + 100; ++i) {
    const std::string p = root + "/f" + std::to_string(i) + ".mp3";
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    ::unlink(p.c_str());
  }
  std::vector<Rescan> rescans;
  ASSERT_TRUE(step_until(w, rescans, [&] {
    for (const auto& r : rescans)
      if (r.reason.find("event queue overflow") != std::string::npos) return true;
    return false;
  }));
  bool said = false;
  for (const auto& line : log) said |= line.find("overflowed") != std::string::npos;
  EXPECT_TRUE(said);
  EXPECT_EQ(w.mode(0), Watcher::Mode::Inotify);
}

}  // namespace
}  // namespace clap::index
