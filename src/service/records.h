// The JSON records every front end prints for the same thing: a CLI command's --json and the
// server's responses carry the same fields (the server adds URLs). Numbers are printed as the
// shortest text that round-trips a float32, so repeated runs print identical bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "search/analyze.h"
#include "search/like.h"
#include "search/similar.h"
#include "search/text_search.h"
#include "service/library.h"

namespace clap::service {

using ojson = nlohmann::ordered_json;  // fields stay in the order written

// JSON text of any document. Strings may hold any bytes a path or tag can (file names are not
// always UTF-8): invalid UTF-8 sequences are replaced by U+FFFD, so output is never lost.
// indent < 0: one line.
std::string json_text(const ojson& j, int indent = -1);
std::string json_text(const nlohmann::json& j, int indent = -1);

std::string json_float(float v);  // shortest text that round-trips a float32 ("null" when not finite)
double json_num(double v);        // v rounded to the float32 that json_float prints

// An embedding set of the index (store::EmbeddingSet; `clapsearch models --json`, status --json,
// /api/status): id, model, revision, precision, dim, active, windows, covered_windows, tracks,
// covered_tracks, complete, fraction (covered windows of windows; 1 when there are none).
template <class Json>
Json embedding_set_record(const store::EmbeddingSet& e) {
  Json j;
  j["id"] = e.id;
  j["model"] = e.identity.id;
  j["revision"] = e.identity.revision;
  j["precision"] = e.identity.precision;
  j["dim"] = e.identity.dim;
  j["active"] = e.active;
  j["windows"] = e.windows;
  j["covered_windows"] = e.covered_windows;
  j["tracks"] = e.tracks;
  j["covered_tracks"] = e.covered_tracks;
  j["complete"] = e.complete();
  j["fraction"] = e.windows ? json_num(double(e.covered_windows) / double(e.windows)) : 1.0;
  return j;
}

// A CSV cell (RFC 4180 quoting). A text that a spreadsheet would run as a formula (starting
// with = + - @, a tab or CR, and not a number) is written with a leading apostrophe.
std::string csv_field(const std::string& s);
// One CSV line: each field through csv_field, separated by commas, ended by `eol` (files "\n";
// HTTP's text/csv "\r\n", as RFC 4180 has it).
std::string csv_line(const std::vector<std::string>& fields, const char* eol = "\n");

// A track's speech/music score (store::Track::speech) as every record carries it: the score, or
// null when none is stored (or no track).
ojson speech_record(const store::Track* t);

// A text-search result: rank, path, track_id, score, label, best_start, best_end, mean, max,
// n_windows, artist, title, labels (query first when given).
ojson text_result_record(const LibrarySnapshot& snap, const search::TrackScore& r, size_t rank,
                         const std::string* query = nullptr);
// A query-by-example result: rank, path, track_id, score (= combined), combined, votes,
// total_similarity, artist, title, matches [{query_start, query_end, start, end, distance, window_id}].
ojson like_result_record(const LibrarySnapshot& snap, const search::LikeResult& r, size_t rank);
// A batch-analysis row: track_id, path, query, score (the aggregate's statistic), mean, max,
// min, std, n_windows, best_start, best_end, label.
ojson analyze_row_record(const LibrarySnapshot& snap, const search::AnalyzeRow& r, const std::string& query,
                         search::Aggregate aggregate);
// The batch-analysis CSV (`analyze --csv`, GET /api/analyze): the header, and a row's fields
// (track, path, query, mean, max, min, std, n_windows, best_start, best_end, label).
const std::vector<std::string>& analyze_csv_header();
std::vector<std::string> analyze_csv_row(const LibrarySnapshot& snap, const search::AnalyzeRow& r, const std::string& query);
// A similar-track result: rank, path, track_id, score, artist, title.
ojson similar_result_record(const LibrarySnapshot& snap, const search::Hit& h, size_t rank);
// A playlist track (service/playlists.h): rank, track_id, path, score, artist, title, duration_s,
// then seed (true/false) when `seed` is given (a radio; a path has no seeds).
ojson playlist_track_record(const LibrarySnapshot& snap, const search::Hit& h, size_t rank, const bool* seed = nullptr);

struct GroupHit;  // service/aggregates.h
// A ranked artist or album: rank, artist (albums: album, artist), tracks (in its aggregate), score.
ojson group_hit_record(const GroupHit& h, size_t rank, bool album);

struct DuplicateGroup;  // service/duplicates.h
// `duplicates --json`: per group, group (from 1), keeper, tracks [{track_id, path, keeper, score,
// offset_s, aligned, duration_s, codec, container, lossless, bit_rate, sample_rate, channels
// (or format_error), artist, title}], pairs [{a, b, score, offset_s, aligned, identical}].
ojson duplicate_groups_record(const LibrarySnapshot& snap, const std::vector<DuplicateGroup>& groups);

}  // namespace clap::service
