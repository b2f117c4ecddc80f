// One small interface over FAISS: inner-product k-NN search over L2-normalised embeddings
// (so scores are cosines), exact by default and approximate for large libraries, persisted
// beside the database and rebuilt automatically when the vectors it was built from changed.
//
// Build-time parameters (kind, nlist, HNSW M / efConstruction, seeds) live in
// VectorIndexOptions and are part of the index; search-time parameters (nprobe, efSearch) are
// per-call arguments (SearchParams, as faiss::SearchParameters), so one shared, immutable index
// serves concurrent searches with different settings.
//
// Staleness: a persisted index is reused when (1) its content key equals the caller's key for
// the vectors it would be built from and (2) its build key equals what the options give. The
// content key is the caller's to define; the service layer uses a fingerprint of exactly the
// rows the index holds (see service/window_index.h), so writes that leave the windows alone
// (text cache, labels) never force a rebuild.
//
// Kinds (numbers: 512-d, 2 shared cores, run_vector_bench on its default synthetic data):
//   Exact: IndexFlatIP in an IndexIDMap. Brute force, perfect recall; a single query reads n·d·4
//          bytes: ~15-30 ms per 100k vectors, ~145 ms at 1M. Default up to 200k vectors.
//   Ivf:   IndexIVFFlat, inner product, spherical k-means, nlist = sqrt(n). Default above 200k:
//          at 1M, nprobe 64 takes ~17 ms per query and the build ~1.5 min; the build is
//          reproducible (seeded k-means, lists filled in input order, OpenMP parts on one thread).
//   Hnsw:  IndexHNSWFlat (METRIC_INNER_PRODUCT) in an IndexIDMap. Available, not the default:
//          with Debian's FAISS (scalar distance code, below) it built 100k vectors in 277 s on one
//          thread and answered in ~39 ms at recall 0.98, slower than IVF at equal recall; and a
//          parallel HNSW build depends on thread scheduling, so it is built on one thread
//          (deterministic_build) unless told otherwise.
// FAISS stores, trains, persists and walks the HNSW graph; the exact and IVF scans run on the
// library's kernel (kernels.h), because Debian's libfaiss is built for baseline x86-64 where
// FAISS's per-vector inner product is its scalar reference loop (a 100k exact scan: 76 ms in
// FAISS vs ~30 ms here), and so that exact scores equal the scores the commands print.
//
// Determinism: vectors are added in ascending id order whatever order the caller gives, seeds
// are fixed, and every result row is in (score desc, id asc) order, so the same vectors and
// query always return the same list; ties at equal score go to the smaller id.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/embeddings.h"

namespace faiss {
struct Index;
}

namespace clap::search {

enum class IndexKind { Auto, Exact, Ivf, Hnsw };
const char* index_kind_name(IndexKind kind);        // "auto", "exact", "ivf", "hnsw"
IndexKind parse_index_kind(const std::string& name);  // throws clap::Error on unknown names

struct HnswParams {
  int m = 32;                 // graph degree (2·m links on level 0)
  int ef_construction = 80;   // build-time beam width
};

struct IvfParams {
  int nlist = 0;                  // inverted lists; 0 = auto: round(sqrt(n)), at most n / 39
  int train_points_per_list = 64; // k-means training sample = nlist × this (bounds build time)
  int niter = 20;                 // k-means iterations
};

struct VectorIndexOptions {
  // Auto = Exact up to approximate_threshold vectors, approximate_kind above.
  IndexKind kind = IndexKind::Auto;
  int64_t approximate_threshold = 200000;
  IndexKind approximate_kind = IndexKind::Ivf;
  HnswParams hnsw;
  IvfParams ivf;
  uint64_t seed = 1234;            // k-means sampling / HNSW level draws
  bool deterministic_build = true; // HNSW: insert on one thread (a parallel build is not reproducible)
};

// Per-call search parameters; kinds that do not use one ignore it.
struct SearchParams {
  int nprobe = 64;      // IVF: lists scanned per query (clamped to nlist)
  int ef_search = 128;  // HNSW: query-time beam width
};

// The concrete kind (Exact/Ivf/Hnsw) the options give for n vectors.
IndexKind resolve_kind(const VectorIndexOptions& options, int64_t n);
// The IVF list count actually used for n vectors.
int resolve_nlist(const IvfParams& params, int64_t n);

// nq × k results, row-major. Rows are in rank order; missing entries (k > size) have id -1 and
// score -inf.
struct SearchResult {
  int64_t nq = 0, k = 0;
  std::vector<float> scores;
  std::vector<int64_t> ids;
  const float* scores_row(int64_t q) const { return scores.data() + q * k; }
  const int64_t* ids_row(int64_t q) const { return ids.data() + q * k; }
};

// What a persisted index file says about itself (its header), readable without loading the
// vectors.
struct IndexHeader {
  int format = 0;
  int64_t content_key = 0; // the caller's key for the vectors it was built from (see above)
  int dim = 0;
  int64_t n = 0;
  IndexKind kind = IndexKind::Exact;
  std::string build_key;   // kind + build parameters; a different key means rebuild
  int64_t trained_n = 0;   // vectors when it was built (IVF: trained); n grows by updates
};

// How load_or_build obtained its index.
struct LoadInfo {
  bool rebuilt = false;
  bool updated = false;    // a stale index brought up to date in place (see VectorIndex::update)
  int64_t added = 0, removed = 0;
  std::string reason;      // "loaded", "updated ...", "missing", "stale content", "options changed", "unreadable: ..."
  std::string save_error;  // non-empty when the rebuilt index could not be written (search still works)
};

class VectorIndex {
 public:
  VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;
  ~VectorIndex();

  // n × dim vectors with unique int64 ids (FAISS-style raw arrays) or an Embeddings matrix.
  static VectorIndex build(int64_t n, int dim, const float* vectors, const int64_t* ids,
                           const VectorIndexOptions& options = {});
  static VectorIndex build(const Embeddings& vectors, const VectorIndexOptions& options = {});

  // Inner-product search of nq queries (nq × dim, row-major) for the k best vectors each.
  // Const and free of shared mutable state: safe to call from several threads at once.
  SearchResult search(int64_t nq, const float* queries, int64_t k, const SearchParams& params = {}) const;

  // Writes the index with a header holding `content_key` and the build parameters. The file is
  // written beside `path` and renamed over it, so readers never see a half-written index.
  void save(const std::string& path, int64_t content_key) const;
  static VectorIndex load(const std::string& path);  // throws clap::Error
  static bool read_header(const std::string& path, IndexHeader* header);  // false if missing/invalid

  // Brings the index to hold exactly `vectors` (unique ids) without rebuilding it: vectors
  // whose id is gone or whose values changed are removed, new ones added (IVF: into the lists
  // of the centroids trained before). Returns false, leaving the index as it was, when a
  // rebuild is the right answer instead: `options` give another kind or build for the new size
  // than for the size it was built at, it is an HNSW index, or the library has grown more than
  // `regrow`-fold since an IVF index was trained (its centroids would no longer fit the data).
  // Exact results do not depend on the history of updates; IVF results depend on when the
  // centroids were trained (the lists, not the scores, which are always exact).
  bool update(const Embeddings& vectors, const VectorIndexOptions& options, LoadInfo* info = nullptr, double regrow = 4);

  // Loads `path` when its content key equals `content_key` and its build parameters equal what
  // `options` give for its size; when only the content changed, loads it and update()s it to
  // the provider's vectors (then saves); otherwise calls `provider` for the vectors, builds,
  // saves and returns the new index.
  static VectorIndex load_or_build(const std::string& path, int64_t content_key,
                                   const std::function<Embeddings()>& provider,
                                   const VectorIndexOptions& options = {}, LoadInfo* info = nullptr);

  int64_t size() const { return n_; }
  int dim() const { return dim_; }
  IndexKind kind() const { return kind_; }
  const std::string& build_key() const { return build_key_; }
  const faiss::Index* faiss_index() const { return index_.get(); }

 private:
  std::unique_ptr<faiss::Index> index_;
  int64_t n_ = 0;
  int dim_ = 0;
  IndexKind kind_ = IndexKind::Exact;
  std::string build_key_;
  int64_t trained_n_ = 0;
};

// The checksum a saved index file stores after its FAISS payload (the payload's bytes in, 64
// bits out). Exposed so the fuzz target can give hostile payloads a matching checksum and reach
// the FAISS reader, as a crafted (not merely damaged) file would.
uint64_t index_payload_checksum(const void* payload, size_t n);

// The build key (kind + build-time parameters) that `options` give for n vectors of dimension
// dim; equal keys mean an existing index can be reused.
std::string index_build_key(const VectorIndexOptions& options, int64_t n, int dim);

}  // namespace clap::search
