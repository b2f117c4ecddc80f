// The service layer on its own (no CLI process): an index built by service::run_index from real
// encoded files, then queried through service::Library - settings inheritance, model
// identity checks, the text cache, query audio embedded exactly as the indexer embeds a track,
// the window index's staleness rule, read-only access, status, embed and doctor.
#include "service/library.h"
#include "service/queries.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/vector_math.h"
#include "search/text_search.h"
#include "service/doctor.h"
#include "service/embed.h"
#include "service/indexing.h"
#include "service/status.h"
#include "service/window_index.h"
#include "store/store.h"
#include "support/golden.h"

namespace clap::service {
namespace {

namespace fs = std::filesystem;

using test::ffmpeg;

std::string model_dir() { return test::case_dir("tiny-unfused"); }

// A small library of real encoded files, indexed once per test.
struct Fixture {
  std::string dir = test::temp_dir() + "/service";
  std::string lib = dir + "/music";
  std::string db = dir + "/library.db";
  std::string a440, pink, chirp;

  Fixture() {
    fs::remove_all(dir);
    a440 = ffmpeg(lib + "/a440.mp3", "-f lavfi -i \"sine=f=440:d=14\" -ac 2 -ar 44100 -metadata title=A440 -metadata artist=Demo");
    pink = ffmpeg(lib + "/sub/pink.ogg", "-f lavfi -i \"anoisesrc=color=pink:d=8:seed=3\" -ar 22050");
    chirp = ffmpeg(lib + "/chirp.flac", "-f lavfi -i \"aevalsrc=sin(2*PI*(200+400*t)*t):d=12\" -ar 48000");
  }

  IndexRun index(IndexRequest r = {}) {
    if (r.dirs.empty()) r.dirs = {lib};
    r.db = db;
    r.quiet = true;
    if (!r.model) r.model = model_dir();
    return run_index(r);
  }

  LibraryOptions options() const {
    LibraryOptions o;
    o.db = db;
    return o;
  }
};

TEST(ServiceIndexing, SettingsNotGivenContinueTheIndex) {
  Fixture f;
  IndexRequest first;
  first.window_s = 6;
  first.hop_s = 3;
  const IndexRun a = f.index(first);
  EXPECT_EQ(a.summary.indexed, 3);
  EXPECT_DOUBLE_EQ(a.identity.window_s, 6);

  // No model, window or hop given: the index's own settings, not the defaults.
  IndexRequest again;
  again.dirs = {f.lib};
  again.db = f.db;
  again.quiet = true;
  const IndexRun b = run_index(again);
  EXPECT_EQ(b.summary.unchanged, 3);
  EXPECT_EQ(b.summary.indexed, 0);
  EXPECT_DOUBLE_EQ(b.identity.window_s, 6);
  EXPECT_DOUBLE_EQ(b.identity.hop_s, 3);
  EXPECT_EQ(b.identity.id, a.identity.id);

  // Another window is refused with advice, and the index is left as it was.
  IndexRequest other;
  other.window_s = 10;
  try {
    f.index(other);
    FAIL() << "a different window must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--rebuild"), std::string::npos) << e.what();
  }
  EXPECT_EQ(library_status(f.db).counts.ok, 3);

  // --rebuild with only --window keeps the model.
  IndexRequest rebuild;
  rebuild.dirs = {f.lib};
  rebuild.db = f.db;
  rebuild.quiet = true;
  rebuild.rebuild = true;
  rebuild.window_s = 10;
  const IndexRun c = run_index(rebuild);
  EXPECT_EQ(c.identity.id, a.identity.id);
  EXPECT_DOUBLE_EQ(c.identity.window_s, 10);
  EXPECT_DOUBLE_EQ(c.identity.hop_s, 3);
  EXPECT_EQ(c.summary.indexed, 3);
}

TEST(ServiceIndexing, ResolveSettingsPrefersGivenThenStoredThenDefaults) {
  store::ModelIdentity stored;
  stored.id = "org/m";
  stored.revision = "abc";
  stored.window_s = 7;
  stored.hop_s = 2;
  stored.silence_db = -50;
  IndexRequest r;
  ResolvedSettings s = resolve_settings(r, std::nullopt);
  EXPECT_EQ(s.model_spec, hub::kDefaultModel);
  EXPECT_DOUBLE_EQ(s.window_s, 10);
  EXPECT_DOUBLE_EQ(s.hop_s, 5);
  EXPECT_DOUBLE_EQ(s.silence_db, -60);
  s = resolve_settings(r, stored);
  EXPECT_EQ(s.model_spec, "org/m@abc");
  EXPECT_DOUBLE_EQ(s.window_s, 7);
  EXPECT_DOUBLE_EQ(s.silence_db, -50);
  r.hop_s = 1;
  r.model = "/x";
  s = resolve_settings(r, stored);
  EXPECT_EQ(s.model_spec, "/x");
  EXPECT_DOUBLE_EQ(s.hop_s, 1);
  EXPECT_DOUBLE_EQ(s.window_s, 7);
}

TEST(ServiceLibrary, TracksTextCacheAndSearch) {
  Fixture f;
  f.index();
  std::vector<std::string> notes;
  LibraryOptions o = f.options();
  o.note = [&](const std::string& n) { notes.push_back(n); };
  Library lib(o, Access::ReadWriteIfPossible);
  EXPECT_TRUE(lib.writable());
  EXPECT_EQ(lib.snapshot()->tracks().size(), 3u);
  const store::Track* t = lib.snapshot()->find_track(f.a440);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(lib.snapshot()->find_track(std::to_string(t->id)), t);
  EXPECT_EQ(lib.snapshot()->display_path(t->path), "a440.mp3");
  EXPECT_EQ(lib.snapshot()->tags_text(*t), "Demo \u2013 A440");
  EXPECT_EQ(lib.snapshot()->find_track(f.dir + "/nothing.wav"), nullptr);

  // First query runs the model and fills the cache; the second is served from the cache
  // with the same floats.
  const std::vector<float> q1 = lib.embed_texts({"warm lo-fi guitar", "female vocalist", "warm lo-fi guitar"});
  EXPECT_EQ(lib.text_cache_misses(), 2);
  EXPECT_EQ(lib.text_cache_hits(), 0);
  ASSERT_EQ(q1.size(), 3u * lib.dim());
  EXPECT_TRUE(std::equal(q1.begin(), q1.begin() + lib.dim(), q1.begin() + 2 * lib.dim()));
  Library again(f.options(), Access::ReadOnly);
  const std::vector<float> q2 = again.embed_texts({"warm lo-fi guitar", "female vocalist"});
  EXPECT_EQ(again.text_cache_hits(), 2);
  EXPECT_FALSE(again.model_loaded());  // served entirely from the cache
  EXPECT_TRUE(std::equal(q2.begin(), q2.end(), q1.begin()));

  // Text search through the service's query layer (catalog, window index, cached text).
  search::TextSearchOptions so;
  so.k = 2;
  so.aggregate = search::Aggregate::Max;
  const auto hits = service::search_texts(lib, *lib.snapshot(), {"warm lo-fi guitar"}, so)[0];
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_NE(lib.snapshot()->track(hits[0].track_id), nullptr);
  bool noted_index = false;
  for (const auto& n : notes) noted_index |= n.find("window index") != std::string::npos;
  EXPECT_TRUE(noted_index);
}

// Texts from concurrent callers share text-tower runs (the server's clients waiting for new
// texts), and each caller gets exactly the floats its text has on its own: a batch never
// changes an embedding. Each run caches its texts in one write (one commit for all the callers
// it served), and the cache then answers every text with the floats its caller got.
TEST(ServiceLibrary, ConcurrentNewTextsShareTowerRunsAndKeepTheirEmbeddings) {
  Fixture f;
  f.index();
  constexpr int kCallers = 8, kRounds = 12;
  auto text_of = [](int caller, int round) {
    return "caller " + std::to_string(caller) + " round " + std::to_string(round) + " lo-fi";
  };
  std::vector<std::vector<float>> got(kCallers * kRounds);
  int64_t runs = 0;
  const int64_t generation_before = store::open_store(f.db, store::OpenMode::ReadOnly)->generation();
  {
    Library lib(f.options(), Access::ReadWriteIfPossible);
    std::vector<std::thread> threads;
    for (int c = 0; c < kCallers; ++c)
      threads.emplace_back([&, c] {
        for (int r = 0; r < kRounds; ++r) got[c * kRounds + r] = lib.embed_texts({text_of(c, r)});
      });
    for (auto& t : threads) t.join();
    runs = lib.text_tower_runs();
    EXPECT_EQ(lib.text_cache_misses(), kCallers * kRounds);
  }
  EXPECT_GE(runs, 1);
  EXPECT_LT(runs, kCallers * kRounds) << "no two of the concurrent callers' texts shared a run";
  EXPECT_EQ(store::open_store(f.db, store::OpenMode::ReadOnly)->generation() - generation_before, runs)
      << "the text cache was not written once per run";
  Library alone(f.options(), Access::ReadOnly);
  std::vector<std::string> all;
  for (int i = 0; i < kCallers * kRounds; ++i) all.push_back(text_of(i / kRounds, i % kRounds));
  const std::vector<float> cached = alone.embed_texts(all);
  EXPECT_EQ(alone.text_cache_hits(), kCallers * kRounds);
  EXPECT_FALSE(alone.model_loaded());
  for (int i = 0; i < kCallers * kRounds; ++i)
    EXPECT_TRUE(std::equal(got[i].begin(), got[i].end(), cached.begin() + static_cast<long>(i) * alone.dim())) << all[i];
  for (int c = 0; c < kCallers; ++c)
    for (int r = 0; r < kRounds; ++r) {
      const std::vector<float> single = alone.model().embed_text({text_of(c, r)});
      EXPECT_EQ(got[c * kRounds + r], single) << text_of(c, r);
    }
}

// A bf16 text tower's embeddings are cached under their own key: neither precision ever
// answers with the other's floats, and each is served from the cache the second time.
TEST(ServiceLibrary, TextPrecisionsAreCachedApart) {
  Fixture f;
  f.index();
  const std::vector<std::string> texts = {"warm lo-fi guitar", "female vocalist"};
  LibraryOptions bf16 = f.options();
  bf16.text_precision = Precision::BF16;
  std::vector<float> low, full;
  {
    Library lib(bf16, Access::ReadWriteIfPossible);
    low = lib.embed_texts(texts);
    EXPECT_EQ(lib.text_cache_misses(), 2);
    EXPECT_EQ(lib.model().text_precision(), Precision::BF16);
  }
  {
    Library lib(f.options(), Access::ReadWriteIfPossible);  // fp32: not the bf16 entries
    full = lib.embed_texts(texts);
    EXPECT_EQ(lib.text_cache_misses(), 2);
    EXPECT_EQ(lib.text_cache_hits(), 0);
  }
  ASSERT_EQ(low.size(), full.size());
  EXPECT_NE(low, full);
  const size_t d = low.size() / texts.size();
  for (size_t i = 0; i < texts.size(); ++i) {
    double dot = 0;
    for (size_t j = 0; j < d; ++j) dot += double(low[i * d + j]) * full[i * d + j];
    EXPECT_GE(dot, 0.999) << texts[i];
  }
  for (const LibraryOptions& o : {bf16, f.options()}) {
    Library lib(o, Access::ReadOnly);
    EXPECT_EQ(lib.embed_texts(texts), o.text_precision == Precision::BF16 ? low : full);
    EXPECT_EQ(lib.text_cache_hits(), 2);
    EXPECT_FALSE(lib.model_loaded());
  }
  LibraryOptions int8 = f.options();  // a third precision: a third key
  int8.text_precision = Precision::I8;
  Library lib(int8, Access::ReadOnly);
  const std::vector<float> quantised = lib.embed_texts(texts);
  EXPECT_EQ(lib.text_cache_misses(), 2);
  EXPECT_NE(quantised, low);
  EXPECT_NE(quantised, full);
}

TEST(ServiceLibrary, QueryAudioIsEmbeddedExactlyLikeTheIndexer) {
  Fixture f;
  f.index();
  Library lib(f.options(), Access::ReadOnly);
  // A copy of an indexed file outside the index: the same track embedding, bit for bit.
  const std::string copy = f.dir + "/copy-of-chirp.flac";
  fs::copy_file(f.chirp, copy);
  const store::Track* t = lib.snapshot()->find_track(f.chirp);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(lib.file_embedding(copy), lib.snapshot()->track_embedding(t->id));
  const AudioItem item = lib.audio_item(copy);
  EXPECT_EQ(item.track_id, -1);
  EXPECT_EQ(item.embedding, lib.snapshot()->track_embedding(t->id));
  EXPECT_EQ(lib.audio_item(f.chirp).track_id, t->id);

  // Window by window: the same windows as stored.
  const SongWindows from_file = lib.song_windows(copy), from_index = lib.song_windows(f.chirp);
  EXPECT_EQ(from_file.track_id, -1);
  EXPECT_EQ(from_index.track_id, t->id);
  ASSERT_EQ(from_file.catalog.window_count(), from_index.catalog.window_count());
  for (int64_t r = 0; r < from_file.catalog.window_count(); ++r)
    EXPECT_TRUE(std::equal(from_file.catalog.embedding(r), from_file.catalog.embedding(r) + lib.dim(),
                           from_index.catalog.embedding(r)));

  try {
    lib.audio_item(f.dir + "/missing.wav");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
  const std::string garbage = f.dir + "/garbage.mp3";
  std::FILE* g = std::fopen(garbage.c_str(), "wb");
  std::fputs("this is not audio at all", g);
  std::fclose(g);
  EXPECT_THROW(lib.file_embedding(garbage), Error);
}

TEST(ServiceLibrary, RefusesAnotherModelAndAnEmptyIndex) {
  Fixture f;
  f.index();
  LibraryOptions o = f.options();
  o.model = test::case_dir("tiny-fused");
  try {
    Library lib(o, Access::ReadOnly);
    FAIL() << "another model must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the index"), std::string::npos) << e.what();
  }
  LibraryOptions none;
  none.db = f.dir + "/absent.db";
  EXPECT_THROW(Library(none, Access::ReadOnly), Error);
  EXPECT_FALSE(fs::exists(none.db));  // a query never creates an index
}

TEST(ServiceLibrary, WindowIndexIsRebuiltOnlyWhenItsWindowsChange) {
  Fixture f;
  f.index();
  const std::string path = window_index_path(f.db);
  {
    Library lib(f.options(), Access::ReadWriteIfPossible);
    lib.snapshot()->window_index();
  }
  search::IndexHeader h1;
  ASSERT_TRUE(search::VectorIndex::read_header(path, &h1));
  const int64_t generation = library_status(f.db).generation;
  {
    // Writes that leave the windows alone: text cache and labels.
    Library lib(f.options(), Access::ReadWriteIfPossible);
    lib.embed_texts({"a text never seen"});
    lib.store_labels({{lib.snapshot()->tracks()[0].id, "jazz", 0.5f}});
    EXPECT_EQ(lib.snapshot()->labels_of(lib.snapshot()->tracks()[0].id).size(), 1u);
    search::LoadInfo info;
    load_window_index(f.db, lib.snapshot()->catalog(), &info);
    EXPECT_FALSE(info.rebuilt) << info.reason;
  }
  EXPECT_GT(library_status(f.db).generation, generation);  // the store did change

  // A new track changes the windows: the stored index is updated in place (not rebuilt), once.
  ffmpeg(f.lib + "/new.wav", "-f lavfi -i \"sine=f=880:d=5\"");
  f.index();
  Library lib(f.options(), Access::ReadOnly);
  search::LoadInfo info;
  const search::VectorIndex idx = load_window_index(f.db, lib.snapshot()->catalog(), &info);
  EXPECT_FALSE(info.rebuilt);
  EXPECT_TRUE(info.updated);
  EXPECT_EQ(info.removed, 0);
  EXPECT_GE(info.added, 1);
  EXPECT_EQ(info.reason.rfind("updated", 0), 0u) << info.reason;
  EXPECT_EQ(idx.size(), lib.snapshot()->catalog().window_count());
  load_window_index(f.db, lib.snapshot()->catalog(), &info);
  EXPECT_FALSE(info.rebuilt);
  search::IndexHeader h2;
  ASSERT_TRUE(search::VectorIndex::read_header(path, &h2));
  EXPECT_EQ(h2.content_key, window_fingerprint(lib.snapshot()->catalog()));
  EXPECT_NE(h2.content_key, h1.content_key);
}

// Issue 10: the window index reads the catalog's embeddings in place, loaded or built.
TEST(ServiceLibrary, TheWindowIndexHoldsNoSecondCopyOfTheWindows) {
  Fixture f;
  f.index();
  for (int run = 0; run < 2; ++run) {  // built, then loaded from its file
    Library lib(f.options(), Access::ReadOnly);
    const search::VectorIndex& idx = lib.snapshot()->window_index();
    const search::Catalog& c = lib.snapshot()->catalog();
    ASSERT_GT(idx.size(), 0);
    EXPECT_FALSE(idx.owns_vectors());
    EXPECT_LT(idx.memory_bytes(), idx.size() * c.dim() * 4 / 10) << "run " << run;
    // It answers exactly like an index that owns a copy of the same windows.
    const search::VectorIndex copy = search::VectorIndex::build(search::window_index_data(c));
    const float* q = c.embedding(0);
    const search::SearchResult a = idx.search(1, q, 5), b = copy.search(1, q, 5);
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.scores, b.scores);
  }
}

TEST(ServiceLibrary, ReadOnlyAccessAnswersButWritesNothing) {
  Fixture f;
  f.index();
  const int64_t generation = library_status(f.db).generation;
  {
    Library lib(f.options(), Access::ReadOnly);
    EXPECT_FALSE(lib.writable());
    EXPECT_EQ(lib.embed_texts({"rock music"}).size(), static_cast<size_t>(lib.dim()));
    EXPECT_EQ(lib.text_cache_misses(), 1);
    EXPECT_THROW(lib.store_labels({{lib.snapshot()->tracks()[0].id, "x", 1}}), Error);
  }
  EXPECT_EQ(library_status(f.db).generation, generation);  // nothing was written
  Library again(f.options(), Access::ReadOnly);
  again.embed_texts({"rock music"});
  EXPECT_EQ(again.text_cache_hits(), 0);
}

TEST(ServiceStatusEmbedDoctor, ReportWhatTheCliPrints) {
  Fixture f;
  f.index();
  const LibraryStatus s = library_status(f.db);
  EXPECT_EQ(s.counts.tracks, 3);
  EXPECT_EQ(s.counts.ok, 3);
  ASSERT_TRUE(s.model.has_value());
  EXPECT_EQ(s.roots, std::vector<std::string>{f.lib});
  EXPECT_THROW(library_status(f.dir + "/absent.db"), Error);

  EmbedRequest r;
  r.model = model_dir();
  r.inputs = {{f.chirp, true}, {f.dir + "/missing.wav", true}, {"rock music", false}};
  const EmbedResult e = embed_inputs(r);
  ASSERT_EQ(e.outputs.size(), 3u);
  EXPECT_TRUE(e.outputs[0].error.empty());
  EXPECT_FALSE(e.outputs[1].error.empty());  // reported, the others still embedded
  ASSERT_EQ(e.outputs[2].embedding.size(), static_cast<size_t>(e.dim));
  // `embed` of an indexed file equals its stored track embedding (no silence in this file).
  Library lib(f.options(), Access::ReadOnly);
  EXPECT_EQ(e.outputs[0].embedding, lib.snapshot()->track_embedding(lib.snapshot()->find_track(f.chirp)->id));

  const DoctorReport d = check_model(model_dir());
  EXPECT_EQ(d.revision, "local");
  EXPECT_EQ(d.weights_sha256.size(), 64u);
  EXPECT_GT(d.parameters, 0);
  EXPECT_TRUE(d.health_checked);
  EXPECT_FALSE(d.hub_checksum_mismatch());
}

}  // namespace
}  // namespace clap::service
