#include "search/compressed_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/ProductQuantizer.h>
#include <faiss/impl/io.h>
#include <faiss/invlists/InvertedLists.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/error.h"
#include "core/regular_file.h"
#include "core/json_integer.h"
#include "core/output_file.h"
#include "search/faiss_io.h"
#include "search/file_header.h"
#include "search/kernels.h"

namespace clap::search {

namespace {

constexpr char kMagic[8] = {'C', 'L', 'A', 'P', 'C', 'I', 'D', 'X'};
// 1: FAISS's index alone. 2: then the second code (header: refine_bytes, faiss_bytes).
constexpr uint32_t kFormat = 2;

std::string build_key_of(int dim, int nlist, int code_bytes, int refine_bytes, uint64_t seed, bool opq) {
  return std::string(opq ? "opq+" : "") + "ivfpq d=" + std::to_string(dim) + " nlist=" + std::to_string(nlist) +
         " m=" + std::to_string(code_bytes) + "x8" +
         (refine_bytes > 0 ? " refine=" + std::to_string(refine_bytes) + "x8" : std::string()) +
         " seed=" + std::to_string(seed);
}

// Both codes' sub-quantisers split the vector the same way (8 dimensions each, as 64-byte codes
// of 512 dimensions do): the candidates' loop runs on registers.
constexpr size_t kSubDim = 8;

// |r - first - second|² of one candidate, r = query - its list's centroid. kDsub: both codes'
// sub-dimension when they share it (0: any, through `scratch`).
template <size_t kDsub>
float distance_by_both(const float* r, const faiss::ProductQuantizer& pq1, const uint8_t* code1,
                       const faiss::ProductQuantizer& pq2, const uint8_t* code2, float* scratch = nullptr) {
  if constexpr (kDsub > 0) {
    float acc[kDsub] = {};
    for (size_t m = 0; m < pq1.M; ++m) {
      const float* a = pq1.centroids.data() + (m * pq1.ksub + code1[m]) * kDsub;
      const float* b = pq2.centroids.data() + (m * pq2.ksub + code2[m]) * kDsub;
      for (size_t j = 0; j < kDsub; ++j) {
        const float e = r[m * kDsub + j] - a[j] - b[j];
        acc[j] += e * e;
      }
    }
    float d = 0;
    for (size_t j = 0; j < kDsub; ++j) d += acc[j];
    return d;
  } else {
    for (size_t m = 0; m < pq1.M; ++m) {
      const float* a = pq1.centroids.data() + (m * pq1.ksub + code1[m]) * pq1.dsub;
      for (size_t j = 0; j < pq1.dsub; ++j) scratch[m * pq1.dsub + j] = r[m * pq1.dsub + j] - a[j];
    }
    for (size_t m = 0; m < pq2.M; ++m) {
      const float* b = pq2.centroids.data() + (m * pq2.ksub + code2[m]) * pq2.dsub;
      for (size_t j = 0; j < pq2.dsub; ++j) scratch[m * pq2.dsub + j] -= b[j];
    }
    float d = 0;
    for (size_t i = 0; i < pq1.d; ++i) d += scratch[i] * scratch[i];
    return d;
  }
}

// The lists as this file edits them (FAISS's reader and constructor make these).
faiss::ArrayInvertedLists& array_lists(faiss::IndexIVFPQ* ivfpq) {
  auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivfpq->invlists);
  if (!lists) throw Error("compressed index: inverted lists of an unexpected kind");
  return *lists;
}

// The IVF-PQ of an index as FAISS reads or builds it (bare, or behind a rotation); null if neither.
faiss::IndexIVFPQ* ivfpq_of(faiss::Index* index) {
  if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) {
    // FAISS writes the rotation as a plain linear transform.
    if (pre->chain.size() != 1 || !dynamic_cast<faiss::LinearTransform*>(pre->chain[0])) return nullptr;
    return dynamic_cast<faiss::IndexIVFPQ*>(pre->index);
  }
  return dynamic_cast<faiss::IndexIVFPQ*>(index);
}

}  // namespace

int resolve_compressed_nlist(const CompressedIndexOptions& options, int64_t n) {
  if (options.nlist > 0) return options.nlist;
  int nlist = 16;
  while (nlist < 65536 && static_cast<double>(nlist) * 2 <= std::sqrt(static_cast<double>(std::max<int64_t>(n, 1))) * 1.41)
    nlist *= 2;
  while (nlist > 1 && nlist * int64_t{39} > n) nlist /= 2;
  return nlist;
}

int64_t compressed_train_size(const CompressedIndexOptions& options, int64_t n) {
  const int nlist = resolve_compressed_nlist(options, n);
  return std::min<int64_t>(n, std::max<int64_t>(int64_t{64} * nlist, 65536));
}

std::vector<int64_t> spread_sample(const std::vector<int64_t>& ids, int64_t count) {
  const int64_t n = static_cast<int64_t>(ids.size());
  if (count >= n) return ids;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(count, 0)));
  // Position i * n / count: exact integer arithmetic, so the sample never depends on rounding.
  for (int64_t i = 0; i < count; ++i) out.push_back(ids[static_cast<size_t>((static_cast<__int128>(i) * n) / count)]);
  return out;
}

void pq_compute_codes(const faiss::ProductQuantizer& pq, int64_t n, const float* x, uint8_t* codes) {
  if (pq.nbits != 8 || pq.ksub != 256) {
    pq.compute_codes(x, codes, static_cast<size_t>(n));
    return;
  }
  // The codebooks transposed (per sub-quantiser: dimension, then centroid), so that one
  // dimension of the sub-vector meets 256 centroids in a vectorisable loop. Each centroid's
  // distance still adds (x_j - c_j)² over j in ascending order from 0, as FAISS's scalar
  // fvec_L2sqr does, and the first smallest wins, as in its argmin: the same codes, bit for bit.
  const size_t M = pq.M, ds = pq.dsub, K = 256;
  std::vector<float> columns(M * ds * K);
  for (size_t m = 0; m < M; ++m)
    for (size_t k = 0; k < K; ++k)
      for (size_t j = 0; j < ds; ++j) columns[(m * ds + j) * K + k] = pq.centroids[(m * K + k) * ds + j];
#pragma omp parallel for schedule(static) if (n > 64)
  for (int64_t i = 0; i < n; ++i) {
    float distances[256];
    const float* xi = x + static_cast<size_t>(i) * pq.d;
    uint8_t* code = codes + static_cast<size_t>(i) * pq.code_size;
    for (size_t m = 0; m < M; ++m) {
      for (size_t k = 0; k < K; ++k) distances[k] = 0;
      for (size_t j = 0; j < ds; ++j) {
        const float v = xi[m * ds + j];
        const float* c = columns.data() + (m * ds + j) * K;
        for (size_t k = 0; k < K; ++k) {
          const float t = v - c[k];
          distances[k] += t * t;
        }
      }
      size_t best = 0;
      float best_distance = HUGE_VALF;
      for (size_t k = 0; k < K; ++k)
        if (distances[k] < best_distance) best_distance = distances[k], best = k;
      code[m] = static_cast<uint8_t>(best);
    }
  }
}

CompressedIndex::CompressedIndex() = default;
CompressedIndex::CompressedIndex(CompressedIndex&&) noexcept = default;
CompressedIndex& CompressedIndex::operator=(CompressedIndex&&) noexcept = default;
CompressedIndex::~CompressedIndex() = default;

CompressedIndex CompressedIndex::train(const Embeddings& sample, int64_t expected_n, const CompressedIndexOptions& options) {
  sample.check("compressed index training sample");
  const int dim = sample.dim;
  if (dim <= 0) throw Error("compressed index: empty training sample");
  if (options.code_bytes <= 0 || dim % options.code_bytes != 0)
    throw Error("compressed index: " + std::to_string(options.code_bytes) + " code bytes do not divide dimension " +
                std::to_string(dim));
  if (options.refine_bytes < 0 || (options.refine_bytes > 0 && dim % options.refine_bytes != 0))
    throw Error("compressed index: " + std::to_string(options.refine_bytes) + " second-code bytes do not divide dimension " +
                std::to_string(dim));
  const int nlist = resolve_compressed_nlist(options, std::max(expected_n, sample.size()));
  // FAISS needs 39 points per list and 256 per PQ centroid (it warns below, and fails below 256).
  if (sample.size() < std::max<int64_t>(int64_t{39} * nlist, 256))
    throw Error("compressed index: " + std::to_string(sample.size()) + " training vectors are too few for " +
                std::to_string(nlist) + " lists (need " + std::to_string(std::max<int64_t>(int64_t{39} * nlist, 256)) + ")");
  CompressedIndex out;
  out.dim_ = dim;
  out.build_key_ = build_key_of(dim, nlist, options.code_bytes, options.refine_bytes, options.seed, options.opq);
  auto* quantizer = new faiss::IndexFlatL2(dim);
  auto ivfpq = std::make_unique<faiss::IndexIVFPQ>(quantizer, dim, nlist, options.code_bytes, 8, faiss::METRIC_L2);
  ivfpq->own_fields = true;
  ivfpq->cp.seed = static_cast<int>(options.seed);
  ivfpq->pq.cp.seed = static_cast<int>(options.seed);
  // FAISS prints a warning on stderr below 39 points per PQ centroid (a library under 10,000
  // windows); it changes nothing else, and the re-rank is exact whatever the codes' quality.
  ivfpq->pq.cp.min_points_per_centroid = 1;
  // No precomputed distance table: it would cost nlist × 64 KB (268 MB at 4096 lists) to save
  // a few microseconds per probed list.
  ivfpq->use_precomputed_table = -1;
  out.ivfpq_ = ivfpq.get();
  if (options.opq) {
    auto* opq = new faiss::OPQMatrix(dim, options.code_bytes);
    auto pre = std::make_unique<faiss::IndexPreTransform>(opq, ivfpq.release());
    pre->own_fields = true;
    out.index_ = std::move(pre);
  } else {
    out.index_ = std::move(ivfpq);
  }
  SingleThreadScope single;  // k-means: reproducible on any thread count
  try {
    out.index_->train(sample.size(), sample.data.data());
    if (options.refine_bytes > 0) {
      // The second code learns what the first leaves: the sample's residuals after its codes.
      const int64_t n = sample.size();
      const std::vector<float> x = out.rotated(n, sample.data.data());
      std::vector<int64_t> lists(static_cast<size_t>(n));
      std::vector<uint8_t> codes(static_cast<size_t>(n) * out.ivfpq_->code_size);
      std::vector<float> residuals(static_cast<size_t>(n) * dim);
      out.encode(n, x.data(), lists.data(), codes.data(), residuals.data());
      out.refine_pq_ = std::make_unique<faiss::ProductQuantizer>(dim, options.refine_bytes, 8);
      out.refine_pq_->cp.seed = static_cast<int>(options.seed);
      out.refine_pq_->cp.min_points_per_centroid = 1;
      out.refine_pq_->train(static_cast<size_t>(n), residuals.data());
      out.refine_codes_.assign(static_cast<size_t>(nlist), {});
    }
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("compressed index: FAISS training failed: ") + e.what());
  }
  return out;
}

std::vector<float> CompressedIndex::rotated(int64_t n, const float* x) const {
  auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index_.get());
  if (!pre) return std::vector<float>(x, x + n * dim_);
  const float* xt = pre->apply_chain(n, x);
  std::vector<float> out(xt, xt + n * dim_);
  if (xt != x) delete[] xt;
  return out;
}

void CompressedIndex::encode(int64_t n, const float* x, int64_t* lists, uint8_t* codes,
                             float* residuals) const {
  // As FAISS's own add (IndexIVFPQ::encode_vectors): the nearest list, then the PQ code of the
  // vector minus the list's centroid, with pq_compute_codes for FAISS's encoder (the same codes).
  ivfpq_->quantizer->assign(n, x, lists);
  std::vector<float> own(residuals ? 0 : static_cast<size_t>(n) * dim_);
  float* r = residuals ? residuals : own.data();
  ivfpq_->quantizer->compute_residual_n(n, x, r, lists);
  pq_compute_codes(ivfpq_->pq, n, r, codes);
  if (!residuals) return;
  std::vector<float> decoded(static_cast<size_t>(n) * dim_);
  ivfpq_->pq.decode(codes, decoded.data(), static_cast<size_t>(n));
  for (size_t i = 0; i < decoded.size(); ++i) residuals[i] -= decoded[i];
}

void CompressedIndex::append(int64_t n, const float* x, const int64_t* ids) {
  const std::vector<float> xr = rotated(n, x);
  std::vector<int64_t> lists(static_cast<size_t>(n));
  const size_t code_size = ivfpq_->code_size;
  std::vector<uint8_t> codes(static_cast<size_t>(n) * code_size);
  std::vector<float> residuals(refine_pq_ ? static_cast<size_t>(n) * dim_ : 0);
  encode(n, xr.data(), lists.data(), codes.data(), refine_pq_ ? residuals.data() : nullptr);
  std::vector<uint8_t> second;
  const size_t refine_size = refine_pq_ ? refine_pq_->code_size : 0;
  if (refine_pq_) {
    second.resize(static_cast<size_t>(n) * refine_size);
    pq_compute_codes(*refine_pq_, n, residuals.data(), second.data());
  }
  // Everything computed and checked: now the lists change, in the batch's order.
  faiss::ArrayInvertedLists& inv = array_lists(ivfpq_);
  for (const int64_t list : lists)
    if (list < 0 || static_cast<size_t>(list) >= inv.nlist) throw Error("compressed index: a vector was assigned no list");
  for (int64_t i = 0; i < n; ++i) {
    const size_t list = static_cast<size_t>(lists[static_cast<size_t>(i)]);
    inv.add_entry(list, ids[i], codes.data() + static_cast<size_t>(i) * code_size);
    if (refine_pq_) {
      const uint8_t* c = second.data() + static_cast<size_t>(i) * refine_size;
      refine_codes_[list].insert(refine_codes_[list].end(), c, c + refine_size);
    }
  }
  ivfpq_->ntotal += n;
  if (index_.get() != ivfpq_) index_->ntotal += n;
}

int64_t CompressedIndex::remove_sorted(const std::vector<int64_t>& sorted_ids) {
  if (sorted_ids.empty()) return 0;
  faiss::ArrayInvertedLists& inv = array_lists(ivfpq_);
  const size_t code_size = ivfpq_->code_size;
  const size_t refine_size = refine_pq_ ? refine_pq_->code_size : 0;
  int64_t removed = 0;
  for (size_t l = 0; l < inv.nlist; ++l) {
    std::vector<faiss::Index::idx_t>& ids = inv.ids[l];
    std::vector<uint8_t>& codes = inv.codes[l];
    size_t kept = 0;
    for (size_t r = 0; r < ids.size(); ++r) {
      if (std::binary_search(sorted_ids.begin(), sorted_ids.end(), ids[r])) continue;
      if (kept != r) {
        ids[kept] = ids[r];
        std::memcpy(codes.data() + kept * code_size, codes.data() + r * code_size, code_size);
        if (refine_size)
          std::memcpy(refine_codes_[l].data() + kept * refine_size, refine_codes_[l].data() + r * refine_size, refine_size);
      }
      ++kept;
    }
    removed += static_cast<int64_t>(ids.size() - kept);
    ids.resize(kept);
    codes.resize(kept * code_size);
    if (refine_size) refine_codes_[l].resize(kept * refine_size);
  }
  ivfpq_->ntotal -= removed;
  if (index_.get() != ivfpq_) index_->ntotal -= removed;
  return removed;
}

void CompressedIndex::add(const Embeddings& batch) {
  if (!index_) throw Error("compressed index: add before train");
  batch.check("compressed index batch");
  if (batch.size() == 0) return;
  if (batch.dim != dim_)
    throw Error("compressed index: batch of dimension " + std::to_string(batch.dim) + ", index " + std::to_string(dim_));
  for (int64_t i = 0, prev = last_id_; i < batch.size(); prev = batch.ids[i++])
    if (batch.ids[i] <= prev)
      throw Error("compressed index: ids must ascend (" + std::to_string(batch.ids[i]) + " after " +
                  std::to_string(prev) + ")");
  // Each vector's list and code depend on that vector alone, so adding runs on every thread and
  // still gives the same index (the lists keep the order of the ids).
  try {
    append(batch.size(), batch.data.data(), batch.ids.data());
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("compressed index: FAISS add failed: ") + e.what());
  }
  last_id_ = batch.ids.back();  // only once added: a refused batch leaves the index as it was
}

int64_t CompressedIndex::update(const std::vector<int64_t>& remove_ids, const Embeddings& batch) {
  if (!index_) throw Error("compressed index: update before train");
  batch.check("compressed index batch");
  if (batch.size() > 0 && batch.dim != dim_)
    throw Error("compressed index: batch of dimension " + std::to_string(batch.dim) + ", index " + std::to_string(dim_));
  for (int64_t i = 1; i < batch.size(); ++i)
    if (batch.ids[i] <= batch.ids[i - 1])
      throw Error("compressed index: ids must ascend (" + std::to_string(batch.ids[i]) + " after " +
                  std::to_string(batch.ids[i - 1]) + ")");
  int64_t removed = 0;
  try {
    std::vector<int64_t> sorted = remove_ids;
    std::sort(sorted.begin(), sorted.end());
    removed = remove_sorted(sorted);
    if (batch.size() > 0) append(batch.size(), batch.data.data(), batch.ids.data());
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("compressed index: FAISS update failed: ") + e.what());
  }
  if (batch.size() > 0) last_id_ = std::max(last_id_, batch.ids.back());
  return removed;
}

std::vector<int64_t> CompressedIndex::shortlist(const float* query, const CompressedSearchParams& params) const {
  std::vector<int64_t> out;
  if (!index_ || index_->ntotal == 0) return out;
  if (refine_pq_ && params.refine > 0) return refined_shortlist(query, params);
  const int64_t n = std::min<int64_t>(std::max(params.shortlist, 1), index_->ntotal);
  std::vector<float> distances(static_cast<size_t>(n));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(n));
  faiss::SearchParametersIVF p;
  p.nprobe = static_cast<size_t>(std::clamp(params.nprobe, 1, nlist()));  // IndexPreTransform passes it on
  try {
    index_->search(1, query, n, distances.data(), labels.data(), &p);
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("compressed index: FAISS search failed: ") + e.what());
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return distances[a] != distances[b] ? distances[a] < distances[b] : labels[a] < labels[b];
  });
  for (int64_t i : order)
    if (labels[i] >= 0) out.push_back(labels[i]);
  return out;
}

std::vector<int64_t> CompressedIndex::refined_shortlist(const float* query, const CompressedSearchParams& params) const {
  const int64_t want = std::min<int64_t>(std::max(params.shortlist, 1), index_->ntotal);
  const int64_t n = std::min<int64_t>(std::max<int64_t>(params.refine, want), index_->ntotal);
  const int nprobe = std::clamp(params.nprobe, 1, nlist());
  const std::vector<float> q = rotated(1, query);
  // The first codes' candidates as (list, offset) pairs, so that both codes can be found.
  std::vector<float> probe_distances(static_cast<size_t>(nprobe));
  std::vector<faiss::Index::idx_t> probes(static_cast<size_t>(nprobe));
  std::vector<float> distances(static_cast<size_t>(n));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(n));
  faiss::SearchParametersIVF p;
  p.nprobe = static_cast<size_t>(nprobe);
  try {
    ivfpq_->quantizer->search(1, q.data(), nprobe, probe_distances.data(), probes.data());
    ivfpq_->search_preassigned(1, q.data(), n, probes.data(), probe_distances.data(), distances.data(), labels.data(),
                               /*store_pairs=*/true, &p);
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("compressed index: FAISS search failed: ") + e.what());
  }
  // Each candidate again, by its reconstruction from both codes: q - centroid - first - second.
  const faiss::ArrayInvertedLists& inv = array_lists(ivfpq_);
  std::vector<std::pair<int64_t, std::vector<float>>> centroid_residuals;  // per probed list: q - centroid
  for (const auto list : probes) {
    if (list < 0) continue;
    std::vector<float> r(static_cast<size_t>(dim_));
    ivfpq_->quantizer->compute_residual(q.data(), r.data(), list);
    centroid_residuals.emplace_back(list, std::move(r));
  }
  // Decoded in place (a centroid row of each sub-quantiser, as ProductQuantizer::decode copies
  // them): this loop runs for thousands of candidates per query.
  const faiss::ProductQuantizer& pq1 = ivfpq_->pq;
  const faiss::ProductQuantizer& pq2 = *refine_pq_;
  std::vector<std::pair<float, int64_t>> ranked;  // (distance by both codes, id)
  ranked.reserve(static_cast<size_t>(n));
  const bool same_split = pq1.dsub == kSubDim && pq2.dsub == kSubDim;
  std::vector<float> e(static_cast<size_t>(dim_));
  for (const auto label : labels) {
    if (label < 0) continue;
    const int64_t list = label >> 32;
    const size_t offset = static_cast<size_t>(label & 0xffffffff);
    const auto cr = std::find_if(centroid_residuals.begin(), centroid_residuals.end(),
                                 [list](const auto& c) { return c.first == list; });
    if (cr == centroid_residuals.end()) continue;  // FAISS names only probed lists
    const uint8_t* code1 = inv.codes[static_cast<size_t>(list)].data() + offset * pq1.code_size;
    const uint8_t* code2 = refine_codes_[static_cast<size_t>(list)].data() + offset * pq2.code_size;
    const float d = same_split ? distance_by_both<kSubDim>(cr->second.data(), pq1, code1, pq2, code2)
                               : distance_by_both<0>(cr->second.data(), pq1, code1, pq2, code2, e.data());
    ranked.emplace_back(d, inv.ids[static_cast<size_t>(list)][offset]);
  }
  const size_t take = std::min(ranked.size(), static_cast<size_t>(want));
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(take), ranked.end());
  std::vector<int64_t> out;
  out.reserve(take);
  for (size_t i = 0; i < take; ++i) out.push_back(ranked[i].second);
  return out;
}

SearchResult CompressedIndex::search(int64_t nq, const float* queries, int64_t k, const CompressedSearchParams& params,
                                     const VectorFetch& fetch) const {
  SearchResult r;
  r.nq = nq;
  r.k = std::max<int64_t>(k, 0);
  r.scores.assign(static_cast<size_t>(nq * r.k), -std::numeric_limits<float>::infinity());
  r.ids.assign(static_cast<size_t>(nq * r.k), -1);
  CompressedSearchParams p = params;
  p.shortlist = static_cast<int>(std::max<int64_t>(p.shortlist, r.k));
  for (int64_t q = 0; q < nq; ++q) {
    const float* query = queries + q * dim_;
    const Embeddings exact = fetch(shortlist(query, p));
    exact.check("compressed index re-rank vectors");
    if (exact.size() > 0 && exact.dim != dim_)
      throw Error("compressed index: fetched vectors of dimension " + std::to_string(exact.dim) + ", index " +
                  std::to_string(dim_));
    std::vector<float> scores(static_cast<size_t>(exact.size()));
    score_rows(1, query, exact.data.data(), nullptr, exact.size(), dim_, scores.data());
    std::vector<int64_t> order(static_cast<size_t>(exact.size()));
    std::iota(order.begin(), order.end(), 0);
    const int64_t take = std::min<int64_t>(r.k, exact.size());
    std::partial_sort(order.begin(), order.begin() + take, order.end(), [&](int64_t a, int64_t b) {
      return scores[a] != scores[b] ? scores[a] > scores[b] : exact.ids[a] < exact.ids[b];
    });
    for (int64_t i = 0; i < take; ++i) {
      r.scores[q * r.k + i] = scores[order[i]];
      r.ids[q * r.k + i] = exact.ids[order[i]];
    }
  }
  return r;
}

// --- file ------------------------------------------------------------------------------------

namespace {

// FAISS serialises through these. Saving runs its writer twice - once to learn the payload's
// size and checksum for the header, once into the file - and loading checks the checksum in a
// first pass over the file before FAISS reads it in a second: a 1.4 GB index (20 M windows) is
// never held twice in memory, as a payload buffer would.
struct CountingWriter : faiss::IOWriter {
  IndexPayloadChecksum sum;
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    sum.update(ptr, size * nitems);
    return nitems;
  }
};

// Reads at most `limit` bytes from `in`, so FAISS cannot read past the payload into the checksum.
struct BoundedReader : faiss::IOReader {
  std::ifstream& in;
  uint64_t left;
  BoundedReader(std::ifstream& stream, uint64_t limit) : in(stream), left(limit) {}
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0 || nitems == 0) return 0;
    const uint64_t want = std::min<uint64_t>(nitems, left / size);
    if (want == 0) return 0;
    in.read(static_cast<char*>(ptr), static_cast<std::streamsize>(want * size));
    const uint64_t got = static_cast<uint64_t>(in.gcount()) / size;
    left -= got * size;
    return static_cast<size_t>(got);
  }
};

}  // namespace

void CompressedIndex::write_payload(faiss::IOWriter& out, uint64_t* faiss_bytes, const IndexPayloadChecksum& sum) const {
  faiss::write_index(index_.get(), &out);
  if (faiss_bytes) *faiss_bytes = sum.bytes();
  if (!refine_pq_) return;
  faiss::write_ProductQuantizer(refine_pq_.get(), &out);
  for (const std::vector<uint8_t>& codes : refine_codes_) {
    const uint64_t size = codes.size();
    out(&size, sizeof size, 1);
    if (size > 0) out(codes.data(), 1, codes.size());
  }
}

void CompressedIndex::save(const std::string& path, int64_t content_key) const {
  if (!index_) throw Error("compressed index: nothing to save to " + path);
  CountingWriter counted;
  uint64_t faiss_bytes = 0;
  try {
    write_payload(counted, &faiss_bytes, counted.sum);
  } catch (const faiss::FaissException& e) {
    throw Error("cannot write compressed index " + path + ": " + e.what());
  }
  nlohmann::json h;
  h["format"] = kFormat;
  h["content_key"] = content_key;
  h["dim"] = dim_;
  h["n"] = size();
  h["last_id"] = last_id_;
  h["build_key"] = build_key_;
  h["payload_bytes"] = counted.sum.bytes();
  h["faiss_bytes"] = faiss_bytes;
  h["refine_bytes"] = refine_bytes();
  OutputFile::remove_stale_temporaries(path);
  OutputFile f(path, OutputFile::Target::Derived);  // a FIFO at the name never blocks the write
  write_file_header(f, kMagic, h);
  ChecksumFileWriter writer(f);
  try {
    write_payload(writer, nullptr, writer.sum);
  } catch (const faiss::FaissException& e) {
    throw Error("cannot write compressed index " + path + ": " + e.what());
  }
  const uint64_t sum = writer.sum.finish();
  if (writer.sum.bytes() != counted.sum.bytes() || sum != counted.sum.finish())
    throw Error("cannot write compressed index " + path + ": FAISS serialised it differently twice");
  f.write(&sum, sizeof sum);
  f.commit();
}

CompressedIndex CompressedIndex::load(const std::string& path, IndexHeader* header) {
  if (!is_regular_file_safely(path)) throw Error("cannot open compressed index " + path + ": " + open_error(errno));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open compressed index " + path + ": " + std::strerror(errno));
  auto damaged = [&path](const std::string& why) { return Error("compressed index " + path + " is damaged: " + why); };
  const nlohmann::json j = read_file_header(in, kMagic, 1u << 20, path + " is not a clapsearch compressed index", damaged);
  CompressedIndex out;
  IndexHeader h;
  int64_t payload_bytes = 0, faiss_bytes = 0;
  int refine_bytes = 0;
  try {
    const int format = json_integer_field<int>(j, "format");
    if (format != 1 && format != static_cast<int>(kFormat)) throw std::runtime_error("unknown format");
    h.format = static_cast<uint32_t>(format);
    h.content_key = json_integer_field<int64_t>(j, "content_key");
    h.dim = json_integer_field<int>(j, "dim");
    h.n = json_integer_field<int64_t>(j, "n");
    h.build_key = j.at("build_key").get<std::string>();
    h.trained_n = h.n;
    out.last_id_ = json_integer_field<int64_t>(j, "last_id");
    payload_bytes = json_integer_field<int64_t>(j, "payload_bytes");
    faiss_bytes = format == 1 ? payload_bytes : json_integer_field<int64_t>(j, "faiss_bytes");
    refine_bytes = format == 1 ? 0 : json_integer_field<int>(j, "refine_bytes");
  } catch (const std::exception& e) {
    throw damaged(std::string("header: ") + e.what());
  }
  if (faiss_bytes < 0 || faiss_bytes > payload_bytes || refine_bytes < 0 || (refine_bytes == 0) != (faiss_bytes == payload_bytes))
    throw damaged("header: inconsistent sizes");
  const std::streamoff start = in.tellg();
  in.seekg(0, std::ios::end);
  const int64_t rest = static_cast<int64_t>(in.tellg() - start);
  if (payload_bytes < 0 || rest != payload_bytes + 8) throw damaged("size does not match its header");
  // Pass 1: the checksum, a chunk at a time.
  in.seekg(start);
  IndexPayloadChecksum sum;
  std::vector<char> chunk(size_t{1} << 20);
  for (int64_t left = payload_bytes; left > 0;) {
    const auto n = static_cast<std::streamsize>(std::min<int64_t>(left, static_cast<int64_t>(chunk.size())));
    if (!in.read(chunk.data(), n)) throw damaged("truncated");
    sum.update(chunk.data(), static_cast<size_t>(n));
    left -= n;
  }
  uint64_t stored = 0;
  if (!in.read(reinterpret_cast<char*>(&stored), 8)) throw damaged("truncated");
  if (sum.finish() != stored) throw damaged("checksum mismatch");
  // Pass 2: FAISS reads the payload it now knows is the one written.
  in.seekg(start);
  BoundedReader reader(in, static_cast<uint64_t>(faiss_bytes));
  try {
    out.index_.reset(faiss::read_index(&reader, faiss::IO_FLAG_SKIP_PRECOMPUTE_TABLE));
  } catch (const faiss::FaissException& e) {
    throw damaged(e.what());
  }
  out.ivfpq_ = ivfpq_of(out.index_.get());
  if (!out.ivfpq_) throw damaged("not an IVF-PQ payload");
  if (reader.left != 0) throw damaged("payload longer than its index");
  if (out.index_->d != h.dim || out.index_->ntotal != h.n) throw damaged("payload disagrees with its header");
  if (!dynamic_cast<faiss::ArrayInvertedLists*>(out.ivfpq_->invlists)) throw damaged("inverted lists of an unexpected kind");
  out.dim_ = h.dim;
  if (refine_bytes > 0) {
    BoundedReader second(in, static_cast<uint64_t>(payload_bytes - faiss_bytes));
    try {
      out.refine_pq_.reset(faiss::read_ProductQuantizer(&second));
    } catch (const faiss::FaissException& e) {
      throw damaged(std::string("second code: ") + e.what());
    }
    const faiss::ProductQuantizer& pq = *out.refine_pq_;
    if (pq.d != static_cast<size_t>(h.dim) || pq.M != static_cast<size_t>(refine_bytes) || pq.nbits != 8 ||
        pq.code_size != static_cast<size_t>(refine_bytes) || pq.centroids.size() != pq.M * pq.ksub * pq.dsub)
      throw damaged("second code disagrees with its header");
    const faiss::ArrayInvertedLists& inv = array_lists(out.ivfpq_);
    out.refine_codes_.assign(inv.nlist, {});
    for (size_t l = 0; l < inv.nlist; ++l) {
      uint64_t size = 0;
      if (second(&size, sizeof size, 1) != 1 || size != inv.ids[l].size() * pq.code_size)
        throw damaged("second codes disagree with list " + std::to_string(l));
      out.refine_codes_[l].resize(size);
      if (size > 0 && second(out.refine_codes_[l].data(), 1, size) != size) throw damaged("truncated second codes");
    }
    if (second.left != 0) throw damaged("payload longer than its second codes");
  }
  out.build_key_ = h.build_key;
  out.ivfpq_->use_precomputed_table = -1;
  if (header) *header = h;
  return out;
}

int64_t CompressedIndex::size() const { return index_ ? index_->ntotal : 0; }
int CompressedIndex::nlist() const { return ivfpq_ ? static_cast<int>(ivfpq_->nlist) : 0; }
int CompressedIndex::code_bytes() const { return ivfpq_ ? static_cast<int>(ivfpq_->code_size) : 0; }
int CompressedIndex::refine_bytes() const { return refine_pq_ ? static_cast<int>(refine_pq_->code_size) : 0; }

int64_t CompressedIndex::memory_bytes() const {
  if (!ivfpq_) return 0;
  const int64_t n = ivfpq_->ntotal;
  const int64_t lists = n * (static_cast<int64_t>(ivfpq_->code_size) + static_cast<int64_t>(sizeof(faiss::Index::idx_t)));
  const int64_t centroids = static_cast<int64_t>(ivfpq_->nlist) * dim_ * 4;
  const int64_t codebooks = static_cast<int64_t>(ivfpq_->pq.centroids.size()) * 4;
  const int64_t rotation = index_.get() != ivfpq_ ? int64_t{4} * dim_ * dim_ : 0;
  int64_t second = 0;
  if (refine_pq_) {
    second = static_cast<int64_t>(refine_pq_->centroids.size()) * 4;
    for (const std::vector<uint8_t>& codes : refine_codes_) second += static_cast<int64_t>(codes.size());
  }
  return lists + centroids + codebooks + rotation + second;
}

}  // namespace clap::search
