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
//   Exact: brute force over the vectors, perfect recall; a single query reads n·d·4 bytes:
//          ~15-30 ms per 100k vectors, ~145 ms at 1M. Default up to 200k vectors.
//   Ivf:   inverted lists, inner product, spherical k-means (FAISS's), nlist = sqrt(n). Default
//          above 200k: at 1M, nprobe 64 takes ~17 ms per query and the build ~1.5 min; the
//          build is reproducible (seeded k-means, OpenMP parts on one thread).
//   Hnsw:  IndexHNSWFlat (METRIC_INNER_PRODUCT) in an IndexIDMap. Available, not the default:
//          with Debian's FAISS (scalar distance code, below) it built 100k vectors in 277 s on one
//          thread and answered in ~39 ms at recall 0.98, slower than IVF at equal recall; and a
//          parallel HNSW build depends on thread scheduling, so it is built on one thread
//          (deterministic_build) unless told otherwise.
//
// Memory: the Exact and IVF kinds hold no vectors of their own. They scan rows of a row-major
// matrix they share with its owner (VectorSource: a shared_ptr keeps the matrix alive as long
// as the index), and keep only ids, row numbers and - IVF - the centroids and each vector's
// list. The service layer's window index scans the window catalog's embeddings that way, so a
// window vector exists once in memory (memory_bytes() tells what the index holds itself). An
// index built from an Embeddings matrix, or loaded from a file alone, owns its matrix instead.
// HNSW keeps FAISS's own copy (FAISS walks the graph over its storage).
// FAISS trains the IVF centroids, assigns vectors to lists, and stores and walks the HNSW
// graph; the exact and IVF scans run on the library's kernel (kernels.h), because Debian's
// libfaiss is built for baseline x86-64 where FAISS's per-vector inner product is its scalar
// reference loop (a 100k exact scan: 76 ms in FAISS vs ~30 ms here), and so that exact scores
// equal the scores the commands print.
//
// File (format 3): a JSON header, then the ids, the IVF centroids and list of every vector, the
// vectors themselves (HNSW: FAISS's own payload instead), and a checksum of all of it. Loading
// it with the matrix it was built from (load(path, source)) compares every stored vector with
// the matrix's row for its id, bit for bit, while reading, and keeps none of them: an index
// never scans a matrix that differs from the one it was built over - a file that disagrees is
// refused (load_or_build then updates or rebuilds it).
//
// Determinism: vectors are added in ascending id order whatever order the caller gives, seeds
// are fixed, and every result row is in (score desc, id asc) order, so the same vectors and
// query always return the same list; ties at equal score go to the smaller id.
#pragma once
#include <cstdint>
#include <cstring>
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

// Vectors an index reads in place: row `rows[i]` of a row-major matrix (`matrix_rows` × dim
// floats at `matrix`) is the vector with id `ids[i]`. The index keeps `matrix` (a shared_ptr,
// usually aliasing the structure that owns the floats) for as long as it lives, so it can
// neither outlive nor be handed another matrix behind its back.
struct VectorSource {
  std::shared_ptr<const float> matrix;
  int64_t matrix_rows = 0;
  int dim = 0;
  std::vector<int64_t> ids;   // unique, any order
  std::vector<int64_t> rows;  // one per id, each in [0, matrix_rows)
  bool owned = false;         // made for the index alone (owning()): memory_bytes() counts it

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
  const float* row_of(int64_t i) const { return matrix.get() + rows[i] * dim; }
  // Takes over `e`'s vectors (no copy): rows 0..n-1 with e's ids.
  static VectorSource owning(Embeddings e);
  // Reads `e` in place without owning it: the caller keeps `e` alive and unchanged for as long
  // as any index built from this source (bench, tests).
  static VectorSource borrowing(const Embeddings& e);
  // Throws clap::Error naming `what` when sizes, rows or dimension are inconsistent.
  void check(const std::string& what) const;
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

  // n × dim vectors with unique int64 ids (FAISS-style raw arrays, copied) or an Embeddings
  // matrix (copied, or taken over when passed as a temporary): the index owns its vectors.
  static VectorIndex build(int64_t n, int dim, const float* vectors, const int64_t* ids,
                           const VectorIndexOptions& options = {});
  static VectorIndex build(const Embeddings& vectors, const VectorIndexOptions& options = {});
  static VectorIndex build(Embeddings&& vectors, const VectorIndexOptions& options = {});
  // Over the rows of a shared matrix, without copying them (Exact, IVF; HNSW copies into FAISS).
  // An IVF build gathers the vectors in id order for FAISS's k-means and list assignment for
  // the length of the build when they are not already contiguous in id order.
  static VectorIndex build(const VectorSource& source, const VectorIndexOptions& options = {});

  // Inner-product search of nq queries (nq × dim, row-major) for the k best vectors each.
  // Const and free of shared mutable state: safe to call from several threads at once.
  SearchResult search(int64_t nq, const float* queries, int64_t k, const SearchParams& params = {}) const;

  // Writes the index with a header holding `content_key` and the build parameters. The file is
  // written beside `path` and renamed over it, so readers never see a half-written index.
  void save(const std::string& path, int64_t content_key) const;
  // The file alone: the index owns the vectors read from it. Throws clap::Error.
  static VectorIndex load(const std::string& path);
  // Over `source`, which must hold exactly the file's ids with bit-identical vectors (checked
  // while reading; the file's vectors are not kept); otherwise throws clap::Error.
  static VectorIndex load(const std::string& path, const VectorSource& source);
  static bool read_header(const std::string& path, IndexHeader* header);  // false if missing/invalid

  // Brings the index to hold exactly `vectors` (unique ids) without rebuilding it: vectors
  // whose id is gone or whose values changed are removed, new ones added (IVF: into the lists
  // of the centroids trained before). Returns false, leaving the index as it was, when a
  // rebuild is the right answer instead: `options` give another kind or build for the new size
  // than for the size it was built at, it is an HNSW index, or the library has grown more than
  // `regrow`-fold since an IVF index was trained (its centroids would no longer fit the data).
  // Exact results do not depend on the history of updates; IVF results depend on when the
  // centroids were trained (the lists, not the scores, which are always exact).
  // An index updated from a VectorSource reads that source's matrix from then on (and drops
  // the matrix it read before); one updated from Embeddings owns a copy of them.
  bool update(const Embeddings& vectors, const VectorIndexOptions& options, LoadInfo* info = nullptr, double regrow = 4);
  bool update(const VectorSource& vectors, const VectorIndexOptions& options, LoadInfo* info = nullptr, double regrow = 4);

  // Loads `path` when its content key equals `content_key` and its build parameters equal what
  // `options` give for its size; when only the content changed, loads it and update()s it to
  // the provider's vectors (then saves); otherwise calls `provider` for the vectors, builds,
  // saves and returns the new index.
  static VectorIndex load_or_build(const std::string& path, int64_t content_key,
                                   const std::function<Embeddings()>& provider,
                                   const VectorIndexOptions& options = {}, LoadInfo* info = nullptr);
  // The same over a shared matrix: a file whose ids or vectors disagree with `source` is
  // updated or rebuilt, never trusted; the index returned reads `source`'s matrix.
  static VectorIndex load_or_build(const std::string& path, int64_t content_key, const VectorSource& source,
                                   const VectorIndexOptions& options = {}, LoadInfo* info = nullptr);

  int64_t size() const { return n_; }
  int dim() const { return dim_; }
  IndexKind kind() const { return kind_; }
  const std::string& build_key() const { return build_key_; }
  // The FAISS structure behind an HNSW index; null for the Exact and IVF kinds.
  const faiss::Index* faiss_index() const { return index_.get(); }
  // Bytes of memory the index holds itself: ids, rows, lists, centroids, FAISS's HNSW copy, and
  // the matrix when it owns it (owns_vectors()); a shared matrix is its owner's.
  int64_t memory_bytes() const;
  bool owns_vectors() const { return owns_vectors_; }
  int nlist() const { return static_cast<int>(list_offsets_.empty() ? 0 : list_offsets_.size() - 1); }
  // IVF: the centroids (nlist × dim) and the list holding `id` (-1 when absent or not IVF).
  const std::vector<float>& centroids() const { return centroids_; }
  int list_of(int64_t id) const;

 private:
  struct Payload;
  void set_lists(std::vector<int32_t> list_of);
  static VectorIndex from_payload(Payload&& p, const IndexHeader& h);
  static void read_file(const std::string& path, const VectorSource* source, IndexHeader& h, Payload& p);
  static VectorIndex load_impl(const std::string& path, const VectorSource* source, const VectorIndexOptions* update_options,
                               LoadInfo* info);

  // Exact and IVF: vector i (ids ascending) is row rows_[i] of vectors_.
  std::shared_ptr<const float> vectors_;
  bool owns_vectors_ = false;
  std::vector<int64_t> ids_, rows_;
  // IVF: centroids (nlist × dim), each vector's list, and the lists as positions into ids_
  // (CSR: list l holds members_[list_offsets_[l] .. list_offsets_[l + 1]), ascending).
  std::vector<float> centroids_;
  std::vector<int32_t> list_of_;
  std::vector<int64_t> list_offsets_, members_;
  // HNSW: FAISS's index (it holds its own copy of the vectors).
  std::unique_ptr<faiss::Index> index_;
  int64_t n_ = 0;
  int dim_ = 0;
  IndexKind kind_ = IndexKind::Exact;
  std::string build_key_;
  int64_t trained_n_ = 0;
};

// A 64-bit checksum of a byte stream, independent of how the stream is cut into pieces: catches
// a damaged index file (bit flips, truncation) before FAISS parses it. Not cryptographic.
class IndexPayloadChecksum {
 public:
  void update(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    total_ += n;
    while (n > 0 && fill_ > 0 && fill_ < 8) {
      buf_[fill_++] = *p++;
      --n;
      if (fill_ == 8) word(buf_), fill_ = 0;
    }
    for (; n >= 8; p += 8, n -= 8) word(p);
    while (n-- > 0) buf_[fill_++] = *p++;
  }
  uint64_t finish() const {
    uint64_t tail = 0;
    std::memcpy(&tail, buf_, fill_);
    uint64_t h = h_ ^ (tail * 0x9E3779B97F4A7C15ULL) ^ total_;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
  }
  uint64_t bytes() const { return total_; }

 private:
  void word(const unsigned char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h_ = (h_ ^ (w * 0x87C37B91114253D5ULL));
    h_ = ((h_ << 31) | (h_ >> 33)) * 0x4CF5AD432745937FULL;
  }
  uint64_t h_ = 0x243F6A8885A308D3ULL, total_ = 0;
  unsigned char buf_[8] = {};
  size_t fill_ = 0;
};

// The checksum a saved index file stores after its payload (the payload's bytes in, 64 bits
// out). Exposed so the fuzz target can give hostile payloads a matching checksum and reach the
// payload readers (its own, and FAISS's for HNSW), as a crafted (not merely damaged) file would.
uint64_t index_payload_checksum(const void* payload, size_t n);

// The build key (kind + build-time parameters) that `options` give for n vectors of dimension
// dim; equal keys mean an existing index can be reused.
std::string index_build_key(const VectorIndexOptions& options, int64_t n, int dim);

}  // namespace clap::search
