// The vector index (vector_index.h): building it, searching it, updating it in place. Its file
// format and load_or_build are vector_index_file.cpp.
#include "search/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "search/faiss_io.h"
#include "search/kernels.h"
#include "search/topk.h"
#include "search/vector_index_internal.h"


namespace clap::search {

// The HNSW index inside a FAISS structure read from a file, or null.
const faiss::IndexHNSW* hnsw_of(const faiss::Index* index, const faiss::IndexIDMap** map_out) {
  auto* map = dynamic_cast<const faiss::IndexIDMap*>(index);
  if (map_out) *map_out = map;
  return map ? dynamic_cast<const faiss::IndexHNSW*>(map->index) : nullptr;
}

const char* index_kind_name(IndexKind kind) {
  switch (kind) {
    case IndexKind::Auto: return "auto";
    case IndexKind::Exact: return "exact";
    case IndexKind::Ivf: return "ivf";
    case IndexKind::Hnsw: return "hnsw";
  }
  return "?";
}

IndexKind parse_index_kind(const std::string& name) {
  for (IndexKind k : {IndexKind::Auto, IndexKind::Exact, IndexKind::Ivf, IndexKind::Hnsw})
    if (name == index_kind_name(k)) return k;
  throw Error("unknown vector index kind '" + name + "' (expected auto, exact, ivf or hnsw)");
}

IndexKind resolve_kind(const VectorIndexOptions& options, int64_t n) {
  IndexKind kind = options.kind;
  if (kind == IndexKind::Auto) kind = n > options.approximate_threshold ? options.approximate_kind : IndexKind::Exact;
  if (kind == IndexKind::Auto) kind = IndexKind::Ivf;
  // Nothing to train an IVF on; an empty graph is pointless.
  if (n == 0) kind = IndexKind::Exact;
  return kind;
}

int resolve_nlist(const IvfParams& params, int64_t n) {
  // sqrt(n) lists of ~sqrt(n) vectors balance the coarse scan (nlist·d) against the list scans
  // (nprobe·n/nlist·d); FAISS's k-means wants at least 39 training points per list.
  int64_t nlist = params.nlist > 0 ? params.nlist : std::llround(std::sqrt(static_cast<double>(n)));
  nlist = std::min<int64_t>(nlist, std::max<int64_t>(1, n / 39));
  return static_cast<int>(std::max<int64_t>(1, nlist));
}

std::string index_build_key(const VectorIndexOptions& options, int64_t n, int dim) {
  const IndexKind kind = resolve_kind(options, n);
  std::string key = std::string(index_kind_name(kind)) + " d=" + std::to_string(dim);
  if (kind == IndexKind::Ivf)
    key += " nlist=" + std::to_string(resolve_nlist(options.ivf, n)) +
           " train=" + std::to_string(options.ivf.train_points_per_list) +
           " niter=" + std::to_string(options.ivf.niter) + " seed=" + std::to_string(options.seed);
  if (kind == IndexKind::Hnsw)
    key += " m=" + std::to_string(options.hnsw.m) + " efc=" + std::to_string(options.hnsw.ef_construction) +
           " seed=" + std::to_string(options.seed);
  return key;
}

// --- sources ---------------------------------------------------------------------------------

VectorSource VectorSource::owning(Embeddings e) {
  e.check("vector index");
  VectorSource s;
  auto data = std::make_shared<std::vector<float>>(std::move(e.data));
  s.matrix = std::shared_ptr<const float>(data, data->data());
  s.matrix_rows = static_cast<int64_t>(e.ids.size());
  s.dim = e.dim;
  s.owned = true;
  s.ids = std::move(e.ids);
  s.rows.resize(s.ids.size());
  std::iota(s.rows.begin(), s.rows.end(), 0);
  return s;
}

VectorSource VectorSource::borrowing(const Embeddings& e) {
  e.check("vector index");
  VectorSource s;
  s.matrix = std::shared_ptr<const float>(e.data.data(), [](const float*) {});
  s.matrix_rows = e.size();
  s.dim = e.dim;
  s.ids = e.ids;
  s.rows.resize(s.ids.size());
  std::iota(s.rows.begin(), s.rows.end(), 0);
  return s;
}

void VectorSource::check(const std::string& what) const {
  if (dim <= 0) throw Error(what + ": dimension must be positive, got " + std::to_string(dim));
  if (rows.size() != ids.size()) throw Error(what + ": one row per id needed");
  if (matrix_rows < 0 || (matrix_rows > 0 && !matrix)) throw Error(what + ": no matrix");
  for (int64_t r : rows)
    if (r < 0 || r >= matrix_rows) throw Error(what + ": row " + std::to_string(r) + " outside the matrix");
}


// Positions of `s`'s entries in ascending id order; throws on a duplicate id.
std::vector<int64_t> id_order(const VectorSource& s) {
  std::vector<int64_t> order(static_cast<size_t>(s.size()));
  std::iota(order.begin(), order.end(), 0);
  if (!std::is_sorted(s.ids.begin(), s.ids.end()))
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s.ids[a] < s.ids[b]; });
  for (size_t i = 1; i < order.size(); ++i)
    if (s.ids[order[i]] == s.ids[order[i - 1]]) throw Error("vector index: duplicate id " + std::to_string(s.ids[order[i]]));
  return order;
}

// For each of the ascending `ids`, its position in `s` (whose id order is `order`), or -1.
std::vector<int64_t> positions_in(const std::vector<int64_t>& ids, const VectorSource& s, const std::vector<int64_t>& order) {
  std::vector<int64_t> pos(ids.size(), -1);
  size_t j = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    while (j < order.size() && s.ids[order[j]] < ids[i]) ++j;
    if (j < order.size() && s.ids[order[j]] == ids[i]) pos[i] = order[j];
  }
  return pos;
}

namespace {

// The vectors of `s` at `positions`, contiguous (what FAISS's training and assignment take).
std::vector<float> gather(const VectorSource& s, const std::vector<int64_t>& positions) {
  std::vector<float> x(positions.size() * static_cast<size_t>(s.dim));
  for (size_t i = 0; i < positions.size(); ++i) std::memcpy(x.data() + i * s.dim, s.row_of(positions[i]), sizeof(float) * s.dim);
  return x;
}

// Nearest centroid of each of n vectors, by FAISS's flat inner-product quantizer: the same call
// IndexIVF::add_with_ids makes, so lists come out as FAISS's IVF would fill them.
std::vector<int32_t> assign_lists(const std::vector<float>& centroids, int dim, int64_t n, const float* x) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  if (n == 0) return out;
  faiss::IndexFlatIP quantizer(dim);
  quantizer.add(static_cast<faiss::Index::idx_t>(centroids.size() / dim), centroids.data());
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(n));
  SingleThreadScope single(true);  // same numbers on any thread count
  try {
    quantizer.assign(n, x, labels.data());
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("vector index: FAISS assignment failed: ") + e.what());
  }
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int32_t>(labels[i]);
  return out;
}

}  // namespace

// --- build -----------------------------------------------------------------------------------

VectorIndex::VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;
VectorIndex::~VectorIndex() = default;

VectorIndex VectorIndex::build(const Embeddings& vectors, const VectorIndexOptions& options) {
  vectors.check("vector index");
  return build(Embeddings(vectors), options);
}

VectorIndex VectorIndex::build(Embeddings&& vectors, const VectorIndexOptions& options) {
  if (vectors.dim <= 0) throw Error("vector index: dimension must be positive, got " + std::to_string(vectors.dim));
  return build(VectorSource::owning(std::move(vectors)), options);
}

VectorIndex VectorIndex::build(int64_t n, int dim, const float* vectors, const int64_t* ids,
                               const VectorIndexOptions& options) {
  if (dim <= 0) throw Error("vector index: dimension must be positive, got " + std::to_string(dim));
  if (n < 0) throw Error("vector index: negative vector count");
  Embeddings e;
  e.dim = dim;
  e.ids.assign(ids, ids + n);
  e.data.assign(vectors, vectors + n * dim);
  return build(std::move(e), options);
}

void VectorIndex::set_lists(std::vector<int32_t> list_of) {
  const int nl = static_cast<int>(centroids_.size() / static_cast<size_t>(dim_));
  list_of_ = std::move(list_of);
  list_offsets_.assign(static_cast<size_t>(nl) + 1, 0);
  for (int32_t l : list_of_) ++list_offsets_[static_cast<size_t>(l) + 1];
  for (int l = 0; l < nl; ++l) list_offsets_[l + 1] += list_offsets_[l];
  members_.resize(list_of_.size());
  std::vector<int64_t> fill(list_offsets_.begin(), list_offsets_.end() - 1);
  for (size_t i = 0; i < list_of_.size(); ++i) members_[fill[list_of_[i]]++] = static_cast<int64_t>(i);
}

VectorIndex VectorIndex::build(const VectorSource& source, const VectorIndexOptions& options) {
  source.check("vector index");
  const int64_t n = source.size();
  const int dim = source.dim;
  // Ascending id order: the index then depends only on the (id, vector) set, not on the order
  // the caller gives, and ties at equal score go to the smaller id.
  const std::vector<int64_t> order = id_order(source);

  VectorIndex out;
  out.n_ = n;
  out.dim_ = dim;
  out.kind_ = resolve_kind(options, n);
  out.build_key_ = index_build_key(options, n, dim);
  out.trained_n_ = n;
  out.ids_.resize(static_cast<size_t>(n));
  out.rows_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out.ids_[i] = source.ids[order[i]];
    out.rows_[i] = source.rows[order[i]];
  }
  if (out.kind_ == IndexKind::Exact) {
    out.vectors_ = source.matrix;
    out.owns_vectors_ = source.owned;
    return out;
  }
  // FAISS takes the vectors contiguous in id order: read in place when they already are.
  bool contiguous = true;
  for (int64_t i = 1; i < n && contiguous; ++i) contiguous = out.rows_[i] == out.rows_[0] + i;
  std::vector<float> gathered;
  const float* x = nullptr;
  if (contiguous && n > 0) {
    x = source.matrix.get() + out.rows_[0] * dim;
  } else {
    gathered = gather(source, order);
    x = gathered.data();
  }
  try {
    if (out.kind_ == IndexKind::Ivf) {
      const int nlist = resolve_nlist(options.ivf, n);
      faiss::IndexFlatIP quantizer(dim);
      faiss::IndexIVFFlat ivf(&quantizer, dim, nlist, faiss::METRIC_INNER_PRODUCT);
      ivf.cp.seed = static_cast<int>(options.seed);
      ivf.cp.niter = options.ivf.niter;
      ivf.cp.max_points_per_centroid = options.ivf.train_points_per_list;
      ivf.cp.min_points_per_centroid = 1;  // resolve_nlist already keeps enough points per list
      ivf.cp.spherical = true;             // unit-norm centroids: the right centres for cosine
      ivf.cp.verbose = false;
      {
        // FAISS's k-means and list assignment run OpenBLAS sgemm between OpenMP loops; libgomp's
        // spinning workers and OpenBLAS's own threads then fight for the cores (measured on 2
        // cores: a 100k build 10.4 s on one OpenMP thread vs 14-17 s on two, and a 3000-vector
        // build 10× slower). BLAS keeps its threads; the OpenMP parts are cheap.
        SingleThreadScope single(true);
        ivf.train(n, x);
      }
      out.centroids_.assign(quantizer.get_xb(), quantizer.get_xb() + static_cast<size_t>(nlist) * dim);
      // Only the list of each vector is kept; the vectors stay in the source's matrix.
      out.set_lists(assign_lists(out.centroids_, dim, n, x));
      out.vectors_ = source.matrix;
      out.owns_vectors_ = source.owned;
    } else {
      auto* hnsw = new faiss::IndexHNSWFlat(dim, options.hnsw.m, faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = options.hnsw.ef_construction;
      hnsw->hnsw.rng = faiss::RandomGenerator(static_cast<int64_t>(options.seed));
      auto map = std::make_unique<faiss::IndexIDMap>(hnsw);
      map->own_fields = true;
      SingleThreadScope single(options.deterministic_build);
      map->add_with_ids(n, x, out.ids_.data());
      out.index_ = std::move(map);
      // FAISS holds its own copy: HNSW reads no matrix.
      out.ids_ = {};
      out.rows_ = {};
    }
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("vector index: FAISS build failed: ") + e.what());
  }
  return out;
}

int VectorIndex::list_of(int64_t id) const {
  if (list_of_.empty()) return -1;
  const auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  return it != ids_.end() && *it == id ? list_of_[static_cast<size_t>(it - ids_.begin())] : -1;
}

int64_t VectorIndex::memory_bytes() const {
  auto bytes = [](const auto& v) { return static_cast<int64_t>(v.capacity() * sizeof(v[0])); };
  int64_t total = bytes(ids_) + bytes(rows_) + bytes(centroids_) + bytes(list_of_) + bytes(list_offsets_) + bytes(members_);
  if (owns_vectors_) total += n_ * dim_ * static_cast<int64_t>(sizeof(float));
  const faiss::IndexIDMap* map = nullptr;
  if (const faiss::IndexHNSW* hnsw = hnsw_of(index_.get(), &map)) {
    total += bytes(map->id_map) + bytes(hnsw->hnsw.neighbors) + bytes(hnsw->hnsw.offsets) + bytes(hnsw->hnsw.levels);
    if (const auto* flat = dynamic_cast<const faiss::IndexFlatCodes*>(hnsw->storage)) total += bytes(flat->codes);
  }
  return total;
}

namespace {

// The k best (score, id) pairs under the library's rank order (score desc, id asc). Because
// that order is total, the k best of a set are unique: heaps filled by different threads over
// different parts of the data and then merged give the same answer for any thread count (and
// for any order of the vectors scanned).
class TopK {
 public:
  explicit TopK(int64_t k) : k_(std::max<int64_t>(k, 0)) { heap_.reserve(static_cast<size_t>(k_)); }
  void push(float score, int64_t id) {
    if (static_cast<int64_t>(heap_.size()) < k_) {
      heap_.push_back({id, score});
      std::push_heap(heap_.begin(), heap_.end(), order);
    } else if (k_ > 0 && ranks_before(score, id, heap_.front().score, heap_.front().id)) {
      std::pop_heap(heap_.begin(), heap_.end(), order);
      heap_.back() = {id, score};
      std::push_heap(heap_.begin(), heap_.end(), order);
    }
  }
  void merge(const TopK& other) {
    for (const Hit& h : other.heap_) push(static_cast<float>(h.score), h.id);
  }
  // Writes the entries best first into scores/ids (k slots; the rest keep their padding).
  void write(float* scores, int64_t* ids) {
    std::sort(heap_.begin(), heap_.end(), order);
    for (size_t j = 0; j < heap_.size(); ++j) {
      scores[j] = static_cast<float>(heap_[j].score);
      ids[j] = heap_[j].id;
    }
  }

 private:
  // Heap order: the front is the entry that ranks last, the one to evict.
  static bool order(const Hit& a, const Hit& b) { return ranks_before(a, b); }
  int64_t k_;
  std::vector<Hit> heap_;
};

// Exact inner-product scan with the library's kernel over rows of a matrix. Entries are cut
// into blocks; a block's rows stay in cache while every query is compared with them.
void exact_scan(const float* base, const int64_t* rows, const int64_t* ids, int64_t n, int d, int64_t nq, const float* q,
                int64_t k, SearchResult& r) {
  constexpr int64_t kBlock = 256;
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  std::vector<TopK> best(static_cast<size_t>(nq), TopK(k));
#pragma omp parallel if (worth_threads(n * nq * d))
  {
    std::vector<TopK> local(static_cast<size_t>(nq), TopK(k));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < nblocks; ++b)
      for (int64_t j = b * kBlock; j < std::min(n, (b + 1) * kBlock); ++j) {
        const float* x = base + rows[j] * d;
        for (int64_t i = 0; i < nq; ++i) local[i].push(dot(q + i * d, x, d), ids[j]);
      }
#pragma omp critical
    for (int64_t i = 0; i < nq; ++i) best[i].merge(local[i]);
  }
  for (int64_t i = 0; i < nq; ++i) best[i].write(&r.scores[i * r.k], &r.ids[i * r.k]);
}

// The inverted lists as the IVF scan reads them.
struct IvfView {
  const float* base;
  const int64_t *rows, *ids;
  const float* centroids;
  const int64_t *offsets, *members;
  int64_t nlist, n;
  int d;
};

// IVF search with the library's kernel: the nprobe lists whose centroids score best (ties:
// lower list number), then an exact scan of those lists.
void ivf_scan(const IvfView& v, int64_t nq, const float* q, int64_t k, int nprobe_wanted, SearchResult& r) {
  const int d = v.d;
  const int64_t nlist = v.nlist;
  const int64_t nprobe = std::clamp<int64_t>(nprobe_wanted, 1, nlist);
  // Parallel across queries for batches; a single query's probed lists are a small job (see
  // worth_threads) and run on the calling thread.
  const bool across_queries = nq > 1 && worth_threads(nq * nprobe * (v.n / std::max<int64_t>(nlist, 1)) * d);
  std::vector<float> coarse(static_cast<size_t>(nlist));
  auto scan_list = [&](int64_t list, const float* query, TopK& top) {
    for (int64_t m = v.offsets[list]; m < v.offsets[list + 1]; ++m) {
      const int64_t e = v.members[m];
      top.push(dot(query, v.base + v.rows[e] * d, d), v.ids[e]);
    }
  };
  auto probes = [&](const float* query, std::vector<float>& buf) {
    TopK lists(nprobe);
    for (int64_t l = 0; l < nlist; ++l) lists.push(buf[l] = dot(query, v.centroids + l * d, d), l);
    std::vector<float> s(static_cast<size_t>(nprobe));
    std::vector<int64_t> out(static_cast<size_t>(nprobe), -1);
    lists.write(s.data(), out.data());
    return out;
  };
  if (across_queries) {
#pragma omp parallel
    {
      std::vector<float> buf(static_cast<size_t>(nlist));
#pragma omp for schedule(dynamic)
      for (int64_t i = 0; i < nq; ++i) {
        TopK top(k);
        for (int64_t list : probes(q + i * d, buf))
          if (list >= 0) scan_list(list, q + i * d, top);
        top.write(&r.scores[i * r.k], &r.ids[i * r.k]);
      }
    }
    return;
  }
  for (int64_t i = 0; i < nq; ++i) {
    TopK top(k);
    for (int64_t list : probes(q + i * d, coarse))
      if (list >= 0) scan_list(list, q + i * d, top);
    top.write(&r.scores[i * r.k], &r.ids[i * r.k]);
  }
}

}  // namespace

SearchResult VectorIndex::search(int64_t nq, const float* queries, int64_t k, const SearchParams& params) const {
  SearchResult r;
  r.nq = std::max<int64_t>(nq, 0);
  r.k = std::max<int64_t>(0, k);
  r.scores.assign(static_cast<size_t>(r.nq * r.k), -std::numeric_limits<float>::infinity());
  r.ids.assign(static_cast<size_t>(r.nq * r.k), -1);
  const int64_t kf = std::min(r.k, n_);
  if (r.nq == 0 || kf <= 0) return r;

  // Exact and IVF scan the matrix with the library's kernel. Debian's libfaiss is built for
  // baseline x86-64, where FAISS's per-vector inner product is its scalar reference loop; the
  // kernel in kernels.h is vectorised (measured 2.5× faster on a 100k exact scan, see bench/src/bench/vector_bench.h)
  // and is the same code that computes every reported score, so an exact search returns exactly
  // the scores the commands print, for any thread count.
  if (kind_ == IndexKind::Exact || kind_ == IndexKind::Ivf) {
    if (!vectors_) throw Error("vector index: no vectors to search");
    if (kind_ == IndexKind::Exact) {
      exact_scan(vectors_.get(), rows_.data(), ids_.data(), n_, dim_, r.nq, queries, r.k, r);
    } else {
      const IvfView v{vectors_.get(), rows_.data(), ids_.data(), centroids_.data(), list_offsets_.data(), members_.data(),
                      nlist(), n_, dim_};
      ivf_scan(v, r.nq, queries, r.k, params.nprobe, r);
    }
    return r;
  }

  // HNSW (graph walk): FAISS's own search, re-sorted so equal scores come out in id order. A
  // few extra candidates (free while efSearch exceeds them) let ties at the k-th place go to
  // the smaller id as in the other kinds.
  const faiss::IndexIDMap* map = nullptr;
  const faiss::IndexHNSW* hnsw = hnsw_of(index_.get(), &map);
  if (!hnsw) throw Error("vector index: no graph to search");
  const int64_t kfetch = std::min(n_, r.k + 16);
  std::vector<float> d(static_cast<size_t>(r.nq * kfetch));
  std::vector<faiss::Index::idx_t> ids(static_cast<size_t>(r.nq * kfetch));
  try {
    // The graph is searched directly with per-call parameters (this FAISS's IndexIDMap refuses
    // SearchParameters) and its positions mapped to ids here.
    faiss::SearchParametersHNSW p;
    p.efSearch = std::max(1, params.ef_search);
    hnsw->search(r.nq, queries, kfetch, d.data(), ids.data(), &p);
    for (auto& id : ids)
      if (id >= 0) id = map->id_map[static_cast<size_t>(id)];
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("vector index: FAISS search failed: ") + e.what());
  }
  for (int64_t q = 0; q < r.nq; ++q) {
    TopK top(kf);
    for (int64_t j = 0; j < kfetch; ++j)
      if (ids[q * kfetch + j] >= 0) top.push(d[q * kfetch + j], ids[q * kfetch + j]);
    top.write(&r.scores[q * r.k], &r.ids[q * r.k]);
  }
  return r;
}

// --- update ----------------------------------------------------------------------------------

bool VectorIndex::update(const Embeddings& now, const VectorIndexOptions& options, LoadInfo* info, double regrow) {
  now.check("vector index");
  if (now.dim != dim_) return false;
  VectorSource source = VectorSource::owning(Embeddings(now));
  return update(source, options, info, regrow);
}

bool VectorIndex::update(const VectorSource& now, const VectorIndexOptions& options, LoadInfo* info, double regrow) {
  if (build_key_.empty() || kind_ == IndexKind::Hnsw || now.dim != dim_) return false;
  const int64_t n = now.size();
  if (resolve_kind(options, n) != kind_) return false;
  if (index_build_key(options, trained_n_, dim_) != build_key_) return false;
  if (kind_ == IndexKind::Ivf && static_cast<double>(n) > regrow * static_cast<double>(std::max<int64_t>(1, trained_n_)))
    return false;
  if (n_ > 0 && !vectors_) return false;
  now.check("vector index");

  // Each vector held now: kept when its id is still there with bit-identical values; removed
  // otherwise (gone or re-embedded).
  const std::vector<int64_t> order = id_order(now);
  const std::vector<int64_t> pos = positions_in(ids_, now, order);
  std::vector<int64_t> kept_pos(pos.size(), -1);
  for (size_t i = 0; i < pos.size(); ++i)
    if (pos[i] >= 0 && std::memcmp(vectors_.get() + rows_[i] * dim_, now.row_of(pos[i]), sizeof(float) * dim_) == 0)
      kept_pos[i] = pos[i];

  // The new entries in ascending id order; kept ones keep their list, the others (new or
  // changed) are assigned to their nearest centroid, all at once in id order as FAISS's add did.
  std::vector<int32_t> list_of_now(static_cast<size_t>(n), -1);
  std::vector<uint8_t> is_kept(static_cast<size_t>(n), 0);
  int64_t removed = 0;
  for (size_t i = 0; i < kept_pos.size(); ++i) {
    if (kept_pos[i] < 0) {
      ++removed;
      continue;
    }
    is_kept[kept_pos[i]] = 1;
    if (kind_ == IndexKind::Ivf) list_of_now[kept_pos[i]] = list_of_[i];
  }
  std::vector<int64_t> added;
  for (int64_t r : order)
    if (!is_kept[r]) added.push_back(r);
  if (kind_ == IndexKind::Ivf && !added.empty()) {
    const std::vector<float> x = gather(now, added);
    const std::vector<int32_t> lists = assign_lists(centroids_, dim_, static_cast<int64_t>(added.size()), x.data());
    for (size_t i = 0; i < added.size(); ++i) list_of_now[added[i]] = lists[i];
  }

  std::vector<int64_t> ids(static_cast<size_t>(n)), rows(static_cast<size_t>(n));
  std::vector<int32_t> lists(kind_ == IndexKind::Ivf ? static_cast<size_t>(n) : 0);
  for (int64_t i = 0; i < n; ++i) {
    ids[i] = now.ids[order[i]];
    rows[i] = now.rows[order[i]];
    if (kind_ == IndexKind::Ivf) lists[i] = list_of_now[order[i]];
  }
  ids_ = std::move(ids);
  rows_ = std::move(rows);
  if (kind_ == IndexKind::Ivf) set_lists(std::move(lists));
  vectors_ = now.matrix;
  owns_vectors_ = now.owned;
  n_ = n;
  if (info) {
    info->updated = true;
    info->added = static_cast<int64_t>(added.size());
    info->removed = removed;
  }
  return true;
}

}  // namespace clap::search
