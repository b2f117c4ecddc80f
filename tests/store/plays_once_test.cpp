// A play is kept once (hostile pass 16, H16S-5; schema 13 in SQLite, 15 in PostgreSQL): one user,
// source, start second and song (content hash, else path) for every source but "beets", on both
// stores. A retried scrobble answers the kept play's id; an index of the schema before, which
// holds such doubles, merges them when it is opened (nothing else lost); and `migrate`'s copy
// keeps the rule.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "store/postgres.h"
#include "store/postgres_store.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::store {
namespace {

ModelIdentity identity() {
  ModelIdentity m;
  m.id = "org/model";
  m.revision = "local";
  m.config_hash = std::string(64, 'a');
  m.dim = 4;
  return m;
}

int64_t put(Store& s, const std::string& path, char hash) {
  Track t;
  t.path = path;
  t.size = 10;
  t.mtime_ns = 1;
  t.content_hash = hash ? std::string(64, hash) : "";
  t.duration_s = 30;
  WindowRecord w;
  w.end_s = 10;
  w.embedding = {1, 0, 0, 0};
  const std::vector<float> e = {1, 0, 0, 0};
  return s.put_track(t, {w}, e.data());
}

SongRef ref(Store& s, int64_t id) {
  const auto t = s.track(id);
  return {id, t->content_hash, t->path};
}

int64_t add_user(Store& s, const std::string& name) {
  UserRecord u;
  u.name = name;
  u.password_encrypted = "v1:00";
  return s.add_user(u);
}

PlayRecord play(int64_t user, const SongRef& song, int64_t at, const std::string& source, double seconds = 0,
                bool skipped = false) {
  PlayRecord p;
  p.user_id = user;
  p.song = song;
  p.played_at = at;
  p.source = source;
  p.seconds_played = seconds;
  p.skipped = skipped;
  return p;
}

void raw_sql(const std::string& location, const std::string& text) {
  if (PostgresStore::is_url(location)) {
    pg::Connection c(location);
    c.exec(text);
    return;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(location.c_str(), &db), SQLITE_OK);
  sql::exec(db, text);
  sqlite3_close(db);
}

class PlaysOnce : public ::testing::TestWithParam<std::string> {
 protected:
  bool sqlite() const { return GetParam() == "sqlite"; }
  std::string new_location(const std::string& name) const {
    return sqlite() ? test::temp_dir() + "/" + name + ".db" : test::PostgresServer::shared().create_database();
  }
  int current_version() const {
    return sqlite() ? SqliteStore::current_schema_version() : PostgresStore::current_schema_version();
  }
};

// The same play twice (a player retrying a scrobble whose answer it lost; the MPD radio): one
// play, the second add answers the first's id. beets' plays at one second stay several; another
// second, song, user or source is another play.
TEST_P(PlaysOnce, TheSamePlayAddedTwiceIsKeptOnce) {
  const std::string location = new_location("once");
  auto s = open_store(location, OpenMode::ReadWrite);
  s->set_model(identity());
  const int64_t a = put(*s, "/m/a.flac", 'a'), b = put(*s, "/m/b.flac", 'b'), bare = put(*s, "/m/bare.flac", 0);
  const int64_t ann = add_user(*s, "ann"), bob = add_user(*s, "bob");
  for (const std::string source : {"subsonic", "mpd", "listenbrainz", "lastfm", ""}) {
    SCOPED_TRACE(source);
    const int64_t first = s->add_play(play(ann, ref(*s, a), 1000, source, 40));
    EXPECT_EQ(s->add_play(play(ann, ref(*s, a), 1000, source, 40)), first);
    // The kept play's values stay (the first), whatever the retry says.
    EXPECT_EQ(s->add_play(play(ann, ref(*s, a), 1000, source, 5, true)), first);
    const int64_t no_hash = s->add_play(play(ann, ref(*s, bare), 1000, source));
    EXPECT_EQ(s->add_play(play(ann, ref(*s, bare), 1000, source)), no_hash);  // by path
    EXPECT_NE(s->add_play(play(ann, ref(*s, a), 1001, source)), first);
    EXPECT_NE(s->add_play(play(ann, ref(*s, b), 1000, source)), first);
    EXPECT_NE(s->add_play(play(bob, ref(*s, a), 1000, source)), first);
  }
  EXPECT_EQ(s->plays(ann, 0, 0).size(), 5u * 4);
  EXPECT_EQ(s->plays(bob, 0, 0).size(), 5u);
  for (const PlayRecord& p : s->plays(ann, 0, 0))
    if (p.played_at == 1000 && p.song.track_id == a) {
      EXPECT_EQ(p.seconds_played, 40) << p.source;
      EXPECT_FALSE(p.skipped) << p.source;
    }
  // beets adds a song's counted plays at its last play, on purpose: all kept.
  const int64_t one = s->add_play(play(ann, ref(*s, a), 2000, "beets"));
  EXPECT_NE(s->add_play(play(ann, ref(*s, a), 2000, "beets")), one);
  EXPECT_EQ(s->add_plays({play(bob, ref(*s, a), 2000, "beets"), play(bob, ref(*s, a), 2000, "beets")}), 2);
  // A batch holding a play already kept adds the others only.
  EXPECT_EQ(s->add_plays({play(bob, ref(*s, b), 3000, "mpd"), play(bob, ref(*s, a), 1000, "mpd")}), 1);
  // A new play after a kept one takes a fresh id above every other.
  const int64_t last = s->plays(0, 0, 0).back().id;
  EXPECT_EQ(s->add_play(play(bob, ref(*s, b), 4000, "subsonic")), last + 1);
}

// An index of the schema before, holding doubled plays of the server and the radio (made by the
// scrobbles it kept twice), is merged when opened: the first play kept, the longest time played,
// "skipped" only if every copy was; beets' plays, other plays, stars and playlists untouched. Its
// copy by `migrate` (into the other store too) keeps the rule.
TEST_P(PlaysOnce, DoublesOfTheSchemaBeforeAreMergedWhenOpened) {
  const std::string location = new_location("before");
  int64_t ann = 0, bob = 0, a = 0, bare = 0;
  {
    auto s = open_store(location, OpenMode::ReadWrite);
    s->set_model(identity());
    a = put(*s, "/m/a.flac", 'a');
    bare = put(*s, "/m/bare.flac", 0);
    ann = add_user(*s, "ann");
    bob = add_user(*s, "bob");
    FeedbackRecord star;
    star.user_id = ann;
    star.kind = "song";
    star.song = ref(*s, a);
    star.at = 5;
    s->put_star(star);
    PlaylistRecord list;
    list.owner = ann;
    list.name = "mine";
    list.entries = {ref(*s, a), ref(*s, bare)};
    s->put_playlist(list);
  }
  // Back to the rule of the schema before (the imports only), then the doubles it let in.
  raw_sql(location, "DROP INDEX plays_imported_once; CREATE UNIQUE INDEX plays_imported_once ON plays(user_id, source, "
                    "played_at, (CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END)) WHERE source IN "
                    "('listenbrainz', 'lastfm'); UPDATE schema_version SET version = " +
                        std::to_string(current_version() - 1));
  const std::string h(64, 'a');
  const std::string t = sqlite() ? "0" : "false", f = sqlite() ? "1" : "true";
  std::string rows;
  auto row = [&](int64_t id, int64_t user, int64_t track, const std::string& hash, const std::string& path, int64_t at,
                 double seconds, const std::string& skipped, const std::string& source) {
    rows += std::string(rows.empty() ? "" : ", ") + "(" + std::to_string(id) + ", " + std::to_string(user) + ", " +
            std::to_string(track) + ", '" + hash + "', '" + path + "', " + std::to_string(at) + ", " +
            std::to_string(seconds) + ", " + skipped + ", '" + source + "')";
  };
  row(1, ann, a, h, "/m/a.flac", 100, 10, f, "subsonic");  // a retried scrobble: 3 copies
  row(2, ann, a, h, "/m/a.flac", 100, 30, t, "subsonic");
  row(3, ann, a, h, "/m/old/a.flac", 100, 20, f, "subsonic");  // the same song (hash) under its old path
  row(4, ann, bare, "", "/m/bare.flac", 100, 0, f, "mpd");      // no hash: by path, all skipped
  row(5, ann, bare, "", "/m/bare.flac", 100, 7, f, "mpd");
  row(6, ann, bare, "", "/m/other.flac", 100, 0, f, "mpd");     // another path: another song
  row(7, ann, a, h, "/m/a.flac", 100, 0, t, "beets");           // beets: kept, all three
  row(8, ann, a, h, "/m/a.flac", 100, 0, t, "beets");
  row(9, ann, a, h, "/m/a.flac", 100, 0, t, "beets");
  row(10, bob, a, h, "/m/a.flac", 100, 1, t, "subsonic");      // another user
  row(11, ann, a, h, "/m/a.flac", 101, 1, t, "subsonic");      // another second
  row(12, ann, a, h, "/m/a.flac", 100, 1, t, "mpd");           // another source
  raw_sql(location, "INSERT INTO plays(id, user_id, track_id, content_hash, path, played_at, seconds_played, skipped, "
                    "source) VALUES " + rows);
  auto s = open_store(location, OpenMode::ReadWrite);  // migrates
  EXPECT_EQ(s->schema_version(), current_version());
  std::vector<int64_t> ids;
  for (const PlayRecord& p : s->plays(0, 0, 0)) ids.push_back(p.id);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 4, 6, 7, 8, 9, 10, 11, 12}));
  const std::vector<PlayRecord> kept = s->plays(0, 0, 0);
  EXPECT_EQ(kept[0].seconds_played, 30);  // the longest of the three
  EXPECT_FALSE(kept[0].skipped);          // one copy was heard
  EXPECT_EQ(kept[0].song.path, "/m/a.flac");
  EXPECT_EQ(kept[1].seconds_played, 7);
  EXPECT_TRUE(kept[1].skipped);  // every copy was skipped
  EXPECT_EQ(kept[3].source, "beets");
  EXPECT_EQ(s->stars(ann).size(), 1u);
  ASSERT_EQ(s->playlists(ann).size(), 1u);
  EXPECT_EQ(s->playlist(s->playlists(ann)[0].id)->entries.size(), 2u);
  // The rule holds after the merge.
  EXPECT_EQ(s->add_play(play(ann, ref(*s, a), 100, "subsonic")), 1);
  EXPECT_EQ(s->plays(0, 0, 0).size(), 9u);

  // `migrate`'s copy, into each store: the merged plays, and the rule.
  for (const std::string& other : {test::temp_dir() + "/copy.db", test::PostgresServer::shared().create_database()}) {
    SCOPED_TRACE(other);
    auto dst = open_store(other, OpenMode::ReadWrite);
    {
      auto scope = dst->begin_import(identity(), {});
      dst->import_user_data(s->export_user_data());
      scope->commit();
    }
    ASSERT_EQ(dst->plays(0, 0, 0).size(), 9u);
    EXPECT_EQ(dst->plays(0, 0, 0)[0].seconds_played, 30);
    EXPECT_EQ(dst->add_play(play(ann, ref(*s, a), 100, "subsonic")), 1);
    EXPECT_EQ(dst->add_play(play(ann, ref(*s, bare), 100, "mpd")), 4);
    EXPECT_EQ(dst->plays(0, 0, 0).size(), 9u);
    EXPECT_EQ(dst->stars(ann).size(), 1u);
    EXPECT_EQ(dst->playlists(ann).size(), 1u);
  }
  (void)bob;
}

INSTANTIATE_TEST_SUITE_P(Backends, PlaysOnce, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace clap::store
