// Song-to-song similarity over the whole library (service/queries.h similar_all): the 8-bit rows
// choose the tracks that could rank, the float32 rows score them, and the answer must be the
// exact float32 ranking (search::similar over every track embedding), ids, order and score bits,
// in memory mode, under the music-only rule's exclusions, and after an incremental refresh that
// carries the 8-bit rows over (their merge must equal quantizing the new snapshot afresh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "search/quantized_tracks.h"
#include "search/similar.h"
#include "service/filters.h"
#include "service/library.h"
#include "service/queries.h"
#include "store/store.h"
#include "support/golden.h"

namespace clap::service {
namespace {

constexpr int kDim = 32;

store::ModelIdentity identity() {
  store::ModelIdentity m;
  m.id = "org/similar-all-model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'b');
  m.dim = kDim;
  return m;
}

// Tracks in 12 tight clusters (many near ties at the cut of a top-k), exact copies of some
// embeddings (ties broken by id) and some rows off unit length, as a real library has them.
class Writer {
 public:
  explicit Writer(const std::string& location) : store_(store::open_store(location, store::OpenMode::ReadWrite)) {
    store_->set_model(identity());
    store_->add_roots({"/music"});
    std::normal_distribution<float> n;
    for (int c = 0; c < 12; ++c) {
      std::vector<float> centre(kDim);
      for (float& x : centre) x = n(rng_);
      centres_.push_back(centre);
    }
  }
  int64_t put(int i) {
    std::normal_distribution<float> n;
    std::vector<float> e = centres_[static_cast<size_t>(i) % centres_.size()];
    for (float& x : e) x += 0.15f * n(rng_);
    if (i % 17 == 5 && !last_.empty()) e = last_;  // an exact copy of the previous track's
    double s = 0;
    for (float x : e) s += double(x) * x;
    const double scale = (i % 7 == 3 ? 1.3 : 1.0) / std::sqrt(s);
    for (float& x : e) x = static_cast<float>(x * scale);
    last_ = e;
    store::Track t;
    t.path = "/music/t" + std::to_string(i) + ".flac";
    t.size = 1000 + i;
    t.content_hash = std::string(63, 'c') + static_cast<char>('a' + i % 26);
    t.duration_s = 120;
    t.title = "T" + std::to_string(i);
    t.artist = "A" + std::to_string(i % 9);
    t.genre = i % 50 == 0 ? "Podcast" : "Jazz";
    std::vector<store::WindowRecord> ws(1);
    ws[0].end_s = 10;
    ws[0].embedding = e;
    return store_->put_track(t, ws, e.data());
  }
  store::Store& store() { return *store_; }

 private:
  std::unique_ptr<store::Store> store_;
  std::mt19937 rng_{11};
  std::vector<std::vector<float>> centres_;
  std::vector<float> last_;
};

void expect_same_hits(const std::vector<search::Hit>& got, const std::vector<search::Hit>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << what << ", rank " << i;
    EXPECT_EQ(std::memcmp(&got[i].score, &want[i].score, sizeof(double)), 0) << what << ", rank " << i;
  }
}

// The exact ranking: search::similar over every float32 track embedding.
std::vector<search::Hit> exact(const LibrarySnapshot& snap, const std::vector<float>& query, int64_t leave_out, int64_t k) {
  return search::similar(snap.track_embeddings(), 1, query.data(), &leave_out, k)[0];
}

void expect_exact_everywhere(const LibrarySnapshot& snap, const std::string& stage) {
  const Embeddings& all = snap.track_embeddings();
  std::mt19937 rng(5);
  std::normal_distribution<float> n;
  for (int64_t row = 0; row < all.size(); row += 7) {
    const int64_t id = all.ids[static_cast<size_t>(row)];
    const store::Track* t = snap.track(id);
    ASSERT_NE(t, nullptr);
    const std::vector<float> q(all.row(row), all.row(row) + all.dim);
    for (int64_t k : {1, 3, 10, 36, 60}) {
      const std::string what = stage + ": track " + std::to_string(id) + ", k " + std::to_string(k);
      expect_same_hits(similar_tracks(snap, *t, k), exact(snap, q, id, k), what);
    }
  }
  for (int i = 0; i < 20; ++i) {  // any vector (a group's mean direction, seeds)
    std::vector<float> q(kDim);
    for (float& x : q) x = n(rng);
    expect_same_hits(similar_to_vector(snap, q, 25), exact(snap, q, -1, 25), stage + ": vector " + std::to_string(i));
  }
  EXPECT_TRUE(snap.track_codes_made()) << stage << ": the 8-bit first pass was not used";
}

TEST(SimilarAll, EqualsTheExactFloatRankingInMemoryMode) {
  const std::string db = test::temp_dir() + "/similar-all/library.db";
  Writer w(db);
  for (int i = 0; i < 640; ++i) w.put(i);
  LibraryOptions o;
  o.db = db;
  o.window_index = WindowIndexMode::Memory;
  Library lib(o, Access::ReadOnly);
  lib.refresh(/*force=*/true);
  const auto snap = lib.snapshot();
  ASSERT_EQ(snap->compressed(), nullptr);
  expect_exact_everywhere(*snap, "memory mode");

  // The music-only rule leaves a few tracks out: the library's ranking, filtered, is the exact
  // ranking of the tracks left.
  const ResultRules rules = excluding_rule({}, search::Filter::parse("genre = \"Podcast\""), snap->tracks());
  ASSERT_FALSE(rules.exclude.empty());
  const Embeddings allowed = subset_rows(snap->track_embeddings(), [&](int64_t id) {
    return !std::binary_search(rules.exclude.begin(), rules.exclude.end(), id);
  });
  for (int64_t row = 0; row < allowed.size(); row += 23) {
    const int64_t id = allowed.ids[static_cast<size_t>(row)];
    const std::vector<float> q(allowed.row(row), allowed.row(row) + kDim);
    expect_same_hits(similar_tracks(*snap, *snap->track(id), 12, rules),
                     search::similar(allowed, 1, q.data(), &id, 12)[0], "music-only rule, track " + std::to_string(id));
  }

  // An incremental refresh carries the 8-bit rows over: tracks added, replaced and removed.
  for (int i = 640; i < 660; ++i) w.put(i);
  w.put(3);  // replaced: a new embedding under the same id
  w.store().remove_tracks({snap->track_embeddings().ids[10], snap->track_embeddings().ids[200]});
  RefreshInfo info;
  ASSERT_TRUE(lib.refresh(false, &info));
  ASSERT_TRUE(info.incremental);
  const auto next = lib.snapshot();
  ASSERT_TRUE(next->track_codes_made());
  // The merged rows bound every score exactly as rows quantized afresh from this snapshot do.
  search::QuantizedTracks fresh(kDim);
  fresh.append(next->track_embeddings());
  const search::QuantizedTracks& merged = next->track_codes();
  ASSERT_EQ(merged.ids(), fresh.ids());
  std::vector<float> q(kDim, 0.25f), a(merged.ids().size()), b(merged.ids().size());
  merged.dots(q.data(), a.data());
  fresh.dots(q.data(), b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  for (int64_t i = 0; i < merged.size(); ++i) {
    EXPECT_EQ(merged.error_bound(i, 1.0), fresh.error_bound(i, 1.0));
    EXPECT_EQ(merged.norm(i), fresh.norm(i));
  }
  expect_exact_everywhere(*next, "after an incremental refresh");
}

}  // namespace
}  // namespace clap::service
