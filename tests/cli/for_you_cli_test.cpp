// `clapsearch taste`, `clapsearch mix` and `clapsearch eval --user` as real processes (issue 55),
// on an index of one real file (indexed with the tiny random-weight model, which then labels the
// centres) plus the synthetic tracks of support/taste_library.h, whose vectors make the answer
// known: plays of two clusters give two centres and two mixes, each in its own cluster, the same
// bytes whatever the thread count; the mixes become the user's playlists, replacing only that
// user's earlier mixes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "service/user_data.h"
#include "support/golden.h"
#include "support/taste_library.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int64_t kDay = 86400;

struct ForYou {
  std::string dir = test::temp_dir() + "/for-you-cli";
  std::string db = dir + "/library.db";
  test::TasteLibrary tracks;
  int64_t ann = 0, bob = 0;
  ForYou() {
    fs::remove_all(dir);
    test::ffmpeg(dir + "/music/real.flac", "-f lavfi -i \"sine=f=440:d=4\" -metadata title=Real");
    test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"));
    tracks = test::write_taste_library(db, store::ModelIdentity{});
    std::ofstream(dir + "/pw") << "secret words\n";
    for (const char* name : {"ann", "bob"}) {
      std::string err;
      EXPECT_EQ(test::run_cli(std::string("user add ") + name + " --db " + test::quoted(db) + " < " + test::quoted(dir + "/pw"),
                              nullptr, &err),
                0)
          << err;
    }
    auto st = store::open_store(db, store::OpenMode::ReadWrite);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    const std::vector<int64_t> a(tracks.a.begin(), tracks.a.begin() + 8), b(tracks.b.begin(), tracks.b.begin() + 8);
    ann = test::add_user_plays(*st, "ann", a, 3, now - 10 * kDay);
    test::add_user_plays(*st, "ann", b, 2, now - 10 * kDay);
    // Held out by `eval --holdout-days 7`: four A songs ann never played before.
    test::add_user_plays(*st, "ann", std::vector<int64_t>(tracks.a.begin() + 8, tracks.a.begin() + 12), 1, now - kDay);
    bob = test::add_user_plays(*st, "bob", b, 1, now - 10 * kDay);
    // A playlist of ann's own, which no mix run may touch.
    store::PlaylistRecord p;
    p.owner = ann;
    p.name = "Mix tape from 1999";
    p.entries = {{tracks.a[0], "", tracks.paths[0]}};
    st->put_playlist(p);
  }
  int cli(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) const {
    return test::run_cli(args + " --db " + test::quoted(db), out, err, "HF_HOME=" + test::quoted(dir + "/hf"));
  }
  json ok_json(const std::string& args) const {
    std::string out, err;
    EXPECT_EQ(cli(args + " --json", &out, &err), 0) << args << "\n" << err;
    try {
      return json::parse(out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << args << ": " << e.what() << "\n" << out;
      return json::object();
    }
  }
  // The ids of the playlists `owner` owns: their mixes (`mixes`), or their others.
  std::set<int64_t> own(int64_t owner, bool mixes) const {
    std::set<int64_t> ids;
    for (const store::PlaylistRecord& p : store::open_store(db, store::OpenMode::ReadOnly)->playlists(owner))
      if (p.owner == owner && (p.comment.rfind("clapsearch mix", 0) == 0) == mixes) ids.insert(p.id);
    return ids;
  }
  // `n` more playlists of `owner`'s ("NAME 1" ...), written as that many createPlaylist calls would.
  void add_playlists(int64_t owner, int64_t n, const std::string& name = "own") const {
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(n) +
        ") INSERT INTO playlists(owner, name, comment, public, created_at, changed_at) SELECT " + std::to_string(owner) + ", '" +
        name + " ' || i, '', 0, 1, 1 FROM n");
  }
  void sql(const std::string& text) const {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(h, text.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(h);
  }
  bool in_a(const std::string& path) const { return path.rfind("/synthetic/alpha/", 0) == 0; }
  bool in_b(const std::string& path) const { return path.rfind("/synthetic/beta/", 0) == 0; }
};

ForYou& lib() {
  static ForYou f;
  return f;
}

TEST(TasteCli, TwoClustersOfPlaysGiveTwoCentresTheSameWhateverTheThreads) {
  ForYou& f = lib();
  std::string out, err;
  // Two users and no --user: a usage error naming them.
  EXPECT_EQ(f.cli("taste", &out, &err), 2);
  EXPECT_NE(err.find("--user NAME"), std::string::npos) << err;
  EXPECT_NE(err.find("ann, bob"), std::string::npos) << err;
  EXPECT_EQ(f.cli("taste --user carol", &out, &err), 1);
  EXPECT_NE(err.find("no user named 'carol'"), std::string::npos) << err;

  const json t = f.ok_json("taste --user ann --threads 1");
  ASSERT_EQ(t["centres"].size(), 2u) << t.dump(1);
  EXPECT_EQ(t["user"], "ann");
  for (size_t j = 0; j < 2; ++j) {
    const json& c = t["centres"][j];
    EXPECT_FALSE(c["label"].get<std::string>().empty());
    EXPECT_GT(c["weight"].get<double>(), 0);
    ASSERT_EQ(c["tracks"].size(), 10u);
    // The first centre is A's (ann played A most), the second B's.
    for (const json& tr : c["tracks"]) EXPECT_TRUE(j == 0 ? f.in_a(tr["path"]) : f.in_b(tr["path"])) << tr.dump();
  }
  EXPECT_EQ(t["centres"][0]["top_genres"][0]["name"], "jazz");
  EXPECT_EQ(t["centres"][1]["top_artists"].size(), 4u);
  std::string one, two;
  EXPECT_EQ(f.cli("taste --user ann --json --threads 1", &one), 0);
  EXPECT_EQ(f.cli("taste --user ann --json --threads 2", &two), 0);
  EXPECT_EQ(one, two);
  // A name in another case is the same user, as sign-in and `clapsearch user` take it.
  std::string other_case;
  EXPECT_EQ(f.cli("taste --user ANN --json --threads 1", &other_case, &err), 0) << err;
  EXPECT_EQ(other_case, one);
  // The table.
  EXPECT_EQ(f.cli("taste --user ann", &out, &err), 0) << err;
  EXPECT_NE(out.find("ann: 2 taste centres"), std::string::npos) << out;
  EXPECT_NE(out.find("genres: jazz"), std::string::npos) << out;
}

TEST(MixCli, MixesStayInTheirClustersWithReasonsAndBecomeTheUsersPlaylists) {
  ForYou& f = lib();
  const std::string m3u = f.dir + "/mixes";
  const std::string args = "mix --user ann --size 10 --discovery 0.5 --not-played-days 0 --m3u " + test::quoted(m3u);
  const json m = f.ok_json(args);
  ASSERT_EQ(m["mixes"].size(), 2u) << m.dump(1);
  std::set<std::string> seen;
  for (size_t j = 0; j < 2; ++j) {
    const json& mix = m["mixes"][j];
    const std::string name = mix["name"];
    EXPECT_EQ(name.rfind("Mix " + std::to_string(j + 1) + " \u00b7 ", 0), 0u) << name;
    EXPECT_EQ(mix["centre"], j);
    ASSERT_EQ(mix["tracks"].size(), 10u);
    int known = 0;
    for (const json& tr : mix["tracks"]) {
      EXPECT_TRUE(j == 0 ? f.in_a(tr["path"]) : f.in_b(tr["path"])) << tr.dump();
      EXPECT_TRUE(seen.insert(tr["path"]).second);
      EXPECT_FALSE(tr["reason"].get<std::string>().empty());
      known += tr["known"].get<bool>();
    }
    EXPECT_EQ(known, 5);
    EXPECT_TRUE(fs::exists(mix["m3u"].get<std::string>())) << mix.dump();
    EXPECT_TRUE(mix.contains("playlist_id"));
  }
  // A folder whose parent is not there (a typo) is reported, and no path of folders is made.
  std::string typo_out, typo_err;
  EXPECT_NE(f.cli("mix --user ann --size 10 --no-save --m3u " + test::quoted(f.dir + "/typo/mixes"), &typo_out, &typo_err), 0);
  EXPECT_NE(typo_err.find("typo"), std::string::npos) << typo_err;
  EXPECT_NE(typo_err.find("does not exist"), std::string::npos) << typo_err;
  EXPECT_FALSE(fs::exists(f.dir + "/typo"));
  // R6-4: a name that is not a folder (a device, a file). Before: the library's raw text,
  // "filesystem error: cannot create directories: Not a directory [/dev/full]".
  for (const std::string& not_folder : {std::string("/dev/full"), f.db}) {
    EXPECT_EQ(f.cli("mix --user ann --size 10 --no-save --m3u " + test::quoted(not_folder), &typo_out, &typo_err), 2);
    EXPECT_NE(typo_err.find("cannot write " + not_folder + ": it is not a folder (--m3u names the folder"), std::string::npos)
        << typo_err;
    EXPECT_EQ(typo_err.find("filesystem error"), std::string::npos) << typo_err;
  }
  // The same mixes again (and with 2 threads): the same bytes; the playlists replaced, not added.
  std::string one, two;
  EXPECT_EQ(f.cli(args + " --json --threads 1", &one), 0);
  EXPECT_EQ(f.cli(args + " --json --threads 2", &two), 0);
  json a = json::parse(one), b = json::parse(two);
  for (json* x : {&a, &b})
    for (json& mix : (*x)["mixes"]) mix.erase("playlist_id");  // new playlists, new ids
  EXPECT_EQ(a, b);
  auto st = store::open_store(f.db, store::OpenMode::ReadOnly);
  int mixes = 0, others = 0;
  for (const store::PlaylistRecord& p : st->playlists(f.ann)) {
    if (p.owner != f.ann) continue;
    if (p.comment.rfind("clapsearch mix", 0) == 0) {
      ++mixes;
      const auto full = st->playlist(p.id);
      ASSERT_TRUE(full);
      EXPECT_EQ(full->entries.size(), 10u);
      EXPECT_NE(p.comment.find("\n1. "), std::string::npos) << p.comment;  // a reason a song
      EXPECT_FALSE(p.is_public);
    } else {
      ++others;
      EXPECT_EQ(p.name, "Mix tape from 1999");
    }
  }
  EXPECT_EQ(mixes, 2);
  EXPECT_EQ(others, 1);
  for (const store::PlaylistRecord& p : st->playlists(f.bob)) EXPECT_NE(p.owner, f.bob);  // bob has none
  // The table says why.
  std::string out, err;
  EXPECT_EQ(f.cli("mix --user ann --size 4 --no-save", &out, &err), 0) << err;
  EXPECT_NE(out.find("Mix 1 \u00b7 "), std::string::npos) << out;
  EXPECT_NE(out.find("you played it "), std::string::npos) << out;
  // Bad options are usage errors.
  EXPECT_EQ(f.cli("mix --user ann --discovery 2", &out, &err), 2);
  EXPECT_NE(err.find("--discovery"), std::string::npos) << err;
  EXPECT_EQ(f.cli("mix --user ann --all-users", &out, &err), 2);
}

TEST(EvalHistoryCli, ReplaysTheStoredHistoryBesideTheBaselines) {
  ForYou& f = lib();
  const std::string args = "eval --user ann --holdout-days 7 --size 12 --discovery 1 --per-artist 0";
  const json e = f.ok_json(args);
  EXPECT_EQ(e["heldout_songs"], 4);
  EXPECT_EQ(e["centres"], 2);
  ASSERT_EQ(e["rows"].size(), 5u) << e.dump(1);
  EXPECT_EQ(e["rows"][0]["name"], "mixes");
  EXPECT_EQ(e["rows"][0]["hit_rate"], 1.0);
  EXPECT_EQ(e["rows"][0]["novelty"], 1.0);
  EXPECT_EQ(e["rows"][3]["name"], "most played");
  EXPECT_EQ(e["rows"][3]["hit_rate"], 0.0);
  std::string again;
  EXPECT_EQ(f.cli(args + " --json", &again), 0);
  EXPECT_EQ(json::parse(again), e);
  std::string out, err;
  EXPECT_EQ(f.cli(args, &out, &err), 0) << err;
  EXPECT_NE(out.find("similar to last played"), std::string::npos) << out;
  EXPECT_NE(out.find("hit rate@12"), std::string::npos) << out;

  // The same history as a Last.fm export (plus a listen of a song the library lacks), replayed
  // without storing it: the same answer.
  auto st = store::open_store(f.db, store::OpenMode::ReadOnly);
  const std::string csv = f.dir + "/scrobbles.csv";
  {
    std::ofstream o(csv);
    o << "uts,artist,album,track\n";
    for (const store::PlayRecord& p : st->plays(f.ann, 0, 0)) {
      const auto t = st->track(p.song.track_id);
      o << p.played_at << "," << t->artist << "," << t->album << "," << t->title << "\n";
    }
    o << std::time(nullptr) - 100 * kDay << ",Nobody,Nothing,Missing song\n";
  }
  const json from_file = f.ok_json("eval --history " + test::quoted(csv) + " --holdout-days 7 --size 12 --discovery 1 --per-artist 0");
  EXPECT_EQ(from_file["unresolved"], 1);
  EXPECT_EQ(from_file["rows"], e["rows"]);
  EXPECT_EQ(f.cli("eval --history " + test::quoted(f.dir + "/none.csv") + " --holdout-days 7", &out, &err), 1);
  EXPECT_NE(err.find("none.csv"), std::string::npos) << err;
}

// Hostile pass 5 (H5-9): `mix --half-life 1e-300` said "no plays": every play's weight
// 0.5^(age / half-life) underflowed to 0. A half-life is now a day to a century in every command
// that takes one (as the API's half_life), and a play years older than the half-life still counts
// (the least a double holds), so such a history makes centres, not "no plays".
TEST(TasteCli, HalfLifeIsADayToACenturyAndOldPlaysStillCount) {
  ForYou& f = lib();
  std::string out, err;
  for (const std::string cmd : {"taste --user ann", "mix --user ann --no-save", "eval --user ann --holdout-days 7"})
    for (const std::string bad : {"1e-300", "0.5", "36501", "-1"}) {
      EXPECT_EQ(f.cli(cmd + " --half-life " + bad, &out, &err), 2) << cmd << " --half-life " << bad << "\n" << out;
      EXPECT_NE(err.find("--half-life: must be between 1 and 36500 days, got " + bad), std::string::npos) << cmd << "\n" << err;
    }
  // Plays of three and of four years ago, half-life a day: 2^-1095 and 2^-1460 are 0 in doubles.
  {
    auto st = store::open_store(f.db, store::OpenMode::ReadWrite);
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    test::add_user_plays(*st, "old-times", std::vector<int64_t>(f.tracks.a.begin(), f.tracks.a.begin() + 8), 2, now - 1100 * kDay);
    test::add_user_plays(*st, "old-times", std::vector<int64_t>(f.tracks.b.begin(), f.tracks.b.begin() + 8), 2, now - 1460 * kDay);
  }
  const json t = f.ok_json("taste --user old-times --half-life 1 --threads 1");
  EXPECT_FALSE(t["centres"].empty()) << t.dump(1);
  EXPECT_EQ(f.cli("mix --user old-times --half-life 1 --no-save", &out, &err), 0) << err;
  EXPECT_EQ(out.find("no taste centres"), std::string::npos) << out;
  EXPECT_EQ(f.cli("user remove old-times", &out, &err), 0) << err;  // the other tests see ann and bob only
}

// `mix --all-users`: each user's mixes on their own. Ann at the bound of playlists a user owns is
// refused, named with the reason, her old mixes kept; bob's are still made and saved, and the exit
// status (3) says that something was refused. One user's refusal stopped the run for all (exit 1,
// bob's mixes not made).
TEST(MixCli, AllUsersMixesEachUserOnTheirOwn) {
  ForYou& f = lib();
  const int64_t others = static_cast<int64_t>(f.own(f.ann, false).size());
  if (others < service::kMaxPlaylistsPerUser - 1) f.add_playlists(f.ann, service::kMaxPlaylistsPerUser - 1 - others, "bound");
  ASSERT_EQ(f.ok_json("mix --user ann --size 4 --not-played-days 0 --no-save")["mixes"].size(), 2u);  // two: one too many
  const std::set<int64_t> anns = f.own(f.ann, true), bobs = f.own(f.bob, true);
  std::string out, err;
  EXPECT_EQ(f.cli("mix --all-users --size 4 --not-played-days 0", &out, &err), 3) << out << err;
  EXPECT_NE(err.find("clapsearch: error: ann: no mixes: cannot save 2 mix playlists: a user owns at most " +
                     std::to_string(service::kMaxPlaylistsPerUser) + " playlists"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("the mixes of 1 of 2 users were refused (ann); the others' were made"), std::string::npos) << err;
  EXPECT_NE(out.find("bob: "), std::string::npos) << out;
  EXPECT_NE(out.find("saved as a playlist"), std::string::npos) << out;
  EXPECT_EQ(f.own(f.ann, true), anns);
  const std::set<int64_t> bobs_now = f.own(f.bob, true);
  EXPECT_FALSE(bobs_now.empty());
  EXPECT_NE(bobs_now, bobs);

  // --json: the refused user with the reason, the other with their mixes.
  EXPECT_EQ(f.cli("mix --all-users --size 4 --not-played-days 0 --json", &out, &err), 3) << err;
  const json j = json::parse(out);
  ASSERT_EQ(j["users"].size(), 2u) << j.dump(1);
  EXPECT_EQ(j["users"][0]["user"], "ann");
  EXPECT_NE(j["users"][0]["refused"].get<std::string>().find("cannot save 2 mix playlists"), std::string::npos) << j.dump(1);
  EXPECT_FALSE(j["users"][0].contains("mixes"));
  EXPECT_EQ(j["users"][1]["user"], "bob");
  ASSERT_FALSE(j["users"][1]["mixes"].empty());
  EXPECT_TRUE(j["users"][1]["mixes"][0].contains("playlist_id")) << j.dump(1);
  // Nobody refused: 0.
  f.sql("DELETE FROM playlists WHERE name LIKE 'bound %'");  // ann as the other tests expect her
  EXPECT_EQ(f.cli("mix --all-users --size 4 --not-played-days 0 --no-save", &out, &err), 0) << err;
}

}  // namespace
}  // namespace clap

namespace clap {
namespace {

// Hostile pass 5 (H5-7, H5-8): when the index's model cannot label the centres, a centre is named
// by its top genre or artist tag, whatever a file carries. A genre with a line break and 300 bytes
// made a mix named with CR/LF (stored as the playlist's name and comment) and `mix --m3u` fail for
// every user ("File name too long"), the nightly --all-users run included. H5-1: `--user ANN`
// did not find ann, whom sign-in finds in any case.
TEST(MixCli, LabelsMadeOfTagsAreOneLineAndFitAFileName) {
  const std::string dir = test::temp_dir() + "/mix-tags";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string model = dir + "/model";
  fs::copy(test::case_dir("tiny-unfused"), model, fs::copy_options::recursive);
  const std::string genre = "Gen/re\r\nkill\x1b[31m" + std::string(300, 'G');
  test::ffmpeg(dir + "/music/a.flac", "-f lavfi -i \"anoisesrc=d=3:seed=5\" -metadata title=A -metadata genre=" + test::quoted(genre));
  const std::string db = dir + "/library.db";
  test::index_library(dir + "/music", db, model);
  {
    auto st = store::open_store(db, store::OpenMode::ReadWrite);
    test::add_user_plays(*st, "ann", {st->tracks().at(0).id}, 3, static_cast<int64_t>(std::time(nullptr)) - 10 * kDay);
  }
  fs::remove_all(model);  // no zero-shot labels now: the tags name the centres
  std::string out, err;
  ASSERT_EQ(test::run_cli("mix --all-users --json --m3u " + test::quoted(dir + "/m3u") + " --db " + test::quoted(db), &out, &err), 0) << err;
  const json j = json::parse(out);
  ASSERT_EQ(j.at("users").at(0).at("mixes").size(), 1u) << out;
  const std::string name = j.at("users").at(0).at("mixes").at(0).at("name");
  EXPECT_EQ(name.find_first_of("\r\n\x1b"), std::string::npos) << name;
  EXPECT_NE(name.find("Gen/re  kill [31mGGG"), std::string::npos) << name;
  EXPECT_LE(name.size(), 100u);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir + "/m3u")) {
    const std::string file = e.path().filename().string();
    EXPECT_EQ(file.find_first_of("\r\n\x1b/"), std::string::npos) << file;
    EXPECT_LE(file.size(), 255u);
    ++files;
  }
  EXPECT_EQ(files, 1u);
  // The playlist kept in the index carries the same one-line name.
  auto st = store::open_store(db, store::OpenMode::ReadOnly);
  const auto lists = st->playlists(0);
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0].name, name);
  EXPECT_EQ(lists[0].comment.find('\r'), std::string::npos);
  // H5-1: a history command finds ann as sign-in does, in any ASCII case.
  EXPECT_EQ(test::run_cli("history --user ANN --json --db " + test::quoted(db), &out, &err), 0) << err;
  EXPECT_NE(out.find("\"plays\": 3"), std::string::npos) << out;
}

// Hostile pass 8 (H8C-3): with every song of a centre played in the last --not-played-days days,
// `mix` printed "Mix 1 · … (0 songs)" with no word why and saved an empty playlist in place of
// the user's last mixes (the nightly timer did so after a day of listening). Now the mix says
// why, counted by rule, and is neither saved nor written as a file.
TEST(MixCli, AMixWithoutSongsSaysWhyAndIsNotSaved) {
  const std::string dir = test::temp_dir() + "/mix-empty";
  fs::remove_all(dir);
  test::ffmpeg(dir + "/music/a.flac", "-f lavfi -i \"anoisesrc=d=3:seed=5\" -metadata title=A");
  const std::string db = dir + "/library.db";
  test::index_library(dir + "/music", db, test::case_dir("tiny-unfused"));
  {
    auto st = store::open_store(db, store::OpenMode::ReadWrite);
    test::add_user_plays(*st, "ann", {st->tracks().at(0).id}, 3, static_cast<int64_t>(std::time(nullptr)) - 3600);
  }
  const std::string on = " --m3u " + test::quoted(dir + "/m3u") + " --db " + test::quoted(db);
  std::string out, err;
  ASSERT_EQ(test::run_cli("mix --json" + on, &out, &err), 0) << err;
  const json m = json::parse(out).at("mixes").at(0);
  EXPECT_TRUE(m.at("tracks").empty()) << m;
  EXPECT_FALSE(m.contains("playlist_id")) << m;
  EXPECT_FALSE(m.contains("m3u")) << m;
  EXPECT_NE(m.value("empty_reason", "").find("1 played in the last 3 days (--not-played-days)"), std::string::npos) << m;
  EXPECT_TRUE(store::open_store(db, store::OpenMode::ReadOnly)->playlists(0).empty());
  EXPECT_TRUE(!fs::exists(dir + "/m3u") || fs::is_empty(dir + "/m3u"));
  ASSERT_EQ(test::run_cli("mix" + on, &out, &err), 0) << err;
  EXPECT_NE(out.find("(0 songs, not saved): of this taste centre's 1 song, 1 played in the last 3 days (--not-played-days)"),
            std::string::npos)
      << out;
  // H8C-9: a count of days past int64 once multiplied by 86400 wrapped round: the rule let every
  // song through (a full mix, saved) and eval named the wrong empty side. Both are refused now.
  EXPECT_EQ(test::run_cli("mix --no-save --not-played-days 9223372036854775807" + on, &out, &err), 2) << out;
  EXPECT_NE(err.find("--not-played-days: must be 0 to 36500 days, got 9223372036854775807"), std::string::npos) << err;
  EXPECT_EQ(test::run_cli("eval --holdout-days 999999999999999999 --db " + test::quoted(db), &out, &err), 2) << out;
  EXPECT_NE(err.find("--holdout-days: must be 1 to 36500 days"), std::string::npos) << err;
  // Without the rule the song is the mix, saved.
  ASSERT_EQ(test::run_cli("mix --json --not-played-days 0" + on, &out, &err), 0) << err;
  EXPECT_EQ(json::parse(out).at("mixes").at(0).at("tracks").size(), 1u) << out;
  EXPECT_EQ(store::open_store(db, store::OpenMode::ReadOnly)->playlists(0).size(), 1u);
}

// Issue 53 (H9S-7): a user owns at most service::kMaxPlaylistsPerUser playlists, mixes counted.
// `mix` replaces the old mixes when the new ones fit beside the user's other playlists; when they
// would not, it says so and leaves the old mixes (and every other playlist) where they were.
TEST(MixCli, MixesAreSavedWithinTheBoundOfPlaylistsAUserOwns) {
  ForYou& f = lib();
  const std::string args = "mix --user ann --size 4 --not-played-days 0 --json";
  ASSERT_EQ(f.ok_json(args)["mixes"].size(), 2u);
  auto own = [&](bool mixes) { return f.own(f.ann, mixes); };
  ASSERT_EQ(own(false).size(), 1u);  // "Mix tape from 1999"
  auto add_playlists = [&](int64_t n) { f.add_playlists(f.ann, n); };
  // Two mixes beside bound - 2 other playlists: the bound exactly, saved in place of the old ones.
  add_playlists(service::kMaxPlaylistsPerUser - 3);
  const std::set<int64_t> before = own(true);
  ASSERT_EQ(f.ok_json(args)["mixes"].size(), 2u);
  const std::set<int64_t> saved = own(true);
  EXPECT_EQ(saved.size(), 2u);
  EXPECT_NE(saved, before);
  // One more playlist of ann's: the two new mixes would pass the bound. Refused, nothing removed.
  add_playlists(1);
  std::string out, err;
  EXPECT_EQ(f.cli("mix --user ann --size 4 --not-played-days 0", &out, &err), 1) << out << err;
  EXPECT_NE(err.find("cannot save 2 mix playlists: a user owns at most " + std::to_string(service::kMaxPlaylistsPerUser) +
                     " playlists"),
            std::string::npos)
      << err;
  EXPECT_EQ(own(true), saved);
  EXPECT_EQ(own(false).size(), static_cast<size_t>(service::kMaxPlaylistsPerUser - 1));
  // --no-save makes them as before.
  EXPECT_EQ(f.cli("mix --user ann --size 4 --not-played-days 0 --no-save", &out, &err), 0) << err;
}

}  // namespace
}  // namespace clap
