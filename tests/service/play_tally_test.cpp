// A user's plays summed per track (UserData::play_tally), kept between requests and brought up to
// date from the newer plays: after every change it must equal the sum read from the start, on
// SQLite and PostgreSQL, whoever wrote (the server's own connection or another process): new
// scrobbles, a user removed and their id given again, plays forgotten (the last one's id taken
// again), and a re-index that gives the songs other ids (the plays re-attached).
#include <gtest/gtest.h>

#include <algorithm>

#include <sqlite3.h>

#include <string>

#include "service/accounts.h"
#include "service/user_data.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/kept_ids.h"
#include "support/postgres_server.h"
#include "support/user_store.h"

namespace clap::service {
namespace {

int64_t play(store::Store& s, int64_t user, int64_t track, int64_t at, bool skipped = false) {
  const auto t = s.track(track);
  store::PlayRecord p;
  p.user_id = user;
  p.song = {track, t->content_hash, t->path};
  p.played_at = at;
  p.skipped = skipped;
  return s.add_play(p);
}

// The sum read from the start, as the server did on every request before.
UserData::PlayTally recount(const store::Store& s, int64_t user) {
  UserData::PlayTally out;
  for (const store::PlayRecord& p : s.plays(user, 0, 0)) {
    if (p.skipped) continue;
    auto& st = out[p.song.track_id];
    ++st.count;
    st.last = std::max(st.last, p.played_at);
  }
  return out;
}

void expect_same(const UserData::PlayTally& got, const UserData::PlayTally& want, const std::string& when) {
  ASSERT_EQ(got.size(), want.size()) << when;
  for (const auto& [track, st] : want) {
    const auto it = got.find(track);
    ASSERT_NE(it, got.end()) << when << ": track " << track;
    EXPECT_EQ(it->second.count, st.count) << when << ": track " << track;
    EXPECT_EQ(it->second.last, st.last) << when << ": track " << track;
  }
}

class PlayTally : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    location_ = GetParam() == "sqlite" ? test::temp_dir() + "/play-tally/library.db"
                                       : test::PostgresServer::shared().create_database();
    other_ = store::open_store(location_, store::OpenMode::ReadWrite);  // another process's connection
    other_->set_model(test::small_model());
  }
  // What a request reads: the server's connection, at the library's generation now.
  std::shared_ptr<const UserData::PlayTally> tally(int64_t user) {
    return UserData(*connection_, user, other_->library_generation()).play_tally();
  }
  std::string location_;
  std::unique_ptr<store::Store> other_;
  std::unique_ptr<AccountsConnection> connection_;
};

TEST_P(PlayTally, EqualsTheSumFromTheStartAfterEveryChange) {
  store::Store& s = *other_;
  const int64_t a = test::put_small_track(s, "/m/a.flac", 'a'), b = test::put_small_track(s, "/m/b.flac", 'b'),
                c = test::put_small_track(s, "/m/c.flac", 'c');
  const int64_t alice = test::add_plain_user(s, "alice"), bob = test::add_plain_user(s, "bob");
  connection_ = std::make_unique<AccountsConnection>(location_);
  expect_same(*tally(alice), {}, "no plays");

  for (int i = 0; i < 25; ++i) play(s, alice, i % 3 == 0 ? a : b, 100 + i, i % 5 == 4);
  play(s, bob, c, 50);
  expect_same(*tally(alice), recount(s, alice), "first read");
  expect_same(*tally(bob), recount(s, bob), "bob");

  // Nothing new: the same sums, not read again (the same object).
  const auto held = tally(alice);
  EXPECT_EQ(tally(alice).get(), held.get());

  // New scrobbles through the server's own connection and from another process; the tally a
  // request holds does not change under it.
  const UserData::PlayTally before = *held;
  const auto c_track = s.track(c);
  UserData(*connection_, alice, s.library_generation()).played(*c_track, 500, "subsonic");
  play(s, alice, a, 501);
  play(s, alice, a, 502, /*skipped=*/true);
  play(s, bob, a, 503);
  expect_same(*tally(alice), recount(s, alice), "after new plays");
  expect_same(*held, before, "the tally a request held");
  EXPECT_EQ((*tally(alice)).at(c).last, 500);

  // bob removed and a new user given his id (the largest + 1): none of bob's plays are theirs.
  ASSERT_TRUE(s.remove_user(bob));
  const int64_t carol = test::add_plain_user(s, "carol");
  ASSERT_EQ(carol, bob);
  expect_same(*tally(carol), {}, "a new user with a removed user's id");
  play(s, carol, b, 600);
  expect_same(*tally(carol), recount(s, carol), "carol's first play");

  // A re-index that gives the songs other ids: the plays follow their recordings (re-attached
  // by the first request of the new library generation) and the sums are by the new ids.
  expect_same(*tally(alice), recount(s, alice), "before the re-index");
  s.wipe(test::small_model());
  test::forget_kept_ids(location_);  // an index rebuilt before ids were kept: tracks numbered anew
  const int64_t new_c = test::put_small_track(s, "/m/c.flac", 'c'), new_a = test::put_small_track(s, "/m/a.flac", 'a'),
                new_b = test::put_small_track(s, "/m/b.flac", 'b');
  EXPECT_GT(std::min({new_a, new_b, new_c}), std::max({a, b, c}));  // above every id the plays name (K6-1)
  const auto after = tally(alice);
  expect_same(*after, recount(s, alice), "after the re-index");
  EXPECT_EQ(after->at(new_a).count, recount(s, alice).at(new_a).count);
  EXPECT_EQ(after->at(new_c).last, 500);
  (void)new_b;
}

// Plays forgotten (deleted by another process, as a history command may): SQLite gives a new
// play the id of a deleted last one, which a count alone would not notice; an older play
// forgotten is seen by the count.
TEST(PlayTallySqlite, ForgottenPlaysAreNotCounted) {
  const std::string db = test::temp_dir() + "/play-tally-forget/library.db";
  auto s = store::open_store(db, store::OpenMode::ReadWrite);
  s->set_model(test::small_model());
  const int64_t a = test::put_small_track(*s, "/m/a.flac", 'a'), b = test::put_small_track(*s, "/m/b.flac", 'b');
  const int64_t alice = test::add_plain_user(*s, "alice");
  for (int i = 0; i < 10; ++i) play(*s, alice, a, 100 + i);
  const int64_t last = play(*s, alice, a, 200);
  AccountsConnection connection(db);
  auto tally = [&](double full_check_s = UserData::kFullCheckSeconds) {
    return UserData(connection, alice, s->library_generation()).play_tally(full_check_s);
  };
  expect_same(*tally(), recount(*s, alice), "first read");

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  const auto exec = [&](const std::string& sql) { ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql; };
  exec("DELETE FROM plays WHERE id = " + std::to_string(last));
  EXPECT_EQ(play(*s, alice, b, 300), last);  // the forgotten play's id, given again
  expect_same(*tally(), recount(*s, alice), "the last play forgotten, its id given again");

  // One in the middle: seen by the count of the plays up to the last, made at most every
  // kFullCheckSeconds (here at once).
  exec("DELETE FROM plays WHERE id = " + std::to_string(last - 5));
  expect_same(*tally(/*full_check_s=*/0), recount(*s, alice), "a play in the middle forgotten");
  sqlite3_close(raw);
}

INSTANTIATE_TEST_SUITE_P(Backends, PlayTally, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace clap::service
