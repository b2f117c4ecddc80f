// FAISS's paths at the smallest sizes that still take them, for an emulated CPU
// (tests/isa/emulated.sh runs this file under qemu -cpu Haswell and qemu64): k-means training
// through OpenBLAS's sgemm (FAISS computes the distances of 20 or more points with BLAS), IVF
// lists, PQ codebooks and IVF-PQ search, on the kernels OpenBLAS and FAISS choose for that CPU.
// qemu 7.2 runs each FMA lane through a helper call, so an emulated test's cost is its arithmetic:
// VectorIndex.IvfAndExactResultsDoNotDependOnTheThreadCount (3,000 vectors of 32 dimensions)
// and CompressedIndex.EveryListProbedAndShortlistedGivesExactSearch (640 of 64, 8 codebooks of
// 256 centroids over 8 dimensions), which the emulated run used to take, cost ~50 and ~60-75 s
// of CPU under -cpu Haswell. The same checks at a tenth of the arithmetic and more: every
// k-means still has over 20 points, so OpenBLAS's kernels run; the natively run tests above keep
// the larger sizes (recall, list balance).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "bench/vector_bench.h"
#include "core/vector_math.h"
#include "search/compressed_index.h"
#include "search/topk.h"
#include "search/vector_index.h"
#include "test_util.h"

namespace clap::search {
namespace {

Embeddings clustered(int64_t n, int dim) {
  SyntheticData d;
  d.clusters = 8;
  d.windows_per_track = 10;
  Embeddings e;
  e.dim = dim;
  e.data = synthetic_embeddings(n, dim, d, 0);
  e.ids.resize(static_cast<size_t>(n));
  std::iota(e.ids.begin(), e.ids.end(), 1);
  return e;
}

// An IVF index (k-means over 600 vectors into 15 lists) and exact search, built and searched on
// one and on two threads: the same ids and scores, bit for bit.
TEST(SmallFaissIndexes, IvfAndExactResultsDoNotDependOnTheThreadCount) {
  const int dim = 16;
  const Embeddings e = clustered(600, dim);
  const auto queries = test::random_unit(24, dim, 11);  // 24 queries: FAISS's BLAS path (20 or more)
  const int saved = omp_get_max_threads();
  std::vector<SearchResult> runs;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (IndexKind kind : {IndexKind::Exact, IndexKind::Ivf}) {
      VectorIndexOptions o;
      o.kind = kind;
      runs.push_back(VectorIndex::build(e, o).search(24, queries.data(), 10));
    }
  }
  omp_set_num_threads(saved);
  ASSERT_EQ(runs[1].ids.size(), 240u);
  EXPECT_EQ(runs[0].ids, runs[2].ids);
  EXPECT_EQ(runs[0].scores, runs[2].scores);
  EXPECT_EQ(runs[1].ids, runs[3].ids);
  EXPECT_EQ(runs[1].scores, runs[3].scores);
}

// IVF-PQ (4 lists; 8 codebooks of 256 centroids over 2 dimensions each, trained on 320 vectors:
// FAISS's k-means copies the points when there are no more of them than centroids, so a
// codebook's training runs its iterations only above 256): with every list probed and every
// vector shortlisted, the answer is exact search's, ids and scores.
TEST(SmallFaissIndexes, IvfPqWithEveryListProbedAndShortlistedIsExact) {
  const int dim = 16;
  const int64_t n = 320;
  const Embeddings all = clustered(n, dim);
  CompressedIndexOptions o;
  o.nlist = 4;
  o.code_bytes = 8;
  CompressedIndex index = CompressedIndex::train(all, n, o);
  index.add(all);
  ASSERT_EQ(index.size(), n);
  const int64_t nq = 4, k = 10;
  const auto q = test::random_unit(nq, dim, 12);
  CompressedSearchParams p;
  p.nprobe = 4;
  p.shortlist = static_cast<int>(n);
  const SearchResult r = index.search(nq, q.data(), k, p, [&all](const std::vector<int64_t>& ids) {
    Embeddings out;
    out.dim = all.dim;
    std::vector<int64_t> sorted(ids);
    std::sort(sorted.begin(), sorted.end());
    for (int64_t id : sorted) {
      out.ids.push_back(id);
      out.data.insert(out.data.end(), all.row(id - 1), all.row(id - 1) + all.dim);
    }
    return out;
  });
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<float> s(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) s[j] = clap::dot(q.data() + i * dim, all.row(j), dim);
    const std::vector<Hit> exact = top_k(s.data(), all.ids.data(), n, k);
    for (int64_t j = 0; j < k; ++j) {
      EXPECT_EQ(r.ids_row(i)[j], exact[static_cast<size_t>(j)].id) << "query " << i << ", rank " << j;
      EXPECT_EQ(r.scores_row(i)[j], exact[static_cast<size_t>(j)].score) << "query " << i << ", rank " << j;
    }
  }
}

}  // namespace
}  // namespace clap::search
