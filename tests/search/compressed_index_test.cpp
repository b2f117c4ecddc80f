// CompressedIndex: IVF-PQ shortlist + exact re-rank from fetched vectors. Exact scores, recall
// against brute force on clustered data, reproducible builds (any thread count), persistence,
// and clear errors for misuse and damaged files.
#include "search/compressed_index.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <set>
#include <unordered_map>

#include <faiss/impl/ProductQuantizer.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/vector_math.h"
#include "bench/vector_bench.h"
#include "search/topk.h"
#include "support/golden.h"

namespace clap::search {
namespace {

constexpr int kDim = 64;

Embeddings library(int64_t n, int64_t first_id = 1) {
  SyntheticData d;
  d.clusters = 30;
  d.windows_per_track = 10;
  Embeddings e;
  e.dim = kDim;
  e.data = synthetic_embeddings(n, kDim, d, 0);
  e.ids.resize(static_cast<size_t>(n));
  std::iota(e.ids.begin(), e.ids.end(), first_id);
  return e;
}

std::vector<float> queries(int64_t n) {
  SyntheticData d;
  d.clusters = 30;
  d.windows_per_track = 10;
  return synthetic_embeddings(n, kDim, d, 1);
}

CompressedIndexOptions small_options() {
  CompressedIndexOptions o;
  o.nlist = 16;
  o.code_bytes = 16;
  return o;
}

CompressedIndex built(const Embeddings& all, int64_t batch = 1000, const CompressedIndexOptions& options = small_options()) {
  CompressedIndex index = CompressedIndex::train(all, all.size(), options);
  for (int64_t at = 0; at < all.size(); at += batch) {
    Embeddings part;
    part.dim = all.dim;
    const int64_t end = std::min(all.size(), at + batch);
    part.ids.assign(all.ids.begin() + at, all.ids.begin() + end);
    part.data.assign(all.data.begin() + at * all.dim, all.data.begin() + end * all.dim);
    index.add(part);
  }
  return index;
}

// The store's role: the float32 vectors of the ids asked for.
VectorFetch fetch_from(const Embeddings& all, int64_t* calls = nullptr) {
  return [&all, calls](const std::vector<int64_t>& ids) {
    if (calls) ++*calls;
    Embeddings out;
    out.dim = all.dim;
    std::vector<int64_t> sorted(ids);
    std::sort(sorted.begin(), sorted.end());
    for (int64_t id : sorted) {
      const int64_t i = id - all.ids.front();
      if (i < 0 || i >= all.size()) continue;
      out.ids.push_back(id);
      out.data.insert(out.data.end(), all.row(i), all.row(i) + all.dim);
    }
    return out;
  };
}

// Brute force: the k best of `all` for query row i of `q`.
std::vector<Hit> exact_top_k(const Embeddings& all, const std::vector<float>& q, int64_t i, int64_t k) {
  std::vector<float> s(static_cast<size_t>(all.size()));
  for (int64_t j = 0; j < all.size(); ++j) s[j] = clap::dot(q.data() + i * kDim, all.row(j), kDim);
  return top_k(s.data(), all.ids.data(), all.size(), k);
}

// recall@k of `got` (nq rows of k ids) against brute force over `all`.
double recall_of(const Embeddings& all, const std::vector<float>& q, int64_t nq, int64_t k,
                 const std::vector<int64_t>& got) {
  double hits = 0;
  for (int64_t i = 0; i < nq; ++i) {
    std::set<int64_t> want;
    for (const Hit& h : exact_top_k(all, q, i, k)) want.insert(h.id);
    for (int64_t j = 0; j < k; ++j) hits += want.count(got[static_cast<size_t>(i * k + j)]);
  }
  return hits / static_cast<double>(nq * k);
}

std::vector<char> bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(CompressedIndex, ReRankedScoresAreExactAndRecallIsHighWhenEveryListIsProbed) {
  const Embeddings all = library(6000);
  const CompressedIndex index = built(all);
  EXPECT_EQ(index.size(), 6000);
  EXPECT_EQ(index.nlist(), 16);
  EXPECT_EQ(index.code_bytes(), 16);
  // Codes, ids, centroids and codebooks: far below the float32 vectors (6000 × 256 bytes).
  EXPECT_LT(index.memory_bytes(), 6000 * kDim * 4 / 4);

  const int64_t nq = 40, k = 10;
  const std::vector<float> q = queries(nq);
  CompressedSearchParams p;
  p.nprobe = 16;
  p.shortlist = 100;
  int64_t fetches = 0;
  const SearchResult r = index.search(nq, q.data(), k, p, fetch_from(all, &fetches));
  EXPECT_EQ(fetches, nq);  // one read of the store per query
  double hits = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const std::vector<Hit> exact = exact_top_k(all, q, i, k);
    std::set<int64_t> want;
    for (const Hit& h : exact) want.insert(h.id);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t id = r.ids_row(i)[j];
      ASSERT_GE(id, 1);
      hits += want.count(id);
      // The reported score is the exact one of that vector, bit for bit.
      EXPECT_EQ(r.scores_row(i)[j], clap::dot(q.data() + i * kDim, all.row(id - 1), kDim));
      if (j > 0) {
        const float prev = r.scores_row(i)[j - 1], cur = r.scores_row(i)[j];
        EXPECT_TRUE(prev > cur || (prev == cur && r.ids_row(i)[j - 1] < id));
      }
    }
  }
  const double recall = hits / static_cast<double>(nq * k);
  EXPECT_GE(recall, 0.95) << "recall@10 with every list probed and a shortlist of 100";
}

TEST(CompressedIndex, RotatedCodesSaveLoadAndRankAsWell) {
  const Embeddings all = library(2000);
  CompressedIndexOptions o = small_options();
  o.opq = true;
  CompressedIndex index = CompressedIndex::train(all, all.size(), o);
  index.add(all);
  EXPECT_NE(index.build_key().find("opq+"), std::string::npos);
  EXPECT_EQ(index.nlist(), 16);
  const std::string path = test::temp_dir() + "/opq.idx";
  index.save(path, 3);
  const CompressedIndex back = CompressedIndex::load(path);
  const int64_t nq = 20, k = 10;
  const std::vector<float> q = queries(nq);
  CompressedSearchParams p;
  p.nprobe = 16;
  p.shortlist = 100;
  const SearchResult a = index.search(nq, q.data(), k, p, fetch_from(all));
  const SearchResult b = back.search(nq, q.data(), k, p, fetch_from(all));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_GE(recall_of(all, q, nq, k, a.ids), 0.95);
}

// With every list probed and every vector shortlisted, the answer is exact search's, ids and
// scores (the emulated CPUs run the same check smaller: faiss_small_test.cpp).
TEST(CompressedIndex, EveryListProbedAndShortlistedGivesExactSearch) {
  const Embeddings all = library(640);
  CompressedIndexOptions o;
  o.nlist = 4;
  o.code_bytes = 8;
  const CompressedIndex index = built(all, 200, o);
  ASSERT_EQ(index.size(), 640);
  const int64_t nq = 4, k = 10;
  const std::vector<float> q = queries(nq);
  CompressedSearchParams p;
  p.nprobe = 4;
  p.shortlist = 640;
  const SearchResult r = index.search(nq, q.data(), k, p, fetch_from(all));
  for (int64_t i = 0; i < nq; ++i) {
    const std::vector<Hit> exact = exact_top_k(all, q, i, k);
    for (int64_t j = 0; j < k; ++j) {
      EXPECT_EQ(r.ids_row(i)[j], exact[static_cast<size_t>(j)].id) << "query " << i << ", rank " << j;
      EXPECT_EQ(r.scores_row(i)[j], exact[static_cast<size_t>(j)].score) << "query " << i << ", rank " << j;
    }
  }
}

TEST(CompressedIndex, KLargerThanTheIndexAndVectorsTheStoreNoLongerHas) {
  const Embeddings all = library(3000);
  const CompressedIndex index = built(all);
  const std::vector<float> q = queries(1);
  CompressedSearchParams p;
  p.nprobe = 16;
  // The store lost every vector (the library changed under the index): empty rows, no crash.
  const SearchResult none = index.search(1, q.data(), 5, p, [](const std::vector<int64_t>&) {
    Embeddings e;
    e.dim = kDim;
    return e;
  });
  for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(none.ids[j], -1);
  // The shortlist grows to k: asking for more than it holds still returns k.
  p.shortlist = 3;
  const SearchResult r = index.search(1, q.data(), 20, p, fetch_from(all));
  EXPECT_GE(r.ids[19], 1);
  // Fetched vectors of another dimension are refused, not misread.
  EXPECT_THROW(index.search(1, q.data(), 5, p,
                            [](const std::vector<int64_t>& ids) {
                              Embeddings e;
                              e.dim = kDim / 2;
                              e.ids = {ids.front()};
                              e.data.assign(kDim / 2, 0.1f);
                              return e;
                            }),
               Error);
}

TEST(CompressedIndex, BuildIsReproducibleOnAnyThreadCountAndBatching) {
  const Embeddings all = library(4000);
  const std::string dir = test::temp_dir();
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  built(all, 4000).save(dir + "/one.idx", 7);
  omp_set_num_threads(2);
  built(all, 333).save(dir + "/two.idx", 7);
  omp_set_num_threads(saved);
  const std::vector<char> a = bytes_of(dir + "/one.idx"), b = bytes_of(dir + "/two.idx");
  ASSERT_GT(a.size(), 4000u * 16);
  EXPECT_TRUE(a == b) << "the same vectors gave different index files";
}

TEST(CompressedIndex, SavedIndexLoadsAndAnswersTheSame) {
  const Embeddings all = library(3000);
  const CompressedIndex index = built(all);
  const std::string path = test::temp_dir() + "/c.idx";
  index.save(path, 42);
  IndexHeader h;
  const CompressedIndex back = CompressedIndex::load(path, &h);
  EXPECT_EQ(h.content_key, 42);
  EXPECT_EQ(h.n, 3000);
  EXPECT_EQ(h.dim, kDim);
  EXPECT_EQ(back.build_key(), index.build_key());
  EXPECT_EQ(back.memory_bytes(), index.memory_bytes());
  const std::vector<float> q = queries(10);
  CompressedSearchParams p;
  const SearchResult x = index.search(10, q.data(), 10, p, fetch_from(all));
  const SearchResult y = back.search(10, q.data(), 10, p, fetch_from(all));
  EXPECT_EQ(x.ids, y.ids);
  EXPECT_EQ(x.scores, y.scores);
  // A loaded index goes on growing, after the last id it held.
  CompressedIndex grown = CompressedIndex::load(path);
  Embeddings more = library(10, 5000);
  grown.add(more);
  EXPECT_EQ(grown.size(), 3010);
  more.ids = {3000};
  more.data.resize(kDim);
  EXPECT_THROW(grown.add(more), Error);
}

TEST(CompressedIndex, DamagedOrForeignFilesAreRefusedWithTheirName) {
  const Embeddings all = library(3000);
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/c.idx";
  built(all).save(path, 1);
  const std::vector<char> good = bytes_of(path);
  auto write = [&](const std::string& p, const std::vector<char>& b) {
    std::ofstream(p, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  auto message = [](const std::string& p) -> std::string {
    try {
      CompressedIndex::load(p);
    } catch (const Error& e) {
      return e.what();
    }
    return "loaded";
  };
  std::vector<char> flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  write(dir + "/flipped.idx", flipped);
  EXPECT_NE(message(dir + "/flipped.idx").find("flipped.idx is damaged: checksum mismatch"), std::string::npos)
      << message(dir + "/flipped.idx");
  write(dir + "/short.idx", std::vector<char>(good.begin(), good.begin() + static_cast<ptrdiff_t>(good.size() - 100)));
  EXPECT_NE(message(dir + "/short.idx").find("short.idx is damaged"), std::string::npos);
  write(dir + "/text.idx", {'h', 'e', 'l', 'l', 'o'});
  EXPECT_NE(message(dir + "/text.idx").find("text.idx is not a clapsearch compressed index"), std::string::npos);
  EXPECT_NE(message(dir + "/missing.idx").find("cannot open compressed index"), std::string::npos);
}

TEST(CompressedIndex, MisuseIsRefusedWithAReason) {
  const Embeddings all = library(2000);
  CompressedIndexOptions o = small_options();
  o.code_bytes = 7;  // does not divide 64
  EXPECT_THROW(CompressedIndex::train(all, all.size(), o), Error);
  Embeddings few = library(100);
  try {
    CompressedIndex::train(few, 1000000, small_options());
    FAIL() << "trained 16 lists on 100 vectors";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("too few"), std::string::npos) << e.what();
  }
  CompressedIndex index = CompressedIndex::train(all, all.size(), small_options());
  Embeddings backwards = library(2, 10);
  std::swap(backwards.ids[0], backwards.ids[1]);
  EXPECT_THROW(index.add(backwards), Error);
  // The refused batch left nothing behind: ids from 10 on are still welcome.
  index.add(library(2, 10));
  EXPECT_EQ(index.size(), 2);
  Embeddings other;
  other.dim = 32;
  other.ids = {1};
  other.data.assign(32, 0.1f);
  EXPECT_THROW(index.add(other), Error);
  CompressedIndex empty;
  EXPECT_THROW(empty.add(all), Error);
  EXPECT_TRUE(empty.shortlist(all.row(0), {}).empty());
}

TEST(CompressedIndex, ListCountAndSampleFollowTheLibrarySize) {
  CompressedIndexOptions o;
  EXPECT_EQ(resolve_compressed_nlist(o, 20000000), 4096);
  EXPECT_EQ(resolve_compressed_nlist(o, 5000000), 2048);
  EXPECT_EQ(resolve_compressed_nlist(o, 1000000), 1024);
  EXPECT_EQ(resolve_compressed_nlist(o, 1000), 16);
  EXPECT_EQ(resolve_compressed_nlist(o, 100), 2);  // 39 training points per list
  o.nlist = 100;
  EXPECT_EQ(resolve_compressed_nlist(o, 20000000), 100);
  EXPECT_EQ(compressed_train_size(CompressedIndexOptions{}, 20000000), 4096 * 64);
  EXPECT_EQ(compressed_train_size(CompressedIndexOptions{}, 100000), 65536);
  EXPECT_EQ(compressed_train_size(CompressedIndexOptions{}, 1000), 1000);

  std::vector<int64_t> ids(1000);
  std::iota(ids.begin(), ids.end(), 5);
  const std::vector<int64_t> s = spread_sample(ids, 10);
  EXPECT_EQ(s, (std::vector<int64_t>{5, 105, 205, 305, 405, 505, 605, 705, 805, 905}));
  EXPECT_EQ(spread_sample(ids, 5000), ids);
  EXPECT_TRUE(spread_sample(ids, 0).empty());
}


// --- the second code ---------------------------------------------------------------------------

CompressedIndexOptions coarse_then_fine() {
  CompressedIndexOptions o = small_options();
  o.code_bytes = 4;     // a first code that ranks poorly (16 dimensions per byte)
  o.refine_bytes = 32;  // a second one that nearly restores the vector (2 per byte)
  return o;
}


TEST(CompressedIndexSecondCode, RanksTheFirstCodesCandidatesNearlyAsTheExactVectorsDo) {
  const Embeddings all = library(6000);
  const CompressedIndex fine = built(all, 1000, coarse_then_fine());
  EXPECT_EQ(fine.code_bytes(), 4);
  EXPECT_EQ(fine.refine_bytes(), 32);
  EXPECT_NE(fine.build_key().find("refine=32x8"), std::string::npos) << fine.build_key();
  // The second codes are held: 32 more bytes per vector than the same index without them.
  CompressedIndexOptions first_only = coarse_then_fine();
  first_only.refine_bytes = 0;
  const CompressedIndex coarse = built(all, 1000, first_only);
  EXPECT_GE(fine.memory_bytes() - coarse.memory_bytes(), 6000 * 32);

  const int64_t nq = 40, k = 10;
  const std::vector<float> q = queries(nq);
  CompressedSearchParams p;
  p.nprobe = 16;
  p.shortlist = 10;  // the exact re-rank sees only the 10 best candidates
  p.refine = 1000;
  const SearchResult refined = fine.search(nq, q.data(), k, p, fetch_from(all));
  p.refine = 0;      // the first codes alone
  const SearchResult unrefined = fine.search(nq, q.data(), k, p, fetch_from(all));
  const SearchResult without = coarse.search(nq, q.data(), k, p, fetch_from(all));
  const double r_refined = recall_of(all, q, nq, k, refined.ids), r_first = recall_of(all, q, nq, k, unrefined.ids);
  EXPECT_GE(r_refined, 0.9) << "a 32-byte second code over 64 dimensions nearly restores the vectors";
  EXPECT_LT(r_first, 0.7) << "4-byte codes alone should rank the candidates poorly (or the test shows nothing)";
  // refine 0 is the first codes exactly as an index without a second code answers.
  EXPECT_EQ(unrefined.ids, without.ids);
  EXPECT_EQ(unrefined.scores, without.scores);
  // The scores stay the exact cosines, whatever ranked the candidates.
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t j = 0; j < k; ++j)
      EXPECT_EQ(refined.scores_row(i)[j], clap::dot(q.data() + i * kDim, all.row(refined.ids_row(i)[j] - 1), kDim));
  // The shortlist itself: `shortlist` ids, each once, all of them known.
  p.refine = 500;
  p.shortlist = 50;
  const std::vector<int64_t> s = fine.shortlist(q.data(), p);
  EXPECT_EQ(s.size(), 50u);
  EXPECT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), 50u);
  for (int64_t id : s) EXPECT_TRUE(id >= 1 && id <= 6000) << id;
}

TEST(CompressedIndexSecondCode, SavedLoadedAndReproducibleOnAnyThreadCount) {
  const Embeddings all = library(4000);
  const std::string dir = test::temp_dir();
  CompressedIndexOptions o = small_options();
  o.refine_bytes = 16;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const CompressedIndex one = built(all, 4000, o);
  one.save(dir + "/one.idx", 7);
  omp_set_num_threads(2);
  built(all, 333, o).save(dir + "/two.idx", 7);
  omp_set_num_threads(saved);
  const std::vector<char> a = bytes_of(dir + "/one.idx"), b = bytes_of(dir + "/two.idx");
  ASSERT_GT(a.size(), 4000u * (16 + 16));
  EXPECT_TRUE(a == b) << "the same vectors gave different index files";

  const CompressedIndex back = CompressedIndex::load(dir + "/one.idx");
  EXPECT_EQ(back.refine_bytes(), 16);
  EXPECT_EQ(back.memory_bytes(), one.memory_bytes());
  EXPECT_EQ(back.build_key(), one.build_key());
  const std::vector<float> q = queries(10);
  CompressedSearchParams p;
  p.shortlist = 20;
  p.refine = 300;
  EXPECT_EQ(one.search(10, q.data(), 10, p, fetch_from(all)).ids, back.search(10, q.data(), 10, p, fetch_from(all)).ids);

  // The second codes are inside the checksum: a flipped byte among them (the payload's end) is caught.
  std::vector<char> flipped = a;
  flipped[flipped.size() - 8 - 100] ^= 0x01;
  std::ofstream(dir + "/flipped.idx", std::ios::binary).write(flipped.data(), static_cast<std::streamsize>(flipped.size()));
  try {
    CompressedIndex::load(dir + "/flipped.idx");
    FAIL() << "loaded a damaged index";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("flipped.idx is damaged: checksum mismatch"), std::string::npos) << e.what();
  }
}

TEST(CompressedIndexSecondCode, RemovalKeepsBothCodesInStepWithTheLists) {
  // Removing ids from an index leaves exactly the index that never held them: same answers,
  // by both codes (a second code out of step with its list would rank another vector's code).
  const Embeddings all = library(3000);
  CompressedIndexOptions o = small_options();
  o.refine_bytes = 16;
  CompressedIndex changed = built(all, 1000, o);
  std::vector<int64_t> gone;
  for (int64_t id = 1; id <= 3000; id += 7) gone.push_back(id);
  std::reverse(gone.begin(), gone.end());  // any order
  EXPECT_EQ(changed.update(gone, Embeddings{}), static_cast<int64_t>(gone.size()));
  EXPECT_EQ(changed.size(), 3000 - static_cast<int64_t>(gone.size()));
  Embeddings kept;
  kept.dim = kDim;
  for (int64_t i = 0; i < all.size(); ++i)
    if ((all.ids[i] - 1) % 7 != 0) {
      kept.ids.push_back(all.ids[i]);
      kept.data.insert(kept.data.end(), all.row(i), all.row(i) + kDim);
    }
  // Trained on the same sample (all), then only the kept vectors added.
  CompressedIndex fresh = CompressedIndex::train(all, all.size(), o);
  fresh.add(kept);
  EXPECT_EQ(fresh.memory_bytes(), changed.memory_bytes());
  const std::vector<float> q = queries(20);
  for (int refine : {0, 400}) {
    CompressedSearchParams p;
    p.shortlist = 30;
    p.refine = refine;
    for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(changed.shortlist(q.data() + i * kDim, p), fresh.shortlist(q.data() + i * kDim, p));
  }
  // Removed vectors come back (re-embedded tracks): found again, by both codes.
  Embeddings back;
  back.dim = kDim;
  for (int64_t id : {1, 8, 15}) {
    back.ids.push_back(id);
    back.data.insert(back.data.end(), all.row(id - 1), all.row(id - 1) + kDim);
  }
  changed.update({}, back);
  CompressedSearchParams p;
  p.shortlist = 5;
  p.refine = 500;
  p.nprobe = 16;
  const std::vector<int64_t> near = changed.shortlist(all.row(7), p);  // id 8's own vector
  ASSERT_FALSE(near.empty());
  EXPECT_EQ(near.front(), 8);
}

TEST(CompressedIndexSecondCode, AnIndexSavedBeforeSecondCodesStillLoads) {
  // Files of format 1 (no second code, no faiss_bytes) are what earlier versions saved; a node
  // must not rebuild 20 M windows because the format grew.
  const Embeddings all = library(3000);
  const CompressedIndex index = built(all);
  const std::string dir = test::temp_dir();
  index.save(dir + "/new.idx", 5);
  std::vector<char> bytes = bytes_of(dir + "/new.idx");
  uint32_t length = 0;
  std::memcpy(&length, bytes.data() + 8, 4);
  nlohmann::json h = nlohmann::json::parse(std::string(bytes.data() + 12, length));
  ASSERT_EQ(h["format"], 2);
  // The same payload behind another header, written to `name`.
  auto with_header = [&](const nlohmann::json& header, const std::string& name) {
    const std::string text = header.dump();
    const uint32_t new_length = static_cast<uint32_t>(text.size());
    std::vector<char> out(bytes.begin(), bytes.begin() + 8);
    out.insert(out.end(), reinterpret_cast<const char*>(&new_length), reinterpret_cast<const char*>(&new_length) + 4);
    out.insert(out.end(), text.begin(), text.end());
    out.insert(out.end(), bytes.begin() + 12 + length, bytes.end());
    std::ofstream(dir + "/" + name, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
    return dir + "/" + name;
  };
  h["format"] = 1;
  h.erase("faiss_bytes");
  h.erase("refine_bytes");
  IndexHeader header;
  const CompressedIndex back = CompressedIndex::load(with_header(h, "old.idx"), &header);
  EXPECT_EQ(header.format, 1u);
  EXPECT_EQ(back.refine_bytes(), 0);
  const std::vector<float> q = queries(5);
  EXPECT_EQ(back.search(5, q.data(), 10, {}, fetch_from(all)).ids, index.search(5, q.data(), 10, {}, fetch_from(all)).ids);
  // A header whose sizes lie (second codes the payload does not hold) is refused.
  h["refine_bytes"] = 16;
  h["faiss_bytes"] = 10;
  h["format"] = 2;
  EXPECT_THROW(CompressedIndex::load(with_header(h, "lie.idx")), Error);
}

TEST(CompressedIndexSecondCode, SizesThatDoNotDivideTheDimensionAreRefused) {
  const Embeddings all = library(2000);
  CompressedIndexOptions o = small_options();
  o.refine_bytes = 7;
  try {
    CompressedIndex::train(all, all.size(), o);
    FAIL() << "trained a 7-byte second code over 64 dimensions";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second-code bytes do not divide"), std::string::npos) << e.what();
  }
  o.refine_bytes = -1;
  EXPECT_THROW(CompressedIndex::train(all, all.size(), o), Error);
}

TEST(CompressedIndexEncoder, GivesFaissCodesBitForBit) {
  // pq_compute_codes replaces FAISS's encoder in every add: a single differing code would make
  // an index depend on which encoder built it.
  const Embeddings all = library(4000);
  for (size_t m : {size_t{8}, size_t{32}}) {
    faiss::ProductQuantizer pq(kDim, m, 8);
    pq.cp.seed = 5;
    pq.cp.min_points_per_centroid = 1;
    pq.train(2000, all.data.data());
    // Ties: two identical centroids in the first sub-quantiser; the first must win, as in FAISS.
    std::copy(pq.centroids.begin(), pq.centroids.begin() + static_cast<ptrdiff_t>(pq.dsub),
              pq.centroids.begin() + static_cast<ptrdiff_t>(7 * pq.dsub));
    std::vector<float> x = all.data;
    std::copy(pq.centroids.begin(), pq.centroids.begin() + static_cast<ptrdiff_t>(pq.dsub), x.begin());  // on the tie
    std::vector<uint8_t> ours(4000 * pq.code_size), theirs(4000 * pq.code_size);
    pq_compute_codes(pq, 4000, x.data(), ours.data());
    pq.compute_codes(x.data(), theirs.data(), 4000);
    EXPECT_TRUE(ours == theirs) << m << " sub-quantisers";
    EXPECT_EQ(ours[0], 0);
  }
}

}  // namespace
}  // namespace clap::search
