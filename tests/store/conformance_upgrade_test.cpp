// The Store contract, indexes of older schemas on both stores: made before the song identifiers
// or before progressive indexing, they upgrade in place keeping every row (set-up:
// store_contract.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store_contract.h"

namespace clap::store {
namespace {

using namespace contract;

TEST_P(StoreContract, IdentifiersRoundTripAndAreRewrittenWithoutTheEmbeddings) {
  auto s = open();
  s->set_model(identity());
  Track t = track("/m/a.flac");
  t.mbid = "9f8c5f5e-1111-4c6b-9a3e-0123456789ab";
  t.isrc = "GBAYE6900001";
  t.album_artist = "Various Artists";
  t.title = "夜に駆ける";
  t.tags_version = kTagsVersion;
  const auto emb = awkward(7);
  const auto wins = windows(3);
  const int64_t a = s->put_track(t, wins, emb.data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(2, -1, 2), unit(1).data());  // tags_version 0
  Track bad = track("/m/bad.flac");
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  s->put_track(bad, {}, nullptr);

  auto got = s->track(a);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->mbid, t.mbid);
  EXPECT_EQ(got->isrc, t.isrc);
  EXPECT_EQ(got->album_artist, t.album_artist);
  EXPECT_EQ(got->title, t.title);
  EXPECT_EQ(got->tags_version, kTagsVersion);
  EXPECT_EQ(s->track_by_path("/m/b.flac")->mbid, "");
  // Only ok tracks with an older reading of the tags are read again.
  const auto stale = s->tracks_with_tags_before(kTagsVersion);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].id, b);
  EXPECT_EQ(stale[0].path, "/m/b.flac");

  // update_tags: the tags change, the windows and embeddings do not; a library write.
  const int64_t before = s->library_generation();
  Track tags;
  tags.title = "Кино";
  tags.artist = "Группа крови";
  tags.mbid = "0b7c1d2e-2222-4c6b-9a3e-0123456789ab";
  tags.isrc = "RUA018900001";
  tags.album_artist = "Кино";
  tags.track_no = 4;
  tags.tags_version = kTagsVersion;
  s->update_tags(b, tags);
  EXPECT_GT(s->library_generation(), before);
  const auto changed = s->changes_since(before);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->changed, ids({b}));
  got = s->track(b);
  EXPECT_EQ(got->title, "Кино");
  EXPECT_EQ(got->artist, "Группа крови");
  EXPECT_EQ(got->mbid, tags.mbid);
  EXPECT_EQ(got->isrc, tags.isrc);
  EXPECT_EQ(got->track_no, 4);
  EXPECT_EQ(got->window_count, 2);
  EXPECT_EQ(got->duration_s, 12.5);
  EXPECT_TRUE(s->tracks_with_tags_before(kTagsVersion).empty());
  const Embeddings e = s->track_embeddings({b});
  ASSERT_EQ(e.size(), 1);
  EXPECT_TRUE(same_bits(std::vector<float>(e.row(0), e.row(0) + kDim), unit(1)));
  EXPECT_THROW(s->update_tags(9999, tags), Error);

  // migrate's copy carries them.
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->track(a)->mbid, t.mbid);
  EXPECT_EQ(target->track(b)->isrc, tags.isrc);
  EXPECT_EQ(target->track(a)->album_artist, "Various Artists");
  EXPECT_EQ(target->track(a)->tags_version, kTagsVersion);
}

// An index made before the identifiers were stored upgrades in place: every row is kept, with
// tags_version 0 (its tags are read again by the next index run), and the columns are writable.
TEST_P(StoreContract, IndexBeforeTheIdentifiersUpgradesInPlace) {
  const bool sqlite = GetParam() == "sqlite";
  const auto emb = awkward(3);
  int64_t a = 0;
  {
    auto s = open();
    s->set_model(identity());
    Track t = track("/m/a.mp3");
    t.tags_version = kTagsVersion;
    a = s->put_track(t, windows(2), emb.data());
  }
  const int old_version = (sqlite ? SqliteStore::current_schema_version() : PostgresStore::current_schema_version()) - 3 -
                          sets_migrations(sqlite);
  raw_sql(location_, drop_sets(sqlite) + kDropIdentifiers + "UPDATE schema_version SET version = " + std::to_string(old_version));
  EXPECT_THROW(open(OpenMode::ReadOnly), Error);  // an older schema is not read as it is
  auto s = open();  // migrates
  EXPECT_EQ(s->schema_version(), sqlite ? SqliteStore::current_schema_version() : PostgresStore::current_schema_version());
  const auto t = s->track(a);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->title, "Title");
  EXPECT_EQ(t->mbid, "");
  EXPECT_EQ(t->tags_version, 0);
  EXPECT_EQ(t->window_count, 2);
  ASSERT_EQ(s->tracks_with_tags_before(kTagsVersion).size(), 1u);
  const Embeddings e = s->track_embeddings({a});
  ASSERT_EQ(e.size(), 1);
  EXPECT_TRUE(same_bits(std::vector<float>(e.row(0), e.row(0) + kDim), emb));
  EXPECT_TRUE(s->check().empty());
}

// An index made by the release before progressive indexing (schema without window_total)
// upgrades in place: every track holds all of its windows, so each is complete, and it keeps working.
TEST_P(StoreContract, IndexBeforeProgressiveIndexingUpgradesInPlace) {
  const bool sqlite = GetParam() == "sqlite";
  const auto emb = awkward(3);
  int64_t a = 0;
  {
    auto s = open();
    s->set_model(identity());
    a = s->put_track(track("/m/a.mp3"), windows(4, 1), emb.data());
    s->put_track(track("/m/b.mp3"), windows(2), unit(2).data());
  }
  const int old_version = (sqlite ? SqliteStore::current_schema_version() : PostgresStore::current_schema_version()) - 1 -
                          sets_migrations(sqlite);
  raw_sql(location_, drop_sets(sqlite) + "ALTER TABLE tracks DROP COLUMN window_total; UPDATE schema_version SET version = " +
                         std::to_string(old_version));
  EXPECT_THROW(open(OpenMode::ReadOnly), Error);  // an older schema is not read as it is
  auto s = open();  // migrates
  EXPECT_EQ(s->schema_version(), sqlite ? SqliteStore::current_schema_version() : PostgresStore::current_schema_version());
  EXPECT_EQ(s->track(a)->window_total, 4);
  EXPECT_EQ(s->track(a)->window_count, 4);
  EXPECT_TRUE(s->partial_tracks().empty());
  const Counts c = s->counts();
  EXPECT_EQ(c.window_total, 6);
  EXPECT_EQ(c.ok_windows, 6);
  EXPECT_EQ(c.complete_tracks, 2);
  const Embeddings e = s->track_embeddings({a});
  ASSERT_EQ(e.size(), 1);
  EXPECT_TRUE(same_bits(std::vector<float>(e.row(0), e.row(0) + kDim), emb));
  EXPECT_TRUE(s->check().empty());
  Track t = track("/m/c.mp3");  // and it takes partly indexed tracks
  t.window_total = 5;
  s->put_track(t, windows(2), unit(3).data());
  EXPECT_EQ(s->partial_tracks().size(), 1u);
}

}  // namespace
}  // namespace clap::store
