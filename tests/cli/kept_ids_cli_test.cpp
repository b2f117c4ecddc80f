// Issue 54: the rebuilds that empty a PostgreSQL index first - `index --rebuild --plan`, whose
// workers index the files again, and the rebuild of a damaged index - give each file its old
// track id back (a song's id in the Subsonic API, which apps cache), so that a user's stars,
// plays and playlists still name the same songs. Both numbered the tracks anew before. Real
// `clapsearch index`, `worker` processes and a real PostgreSQL server (support/postgres_server.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"
#include "support/user_marks.h"

namespace clap {
namespace {

namespace fs = std::filesystem;

std::string q(const std::string& s) { return test::quoted(s); }

int run(const std::string& args, std::string* out, std::string* err) {
  return test::run_command("HF_HUB_OFFLINE=1 " + test::cli_command() + " " + args, out, err);
}

std::string model() { return " --model " + q(test::case_dir("tiny-unfused")); }

std::string make_library(const std::string& dir) {
  const std::string music = dir + "/music";
  for (int i = 0; i < 3; ++i)
    test::ffmpeg(music + "/tone" + std::to_string(i) + ".wav",
                 "-f lavfi -i \"sine=f=" + std::to_string(300 + 150 * i) + ":d=" + std::to_string(3 + i) + ":sample_rate=16000\"");
  return music;
}

// Indexed with a first file that then goes, so that the library's ids are not 1..n (what a
// rebuild numbering the files anew in the same order would give them again).
void index_with_a_gap(const std::string& music, const std::string& url) {
  test::ffmpeg(music + "/a-first.wav", "-f lavfi -i \"sine=f=200:d=2:sample_rate=16000\"");
  std::string out, err;
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(url) + model(), &out, &err), 0) << err;
  fs::remove(music + "/a-first.wav");
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(url), &out, &err), 0) << err;
}

using test::ids_by_path;
using Marks = test::UserMarks;

// A user who starred one song, played another and keeps a playlist of the third.
Marks add_marks(const std::string& url, const std::map<std::string, int64_t>& ids, const std::string& music) {
  test::MarkedSongs songs;
  songs.starred = ids.at(music + "/tone0.wav");
  songs.played = ids.at(music + "/tone1.wav");
  songs.listed = ids.at(music + "/tone2.wav");
  return test::add_user_marks(url, "ann", songs);
}

// The marks name the songs they named before the rebuild, by the same ids.
void expect_marks_kept(const std::string& url, const Marks& m, int64_t starred, int64_t played, int64_t listed) {
  auto s = store::open_store(url, store::OpenMode::ReadWrite);
  s->reattach_songs();  // as the server does once per library state
  ASSERT_EQ(s->stars(m.user).size(), 1u);
  EXPECT_EQ(s->stars(m.user)[0].song.track_id, starred);
  ASSERT_EQ(s->plays(m.user, 0, 0).size(), 1u);
  EXPECT_EQ(s->plays(m.user, 0, 0)[0].song.track_id, played);
  const auto pl = s->playlist(m.playlist);
  ASSERT_TRUE(pl);
  ASSERT_EQ(pl->entries.size(), 1u);
  EXPECT_EQ(pl->entries[0].track_id, listed);
}

TEST(KeptTrackIds, RebuildPlanWorkersGiveEachFileItsOldId) {
  const std::string dir = test::temp_dir() + "/plan";
  const std::string music = make_library(dir);
  const std::string url = test::PostgresServer::shared().create_database();
  std::string out, err;
  index_with_a_gap(music, url);
  const std::map<std::string, int64_t> before = ids_by_path(url);
  ASSERT_EQ(before.size(), 3u);
  const Marks marks = add_marks(url, before, music);
  // A file moved since: found again by its content.
  fs::create_directories(music + "/moved");
  fs::rename(music + "/tone1.wav", music + "/moved/tone1.wav");

  ASSERT_EQ(run("index --rebuild --plan --json " + q(music) + " --db " + q(url) + model(), &out, &err), 0) << err;
  const nlohmann::json plan = nlohmann::json::parse(out);
  EXPECT_EQ(plan["planned"], 3) << out;
  // The plan says how many ids it keeps for the files indexed again: the three tones', and the
  // deleted first file's (retired: restorable), which no new file may take.
  EXPECT_EQ(plan["kept_track_ids"], 4) << out;
  EXPECT_NE(err.find("3 files queued, 4 track ids kept"), std::string::npos) << err;
  ASSERT_EQ(run("worker --until-done --poll 0.2 --db " + q(url), &out, &err), 0) << err;

  const std::map<std::string, int64_t> after = ids_by_path(url);
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after.at(music + "/tone0.wav"), before.at(music + "/tone0.wav"));
  EXPECT_EQ(after.at(music + "/moved/tone1.wav"), before.at(music + "/tone1.wav"));
  EXPECT_EQ(after.at(music + "/tone2.wav"), before.at(music + "/tone2.wav"));
  expect_marks_kept(url, marks, before.at(music + "/tone0.wav"), before.at(music + "/tone1.wav"), before.at(music + "/tone2.wav"));
}

TEST(KeptTrackIds, ARebuildOfADamagedPostgresqlIndexGivesEachFileItsOldId) {
  const std::string dir = test::temp_dir() + "/damaged";
  const std::string music = make_library(dir);
  test::PostgresServer& server = test::PostgresServer::shared();
  const std::string url = server.create_database();
  std::string out, err;
  index_with_a_gap(music, url);
  const std::map<std::string, int64_t> before = ids_by_path(url);
  ASSERT_EQ(before.size(), 3u);
  const Marks marks = add_marks(url, before, music);
  ASSERT_EQ(test::run_command(q(server.bin_dir() + "/psql") + " -q -d " + q(url) + " -c " + q("DROP TABLE set_windows"), &out, &err), 0)
      << err;
  ASSERT_EQ(run("index " + q(music) + " --db " + q(url) + model() + " --rebuild", &out, &err), 0) << err;
  EXPECT_NE(err.find("missing tables were created again"), std::string::npos) << err;
  EXPECT_EQ(ids_by_path(url), before);
  expect_marks_kept(url, marks, before.at(music + "/tone0.wav"), before.at(music + "/tone1.wav"), before.at(music + "/tone2.wav"));
}

// K6-1: a song deleted from the library keeps its user data on its id (until it comes back),
// but the next file added took that id: SQLite numbered above the tracks left, and `index
// --rebuild` numbered new files above the ids of the rebuilt and the live tracks only. A star on
// the deleted song showed on the new one (getStarred2), its plays counted for it.
TEST(KeptTrackIds, ADeletedSongsIdIsNeverGivenToAnotherFile) {
  const std::string dir = test::temp_dir() + "/deleted-song-id";
  const std::string music = make_library(dir), db = dir + "/library.db";
  std::string out, err;
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(db) + model(), &out, &err), 0) << err;
  const std::map<std::string, int64_t> ids = ids_by_path(db);
  const int64_t newest = ids.at(music + "/tone2.wav");
  ASSERT_EQ(newest, 3);
  const Marks marks = add_marks(db, ids, music);  // tone2 is in the playlist
  fs::rename(music + "/tone2.wav", dir + "/tone2.wav");
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(db), &out, &err), 0) << err;  // retired
  test::ffmpeg(music + "/new-1.wav", "-f lavfi -i \"sine=f=900:d=2:sample_rate=16000\"");
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(db), &out, &err), 0) << err;
  const int64_t first_new = ids_by_path(db).at(music + "/new-1.wav");
  EXPECT_GT(first_new, newest);
  ASSERT_EQ(run("index -q --rebuild " + q(music) + " --db " + q(db), &out, &err), 0) << err;  // drops the retired track
  EXPECT_EQ(ids_by_path(db).at(music + "/new-1.wav"), first_new);
  test::ffmpeg(music + "/new-2.wav", "-f lavfi -i \"sine=f=1100:d=2:sample_rate=16000\"");
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(db), &out, &err), 0) << err;
  EXPECT_GT(ids_by_path(db).at(music + "/new-2.wav"), first_new);
  // The playlist still names tone2 by its id, on no other song; tone2 back, it is tone2's again.
  fs::rename(dir + "/tone2.wav", music + "/tone2.wav");
  ASSERT_EQ(run("index -q " + q(music) + " --db " + q(db), &out, &err), 0) << err;
  expect_marks_kept(db, marks, ids.at(music + "/tone0.wav"), ids.at(music + "/tone1.wav"),
                    ids_by_path(db).at(music + "/tone2.wav"));
}

}  // namespace
}  // namespace clap
