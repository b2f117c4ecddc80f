// A window vector index for libraries larger than memory: the vectors are kept only as
// product-quantised codes in inverted lists (FAISS's IndexIVFPQ: `code_bytes` bytes per vector,
// 64 by default = 1/32 of 512 float32), and every search re-ranks a shortlist of candidates
// exactly, from the float32 vectors the caller fetches from the store. The scores it returns are
// therefore exact cosines (what the commands print); only which windows reach the shortlist is
// approximate (recall, measured by `clapsearch bench --scale`).
//
// Why IVF-PQ: at 20 M windows the float32 vectors are 41 GB and even 8-bit scalar quantisation
// is 10 GB; PQ codes of 64 bytes are 1.3 GB, and the exact re-rank needs only `shortlist`
// vectors per query from the store (one indexed read). Vectors are compared with L2 on the unit
// sphere (the same order as the cosine) because FAISS's PQ residual encoding is tuned for L2.
//
// Building never holds the library: train() on a sample (spread over the library), then add()
// batches as a store scan delivers them (Store::scan_window_embeddings). The build is
// reproducible: fixed seeds, training's OpenMP parts on one thread, vectors added in ascending
// id (adding encodes each vector on its own, so it runs on every thread: the same file bytes).
//
// A finer second code (`refine_bytes`, optional): the residual each vector keeps after its first
// code, product-quantised again and held in memory beside the lists. A search then takes a long
// list of candidates from the first codes (`refine`), ranks them again by both codes together,
// and hands only the best `shortlist` on to the exact re-rank. Why: at 20 M windows the exact
// re-rank reads its vectors from a table larger than the page cache (a disk read each), so the
// recall a 2,000-window shortlist bought cost 2.4 s at p99; the finer codes rank those
// candidates in memory, and far fewer reach the disk for the same recall.
//
// File: a magic, a JSON header (content key and build parameters, as VectorIndex files), the
// payload (FAISS's index, then the second code's codebooks and each list's second codes) and a
// checksum of it, verified before FAISS reads a byte (its reader trusts its input).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/embeddings.h"
#include "search/vector_index.h"

namespace faiss {
struct Index;
struct IndexIVFPQ;
struct ProductQuantizer;
struct IOWriter;
}

namespace clap::search {

struct CompressedIndexOptions {
  int nlist = 0;         // inverted lists; 0 = auto (resolve_compressed_nlist)
  int code_bytes = 64;   // PQ sub-quantisers of 8 bits each; must divide the dimension
  uint64_t seed = 1234;  // k-means sampling of the lists and the PQ codebooks
  // A learned rotation before the codes (FAISS's OPQ): spreads the variance evenly over the
  // sub-quantisers, so the same bytes rank the shortlist better; costs training time.
  bool opq = false;
  // Bytes of the second code (0 = none): sub-quantisers of 8 bits over the residual the first
  // code leaves; must divide the dimension. 64 doubles the codes' memory and ranks the
  // candidates about as well as 128-byte codes would.
  int refine_bytes = 0;
};

// Defaults as measured (`bench --scale`, 5 M windows in PostgreSQL, 2 cores): recall@10 is set
// by the shortlist, not the probes (0.81 / 0.95 / 0.99 at 200 / 500 / 1000 for nprobe 16 to 64),
// and 16 probes of 2,048 lists with a 1,000-window shortlist answered in 26 ms p50, 32 ms p99.
struct CompressedSearchParams {
  int nprobe = 16;       // lists scanned per query (clamped to nlist)
  int shortlist = 1000;  // candidates re-ranked exactly (at least k)
  // With a second code: candidates taken from the first codes and ranked again by both in
  // memory, of which the best `shortlist` go on (at least `shortlist`; ignored without a second
  // code; 0 = rank by the first codes alone).
  int refine = 4000;
};

// The list count for n vectors: sqrt(n) rounded to a power of two, in [16, 65536], and at most
// n / 39 (FAISS wants 39 training points per list).
int resolve_compressed_nlist(const CompressedIndexOptions& options, int64_t n);
// How many training vectors a build for n vectors samples: 64 per list (at least the 65,536 the
// PQ codebooks train on), at most n.
int64_t compressed_train_size(const CompressedIndexOptions& options, int64_t n);
// `count` ids out of `ids` (ascending), evenly spread over them: a deterministic training sample
// that covers the whole library whatever order it was indexed in.
std::vector<int64_t> spread_sample(const std::vector<int64_t>& ids, int64_t count);

// FAISS's ProductQuantizer::compute_codes, giving the same codes (tested), 2.4x faster for
// 8-bit codes (512 dimensions, 64 sub-quantisers): FAISS as Debian builds it (for any x86-64)
// measures each centroid in a scalar call of its own, which made encoding the bound of a
// 20 M-window build.
void pq_compute_codes(const faiss::ProductQuantizer& pq, int64_t n, const float* x, uint8_t* codes);

// The float32 vectors of the given ids (unit length; ids absent from the result are skipped).
using VectorFetch = std::function<Embeddings(const std::vector<int64_t>& ids)>;

class CompressedIndex {
 public:
  CompressedIndex();
  CompressedIndex(CompressedIndex&&) noexcept;
  CompressedIndex& operator=(CompressedIndex&&) noexcept;
  ~CompressedIndex();

  // Trains the lists and codebooks on `sample` for an index of about `expected_n` vectors.
  // Throws clap::Error on a bad sample or options.
  static CompressedIndex train(const Embeddings& sample, int64_t expected_n, const CompressedIndexOptions& options);
  // Encodes and adds a batch; ids must be unique, ascending, and larger than any added before.
  void add(const Embeddings& batch);
  // Keeps an index current as a library changes: removes `remove_ids` (ids it does not hold are
  // ignored), then adds `batch` (ids unique and ascending among themselves, but any ids: a
  // track re-embedded, or an id the store gave again). Returns how many were removed.
  int64_t update(const std::vector<int64_t>& remove_ids, const Embeddings& batch);

  // The approximate candidates of one query, nearest first (ties by id): `shortlist` of them
  // (with a second code: the best `shortlist` of `refine` by both codes).
  std::vector<int64_t> shortlist(const float* query, const CompressedSearchParams& params) const;
  // The k best of nq queries: each query's shortlist re-ranked by the exact inner product with
  // the vectors `fetch` returns, rows in (score desc, id asc) order; missing entries id -1.
  // Const: concurrent searches are safe as long as `fetch` is.
  SearchResult search(int64_t nq, const float* queries, int64_t k, const CompressedSearchParams& params,
                      const VectorFetch& fetch) const;

  // Written beside `path` and renamed over it. Throws clap::Error.
  void save(const std::string& path, int64_t content_key) const;
  // Throws clap::Error naming the file and the reason (missing, not an index, damaged).
  static CompressedIndex load(const std::string& path, IndexHeader* header = nullptr);

  int64_t size() const;
  int dim() const { return dim_; }
  int nlist() const;
  int code_bytes() const;
  int refine_bytes() const;
  const std::string& build_key() const { return build_key_; }
  // Bytes held: codes (both), ids, list centroids and codebooks.
  int64_t memory_bytes() const;

 private:
  std::unique_ptr<faiss::Index> index_;  // the IVF-PQ, or OPQ's rotation in front of it
  faiss::IndexIVFPQ* ivfpq_ = nullptr;   // the IVF-PQ inside index_
  // The second code: its codebooks (null = none) and, per list, one code per entry of that list
  // in the list's order (the lists are added to and compacted here, never by FAISS, so the two
  // stay in step).
  std::unique_ptr<faiss::ProductQuantizer> refine_pq_;
  std::vector<std::vector<uint8_t>> refine_codes_;
  int dim_ = 0;
  int64_t last_id_ = -1;
  std::string build_key_;

  // The vectors as the lists see them (OPQ's rotation applied; `x` itself without one).
  std::vector<float> rotated(int64_t n, const float* x) const;
  // Of n rotated vectors: their lists and first codes as FAISS's add computes them, and (if
  // `residuals`) what the codes leave of each vector.
  void encode(int64_t n, const float* x, int64_t* lists, uint8_t* codes, float* residuals) const;
  // Encodes n vectors (as given: rotated here) and appends them to their lists, both codes.
  void append(int64_t n, const float* x, const int64_t* ids);
  // The payload: FAISS's index, then the second code (its codebooks, each list's codes).
  // `faiss_bytes`: where FAISS's part ended (`sum` counts what `out` was given so far).
  void write_payload(faiss::IOWriter& out, uint64_t* faiss_bytes, const IndexPayloadChecksum& sum) const;
  // shortlist() with a second code.
  std::vector<int64_t> refined_shortlist(const float* query, const CompressedSearchParams& params) const;
  // Removes every entry whose id is in `sorted_ids` from the lists, both codes, keeping order.
  int64_t remove_sorted(const std::vector<int64_t>& sorted_ids);
};

}  // namespace clap::search
