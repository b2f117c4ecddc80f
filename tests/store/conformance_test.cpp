// The Store contract (store.h) on every implementation: the same cases run on a SQLite file
// and on a database of a real PostgreSQL server that the test process starts
// (support/postgres_server.h; one server per process, one database per test). The set-up is
// store_contract.h; the cases are here (a track's rows, lists, text cache, labels, locks) and in
// conformance_changes_test.cpp (incremental reading), conformance_upgrade_test.cpp (indexes of
// older schemas) and conformance_tracks_test.cpp (what a track carries and how it is read back).
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "core/error.h"

#include "store_contract.h"

namespace clap::store {
namespace {

using namespace contract;

TEST_P(StoreContract, IdentityIsSetAndRead) {
  auto s = open();
  EXPECT_FALSE(s->read_only());
  EXPECT_EQ(s->path(), location_);
  EXPECT_EQ(s->schema_version(), GetParam() == "sqlite" ? SqliteStore::current_schema_version()
                                                         : PostgresStore::current_schema_version());
  EXPECT_FALSE(s->model());
  EXPECT_TRUE(s->check().empty());
  ModelIdentity m = identity();
  m.content_hash = std::string(64, 'c');
  m.audio_hash = std::string(64, 'd');
  m.config_path = "/models/config.json";
  m.tokenizer_path = "/models/tok";
  m.window_s = 7.5;
  m.hop_s = 2.25;
  m.silence_db = -55.5;
  m.precision = "bf16";
  s->set_model(m);
  for (auto mode : {OpenMode::ReadWrite, OpenMode::ReadOnly}) {
    auto again = open(mode);
    EXPECT_EQ(again->read_only(), mode == OpenMode::ReadOnly);
    const auto r = again->model();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->id, m.id);
    EXPECT_EQ(r->revision, m.revision);
    EXPECT_EQ(r->config_hash, m.config_hash);
    EXPECT_EQ(r->content_hash, m.content_hash);
    EXPECT_EQ(r->audio_hash, m.audio_hash);
    EXPECT_EQ(r->config_path, m.config_path);
    EXPECT_EQ(r->tokenizer_path, m.tokenizer_path);
    EXPECT_EQ(r->window_s, 7.5);
    EXPECT_EQ(r->hop_s, 2.25);
    EXPECT_EQ(r->silence_db, -55.5);
    EXPECT_EQ(r->dim, kDim);
    EXPECT_EQ(r->precision, "bf16");
    EXPECT_EQ(r->mismatch(m), "");
  }
  auto ro = open(OpenMode::ReadOnly);
  EXPECT_THROW(ro->set_model(identity()), Error);
  EXPECT_THROW(ro->put_track(track("/m/a.flac"), windows(1), nullptr), Error);
  EXPECT_EQ(ro->counts().tracks, 0);
}

TEST_P(StoreContract, TrackWithWindowsRoundTripsBitForBit) {
  auto s = open();
  s->set_model(identity());
  const auto emb = awkward(7);
  const auto ws = windows(3, 1);
  const int64_t id = s->put_track(track("/music/a.flac"), ws, emb.data());
  auto t = s->track(id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/music/a.flac");
  EXPECT_EQ(t->size, 1000);
  EXPECT_EQ(t->mtime_ns, 1700000000123456789);
  EXPECT_EQ(t->ctime_ns, 987654321);
  EXPECT_EQ(t->content_hash, std::string(64, 'b'));
  EXPECT_EQ(t->duration_s, 12.5);
  EXPECT_EQ(t->title, "Title");
  EXPECT_EQ(t->artist, "Artíst");
  EXPECT_EQ(t->album, "Album");
  EXPECT_EQ(t->genre, "Jazz");
  EXPECT_EQ(t->date, "1999");
  EXPECT_EQ(t->track_no, 3);
  EXPECT_EQ(t->status, TrackStatus::Ok);
  EXPECT_FALSE(t->silent);
  EXPECT_EQ(t->window_count, 3);
  EXPECT_GT(t->indexed_at, 0);
  EXPECT_EQ(s->track_by_path("/music/a.flac")->id, id);
  EXPECT_FALSE(s->track_by_path("/music/none.flac"));
  EXPECT_FALSE(s->track(id + 1000));

  const auto back = s->windows(id);
  ASSERT_EQ(back.size(), 3u);
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].track_id, id);
    EXPECT_EQ(back[i].idx, static_cast<int>(i));
    EXPECT_EQ(back[i].start_s, ws[i].start_s);
    EXPECT_EQ(back[i].end_s, ws[i].end_s);
    EXPECT_EQ(back[i].loudness_dbfs, ws[i].loudness_dbfs);
    EXPECT_EQ(back[i].silent, ws[i].silent);
    EXPECT_TRUE(same_bits(back[i].embedding, ws[i].embedding)) << i;
  }
  EXPECT_TRUE(back[1].embedding.empty());

  const WindowTable table = s->window_embeddings();  // non-silent only
  EXPECT_EQ(table.dim, kDim);
  ASSERT_EQ(table.size(), 2);
  EXPECT_EQ(table.track_ids, (std::vector<int64_t>{id, id}));
  EXPECT_EQ(table.window_ids, (std::vector<int64_t>{back[0].id, back[2].id}));
  EXPECT_EQ(table.starts, (std::vector<double>{ws[0].start_s, ws[2].start_s}));
  EXPECT_EQ(table.ends, (std::vector<double>{ws[0].end_s, ws[2].end_s}));
  std::vector<float> expect = ws[0].embedding;
  expect.insert(expect.end(), ws[2].embedding.begin(), ws[2].embedding.end());
  EXPECT_TRUE(same_bits(table.embeddings, expect));
  const Embeddings tracks = s->track_embeddings();
  EXPECT_EQ(tracks.dim, kDim);
  EXPECT_EQ(tracks.ids, std::vector<int64_t>{id});
  EXPECT_TRUE(same_bits(tracks.data, emb));
  EXPECT_TRUE(s->check().empty());

  // Replacing by path keeps the id and replaces the windows and labels.
  s->put_labels({{id, "jazz", 0.5f}});
  Track changed = track("/music/a.flac");
  changed.title = "New title";
  const int64_t again = s->put_track(changed, windows(1), emb.data());
  EXPECT_EQ(again, id);
  EXPECT_EQ(s->track(id)->title, "New title");
  EXPECT_EQ(s->windows(id).size(), 1u);
  EXPECT_EQ(s->counts().windows, 1);
  EXPECT_EQ(s->counts().tracks, 1);
  EXPECT_TRUE(s->labels(id).empty());
  // A window embedding of the wrong size is refused before anything is written.
  auto bad = windows(1);
  bad[0].embedding.resize(kDim - 1);
  EXPECT_THROW(s->put_track(track("/music/b.flac"), bad, emb.data()), Error);
  EXPECT_FALSE(s->track_by_path("/music/b.flac"));
}

TEST_P(StoreContract, ListsCountsAndErrors) {
  auto s = open();
  s->set_model(identity());
  const auto emb = unit(0);
  // Paths in byte order (as SQLite compares them), whatever the server's locale.
  const int64_t a = s->put_track(track("/m/b.mp3"), windows(2), emb.data());
  const int64_t upper = s->put_track(track("/m/Z.mp3"), windows(1), emb.data());
  const int64_t accent = s->put_track(track("/m/\xc3\xa9t\xc3\xa9.mp3"), windows(1), emb.data());
  Track bad = track("/m/a bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "not audio";
  bad.duration_s = 0;
  bad.content_hash.clear();
  s->put_track(bad, {}, nullptr);
  Track quiet = track("/m/quiet.wav");
  quiet.status = TrackStatus::Error;
  quiet.silent = true;
  quiet.error = "silent";
  s->put_track(quiet, windows(1, 0), nullptr);

  std::vector<std::string> paths;
  for (const auto& t : s->tracks()) paths.push_back(t.path);
  const std::vector<std::string> sorted = {"/m/Z.mp3", "/m/a bad.mp3", "/m/b.mp3", "/m/quiet.wav", "/m/\xc3\xa9t\xc3\xa9.mp3"};
  EXPECT_EQ(paths, sorted);
  const auto states = s->file_states();
  ASSERT_EQ(states.size(), 5u);
  for (size_t i = 0; i < states.size(); ++i) EXPECT_EQ(states[i].path, sorted[i]);
  EXPECT_EQ(states[0].id, upper);
  EXPECT_EQ(states[1].status, TrackStatus::Error);
  EXPECT_EQ(states[1].content_hash, "");
  EXPECT_EQ(states[2].id, a);
  EXPECT_EQ(states[2].mtime_ns, 1700000000123456789);
  EXPECT_EQ(states[4].id, accent);

  const Counts c = s->counts();
  EXPECT_EQ(c.tracks, 5);
  EXPECT_EQ(c.ok, 3);
  EXPECT_EQ(c.errors, 2);
  EXPECT_EQ(c.silent_tracks, 1);
  EXPECT_EQ(c.windows, 5);
  EXPECT_EQ(c.silent_windows, 1);
  EXPECT_DOUBLE_EQ(c.audio_seconds, 3 * 12.5);  // ok tracks only
  const auto errs = s->errors();
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].path, "/m/a bad.mp3");
  EXPECT_EQ(errs[0].reason, "not audio");
  EXPECT_EQ(errs[1].reason, "silent");
  EXPECT_EQ(s->track_embeddings().size(), 3);
  EXPECT_EQ(s->window_embeddings().size(), 4);  // error tracks' windows are not searched
  EXPECT_TRUE(s->check().empty());

  s->put_labels({{a, "jazz", 0.9f}, {a, "rock", 0.1f}});
  s->remove_tracks({a, upper});
  EXPECT_EQ(s->counts().tracks, 3);
  EXPECT_EQ(s->counts().windows, 2);
  EXPECT_TRUE(s->all_labels().empty());
  EXPECT_TRUE(s->windows(a).empty());
  s->remove_tracks({});
  EXPECT_TRUE(s->check().empty());
}

TEST_P(StoreContract, EmbeddingsAreOrderedByTrackThenWindow) {
  auto s = open();
  s->set_model(identity());
  const auto e1 = awkward(1), e2 = awkward(2);
  const int64_t first = s->put_track(track("/m/z.flac"), windows(3, -1, 1), e1.data());
  const int64_t second = s->put_track(track("/m/a.flac"), windows(2, -1, 2), e2.data());
  ASSERT_LT(first, second);
  const Embeddings t = s->track_embeddings();
  EXPECT_EQ(t.ids, (std::vector<int64_t>{first, second}));
  std::vector<float> both = e1;
  both.insert(both.end(), e2.begin(), e2.end());
  EXPECT_TRUE(same_bits(t.data, both));
  const WindowTable w = s->window_embeddings();
  EXPECT_EQ(w.track_ids, (std::vector<int64_t>{first, first, first, second, second}));
  std::vector<float> all;
  for (const auto& win : windows(3, -1, 1)) all.insert(all.end(), win.embedding.begin(), win.embedding.end());
  for (const auto& win : windows(2, -1, 2)) all.insert(all.end(), win.embedding.begin(), win.embedding.end());
  EXPECT_TRUE(same_bits(w.embeddings, all));
  EXPECT_EQ(w.starts[3], 0.1);
}

TEST_P(StoreContract, MoveKeepsEmbeddingsAndId) {
  auto s = open();
  s->set_model(identity());
  const auto emb = awkward(3);
  const int64_t id = s->put_track(track("/m/old.flac"), windows(2), emb.data());
  Track stale = track("/m/new/place.flac");
  stale.status = TrackStatus::Error;
  stale.error = "was unreadable";
  s->put_track(stale, {}, nullptr);
  const auto before = s->windows(id);
  s->move_track(id, "/m/new/place.flac", 2000, 5, 6);
  EXPECT_FALSE(s->track_by_path("/m/old.flac"));
  auto t = s->track_by_path("/m/new/place.flac");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(t->size, 2000);
  EXPECT_EQ(t->mtime_ns, 5);
  EXPECT_EQ(t->ctime_ns, 6);
  EXPECT_EQ(t->status, TrackStatus::Ok);
  EXPECT_EQ(s->counts().tracks, 1);  // the stale row gave way
  const auto after = s->windows(id);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(same_bits(after[i].embedding, before[i].embedding));
  EXPECT_TRUE(same_bits(s->track_embeddings().data, emb));
  EXPECT_THROW(s->move_track(99999, "/x", 1, 1, 1), Error);
}

TEST_P(StoreContract, RetiredTracksAreRestoredBitForBitAndPurged) {
  auto s = open();
  s->set_model(identity());
  const auto emb = awkward(4);
  Track t = track("/m/drive/song.flac");
  t.content_hash = std::string(64, 'c');
  const int64_t id = s->put_track(t, windows(3, 1), emb.data());
  const auto before = s->windows(id);
  Track bad = track("/m/drive/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "not audio";
  const int64_t bad_id = s->put_track(bad, {}, nullptr);
  EXPECT_TRUE(s->retired_tracks().empty());
  s->retire_tracks({id, bad_id});
  EXPECT_EQ(s->counts().tracks, 0);
  EXPECT_EQ(s->counts().windows, 0);
  const auto retired = s->retired_tracks();
  ASSERT_EQ(retired.size(), 1u);  // the error track had nothing worth keeping
  EXPECT_EQ(retired[0].path, "/m/drive/song.flac");
  EXPECT_EQ(retired[0].content_hash, t.content_hash);
  EXPECT_EQ(retired[0].size, 1000);

  const int64_t back = s->restore_track(retired[0].id, "/m/other/song.flac", 1000, 7, 8);
  EXPECT_EQ(back, id);  // its old id was free
  const auto r = s->track(back);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/m/other/song.flac");
  EXPECT_EQ(r->mtime_ns, 7);
  EXPECT_EQ(r->ctime_ns, 8);
  EXPECT_EQ(r->title, t.title);
  EXPECT_EQ(r->content_hash, t.content_hash);
  const auto after = s->windows(back);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].idx, before[i].idx);
    EXPECT_EQ(after[i].silent, before[i].silent);
    EXPECT_EQ(after[i].start_s, before[i].start_s);
    EXPECT_TRUE(same_bits(after[i].embedding, before[i].embedding));
  }
  EXPECT_TRUE(same_bits(s->track_embeddings().data, emb));
  EXPECT_TRUE(s->retired_tracks().empty());
  EXPECT_TRUE(s->check().empty());
  EXPECT_THROW(s->restore_track(retired[0].id, "/m/x.flac", 1, 1, 1), Error);

  // Purged after the retention time.
  s->retire_tracks({back});
  const int64_t g = s->generation(), lg = s->library_generation();
  EXPECT_EQ(s->purge_retired(0), 0);
  EXPECT_EQ(s->generation(), g);
  EXPECT_EQ(s->purge_retired(std::numeric_limits<int64_t>::max()), 1);
  EXPECT_GT(s->generation(), g);
  EXPECT_EQ(s->library_generation(), lg);
  EXPECT_TRUE(s->retired_tracks().empty());
}

TEST_P(StoreContract, GenerationsCountWrites) {
  auto s = open();
  int64_t g = s->generation(), lg = s->library_generation();
  auto library_write = [&](const char* what) {
    EXPECT_GT(s->generation(), g) << what;
    EXPECT_GT(s->library_generation(), lg) << what;
    g = s->generation();
    lg = s->library_generation();
  };
  s->set_model(identity());
  library_write("set_model");
  const auto emb = unit(0);
  const int64_t id = s->put_track(track("/m/a.mp3"), windows(1), emb.data());
  library_write("put_track");
  (void)s->tracks();
  (void)s->counts();
  (void)s->window_embeddings();
  EXPECT_EQ(s->generation(), g);  // reads do not count
  s->put_cached_texts({{identity().model_key(), "jazz", unit(3)}});
  EXPECT_GT(s->generation(), g);
  EXPECT_EQ(s->library_generation(), lg);  // the text cache is no library change
  g = s->generation();
  s->add_roots({"/m"});
  library_write("add_roots");
  s->put_labels({{id, "jazz", 0.5f}});
  library_write("put_labels");
  s->clear_labels();
  library_write("clear_labels");
  s->move_track(id, "/m/b.mp3", 1, 2, 3);
  library_write("move_track");
  s->retire_tracks({id});
  library_write("retire_tracks");
  s->restore_track(s->retired_tracks().at(0).id, "/m/c.mp3", 1, 2, 3);
  library_write("restore_track");
  s->remove_tracks({id});
  library_write("remove_tracks");
  s->wipe(identity());
  library_write("wipe");
  // Another connection sees the same counters.
  auto other = open();
  EXPECT_EQ(other->generation(), g);
  EXPECT_EQ(other->library_generation(), lg);
}

TEST_P(StoreContract, TextCacheIsScopedByModel) {
  auto s = open();
  s->set_model(identity());
  const std::string key = identity().model_key();
  EXPECT_FALSE(s->cached_text(key, "calm piano"));
  s->put_cached_texts({{key, "calm piano", awkward(5)}});
  ASSERT_TRUE(s->cached_text(key, "calm piano"));
  EXPECT_TRUE(same_bits(*s->cached_text(key, "calm piano"), awkward(5)));
  EXPECT_FALSE(s->cached_text("other@model#x", "calm piano"));
  s->put_cached_texts({{key, "calm piano", unit(1)}});  // replaced
  EXPECT_EQ(*s->cached_text(key, "calm piano"), unit(1));
}

// A batch of texts (a query of several texts, a map's labels, the speech prompts) is written in
// one call: every entry lands, a text given twice keeps its last embedding, entries of other
// models stay apart, and the write counts as one change of the index (one transaction).
TEST_P(StoreContract, TextCacheTakesABatchInOneWrite) {
  auto s = open();
  s->set_model(identity());
  const std::string key = identity().model_key();
  const int64_t before = s->generation(), library_before = s->library_generation();
  s->put_cached_texts({{key, "calm piano", unit(1)},
                       {key, "vocals", awkward(2)},
                       {"other@model#x", "vocals", unit(3)},
                       {key, "calm piano", unit(4)}});
  EXPECT_EQ(s->generation(), before + 1);
  EXPECT_EQ(s->library_generation(), library_before);  // the library itself did not change
  EXPECT_EQ(*s->cached_text(key, "calm piano"), unit(4));
  EXPECT_TRUE(same_bits(*s->cached_text(key, "vocals"), awkward(2)));
  EXPECT_EQ(*s->cached_text("other@model#x", "vocals"), unit(3));
  s->put_cached_texts({});  // nothing to write: no change
  EXPECT_EQ(s->generation(), before + 1);
}

TEST_P(StoreContract, LabelsReplacePerTrack) {
  auto s = open();
  s->set_model(identity());
  const auto emb = unit(0);
  const int64_t a = s->put_track(track("/m/a.mp3"), windows(1), emb.data());
  const int64_t b = s->put_track(track("/m/b.mp3"), windows(1), emb.data());
  s->put_labels({{a, "jazz", 0.2f}, {a, "rock", 0.7f}, {b, "pop", 0.5f}, {a, "Blues", 0.2f}});
  auto la = s->labels(a);
  ASSERT_EQ(la.size(), 3u);
  EXPECT_EQ(la[0].label, "rock");  // by score, then label (bytes)
  EXPECT_EQ(la[0].score, 0.7f);
  EXPECT_EQ(la[1].label, "Blues");
  EXPECT_EQ(la[2].label, "jazz");
  const auto all = s->all_labels();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].track_id, a);
  EXPECT_EQ(all[3].track_id, b);
  s->put_labels({{a, "blues", 0.9f}});
  la = s->labels(a);
  ASSERT_EQ(la.size(), 1u);
  EXPECT_EQ(la[0].label, "blues");
  EXPECT_EQ(s->labels(b).size(), 1u);
  EXPECT_EQ(s->all_labels().size(), 2u);
  s->clear_labels();
  EXPECT_TRUE(s->all_labels().empty());
}

TEST_P(StoreContract, WipeForgetsEverything) {
  auto s = open();
  s->set_model(identity());
  const auto emb = unit(0);
  const int64_t id = s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  s->put_track(track("/m/b.mp3"), windows(2), emb.data());
  s->put_labels({{id, "jazz", 0.5f}});
  s->put_cached_texts({{identity().model_key(), "jazz", unit(1)}});
  s->add_roots({"/m", "/a", "/m"});
  EXPECT_EQ(s->roots(), (std::vector<std::string>{"/a", "/m"}));
  s->retire_tracks({id});
  ModelIdentity other = identity();
  other.id = "org/other";
  s->wipe(other);
  EXPECT_EQ(s->counts().tracks, 0);
  EXPECT_EQ(s->counts().windows, 0);
  EXPECT_TRUE(s->roots().empty());
  EXPECT_TRUE(s->all_labels().empty());
  EXPECT_TRUE(s->retired_tracks().empty());
  EXPECT_FALSE(s->cached_text(identity().model_key(), "jazz"));
  EXPECT_EQ(s->model()->id, "org/other");
  EXPECT_TRUE(s->check().empty());
}

TEST_P(StoreContract, ReadScopeSeesOneCommittedState) {
  auto s = open();
  s->set_model(identity());
  const auto emb = unit(0);
  s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  auto writer = open();
  {
    auto scope = s->read_scope();
    EXPECT_EQ(s->counts().tracks, 1);
    const int64_t g = s->generation();
    writer->put_track(track("/m/b.mp3"), windows(3), emb.data());
    writer->put_labels({{writer->track_by_path("/m/b.mp3")->id, "x", 1.0f}});
    EXPECT_EQ(s->counts().tracks, 1);  // not inside the scope
    EXPECT_EQ(s->counts().windows, 2);
    EXPECT_EQ(s->window_embeddings().size(), 2);
    EXPECT_EQ(s->generation(), g);
    EXPECT_TRUE(s->all_labels().empty());
  }
  EXPECT_EQ(s->counts().tracks, 2);
  EXPECT_EQ(s->window_embeddings().size(), 5);
  EXPECT_EQ(s->all_labels().size(), 1u);
}

TEST_P(StoreContract, FileBytesAndCheck) {
  auto s = open();
  s->set_model(identity());
  const auto emb = unit(0);
  s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  EXPECT_GT(s->file_bytes(), 0);
  EXPECT_TRUE(s->check().empty());
}

TEST_P(StoreContract, OneIndexerAtATimeUntilTheLockIsReleased) {
  auto first = open();
  auto second = open();
  {
    const auto lock = first->lock_indexer();
    try {
      second->lock_indexer();
      FAIL() << "a second indexer took the lock";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("another `clapsearch index`"), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(second->lock_indexer());  // released with the first lock
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// --- PostgreSQL only ---------------------------------------------------------------------------

TEST(PostgresStore, UnreachableServerIsNamedWithoutThePassword) {
  const std::string msg = test::error_of(
      [] { open_store("postgresql://clap:s3cret-pw@127.0.0.1:1/library", OpenMode::ReadWrite); });
  EXPECT_NE(msg.find("127.0.0.1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("port 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cret-pw"), std::string::npos) << msg;
  EXPECT_EQ(store::pg::redact("postgresql://u:pw@h:5/db?sslmode=disable&password=x2"),
            "postgresql://u@h:5/db?sslmode=disable&password=***");
  EXPECT_EQ(store::pg::redact("host=h password=x2 dbname=d"), "host=h password=*** dbname=d");
}

TEST(PostgresStore, ReadOnlyNeedsAnIndexAndCreatesNothing) {
  const std::string url = test::PostgresServer::shared().create_database();
  const std::string msg = test::error_of([&] { open_store(url, OpenMode::ReadOnly); });
  EXPECT_NE(msg.find("no index here"), std::string::npos) << msg;
  // Nothing was created: a read-write open still finds an empty database and makes the schema.
  auto s = open_store(url, OpenMode::ReadWrite);
  EXPECT_EQ(s->schema_version(), PostgresStore::current_schema_version());
  EXPECT_NO_THROW(open_store(url, OpenMode::ReadOnly));
  EXPECT_NO_THROW(open_store(url, OpenMode::ReadWriteOrReadOnly));
  EXPECT_TRUE(PostgresStore::is_url("postgres://h/db"));
  EXPECT_FALSE(PostgresStore::is_url("/tmp/postgresql://x"));
}

TEST(PostgresStore, AnotherProgramsDatabaseIsLeftUntouched) {
  const std::string url = test::PostgresServer::shared().create_database();
  {
    store::pg::Connection c(url);
    c.exec("CREATE TABLE photos(id serial PRIMARY KEY, name text); INSERT INTO photos(name) VALUES ('a')");
  }
  const std::string msg = test::error_of([&] { open_store(url, OpenMode::ReadWrite); });
  EXPECT_NE(msg.find("another program's database (tables: photos)"), std::string::npos) << msg;
  store::pg::Connection c(url);
  EXPECT_EQ(c.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'").int64(0, 0), 1);
}

}  // namespace
}  // namespace clap::store
