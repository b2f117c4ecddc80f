// Every reader of many playlists reads them in a fixed number of statements (issue 53, what
// H9S-7 left), on SQLite and on the real PostgreSQL server the test process starts: a user's
// saved mixes (/api/mixes, service::stored_mixes), an admin's listing of one user's playlists
// (getPlaylists?username=X, UserData::playlist_summaries) and the copy of every user's data
// (`clapsearch migrate`, Store::export_user_data). Before, the mixes and the copy read each
// playlist with its entries (a statement or two per playlist), and the admin's listing read every
// user's playlists and entries to keep X's. Counted: the statements the process prepared (SQLite)
// or sent (PostgreSQL), never a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "service/accounts.h"
#include "service/for_you.h"
#include "service/library.h"
#include "service/mixes.h"
#include "service/user_data.h"
#include "store/postgres.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"
#include "support/user_store.h"

namespace clap::service {
namespace {

// The statements sent to either store since the process started.
uint64_t statements() { return store::sql::statements_prepared() + store::pg::statements_sent(); }

class PlaylistReads : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      const std::string dir = test::temp_dir() + "/playlist-reads-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      location_ = dir + "/library.db";
    } else {
      location_ = test::PostgresServer::shared().create_database();
    }
    s_ = store::open_store(location_, store::OpenMode::ReadWrite);
    s_->set_model(test::small_model());
    s_->add_roots({"/m"});
    for (const char c : {'a', 'b', 'c'}) tracks_.push_back(test::put_small_track(*s_, std::string("/m/") + c + ".flac", c));
    for (const char* name : {"alice", "bob", "carol"}) users_.push_back(test::add_plain_user(*s_, name, std::string(name) == "alice"));
  }
  store::SongRef ref(int64_t track) const {
    const auto t = s_->track(track);
    return {track, t->content_hash, t->path};
  }
  int64_t playlist(int64_t owner, const std::string& name, const std::string& comment, bool is_public,
                   const std::vector<int64_t>& songs) {
    store::PlaylistRecord p;
    p.owner = owner;
    p.name = name;
    p.comment = comment;
    p.is_public = is_public;
    p.created_at = p.changed_at = 1700000000;
    for (const int64_t t : songs) p.entries.push_back(ref(t));
    return s_->put_playlist(p);
  }
  std::string location_;
  std::unique_ptr<store::Store> s_;
  std::vector<int64_t> tracks_, users_;
};

// /api/mixes: the user's mixes, with their songs and reasons, from the same statements whether
// the user has 2 mixes or 32; nobody else's playlist marked so, and none of the user's others.
TEST_P(PlaylistReads, AUsersMixesAreReadInAFixedNumberOfStatements) {
  const int64_t alice = users_[0], bob = users_[1];
  const int64_t a = tracks_[0], b = tracks_[1], c = tracks_[2];
  const std::string mark = std::string(kMixPlaylistMark) + " of 2026-11-27: songs near your taste 'x'";
  playlist(alice, "Mix 1", mark + "\n1. a: like a\n2. b: like b", false, {a, b});
  playlist(alice, "Mine", "not a mix", false, {c});
  playlist(alice, "Mix 2", mark + "\n1. c: like c", false, {c, a});
  playlist(bob, "Bob's mix", mark, true, {a});  // public, but bob's

  LibraryOptions o;
  o.db = location_;
  Library lib(o, Access::ReadOnly);
  const auto snap = lib.snapshot();
  auto read = [&](uint64_t* made) {
    const uint64_t before = statements();
    std::vector<StoredMix> mixes = stored_mixes(*s_, alice, *snap);
    *made = statements() - before;
    return mixes;
  };
  uint64_t few = 0, many = 0;
  read(&few);  // the first read of the snapshot's tracks is made once
  const std::vector<StoredMix> two = read(&few);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].name, "Mix 1");
  ASSERT_EQ(two[0].songs.size(), 2u);
  EXPECT_EQ(two[0].songs[0].track_id, a);
  EXPECT_EQ(two[0].songs[1].track_id, b);
  EXPECT_EQ(two[1].name, "Mix 2");
  ASSERT_EQ(two[1].songs.size(), 2u);
  EXPECT_EQ(two[1].songs[0].track_id, c);
  EXPECT_EQ(two[1].about, mark);

  for (int i = 0; i < 30; ++i) {
    playlist(alice, "Mix more " + std::to_string(i), mark, false, {b, c, b});
    playlist(alice, "Other " + std::to_string(i), "", false, {a});
    playlist(bob, "Bob's " + std::to_string(i), mark, true, {a, b});
  }
  const std::vector<StoredMix> more = read(&many);
  EXPECT_EQ(many, few) << "the mixes of 2 playlists made " << few << " statements, of 32: " << many;
  ASSERT_EQ(more.size(), 32u);
  EXPECT_EQ(more[0].songs.size(), 2u);
  EXPECT_EQ(more[31].name, "Mix more 29");
  EXPECT_EQ(more[31].songs.size(), 3u);
}

// getPlaylists?username=bob by an admin: bob's playlists (private ones too), counted as a listing
// counts them, read alone: the songs looked up are bob's entries only, however many playlists and
// entries other users have, and the statements do not grow with them.
TEST_P(PlaylistReads, AnAdminsListingOfOneUsersPlaylistsReadsOnlyTheirs) {
  const int64_t alice = users_[0], bob = users_[1], carol = users_[2];
  const int64_t a = tracks_[0], b = tracks_[1];
  playlist(bob, "open", "", true, {a, b});
  playlist(bob, "closed", "", false, {b});
  playlist(carol, "hers", "", true, {a});
  AccountsConnection connection(location_);
  auto listing = [&](uint64_t* made, int64_t* looked_up) {
    *looked_up = 0;
    const uint64_t before = statements();
    auto out = UserData(connection, alice, s_->library_generation()).playlist_summaries(bob, [&](int64_t) {
      ++*looked_up;
      return std::optional<int64_t>(30);
    });
    *made = statements() - before;
    return out;
  };
  uint64_t few = 0, many = 0;
  int64_t looked_up = 0;
  listing(&few, &looked_up);  // the connection's first read re-attaches the songs once
  auto listed = listing(&few, &looked_up);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].playlist.name, "open");
  EXPECT_EQ(listed[0].owner, "bob");
  EXPECT_EQ(listed[0].songs, 2);
  EXPECT_EQ(listed[0].seconds, 60);
  EXPECT_EQ(listed[1].playlist.name, "closed");
  EXPECT_EQ(listed[1].songs, 1);
  EXPECT_EQ(looked_up, 3);

  for (int i = 0; i < 30; ++i) playlist(carol, "more " + std::to_string(i), "", i % 2 == 0, {a, b, a});
  listed = listing(&many, &looked_up);
  EXPECT_EQ(many, few);
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_EQ(looked_up, 3) << "the songs of other users' playlists were read for bob's listing";
}

// `clapsearch migrate`: the copy of every user's data reads every playlist with its entries, in
// order, from the same statements for 3 playlists or 33 (and more entries than a cursor's page).
TEST_P(PlaylistReads, TheCopyOfTheUsersDataReadsEveryPlaylistInAFixedNumberOfStatements) {
  const int64_t alice = users_[0], bob = users_[1];
  const int64_t a = tracks_[0], b = tracks_[1], c = tracks_[2];
  playlist(alice, "one", "", false, {a, b, a});
  playlist(bob, "two", "x", true, {});
  playlist(bob, "three", "", false, {c});
  auto copy = [&](uint64_t* made) {
    const uint64_t before = statements();
    store::UserDataCopy out = s_->export_user_data();
    *made = statements() - before;
    return out;
  };
  auto expect_whole = [&](const store::UserDataCopy& copied) {
    for (const store::PlaylistRecord& p : copied.playlists) {
      const auto stored = s_->playlist(p.id);
      ASSERT_TRUE(stored);
      EXPECT_EQ(p.name, stored->name);
      ASSERT_EQ(p.entries.size(), stored->entries.size()) << p.name;
      for (size_t i = 0; i < p.entries.size(); ++i) {
        EXPECT_EQ(p.entries[i].track_id, stored->entries[i].track_id);
        EXPECT_EQ(p.entries[i].content_hash, stored->entries[i].content_hash);
        EXPECT_EQ(p.entries[i].path, stored->entries[i].path);
      }
    }
  };
  uint64_t few = 0, many = 0;
  copy(&few);  // what a connection reads once (PostgreSQL: its first transaction's set-up)
  const store::UserDataCopy three = copy(&few);
  ASSERT_EQ(three.playlists.size(), 3u);
  expect_whole(three);
  for (int i = 0; i < 30; ++i) playlist(i % 2 ? alice : bob, "more " + std::to_string(i), "", i % 3 == 0, {c, b});
  const store::UserDataCopy more = copy(&many);
  EXPECT_EQ(many, few) << "the copy of 3 playlists made " << few << " statements, of 33: " << many;
  ASSERT_EQ(more.playlists.size(), 33u);
  expect_whole(more);
  // More entries than a page of PostgreSQL's cursor (10,000 rows a statement), every one copied once.
  std::vector<int64_t> long_list;
  for (int i = 0; i < 10050; ++i) long_list.push_back(i % 2 ? a : b);
  playlist(alice, "long", "", false, long_list);
  const store::UserDataCopy with_long = copy(&many);
  ASSERT_EQ(with_long.playlists.size(), 34u);
  EXPECT_EQ(with_long.playlists.back().entries.size(), 10050u);
  expect_whole(with_long);
}

INSTANTIATE_TEST_SUITE_P(Backends, PlaylistReads, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace clap::service
