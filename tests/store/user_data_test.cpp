// Users and what they keep (store.h UserRecord ...) on both stores: a SQLite file and a database
// of the real PostgreSQL server the test process starts (support/postgres_server.h). The same
// cases on each: accounts, API keys, stars, ratings, plays, playlists; nothing of it lost when
// tracks go (removed, retired, the index wiped by `index --rebuild`); song references re-attached
// to the recording they named when track ids change; and the copy of `migrate`.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "store/playlist_reads.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/kept_ids.h"
#include "support/postgres_server.h"

namespace clap::store {
namespace {

constexpr int kDim = 4;

ModelIdentity identity() {
  ModelIdentity m;
  m.id = "org/model";
  m.revision = "local";
  m.config_hash = std::string(64, 'a');
  m.dim = kDim;
  return m;
}

Track track(const std::string& path, char hash) {
  Track t;
  t.path = path;
  t.size = 10;
  t.mtime_ns = 1;
  t.content_hash = std::string(64, hash);
  t.duration_s = 30;
  t.title = path;
  return t;
}

std::vector<WindowRecord> one_window() {
  WindowRecord w;
  w.idx = 0;
  w.end_s = 10;
  w.embedding = {1, 0, 0, 0};
  return {w};
}

int64_t put(Store& s, const std::string& path, char hash) {
  const std::vector<float> e = {1, 0, 0, 0};
  return s.put_track(track(path, hash), one_window(), e.data());
}

SongRef ref(Store& s, int64_t id) {
  const auto t = s.track(id);
  return {id, t->content_hash, t->path};
}

UserRecord user(const std::string& name) {
  UserRecord u;
  u.name = name;
  u.password_encrypted = "v1:00";
  u.created_at = 1700000000;
  return u;
}

FeedbackRecord song_star(int64_t user_id, const SongRef& song, int64_t at) {
  FeedbackRecord f;
  f.user_id = user_id;
  f.kind = "song";
  f.song = song;
  f.at = at;
  return f;
}

class UserData : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    location_ = GetParam() == "sqlite" ? test::temp_dir() + "/users.db" : test::PostgresServer::shared().create_database();
    s_ = open_store(location_, OpenMode::ReadWrite);
    s_->set_model(identity());
  }
  std::string location_;
  std::unique_ptr<Store> s_;
};

TEST_P(UserData, UsersAndKeys) {
  Store& s = *s_;
  EXPECT_FALSE(s.has_users());
  UserRecord a = user("alice");
  a.admin = true;
  const int64_t alice = s.add_user(a);
  const int64_t bob = s.add_user(user("bob"));
  EXPECT_EQ(alice, 1);
  EXPECT_EQ(bob, 2);
  EXPECT_TRUE(s.has_users());
  EXPECT_THROW(s.add_user(user("alice")), Error);
  const auto users = s.users();
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "alice");
  EXPECT_TRUE(users[0].admin);
  EXPECT_FALSE(users[1].admin);
  EXPECT_EQ(users[0].created_at, 1700000000);
  s.set_password(bob, "v1:ff");
  EXPECT_EQ(s.user("bob")->password_encrypted, "v1:ff");
  EXPECT_EQ(s.user_by_id(alice)->name, "alice");
  EXPECT_FALSE(s.user("carol"));

  ApiKeyRecord k;
  k.user_id = bob;
  k.key_hash = std::string(64, 'e');
  k.label = "phone";
  k.created_at = 5;
  EXPECT_EQ(s.add_api_key(k), 1);
  EXPECT_EQ(s.api_key(std::string(64, 'e'))->user_id, bob);
  EXPECT_FALSE(s.api_key(std::string(64, 'f')));
  EXPECT_EQ(s.api_keys(bob).size(), 1u);

  // A user goes with everything they keep; the others' stay.
  const int64_t t = put(s, "/m/a.flac", 'a');
  s.put_star(song_star(bob, ref(s, t), 10));
  s.put_star(song_star(alice, ref(s, t), 10));
  EXPECT_TRUE(s.remove_user(bob));
  EXPECT_FALSE(s.remove_user(bob));
  EXPECT_FALSE(s.api_key(std::string(64, 'e')));
  EXPECT_TRUE(s.stars(bob).empty());
  EXPECT_EQ(s.stars(alice).size(), 1u);
}

TEST_P(UserData, StarsRatingsPlaysPlaylists) {
  Store& s = *s_;
  const int64_t u = s.add_user(user("alice"));
  const int64_t t1 = put(s, "/m/1.flac", '1'), t2 = put(s, "/m/2.flac", '2');

  s.put_star(song_star(u, ref(s, t1), 100));
  s.put_star(song_star(u, ref(s, t1), 200));  // again: replaces, no duplicate
  FeedbackRecord album;
  album.user_id = u;
  album.kind = "album";
  album.item_id = "al-1";
  album.at = 150;
  s.put_star(album);
  auto stars = s.stars(u);
  ASSERT_EQ(stars.size(), 2u);
  EXPECT_EQ(stars[0].kind, "song");
  EXPECT_EQ(stars[0].at, 200);
  EXPECT_EQ(stars[0].song.track_id, t1);
  EXPECT_EQ(stars[0].song.path, "/m/1.flac");
  EXPECT_EQ(stars[1].item_id, "al-1");
  EXPECT_TRUE(s.remove_star(u, "album", "al-1", 0));
  EXPECT_FALSE(s.remove_star(u, "album", "al-1", 0));
  FeedbackRecord bad = album;
  bad.kind = "genre";
  EXPECT_THROW(s.put_star(bad), Error);

  FeedbackRecord r = song_star(u, ref(s, t2), 300);
  r.rating = 4;
  s.put_rating(r);
  r.rating = 5;
  s.put_rating(r);
  ASSERT_EQ(s.ratings(u).size(), 1u);
  EXPECT_EQ(s.ratings(u)[0].rating, 5);
  r.rating = 6;
  EXPECT_THROW(s.put_rating(r), Error);
  r.rating = 0;  // removes
  s.put_rating(r);
  EXPECT_TRUE(s.ratings(u).empty());

  PlayRecord p;
  p.user_id = u;
  p.song = ref(s, t1);
  p.played_at = 1000;
  p.seconds_played = 12.5;
  p.skipped = true;
  p.source = "subsonic";
  EXPECT_EQ(s.add_play(p), 1);
  p.song = ref(s, t2);
  p.skipped = false;
  EXPECT_EQ(s.add_play(p), 2);
  const auto plays = s.plays(u, 0, 0);
  ASSERT_EQ(plays.size(), 2u);
  EXPECT_TRUE(plays[0].skipped);
  EXPECT_EQ(plays[0].seconds_played, 12.5);
  EXPECT_EQ(plays[0].source, "subsonic");
  EXPECT_EQ(plays[1].song.track_id, t2);
  EXPECT_EQ(s.plays(u, 1, 0).size(), 1u);
  EXPECT_EQ(s.plays(u, 0, 1).size(), 1u);

  PlaylistRecord pl;
  pl.owner = u;
  pl.name = "Mix";
  pl.comment = "late night";
  pl.created_at = pl.changed_at = 50;
  pl.entries = {ref(s, t2), ref(s, t1), ref(s, t2)};
  const int64_t id = s.put_playlist(pl);
  auto got = s.playlist(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "Mix");
  EXPECT_EQ(got->comment, "late night");
  ASSERT_EQ(got->entries.size(), 3u);
  EXPECT_EQ(got->entries[0].track_id, t2);
  EXPECT_EQ(got->entries[1].track_id, t1);
  EXPECT_EQ(got->entry_count, 3);
  got->entries.pop_back();
  got->is_public = true;
  got->changed_at = 60;
  EXPECT_EQ(s.put_playlist(*got), id);
  EXPECT_EQ(s.playlist(id)->entries.size(), 2u);
  EXPECT_TRUE(s.playlist(id)->is_public);
  const int64_t other = s.add_user(user("bob"));
  EXPECT_EQ(s.playlists(other).size(), 1u);  // public
  EXPECT_TRUE(s.remove_playlist(id));
  EXPECT_FALSE(s.playlist(id));
  EXPECT_TRUE(s.playlists(u).empty());
}

// H9S-7: the entries of every playlist a listing shows come from one read, as (playlist id, track
// id) rows in playlist then entry order, of the playlists playlists(user) lists; past the
// PostgreSQL cursor's page of 10,000 rows; inside a read scope or not; and a callback that throws
// stops the read without leaving the store unusable. playlist_count counts the playlists owned.
TEST_P(UserData, PlaylistEntriesAreReadInOneQuery) {
  Store& s = *s_;
  const int64_t u = s.add_user(user("alice")), o = s.add_user(user("bob"));
  const int64_t t1 = put(s, "/m/1.flac", '1'), t2 = put(s, "/m/2.flac", '2');
  auto playlist = [&](int64_t owner, bool is_public, std::vector<SongRef> entries) {
    PlaylistRecord p;
    p.owner = owner;
    p.name = "p";
    p.is_public = is_public;
    p.entries = std::move(entries);
    return s.put_playlist(p);
  };
  const int64_t mine = playlist(u, false, {ref(s, t2), ref(s, t1), ref(s, t2)});
  const int64_t theirs = playlist(o, true, {ref(s, t1)});
  const int64_t hidden = playlist(o, false, {ref(s, t2)});
  playlist(u, false, {});
  using Rows = std::vector<std::pair<int64_t, int64_t>>;
  auto rows = [&](int64_t user_id) {
    Rows out;
    playlist_entry_tracks(s, user_id, [&](int64_t p, int64_t t) { out.push_back({p, t}); });
    return out;
  };
  EXPECT_EQ(rows(u), (Rows{{mine, t2}, {mine, t1}, {mine, t2}, {theirs, t1}}));
  EXPECT_EQ(rows(o), (Rows{{theirs, t1}, {hidden, t2}}));
  EXPECT_EQ(rows(0), (Rows{{mine, t2}, {mine, t1}, {mine, t2}, {theirs, t1}, {hidden, t2}}));
  EXPECT_EQ(playlist_count(s, u), 2);
  EXPECT_EQ(playlist_count(s, o), 2);
  EXPECT_EQ(playlist_count(s, o + 1), 0);

  // A callback that throws ends the read; the store reads on, in a scope and out of one.
  EXPECT_THROW(playlist_entry_tracks(s, u, [](int64_t, int64_t) { throw Error("stop"); }), Error);
  EXPECT_EQ(rows(u).size(), 4u);
  {
    const auto scope = s.read_scope();
    EXPECT_THROW(playlist_entry_tracks(s, u, [](int64_t, int64_t) { throw Error("stop"); }), Error);
    EXPECT_EQ(rows(u).size(), 4u);
    EXPECT_EQ(rows(0).size(), 5u);
  }

  // More rows than a page of the cursor, every one handed over once.
  std::vector<SongRef> long_list;
  for (int i = 0; i < 10050; ++i) long_list.push_back(ref(s, i % 2 ? t1 : t2));
  const int64_t big = playlist(o, true, long_list);
  const Rows all = rows(u);
  ASSERT_EQ(all.size(), 4u + 10050u);
  for (size_t i = 4; i < all.size(); ++i) ASSERT_EQ(all[i], std::make_pair(big, (i - 4) % 2 ? t1 : t2)) << i;
  EXPECT_EQ(s.playlist(big)->entries.size(), 10050u);
}

// Nothing a user keeps goes with a track, and a song reference follows its recording to a new id:
// by content hash (a file indexed again after a --rebuild, a file moved while it was away), or by
// path (the file at the same place re-encoded).
TEST_P(UserData, SongReferencesFollowTheirRecording) {
  Store& s = *s_;
  const int64_t u = s.add_user(user("alice"));
  const int64_t a = put(s, "/m/a.flac", 'a'), b = put(s, "/m/b.flac", 'b'), c = put(s, "/m/c.flac", 'c');
  s.put_star(song_star(u, ref(s, a), 1));
  FeedbackRecord rating = song_star(u, ref(s, b), 2);
  rating.rating = 3;
  s.put_rating(rating);
  PlayRecord p;
  p.user_id = u;
  p.song = ref(s, c);
  p.played_at = 3;
  s.add_play(p);
  PlaylistRecord pl;
  pl.owner = u;
  pl.name = "all";
  pl.entries = {ref(s, a), ref(s, b), ref(s, c)};
  const int64_t list = s.put_playlist(pl);
  EXPECT_EQ(s.reattach_songs(), 0);  // all attached

  // An index rebuilt whole (a damaged SQLite file replaced, which keeps nothing): every track
  // goes and comes back under other ids, in another order; c was moved meanwhile (same content,
  // new path), b re-encoded in place (same path, new content). The ids wipe() keeps are
  // forgotten, so that the tracks are numbered anew.
  s.wipe(identity());
  test::forget_kept_ids(location_);
  EXPECT_EQ(s.stars(u).size(), 1u);
  const int64_t new_c = put(s, "/m/moved/c.flac", 'c');
  const int64_t new_b = put(s, "/m/b.flac", 'B');
  const int64_t new_a = put(s, "/m/a.flac", 'a');
  const int64_t stranger = put(s, "/m/z.flac", 'z');
  // Other ids, above every id the user data still names (K6-1: numbered from 1 again, they made
  // the old ids name other recordings, and a reference not moved yet showed on the wrong song).
  EXPECT_GT(std::min({new_a, new_b, new_c}), std::max({a, b, c}));
  // Every reference moves: the star, the play and a's and c's entries by content hash, the rating
  // and b's entry by path (no track has b's old content).
  EXPECT_EQ(s.reattach_songs(), 6);
  EXPECT_EQ(s.stars(u)[0].song.track_id, new_a);
  EXPECT_EQ(s.ratings(u)[0].song.track_id, new_b);
  EXPECT_EQ(s.ratings(u)[0].song.content_hash, std::string(64, 'B'));  // brought up to date
  EXPECT_EQ(s.plays(u, 0, 0)[0].song.track_id, new_c);
  EXPECT_EQ(s.plays(u, 0, 0)[0].song.path, "/m/moved/c.flac");
  const auto entries = s.playlist(list)->entries;
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].track_id, new_a);
  EXPECT_EQ(entries[1].track_id, new_b);
  EXPECT_EQ(entries[2].track_id, new_c);
  EXPECT_EQ(s.reattach_songs(), 0);

  // A track removed: its references stay (detached, with what finds it again) and come back with it.
  s.remove_tracks({new_a});
  EXPECT_EQ(s.reattach_songs(), 0);
  ASSERT_EQ(s.stars(u).size(), 1u);
  EXPECT_EQ(s.stars(u)[0].song.content_hash, std::string(64, 'a'));
  const int64_t back = put(s, "/m/elsewhere/a.flac", 'a');
  EXPECT_NE(back, new_a);
  EXPECT_EQ(s.reattach_songs(), 2);  // the star and the playlist entry
  EXPECT_EQ(s.stars(u)[0].song.track_id, back);
  EXPECT_EQ(s.playlist(list)->entries[0].track_id, back);
  (void)stranger;
}

TEST_P(UserData, ExportAndImportKeepEverything) {
  Store& s = *s_;
  const int64_t u = s.add_user(user("alice"));
  const int64_t t = put(s, "/m/a.flac", 'a');
  ApiKeyRecord k;
  k.user_id = u;
  k.key_hash = std::string(64, 'k');
  s.add_api_key(k);
  s.put_star(song_star(u, ref(s, t), 7));
  FeedbackRecord r = song_star(u, ref(s, t), 8);
  r.rating = 2;
  s.put_rating(r);
  PlayRecord p;
  p.user_id = u;
  p.song = ref(s, t);
  p.played_at = 9;
  p.seconds_played = 1.25;
  s.add_play(p);
  PlaylistRecord pl;
  pl.owner = u;
  pl.name = "p";
  pl.entries = {ref(s, t)};
  s.put_playlist(pl);
  const UserDataCopy data = s.export_user_data();

  const std::string other =
      GetParam() == "sqlite" ? test::temp_dir() + "/copy.db" : test::PostgresServer::shared().create_database();
  auto dst = open_store(other, OpenMode::ReadWrite);
  EXPECT_THROW(dst->import_user_data(data), Error);  // outside an import
  {
    auto scope = dst->begin_import(identity(), {});
    dst->import_user_data(data);
    scope->commit();
  }
  const UserDataCopy back = dst->export_user_data();
  ASSERT_EQ(back.users.size(), 1u);
  EXPECT_EQ(back.users[0].name, "alice");
  EXPECT_EQ(back.api_keys.size(), 1u);
  ASSERT_EQ(back.stars.size(), 1u);
  EXPECT_EQ(back.stars[0].song.path, "/m/a.flac");
  ASSERT_EQ(back.ratings.size(), 1u);
  EXPECT_EQ(back.ratings[0].rating, 2);
  ASSERT_EQ(back.plays.size(), 1u);
  EXPECT_EQ(back.plays[0].seconds_played, 1.25);
  ASSERT_EQ(back.playlists.size(), 1u);
  EXPECT_EQ(back.playlists[0].entries.size(), 1u);
  // New rows after the copy get fresh ids.
  EXPECT_EQ(dst->add_user(user("bob")), 2);
  PlayRecord more = p;
  more.played_at = 10;  // another play: the same one again is kept once (plays_once_test.cpp)
  EXPECT_EQ(dst->add_play(more), 2);
}

// The play queue and bookmarks (issue 54: savePlayQueue, createBookmark): one queue per user,
// replaced whole and removed by an empty one; one bookmark per user and song; both per user, gone
// with their user, and following their recordings through `index --rebuild` as the other
// references do.
TEST_P(UserData, PlayQueuesAndBookmarks) {
  Store& s = *s_;
  const int64_t ann = s.add_user(user("ann")), bob = s.add_user(user("bob"));
  const int64_t a = put(s, "/m/a.flac", 'a'), b = put(s, "/m/b.flac", 'b');
  EXPECT_FALSE(s.play_queue(ann));
  PlayQueueRecord q;
  q.user_id = ann;
  q.entries = {ref(s, a), ref(s, b), ref(s, a)};
  q.current = 2;
  q.position_ms = 61234;
  q.changed_at = 100;
  q.changed_by = "phone";
  s.put_play_queue(q);
  auto got = s.play_queue(ann);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->entries.size(), 3u);
  EXPECT_EQ(got->entries[1].track_id, b);
  EXPECT_EQ(got->current, 2);
  EXPECT_EQ(got->position_ms, 61234);
  EXPECT_EQ(got->changed_at, 100);
  EXPECT_EQ(got->changed_by, "phone");
  EXPECT_FALSE(s.play_queue(bob));  // per user
  PlayQueueRecord bad = q;
  bad.current = 3;
  EXPECT_THROW(s.put_play_queue(bad), Error);  // current past the end
  PlayQueueRecord bobs = q;
  bobs.user_id = bob;
  bobs.entries = {ref(s, b)};
  bobs.current = 0;
  s.put_play_queue(bobs);
  q.entries = {ref(s, b)};
  q.current = 0;
  q.changed_by = "desktop";
  s.put_play_queue(q);  // replaced whole
  EXPECT_EQ(s.play_queue(ann)->entries.size(), 1u);
  EXPECT_EQ(s.play_queue(ann)->changed_by, "desktop");

  BookmarkRecord m;
  m.user_id = ann;
  m.song = ref(s, a);
  m.position_ms = 1500;
  m.comment = "the bridge";
  m.created_at = m.changed_at = 10;
  s.put_bookmark(m);
  m.position_ms = 2500;
  m.changed_at = 20;
  s.put_bookmark(m);  // the same song: replaced
  BookmarkRecord other = m;
  other.song = ref(s, b);
  other.changed_at = 30;
  s.put_bookmark(other);
  auto marks = s.bookmarks(ann);
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_EQ(marks[0].song.track_id, b);  // newest change first
  EXPECT_EQ(marks[1].position_ms, 2500);
  EXPECT_EQ(marks[1].comment, "the bridge");
  EXPECT_TRUE(s.bookmarks(bob).empty());
  EXPECT_FALSE(s.remove_bookmark(bob, a));
  EXPECT_TRUE(s.remove_bookmark(ann, b));
  EXPECT_EQ(s.bookmarks(ann).size(), 1u);

  // The tracks come back under other ids (a wipe whose kept ids are forgotten, as an index from
  // before kept ids was rebuilt); the queue and bookmark follow.
  q.entries = {ref(s, a), ref(s, b)};
  q.current = 1;
  s.put_play_queue(q);
  s.wipe(identity());
  test::forget_kept_ids(location_);
  const int64_t new_b = put(s, "/m/b.flac", 'b'), new_a = put(s, "/m/a.flac", 'a');
  EXPECT_GT(std::min(new_a, new_b), std::max(a, b));  // above the ids the queues name (K6-1)
  EXPECT_EQ(s.reattach_songs(), 4);  // ann's two entries, bob's one, the bookmark
  got = s.play_queue(ann);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->entries[0].track_id, new_a);
  EXPECT_EQ(got->entries[1].track_id, new_b);
  EXPECT_EQ(got->current, 1);
  EXPECT_EQ(s.play_queue(bob)->entries[0].track_id, new_b);
  EXPECT_EQ(s.bookmarks(ann)[0].song.track_id, new_a);

  // Copied by `migrate`.
  const UserDataCopy data = s.export_user_data();
  EXPECT_EQ(data.play_queues.size(), 2u);
  EXPECT_EQ(data.bookmarks.size(), 1u);
  const std::string copy =
      GetParam() == "sqlite" ? test::temp_dir() + "/queue-copy.db" : test::PostgresServer::shared().create_database();
  auto dst = open_store(copy, OpenMode::ReadWrite);
  {
    auto scope = dst->begin_import(identity(), {});
    dst->import_user_data(data);
    scope->commit();
  }
  ASSERT_TRUE(dst->play_queue(ann));
  EXPECT_EQ(dst->play_queue(ann)->entries.size(), 2u);
  EXPECT_EQ(dst->play_queue(ann)->position_ms, 61234);
  EXPECT_EQ(dst->bookmarks(ann).size(), 1u);

  // An empty queue clears it; removing a user removes theirs.
  PlayQueueRecord empty;
  empty.user_id = ann;
  s.put_play_queue(empty);
  EXPECT_FALSE(s.play_queue(ann));
  EXPECT_TRUE(s.remove_user(bob));
  EXPECT_FALSE(s.play_queue(bob));
  EXPECT_TRUE(s.remove_user(ann));
  EXPECT_TRUE(s.bookmarks(ann).empty());
}

// The history's writes (issue 55): many plays in one transaction (ids in order; one bad play and
// none is kept), and forgetting by user, time and source (stars and ratings only without a source).
TEST_P(UserData, PlaysInBulkAndForgetting) {
  Store& s = *s_;
  const int64_t t = put(s, "/m/a.flac", 'a');
  const int64_t ann = s.add_user(user("ann")), bob = s.add_user(user("bob"));
  std::vector<PlayRecord> plays;
  for (int i = 0; i < 6; ++i) {
    PlayRecord p;
    p.user_id = i < 5 ? ann : bob;
    p.song = ref(s, t);
    p.played_at = 100 * (i + 1);
    p.source = i % 2 ? "lastfm" : "listenbrainz";
    plays.push_back(p);
  }
  s.add_plays(plays);
  const auto kept = s.plays(0, 0, 0);
  ASSERT_EQ(kept.size(), 6u);
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i].played_at, 100 * static_cast<int64_t>(i + 1));
    if (i) {
      EXPECT_GT(kept[i].id, kept[i - 1].id);
    }
  }
  std::vector<PlayRecord> bad = {plays[0], plays[0]};
  bad[1].song.track_id = 0;  // no song: the whole batch is refused
  EXPECT_THROW(s.add_plays(bad), Error);
  EXPECT_EQ(s.plays(0, 0, 0).size(), 6u);
  s.add_plays({});
  // Past one statement's rows (PostgreSQL writes a batch a statement): order and values kept.
  std::vector<PlayRecord> many(2345, plays[5]);
  for (size_t i = 0; i < many.size(); ++i) {
    many[i].played_at = 10000 + static_cast<int64_t>(i);
    many[i].seconds_played = 0.5 * static_cast<double>(i % 7);
    many[i].skipped = i % 3 == 0;
  }
  s.add_plays(many);
  const auto bobs = s.plays(bob, 0, 0);
  ASSERT_EQ(bobs.size(), many.size() + 1);
  for (size_t i = 0; i < many.size(); ++i) {
    const PlayRecord& p = bobs[i + 1];
    ASSERT_EQ(p.played_at, many[i].played_at) << i;
    EXPECT_EQ(p.seconds_played, many[i].seconds_played) << i;
    EXPECT_EQ(p.skipped, many[i].skipped) << i;
    EXPECT_EQ(p.source, "lastfm");
    EXPECT_EQ(p.song.content_hash, many[i].song.content_hash);
    EXPECT_GT(p.id, bobs[i].id);
  }
  EXPECT_EQ(s.forget_history(bob, 10000 + 1000, "lastfm").plays, 1001);  // plays[5] (600) and the first 1000
  EXPECT_EQ(s.plays(bob, 0, 0).size(), 1345u);
  EXPECT_EQ(s.forget_history(bob, 0, "").plays, 1345);
  const int64_t again = s.add_play(plays[5]);  // single plays go on after a batch's ids
  EXPECT_EQ(again, s.plays(0, 0, 0).back().id);

  s.put_star(song_star(ann, ref(s, t), 150));
  FeedbackRecord r = song_star(ann, ref(s, t), 450);
  r.rating = 4;
  s.put_rating(r);
  HistoryRemoved gone = s.forget_history(ann, 0, "lastfm");  // ann's plays at 200, 400
  EXPECT_EQ(gone.plays, 2);
  EXPECT_EQ(gone.stars + gone.ratings, 0);
  gone = s.forget_history(ann, 320, "");  // plays at 100, 300 and the star at 150
  EXPECT_EQ(gone.plays, 2);
  EXPECT_EQ(gone.stars, 1);
  EXPECT_EQ(gone.ratings, 0);
  ASSERT_EQ(s.plays(ann, 0, 0).size(), 1u);
  EXPECT_EQ(s.plays(ann, 0, 0)[0].played_at, 500);
  EXPECT_EQ(s.plays(bob, 0, 0).size(), 1u);  // another user's: untouched
  gone = s.forget_history(ann, 0, "");
  EXPECT_EQ(gone.plays, 1);
  EXPECT_EQ(gone.ratings, 1);
  EXPECT_TRUE(s.plays(ann, 0, 0).empty());
  EXPECT_EQ(s.plays(bob, 0, 0).size(), 1u);
  EXPECT_TRUE(s.user("ann"));  // the user stays
}

// `index --rebuild --plan` and the rebuild of a damaged index empty the index (wipe) before the
// files are indexed again, by workers on other machines or this process: each file must get its
// old track id back (a song's id in the Subsonic API, cached by apps), so that the stars, plays
// and playlists that name it still name the same song. They were numbered anew before.
TEST_P(UserData, WipeGivesEachFileIndexedAgainItsOldTrackId) {
  Store& s = *s_;
  // A real file for one path: its copy elsewhere must not take its id (the file did not move).
  const std::string real = test::temp_dir() + "/kept.flac";
  std::ofstream(real) << "x";
  const int64_t a = put(s, real, 'a'), b = put(s, "/m/b.flac", 'b'), c = put(s, "/m/c.flac", 'c');
  const int64_t u = s.add_user(user("ann"));
  s.put_star(song_star(u, ref(s, b), 10));
  PlayRecord play;
  play.user_id = u;
  play.song = ref(s, c);
  play.played_at = 20;
  s.add_play(play);
  PlaylistRecord pl;
  pl.owner = u;
  pl.name = "Mix";
  pl.created_at = pl.changed_at = 30;
  pl.entries = {ref(s, a), ref(s, c)};
  const int64_t list = s.put_playlist(pl);
  // A file deleted (retired: restorable) with the highest id, starred: its id is the song's too.
  const int64_t gone = put(s, "/m/gone.flac", 'g');
  s.put_star(song_star(u, ref(s, gone), 11));
  s.retire_tracks({gone});

  s.wipe(identity());
  const int64_t fresh = put(s, "/m/new.flac", 'n');  // new to the library: above every old id
  EXPECT_GT(fresh, std::max({a, b, c, gone})) << "a new file took the id of a deleted song";
  const int64_t copy = put(s, "/m/copy-of-kept.flac", 'a');  // a's content, but a is still there
  EXPECT_NE(copy, a);
  EXPECT_EQ(put(s, "/m/c.flac", 'c'), c);            // by path
  EXPECT_EQ(put(s, "/m/moved/b.flac", 'b'), b);      // by content: /m/b.flac is no longer a file
  EXPECT_EQ(put(s, real, 'a'), a);                   // by path, though its copy came first
  EXPECT_GT(put(s, "/m/later.flac", 'l'), std::max(fresh, copy));

  EXPECT_EQ(put(s, "/m/gone.flac", 'g'), gone);  // the deleted file back: its old id

  s.reattach_songs();
  ASSERT_EQ(s.stars(u).size(), 2u);
  for (const auto& star : s.stars(u)) EXPECT_EQ(star.song.track_id, star.song.path == "/m/gone.flac" ? gone : b);
  ASSERT_EQ(s.plays(u, 0, 0).size(), 1u);
  EXPECT_EQ(s.plays(u, 0, 0)[0].song.track_id, c);
  const auto kept = s.playlist(list);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->entries.size(), 2u);
  EXPECT_EQ(kept->entries[0].track_id, a);
  EXPECT_EQ(kept->entries[1].track_id, c);
}

// K6-1: a track gone (retired, deleted, its retired copy purged) leaves its user data on its id
// until the recording comes back; the next file added took that id (SQLite numbers above the
// tracks left, PostgreSQL took MAX(id) + 1), so a star on a deleted song showed on the new song
// in getStarred2, and its plays counted for it. A new id is now above every id anything names.
TEST_P(UserData, AnIdIsNeverGivenAgainWhileSomethingNamesIt) {
  Store& s = *s_;
  const int64_t u = s.add_user(user("ann"));
  const int64_t a = put(s, "/m/a.flac", 'a'), b = put(s, "/m/b.flac", 'b');
  s.put_star(song_star(u, ref(s, b), 10));
  s.retire_tracks({b});  // the newest file deleted: kept restorable, its star kept on its id
  const int64_t c = put(s, "/m/c.flac", 'c');
  EXPECT_GT(c, b);
  PlayRecord play;
  play.user_id = u;
  play.song = ref(s, c);
  play.played_at = 20;
  s.add_play(play);
  s.retire_tracks({c});
  EXPECT_EQ(s.purge_retired(int64_t{1} << 40), 2);  // b's and c's retired copies forgotten
  const int64_t d = put(s, "/m/d.flac", 'd');
  EXPECT_GT(d, c);  // only the star and the play name b and c now
  BookmarkRecord mark;
  mark.user_id = u;
  mark.song = ref(s, d);
  mark.position_ms = 5;
  s.put_bookmark(mark);
  s.remove_tracks({d});
  const int64_t e = put(s, "/m/e.flac", 'e');
  EXPECT_GT(e, d);
  ASSERT_EQ(s.stars(u).size(), 1u);
  EXPECT_EQ(s.stars(u)[0].song.track_id, b);  // still waiting for b's recording, on no other song
  (void)a;
}

// The query plan the store's database gives "a user's plays after an id, in id order" (what
// Store::plays(user, after_id) and count_plays ask at every /rest/ request that lists songs: the
// play sums of service/user_data.h are brought up to date from the newer plays).
std::string plays_plan(const std::string& location) {
  const std::string query = "SELECT id FROM plays WHERE user_id = 1 AND id > 2 ORDER BY id";
  std::string plan;
  if (location.rfind("postgresql://", 0) == 0) {
    // Scans the planner could take instead are priced out, so that the plan names the index it
    // would use on a table of any size (this one holds a few rows).
    const auto q = [](const std::string& s) { return "'" + s + "'"; };
    const std::string sql = "SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = off; EXPLAIN " + query;
    EXPECT_EQ(test::run_command(q(test::PostgresServer::shared().bin_dir() + "/psql") + " -q -X -d " + q(location) + " -c " +
                                    q(sql),
                                &plan),
              0);
    return plan;
  }
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(location.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + query).c_str(), -1, &st, nullptr), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) plan += reinterpret_cast<const char*>(sqlite3_column_text(st, 3)) + std::string("\n");
  sqlite3_finalize(st);
  sqlite3_close(db);
  return plan;
}

// A user's newer plays are read from an index of that user's plays in id order: before, the only
// index of a user's plays ordered them by time, so the store read every play after the id (any
// user's) or sorted all of the user's, at each request.
TEST_P(UserData, AUsersPlaysAreReadFromTheirOwnIndexInIdOrder) {
  Store& s = *s_;
  const int64_t t = put(s, "/m/a.flac", 'a');
  const int64_t ann = s.add_user(user("ann")), bob = s.add_user(user("bob"));
  std::vector<PlayRecord> plays;
  for (int i = 0; i < 40; ++i) {
    PlayRecord p;
    p.user_id = i % 4 == 0 ? ann : bob;
    p.song = ref(s, t);
    p.played_at = 5000 - 100 * i;  // later ids, earlier times: id order is not time order
    plays.push_back(p);
  }
  s.add_plays(plays);
  const std::vector<PlayRecord> all = s.plays(ann, 0, 0);
  ASSERT_EQ(all.size(), 10u);
  const std::vector<PlayRecord> after = s.plays(ann, all[3].id, 4);
  ASSERT_EQ(after.size(), 4u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id, all[4 + i].id);
    EXPECT_EQ(after[i].user_id, ann);
  }
  EXPECT_EQ(s.count_plays(ann, all[3].id), 4);
  EXPECT_EQ(s.count_plays(bob, all[3].id), all[3].id - 4);
  EXPECT_EQ(s.plays(0, all[3].id, 0).size(), 40u - static_cast<size_t>(all[3].id));

  const std::string plan = plays_plan(location_);
  EXPECT_NE(plan.find("plays_user_id"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // SQLite: no sort of the user's plays
  EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;         // PostgreSQL: the same
}

// add_new_plays runs `fresh` (reading what is kept) inside its write: two runs at once that each
// add what is missing keep it once. Beets plays are not under the unique rule (several at one
// second on purpose), so only the lock keeps them once (hostile pass 5, H5-5: four beets
// imports of one file at once kept 16 plays instead of 4).
TEST_P(UserData, NewPlaysAreReadAndWrittenAsOne) {
  Store& s = *s_;
  const int64_t t = put(s, "/m/a.flac", 'a');
  const int64_t ann = s.add_user(user("ann"));
  PlayRecord p;
  p.user_id = ann;
  p.song = ref(s, t);
  p.played_at = 1000;
  p.source = "beets";
  constexpr int64_t kWanted = 50;
  auto top_up = [&](Store& st) {
    return st.add_new_plays([&] {
      int64_t kept = 0;
      for (const SongPlayCount& c : st.song_play_counts(ann, "beets")) kept += c.count;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the other run starts meanwhile
      return std::vector<PlayRecord>(static_cast<size_t>(std::max<int64_t>(0, kWanted - kept)), p);
    });
  };
  const std::unique_ptr<Store> other = open_store(location_, OpenMode::ReadWrite);
  int64_t a = 0, b = 0;
  std::thread first([&] { a = top_up(s); });
  std::thread second([&] { b = top_up(*other); });
  first.join();
  second.join();
  EXPECT_EQ(a + b, kWanted);
  EXPECT_EQ(s.plays(ann, 0, 0).size(), static_cast<size_t>(kWanted));
  // Counted per song as the plays name it, skipped or not, of the source asked only.
  PlayRecord skip = p;
  skip.skipped = true;
  PlayRecord mpd = p;
  mpd.source = "mpd";
  s.add_plays({skip, skip, mpd});
  std::vector<SongPlayCount> counts = s.song_play_counts(ann, "beets");
  std::sort(counts.begin(), counts.end(), [](const auto& x, const auto& y) { return x.skipped < y.skipped; });
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].content_hash, p.song.content_hash);
  EXPECT_EQ(counts[0].path, "/m/a.flac");
  EXPECT_FALSE(counts[0].skipped);
  EXPECT_EQ(counts[0].count, kWanted);
  EXPECT_TRUE(counts[1].skipped);
  EXPECT_EQ(counts[1].count, 2);
  EXPECT_TRUE(s.song_play_counts(ann + 1, "beets").empty());
  // A refused play refuses the whole write.
  EXPECT_THROW(s.add_new_plays([&] {
    PlayRecord bad = p;
    bad.song.track_id = 0;
    return std::vector<PlayRecord>{p, bad};
  }),
               Error);
  EXPECT_EQ(s.plays(ann, 0, 0).size(), static_cast<size_t>(kWanted + 3));
}

INSTANTIATE_TEST_SUITE_P(Backends, UserData, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace clap::store
