// Issue 53: `index --rebuild` of a sound index is built aside and copied over the old library in
// one transaction, so that readers never see an empty or half-built index, and a rebuild that is
// killed leaves the old library as it was (and its folder is cleared by the next rebuild).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "store/sqlite_store.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
std::string q(const std::string& s) { return test::quoted(s); }
std::string model_dir() { return test::case_dir("tiny-unfused"); }

int64_t tracks_in(const std::string& db) {
  store::SqliteStore s = store::SqliteStore::open_readonly(db);
  return s.counts().tracks;
}

// The folders a rebuild of `db` builds in (".library.db.rebuild-XXXXXX"), and the tracks the
// index in the first one holds (0 while none is written yet).
int64_t staged_tracks(const std::string& db, int* folders = nullptr) {
  int n = 0;
  int64_t tracks = 0;
  const std::string prefix = "." + fs::path(db).filename().string() + ".rebuild-";
  for (const auto& e : fs::directory_iterator(fs::path(db).parent_path())) {
    if (e.path().filename().string().rfind(prefix, 0) != 0) continue;
    ++n;
    try {
      if (fs::exists(e.path() / "rebuild.db")) tracks = tracks_in((e.path() / "rebuild.db").string());
    } catch (const std::exception&) {  // not created or migrated yet
    }
  }
  if (folders) *folders = n;
  return tracks;
}

TEST(RebuildReaders, ReadersSeeTheOldLibraryUntilTheRebuildIsWhole) {
  const std::string root = test::temp_dir();
  const std::string lib = root + "/lib", db = root + "/index/library.db";
  const int files = 6;
  for (int i = 0; i < files; ++i)  // 20 s each: 3 windows per track, one per model call below
    test::ffmpeg(lib + "/t" + std::to_string(i) + ".flac",
                 "-f lavfi -i sine=f=" + std::to_string(200 + 70 * i) + ":d=20:sample_rate=22050 -c:a flac");
  fs::create_directories(root + "/index");
  std::string out, err;
  ASSERT_EQ(test::run_cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " -q", &out, &err), 0) << err;
  ASSERT_EQ(tracks_in(db), files);

  // A rebuild, watched by readers until it has written a track of the new library, then killed.
  // Before the fix the rebuild emptied the index first: the readers saw 0 tracks, then a few.
  const std::vector<std::string> rebuild = {"index", lib, "--db", db, "--model", model_dir(), "--rebuild",
                                            "--batch", "1", "--threads", "1", "--quiet"};
  test::Child c = test::start_cli(rebuild);
  int reads = 0;
  bool progressed = false;
  for (const auto t0 = Clock::now(); Clock::now() - t0 < std::chrono::seconds(120);) {
    ASSERT_EQ(tracks_in(db), files) << "after " << reads << " reads, the rebuild showed readers a partial library";
    ++reads;
    if (staged_tracks(db) >= 1) {
      progressed = true;
      break;
    }
    if (kill(c.pid, 0) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // The CLI's readers too, while the rebuild is under way.
  ASSERT_EQ(test::run_cli("search 'a tone' -k 10 --json --db " + q(db), &out, &err), 0) << err;
  const nlohmann::json found = nlohmann::json::parse(out);
  EXPECT_EQ((found.is_array() ? found : found["results"]).size(), static_cast<size_t>(files)) << out;
  ASSERT_EQ(kill(c.pid, SIGKILL), 0);
  ASSERT_EQ(test::wait_exit(c.pid), 128 + SIGKILL) << "the rebuild ended before it could be killed: "
                                                   << test::read_file(c.err_path);
  ASSERT_TRUE(progressed) << "the rebuild never wrote a track aside (" << reads << " reads)";

  // Killed: the old library is whole, and its folder is left for the next rebuild to clear.
  {
    store::SqliteStore s = store::SqliteStore::open(db);
    for (const auto& p : s.check()) ADD_FAILURE() << p;
    EXPECT_EQ(s.counts().tracks, files);
  }
  int folders = 0;
  staged_tracks(db, &folders);
  EXPECT_EQ(folders, 1);

  // A rebuild that ends: the new library, whole, and nothing left beside the index.
  ASSERT_EQ(test::run_cli("index " + q(lib) + " --db " + q(db) + " --model " + q(model_dir()) + " --rebuild --json -q",
                          &out, &err), 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["indexed"], files) << out;
  {
    store::SqliteStore s = store::SqliteStore::open(db);
    for (const auto& p : s.check()) ADD_FAILURE() << p;
    EXPECT_EQ(s.counts().tracks, files);
  }
  staged_tracks(db, &folders);
  EXPECT_EQ(folders, 0);
}

}  // namespace
}  // namespace clap
