#include "search/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_map>

#include "core/error.h"
#include "core/json_integer.h"
#include "core/output_file.h"
#include "search/kernels.h"
#include "search/topk.h"

namespace clap::search {
namespace {

constexpr char kMagic[8] = {'C', 'L', 'A', 'P', 'V', 'I', 'D', 'X'};
constexpr uint32_t kFormat = 2;  // 2: a checksum of the FAISS payload after it (format 1 files are rebuilt)
constexpr char kTrailerMagic[8] = {'C', 'L', 'A', 'P', 'S', 'U', 'M', '1'};

// A 64-bit checksum of a byte stream, independent of how the stream is cut into pieces: catches
// a damaged file (bit flips, truncation) before FAISS parses it. Not cryptographic.
class Checksum {
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
  uint64_t finish() {
    uint64_t tail = 0;
    std::memcpy(&tail, buf_, fill_);
    uint64_t h = h_ ^ (tail * 0x9E3779B97F4A7C15ULL) ^ total_;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
  }

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

// FAISS writes through this: to the file, and into the checksum.
struct ChecksumWriter : faiss::IOWriter {
  OutputFile& out;
  Checksum sum;
  explicit ChecksumWriter(OutputFile& file) : out(file) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    out.write(ptr, size * nitems);  // a failed write is reported by commit()
    sum.update(ptr, size * nitems);
    return nitems;
  }
};

// FAISS's HNSW insertion is parallel and its graph depends on which thread links first; one
// thread makes the build reproducible. Restores the caller's thread count on exit.
class SingleThreadScope {
 public:
  explicit SingleThreadScope(bool active) : active_(active), saved_(omp_get_max_threads()) {
    if (active_) omp_set_num_threads(1);
  }
  ~SingleThreadScope() {
    if (active_) omp_set_num_threads(saved_);
  }

 private:
  bool active_;
  int saved_;
};

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

IndexKind kind_of(const faiss::Index* index) {
  if (dynamic_cast<const faiss::IndexIVF*>(index)) return IndexKind::Ivf;
  if (auto* map = dynamic_cast<const faiss::IndexIDMap*>(index)) {
    if (dynamic_cast<const faiss::IndexHNSW*>(map->index)) return IndexKind::Hnsw;
    if (dynamic_cast<const faiss::IndexFlat*>(map->index)) return IndexKind::Exact;
  }
  throw Error("vector index: unsupported FAISS index type");
}

}  // namespace

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

VectorIndex::VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;
VectorIndex::~VectorIndex() = default;

VectorIndex VectorIndex::build(const Embeddings& vectors, const VectorIndexOptions& options) {
  vectors.check("vector index");
  return build(vectors.size(), vectors.dim, vectors.data.data(), vectors.ids.data(), options);
}

VectorIndex VectorIndex::build(int64_t n, int dim, const float* vectors, const int64_t* ids,
                               const VectorIndexOptions& options) {
  if (dim <= 0) throw Error("vector index: dimension must be positive, got " + std::to_string(dim));
  if (n < 0) throw Error("vector index: negative vector count");

  // Insert in ascending id order: the index then depends only on the (id, vector) set, not on
  // the order the store returned rows in, and FAISS's flat scan keeps the earlier (smaller-id)
  // vector on equal scores. Copy only when the input is not already sorted.
  std::vector<float> sorted_vectors;
  std::vector<int64_t> sorted_ids;
  const float* x = vectors;
  const int64_t* xid = ids;
  if (!std::is_sorted(ids, ids + n)) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ids[a] < ids[b]; });
    sorted_vectors.resize(static_cast<size_t>(n) * dim);
    sorted_ids.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      sorted_ids[i] = ids[order[i]];
      std::memcpy(sorted_vectors.data() + i * dim, vectors + order[i] * dim, sizeof(float) * dim);
    }
    x = sorted_vectors.data();
    xid = sorted_ids.data();
  }
  for (int64_t i = 1; i < n; ++i)
    if (xid[i] == xid[i - 1]) throw Error("vector index: duplicate id " + std::to_string(xid[i]));

  VectorIndex out;
  out.n_ = n;
  out.dim_ = dim;
  out.kind_ = resolve_kind(options, n);
  out.build_key_ = index_build_key(options, n, dim);
  out.trained_n_ = n;
  try {
    switch (out.kind_) {
      case IndexKind::Ivf: {
        const int nlist = resolve_nlist(options.ivf, n);
        auto* quantizer = new faiss::IndexFlatIP(dim);
        auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer, dim, nlist, faiss::METRIC_INNER_PRODUCT);
        ivf->own_fields = true;
        ivf->cp.seed = static_cast<int>(options.seed);
        ivf->cp.niter = options.ivf.niter;
        ivf->cp.max_points_per_centroid = options.ivf.train_points_per_list;
        ivf->cp.min_points_per_centroid = 1;  // resolve_nlist already keeps enough points per list
        ivf->cp.spherical = true;             // unit-norm centroids: the right centres for cosine
        ivf->cp.verbose = false;
        // FAISS's k-means and list assignment run OpenBLAS sgemm between OpenMP loops; libgomp's
        // spinning workers and OpenBLAS's own threads then fight for the cores (measured on 2
        // cores: a 100k build 10.4 s on one OpenMP thread vs 14-17 s on two, and a 3000-vector
        // build 10× slower). BLAS keeps its threads; the OpenMP parts are cheap.
        SingleThreadScope single(true);
        ivf->train(n, x);
        ivf->add_with_ids(n, x, xid);
        out.index_ = std::move(ivf);
        break;
      }
      case IndexKind::Hnsw: {
        auto* hnsw = new faiss::IndexHNSWFlat(dim, options.hnsw.m, faiss::METRIC_INNER_PRODUCT);
        hnsw->hnsw.efConstruction = options.hnsw.ef_construction;
        hnsw->hnsw.rng = faiss::RandomGenerator(static_cast<int64_t>(options.seed));
        auto map = std::make_unique<faiss::IndexIDMap>(hnsw);
        map->own_fields = true;
        SingleThreadScope single(options.deterministic_build);
        map->add_with_ids(n, x, xid);
        out.index_ = std::move(map);
        break;
      }
      default: {
        auto map = std::make_unique<faiss::IndexIDMap>(new faiss::IndexFlatIP(dim));
        map->own_fields = true;
        map->add_with_ids(n, x, xid);
        out.index_ = std::move(map);
        break;
      }
    }
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("vector index: FAISS build failed: ") + e.what());
  }
  return out;
}

namespace {

// The k best (score, id) pairs under the library's rank order (score desc, id asc). Because
// that order is total, the k best of a set are unique: heaps filled by different threads over
// different parts of the data and then merged give the same answer for any thread count.
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

// Exact inner-product scan with the library's kernel. Rows are cut into blocks; a block's rows
// stay in cache while every query is compared with them.
void exact_scan(const float* xb, const faiss::Index::idx_t* id_map, int64_t n, int d, int64_t nq, const float* q,
                int64_t k, SearchResult& r) {
  constexpr int64_t kBlock = 256;
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  std::vector<TopK> best(static_cast<size_t>(nq), TopK(k));
#pragma omp parallel if (worth_threads(n * nq * d))
  {
    std::vector<TopK> local(static_cast<size_t>(nq), TopK(k));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < nblocks; ++b)
      for (int64_t j = b * kBlock; j < std::min(n, (b + 1) * kBlock); ++j)
        for (int64_t i = 0; i < nq; ++i) local[i].push(dot(q + i * d, xb + j * d, d), id_map[j]);
#pragma omp critical
    for (int64_t i = 0; i < nq; ++i) best[i].merge(local[i]);
  }
  for (int64_t i = 0; i < nq; ++i) best[i].write(&r.scores[i * r.k], &r.ids[i * r.k]);
}

// IVF search with the library's kernel over FAISS's lists: the nprobe lists whose centroids
// score best (ties: lower list number), then an exact scan of those lists.
void ivf_scan(const faiss::IndexIVF& ivf, const float* centroids, int64_t nq, const float* q, int64_t k, int nprobe_wanted,
              SearchResult& r) {
  const int d = static_cast<int>(ivf.d);
  const int64_t nlist = static_cast<int64_t>(ivf.nlist);
  const int64_t nprobe = std::clamp<int64_t>(nprobe_wanted, 1, nlist);
  // Parallel across queries for batches; a single query's probed lists are a small job (see
  // worth_threads) and run on the calling thread.
  const bool across_queries = nq > 1 && worth_threads(nq * nprobe * (static_cast<int64_t>(ivf.ntotal) / std::max<int64_t>(nlist, 1)) * d);
  std::vector<float> coarse(static_cast<size_t>(nlist));
  auto scan_list = [&](int64_t list, const float* query, TopK& top) {
    const size_t size = ivf.invlists->list_size(list);
    if (size == 0) return;
    faiss::InvertedLists::ScopedCodes codes(ivf.invlists, list);
    faiss::InvertedLists::ScopedIds ids(ivf.invlists, list);
    const float* x = reinterpret_cast<const float*>(codes.get());
    for (size_t j = 0; j < size; ++j) top.push(dot(query, x + j * d, d), ids[j]);
  };
  auto probes = [&](const float* query, std::vector<float>& buf) {
    TopK lists(nprobe);
    for (int64_t l = 0; l < nlist; ++l) lists.push(buf[l] = dot(query, centroids + l * d, d), l);
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
  if (r.nq == 0 || kf <= 0 || !index_) return r;

  // Exact and IVF: FAISS holds the data (flat storage, k-means lists, persistence) and the scan
  // runs here. Debian's libfaiss is built for baseline x86-64, where FAISS's per-vector inner
  // product is its scalar reference loop; the kernel in kernels.h is vectorised (measured
  // 2.5× faster on a 100k exact scan, see bench.h) and is the same code that computes every
  // reported score, so an exact search returns exactly the scores the commands print, for any
  // thread count.
  if (kind_ == IndexKind::Exact) {
    const auto* map = dynamic_cast<const faiss::IndexIDMap*>(index_.get());
    const auto* flat = map ? dynamic_cast<const faiss::IndexFlat*>(map->index) : nullptr;
    if (flat) {
      exact_scan(flat->get_xb(), map->id_map.data(), n_, dim_, r.nq, queries, r.k, r);
      return r;
    }
  }
  if (kind_ == IndexKind::Ivf) {
    const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index_.get());
    const auto* quantizer = ivf ? dynamic_cast<const faiss::IndexFlat*>(ivf->quantizer) : nullptr;
    if (quantizer && ivf->code_size == sizeof(float) * static_cast<size_t>(dim_)) {
      ivf_scan(*ivf, quantizer->get_xb(), r.nq, queries, r.k, params.nprobe, r);
      return r;
    }
  }

  // HNSW (graph walk) and anything unexpected: FAISS's own search, re-sorted so equal scores
  // come out in id order. A few extra candidates (free while efSearch exceeds them) let ties at
  // the k-th place go to the smaller id as in the other kinds.
  const int64_t kfetch = std::min(n_, r.k + 16);
  std::vector<float> d(static_cast<size_t>(r.nq * kfetch));
  std::vector<faiss::Index::idx_t> ids(static_cast<size_t>(r.nq * kfetch));
  try {
    // The graph is searched directly with per-call parameters (this FAISS's IndexIDMap refuses
    // SearchParameters) and its positions mapped to ids here.
    const auto* map = dynamic_cast<const faiss::IndexIDMap*>(index_.get());
    const auto* hnsw = map ? dynamic_cast<const faiss::IndexHNSW*>(map->index) : nullptr;
    if (hnsw) {
      faiss::SearchParametersHNSW p;
      p.efSearch = std::max(1, params.ef_search);
      hnsw->search(r.nq, queries, kfetch, d.data(), ids.data(), &p);
      for (auto& id : ids)
        if (id >= 0) id = map->id_map[static_cast<size_t>(id)];
    } else {
      index_->search(r.nq, queries, kfetch, d.data(), ids.data());
    }
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

void VectorIndex::save(const std::string& path, int64_t content_key) const {
  if (!index_) throw Error("vector index: nothing to save to " + path);
  nlohmann::json h;
  h["format"] = kFormat;
  h["content_key"] = content_key;
  h["dim"] = dim_;
  h["n"] = n_;
  h["kind"] = index_kind_name(kind_);
  h["build_key"] = build_key_;
  h["trained_n"] = trained_n_;
  const std::string header = h.dump();

  // Written beside `path` and renamed over it only when complete (core/output_file.h). A search
  // killed while writing leaves its temporary (as large as the index), and nobody looks beside
  // the database: the next save removes it.
  OutputFile::remove_stale_temporaries(path);
  OutputFile f(path);
  const uint32_t format = kFormat, len = static_cast<uint32_t>(header.size());
  f.write(kMagic, sizeof kMagic);
  f.write(&format, sizeof format);
  f.write(&len, sizeof len);
  f.write(header);
  ChecksumWriter writer(f);
  try {
    faiss::write_index(index_.get(), &writer);
  } catch (const faiss::FaissException& e) {
    throw Error("cannot write vector index " + path + ": " + e.what());
  }
  const uint64_t sum = writer.sum.finish();
  f.write(&sum, sizeof sum);
  f.write(kTrailerMagic, sizeof kTrailerMagic);
  f.commit();
}

namespace {

// An integer of the JSON header: save() writes nothing else, so a float or an out-of-range
// value means a damaged file (core/json_integer.h).
template <typename T>
T header_integer(const nlohmann::json& h, const char* key) {
  const nlohmann::json& v = h.at(key);
  if (!v.is_number_integer()) throw std::runtime_error(std::string(key) + " is not an integer");
  if (!json_number_fits<T>(v)) throw std::runtime_error(std::string(key) + " is out of range");
  return v.get<T>();
}

// Reads and validates the header; leaves `f` positioned at the FAISS payload.
bool read_header_from(FILE* f, IndexHeader* out, std::string* why) {
  char magic[8];
  uint32_t format = 0, len = 0;
  if (std::fread(magic, 1, 8, f) != 8 || std::memcmp(magic, kMagic, 8) != 0) {
    *why = "not a clapsearch vector index";
    return false;
  }
  if (std::fread(&format, sizeof format, 1, f) != 1 || format != kFormat) {
    *why = "unsupported format " + std::to_string(format);
    return false;
  }
  if (std::fread(&len, sizeof len, 1, f) != 1 || len > (1u << 20)) {
    *why = "bad header length";
    return false;
  }
  std::string text(len, '\0');
  if (std::fread(text.data(), 1, len, f) != len) {
    *why = "truncated header";
    return false;
  }
  try {
    const auto h = nlohmann::json::parse(text);
    out->format = header_integer<int>(h, "format");
    // Files from before the rename held the same value (a window fingerprint) as "generation".
    out->content_key = header_integer<int64_t>(h, h.contains("content_key") ? "content_key" : "generation");
    out->dim = header_integer<int>(h, "dim");
    out->n = header_integer<int64_t>(h, "n");
    out->kind = parse_index_kind(h.at("kind").get<std::string>());
    out->build_key = h.at("build_key").get<std::string>();
    out->trained_n = h.contains("trained_n") ? header_integer<int64_t>(h, "trained_n") : out->n;
  } catch (const std::exception& e) {
    *why = std::string("bad header: ") + e.what();
    return false;
  }
  return true;
}

}  // namespace

uint64_t index_payload_checksum(const void* payload, size_t n) {
  Checksum sum;
  sum.update(payload, n);
  return sum.finish();
}

bool VectorIndex::read_header(const std::string& path, IndexHeader* header) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return false;
  std::string why;
  IndexHeader h;
  if (!read_header_from(f.get(), &h, &why)) return false;
  if (header) *header = h;
  return true;
}

VectorIndex VectorIndex::load(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) throw Error("cannot open vector index " + path + ": " + std::strerror(errno));
  IndexHeader h;
  std::string why;
  if (!read_header_from(f.get(), &h, &why)) throw Error("vector index " + path + ": " + why);
  // The payload must match the checksum written after it before FAISS reads a byte of it.
  const long start = std::ftell(f.get());
  if (start < 0 || std::fseek(f.get(), 0, SEEK_END) != 0) throw Error("vector index " + path + ": cannot seek");
  const long end = std::ftell(f.get());
  if (end - start < 16) throw Error("vector index " + path + ": truncated");
  const long payload = end - start - 16;
  std::fseek(f.get(), start, SEEK_SET);
  Checksum sum;
  std::vector<unsigned char> buf(1 << 20);
  for (long left = payload; left > 0;) {
    const size_t want = static_cast<size_t>(std::min<long>(left, static_cast<long>(buf.size())));
    if (std::fread(buf.data(), 1, want, f.get()) != want) throw Error("vector index " + path + ": truncated");
    sum.update(buf.data(), want);
    left -= static_cast<long>(want);
  }
  uint64_t stored = 0;
  char trailer[8];
  if (std::fread(&stored, sizeof stored, 1, f.get()) != 1 || std::fread(trailer, 1, 8, f.get()) != 8 ||
      std::memcmp(trailer, kTrailerMagic, 8) != 0)
    throw Error("vector index " + path + ": no checksum trailer (damaged or truncated)");
  if (stored != sum.finish()) throw Error("vector index " + path + ": checksum mismatch (the file is damaged)");
  std::fseek(f.get(), start, SEEK_SET);
  VectorIndex out;
  try {
    out.index_.reset(faiss::read_index(f.get()));
  } catch (const faiss::FaissException& e) {
    throw Error("vector index " + path + ": " + e.what());
  }
  if (out.index_->d != h.dim || out.index_->ntotal != h.n || kind_of(out.index_.get()) != h.kind)
    throw Error("vector index " + path + ": header does not match its contents");
  out.n_ = h.n;
  out.dim_ = h.dim;
  out.kind_ = h.kind;
  out.build_key_ = h.build_key;
  out.trained_n_ = h.trained_n;
  return out;
}

bool VectorIndex::update(const Embeddings& now, const VectorIndexOptions& options, LoadInfo* info, double regrow) {
  if (!index_ || now.dim != dim_) return false;
  const int64_t n = now.size();
  if (kind_ == IndexKind::Hnsw || resolve_kind(options, n) != kind_) return false;
  if (index_build_key(options, trained_n_, dim_) != build_key_) return false;
  if (kind_ == IndexKind::Ivf && static_cast<double>(n) > regrow * static_cast<double>(std::max<int64_t>(1, trained_n_)))
    return false;

  // What the index holds now: id -> its stored vector (flat storage, or the IVF lists' raw codes).
  std::unordered_map<int64_t, const float*> held;
  held.reserve(static_cast<size_t>(n_));
  if (kind_ == IndexKind::Ivf) {
    const auto* ivf = dynamic_cast<const faiss::IndexIVFFlat*>(index_.get());
    if (!ivf) return false;
    for (size_t l = 0; l < ivf->nlist; ++l) {
      const size_t len = ivf->invlists->list_size(l);
      const auto* ids = ivf->invlists->get_ids(l);
      const auto* codes = reinterpret_cast<const float*>(ivf->invlists->get_codes(l));
      for (size_t i = 0; i < len; ++i) held[ids[i]] = codes + i * dim_;
    }
  } else {
    const auto* map = dynamic_cast<const faiss::IndexIDMap*>(index_.get());
    const auto* flat = map ? dynamic_cast<const faiss::IndexFlat*>(map->index) : nullptr;
    if (!flat) return false;
    const float* xb = flat->get_xb();
    for (size_t i = 0; i < map->id_map.size(); ++i) held[map->id_map[i]] = xb + i * dim_;
  }
  // Removed: ids gone, or vectors that changed (re-embedded); added: new ids and changed ones.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return now.ids[a] < now.ids[b]; });
  std::vector<faiss::Index::idx_t> removed;
  std::vector<int64_t> added_rows;
  std::unordered_map<int64_t, char> kept;
  kept.reserve(static_cast<size_t>(n));
  for (int64_t r : order) {
    const int64_t id = now.ids[r];
    auto it = held.find(id);
    if (it != held.end() && std::memcmp(it->second, now.row(r), sizeof(float) * dim_) == 0) {
      kept[id] = 1;
      continue;
    }
    added_rows.push_back(r);
  }
  for (const auto& [id, vec] : held)
    if (!kept.count(id)) removed.push_back(id);
  std::sort(removed.begin(), removed.end());
  for (size_t i = 1; i < added_rows.size(); ++i)
    if (now.ids[added_rows[i]] == now.ids[added_rows[i - 1]])
      throw Error("vector index: duplicate id " + std::to_string(now.ids[added_rows[i]]));

  try {
    if (!removed.empty()) {
      const faiss::IDSelectorBatch selector(removed.size(), removed.data());
      index_->remove_ids(selector);
    }
    if (!added_rows.empty()) {
      std::vector<float> x(added_rows.size() * static_cast<size_t>(dim_));
      std::vector<faiss::Index::idx_t> xid(added_rows.size());
      for (size_t i = 0; i < added_rows.size(); ++i) {
        std::memcpy(x.data() + i * dim_, now.row(added_rows[i]), sizeof(float) * dim_);
        xid[i] = now.ids[added_rows[i]];
      }
      SingleThreadScope single(true);  // assignment to lists: same numbers on any thread count
      index_->add_with_ids(static_cast<faiss::Index::idx_t>(xid.size()), x.data(), xid.data());
    }
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("vector index: FAISS update failed: ") + e.what());
  }
  if (index_->ntotal != n) throw Error("vector index: update left " + std::to_string(index_->ntotal) + " vectors, expected " +
                                       std::to_string(n));
  n_ = n;
  if (info) {
    info->updated = true;
    info->added = static_cast<int64_t>(added_rows.size());
    info->removed = static_cast<int64_t>(removed.size());
  }
  return true;
}

VectorIndex VectorIndex::load_or_build(const std::string& path, int64_t content_key,
                                       const std::function<Embeddings()>& provider,
                                       const VectorIndexOptions& options, LoadInfo* info) {
  LoadInfo local;
  LoadInfo& inf = info ? *info : local;
  inf = {};
  IndexHeader h;
  if (read_header(path, &h)) {
    if (h.content_key != content_key && h.build_key == index_build_key(options, h.trained_n, h.dim)) {
      // Only the vectors changed: bring the stored index up to date instead of rebuilding it.
      try {
        VectorIndex idx = load(path);
        const Embeddings data = provider();
        if (idx.update(data, options, &inf)) {
          inf.reason = "updated (+" + std::to_string(inf.added) + " −" + std::to_string(inf.removed) + " vectors)";
          try {
            idx.save(path, content_key);
          } catch (const std::exception& e) {
            inf.save_error = e.what();
          }
          return idx;
        }
        inf = {};
        inf.reason = "stale content, and the library has changed too much to update the index";
        inf.rebuilt = true;
        VectorIndex fresh = build(data, options);
        try {
          fresh.save(path, content_key);
        } catch (const std::exception& e) {
          inf.save_error = e.what();
        }
        return fresh;
      } catch (const std::exception& e) {
        inf = {};
        inf.reason = std::string("stale and unreadable: ") + e.what();
      }
    } else if (h.content_key != content_key) {
      inf.reason = "stale content (index " + std::to_string(h.content_key) + ", vectors now " +
                   std::to_string(content_key) + ")";
    } else if (h.build_key != index_build_key(options, h.trained_n, h.dim)) {
      inf.reason = "options changed (index '" + h.build_key + "', wanted '" + index_build_key(options, h.trained_n, h.dim) + "')";
    } else {
      try {
        VectorIndex idx = load(path);
        inf.reason = "loaded";
        return idx;
      } catch (const std::exception& e) {
        inf.reason = std::string("unreadable: ") + e.what();
      }
    }
  } else {
    inf.reason = std::filesystem::exists(path) ? "unreadable: invalid header" : "missing";
  }
  inf.rebuilt = true;
  const Embeddings data = provider();
  VectorIndex idx = build(data, options);
  try {
    idx.save(path, content_key);
  } catch (const std::exception& e) {
    inf.save_error = e.what();
  }
  return idx;
}

}  // namespace clap::search
