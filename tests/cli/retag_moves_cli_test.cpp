// Hostile pass 9, H9S-5: a file moved and retagged at once (beets' `import` with move and write,
// Picard's save with renaming; here `ffmpeg -c copy -metadata` to a new path and the old file
// deleted) was a deletion plus a new file: its stars, ratings, plays, playlist entries, bookmark
// and queue place left every list. Its compressed audio is unchanged (audio/packet_hash.h): the
// indexer now moves the track (index/retag_moves.h), so it keeps its id and every kind of user
// data, and reads its new tags. A different recording with the same tags is not claimed. Real
// `clapsearch index` on a SQLite file and on a database of a real PostgreSQL server.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/kept_ids.h"
#include "support/postgres_server.h"
#include "support/user_marks.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string q(const std::string& s) { return test::quoted(s); }

json index_run(const std::string& db, const std::string& music) {
  std::string out, err;
  EXPECT_EQ(test::run_cli("index " + q(music) + " --db " + q(db) + " --model " + q(test::case_dir("tiny-unfused")) +
                              " --quiet --json",
                          &out, &err),
            0)
      << err;
  return json::parse(out);
}

using test::ids_by_path;
using Marks = test::UserMarks;

// A user's star, rating, play, playlist entry, bookmark and queue place, all on one song.
Marks mark(const std::string& db, int64_t id) { return test::add_user_marks(db, "bob", {id, id, id, id, id, id}); }

// Every mark names track `id`, at `path` (as the server sees them after an index run).
void expect_marks_on(const std::string& db, const Marks& m, int64_t id, const std::string& path) {
  auto s = store::open_store(db, store::OpenMode::ReadWrite);
  s->reattach_songs();  // as the server does once per library state
  ASSERT_EQ(s->stars(m.user).size(), 1u);
  EXPECT_EQ(s->stars(m.user)[0].song.track_id, id);
  EXPECT_EQ(s->stars(m.user)[0].song.path, path);
  ASSERT_EQ(s->ratings(m.user).size(), 1u);
  EXPECT_EQ(s->ratings(m.user)[0].song.track_id, id);
  ASSERT_EQ(s->plays(m.user, 0, 0).size(), 1u);
  EXPECT_EQ(s->plays(m.user, 0, 0)[0].song.track_id, id);
  const auto pl = s->playlist(m.playlist);
  ASSERT_TRUE(pl);
  ASSERT_EQ(pl->entries.size(), 1u);
  EXPECT_EQ(pl->entries[0].track_id, id);
  ASSERT_EQ(s->bookmarks(m.user).size(), 1u);
  EXPECT_EQ(s->bookmarks(m.user)[0].song.track_id, id);
  const auto queue = s->play_queue(m.user);
  ASSERT_TRUE(queue);
  ASSERT_EQ(queue->entries.size(), 1u);
  EXPECT_EQ(queue->entries[0].track_id, id);
}

class RetagMoves : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir() + "/retag-moves-" + GetParam();
    fs::remove_all(dir_);
    music_ = dir_ + "/music";
    db_ = GetParam() == "sqlite" ? dir_ + "/library.db" : test::PostgresServer::shared().create_database();
    test::ffmpeg(music_ + "/A/s1.flac", "-f lavfi -i \"sine=f=330:d=6\" -metadata title=One");
    test::ffmpeg(music_ + "/A/s2.flac", "-f lavfi -i \"aevalsrc=sin(2*PI*(200+200*t)*t):d=7\" -metadata title=Two");
    test::ffmpeg(music_ + "/A/s3.mp3", "-f lavfi -i \"anoisesrc=c=pink:d=6:seed=3\" -metadata title=Three");
  }
  std::string dir_, music_, db_;
};

TEST_P(RetagMoves, AFileMovedAndRetaggedKeepsItsIdAndEveryUserMark) {
  index_run(db_, music_);
  for (const char* name : {"s2.flac", "s3.mp3"}) {
    SCOPED_TRACE(name);
    const std::string old_path = music_ + "/A/" + name;
    const int64_t id = ids_by_path(db_).at(old_path);
    const Marks m = mark(db_, id);
    const std::string ext = fs::path(name).extension().string();
    const std::string new_path = music_ + "/B/Retagged" + ext;
    // The MP3 gains an ID3v1 tag too: 128 bytes after the last frame, outside the packets.
    test::ffmpeg(new_path, "-i " + q(old_path) + " -map 0 -c copy -metadata title=Retagged -metadata artist=Someone" +
                               (ext == ".mp3" ? " -write_id3v1 1" : ""));
    ASSERT_NE(sha256_file(new_path), sha256_file(old_path)) << "a retag: other bytes";
    if (ext == ".mp3") {
      std::ifstream in(new_path, std::ios::binary);
      in.seekg(-128, std::ios::end);
      std::string id3v1(3, '\0');
      in.read(id3v1.data(), 3);
      ASSERT_EQ(id3v1, "TAG") << "the retagged MP3 ends in an ID3v1 tag";
    }
    fs::remove(old_path);
    const json sum = index_run(db_, music_);
    EXPECT_EQ(sum["moved"], 1) << sum.dump();
    EXPECT_EQ(sum["pruned"], 0) << sum.dump();
    const std::map<std::string, int64_t> ids = ids_by_path(db_);
    EXPECT_EQ(ids.size(), 3u);
    ASSERT_TRUE(ids.count(new_path));
    EXPECT_EQ(ids.at(new_path), id) << "the same song, by the same id";
    const auto t = store::open_store(db_, store::OpenMode::ReadOnly)->track(id);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->title, "Retagged") << "the new tags are read";
    EXPECT_EQ(t->artist, "Someone");
    EXPECT_EQ(t->content_hash, sha256_file(new_path)) << "the file as it is now";
    expect_marks_on(db_, m, id, new_path);
    // Nothing left to do: the next run changes nothing.
    const json again = index_run(db_, music_);
    EXPECT_EQ(again["indexed"], 0) << again.dump();
    EXPECT_EQ(again["moved"], 0) << again.dump();
    fs::rename(new_path, music_ + "/A/" + name);  // back, for the next format's own case
    index_run(db_, music_);
    auto s = store::open_store(db_, store::OpenMode::ReadWrite);
    s->remove_user(m.user);
  }
}

// Hostile pass 11, H11C-1: a run stopped (kill -9, a crash, power lost) after the claim moved the
// track and before it brought the marks to the new path (the claim demuxes every other new file
// in between: minutes for a large import) left them naming the old path and content hash; the
// next run read the new bytes and the marks named neither (`doctor` then called them rows on
// another song). The state such a run leaves is made here with the store's own move, as the
// claim does it (the old file's size and times).
TEST_P(RetagMoves, ARunStoppedAfterTheClaimKeepsEveryUserMark) {
  index_run(db_, music_);
  const std::string old_path = music_ + "/A/s2.flac", new_path = music_ + "/B/Retagged.flac";
  const int64_t id = ids_by_path(db_).at(old_path);
  const Marks m = mark(db_, id);
  test::ffmpeg(new_path, "-i " + q(old_path) + " -c copy -metadata title=Retagged");
  fs::remove(old_path);
  {
    auto s = store::open_store(db_, store::OpenMode::ReadWrite);
    for (const store::FileState& f : s->file_states())
      if (f.id == id) s->move_track(id, new_path, f.size, f.mtime_ns, f.ctime_ns);
  }
  const json sum = index_run(db_, music_);
  EXPECT_EQ(sum["pruned"], 0) << sum.dump();
  EXPECT_EQ(ids_by_path(db_).at(new_path), id);
  expect_marks_on(db_, m, id, new_path);
  EXPECT_TRUE(store::open_store(db_, store::OpenMode::ReadOnly)->misattached_songs().empty());
}

// Another recording under the same tags (and the same name) is a new song: the deleted one's
// marks stay with it, retired, and are not shown on the new file.
TEST_P(RetagMoves, ADifferentRecordingWithTheSameTagsIsNotClaimed) {
  index_run(db_, music_);
  const std::string old_path = music_ + "/A/s1.flac";
  const int64_t id = ids_by_path(db_).at(old_path);
  const Marks m = mark(db_, id);
  fs::remove(old_path);
  const std::string new_path = music_ + "/B/s1.flac";
  test::ffmpeg(new_path, "-f lavfi -i \"sine=f=331:d=6\" -metadata title=One");
  const json sum = index_run(db_, music_);
  EXPECT_EQ(sum["moved"], 0) << sum.dump();
  EXPECT_EQ(sum["pruned"], 1) << sum.dump();
  const std::map<std::string, int64_t> ids = ids_by_path(db_);
  ASSERT_TRUE(ids.count(new_path));
  EXPECT_NE(ids.at(new_path), id);
  auto s = store::open_store(db_, store::OpenMode::ReadWrite);
  s->reattach_songs();
  ASSERT_EQ(s->stars(m.user).size(), 1u);
  EXPECT_EQ(s->stars(m.user)[0].song.track_id, id) << "kept with the retired track";
}

// Two copies of one recording (the same audio packets, other tags), both moved and retagged:
// each new path takes one of the tracks (the one whose old path it keeps most of: here the same
// names), none is indexed as new, none pruned.
TEST_P(RetagMoves, CopiesOfOneRecordingPairInOrder) {
  test::ffmpeg(music_ + "/A/s1-copy.flac", "-i " + q(music_ + "/A/s1.flac") + " -c copy -metadata title=Copy");
  index_run(db_, music_);
  const std::map<std::string, int64_t> before = ids_by_path(db_);
  for (const char* name : {"s1.flac", "s1-copy.flac"}) {
    test::ffmpeg(music_ + "/B/" + name, "-i " + q(music_ + "/A/" + name) + " -c copy -metadata title=New");
    fs::remove(music_ + "/A/" + name);
  }
  const json sum = index_run(db_, music_);
  EXPECT_EQ(sum["moved"], 2) << sum.dump();
  EXPECT_EQ(sum["pruned"], 0) << sum.dump();
  const std::map<std::string, int64_t> after = ids_by_path(db_);
  EXPECT_EQ(after.size(), before.size());
  // Each file takes the track whose old path it keeps most of (the same name in another folder).
  const int64_t lo = std::min(before.at(music_ + "/A/s1.flac"), before.at(music_ + "/A/s1-copy.flac"));
  const int64_t hi = std::max(before.at(music_ + "/A/s1.flac"), before.at(music_ + "/A/s1-copy.flac"));
  EXPECT_EQ(after.at(music_ + "/B/s1-copy.flac"), lo);
  EXPECT_EQ(after.at(music_ + "/B/s1.flac"), hi);
}

// Hostile pass 11, H11C-3: an album's track and a compilation's copy of it (the same audio
// packets, other album tags) moved and retagged together, as beets moves each into its album's
// folder: paired in crawl order alone, the compilation's copy (crawled first) took the album
// track's id and with it the user's star, plays and playlist place. The tags tell them apart.
TEST_P(RetagMoves, CopiesOfOneRecordingKeepTheirOwnMarksThroughAMoveWithARetag) {
  test::ffmpeg(music_ + "/A/album.flac", "-i " + q(music_ + "/A/s1.flac") + " -c copy -metadata album=Album");
  test::ffmpeg(music_ + "/A/best.flac", "-i " + q(music_ + "/A/s1.flac") + " -c copy -metadata album=BestOf");
  index_run(db_, music_);
  const int64_t album_id = ids_by_path(db_).at(music_ + "/A/album.flac");
  const int64_t best_id = ids_by_path(db_).at(music_ + "/A/best.flac");
  ASSERT_LT(album_id, best_id) << "the album's track has the lower id: in order it would go to the first file crawled";
  const Marks m = mark(db_, album_id);
  const std::string album_new = music_ + "/Z-Album/01.flac", best_new = music_ + "/B-BestOf/07.flac";
  test::ffmpeg(album_new, "-i " + q(music_ + "/A/album.flac") + " -c copy -metadata comment=moved");
  test::ffmpeg(best_new, "-i " + q(music_ + "/A/best.flac") + " -c copy -metadata comment=moved");
  fs::remove(music_ + "/A/album.flac");
  fs::remove(music_ + "/A/best.flac");
  const json sum = index_run(db_, music_);
  EXPECT_EQ(sum["moved"], 2) << sum.dump();
  const std::map<std::string, int64_t> ids = ids_by_path(db_);
  EXPECT_EQ(ids.at(album_new), album_id);
  EXPECT_EQ(ids.at(best_new), best_id);
  expect_marks_on(db_, m, album_id, album_new);
}

// An album's song and a compilation's copy of it (the same packets, other tags), reorganised at
// once (beets moving both): paired in order, the lower id (the album's song) went to the first
// new path in crawl order, the compilation's, and every mark on the album song with it (H11S-3).
// Each track now takes the new path that keeps most of its old one.
TEST_P(RetagMoves, CopiesOfOneRecordingKeepTheirOwnMarksWhenBothMove) {
  test::ffmpeg(music_ + "/Album/song.flac", "-i " + q(music_ + "/A/s1.flac") + " -c copy -metadata album=Album");
  test::ffmpeg(music_ + "/Comp/song.flac", "-i " + q(music_ + "/A/s1.flac") + " -c copy -metadata album=Comp");
  fs::remove(music_ + "/A/s1.flac");
  index_run(db_, music_);
  const std::map<std::string, int64_t> before = ids_by_path(db_);
  const int64_t album = before.at(music_ + "/Album/song.flac"), comp = before.at(music_ + "/Comp/song.flac");
  ASSERT_LT(album, comp) << "the album's song has the lower id (crawl order)";
  const Marks m = mark(db_, album);
  // Renamed folders that sort the other way round, both files retagged.
  const std::string new_album = music_ + "/Z Album (2024)/song.flac", new_comp = music_ + "/A Comp/song.flac";
  test::ffmpeg(new_album, "-i " + q(music_ + "/Album/song.flac") + " -c copy -metadata album=\"Album (2024)\"");
  test::ffmpeg(new_comp, "-i " + q(music_ + "/Comp/song.flac") + " -c copy -metadata album=\"A Comp\"");
  fs::remove_all(music_ + "/Album");
  fs::remove_all(music_ + "/Comp");
  const json sum = index_run(db_, music_);
  EXPECT_EQ(sum["moved"], 2) << sum.dump();
  const std::map<std::string, int64_t> after = ids_by_path(db_);
  EXPECT_EQ(after.at(new_album), album);
  EXPECT_EQ(after.at(new_comp), comp);
  expect_marks_on(db_, m, album, new_album);
}

// `index --watch` (as `serve --watch`) goes through the same run: a file moved and retagged while
// watched keeps its track, whether the rescan sees the deletion and the new file in one run or
// in two (the track retired in between, then restored).
TEST_P(RetagMoves, AWatchKeepsAFileMovedAndRetagged) {
  const test::Child c = test::start_cli({"index", music_, "--db", db_, "--model", test::case_dir("tiny-unfused"), "--watch",
                                         "--quiet-period", "1s"});
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("watching for changes") != std::string::npos; }))
      << test::read_file(c.err_path);
  const std::string old_path = music_ + "/A/s2.flac", new_path = music_ + "/B/Retagged.flac";
  const int64_t id = ids_by_path(db_).at(old_path);
  test::ffmpeg(dir_ + "/src/Retagged.flac", "-i " + q(old_path) + " -c copy -metadata title=Retagged");
  fs::create_directories(music_ + "/B");
  fs::remove(old_path);
  fs::rename(dir_ + "/src/Retagged.flac", new_path);
  std::map<std::string, int64_t> ids;
  ASSERT_TRUE(test::wait_until([&] {
    ids = ids_by_path(db_);
    return ids.count(new_path) && !ids.count(old_path);
  })) << test::read_file(c.err_path);
  EXPECT_EQ(ids.at(new_path), id) << test::read_file(c.err_path);
  ASSERT_TRUE(test::wait_until([&] {
    const auto t = store::open_store(db_, store::OpenMode::ReadOnly)->track(id);
    return t && t->title == "Retagged";
  }))
      << test::read_file(c.err_path);
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(c.pid), 0) << test::read_file(c.err_path);
}

INSTANTIATE_TEST_SUITE_P(Stores, RetagMoves, ::testing::Values("sqlite", "postgres"));

using test::forget_packet_hashes;

// Two songs in DIR/music (FLAC, 6 s), indexed into DIR/library.db.
struct TwoSongs {
  std::string dir, music, db;
};
TwoSongs two_songs(const std::string& name) {
  TwoSongs l{test::temp_dir() + "/" + name, "", ""};
  fs::remove_all(l.dir);
  l.music = l.dir + "/music";
  l.db = l.dir + "/library.db";
  test::ffmpeg(l.music + "/s1.flac", "-f lavfi -i \"sine=f=330:d=6\" -metadata title=One");
  test::ffmpeg(l.music + "/s2.flac", "-f lavfi -i \"sine=f=550:d=6\" -metadata title=Two");
  return l;
}

// An index made before packet hashes were stored: the next run stores them for the files it
// holds (no rebuild), and a move with a retag after it keeps the track.
TEST(RetagMovesUpgrade, AnIndexWithoutPacketHashesGetsThemOnTheNextRun) {
  const auto [dir, music, db] = two_songs("retag-moves-upgrade");
  index_run(db, music);
  forget_packet_hashes(db);
  EXPECT_EQ(store::open_store(db, store::OpenMode::ReadOnly)->tracks_without_packet_hash().size(), 2u);
  index_run(db, music);
  EXPECT_TRUE(store::open_store(db, store::OpenMode::ReadOnly)->tracks_without_packet_hash().empty());
  const int64_t id = ids_by_path(db).at(music + "/s2.flac");
  test::ffmpeg(music + "/x/Two (remastered tag).flac", "-i " + q(music + "/s2.flac") + " -c copy -metadata title=Zwei");
  fs::remove(music + "/s2.flac");
  const json sum = index_run(db, music);
  EXPECT_EQ(sum["moved"], 1) << sum.dump();
  EXPECT_EQ(ids_by_path(db).at(music + "/x/Two (remastered tag).flac"), id);
}

// Issue 53: the packet hashes of new files were made by a demux of every file after the pipeline,
// and by the plan before its files were tracks: `index --plan` and a `worker` left the files the
// worker indexed without one (a move with a retag before the next plan was not told). The
// pipeline's decoder now hashes the file it reads and the hash is written with its track.
TEST(RetagMovesHashes, AWorkerStoresTheHashesOfTheFilesItIndexes) {
  const std::string dir = test::temp_dir() + "/retag-hashes-worker";
  fs::remove_all(dir);
  const std::string music = dir + "/music", url = test::PostgresServer::shared().create_database();
  test::ffmpeg(music + "/s1.flac", "-f lavfi -i \"sine=f=330:d=4\"");
  test::ffmpeg(music + "/s2.mp3", "-f lavfi -i \"sine=f=550:d=4\"");
  std::string out, err;
  ASSERT_EQ(test::run_cli("index --plan -q " + q(music) + " --db " + q(url) + " --model " + q(test::case_dir("tiny-unfused")),
                          &out, &err),
            0)
      << err;
  ASSERT_EQ(test::run_cli("worker --until-done --poll 0.2 --db " + q(url), &out, &err), 0) << err;
  auto s = store::open_store(url, store::OpenMode::ReadOnly);
  ASSERT_EQ(s->counts().ok, 2);
  EXPECT_TRUE(s->tracks_without_packet_hash().empty());
  for (const store::FileState& f : s->file_states())
    EXPECT_EQ(s->packet_hashes({f.content_hash}).at(f.content_hash).size(), 64u) << f.path;
}

// The catch-up of the tracks indexed before packet hashes were stored says its progress as the
// index's does (stderr, as it begins and every few seconds; nothing with --quiet).
TEST(RetagMovesHashes, TheCatchUpSaysItsProgress) {
  const auto [dir, music, db] = two_songs("retag-hashes-progress");
  const std::string index = "index " + q(music) + " --db " + q(db) + " --model " + q(test::case_dir("tiny-unfused")) + " --json";
  const auto unhashed = [&] { return store::open_store(db, store::OpenMode::ReadOnly)->tracks_without_packet_hash().size(); };
  std::string out, err;
  ASSERT_EQ(test::run_cli(index, &out, &err), 0) << err;
  EXPECT_EQ(err.find("hashing packets"), std::string::npos) << "new files are hashed as they are indexed\n" << err;
  EXPECT_EQ(unhashed(), 0u);
  forget_packet_hashes(db);
  ASSERT_EQ(test::run_cli(index, &out, &err), 0) << err;
  EXPECT_NE(err.find("hashing packets: 0/2 files"), std::string::npos) << err;
  EXPECT_EQ(unhashed(), 0u);
  forget_packet_hashes(db);
  ASSERT_EQ(test::run_cli(index + " --quiet", &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  EXPECT_EQ(unhashed(), 0u);
}

// A SIGTERM to `index --watch` during the catch-up stops it between two files (it demuxed every
// file first, without a look at the stop); the hashes made are kept and the next run makes the rest.
TEST(RetagMovesHashes, ASignalStopsTheCatchUpAndWhatItDidIsKept) {
  const std::string dir = test::temp_dir() + "/retag-hashes-signal";
  fs::remove_all(dir);
  const std::string music = dir + "/music", db = dir + "/library.db";
  constexpr int kFiles = 24;
  for (int i = 0; i < kFiles; ++i)
    test::ffmpeg(music + "/t" + std::to_string(i) + ".flac", "-f lavfi -i \"sine=f=" + std::to_string(200 + 37 * i) + ":d=2\"");
  index_run(db, music);
  forget_packet_hashes(db);
  const test::Child c = test::start_cli(
      {"index", music, "--db", db, "--model", test::case_dir("tiny-unfused"), "--watch", "--quiet-period", "1s"});
  ASSERT_TRUE(test::wait_until([&] { return test::read_file(c.err_path).find("hashing packets") != std::string::npos; }))
      << test::read_file(c.err_path);
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  EXPECT_EQ(test::wait_exit(c.pid), 0) << test::read_file(c.err_path);
  // Those made before the stop are kept (each is stored as it is made); the next run makes the rest.
  std::map<std::string, std::string> kept;
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    std::vector<std::string> hashes;
    for (const store::FileState& f : s->file_states()) hashes.push_back(f.content_hash);
    kept = s->packet_hashes(hashes);
    EXPECT_EQ(kept.size() + s->tracks_without_packet_hash().size(), size_t{kFiles});
  }
  index_run(db, music);
  auto s = store::open_store(db, store::OpenMode::ReadOnly);
  EXPECT_TRUE(s->tracks_without_packet_hash().empty());
  for (const auto& [content, packets] : kept) EXPECT_EQ(s->packet_hashes({content}).at(content), packets);
}

// An ok track whose file cannot be demuxed for a packet hash was tried, and warned about, in every
// run: the failure is recorded (an empty packet hash), tried again when the file changes.
TEST(RetagMovesHashes, AFileThatCannotBeDemuxedIsWarnedOnceAndTriedAgainWhenItChanges) {
  const auto [dir, music, db] = two_songs("retag-hashes-undemuxable");
  index_run(db, music);
  forget_packet_hashes(db);
  // s2 as the index holds it (size, modification time), its bytes no longer audio.
  const std::string s2 = music + "/s2.flac";
  fs::copy_file(s2, dir + "/s2.flac");
  const auto when = fs::last_write_time(s2);
  std::ofstream(s2, std::ios::binary | std::ios::trunc) << std::string(fs::file_size(dir + "/s2.flac"), '\0');
  fs::last_write_time(s2, when);
  const auto warned = [&](const json& sum) {
    int n = 0;
    for (const json& w : sum["warnings"])
      if (w["path"] == s2 && w["reason"].get<std::string>().find("no packet hash") != std::string::npos) ++n;
    return n;
  };
  const std::string indexed = sha256_file(dir + "/s2.flac");  // the content hash the track holds
  json sum = index_run(db, music);
  EXPECT_EQ(warned(sum), 1) << sum.dump();
  {
    auto s = store::open_store(db, store::OpenMode::ReadOnly);
    EXPECT_TRUE(s->tracks_without_packet_hash().empty()) << "s1 hashed, s2 recorded as having none";
    EXPECT_EQ(s->packet_hashes({indexed}).at(indexed), "");
  }
  sum = index_run(db, music);
  EXPECT_EQ(warned(sum), 0) << "said once: " << sum.dump();
  // The file changed (its audio back, a new time): indexed again, and its hash made.
  fs::remove(s2);
  fs::copy_file(dir + "/s2.flac", s2);
  sum = index_run(db, music);
  EXPECT_EQ(sum["indexed"], 1) << sum.dump();
  EXPECT_EQ(warned(sum), 0) << sum.dump();
  auto s = store::open_store(db, store::OpenMode::ReadOnly);
  const std::string content = sha256_file(s2);
  EXPECT_EQ(s->packet_hashes({content}).at(content).size(), 64u);
}

}  // namespace
}  // namespace clap
