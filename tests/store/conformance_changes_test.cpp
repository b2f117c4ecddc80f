// The Store contract, incremental reading (changes_since) on both stores: every track write is
// named, a wipe, an import or an index older than the migration that added it is "unknown", and
// two writers committing at once lose nothing (set-up: store_contract.h).
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store_contract.h"

namespace clap::store {
namespace {

using namespace contract;

TEST_P(StoreContract, ChangesSinceNamesEveryTrackWrite) {
  auto s = open();
  s->set_model(identity());
  auto reader = open();  // another connection, as a server's
  const auto emb = unit(0);
  const int64_t a = s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  const int64_t b = s->put_track(track("/m/b.mp3"), windows(2), emb.data());
  const int64_t c = s->put_track(track("/m/c.mp3"), windows(2), emb.data());

  auto since = [&](int64_t g) {
    auto ch = reader->changes_since(g);
    EXPECT_TRUE(ch) << "since " << g;
    return ch.value_or(LibraryChanges{});
  };
  int64_t g = reader->library_generation();
  auto ch = since(0);
  EXPECT_EQ(ch.library_generation, g);
  EXPECT_EQ(ch.changed, ids({a, b, c}));
  EXPECT_TRUE(ch.removed.empty());
  ch = since(g);
  EXPECT_TRUE(ch.changed.empty() && ch.removed.empty() && !ch.roots_changed);
  EXPECT_EQ(ch.library_generation, g);

  // Each write shows up after the generation before it, and only it.
  auto expect_write = [&](const char* what, std::vector<int64_t> changed, std::vector<int64_t> removed, bool roots = false) {
    const auto got = since(g);
    EXPECT_EQ(got.library_generation, reader->library_generation()) << what;
    EXPECT_GT(got.library_generation, g) << what;
    EXPECT_EQ(got.changed, changed) << what;
    EXPECT_EQ(got.removed, removed) << what;
    EXPECT_EQ(got.roots_changed, roots) << what;
    g = got.library_generation;
  };
  s->put_track(track("/m/b.mp3"), windows(3), emb.data());  // replaced: same id
  expect_write("put_track (replace)", {b}, {});
  s->move_track(a, "/m/a2.mp3", 1, 2, 3);
  expect_write("move_track", {a}, {});
  s->put_labels({{c, "jazz", 0.5f}, {b, "rock", 0.25f}});
  expect_write("put_labels", {b, c}, {});
  s->clear_labels();
  expect_write("clear_labels", {b, c}, {});
  s->add_roots({"/m"});
  expect_write("add_roots", {}, {}, true);
  s->retire_tracks({b});
  expect_write("retire_tracks", {}, {b});
  const int64_t back = s->restore_track(s->retired_tracks().at(0).id, "/m/b.mp3", 1, 2, 3);
  EXPECT_EQ(back, b);
  expect_write("restore_track", {b}, {});
  s->remove_tracks({c});
  expect_write("remove_tracks", {}, {c});
  // A move onto a path another track holds removes that one.
  s->move_track(a, "/m/b.mp3", 1, 2, 3);
  expect_write("move_track onto a track", {a}, {b});
  // Text-cache writes are no library change.
  s->put_cached_texts({{identity().model_key(), "jazz", unit(3)}});
  EXPECT_EQ(reader->library_generation(), g);
  ch = since(g);
  EXPECT_TRUE(ch.changed.empty() && ch.removed.empty());

  // Over several writes: the union, ascending; a removed track that came back is changed, not removed.
  const int64_t d = s->put_track(track("/m/d.mp3"), windows(1), emb.data());
  s->remove_tracks({a});
  s->put_labels({{d, "pop", 0.5f}});
  ch = since(g);
  EXPECT_EQ(ch.changed, ids({d}));
  EXPECT_EQ(ch.removed, ids({a}));
  // The earliest generation still told: every track there is now, and every removal since.
  // (SQLite may give d a removed track's id: that id is then changed, not removed.)
  ch = since(0);
  EXPECT_EQ(ch.changed, ids({d}));
  std::vector<int64_t> gone;
  for (int64_t x : {a, b, c})
    if (x != d) gone.push_back(x);
  EXPECT_EQ(ch.removed, gone);
  // Ahead of the store: not for this store.
  EXPECT_FALSE(reader->changes_since(reader->library_generation() + 1));

  // Inside a read scope: the state of the scope, while another connection writes.
  {
    const auto scope = reader->read_scope();
    const int64_t before = reader->library_generation();
    s->put_track(track("/m/e.mp3"), windows(1), emb.data());
    const auto in_scope = reader->changes_since(before);
    ASSERT_TRUE(in_scope);
    EXPECT_EQ(in_scope->library_generation, before);
    EXPECT_TRUE(in_scope->changed.empty());
  }
  EXPECT_EQ(since(g).changed.size(), 2u);
}

TEST_P(StoreContract, ChangesSinceIsUnknownBeforeAWipeOrAnImport) {
  auto s = open();
  s->set_model(identity());
  const auto emb = unit(0);
  s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  const int64_t before = s->library_generation();
  s->wipe(identity());
  EXPECT_FALSE(s->changes_since(before));
  EXPECT_FALSE(s->changes_since(0));
  const int64_t after = s->library_generation();
  ASSERT_TRUE(s->changes_since(after));
  const int64_t b = s->put_track(track("/m/b.mp3"), windows(2), emb.data());
  EXPECT_EQ(s->changes_since(after)->changed, ids({b}));

  // An imported index: nothing before the import can be told.
  const std::string copy = GetParam() == "sqlite" ? test::temp_dir() + "/copy.db"
                                                  : test::PostgresServer::shared().create_database();
  auto target = open_store(copy, OpenMode::ReadWrite);
  const int64_t empty = target->library_generation();
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_FALSE(target->changes_since(empty));
  const auto now = target->changes_since(target->library_generation());
  ASSERT_TRUE(now);
  EXPECT_TRUE(now->changed.empty());
}

TEST_P(StoreContract, ChangesSinceIsUnknownBeforeTheMigrationThatAddedIt) {
  const bool sqlite = GetParam() == "sqlite";
  {
    auto s = open();
    s->set_model(identity());
    const auto emb = unit(0);
    s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  }
  // Back to the schema before change stamps, with writes made by an older clapsearch.
  // (The identifiers' columns came after, so they go too: the index is the one before both.)
  const int old_version = (sqlite ? SqliteStore::current_schema_version() : PostgresStore::current_schema_version()) - 4 -
                          sets_migrations(sqlite);
  raw_sql(location_, drop_sets(sqlite) + kDropIdentifiers + "DROP INDEX tracks_changed_at; ALTER TABLE tracks DROP COLUMN changed_at; "
                                 "DROP TABLE removed_tracks; DELETE FROM meta WHERE key = 'changes_from'; " +
                         (sqlite ? "UPDATE meta SET value = CAST(value AS INTEGER) + 5 WHERE key = 'library_generation'; "
                                 : "UPDATE meta SET value = (value::bigint + 5)::text WHERE key = 'library_generation'; ") +
                         "UPDATE schema_version SET version = " + std::to_string(old_version));
  auto s = open();  // migrates
  const int64_t migrated = s->library_generation();
  EXPECT_FALSE(s->changes_since(0));
  EXPECT_FALSE(s->changes_since(migrated - 1));
  ASSERT_TRUE(s->changes_since(migrated));
  EXPECT_TRUE(s->changes_since(migrated)->changed.empty());
  const int64_t b = s->put_track(track("/m/b.mp3"), windows(2), unit(1).data());
  const int64_t a = s->track_by_path("/m/a.mp3")->id;
  s->put_labels({{a, "jazz", 0.5f}});
  EXPECT_EQ(s->changes_since(migrated)->changed, (a < b ? ids({a, b}) : ids({b, a})));
}

// Two writers commit at once (PostgreSQL: READ COMMITTED, two connections) while a reader polls:
// applying every changes_since in turn ends with exactly the library's tracks.
TEST_P(StoreContract, ChangesSinceMissesNothingWhileTwoWritersCommit) {
  auto reader = open();
  reader->set_model(identity());
  std::atomic<int> running{2};
  auto write = [&](int w) {
    auto s = open();
    const auto emb = unit(w);
    std::vector<int64_t> mine;
    for (int i = 0; i < 30; ++i) {
      mine.push_back(s->put_track(track("/m/w" + std::to_string(w) + "-" + std::to_string(i) + ".mp3"), windows(2), emb.data()));
      if (i % 5 == 4) s->remove_tracks({mine[static_cast<size_t>(i - 2)]});
      if (i % 7 == 3) s->put_labels({{mine.back(), "x", 0.5f}});
    }
    --running;
  };
  std::thread a(write, 1), b(write, 2);
  std::set<int64_t> known;
  int64_t g = 0;
  auto apply = [&] {
    const auto ch = reader->changes_since(g);
    ASSERT_TRUE(ch);
    for (int64_t id : ch->changed) known.insert(id);
    for (int64_t id : ch->removed) known.erase(id);
    g = ch->library_generation;
  };
  while (running > 0) apply();
  a.join();
  b.join();
  apply();
  const auto all = reader->track_ids();
  EXPECT_EQ(std::vector<int64_t>(known.begin(), known.end()), all);
  EXPECT_EQ(all.size(), 48u);
}

}  // namespace
}  // namespace clap::store
