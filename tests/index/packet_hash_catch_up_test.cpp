// Issue 53: where the indexer reads a file's packet hash (audio/packet_hash.h, index/retag_moves.h).
// New files are hashed by the pipeline's decoder thread and the hash is written with the track;
// tracks indexed before packet hashes were stored are caught up after the pipeline, file by file,
// with progress and a stop between two files; the check that the file read is the version indexed
// is one helper (FileStamp::read_as_indexed), for the fingerprints' catch-up too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "audio/packet_hash.h"
#include "index/indexer.h"
#include "index/precut.h"
#include "index/retag_moves.h"
#include "store/sqlite_store.h"
#include "support/golden.h"
#include "support/kept_ids.h"
#include "support/tiny_index.h"

namespace clap::index {
namespace {

namespace fs = std::filesystem;

IndexSummary index_lib(store::Store& store, const std::string& lib, const IndexCallbacks& callbacks) {
  return test::index_with_tiny(store, {lib}, {}, callbacks);
}

std::string library(const std::string& name, int files) {
  const std::string lib = test::temp_dir() + "/" + name;
  for (int i = 0; i < files; ++i)
    test::ffmpeg(lib + "/t" + std::to_string(i) + ".flac", "-f lavfi -i \"sine=f=" + std::to_string(300 + 70 * i) + ":d=2\"");
  return lib;
}

// A run stopped once its files are indexed (a watch's stop, a crash) keeps their packet hashes: they
// were made by a demux after the pipeline, which a stop then never reached.
TEST(RetagMovesCatchUp, NewFilesGetTheirPacketHashWithTheirTrack) {
  const std::string lib = library("hashed-in-pipeline", 3);
  store::SqliteStore store = store::SqliteStore::open(test::temp_dir() + "/hashed-in-pipeline.db");
  int catch_up = 0;  // progress reports of the catch-up (pass 0)
  IndexCallbacks cb;
  cb.progress = [&](const IndexProgress& p) {
    catch_up += p.pass == 0;
    if (p.pass == 1 && p.files_done == 3) throw std::runtime_error("stop");  // every file indexed
  };
  EXPECT_THROW(index_lib(store, lib, cb), std::runtime_error);
  EXPECT_EQ(catch_up, 0);
  ASSERT_EQ(store.counts().ok, 3);
  EXPECT_TRUE(store.tracks_without_packet_hash().empty());
  for (const store::FileState& f : store.file_states())
    EXPECT_EQ(store.packet_hashes({f.content_hash}).at(f.content_hash), audio::packet_hash(f.path)) << f.path;
  // The next run has nothing to catch up.
  cb.progress = [&](const IndexProgress& p) { catch_up += p.pass == 0; };
  index_lib(store, lib, cb);
  EXPECT_EQ(catch_up, 0);
}

TEST(RetagMovesCatchUp, AStopBetweenTwoFilesKeepsTheHashesMade) {
  const std::string lib = library("catch-up-stop", 5);
  store::SqliteStore store = store::SqliteStore::open(test::temp_dir() + "/catch-up-stop.db");
  index_lib(store, lib, {});
  test::forget_packet_hashes(test::temp_dir() + "/catch-up-stop.db");  // as an index made before they were stored
  ASSERT_EQ(store.tracks_without_packet_hash().size(), 5u);
  IndexCallbacks cb;
  std::vector<int64_t> seen;
  cb.progress = [&](const IndexProgress& p) {
    EXPECT_EQ(p.pass, 0);
    EXPECT_EQ(p.files_total, 5);
    seen.push_back(p.files_done);
    if (p.files_done == 2) throw std::runtime_error("stop");  // as a watch's stop does (service/watching.cpp)
  };
  IndexSummary sum;
  EXPECT_THROW(refresh_packet_hashes(store, sum, cb), std::runtime_error);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(store.tracks_without_packet_hash().size(), 3u) << "the two made are kept";
  refresh_packet_hashes(store, sum, {});
  EXPECT_TRUE(store.tracks_without_packet_hash().empty());
}

TEST(RetagMovesCatchUp, FileStampReadsOnlyTheVersionIndexed) {
  const std::string path = test::temp_dir() + "/stamp/file.bin";
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "abc";
  const std::optional<FileStamp> st = FileStamp::of(path);
  ASSERT_TRUE(st);
  int reads = 0;
  EXPECT_TRUE(FileStamp::read_as_indexed(path, st->size, st->mtime_ns, [&] { ++reads; }));
  EXPECT_EQ(reads, 1);
  // Another size or time: not read at all.
  EXPECT_FALSE(FileStamp::read_as_indexed(path, st->size + 1, st->mtime_ns, [&] { ++reads; }));
  EXPECT_FALSE(FileStamp::read_as_indexed(path, st->size, st->mtime_ns + 1, [&] { ++reads; }));
  EXPECT_FALSE(FileStamp::read_as_indexed(path + ".gone", st->size, st->mtime_ns, [&] { ++reads; }));
  EXPECT_EQ(reads, 1);
  // Written while read (its size and time put back: the change time tells): what was read is not used.
  EXPECT_FALSE(FileStamp::read_as_indexed(path, st->size, st->mtime_ns, [&] {
    std::ofstream(path) << "xyz";
    const timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(st->mtime_ns / 1'000'000'000), static_cast<long>(st->mtime_ns % 1'000'000'000)}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }));
  // An exception of the read goes through.
  const std::optional<FileStamp> now = FileStamp::of(path);
  EXPECT_THROW(FileStamp::read_as_indexed(path, now->size, now->mtime_ns, [] { throw std::runtime_error("x"); }),
               std::runtime_error);
}

}  // namespace
}  // namespace clap::index
