// The queries every front end runs (CLI commands, server routes), each written once here:
// a front end parses its input, calls one of these with a snapshot it holds for the whole
// query, and formats the result (records.h gives the JSON every front end prints).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "search/analyze.h"
#include "search/classify.h"
#include "search/like.h"
#include "search/overlaps.h"
#include "search/similar.h"
#include "search/text_search.h"
#include "service/filters.h"
#include "service/library.h"

namespace clap::service {

// Every query that ranks tracks takes ResultRules (service/filters.h): a filter applied before
// ranking (k results whenever k allowed tracks exist) and per-artist/album caps.

// Text -> songs: per text, the ranked tracks (embeddings through the text cache; Max takes its
// candidates from the window index, Mean needs none).
std::vector<std::vector<search::TrackScore>> search_texts(Library& lib, const LibrarySnapshot& snap,
                                                          const std::vector<std::string>& texts,
                                                          const search::TextSearchOptions& options,
                                                          const ResultRules& rules = {});
// The same for query vectors given (nq × dim, unit length): texts already embedded, or mixed
// queries (service/seeds.h).
std::vector<std::vector<search::TrackScore>> search_vectors(const LibrarySnapshot& snap, int64_t nq, const float* emb,
                                                            int64_t dim, const search::TextSearchOptions& options,
                                                            const ResultRules& rules = {});

// Query chunks of an indexed track (its stored windows: no decoding) or of an audio file
// (decoded and embedded as the indexer would; chunk_s / hop_s 0 = the index's window and hop;
// max_duration_s > 0 refuses longer audio).
search::QueryChunks track_query_chunks(const LibrarySnapshot& snap, const store::Track& track);
// untrusted: the bytes came from a client (an upload): audio demuxers only, no nested opens.
search::QueryChunks file_query_chunks(Library& lib, const std::string& path, double chunk_s = 0, double hop_s = 0,
                                      double max_duration_s = 0, bool untrusted = false);

// Audio -> songs with chunk voting over the window index.
// With a filter, the chunks match only the allowed tracks' windows (search::LikeOptions::track_allowed).
std::vector<search::LikeResult> like(const LibrarySnapshot& snap, const search::QueryChunks& chunks,
                                     const search::LikeOptions& options, const ResultRules& rules = {});

// search::similar over every track embedding for one query (leave_out -1: none), the same hits
// bit for bit: the 8-bit rows (LibrarySnapshot::track_codes) bound every track's cosine, only the
// tracks whose bound reaches the k best are scored in float32 (search::similar_quantized), and
// those scores rank them. Every query that ranks the whole library by one vector goes through it
// (similar tracks, Subsonic's getSimilarSongs(2) and sonic endpoints, seeds, rules). k <= 0 or a
// k near the library's size: the float32 scan itself.
std::vector<search::Hit> similar_all(const LibrarySnapshot& snap, const float* query, int64_t leave_out, int64_t k);

// Song -> songs by track embedding: an indexed track (itself left out), or any vector.
std::vector<search::Hit> similar_tracks(const LibrarySnapshot& snap, const store::Track& track, int64_t k,
                                        const ResultRules& rules = {});
std::vector<search::Hit> similar_to_vector(const LibrarySnapshot& snap, const std::vector<float>& query, int64_t k,
                                           const ResultRules& rules = {});

// Shared passages of `tracks` (all tracks when empty) with the rest of the library, from the
// window index (search/overlaps.h).
std::vector<search::Overlap> overlaps(const LibrarySnapshot& snap, const std::vector<int64_t>& tracks,
                                      const search::OverlapOptions& options,
                                      const std::function<void(int64_t, int64_t)>& progress = {});

// One indexed track scored window by window for one text (the timeline of a match), every
// stored window listed, silent ones flagged and unscored.
search::SongAnalysis track_timeline(Library& lib, const store::Track& track, const std::string& text,
                                    const search::AnalyzeOptions& options);

// Batch analysis: every (track, text) pair's window statistics (all tracks, or options.tracks).
std::vector<search::AnalyzeRow> analyze_texts(Library& lib, const LibrarySnapshot& snap, const std::vector<std::string>& texts,
                                              const search::AnalyzeOptions& options);

// Zero-shot classification of n audio embeddings (n × dim) over `labels`, each label put in
// `templ` ("This is a sound of {}."), with the model's audio logit scale (a softmax over labels).
std::vector<search::Classification> classify(Library& lib, int64_t n, const float* audio,
                                             const std::vector<std::string>& labels, const std::string& templ,
                                             int64_t top);

}  // namespace clap::service
