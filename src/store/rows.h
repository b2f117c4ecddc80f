// The one row decoder and the one set of row checks of both stores (SqliteStore, PostgresStore):
// what a track, file state or window row holds column by column, how an embedding column's bytes
// become floats and back, and what every store checks before writing a track's rows (put_track,
// finish_job, the import of `clapsearch migrate`). The stores differ in how a column is read
// (sql::Stmt, pg::Result), not in what it means: the decoders take any row with
//   int64(col), real(col), text(col) and floats(col, expect)
// (SQLite's statement as it is, PostgreSQL's result through pg::Result::row(i)).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/store.h"

namespace clap::store {

// --- the embedding column ---------------------------------------------------------------------

// An embedding column holds float32 values, little-endian, whatever the machine's byte order.
// Appends exactly `expect` values decoded from `bytes` (n of them) to `out`; throws naming `what`
// (the query) when n is not expect floats.
void decode_embedding(const void* bytes, size_t n, int expect, std::vector<float>& out, const std::string& what);
// The column's bytes of n floats.
std::string encode_embedding(const float* v, size_t n);
// The first of v[0..n) that is not finite, said as "a value that is not a number (NaN) at K of N"
// (or "(infinity)"), or "" when every one is. The indexer never writes one (a model's output is
// finite; core/vector_math.h normalizes it), so such a value in a column is hand damage. One pass
// of integer compares over values just decoded: cheap beside the decode (a read of every window).
std::string non_finite_value(const float* v, size_t n);

// A stored embedding: its floats, or nullptr (NULL) when there are none.
inline const float* floats_or_null(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

// --- rows -------------------------------------------------------------------------------------

inline const char* status_text(TrackStatus s) { return s == TrackStatus::Ok ? "ok" : "error"; }
inline TrackStatus parse_status(const std::string& s) { return s == "ok" ? TrackStatus::Ok : TrackStatus::Error; }
// The reason a track of status `status` (as stored) was not indexed, for messages ("FILE: could
// not be indexed: <reason>"): `error`, or what is wrong when the row holds none. A status neither
// ok nor error (the CHECK constraint bypassed by hand) read as "it could not be indexed: )"
// (hostile pass 9, R9C-5).
std::string error_reason(const std::string& status, const std::string& error);

// The columns of a track row, as both stores select them (`tracks t`).
constexpr const char* kTrackColumns =
    "t.id, t.path, t.size, t.mtime_ns, t.ctime_ns, t.content_hash, t.duration_s, t.title, t.artist, t.album, "
    "t.genre, t.date, t.track_no, t.status, t.error, t.silent, t.indexed_at, "
    "(SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id), t.mbid, t.isrc, t.album_artist, t.tags_version, "
    "t.window_total, COALESCE(t.speech, -1)";
constexpr int kTrackColumnCount = 24;  // the columns above: what a query adds after them starts here

// Columns: id, path, size, mtime_ns, ctime_ns, content_hash, status.
template <class Row>
FileState decode_file_state(const Row& r) {
  FileState f;
  f.id = r.int64(0);
  f.path = r.text(1);
  f.size = r.int64(2);
  f.mtime_ns = r.int64(3);
  f.ctime_ns = r.int64(4);
  f.content_hash = r.text(5);
  f.status = parse_status(r.text(6));
  return f;
}

// Columns from `at`: path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist,
// album, genre, date, track_no (a tracks or retired_tracks row).
template <class Row>
Track decode_track_file(const Row& r, int at) {
  Track t;
  t.path = r.text(at);
  t.size = r.int64(at + 1);
  t.mtime_ns = r.int64(at + 2);
  t.ctime_ns = r.int64(at + 3);
  t.content_hash = r.text(at + 4);
  t.duration_s = r.number(at + 5);  // text written by hand is no length of 0 (R15C-2)
  t.title = r.text(at + 6);
  t.artist = r.text(at + 7);
  t.album = r.text(at + 8);
  t.genre = r.text(at + 9);
  t.date = r.text(at + 10);
  t.track_no = static_cast<int>(r.int64(at + 11));
  return t;
}

// Columns: kTrackColumns.
template <class Row>
Track decode_track(const Row& r) {
  Track t = decode_track_file(r, 1);
  t.id = r.int64(0);
  t.status = parse_status(r.text(13));
  t.error = error_reason(r.text(13), r.text(14));
  t.silent = r.int64(15) != 0;
  t.indexed_at = r.int64(16);
  t.window_count = static_cast<int>(r.int64(17));
  t.mbid = r.text(18);
  t.isrc = r.text(19);
  t.album_artist = r.text(20);
  t.tags_version = static_cast<int>(r.int64(21));
  t.window_total = static_cast<int>(r.int64(22));
  t.speech = r.real(23);  // NULL read as kNoSpeech
  return t;
}

// Columns from `at`: idx, start_s, end_s, loudness_dbfs, silent, embedding (dim floats or NULL).
// The caller sets the ids.
template <class Row>
WindowRecord decode_window(const Row& r, int at, int dim) {
  WindowRecord w;
  w.idx = static_cast<int>(r.int64(at));
  w.start_s = r.real(at + 1);
  w.end_s = r.real(at + 2);
  w.loudness_dbfs = r.real(at + 3);
  w.silent = r.int64(at + 4) != 0;
  w.embedding = r.floats(at + 5, dim);
  return w;
}

// A window setting or embedding size as stored (`number`, and `text` as the column holds it):
// returned when it is one clapsearch could have written, else a DamagedIndex "its <what> is
// <text>" (a hand-edited `meta` or `embedding_sets`: hop 0 or negative, window 1e308, dim
// 99999999999 or text reached the code that uses them as "align_tracks: the hop must be
// positive" or a dim cut to 32 bits; hostile pass 9, R9C-2). The store adds its location and
// the way out (with_location).
double stored_seconds(double number, const std::string& text, const char* what);
int stored_dim(double number, const std::string& text, const char* what);
// The precision an index was made with: every clapsearch wrote "fp32", "bf16" or "int8" (the
// column's default is fp32). Another value was met only by a query, as "unknown precision 'fp64'
// (choose fp32, bf16 or int8)", as if the user had chosen it (hostile pass 14, H14C-4).
std::string stored_precision(const std::string& text, const char* what);
// The identity decoded from all of its meta rows: one whose dim row is gone is damaged (its
// embeddings were read as 0 floats each: "a blob of 2048 bytes where 0 floats were expected",
// blaming the first track; H14C-4).
void check_identity_complete(const ModelIdentity& m);

// The columns of an embedding_sets row, as both stores select them.
constexpr const char* kSetColumns =
    "id, active, model_id, model_revision, config_hash, content_hash, audio_hash, model_config, model_tokenizer, "
    "window_s, hop_s, dim, silence_db, precision";

// Columns: kSetColumns (coverage left at 0: the store counts it).
template <class Row>
EmbeddingSet decode_set(const Row& r) {
  EmbeddingSet e;
  e.id = r.int64(0);
  e.active = r.int64(1) != 0;
  ModelIdentity& m = e.identity;
  m.id = r.text(2);
  m.revision = r.text(3);
  m.config_hash = r.text(4);
  m.content_hash = r.text(5);
  m.audio_hash = r.text(6);
  m.config_path = r.text(7);
  m.tokenizer_path = r.text(8);
  const std::string set = "embedding set " + std::to_string(e.id) + "'s ";
  m.window_s = stored_seconds(r.real(9), r.text(9), (set + "window_s").c_str());
  m.hop_s = stored_seconds(r.real(10), r.text(10), (set + "hop_s").c_str());
  m.dim = stored_dim(r.real(11), r.text(11), (set + "dim").c_str());
  m.silence_db = r.real(12);
  m.precision = stored_precision(r.text(13), (set + "precision").c_str());
  return e;
}

// One row of a set_tracks() query: file state columns (decode_file_state), window_total, a
// stored window's idx, whether the set holds it; rows by track, then idx. Appends to `out`.
template <class Row>
void append_set_track_row(const Row& r, std::vector<SetTrack>& out) {
  if (out.empty() || out.back().state.id != r.int64(0)) {
    SetTrack t;
    t.state = decode_file_state(r);
    t.window_total = static_cast<int>(r.int64(7));
    out.push_back(std::move(t));
  }
  const int idx = static_cast<int>(r.int64(8));
  out.back().stored.push_back(idx);
  if (r.int64(9)) out.back().held.push_back(idx);
}

// Columns: idx, embedding (dim floats): a window an inactive set holds of `track_id`.
template <class Row>
WindowRecord decode_set_window(const Row& r, int64_t track_id, int dim) {
  WindowRecord w;
  w.track_id = track_id;
  w.idx = static_cast<int>(r.int64(0));
  w.embedding = r.floats(1, dim);
  return w;
}

// A track's copy in inactive set `set_id` (TrackCopy::sets, kept by set id): found or added.
SetCopy& set_copy(std::vector<SetCopy>& sets, int64_t set_id);

// Columns from `at`: set_id, idx, embedding: a window an inactive set holds of the track being
// exported; `dim_of` gives each set's embedding size.
template <class Row>
void append_set_copy_window(const Row& r, int at, const std::map<int64_t, int>& dim_of, std::vector<SetCopy>& sets) {
  const int64_t set_id = r.int64(at);
  WindowRecord w;
  w.idx = static_cast<int>(r.int64(at + 1));
  w.embedding = r.floats(at + 2, dim_of.at(set_id));
  set_copy(sets, set_id).windows.push_back(std::move(w));
}

// Columns from `at`: set_id, embedding: an inactive set's track embedding of the track being exported.
template <class Row>
void append_set_copy_track(const Row& r, int at, const std::map<int64_t, int>& dim_of, std::vector<SetCopy>& sets) {
  const int64_t set_id = r.int64(at);
  set_copy(sets, set_id).embedding = r.floats(at + 1, dim_of.at(set_id));
}

// --- the model identity -----------------------------------------------------------------------

// The model identity as rows of the meta table (key, value): the one list of its keys, which both
// stores write and read. put(key, value) takes its strings and its numbers (a double: SQLite
// keeps a REAL, PostgreSQL the text of "%.17g").
template <class Put>
void put_identity_meta(const ModelIdentity& m, Put put) {
  put("model_id", m.id);
  put("model_revision", m.revision);
  put("config_hash", m.config_hash);
  put("content_hash", m.content_hash);
  put("audio_hash", m.audio_hash);
  put("model_config", m.config_path);
  put("model_tokenizer", m.tokenizer_path);
  put("window_s", m.window_s);
  put("hop_s", m.hop_s);
  put("dim", static_cast<double>(m.dim));
  put("silence_db", m.silence_db);
  put("precision", m.precision);
  put("precision_choice", m.precision_choice);
}

// One meta row (columns: key, value) into the identity field its key names; other keys are
// left alone. True for model_id, the key whose presence means an identity is recorded.
template <class Row>
bool decode_identity_meta(const Row& r, ModelIdentity& m) {
  const std::string key = r.text(0);
  if (key == "model_id") m.id = r.text(1);
  else if (key == "model_revision") m.revision = r.text(1);
  else if (key == "config_hash") m.config_hash = r.text(1);
  else if (key == "content_hash") m.content_hash = r.text(1);
  else if (key == "audio_hash") m.audio_hash = r.text(1);
  else if (key == "model_config") m.config_path = r.text(1);
  else if (key == "model_tokenizer") m.tokenizer_path = r.text(1);
  else if (key == "window_s") m.window_s = stored_seconds(r.real(1), r.text(1), "window_s");
  else if (key == "hop_s") m.hop_s = stored_seconds(r.real(1), r.text(1), "hop_s");
  else if (key == "dim") m.dim = stored_dim(r.real(1), r.text(1), "dim");
  else if (key == "silence_db") m.silence_db = r.real(1);
  else if (key == "precision") m.precision = stored_precision(r.text(1), "precision");
  else if (key == "precision_choice") m.precision_choice = r.text(1);
  return key == "model_id";
}

// --- row checks -------------------------------------------------------------------------------

// Throws clap::Error naming the track when a speech score is neither kNoSpeech nor in [0, 1].
void check_speech(double speech, const std::string& what);

// Throws clap::Error naming `path` when the track embedding (track_floats values; 0 = none) or a
// window's embedding is not `dim` floats.
void check_embedding_sizes(const std::string& path, const std::vector<WindowRecord>& windows, size_t track_floats,
                           int dim);

// `check()`'s finding on an ok track's windows (n of them, indexes lo..hi of total), or "" when
// they are numbered as they must be (0..total-1, some of them for a partly indexed track).
std::string window_numbering_problem(const std::string& path, int64_t n, int64_t lo, int64_t hi, int64_t total);

// The embedding sets' checks of both stores (store.h EmbeddingSet), with one wording:
// `set` as read for id `id` (nullopt: no such row); throws unless it is an inactive set, `why`
// saying why the active one is refused. Returns the set.
EmbeddingSet require_inactive_set(const std::optional<EmbeddingSet>& set, int64_t id, const char* why);
// Fills in the coverage of `sets` (store.h EmbeddingSet): the index has `windows` non-silent windows
// over `tracks` ok tracks with embeddings, all of them the active set's; `held(id)` tells of inactive
// set `id` the windows it holds of them and how many of those tracks lack at least one.
void fill_set_coverage(std::vector<EmbeddingSet>& sets, int64_t windows, int64_t tracks,
                       const std::function<std::pair<int64_t, int64_t>(int64_t)>& held);
// Throws unless `next` has the active identity's window settings (a set shares the index's windows).
void check_set_window_settings(const ModelIdentity& active, const EmbeddingSet& next);
// Throws unless `w` may be added to set `set` for track `track_id`: `stored` = the index stores it
// as a non-silent window of an ok track, and its embedding is the set's size.
void check_set_window(const EmbeddingSet& set, int64_t track_id, const WindowRecord& w, bool stored);

// Throws unless `sets` (Store::import_sets) has unique ids and exactly one active set, whose
// identity is the copy's `model`; returns each set's embedding size by id.
std::map<int64_t, int> check_imported_sets(const std::vector<EmbeddingSet>& sets, const ModelIdentity& model);

// Throws naming `path` unless `set` (a TrackCopy::sets entry being imported) is of a set in
// `dim_of` (check_imported_sets) and its embeddings are that set's size.
void check_set_copy(const std::string& path, const SetCopy& set, const std::map<int64_t, int>& dim_of);

// The longest audio a track can have: 31 years, far above any file indexing lays out. A stored
// duration past it, below 0 or not finite (NaN: PostgreSQL's 'NaN', text or a blob in SQLite's
// column) is hand damage, which `status` names (service/status.cpp).
constexpr double kLongestTrackSeconds = 1e9;
// A stored duration as audio can have it: itself, or 0 ("unknown") for one no audio has, so that a
// damaged row cannot make a sum or a cast to an integer garbage (a playlist's length summed to
// -9223372036854775803 s, undefined behaviour).
inline double known_duration_s(double stored_s) { return stored_s >= 0 && stored_s <= kLongestTrackSeconds ? stored_s : 0; }

// The most windows a track can have: the longest audio status accepts (kLongestTrackSeconds)
// at the shortest hop (0.5 s), plus one. A track's window_total past it (or below 0) was written by
// hand: summed, 2^63-1 made `status` fail on SQLite's raw "integer overflow" (hostile pass 14,
// R14C-4). window_total_damage says it (no location: the store adds it and the way out).
constexpr int64_t kMostWindowsOfATrack = 2'000'000'001;
std::string window_total_damage(int64_t track_id, const std::string& path, const std::string& value);

// A fingerprint's column: its items as little-endian bytes, whatever the machine's byte order.
std::string fingerprint_bytes(const std::vector<uint32_t>& items);
// And back; a column that is not a whole number of items (a hand edit) is a DamagedIndex naming
// the track (`path` when known) and the way out, without the index's location, which the store adds.
std::vector<uint32_t> fingerprint_items(const std::string& bytes, int64_t track_id, const std::string& path = "");

}  // namespace clap::store
