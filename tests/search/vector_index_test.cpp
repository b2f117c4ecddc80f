// VectorIndex: exact = brute force, ties by id, approximate recall, persistence and rebuild on
// generation change, determinism.
#include "search/vector_index.h"

#include <gtest/gtest.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "core/vector_math.h"
#include "bench/vector_bench.h"
#include "search/topk.h"
#include "support/golden.h"
#include "test_util.h"

namespace clap::search {
namespace {

using test::random_unit;

Embeddings random_embeddings(int64_t n, int dim, uint32_t seed, bool shuffled_ids = true) {
  Embeddings e;
  e.dim = dim;
  e.data = random_unit(n, dim, seed);
  for (int64_t i = 0; i < n; ++i) e.ids.push_back(shuffled_ids ? (i * 7919) % 100003 + 5 : i);
  return e;
}

// The reference: every vector scored with the library kernel, ranked by (score desc, id asc).
std::vector<Hit> brute_force(const Embeddings& e, const float* q, int64_t k) {
  std::vector<float> s(static_cast<size_t>(e.size()));
  for (int64_t i = 0; i < e.size(); ++i) s[i] = clap::dot(q, e.row(i), e.dim);
  return top_k(s.data(), e.ids.data(), e.size(), k);
}

Embeddings synthetic(int64_t n, int dim) {
  SyntheticData d;
  d.clusters = 20;
  d.windows_per_track = 10;
  Embeddings e;
  e.dim = dim;
  e.data = synthetic_embeddings(n, dim, d, 0);
  e.ids.resize(static_cast<size_t>(n));
  std::iota(e.ids.begin(), e.ids.end(), 0);
  return e;
}

double recall_vs_exact(const VectorIndex& approx, const VectorIndex& exact, const std::vector<float>& queries,
                       int64_t nq, int64_t k, const SearchParams& params = {}) {
  const SearchResult a = approx.search(nq, queries.data(), k, params), x = exact.search(nq, queries.data(), k);
  double hits = 0;
  for (int64_t q = 0; q < nq; ++q) {
    std::set<int64_t> truth(x.ids.begin() + q * k, x.ids.begin() + (q + 1) * k);
    for (int64_t j = 0; j < k; ++j) hits += truth.count(a.ids[q * k + j]);
  }
  return hits / static_cast<double>(nq * k);
}

TEST(VectorIndex, ExactEqualsBruteForce) {
  const Embeddings e = random_embeddings(500, 32, 1);
  VectorIndexOptions o;
  o.kind = IndexKind::Exact;
  const VectorIndex index = VectorIndex::build(e, o);
  EXPECT_EQ(index.kind(), IndexKind::Exact);
  EXPECT_EQ(index.size(), 500);
  const auto queries = random_unit(7, 32, 2);
  const SearchResult r = index.search(7, queries.data(), 10);
  ASSERT_EQ(r.nq, 7);
  ASSERT_EQ(r.k, 10);
  for (int64_t q = 0; q < 7; ++q) {
    const auto ref = brute_force(e, queries.data() + q * 32, 10);
    for (int j = 0; j < 10; ++j) {
      EXPECT_EQ(r.ids_row(q)[j], ref[j].id) << "query " << q << " rank " << j;
      EXPECT_EQ(r.scores_row(q)[j], static_cast<float>(ref[j].score));
    }
  }
  // A query alone gives the same list as within a batch.
  const SearchResult one = index.search(1, queries.data() + 3 * 32, 10);
  EXPECT_TRUE(std::equal(one.ids.begin(), one.ids.end(), r.ids.begin() + 30));
}

TEST(VectorIndex, TiesGoToTheSmallerIdAndMissingEntriesArePadded) {
  // Three copies of one vector under ids 9, 4, 7 and one other vector.
  Embeddings e;
  e.dim = 4;
  e.ids = {9, 4, 7, 1};
  for (int i = 0; i < 3; ++i) e.data.insert(e.data.end(), {1, 0, 0, 0});
  e.data.insert(e.data.end(), {0, 1, 0, 0});
  const float q[4] = {1, 0, 0, 0};
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf, IndexKind::Hnsw}) {
    VectorIndexOptions o;
    o.kind = kind;
    const VectorIndex index = VectorIndex::build(e, o);
    const SearchResult top1 = index.search(1, q, 1);
    EXPECT_EQ(top1.ids[0], 4) << index_kind_name(kind);
    const SearchResult r = index.search(1, q, 6);
    EXPECT_EQ(std::vector<int64_t>(r.ids.begin(), r.ids.begin() + 3), (std::vector<int64_t>{4, 7, 9}))
        << index_kind_name(kind);
    EXPECT_EQ(r.scores[0], 1.0f);
    EXPECT_EQ(r.ids[4], -1);
    EXPECT_EQ(r.ids[5], -1);
    EXPECT_TRUE(std::isinf(r.scores[5]) && r.scores[5] < 0);
  }
}

TEST(VectorIndex, EmptyIndexReturnsPadding) {
  Embeddings e;
  e.dim = 8;
  const VectorIndex index = VectorIndex::build(e);
  const auto q = random_unit(1, 8, 3);
  const SearchResult r = index.search(1, q.data(), 3);
  EXPECT_EQ(r.ids, (std::vector<int64_t>{-1, -1, -1}));
}

TEST(VectorIndex, RejectsDuplicateIdsAndBadDimensions) {
  Embeddings e = random_embeddings(3, 4, 4, false);
  e.ids = {1, 2, 1};
  EXPECT_THROW(VectorIndex::build(e), Error);
  e.ids = {1, 2, 3};
  e.data.pop_back();
  EXPECT_THROW(VectorIndex::build(e), Error);
}

TEST(VectorIndex, AutoKindFollowsTheThreshold) {
  VectorIndexOptions o;
  o.approximate_threshold = 100;
  EXPECT_EQ(resolve_kind(o, 100), IndexKind::Exact);
  EXPECT_EQ(resolve_kind(o, 101), IndexKind::Ivf);
  o.approximate_kind = IndexKind::Hnsw;
  EXPECT_EQ(resolve_kind(o, 101), IndexKind::Hnsw);
  o.kind = IndexKind::Ivf;  // forced
  EXPECT_EQ(resolve_kind(o, 10), IndexKind::Ivf);
  EXPECT_EQ(resolve_kind(o, 0), IndexKind::Exact);
  EXPECT_EQ(VectorIndexOptions{}.approximate_threshold, 200000);
  EXPECT_EQ(resolve_nlist(IvfParams{}, 1000000), 1000);
  EXPECT_EQ(resolve_nlist(IvfParams{}, 1000), 25);  // at most n / 39
  EXPECT_EQ(resolve_nlist(IvfParams{}, 10), 1);
  EXPECT_EQ(parse_index_kind("hnsw"), IndexKind::Hnsw);
  EXPECT_THROW(parse_index_kind("lsh"), Error);
}

TEST(VectorIndex, ApproximateRecallIsHighOnClusteredData) {
  const int dim = 64;
  const Embeddings e = synthetic(4000, dim);
  SyntheticData d;
  d.clusters = 20;
  d.windows_per_track = 10;
  const std::vector<float> queries = synthetic_embeddings(50, dim, d, 1);
  VectorIndexOptions o;
  o.kind = IndexKind::Exact;
  const VectorIndex exact = VectorIndex::build(e, o);
  o.kind = IndexKind::Ivf;
  const VectorIndex ivf = VectorIndex::build(e, o);
  o.kind = IndexKind::Hnsw;
  const VectorIndex hnsw = VectorIndex::build(e, o);
  const double r_ivf = recall_vs_exact(ivf, exact, queries, 50, 10);
  const double r_hnsw = recall_vs_exact(hnsw, exact, queries, 50, 10);
  std::printf("recall@10 on 4000 clustered vectors: ivf %.3f, hnsw %.3f\n", r_ivf, r_hnsw);
  EXPECT_GE(r_ivf, 0.9);
  EXPECT_GE(r_hnsw, 0.9);
}

TEST(VectorIndex, BuildIsDeterministicAndIndependentOfInputOrder) {
  const int dim = 32;
  const Embeddings e = synthetic(3000, dim);
  Embeddings reversed = e;
  std::reverse(reversed.ids.begin(), reversed.ids.end());
  for (int64_t i = 0; i < e.size(); ++i)
    std::copy_n(e.row(e.size() - 1 - i), dim, reversed.data.data() + i * dim);
  const auto queries = random_unit(20, dim, 9);
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf, IndexKind::Hnsw}) {
    VectorIndexOptions o;
    o.kind = kind;
    const SearchResult a = VectorIndex::build(e, o).search(20, queries.data(), 10);
    const SearchResult b = VectorIndex::build(e, o).search(20, queries.data(), 10);
    const SearchResult c = VectorIndex::build(reversed, o).search(20, queries.data(), 10);
    EXPECT_EQ(a.ids, b.ids) << index_kind_name(kind);
    EXPECT_EQ(a.scores, b.scores) << index_kind_name(kind);
    EXPECT_EQ(a.ids, c.ids) << index_kind_name(kind);
    EXPECT_EQ(a.scores, c.scores) << index_kind_name(kind);
  }
}

TEST(VectorIndex, IvfAndExactResultsDoNotDependOnTheThreadCount) {
  const int dim = 32;
  const Embeddings e = synthetic(3000, dim);
  const auto queries = random_unit(40, dim, 11);
  const int saved = omp_get_max_threads();
  std::vector<SearchResult> runs;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf}) {
      VectorIndexOptions o;
      o.kind = kind;
      runs.push_back(VectorIndex::build(e, o).search(40, queries.data(), 10));
    }
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(runs[0].ids, runs[2].ids);
  EXPECT_EQ(runs[0].scores, runs[2].scores);
  EXPECT_EQ(runs[1].ids, runs[3].ids);
  EXPECT_EQ(runs[1].scores, runs[3].scores);
}

TEST(VectorIndex, SearchParametersChangeTheWork) {
  const int dim = 32;
  const Embeddings e = synthetic(4000, dim);
  const auto queries = random_unit(30, dim, 12);
  VectorIndexOptions o;
  o.kind = IndexKind::Exact;
  const VectorIndex exact = VectorIndex::build(e, o);
  o.kind = IndexKind::Ivf;
  const VectorIndex ivf = VectorIndex::build(e, o);
  SearchParams every_list;
  every_list.nprobe = 1000;  // clamped to nlist: every list scanned = exact
  EXPECT_EQ(ivf.search(30, queries.data(), 10, every_list).ids, exact.search(30, queries.data(), 10).ids);
  SearchParams one_list;
  one_list.nprobe = 1;
  EXPECT_LE(recall_vs_exact(ivf, exact, queries, 30, 10, one_list), 1.0);
}

class VectorIndexFile : public ::testing::Test {
 protected:
  // The scratch directory is per test name and outlives --gtest_repeat iterations: start clean.
  void SetUp() override { std::filesystem::remove(path); }
  std::string path = clap::test::temp_dir() + "/windows.vidx";
  int calls = 0;
  Embeddings data = synthetic(1500, 16);
  std::function<Embeddings()> provider = [this] {
    ++calls;
    return data;
  };
};

TEST_F(VectorIndexFile, RoundTripKeepsResultsForEveryKind) {
  const auto queries = random_unit(10, 16, 13);
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf, IndexKind::Hnsw}) {
    VectorIndexOptions o;
    o.kind = kind;
    const VectorIndex built = VectorIndex::build(data, o);
    built.save(path, 42);
    IndexHeader h;
    ASSERT_TRUE(VectorIndex::read_header(path, &h));
    EXPECT_EQ(h.content_key, 42);
    EXPECT_EQ(h.dim, 16);
    EXPECT_EQ(h.n, 1500);
    EXPECT_EQ(h.kind, kind);
    EXPECT_EQ(h.build_key, built.build_key());
    const VectorIndex loaded = VectorIndex::load(path);
    EXPECT_EQ(loaded.kind(), kind);
    EXPECT_EQ(loaded.size(), 1500);
    SearchParams p;
    p.nprobe = 5;
    p.ef_search = 40;
    const SearchResult a = built.search(10, queries.data(), 10, p), b = loaded.search(10, queries.data(), 10, p);
    EXPECT_EQ(a.ids, b.ids) << index_kind_name(kind);
    EXPECT_EQ(a.scores, b.scores) << index_kind_name(kind);
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));
}

TEST_F(VectorIndexFile, LoadOrBuildRebuildsOnlyWhenTheContentKeyOrOptionsChange) {
  LoadInfo info;
  VectorIndex a = VectorIndex::load_or_build(path, 1, provider, {}, &info);
  EXPECT_TRUE(info.rebuilt);
  EXPECT_EQ(info.reason, "missing");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(info.save_error.empty()) << info.save_error;

  VectorIndex b = VectorIndex::load_or_build(path, 1, provider, {}, &info);
  EXPECT_FALSE(info.rebuilt);
  EXPECT_EQ(info.reason, "loaded");
  EXPECT_EQ(calls, 1);  // no call to the store
  const auto q = random_unit(3, 16, 14);
  EXPECT_EQ(a.search(3, q.data(), 5).ids, b.search(3, q.data(), 5).ids);

  // The store changed: one more track. The stored index is updated, not rebuilt.
  data.ids.push_back(99999);
  data.data.insert(data.data.end(), q.begin(), q.begin() + 16);
  VectorIndex c = VectorIndex::load_or_build(path, 2, provider, {}, &info);
  EXPECT_FALSE(info.rebuilt);
  EXPECT_TRUE(info.updated);
  EXPECT_EQ(info.added, 1);
  EXPECT_EQ(info.removed, 0);
  EXPECT_EQ(info.reason.rfind("updated", 0), 0u) << info.reason;
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(c.size(), 1501);
  EXPECT_EQ(c.search(1, q.data(), 1).ids[0], 99999);
  IndexHeader h;
  ASSERT_TRUE(VectorIndex::read_header(path, &h));
  EXPECT_EQ(h.content_key, 2);

  // Different build options (kind) rebuild; search-time parameters are per call, not options.
  VectorIndexOptions ivf;
  ivf.kind = IndexKind::Ivf;
  VectorIndex::load_or_build(path, 2, provider, ivf, &info);
  EXPECT_TRUE(info.rebuilt);
  EXPECT_NE(info.reason.find("options changed"), std::string::npos) << info.reason;
  VectorIndex d = VectorIndex::load_or_build(path, 2, provider, ivf, &info);
  EXPECT_FALSE(info.rebuilt);
  EXPECT_EQ(d.kind(), IndexKind::Ivf);
  EXPECT_EQ(calls, 3);
}

// A library that changed: some vectors gone, some re-embedded under the same id, some new.
Embeddings changed(const Embeddings& base, uint32_t seed) {
  Embeddings e;
  e.dim = base.dim;
  const auto fresh = random_unit(base.size(), base.dim, seed), extra = random_unit(base.size(), base.dim, seed + 1000);
  for (int64_t i = 0; i < base.size(); ++i) {
    if (i % 7 == 0) continue;  // removed
    e.ids.push_back(base.ids[i]);
    const float* v = i % 11 == 0 ? fresh.data() + i * base.dim : base.row(i);  // re-embedded
    e.data.insert(e.data.end(), v, v + base.dim);
  }
  for (int64_t i = 0; i < base.size() / 3; ++i) {  // new
    e.ids.push_back(1000000 + i * 3);
    e.data.insert(e.data.end(), extra.data() + i * base.dim, extra.data() + (i + 1) * base.dim);
  }
  return e;
}

TEST(VectorIndexUpdate, AnUpdatedExactIndexAnswersExactlyLikeAFreshBuild) {
  const Embeddings a = random_embeddings(3000, 24, 5);
  const Embeddings b = changed(a, 6);
  VectorIndex updated = VectorIndex::build(a);
  LoadInfo info;
  ASSERT_TRUE(updated.update(b, {}, &info));
  EXPECT_EQ(updated.size(), b.size());
  EXPECT_GT(info.added, 1000);
  EXPECT_GT(info.removed, 400);
  const VectorIndex fresh = VectorIndex::build(b);
  const auto q = random_unit(20, 24, 7);
  const SearchResult x = updated.search(20, q.data(), 15), y = fresh.search(20, q.data(), 15);
  EXPECT_EQ(x.ids, y.ids);
  EXPECT_EQ(x.scores, y.scores);
  // Nothing changed: nothing to do, same answers.
  ASSERT_TRUE(updated.update(b, {}, &info));
  EXPECT_EQ(info.added, 0);
  EXPECT_EQ(info.removed, 0);
}

TEST(VectorIndexUpdate, AnIvfIndexKeepsItsCentroidsUntilTheLibraryGrowsSeveralFold) {
  VectorIndexOptions o;
  o.kind = IndexKind::Ivf;
  const Embeddings a = random_embeddings(4000, 16, 21);
  Embeddings b = changed(a, 9);
  VectorIndex idx = VectorIndex::build(a, o);
  ASSERT_TRUE(idx.update(b, o));
  EXPECT_EQ(idx.size(), b.size());
  // Every vector is in the index: found first when searched for itself, all lists probed.
  SearchParams all;
  all.nprobe = 1 << 20;
  const SearchResult r = idx.search(b.size(), b.data.data(), 1, all);
  for (int64_t i = 0; i < b.size(); ++i) ASSERT_EQ(r.ids[i], b.ids[i]) << i;
  // Grown past 4x the training size: a rebuild is called for, and the index is left alone.
  Embeddings big = synthetic(4000 * 5, 16);
  EXPECT_FALSE(idx.update(big, o));
  EXPECT_EQ(idx.size(), b.size());
  // A change of kind (exact above the threshold) is a rebuild too.
  VectorIndex exact = VectorIndex::build(a);
  VectorIndexOptions small;
  small.approximate_threshold = 100;
  EXPECT_FALSE(exact.update(b, small));
}

TEST_F(VectorIndexFile, ABitFlippedOrTruncatedIndexIsNeverTrusted) {
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf}) {
    VectorIndexOptions o;
    o.kind = kind;
    LoadInfo info;
    const VectorIndex fresh = VectorIndex::load_or_build(path, 5, provider, o, &info);
    const auto size = std::filesystem::file_size(path);
    {  // one bit flipped in the middle of the vectors
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(size / 2));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x10);
      f.seekp(static_cast<std::streamoff>(size / 2));
      f.write(&c, 1);
    }
    EXPECT_THROW(VectorIndex::load(path), Error);
    const VectorIndex again = VectorIndex::load_or_build(path, 5, provider, o, &info);
    EXPECT_TRUE(info.rebuilt) << index_kind_name(kind);
    EXPECT_NE(info.reason.find("checksum mismatch"), std::string::npos) << info.reason;
    const auto q = random_unit(4, 16, 31);
    EXPECT_EQ(again.search(4, q.data(), 5).ids, fresh.search(4, q.data(), 5).ids);
    std::filesystem::resize_file(path, size - 100);  // truncated
    VectorIndex::load_or_build(path, 5, provider, o, &info);
    EXPECT_TRUE(info.rebuilt);
    EXPECT_NE(info.reason.find("unreadable"), std::string::npos) << info.reason;
    std::filesystem::remove(path);
  }
}

TEST_F(VectorIndexFile, CorruptOrForeignFilesAreRebuilt) {
  { std::ofstream(path) << "not an index"; }
  LoadInfo info;
  VectorIndex::load_or_build(path, 7, provider, {}, &info);
  EXPECT_TRUE(info.rebuilt);
  EXPECT_NE(info.reason.find("unreadable"), std::string::npos) << info.reason;
  EXPECT_THROW(VectorIndex::load(path + ".none"), Error);

  // Valid header, truncated payload.
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  VectorIndex::load_or_build(path, 7, provider, {}, &info);
  EXPECT_TRUE(info.rebuilt);
  EXPECT_NE(info.reason.find("unreadable"), std::string::npos) << info.reason;
  EXPECT_EQ(calls, 2);
}

// The header's numbers must be JSON integers in range: "dim": 1e30 was cast to int with
// undefined behaviour (the pattern fuzz_config found in config.json; confirmed with
// fuzz_vector_index). Such a file is unreadable and rebuilt.
TEST_F(VectorIndexFile, HeaderNumbersOutOfRangeAreUnreadable) {
  VectorIndex::load_or_build(path, 7, provider);
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint32_t len = 0;  // magic (8), format (4), header length (4), header, payload
  std::memcpy(&len, bytes.data() + 12, 4);
  const std::string payload = bytes.substr(16 + len);
  std::string header = bytes.substr(16, len);
  const size_t at = header.find("\"dim\":16");
  ASSERT_NE(at, std::string::npos) << header;
  header.replace(at, 8, "\"dim\":1e30");
  len = static_cast<uint32_t>(header.size());
  const std::string damaged = bytes.substr(0, 12) + std::string(reinterpret_cast<const char*>(&len), 4) + header + payload;
  { std::ofstream(path, std::ios::binary) << damaged; }
  IndexHeader h;
  EXPECT_FALSE(VectorIndex::read_header(path, &h));
  EXPECT_THROW(VectorIndex::load(path), Error);
  LoadInfo info;
  VectorIndex::load_or_build(path, 7, provider, {}, &info);
  EXPECT_TRUE(info.rebuilt);
  EXPECT_EQ(info.reason, "unreadable: invalid header");
}

TEST_F(VectorIndexFile, AnUnwritableLocationStillGivesAnIndex) {
  LoadInfo info;
  const VectorIndex idx = VectorIndex::load_or_build("/nonexistent-dir/x.vidx", 1, provider, {}, &info);
  EXPECT_TRUE(info.rebuilt);
  EXPECT_FALSE(info.save_error.empty());
  EXPECT_EQ(idx.size(), 1500);
}

}  // namespace
}  // namespace clap::search

namespace clap::search {
namespace {

// --- one copy of every vector (issue 10) ---------------------------------------------------

// A matrix shared the way the window catalog shares its embeddings: the index gets rows of it
// (not all, not in id order) and must read them in place.
struct SharedRows {
  std::shared_ptr<std::vector<float>> data;
  VectorSource source;
  Embeddings copy;  // the same vectors as an Embeddings matrix (what a copying index gets)
};

SharedRows shared_rows(int64_t rows, int dim, uint32_t seed) {
  SharedRows s;
  s.data = std::make_shared<std::vector<float>>(test::random_unit(rows, dim, seed));
  s.source.matrix = std::shared_ptr<const float>(s.data, s.data->data());
  s.source.matrix_rows = rows;
  s.source.dim = dim;
  s.copy.dim = dim;
  for (int64_t r = rows - 1; r >= 0; --r) {  // descending rows, every 5th row left out
    if (r % 5 == 3) continue;
    const int64_t id = (r * 7919) % 100003 + 11;
    s.source.ids.push_back(id);
    s.source.rows.push_back(r);
    s.copy.ids.push_back(id);
    s.copy.data.insert(s.copy.data.end(), s.data->data() + r * dim, s.data->data() + (r + 1) * dim);
  }
  return s;
}

void expect_same_answers(const VectorIndex& a, const VectorIndex& b, int dim, const std::string& what) {
  const auto q = test::random_unit(25, dim, 77);
  for (int nprobe : {1, 4, 1 << 20}) {
    SearchParams p;
    p.nprobe = nprobe;
    const SearchResult x = a.search(25, q.data(), 12, p), y = b.search(25, q.data(), 12, p);
    EXPECT_EQ(x.ids, y.ids) << what << " nprobe " << nprobe;
    EXPECT_EQ(x.scores, y.scores) << what << " nprobe " << nprobe;
  }
}

TEST(VectorIndexMemory, ExactAndIvfOverASharedMatrixHoldNoCopyAndAnswerLikeACopy) {
  const int dim = 64;
  const SharedRows s = shared_rows(6000, dim, 3);
  const int64_t n = s.source.size();
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf}) {
    VectorIndexOptions o;
    o.kind = kind;
    const VectorIndex shared = VectorIndex::build(s.source, o);
    const VectorIndex owning = VectorIndex::build(s.copy, o);
    EXPECT_FALSE(shared.owns_vectors());
    EXPECT_TRUE(owning.owns_vectors());
    // A second copy of the vectors would be n·dim·4 bytes: the index holds ids, rows and lists.
    const int64_t copy_bytes = n * dim * 4;
    EXPECT_LT(shared.memory_bytes(), copy_bytes / 5) << index_kind_name(kind) << ": " << shared.memory_bytes();
    EXPECT_GE(owning.memory_bytes(), copy_bytes) << index_kind_name(kind);
    expect_same_answers(shared, owning, dim, index_kind_name(kind));
  }
  // HNSW keeps FAISS's copy, and says so.
  VectorIndexOptions h;
  h.kind = IndexKind::Hnsw;
  EXPECT_GE(VectorIndex::build(s.source, h).memory_bytes(), n * dim * 4);
}

TEST(VectorIndexMemory, TheIndexKeepsItsMatrixAlive) {
  SharedRows s = shared_rows(500, 16, 4);
  const VectorIndex copy = VectorIndex::build(s.copy);
  VectorIndex index = VectorIndex::build(s.source);
  const std::weak_ptr<std::vector<float>> watch = s.data;
  s.data.reset();
  s.source = {};
  EXPECT_FALSE(watch.expired());  // the index shares the matrix...
  expect_same_answers(index, copy, 16, "after the owner let go");
  index = VectorIndex();
  EXPECT_TRUE(watch.expired());  // ...and only the index did
}

// The IVF index is FAISS's IndexIVFFlat as it was filled before (same centroids, every vector
// in the same list): what makes IVF results identical to the FAISS-held index of format 2.
TEST(VectorIndexMemory, IvfCentroidsAndListsAreFaisssOwn) {
  const int dim = 32;
  const SharedRows s = shared_rows(9000, dim, 5);
  VectorIndexOptions o;
  o.kind = IndexKind::Ivf;
  const VectorIndex index = VectorIndex::build(s.source, o);
  // The reference: FAISS trained and filled with the vectors in id order, as format 2 did.
  Embeddings sorted = s.copy;
  std::vector<int64_t> order(sorted.ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s.copy.ids[a] < s.copy.ids[b]; });
  for (size_t i = 0; i < order.size(); ++i) {
    sorted.ids[i] = s.copy.ids[order[i]];
    std::copy_n(s.copy.row(order[i]), dim, sorted.data.begin() + static_cast<int64_t>(i) * dim);
  }
  const int nlist = resolve_nlist(o.ivf, sorted.size());
  faiss::IndexFlatIP quantizer(dim);
  faiss::IndexIVFFlat ivf(&quantizer, dim, nlist, faiss::METRIC_INNER_PRODUCT);
  ivf.cp.seed = static_cast<int>(o.seed);
  ivf.cp.niter = o.ivf.niter;
  ivf.cp.max_points_per_centroid = o.ivf.train_points_per_list;
  ivf.cp.min_points_per_centroid = 1;
  ivf.cp.spherical = true;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  ivf.train(sorted.size(), sorted.data.data());
  ivf.add_with_ids(sorted.size(), sorted.data.data(), sorted.ids.data());
  omp_set_num_threads(threads);
  ASSERT_EQ(index.nlist(), nlist);
  ASSERT_EQ(index.centroids().size(), static_cast<size_t>(nlist) * dim);
  EXPECT_EQ(0, std::memcmp(index.centroids().data(), quantizer.get_xb(), index.centroids().size() * sizeof(float)));
  int64_t checked = 0;
  for (int l = 0; l < nlist; ++l) {
    const size_t len = ivf.invlists->list_size(l);
    const auto* ids = ivf.invlists->get_ids(l);
    for (size_t i = 0; i < len; ++i, ++checked) ASSERT_EQ(index.list_of(ids[i]), l) << ids[i];
  }
  EXPECT_EQ(checked, sorted.size());
}

class VectorIndexSharedFile : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::remove(path); }
  std::string path = clap::test::temp_dir() + "/shared.vidx";
};

TEST_F(VectorIndexSharedFile, LoadedOverItsMatrixItAnswersLikeAFreshBuildAndHoldsNoCopy) {
  const int dim = 48;
  const SharedRows s = shared_rows(5000, dim, 8);
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf, IndexKind::Hnsw}) {
    VectorIndexOptions o;
    o.kind = kind;
    const VectorIndex built = VectorIndex::build(s.source, o);
    built.save(path, 9);
    const VectorIndex loaded = VectorIndex::load(path, s.source);
    const VectorIndex alone = VectorIndex::load(path);  // the file is complete by itself
    EXPECT_EQ(loaded.build_key(), built.build_key());
    if (kind != IndexKind::Hnsw) {
      EXPECT_FALSE(loaded.owns_vectors());
      EXPECT_LT(loaded.memory_bytes(), s.source.size() * dim * 4 / 5);
      EXPECT_TRUE(alone.owns_vectors());
    }
    expect_same_answers(loaded, built, dim, index_kind_name(kind));
    expect_same_answers(alone, built, dim, std::string(index_kind_name(kind)) + " alone");
    LoadInfo info;
    const VectorIndex again = VectorIndex::load_or_build(path, 9, s.source, o, &info);
    EXPECT_EQ(info.reason, "loaded");
    expect_same_answers(again, built, dim, index_kind_name(kind));
  }
}

TEST_F(VectorIndexSharedFile, AFileThatDisagreesWithItsMatrixIsNeverSearched) {
  const int dim = 16;
  SharedRows s = shared_rows(3000, dim, 12);
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf}) {
    VectorIndexOptions o;
    o.kind = kind;
    std::filesystem::remove(path);
    LoadInfo info;
    VectorIndex::load_or_build(path, 1, s.source, o, &info);
    ASSERT_TRUE(info.rebuilt);
    // The matrix changed behind an unchanged content key (a key collision, or a fingerprint
    // that only looks at part of each vector): one value of one vector.
    SharedRows changed = shared_rows(3000, dim, 12);
    (*changed.data)[changed.source.rows[17] * dim + dim - 1] += 0.25f;
    changed.copy.data[17 * dim + dim - 1] += 0.25f;
    EXPECT_THROW(VectorIndex::load(path, changed.source), Error);
    const VectorIndex idx = VectorIndex::load_or_build(path, 1, changed.source, o, &info);
    EXPECT_TRUE(info.rebuilt) << info.reason;
    EXPECT_NE(info.reason.find("does not match"), std::string::npos) << info.reason;
    expect_same_answers(idx, VectorIndex::build(changed.copy, o), dim, index_kind_name(kind));
    // An id the matrix does not have.
    SharedRows fewer = shared_rows(3000, dim, 12);
    fewer.source.ids.pop_back();
    fewer.source.rows.pop_back();
    idx.save(path, 1);
    EXPECT_THROW(VectorIndex::load(path, fewer.source), Error);
  }
}

TEST_F(VectorIndexSharedFile, AStaleFileIsUpdatedToTheNewMatrixLikeInMemory) {
  const int dim = 24;
  const SharedRows a = shared_rows(4000, dim, 21);
  // The library changed: some vectors gone, some re-embedded, some new.
  const Embeddings b = changed(a.copy, 22);
  const VectorSource bs = VectorSource::owning(Embeddings(b));
  for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf}) {
    VectorIndexOptions o;
    o.kind = kind;
    VectorIndex in_memory = VectorIndex::build(a.source, o);
    LoadInfo mem_info;
    ASSERT_TRUE(in_memory.update(bs, o, &mem_info));
    VectorIndex::build(a.source, o).save(path, 1);
    LoadInfo info;
    const VectorIndex from_file = VectorIndex::load_or_build(path, 2, bs, o, &info);
    EXPECT_TRUE(info.updated) << info.reason;
    EXPECT_FALSE(info.rebuilt);
    EXPECT_EQ(info.added, mem_info.added);
    EXPECT_EQ(info.removed, mem_info.removed);
    EXPECT_GT(info.added, 1000);
    EXPECT_GT(info.removed, 400);
    expect_same_answers(from_file, in_memory, dim, index_kind_name(kind));
    if (kind == IndexKind::Exact) expect_same_answers(from_file, VectorIndex::build(b), dim, "fresh");
    // The update was saved: it loads over the new matrix as it is.
    const VectorIndex reloaded = VectorIndex::load_or_build(path, 2, bs, o, &info);
    EXPECT_EQ(info.reason, "loaded");
    expect_same_answers(reloaded, in_memory, dim, index_kind_name(kind));
    std::filesystem::remove(path);
  }
}

}  // namespace
}  // namespace clap::search
