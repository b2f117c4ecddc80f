// Compressed mode (service/compressed_windows.h, --window-index compressed): text search and
// query by example take candidates from the compressed index and score them from the store's
// vectors. With a shortlist that holds every window the results must be those of the memory
// mode, field for field and bit for bit; the index must follow the library as it changes
// (refresh), be reused from its file, and be built again when its file is damaged. On SQLite
// and on PostgreSQL.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/vector_math.h"
#include "search/like.h"
#include "search/text_search.h"
#include "service/library.h"
#include "service/queries.h"
#include "service/window_index.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::service {
namespace {

constexpr int kDim = 64;  // 64 PQ sub-quantisers of one dimension each

store::ModelIdentity identity() {
  store::ModelIdentity m;
  m.id = "org/compressed-model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'c');
  m.dim = kDim;
  return m;
}

std::vector<float> unit(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

// Tracks of windows around a track centre around one of a few styles (neighbours that are
// close, as in a real library), with silent windows, an all-silent track and an error track;
// each track embedding is what the indexer stores: the normalised mean of its non-silent windows.
struct Writer {
  std::unique_ptr<store::Store> store;
  std::mt19937 rng{11};
  std::vector<std::vector<float>> styles;

  std::vector<float> around(const std::vector<float>& c, float spread) {
    std::normal_distribution<float> n(0, spread);
    std::vector<float> v(c);
    for (auto& x : v) x += n(rng);
    return unit(v);
  }
  int64_t put(const std::string& path, int n_windows, bool all_silent = false, bool error = false) {
    if (styles.empty()) {
      std::normal_distribution<float> n;
      for (int s = 0; s < 6; ++s) {
        std::vector<float> v(kDim);
        for (auto& x : v) x = n(rng);
        styles.push_back(unit(v));
      }
    }
    store::Track t;
    t.path = path;
    t.size = 1000 + n_windows;
    t.duration_s = 5.0 * n_windows + 5;
    t.title = "T " + path;
    std::vector<store::WindowRecord> ws;
    if (error) {
      t.status = store::TrackStatus::Error;
      t.error = "undecodable";
      return store->put_track(t, ws, nullptr);
    }
    const std::vector<float> centre = around(styles[rng() % styles.size()], 0.25f);
    // Tracks whose windows agree more or less: the lengths of their means (what Mean's
    // candidate selection scales by) range from ~0.6 to ~1.
    const float spread = std::array<float, 4>{0.02f, 0.06f, 0.12f, 0.2f}[rng() % 4];
    std::vector<float> active;
    std::vector<uint8_t> silent;
    for (int i = 0; i < n_windows; ++i) {
      store::WindowRecord w;
      w.idx = i;
      w.start_s = 5.0 * i;
      w.end_s = 5.0 * i + 10;
      w.silent = all_silent || i % 7 == 3;
      w.loudness_dbfs = w.silent ? -90 : -20;
      if (!w.silent) {
        w.embedding = around(centre, spread);
        active.insert(active.end(), w.embedding.begin(), w.embedding.end());
      }
      ws.push_back(std::move(w));
    }
    t.silent = active.empty();
    if (t.silent) return store->put_track(t, ws, nullptr);
    const std::vector<float> e = track_embedding(static_cast<int64_t>(active.size() / kDim), kDim, active.data(), nullptr);
    return store->put_track(t, ws, e.data());
  }
};

search::CompressedSearchParams everything() {
  search::CompressedSearchParams p;
  p.nprobe = 1 << 16;     // every list
  p.shortlist = 1 << 20;  // every window
  return p;
}

void expect_same_scores(const std::vector<search::TrackScore>& got, const std::vector<search::TrackScore>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("rank " + std::to_string(i));
    EXPECT_EQ(got[i].track_id, want[i].track_id);
    EXPECT_EQ(got[i].score, want[i].score);
    EXPECT_EQ(got[i].label, want[i].label);
    EXPECT_EQ(got[i].stats.n_windows, want[i].stats.n_windows);
    EXPECT_EQ(got[i].stats.mean, want[i].stats.mean);
    EXPECT_EQ(got[i].stats.max, want[i].stats.max);
    EXPECT_EQ(got[i].stats.min, want[i].stats.min);
    EXPECT_EQ(got[i].stats.std, want[i].stats.std);
    EXPECT_EQ(got[i].stats.best_window_id, want[i].stats.best_window_id);
    EXPECT_EQ(got[i].stats.best_start, want[i].stats.best_start);
  }
}

void expect_same_hits(const std::vector<search::Hit>& got, const std::vector<search::Hit>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
    EXPECT_EQ(got[i].score, want[i].score) << "rank " << i;
  }
}

void expect_same_likes(const std::vector<search::LikeResult>& got, const std::vector<search::LikeResult>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].track_id, want[i].track_id);
    EXPECT_EQ(got[i].combined, want[i].combined);
    EXPECT_EQ(got[i].votes, want[i].votes);
    EXPECT_EQ(got[i].total_similarity, want[i].total_similarity);
    ASSERT_EQ(got[i].matches.size(), want[i].matches.size());
    for (size_t m = 0; m < want[i].matches.size(); ++m) {
      EXPECT_EQ(got[i].matches[m].chunk, want[i].matches[m].chunk);
      EXPECT_EQ(got[i].matches[m].window_id, want[i].matches[m].window_id);
      EXPECT_EQ(got[i].matches[m].cosine, want[i].matches[m].cosine);
      EXPECT_EQ(got[i].matches[m].start, want[i].matches[m].start);
    }
  }
}

class CompressedSearch : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      const std::string dir = test::temp_dir() + "/compressed-" +
                              ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::filesystem::remove_all(dir);
      std::filesystem::create_directories(dir);
      location_ = dir + "/library.db";
    } else {
      location_ = test::PostgresServer::shared().create_database();
    }
    writer_.store = store::open_store(location_, store::OpenMode::ReadWrite);
    writer_.store->set_model(identity());
    writer_.store->add_roots({"/music"});
  }
  std::unique_ptr<Library> open(WindowIndexMode mode, std::vector<std::string>* notes = nullptr,
                                std::vector<std::string>* warnings = nullptr) const {
    LibraryOptions o;
    o.db = location_;
    o.window_index = mode;
    o.compressed = everything();
    if (notes) o.note = [notes](const std::string& s) { notes->push_back(s); };
    if (warnings) o.warn = [warnings](const std::string& s) { warnings->push_back(s); };
    auto lib = std::make_unique<Library>(o, Access::ReadOnly);
    lib->refresh(/*force=*/true);  // everything loaded, as a server starts
    return lib;
  }
  void fill(int tracks) {
    for (int i = 0; i < tracks; ++i) writer_.put("/music/t" + std::to_string(1000 + i) + ".mp3", 6 + i % 9);
    writer_.put("/music/quiet.mp3", 4, /*all_silent=*/true);
    writer_.put("/music/bad.mp3", 0, false, /*error=*/true);
  }

  // Every query of compressed mode against the memory mode's, on the current state.
  void expect_same_answers(const Library& compressed, const Library& memory, int seed) {
    const auto c = compressed.snapshot();
    const auto m = memory.snapshot();
    ASSERT_NE(c->compressed(), nullptr);
    ASSERT_EQ(m->compressed(), nullptr);
    std::mt19937 rng(static_cast<unsigned>(seed));
    for (int q = 0; q < 4; ++q) {
      std::vector<float> query(kDim);
      std::normal_distribution<float> n;
      for (auto& x : query) x = n(rng);
      query = unit(query);
      for (auto aggregate : {search::Aggregate::Mean, search::Aggregate::Max})
        for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{5}}) {
          SCOPED_TRACE(std::string(search::aggregate_name(aggregate)) + " k=" + std::to_string(k));
          search::TextSearchOptions so;
          so.k = k;
          so.aggregate = aggregate;
          const auto got = search::text_search_source(c->quantized_tracks(), c->centroid_norms(), c->window_source(), 1,
                                                      query.data(), so, c->compressed_params().shortlist)[0];
          const auto want = m->text_searcher().search(1, query.data(), so, &m->window_index())[0];
          expect_same_scores(got, want);
        }
    }
    // Song to song from the 8-bit track embeddings, every track as the query: the memory
    // mode's float32 hits, bit for bit; and a loose vector.
    for (int64_t id : m->track_embeddings().ids) {
      const store::Track* track = m->track(id);
      ASSERT_NE(track, nullptr);
      EXPECT_EQ(c->track_embedding(id), m->track_embedding(id));
      for (int64_t k : {int64_t{1}, int64_t{4}, int64_t{0}}) {
        SCOPED_TRACE("similar to track " + std::to_string(id) + ", k " + std::to_string(k));
        expect_same_hits(similar_tracks(*c, *track, k), similar_tracks(*m, *track, k));
      }
    }
    {
      std::vector<float> v(kDim);
      std::normal_distribution<float> n;
      for (auto& x : v) x = n(rng);
      expect_same_hits(similar_to_vector(*c, v, 3), similar_to_vector(*m, v, 3));
    }
    // Query by example: chunks of a library track (and with it left out), and loose chunks.
    const store::Track* t = m->track(m->track_embeddings().ids[3]);
    ASSERT_NE(t, nullptr);
    const search::QueryChunks own = track_query_chunks(*c, *t);
    const search::QueryChunks own_memory = track_query_chunks(*m, *t);
    EXPECT_EQ(own.embeddings, own_memory.embeddings);
    EXPECT_EQ(own.starts, own_memory.starts);
    search::LikeOptions lo;
    expect_same_likes(like(*c, own, lo), like(*m, own, lo));
    lo.exclude_track = t->id;
    lo.k = 0;
    expect_same_likes(like(*c, own, lo), like(*m, own, lo));
    // More chunks than like_source takes at a time (32).
    search::QueryChunks loose;
    loose.dim = kDim;
    for (int i = 0; i < 45; ++i) {
      std::vector<float> v(kDim);
      std::normal_distribution<float> n;
      for (auto& x : v) x = n(rng);
      v = unit(v);
      loose.embeddings.insert(loose.embeddings.end(), v.begin(), v.end());
      loose.starts.push_back(i * 5.0);
      loose.ends.push_back(i * 5.0 + 10);
      loose.silent.push_back(i == 2 || i == 33);
    }
    search::LikeOptions plain;
    plain.per_chunk = 7;
    expect_same_likes(like(*c, loose, plain), like(*m, loose, plain));
  }

  std::string location_;
  Writer writer_;
};

TEST_P(CompressedSearch, AnswersAsTheMemoryModeWhenTheShortlistHoldsEveryWindow) {
  fill(60);
  auto compressed = open(WindowIndexMode::Compressed);
  auto memory = open(WindowIndexMode::Memory);
  EXPECT_GE(compressed->snapshot()->compressed()->size(), 256);
  // A node's index holds second codes; asked for no particular shortlist, a query reads the
  // shortlist that suits them.
  EXPECT_EQ(compressed->snapshot()->compressed()->refine_bytes(), kNodeSecondCodeBytes);
  EXPECT_EQ(compressed->snapshot()->compressed_params().shortlist, (1 << 20));
  {
    LibraryOptions o;
    o.db = location_;
    o.window_index = WindowIndexMode::Compressed;
    Library plain(o, Access::ReadOnly);
    EXPECT_EQ(plain.snapshot()->compressed_params().shortlist, kShortlistSecondCodes);
    EXPECT_EQ(plain.snapshot()->compressed_params().refine, search::CompressedSearchParams{}.refine);
  }
  // No catalog was read to answer: the snapshot holds the compressed index and track data only.
  expect_same_answers(*compressed, *memory, 1);
  // Auto chooses memory for a library this small.
  EXPECT_EQ(open(WindowIndexMode::Auto)->snapshot()->compressed(), nullptr);
}

TEST_P(CompressedSearch, FollowsTheLibraryAsItChanges) {
  fill(50);
  auto compressed = open(WindowIndexMode::Compressed);
  ASSERT_NE(compressed->snapshot()->compressed(), nullptr);
  const int64_t before = compressed->snapshot()->compressed()->size();
  // Added, replaced (new windows), removed, labelled: the server's refresh brings the index along.
  for (int i = 0; i < 6; ++i) writer_.put("/music/new" + std::to_string(i) + ".mp3", 8);
  writer_.put("/music/t1003.mp3", 12);
  const auto ids = writer_.store->track_ids();
  writer_.store->remove_tracks({ids[1], ids[7]});
  writer_.store->put_labels({{ids[2], "jazz", 0.5f}});
  RefreshInfo info;
  ASSERT_TRUE(compressed->refresh(false, &info));
  EXPECT_TRUE(info.incremental);
  const auto snap = compressed->snapshot();
  EXPECT_EQ(snap->compressed()->generation(), snap->library_generation());
  EXPECT_GT(snap->compressed()->size(), before);
  expect_same_answers(*compressed, *open(WindowIndexMode::Memory), 2);
  // A track removed is never a result, though its codes stay in the lists until a rebuild.
  search::TextSearchOptions all;
  all.k = 0;
  all.aggregate = search::Aggregate::Max;
  std::vector<float> q(kDim, 0.125f);
  const auto results = search::text_search_source(snap->quantized_tracks(), snap->centroid_norms(), snap->window_source(), 1,
                                                  q.data(), all, 1 << 20);
  EXPECT_EQ(results[0].size(), snap->quantized_tracks().ids().size());
  for (const auto& r : results[0]) {
    EXPECT_NE(r.track_id, ids[1]);
    EXPECT_NE(r.track_id, ids[7]);
  }
}

TEST_P(CompressedSearch, SavedIndexIsReusedAndADamagedOneBuiltAgain) {
  fill(40);
  std::vector<std::string> notes, warnings;
  auto first = open(WindowIndexMode::Compressed, &notes);
  auto has = [&notes](const std::string& what) {
    for (const auto& n : notes)
      if (n.find(what) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has(": built over")) << ::testing::PrintToString(notes);
  const std::string path =
      compressed_window_index_path(store::display_location(location_), window_index_key_id(*writer_.store));
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  ASSERT_TRUE(std::filesystem::exists(path + ".norms"));

  notes.clear();
  auto second = open(WindowIndexMode::Compressed, &notes);
  EXPECT_TRUE(has(": loaded,")) << ::testing::PrintToString(notes);
  EXPECT_FALSE(has("built over"));

  // Written to meanwhile: loaded and brought up to date.
  writer_.put("/music/later.mp3", 9);
  notes.clear();
  auto third = open(WindowIndexMode::Compressed, &notes);
  EXPECT_TRUE(has("(brought up to date)")) << ::testing::PrintToString(notes);
  expect_same_answers(*third, *open(WindowIndexMode::Memory), 3);

  // A damaged norms file: a warning naming it, built again, the same answers.
  {
    std::fstream f(path + ".norms", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x5a');
  }
  notes.clear();
  auto fourth = open(WindowIndexMode::Compressed, &notes, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(path + ".norms is damaged"), std::string::npos) << warnings[0];
  EXPECT_TRUE(has(": built over"));
  expect_same_answers(*fourth, *open(WindowIndexMode::Memory), 4);
}

TEST_P(CompressedSearch, TooFewWindowsAreSearchedInMemory) {
  fill(5);
  std::vector<std::string> notes;
  auto lib = open(WindowIndexMode::Compressed, &notes);
  EXPECT_EQ(lib->snapshot()->compressed(), nullptr);
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("too few searchable windows for a compressed window index"), std::string::npos) << notes[0];
  EXPECT_TRUE(lib->snapshot()->searchable());
}

// Queries from many threads at once read through the pooled connections (more threads than
// connections, so some wait for one): every answer is the one a single thread gets.
TEST_P(CompressedSearch, ConcurrentQueriesGiveTheSingleThreadAnswers) {
  fill(40);
  auto compressed = open(WindowIndexMode::Compressed);
  const auto snap = compressed->snapshot();
  const std::vector<int64_t> ids = snap->quantized_tracks().ids();
  std::vector<std::vector<search::Hit>> want;
  std::vector<std::vector<search::LikeResult>> want_like;
  for (int64_t id : ids) {
    want.push_back(similar_tracks(*snap, *snap->track(id), 3));
    want_like.push_back(like(*snap, track_query_chunks(*snap, *snap->track(id)), search::LikeOptions{}));
  }
  std::vector<std::thread> threads;  // gtest's assertions are thread-safe with pthreads
  for (int th = 0; th < 8; ++th)
    threads.emplace_back([&, th] {
      for (size_t r = 0; r < 3 * ids.size(); ++r) {
        const size_t i = (r * 7 + static_cast<size_t>(th)) % ids.size();
        const store::Track& t = *snap->track(ids[i]);
        expect_same_hits(similar_tracks(*snap, t, 3), want[i]);
        expect_same_likes(like(*snap, track_query_chunks(*snap, t), search::LikeOptions{}), want_like[i]);
      }
    });
  for (auto& t : threads) t.join();
}

// A search node's PostgreSQL restarts: the pooled connections die with it; the queries after it
// open new ones and answer as before, none fails.
class CompressedSearchRestart : public CompressedSearch {};

TEST_P(CompressedSearchRestart, QueriesGoOnAfterThePostgresqlServerRestarts) {
  fill(40);
  auto compressed = open(WindowIndexMode::Compressed);
  const auto snap = compressed->snapshot();
  const std::vector<int64_t> ids = snap->quantized_tracks().ids();
  auto answers = [&] {
    std::vector<int64_t> out;
    for (int64_t id : ids) {
      for (const auto& h : similar_tracks(*snap, *snap->track(id), 2)) out.push_back(h.id);
      for (const auto& r : like(*snap, track_query_chunks(*snap, *snap->track(id)), search::LikeOptions{}))
        out.push_back(r.track_id);
    }
    return out;
  };
  const std::vector<int64_t> want = answers();
  std::vector<std::thread> threads;  // several pooled connections open at the restart
  for (int th = 0; th < 4; ++th) threads.emplace_back([&] { answers(); });
  for (auto& t : threads) t.join();
  test::PostgresServer::shared().restart(0.5);
  EXPECT_EQ(answers(), want);
  EXPECT_EQ(answers(), want);
}

// The library's own connection (on which refresh reads the generation) died with a restart and
// was never opened again: a server's refresh failed with "no connection to the server" until
// `serve` itself was restarted, its /api/ answering 503 all along (H11S-5). It is opened again,
// and the tracks added since are seen.
TEST_P(CompressedSearchRestart, TheLibraryRefreshesAfterThePostgresqlServerRestarts) {
  fill(10);
  auto lib = open(WindowIndexMode::Memory);
  const size_t before = lib->snapshot()->tracks().size();
  test::PostgresServer::shared().restart(0.5);
  writer_.store = store::open_store(location_, store::OpenMode::ReadWrite);  // the writer's died too
  writer_.put("/music/after-restart.mp3", 7);
  EXPECT_TRUE(lib->refresh());
  EXPECT_EQ(lib->snapshot()->tracks().size(), before + 1);
}

INSTANTIATE_TEST_SUITE_P(Postgresql, CompressedSearchRestart, ::testing::Values("postgresql"),
                         [](const auto& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Stores, CompressedSearch, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace clap::service
