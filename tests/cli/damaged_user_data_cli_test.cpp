// Issue 54: "nothing stored is lost - user data (plays, stars, playlists) least of all". The
// rebuild of a damaged SQLite index replaced the file whole, so every user, password, star, play
// and playlist went with it, and the tracks were numbered anew. Now every user row and track id
// SQLite can still read is carried into the new index (key range by key range past damaged
// pages), the damaged file is kept beside it, and the run says per table what was kept and what
// could not be read. The damage is real: pages of the windows table (found through SQLite's
// dbstat) overwritten with garbage, and in a second case a page of the plays table as well.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "store/store.h"
#include "support/golden.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
std::string q(const std::string& s) { return test::quoted(s); }

int run(const std::string& args, std::string* out, std::string* err) {
  return test::run_command("HF_HUB_OFFLINE=1 " + test::cli_command() + " " + args, out, err);
}

std::string model() { return " --model " + q(test::case_dir("tiny-unfused")); }

constexpr int kPlays = 600;  // enough for the plays table to span many pages

// Three tones indexed after a first file that then went, so that the ids are not 1..3 (what
// numbering the files anew would give them again).
std::string make_index(const std::string& root, const std::string& music) {
  test::ffmpeg(music + "/a-first.wav", "-f lavfi -i \"sine=f=200:d=2:sample_rate=16000\"");
  for (int i = 0; i < 3; ++i)
    test::ffmpeg(music + "/tone" + std::to_string(i) + ".wav",
                 "-f lavfi -i \"sine=f=" + std::to_string(300 + 150 * i) + ":d=" + std::to_string(3 + i) + ":sample_rate=16000\"");
  const std::string db = root + "/library.db";
  std::string out, err;
  EXPECT_EQ(run("index -q " + q(music) + " --db " + q(db) + model(), &out, &err), 0) << err;
  fs::remove(music + "/a-first.wav");
  EXPECT_EQ(run("index -q " + q(music) + " --db " + q(db), &out, &err), 0) << err;
  return db;
}

std::map<std::string, int64_t> ids_by_path(const std::string& db) {
  std::map<std::string, int64_t> out;
  for (const store::FileState& f : store::open_store(db, store::OpenMode::ReadOnly)->file_states()) out[f.path] = f.id;
  return out;
}

// A user who starred tone0, played tone1 kPlays times and keeps a playlist of tone2.
int64_t add_user_data(const std::string& db, const std::map<std::string, int64_t>& ids, const std::string& music) {
  auto s = store::open_store(db, store::OpenMode::ReadWrite);
  const auto ref = [&](const std::string& name) {
    const auto t = s->track(ids.at(music + "/" + name));
    return store::SongRef{t->id, t->content_hash, t->path};
  };
  store::UserRecord u;
  u.name = "ann";
  u.password_encrypted = "v1:00";
  u.created_at = 1;
  const int64_t user = s->add_user(u);
  store::FeedbackRecord star;
  star.user_id = user;
  star.kind = "song";
  star.song = ref("tone0.wav");
  star.at = 2;
  s->put_star(star);
  std::vector<store::PlayRecord> plays(kPlays);
  for (int i = 0; i < kPlays; ++i) {
    plays[i].user_id = user;
    plays[i].song = ref("tone1.wav");
    plays[i].played_at = 1000 + i;
    plays[i].source = "subsonic";
  }
  s->add_plays(plays);
  store::PlaylistRecord pl;
  pl.owner = user;
  pl.name = "Mix";
  pl.created_at = pl.changed_at = 4;
  pl.entries = {ref("tone2.wav")};
  s->put_playlist(pl);
  return user;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The pages of `table` (its b-tree and overflow pages) by SQLite's dbstat, with their kind.
std::vector<std::pair<int64_t, std::string>> pages_of(const std::string& db, const std::string& table) {
  std::vector<std::pair<int64_t, std::string>> out;
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, "SELECT pageno, pagetype FROM dbstat WHERE name = ?1 ORDER BY path", -1, &s, nullptr), SQLITE_OK)
      << sqlite3_errmsg(h);
  sqlite3_bind_text(s, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(s) == SQLITE_ROW)
    out.emplace_back(sqlite3_column_int64(s, 0), reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

// Page `pageno` (1 = the first) of the 4096-byte-page file overwritten with random bytes.
void garbage_page(const std::string& path, int64_t pageno) {
  std::string bytes = slurp(path);
  const size_t at = static_cast<size_t>(pageno - 1) * 4096;
  ASSERT_GE(bytes.size(), at + 4096);
  std::mt19937 rng(7 + static_cast<unsigned>(pageno));
  for (size_t i = at; i < at + 4096; ++i) bytes[i] = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

const nlohmann::json& table(const nlohmann::json& report, const std::string& name) {
  for (const nlohmann::json& t : report["tables"])
    if (t["table"] == name) return t;
  static const nlohmann::json none;
  ADD_FAILURE() << "no " << name << " in " << report.dump();
  return none;
}

struct Case {
  std::string root, music, db;
  std::map<std::string, int64_t> before;
  int64_t user = 0;
};

Case indexed_with_user_data(const std::string& name) {
  Case c;
  c.root = test::temp_dir() + "/" + name;
  c.music = c.root + "/music";
  c.db = make_index(c.root, c.music);
  c.before = ids_by_path(c.db);
  EXPECT_EQ(c.before.size(), 3u);
  c.user = add_user_data(c.db, c.before, c.music);
  // Everything in the file itself (a checkpoint), so that the pages damaged below are the data.
  sqlite3* h = nullptr;
  sqlite3_open(c.db.c_str(), &h);
  sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  sqlite3_close(h);
  return c;
}

// The rebuild (the real CLI, --json), its report of what was carried over, and the checks every
// case shares: the damaged file kept where it says, each file its old id, the star and the
// playlist on the songs they named.
nlohmann::json rebuild(const Case& c, std::string* err) {
  std::string out;
  const std::string damaged = slurp(c.db);
  std::string search_err;
  EXPECT_EQ(run("index " + q(c.music) + " --db " + q(c.db) + model() + " --rebuild --json", &out, err), 0) << *err;
  const nlohmann::json summary = nlohmann::json::parse(out, nullptr, false);
  EXPECT_TRUE(summary.contains("damaged_index")) << out;
  const nlohmann::json report = summary.value("damaged_index", nlohmann::json::object());
  const std::string backup = report.value("backup", "");
  EXPECT_EQ(fs::path(backup).parent_path(), fs::path(c.db).parent_path()) << backup;
  EXPECT_EQ(fs::path(backup).filename().string().rfind("library.db.damaged-", 0), 0u) << backup;
  EXPECT_EQ(slurp(backup), damaged) << "the damaged file is kept as it was";
  EXPECT_NE(err->find("kept as " + backup), std::string::npos) << *err;
  EXPECT_EQ(ids_by_path(c.db), c.before) << "each file has its old id back";
  auto s = store::open_store(c.db, store::OpenMode::ReadWrite);
  const auto users = s->users();
  EXPECT_EQ(users.size(), 1u);
  if (users.size() == 1) {
    EXPECT_EQ(users[0].name, "ann");
  }
  const auto stars = s->stars(c.user);
  EXPECT_EQ(stars.size(), 1u);
  if (!stars.empty()) {
    EXPECT_EQ(stars[0].song.track_id, c.before.at(c.music + "/tone0.wav"));
  }
  const auto lists = s->playlists(c.user);
  EXPECT_EQ(lists.size(), 1u);
  if (!lists.empty()) {
    const auto pl = s->playlist(lists[0].id);
    EXPECT_TRUE(pl && pl->entries.size() == 1 && pl->entries[0].track_id == c.before.at(c.music + "/tone2.wav"));
  }
  EXPECT_EQ(table(report, "users")["kept"], 1);
  EXPECT_EQ(table(report, "stars")["kept"], 1);
  EXPECT_EQ(table(report, "playlist_entries")["kept"], 1);
  EXPECT_EQ(table(report, "tracks")["kept"], 3);
  EXPECT_EQ(table(report, "tracks")["unreadable"], 0);
  std::string found;
  EXPECT_EQ(run("search 'a tone' --json --db " + q(c.db), &found, &search_err), 0) << search_err;
  return report;
}

TEST(DamagedIndexUserData, ARebuildKeepsEveryUserRowAndTrackIdThatReads) {
  const Case c = indexed_with_user_data("windows");
  const auto windows = pages_of(c.db, "windows");
  ASSERT_FALSE(windows.empty());
  for (const auto& [page, kind] : windows) garbage_page(c.db, page);
  std::string err;
  const nlohmann::json report = rebuild(c, &err);
  EXPECT_EQ(table(report, "plays")["kept"], kPlays) << report.dump();
  EXPECT_EQ(table(report, "plays")["unreadable"], 0);
  EXPECT_NE(err.find("plays " + std::to_string(kPlays) + " kept"), std::string::npos) << err;
  auto s = store::open_store(c.db, store::OpenMode::ReadOnly);
  const auto plays = s->plays(c.user, 0, 0);
  ASSERT_EQ(plays.size(), static_cast<size_t>(kPlays));
  EXPECT_EQ(plays[0].song.track_id, c.before.at(c.music + "/tone1.wav"));
}

TEST(DamagedIndexUserData, PlaysOnADamagedPageAreCountedAndTheRestKept) {
  const Case c = indexed_with_user_data("plays");
  for (const auto& [page, kind] : pages_of(c.db, "windows")) garbage_page(c.db, page);
  // A leaf of the plays table in the middle: the rows before and after it are sound.
  std::vector<int64_t> leaves;
  for (const auto& [page, kind] : pages_of(c.db, "plays"))
    if (kind == "leaf") leaves.push_back(page);
  ASSERT_GE(leaves.size(), 3u);
  garbage_page(c.db, leaves[leaves.size() / 2]);
  std::string err;
  const nlohmann::json report = rebuild(c, &err);
  const nlohmann::json& plays = table(report, "plays");
  const int64_t kept = plays["kept"];
  EXPECT_GT(kept, kPlays / 2) << report.dump();
  EXPECT_LT(kept, kPlays) << report.dump();
  // Counted through the table's indexes, which the damage spared.
  EXPECT_EQ(plays["unreadable"], kPlays - kept) << report.dump();
  EXPECT_NE(err.find("plays " + std::to_string(kept) + " kept, " + std::to_string(kPlays - kept) + " could not be read"),
            std::string::npos)
      << err;
  auto s = store::open_store(c.db, store::OpenMode::ReadOnly);
  const auto kept_plays = s->plays(c.user, 0, 0);
  ASSERT_EQ(static_cast<int64_t>(kept_plays.size()), kept);
  // The plays after the damaged page are kept too (the read resumed past it).
  int64_t latest = 0;
  for (const auto& p : kept_plays) latest = std::max(latest, p.played_at);
  EXPECT_EQ(latest, 1000 + kPlays - 1);
}

}  // namespace
}  // namespace clap
