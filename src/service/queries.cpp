#include "service/queries.h"

#include "core/error.h"

namespace clap::service {

std::vector<std::vector<search::TrackScore>> search_texts(Library& lib, const LibrarySnapshot& snap,
                                                          const std::vector<std::string>& texts,
                                                          const search::TextSearchOptions& options) {
  if (snap.compressed()) {
    const search::QuantizedTracks& tracks = snap.quantized_tracks();  // throws when nothing is searchable
    const std::vector<float> emb = lib.embed_texts(texts);
    return search::text_search_source(tracks, snap.centroid_norms(), snap.window_source(), static_cast<int64_t>(texts.size()),
                                      emb.data(), options, snap.compressed_params().shortlist);
  }
  const search::TextSearcher& searcher = snap.text_searcher();  // throws when nothing is searchable
  const std::vector<float> emb = lib.embed_texts(texts);
  const search::VectorIndex* index = options.aggregate == search::Aggregate::Max ? &snap.window_index() : nullptr;
  return searcher.search(static_cast<int64_t>(texts.size()), emb.data(), options, index);
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
                                     const search::LikeOptions& options) {
  if (snap.compressed()) {
    snap.quantized_tracks();  // throws when nothing is searchable
    return search::like_source(snap.window_source(), chunks, options, snap.compressed_params().shortlist);
  }
  return search::like(snap.catalog(), &snap.window_index(), chunks, options);
}

std::vector<search::Hit> similar_tracks(const LibrarySnapshot& snap, const store::Track& track, int64_t k) {
  if (snap.compressed()) {
    const std::vector<float> query = snap.track_embedding(track.id);  // throws the reason it has none
    return search::similar_quantized(snap.quantized_tracks(), query.data(), track.id, k, snap.track_fetch());
  }
  const Embeddings& tracks = snap.track_embeddings();
  if (tracks.find(track.id) < 0) snap.track_embedding(track.id);  // throws the reason it has none
  return search::similar_to_track(tracks, track.id, k);
}

std::vector<search::Hit> similar_to_vector(const LibrarySnapshot& snap, const std::vector<float>& query, int64_t k) {
  if (snap.compressed())
    return search::similar_quantized(snap.quantized_tracks(), query.data(), -1, k, snap.track_fetch());
  return search::similar(snap.track_embeddings(), 1, query.data(), nullptr, k)[0];
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
