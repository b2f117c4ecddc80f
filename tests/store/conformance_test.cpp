// The Store contract (store.h) on every implementation: the same cases run on a SQLite file
// and on a database of a real PostgreSQL server that the test process starts
// (support/postgres_server.h; one server per process, one database per test).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "index/indexer.h"
#include "store/postgres.h"
#include "store/postgres_store.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::store {
namespace {

constexpr int kDim = 8;

ModelIdentity identity() {
  ModelIdentity m;
  m.id = "org/model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'a');
  m.dim = kDim;
  return m;
}

// Floats whose bits a lossy path would change: denormals, -0, extremes, random mantissas.
std::vector<float> awkward(int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::vector<float> v(kDim);
  for (auto& x : v) x = std::bit_cast<float>(static_cast<uint32_t>(rng() & 0xff7fffffu));  // no NaN/inf exponent
  v[0] = std::numeric_limits<float>::denorm_min();
  v[1] = -0.0f;
  v[2] = std::numeric_limits<float>::max();
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::vector<float> unit(int axis) {
  std::vector<float> v(kDim, 0.0f);
  v[axis % kDim] = 1.0f;
  return v;
}

Track track(const std::string& path) {
  Track t;
  t.path = path;
  t.size = 1000;
  t.mtime_ns = 1700000000123456789;
  t.ctime_ns = 987654321;
  t.content_hash = std::string(64, 'b');
  t.duration_s = 12.5;
  t.title = "Title";
  t.artist = "Artíst";
  t.album = "Album";
  t.genre = "Jazz";
  t.date = "1999";
  t.track_no = 3;
  return t;
}

std::vector<WindowRecord> windows(int n, int silent_at = -1, int seed = 1) {
  std::vector<WindowRecord> out;
  for (int i = 0; i < n; ++i) {
    WindowRecord w;
    w.idx = i;
    w.start_s = 5.0 * i + 0.1;
    w.end_s = 5.0 * i + 10.1;
    w.silent = i == silent_at;
    w.loudness_dbfs = w.silent ? -90.25 : -20.125;
    if (!w.silent) w.embedding = awkward(seed * 100 + i);
    out.push_back(w);
  }
  return out;
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      location_ = test::temp_dir() + "/sub/library.db";
    } else {
      location_ = test::PostgresServer::shared().create_database();
    }
  }
  std::unique_ptr<Store> open(OpenMode mode = OpenMode::ReadWrite) const { return open_store(location_, mode); }
  std::string location_;
};

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

// --- incremental reading (changes_since) ------------------------------------------------------

// Raw SQL on the index behind `location`, with no Store in the way.
void raw_sql(const std::string& location, const std::string& sql_text) {
  if (PostgresStore::is_url(location)) {
    pg::Connection c(location);
    c.exec(sql_text);
    return;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(location.c_str(), &db), SQLITE_OK);
  sql::exec(db, sql_text);
  sqlite3_close(db);
}

std::vector<int64_t> ids(std::initializer_list<int64_t> l) { return std::vector<int64_t>(l); }

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

// The schema change of the song identifiers (issue 36), undone: an index made before it.
// Back to the schema before the identifiers (and the fingerprints, which came after them).
// What came after progressive indexing, which an index goes back to an older schema without:
// SQLite's embedding sets (version 6), speech score (7), users (8), play queues (9) and kept track
// ids (10), packet hashes (12); PostgreSQL's embedding sets (7), jobs per pass (8), speech score (9),
// users (10), play queues (11), kept track ids (12) and packet hashes (14); and how many migrations
// they are.
std::string drop_sets(bool sqlite) {
  const std::string sets = "DROP TABLE set_windows; DROP TABLE set_tracks; DROP TABLE embedding_sets; ";
  const std::string speech =
      "ALTER TABLE tracks DROP COLUMN speech; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; DROP TABLE plays; "
      "DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; DROP TABLE kept_track_ids; "
      "DROP TABLE packet_hashes; ";
  if (sqlite) return sets + speech;
  return sets +
         "ALTER TABLE jobs DROP CONSTRAINT jobs_path_pass; DROP INDEX jobs_state; "
         "ALTER TABLE jobs DROP COLUMN pass, DROP COLUMN first_pass, DROP COLUMN claim_seq, DROP COLUMN finish_seq; "
         "DROP SEQUENCE job_events; ALTER TABLE jobs ADD CONSTRAINT jobs_path_key UNIQUE (path); "
         "CREATE INDEX jobs_state ON jobs(state, id); " + speech;
}
// The migrations drop_sets undoes: the sets, the speech score, the users, the play queues, the kept
// track ids, the imported plays kept once and the packet hashes.
int sets_migrations(bool sqlite) { return sqlite ? 7 : 8; }

constexpr const char* kDropIdentifiers =
    "DROP TABLE fingerprints; "
    "ALTER TABLE tracks DROP COLUMN mbid; ALTER TABLE tracks DROP COLUMN isrc; "
    "ALTER TABLE tracks DROP COLUMN album_artist; ALTER TABLE tracks DROP COLUMN tags_version; "
    "ALTER TABLE tracks DROP COLUMN window_total; ";

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

// Acoustic fingerprints (issue 33): written with the track, read by id, replaced with it,
// gone with it, added later for tracks that have none, carried by migrate's copy.
TEST_P(StoreContract, FingerprintsTravelWithTheirTrack) {
  auto s = open();
  s->set_model(identity());
  Track t = track("/m/a.flac");
  t.fingerprint = {0x00000000u, 0xffffffffu, 0x80000001u, 0x12345678u};
  const int64_t a = s->put_track(t, windows(2), unit(0).data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(2, -1, 2), unit(1).data());
  Track quiet = track("/m/quiet.flac");
  quiet.silent = true;
  quiet.status = TrackStatus::Error;
  s->put_track(quiet, {}, nullptr);
  EXPECT_TRUE(s->track(a)->fingerprint.empty()) << "track reads leave it out";
  auto got = s->fingerprints({a, b, 9999});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[a], t.fingerprint);
  // Only ok, non-silent tracks without one are listed for an index run to compute.
  auto missing = s->tracks_without_fingerprint();
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].id, b);
  s->put_fingerprint(b, {7u, 8u});
  s->put_fingerprint(b, {9u});  // replaced, not added
  EXPECT_EQ(s->fingerprints({b})[b], std::vector<uint32_t>{9u});
  EXPECT_TRUE(s->tracks_without_fingerprint().empty());
  EXPECT_THROW(s->put_fingerprint(9999, {1u}), Error);
  // migrate's copy carries them.
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy-prints.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->fingerprints({a, b}), s->fingerprints({a, b}));
  // A track written again (the file changed) has the new fingerprint or none; a removed one has none.
  Track again = track("/m/a.flac");
  EXPECT_EQ(s->put_track(again, windows(2), unit(0).data()), a);
  EXPECT_TRUE(s->fingerprints({a}).empty());
  s->remove_tracks({b});
  EXPECT_TRUE(s->fingerprints({b}).empty());
}

// Packet hashes (H9S-5): keyed by content hash, listed for the ok tracks that lack one, a row
// stored once is kept, and purge_retired forgets those no track or retired track holds.
TEST_P(StoreContract, PacketHashesAreKeptByContentHash) {
  auto s = open();
  s->set_model(identity());
  Track ta = track("/m/a.flac");
  ta.content_hash = std::string(64, 'a');
  Track tb = track("/m/b.flac");
  tb.content_hash = std::string(64, 'c');
  const int64_t a = s->put_track(ta, windows(2), unit(0).data());
  const int64_t b = s->put_track(tb, windows(2), unit(1).data());
  Track bad = track("/m/bad.flac");
  bad.content_hash = std::string(64, 'd');
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  s->put_track(bad, {}, nullptr);
  auto missing = s->tracks_without_packet_hash();
  ASSERT_EQ(missing.size(), 2u) << "ok tracks only";
  EXPECT_EQ(missing[0].id, a);
  EXPECT_EQ(missing[1].id, b);
  EXPECT_TRUE(s->packet_hashes({ta.content_hash, tb.content_hash}).empty());
  s->put_packet_hashes({{ta.content_hash, std::string(64, '1')}, {tb.content_hash, ""}});
  // Replaced (issue 53): a file that could not be demuxed ("") is tried again when it changes, and
  // its hash then takes the row of its content hash.
  s->put_packet_hashes({{ta.content_hash, std::string(64, '2')}});
  EXPECT_TRUE(s->tracks_without_packet_hash().empty()) << "an empty hash (no packets) is stored too";
  const auto got = s->packet_hashes({ta.content_hash, tb.content_hash, std::string(64, 'e'), ""});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at(ta.content_hash), std::string(64, '2'));
  EXPECT_EQ(got.at(tb.content_hash), "");
  // A retired track keeps its row until it is purged; a track removed for good loses it.
  s->retire_tracks({a});
  s->remove_tracks({b});
  s->purge_retired(0);
  EXPECT_EQ(s->packet_hashes({ta.content_hash}).size(), 1u) << "still restorable";
  EXPECT_TRUE(s->packet_hashes({tb.content_hash}).empty());
  s->purge_retired(std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(s->packet_hashes({ta.content_hash}).empty());
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

// Progressive indexing (index/passes.h): a track written with some of its windows, the rest
// added batch by batch with the track embedding made again; coverage and partial_tracks follow.
TEST_P(StoreContract, PartlyIndexedTracksGainWindowsAtomically) {
  auto s = open();
  s->set_model(identity());
  const std::vector<WindowRecord> all = windows(6, 2);  // window 2 silent
  Track t = track("/m/a.flac");
  t.window_total = 6;
  std::vector<WindowRecord> first = {all[1], all[2], all[4]};
  const int64_t a = s->put_track(t, first, awkward(7).data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(3), unit(1).data());  // whole (window_total 0 = given)
  EXPECT_TRUE(s->check().empty());
  Counts c = s->counts();
  EXPECT_EQ(c.window_total, 9);
  EXPECT_EQ(c.ok_windows, 6);
  EXPECT_EQ(c.complete_tracks, 1);
  EXPECT_EQ(s->track(a)->window_total, 6);
  EXPECT_EQ(s->track(a)->window_count, 3);
  EXPECT_EQ(s->track(b)->window_total, 3);
  auto partial = s->partial_tracks();
  ASSERT_EQ(partial.size(), 1u);
  EXPECT_EQ(partial[0].state.id, a);
  EXPECT_EQ(partial[0].state.path, "/m/a.flac");
  EXPECT_EQ(partial[0].window_total, 6);
  EXPECT_EQ(partial[0].present, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(partial[0].silent, (std::vector<int>{2}));

  const int64_t before = s->library_generation();
  s->add_windows(a, {all[0], all[3]}, awkward(8).data());
  EXPECT_GT(s->library_generation(), before);
  ASSERT_TRUE(s->changes_since(before));
  EXPECT_EQ(s->changes_since(before)->changed, ids({a}));
  // A window already there is refused, and the track is left as it was.
  EXPECT_THROW(s->add_windows(a, {all[3]}, awkward(9).data()), Error);
  EXPECT_THROW(s->add_windows(b + 100, {all[5]}, awkward(9).data()), Error);
  EXPECT_EQ(s->track(a)->window_count, 5);
  const Embeddings mid = s->track_embeddings({a});
  ASSERT_EQ(mid.size(), 1);
  EXPECT_TRUE(same_bits(std::vector<float>(mid.row(0), mid.row(0) + kDim), awkward(8)));
  s->add_windows(a, {all[5]}, awkward(10).data());
  EXPECT_TRUE(s->partial_tracks().empty());
  c = s->counts();
  EXPECT_EQ(c.ok_windows, 9);
  EXPECT_EQ(c.complete_tracks, 2);
  const auto got = s->windows(a);
  ASSERT_EQ(got.size(), 6u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].idx, static_cast<int>(i));
    EXPECT_EQ(got[i].silent, all[i].silent);
    EXPECT_TRUE(same_bits(got[i].embedding, all[i].embedding)) << i;
  }
  EXPECT_TRUE(s->check().empty());
  // The copy of `clapsearch migrate` keeps a partly indexed track partly indexed.
  s->put_track(t, first, awkward(7).data());
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy/library.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->track(a)->window_total, 6);
  EXPECT_EQ(target->partial_tracks().size(), 1u);
}

// Speech scores (Track::speech; index/speech.h): none for a new track, stored by put_speech as a
// library write, cleared when add_windows replaces the track embedding, carried by migrate's copy;
// a score outside [0, 1] or an unknown track is refused.
TEST_P(StoreContract, SpeechScoresAreClearedWhenTheTrackEmbeddingChanges) {
  auto s = open();
  s->set_model(identity());
  const std::vector<WindowRecord> all = windows(4);
  Track t = track("/m/a.flac");
  t.window_total = 4;
  const int64_t a = s->put_track(t, {all[0], all[1]}, unit(0).data());
  const int64_t b = s->put_track(track("/m/b.flac"), windows(2), unit(1).data());
  s->put_track(track("/m/silent.flac"), windows(1, 0), nullptr);  // no embedding: never listed
  const Embeddings unscored = s->tracks_without_speech();
  EXPECT_EQ(unscored.ids, ids({a, b}));
  ASSERT_EQ(unscored.size(), 2);
  EXPECT_TRUE(same_bits(std::vector<float>(unscored.row(1), unscored.row(1) + kDim), unit(1)));
  const int64_t before = s->library_generation();
  s->put_speech({{a, 0.25}, {b, 1.0 / 3}});
  EXPECT_EQ(s->changes_since(before)->changed, ids({a, b}));
  EXPECT_EQ(s->track(a)->speech, 0.25);
  EXPECT_EQ(s->track(b)->speech, 1.0 / 3);  // bit for bit
  EXPECT_TRUE(s->tracks_without_speech().ids.empty());
  EXPECT_THROW(s->put_speech({{a, 1.5}}), Error);
  EXPECT_THROW(s->put_speech({{b + 100, 0.5}}), Error);
  EXPECT_EQ(s->track(a)->speech, 0.25);
  s->add_windows(a, {all[2], all[3]}, unit(2).data());  // coverage changed: the score with it
  EXPECT_FALSE(s->track(a)->has_speech());
  EXPECT_EQ(s->tracks_without_speech().ids, ids({a}));
  const std::string other = GetParam() == "sqlite" ? test::temp_dir() + "/copy/library.db"
                                                   : test::PostgresServer::shared().create_database();
  auto target = open_store(other, OpenMode::ReadWrite);
  {
    auto scope = target->begin_import(identity(), {});
    target->import_tracks(s->export_tracks(s->track_ids()));
    scope->commit();
  }
  EXPECT_EQ(target->track(b)->speech, 1.0 / 3);
  EXPECT_FALSE(target->track(a)->has_speech());
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

TEST_P(StoreContract, TrackEmbeddingsOfSomeTracks) {
  auto s = open();
  s->set_model(identity());
  const auto e1 = awkward(1), e2 = awkward(2);
  const int64_t a = s->put_track(track("/m/a.mp3"), windows(2), e1.data());
  const int64_t b = s->put_track(track("/m/b.mp3"), windows(2), e2.data());
  Track bad = track("/m/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  const int64_t c = s->put_track(bad, {}, nullptr);
  const Embeddings got = s->track_embeddings({b, c, a, 999});
  EXPECT_EQ(got.dim, kDim);
  EXPECT_EQ(got.ids, ids({a, b}));
  EXPECT_TRUE(same_bits(std::vector<float>(got.row(0), got.row(0) + kDim), e1));
  EXPECT_TRUE(same_bits(std::vector<float>(got.row(1), got.row(1) + kDim), e2));
  EXPECT_EQ(s->track_embeddings(std::vector<int64_t>{}).size(), 0);
}

// All track embeddings of a library larger than one page of the PostgreSQL reader (16,384
// rows): every embedded track once, in id order, bit for bit; tracks without one (errors) left out.
TEST_P(StoreContract, AllTrackEmbeddingsAcrossPages) {
  auto s = open();
  const int64_t n = 2 * 16384 + 5;
  std::vector<int64_t> want_ids;
  std::vector<float> want;
  {
    const auto import = s->begin_import(identity(), {"/m"});
    std::vector<TrackCopy> copies;
    for (int64_t i = 0; i < n; ++i) {
      TrackCopy c;
      c.track = track("/m/" + std::to_string(i) + ".flac");
      c.track.id = 3 * i + 7;  // gaps: pages are by id, not by row number
      if (i % 1000 == 999) {
        c.track.status = TrackStatus::Error;
        c.track.error = "undecodable";
      } else {
        c.embedding = awkward(static_cast<int>(i));
        want_ids.push_back(c.track.id);
        want.insert(want.end(), c.embedding.begin(), c.embedding.end());
      }
      copies.push_back(std::move(c));
    }
    s->import_tracks(copies);
    import->commit();
  }
  const Embeddings got = s->track_embeddings();
  EXPECT_EQ(got.dim, kDim);
  EXPECT_EQ(got.ids, want_ids);
  EXPECT_TRUE(same_bits(got.data, want));
}

// What a search node reads to build a compressed index without holding the library: the ids,
// a scan in pages, and rows by id - each exactly the rows of window_embeddings(), by window id.
TEST_P(StoreContract, WindowScanAndRowsByIdAreTheSearchableWindows) {
  auto s = open();
  s->set_model(identity());
  const auto e = awkward(1);
  const int64_t z = s->put_track(track("/m/z.flac"), windows(3, 1, 1), e.data());  // window 1 silent
  s->put_track(track("/m/a.flac"), windows(2, -1, 2), e.data());
  Track bad = track("/m/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "undecodable";
  s->put_track(bad, {}, nullptr);

  const WindowTable all = s->window_embeddings();
  ASSERT_EQ(all.size(), 4);
  std::vector<int64_t> order(4);
  for (int i = 0; i < 4; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return all.window_ids[a] < all.window_ids[b]; });
  std::vector<int64_t> by_id;
  std::vector<float> floats_by_id;
  for (int64_t i : order) {
    by_id.push_back(all.window_ids[i]);
    floats_by_id.insert(floats_by_id.end(), all.embeddings.begin() + i * kDim, all.embeddings.begin() + (i + 1) * kDim);
  }
  EXPECT_EQ(s->active_window_ids(), by_id);

  std::vector<int64_t> scanned, pages;
  std::vector<float> scanned_floats;
  s->scan_window_embeddings(3, [&](const WindowTable& page) {
    EXPECT_EQ(page.dim, kDim);
    pages.push_back(page.size());
    scanned.insert(scanned.end(), page.window_ids.begin(), page.window_ids.end());
    scanned_floats.insert(scanned_floats.end(), page.embeddings.begin(), page.embeddings.end());
    for (int64_t i = 0; i < page.size(); ++i) {
      const int64_t at = std::find(all.window_ids.begin(), all.window_ids.end(), page.window_ids[i]) - all.window_ids.begin();
      EXPECT_EQ(page.track_ids[i], all.track_ids[at]);
      EXPECT_EQ(page.starts[i], all.starts[at]);
      EXPECT_EQ(page.ends[i], all.ends[at]);
    }
    return true;
  });
  EXPECT_EQ(scanned, by_id);
  EXPECT_EQ(pages, (std::vector<int64_t>{3, 1}));
  EXPECT_TRUE(same_bits(scanned_floats, floats_by_id));
  int calls = 0;
  s->scan_window_embeddings(1, [&](const WindowTable&) { return ++calls < 2; });
  EXPECT_EQ(calls, 2);  // stopped when asked
  EXPECT_THROW(s->scan_window_embeddings(0, [](const WindowTable&) { return true; }), Error);

  int64_t silent_id = 0;
  for (const auto& w : s->windows(z))
    if (w.silent) silent_id = w.id;
  ASSERT_GT(silent_id, 0);
  const WindowTable some = s->window_embeddings(std::vector<int64_t>{by_id[3], silent_id, by_id[0], 999999, by_id[0]});
  EXPECT_EQ(some.window_ids, (std::vector<int64_t>{by_id[0], by_id[3]}));
  std::vector<float> want(floats_by_id.begin(), floats_by_id.begin() + kDim);
  want.insert(want.end(), floats_by_id.begin() + 3 * kDim, floats_by_id.end());
  EXPECT_TRUE(same_bits(some.embeddings, want));
  EXPECT_EQ(s->window_embeddings(std::vector<int64_t>{}).size(), 0);
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

// Another model over the same windows (issue 37): both stores record an embedding set beside the
// active one, fill it without touching what queries read, switch in one transaction (and back,
// bit for bit), drop an inactive set, and copy every set with migrate's export and import.
TEST_P(StoreContract, AnotherModelGetsItsOwnSetSwitchedBackAndCopied) {
  auto s = open();
  s->set_model(identity());
  const auto emb = awkward(7);
  const int64_t a = s->put_track(track("/m/a.mp3"), windows(2), emb.data());
  ModelIdentity other = identity();
  other.id = "org/other";
  other.content_hash = std::string(64, 'e');
  other.audio_hash = std::string(64, 'f');
  std::vector<EmbeddingSet> sets = s->embedding_sets();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_TRUE(sets[0].active);
  EXPECT_EQ(sets[0].identity.id, identity().id);
  EXPECT_EQ(sets[0].windows, 2);
  EXPECT_NE(test::error_of([&] { index::ensure_identity(*s, other, false); }).find("--rebuild"),
            std::string::npos);  // a model not named for it (index without --model) gets no set
  const int64_t set = index::ensure_identity(*s, other, false, /*new_set=*/true);
  EXPECT_EQ(set, 2);
  EXPECT_EQ(index::ensure_identity(*s, other, false, true), set);  // the next run continues it
  EXPECT_EQ(s->model()->id, identity().id);

  // Filled one window at a time; what queries read stays as it was.
  const Embeddings before = s->track_embeddings();
  ASSERT_EQ(s->set_tracks(set).size(), 1u);
  EXPECT_EQ(s->set_tracks(set)[0].stored, (std::vector<int>{0, 1}));
  std::vector<WindowRecord> mine = windows(2);
  for (WindowRecord& w : mine) w.embedding = awkward(20 + w.idx);
  EXPECT_NE(test::error_of([&] { s->activate_set(1); }).find("is the active one"), std::string::npos);
  s->add_set_windows(set, a, {mine[0]}, mine[0].embedding.data());
  EXPECT_EQ(s->set_tracks(set)[0].held, (std::vector<int>{0}));
  EXPECT_NE(test::error_of([&] { s->add_set_windows(set, a, {mine[0]}, mine[0].embedding.data()); }), "");  // held already
  WindowRecord unknown = mine[1];
  unknown.idx = 7;
  EXPECT_NE(test::error_of([&] { s->add_set_windows(set, a, {unknown}, mine[0].embedding.data()); })
                .find("not a stored non-silent window"),
            std::string::npos);
  const std::vector<float> set_track = awkward(30);
  s->add_set_windows(set, a, {mine[1]}, set_track.data());
  sets = s->embedding_sets();
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_TRUE(sets[1].complete());
  EXPECT_TRUE(same_bits(s->track_embeddings().data, before.data));
  ASSERT_EQ(s->set_windows(set, a).size(), 2u);
  EXPECT_TRUE(same_bits(s->set_windows(set, a)[1].embedding, mine[1].embedding));

  // A copy (migrate's export and import) holds both sets, the same one active.
  const std::string copy_at = GetParam() == "sqlite" ? test::temp_dir() + "/sets-copy.db"
                                                     : test::PostgresServer::shared().create_database();
  {
    auto copy = open_store(copy_at, OpenMode::ReadWrite);
    auto scope = copy->begin_import(*s->model(), {});
    std::vector<EmbeddingSet> wrong = s->embedding_sets();
    wrong[0].active = false;
    EXPECT_NE(test::error_of([&] { copy->import_sets(wrong); }).find("0 active embedding sets"), std::string::npos);
    wrong[1].active = true;  // another model than the copy's
    EXPECT_NE(test::error_of([&] { copy->import_sets(wrong); }).find("is not the copy's model"), std::string::npos);
    copy->import_sets(s->embedding_sets());
    const std::vector<TrackCopy> tracks = s->export_tracks(s->track_ids());
    ASSERT_EQ(tracks.at(0).sets.size(), 1u);
    EXPECT_EQ(tracks[0].sets[0].set_id, set);
    copy->import_tracks(tracks);
    scope->commit();
    const std::vector<EmbeddingSet> copied = copy->embedding_sets();
    ASSERT_EQ(copied.size(), 2u);
    EXPECT_TRUE(copied[0].active);
    EXPECT_EQ(copied[1].identity.id, "org/other");
    EXPECT_EQ(copied[1].covered_windows, 2);
    EXPECT_TRUE(same_bits(copy->set_windows(set, a)[1].embedding, mine[1].embedding));
  }

  // The switch: the set's embeddings are read, the old ones kept as their own set.
  s->activate_set(set);
  EXPECT_EQ(s->model()->id, "org/other");
  EXPECT_TRUE(same_bits(s->windows(a)[1].embedding, mine[1].embedding));
  EXPECT_TRUE(same_bits(s->track_embeddings().data, set_track));
  EXPECT_FALSE(s->changes_since(0));  // readers read everything again
  sets = s->embedding_sets();
  EXPECT_FALSE(sets[0].active);
  EXPECT_TRUE(sets[0].complete());
  EXPECT_TRUE(s->check().empty());
  s->activate_set(1);  // and back, bit for bit
  EXPECT_EQ(s->model()->id, identity().id);
  EXPECT_TRUE(same_bits(s->track_embeddings().data, before.data));
  EXPECT_NE(test::error_of([&] { s->drop_set(1); }).find("is the active one"), std::string::npos);
  EXPECT_NE(test::error_of([&] { s->drop_set(9); }).find("no embedding set 9"), std::string::npos);
  s->drop_set(set);
  EXPECT_EQ(s->embedding_sets().size(), 1u);
  EXPECT_EQ(index::ensure_identity(*s, other, false, true), 2);  // a new set takes the freed id, as SQLite's rowids do
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
