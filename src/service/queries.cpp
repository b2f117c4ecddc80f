#include "service/queries.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "core/error.h"

namespace clap::service {

namespace {

// The first k (<= 0: all) results of a ranking that the rules allow, in rank order: outside the
// allowed tracks and beyond the caps dropped.
template <class R, class IdOf>
std::vector<R> keep_allowed(const LibrarySnapshot& snap, const ResultRules& rules, const AllowedTracks& allowed, int64_t k,
                            std::vector<R> list, IdOf id_of) {
  ResultCaps caps(rules.per_artist, rules.per_album);
  std::vector<R> out;
  for (R& r : list) {
    if (k > 0 && static_cast<int64_t>(out.size()) == k) break;
    const int64_t id = id_of(r);
    if (!allowed.contains(id)) continue;
    if (rules.capped()) {
      const store::Track* t = snap.track(id);
      if (!t || !caps.take(*t)) continue;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// A ranking under the rules (service/filters.h): `rank(n)` ranks the whole library (at most n
// results; n <= 0 = every track), `exact(n)` only the allowed tracks. The exact ranking when the
// allowed set is small; otherwise the library's ranking asked for more, then filtered, and the
// exact one when that left fewer than k (a filter) or asked for more again (caps alone).
template <class R, class IdOf>
std::vector<R> rank_by_rules(const LibrarySnapshot& snap, const ResultRules& rules, const AllowedTracks& allowed, int64_t k,
                             const std::function<std::vector<R>(int64_t)>& rank,
                             const std::function<std::vector<R>(int64_t)>& exact, IdOf id_of) {
  // With caps the list beyond k decides which tracks fill in, so the exact ranking ranks them all.
  const int64_t exact_n = rules.capped() ? 0 : k;
  if (allowed.exact()) return keep_allowed(snap, rules, allowed, k, exact(exact_n), id_of);
  if (k <= 0) return keep_allowed(snap, rules, allowed, k, rank(0), id_of);
  const auto library = static_cast<int64_t>(snap.tracks().size());
  for (int64_t n = std::min(library, k * allowed.enlargement() * 2 + 16);; n = std::min(library, n * 4)) {
    std::vector<R> list = rank(n);
    const bool exhausted = static_cast<int64_t>(list.size()) < n || n >= library;
    std::vector<R> out = keep_allowed(snap, rules, allowed, k, std::move(list), id_of);
    if (static_cast<int64_t>(out.size()) >= k || (allowed.all && exhausted)) return out;
    if (!allowed.all) return keep_allowed(snap, rules, allowed, k, exact(exact_n), id_of);
  }
}

int64_t track_id_of(const search::TrackScore& r) { return r.track_id; }
int64_t hit_id_of(const search::Hit& h) { return h.id; }

// The catalog track indices of the allowed tracks (memory mode).
std::vector<int64_t> allowed_indices(const search::Catalog& catalog, const AllowedTracks& allowed) {
  std::vector<int64_t> out;
  for (int64_t id : allowed.ids)
    if (const int64_t t = catalog.track_index(id); t >= 0) out.push_back(t);
  return out;
}

// The rows of `tracks` whose ids are allowed, `leave_out` (-1: none) left out.
Embeddings allowed_rows(const Embeddings& tracks, const AllowedTracks& allowed, int64_t leave_out) {
  return subset_rows(tracks, [&](int64_t id) { return id != leave_out && allowed.contains(id); });
}

// A longer shortlist in compressed mode while a filter leaves windows out (at most 8x: beyond,
// the exact fallback is cheaper than reading more candidates).
int64_t filtered_shortlist(int64_t shortlist, const AllowedTracks& allowed) {
  return shortlist * std::min<int64_t>(8, allowed.enlargement());
}

}  // namespace

std::vector<std::vector<search::TrackScore>> search_texts(Library& lib, const LibrarySnapshot& snap,
                                                          const std::vector<std::string>& texts,
                                                          const search::TextSearchOptions& options,
                                                          const ResultRules& rules) {
  check_rules(rules);
  if (snap.compressed()) snap.quantized_tracks();  // throws when nothing is searchable
  else snap.text_searcher();
  const std::vector<float> emb = lib.embed_texts(texts);
  return search_vectors(snap, static_cast<int64_t>(texts.size()), emb.data(), lib.dim(), options, rules);
}

std::vector<std::vector<search::TrackScore>> search_vectors(const LibrarySnapshot& snap, int64_t nq, const float* emb,
                                                            int64_t dim, const search::TextSearchOptions& options,
                                                            const ResultRules& rules) {
  check_rules(rules);
  if (snap.compressed()) {
    const search::QuantizedTracks& tracks = snap.quantized_tracks();  // throws when nothing is searchable
    const int64_t shortlist = snap.compressed_params().shortlist;
    if (rules.empty())
      return search::text_search_source(tracks, snap.centroid_norms(), snap.window_source(), nq, emb, options, shortlist);
    const AllowedTracks allowed = allowed_tracks(snap.tracks(), rules);
    std::optional<search::Catalog> subset;  // the allowed tracks' windows, read once for every text
    std::vector<std::vector<search::TrackScore>> out;
    // Mean: the filter chooses the candidates among the 8-bit track embeddings in memory, and
    // only the best candidates' windows are read (reading every allowed track's windows from the
    // store took 1.5 s for a 1 % filter over 1 M windows; docs/performance.md).
    const bool mean = options.aggregate == search::Aggregate::Mean && !allowed.all;
    const auto mean_allowed = [&](int64_t n, const float* query) {
      search::TextSearchOptions o = options;
      o.k = n;
      return search::text_search_source(tracks, snap.centroid_norms(), snap.window_source(), 1, query, o, shortlist,
                                        [&allowed](int64_t id) { return allowed.contains(id); })[0];
    };
    for (int64_t q = 0; q < nq; ++q) {
      const float* query = emb + q * dim;
      if (mean) {
        // The list is the allowed tracks' exact ranking: caps alone may need more of it.
        for (int64_t n = rules.capped() && options.k > 0 ? options.k * 2 + 16 : options.k;; n *= 4) {
          std::vector<search::TrackScore> list = mean_allowed(n, query);
          const bool exhausted = n <= 0 || static_cast<int64_t>(list.size()) < n;
          std::vector<search::TrackScore> kept = keep_allowed(snap, rules, allowed, options.k, std::move(list), track_id_of);
          if (exhausted || static_cast<int64_t>(kept.size()) >= options.k) {
            out.push_back(std::move(kept));
            break;
          }
        }
        continue;
      }
      out.push_back(rank_by_rules<search::TrackScore>(
          snap, rules, allowed, options.k,
          [&](int64_t n) {
            search::TextSearchOptions o = options;
            o.k = n;
            return search::text_search_source(tracks, snap.centroid_norms(), snap.window_source(), 1, query, o,
                                              filtered_shortlist(shortlist, allowed))[0];
          },
          [&](int64_t n) {
            if (allowed.ids.empty()) return std::vector<search::TrackScore>{};
            if (!subset) subset.emplace(snap.window_source().track_windows(allowed.ids));
            search::TextSearchOptions o = options;
            o.k = n;
            return search::text_search_exhaustive(*subset, 1, query, o)[0];
          },
          track_id_of));
    }
    return out;
  }
  const search::TextSearcher& searcher = snap.text_searcher();  // throws when nothing is searchable
  const search::VectorIndex* index = options.aggregate == search::Aggregate::Max ? &snap.window_index() : nullptr;
  if (rules.empty()) return searcher.search(nq, emb, options, index);
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), rules);
  const std::vector<int64_t> indices = allowed.all ? std::vector<int64_t>{} : allowed_indices(snap.catalog(), allowed);
  std::vector<std::vector<search::TrackScore>> out;
  for (int64_t q = 0; q < nq; ++q) {
    const float* query = emb + q * dim;
    out.push_back(rank_by_rules<search::TrackScore>(
        snap, rules, allowed, options.k,
        [&](int64_t n) {
          search::TextSearchOptions o = options;
          o.k = n;
          return searcher.search(1, query, o, index)[0];
        },
        [&](int64_t n) {
          search::TextSearchOptions o = options;
          o.k = n;
          return search::text_search_tracks(snap.catalog(), indices, 1, query, o)[0];
        },
        track_id_of));
  }
  return out;
}

search::QueryChunks track_query_chunks(const LibrarySnapshot& snap, const store::Track& track) {
  if (snap.compressed()) {
    WindowTable rows = snap.window_source().track_windows({track.id});
    if (rows.size() == 0) throw Error(track.path + ": has no searchable windows in the index");
    return search::track_chunks(search::Catalog(std::move(rows)), track.id);
  }
  const search::Catalog& catalog = snap.catalog();
  if (catalog.track_index(track.id) < 0) throw Error(track.path + ": has no searchable windows in the index");
  return search::track_chunks(catalog, track.id);
}

search::QueryChunks file_query_chunks(Library& lib, const std::string& path, double chunk_s, double hop_s,
                                      double max_duration_s, bool untrusted) {
  const FileWindows fw = lib.embed_file(path, chunk_s, hop_s, max_duration_s, untrusted);
  search::QueryChunks chunks;
  chunks.dim = fw.dim;
  chunks.embeddings = fw.embeddings;
  chunks.starts = fw.starts;
  chunks.ends = fw.ends;
  chunks.silent = fw.silent;
  return chunks;
}

std::vector<search::LikeResult> like(const LibrarySnapshot& snap, const search::QueryChunks& chunks,
                                     const search::LikeOptions& options, const ResultRules& rules) {
  check_rules(rules);
  if (rules.empty()) {
    if (snap.compressed()) {
      snap.quantized_tracks();  // throws when nothing is searchable
      return search::like_source(snap.window_source(), chunks, options, snap.compressed_params().shortlist);
    }
    return search::like(snap.catalog(), &snap.window_index(), chunks, options);
  }
  const AllowedTracks allowed = allowed_tracks(snap.tracks(), rules);
  search::LikeOptions o = options;
  // Caps choose among every track the chunks hit; the filter applies inside the matching.
  if (rules.capped()) o.k = 0;
  if (!allowed.all) o.track_allowed = [&allowed](int64_t id) { return allowed.contains(id); };
  std::vector<search::LikeResult> results;
  if (snap.compressed()) {
    snap.quantized_tracks();  // throws when nothing is searchable
    if (allowed.exact()) {
      if (allowed.ids.empty()) return {};
      results = search::like(search::Catalog(snap.window_source().track_windows(allowed.ids)), nullptr, chunks, o);
    } else {
      results = search::like_source(snap.window_source(), chunks, o,
                                    filtered_shortlist(snap.compressed_params().shortlist, allowed));
    }
  } else {
    // A small allowed set is scanned exactly; otherwise the window index is asked for more.
    results = search::like(snap.catalog(), allowed.exact() ? nullptr : &snap.window_index(), chunks, o);
  }
  return keep_allowed(snap, rules, allowed, options.k, std::move(results),
                      [](const search::LikeResult& r) { return r.track_id; });
}

namespace {

// similar under the rules: the exact ranking is a scan of the allowed tracks' embeddings (in
// compressed mode read from the store when the allowed set is small). In memory mode an allowed
// set under a quarter of the library is scanned so (no more bytes than similar_all's 8-bit pass
// over every track); a larger one, such as the music-only rule's few exclusions, is taken from
// the library's ranking by similar_all, asked for more (rank_by_rules): the same hits.
std::vector<search::Hit> similar_ranked(const LibrarySnapshot& snap, const std::vector<float>& query, int64_t leave_out,
                                        int64_t k, const ResultRules& rules) {
  check_rules(rules);
  AllowedTracks allowed = allowed_tracks(snap.tracks(), rules);
  auto exact = [&](int64_t n) {
    if (allowed.ids.empty()) return std::vector<search::Hit>{};
    const Embeddings subset = snap.compressed() ? allowed_rows(snap.window_source().track_embeddings(allowed.ids), allowed, leave_out)
                                                : allowed_rows(snap.track_embeddings(), allowed, leave_out);
    return search::similar(subset, 1, query.data(), nullptr, n)[0];
  };
  if (!snap.compressed() && !allowed.all && static_cast<int64_t>(allowed.ids.size()) * 4 < static_cast<int64_t>(snap.tracks().size()))
    return keep_allowed(snap, rules, allowed, k, exact(rules.capped() ? 0 : k), hit_id_of);
  return rank_by_rules<search::Hit>(
      snap, rules, allowed, k,
      [&](int64_t n) { return similar_all(snap, query.data(), leave_out, n); }, exact, hit_id_of);
}

}  // namespace

std::vector<search::Hit> similar_all(const LibrarySnapshot& snap, const float* query, int64_t leave_out, int64_t k) {
  if (!snap.compressed()) {
    // Past an eighth of the library the shortlist would hold most tracks: one float32 pass is cheaper.
    const Embeddings& all = snap.track_embeddings();  // throws when nothing is searchable
    if (k <= 0 || k >= all.size() / 8) return search::similar(all, 1, query, &leave_out, k)[0];
  }
  return search::similar_quantized(snap.track_codes(), query, leave_out, k, snap.track_fetch());
}

std::vector<search::Hit> similar_tracks(const LibrarySnapshot& snap, const store::Track& track, int64_t k,
                                        const ResultRules& rules) {
  const std::vector<float> query = snap.track_embedding(track.id);  // throws the reason it has none
  if (rules.empty()) return similar_all(snap, query.data(), track.id, k);
  return similar_ranked(snap, query, track.id, k, rules);
}

namespace {

// A caller's vector (Python's search_vectors: "need not be normalised") brought to a magnitude
// the float32 scoring handles: its norm is a float32 sum of squares, which overflows past about
// 1e17 per component and underflows below about 1e-20, and either made every cosine 0 (a
// ranking in id order, silently). A cosine does not depend on the scale, and a power of two
// changes no digit, so a vector of ordinary size keeps every bit and a huge or tiny one ranks
// as its direction does.
std::vector<float> in_scoring_range(std::vector<float> v) {
  float largest = 0;
  for (float x : v) largest = std::max(largest, std::fabs(x));
  if (largest == 0 || !std::isfinite(largest)) return v;
  int exponent = 0;
  std::frexp(largest, &exponent);
  if (exponent >= -40 && exponent <= 40) return v;
  for (float& x : v) x = std::ldexp(x, -exponent);
  return v;
}

}  // namespace

std::vector<search::Hit> similar_to_vector(const LibrarySnapshot& snap, const std::vector<float>& query, int64_t k,
                                           const ResultRules& rules) {
  const std::vector<float> q = in_scoring_range(query);
  if (rules.empty()) return similar_all(snap, q.data(), -1, k);
  return similar_ranked(snap, q, -1, k, rules);
}

search::SongAnalysis track_timeline(Library& lib, const store::Track& track, const std::string& text,
                                    const search::AnalyzeOptions& options) {
  if (track.status != store::TrackStatus::Ok) throw Error(track.path + ": could not be indexed: " + track.error);
  const SongWindows song = lib.song_windows(std::to_string(track.id));
  const std::vector<float> q = lib.embed_texts({text});
  return search::analyze_track(song.catalog, track.id, q.data(), options);
}

std::vector<search::AnalyzeRow> analyze_texts(Library& lib, const LibrarySnapshot& snap, const std::vector<std::string>& texts,
                                              const search::AnalyzeOptions& options) {
  const search::Catalog& catalog = snap.catalog();
  const std::vector<float> emb = lib.embed_texts(texts);
  return search::analyze(catalog, static_cast<int64_t>(texts.size()), emb.data(), options);
}

std::vector<search::Classification> classify(Library& lib, int64_t n, const float* audio,
                                             const std::vector<std::string>& labels, const std::string& templ,
                                             int64_t top) {
  const std::vector<float> text = lib.embed_texts(search::format_prompts(templ, labels));
  const double scale = lib.model().logit_scale_audio();
  return search::classify(n, audio, static_cast<int64_t>(labels.size()), text.data(), lib.dim(), scale, top);
}

std::vector<search::Overlap> overlaps(const LibrarySnapshot& snap, const std::vector<int64_t>& tracks,
                                      const search::OverlapOptions& options,
                                      const std::function<void(int64_t, int64_t)>& progress) {
  if (!snap.searchable()) return {};
  return search::find_overlaps(snap.catalog(), snap.window_index(), snap.identity().hop_s, snap.identity().window_s, options,
                               tracks, progress);
}

}  // namespace clap::service
