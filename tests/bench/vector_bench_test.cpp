// The vector benchmark on a tiny size: it runs, reports every index, and its recall numbers are
// sane. (Timings are printed, never asserted.)
#include "bench/vector_bench.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/vector_math.h"

namespace clap::search {
namespace {

TEST(VectorBench, TinyRunReportsEveryIndex) {
  VectorBenchOptions o;
  o.data.clusters = 10;
  o.data.windows_per_track = 10;
  o.nprobe_sweep = {1, 1000};
  o.ef_search_sweep = {16};
  const SearchBenchResult r = run_vector_bench(2000, 32, 20, 10, o);
  EXPECT_EQ(r.n_vectors, 2000);
  EXPECT_EQ(r.dim, 32);
  EXPECT_EQ(r.k, 10);
  // exact, ivf (default nprobe, 1, 64), hnsw (default ef, 16)
  ASSERT_EQ(r.indexes.size(), 6u);
  EXPECT_EQ(r.indexes[0].kind, "exact");
  EXPECT_EQ(r.indexes[0].recall, 1.0);
  EXPECT_EQ(r.indexes[1].kind, "ivf");
  EXPECT_EQ(r.indexes[4].kind, "hnsw");
  for (const auto& x : r.indexes) {
    std::printf("%-6s %-50s build %8.1f ms  mean %.3f ms  p50 %.3f  p99 %.3f  recall %.3f\n", x.kind.c_str(),
                x.params.c_str(), x.build_ms, x.mean_ms, x.p50_ms, x.p99_ms, x.recall);
    EXPECT_GE(x.recall, 0.0);
    EXPECT_LE(x.recall, 1.0);
    EXPECT_GE(x.p99_ms, x.p50_ms);
  }
  EXPECT_EQ(r.indexes[3].recall, 1.0);  // nprobe 1000 > nlist: every list scanned
  EXPECT_GE(r.indexes[1].recall, 0.9);
  EXPECT_GE(r.indexes[4].recall, 0.9);
  EXPECT_GT(r.indexes[1].build_ms, 0.0);
  EXPECT_EQ(r.indexes[2].build_ms, 0.0);  // a sweep row reuses the index
}

TEST(VectorBench, SyntheticDataIsUnitLengthSeededAndPrefixStable) {
  SyntheticData d;
  d.clusters = 5;
  d.windows_per_track = 4;
  const auto a = synthetic_embeddings(100, 16, d);
  const auto b = synthetic_embeddings(40, 16, d);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin()));
  for (int i = 0; i < 100; ++i) EXPECT_NEAR(clap::dot(a.data() + i * 16, a.data() + i * 16, 16), 1.0f, 1e-5);
  // Windows of one track are closer to each other than to another style's windows on average.
  EXPECT_GT(clap::dot(a.data(), a.data() + 16, 16), 0.3f);
  const auto q = synthetic_embeddings(3, 16, d, 1);
  EXPECT_NE(q[0], a[0]);
  d.seed = 43;
  EXPECT_NE(synthetic_embeddings(1, 16, d)[0], a[0]);
}

}  // namespace
}  // namespace clap::search
