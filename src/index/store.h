// The library index on disk: one SQLite database (WAL journal, foreign keys, busy timeout)
// holding the tracks of a music library, their analysis windows with embeddings, and the
// identity of the model that made them.
//
// Layout (schema version 1; `schema_version` holds the version, migrations upgrade older files):
//
//   meta(key, value)          model_id, model_revision, config_hash (sha256 of config.json +
//                             preprocessor_config.json), window_s, hop_s, dim, silence_db,
//                             generation (incremented by every write transaction)
//   roots(path, added_at)     folders given to `clapsearch index` (absolute)
//   tracks(id, path UNIQUE, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist,
//          album, genre, date, track_no, status 'ok'|'error', error, silent, embedding,
//          indexed_at)        embedding: L2-normalised mean of the non-silent windows, NULL when
//                             every window is silent (the track is then `silent` and an error)
//   windows(id, track_id → tracks ON DELETE CASCADE, idx, start_s, end_s, loudness_dbfs,
//           silent, embedding) embedding NULL for silent windows (not searched)
//   text_cache(model, text, embedding)       text embeddings per model key (see ModelIdentity)
//   track_labels(track_id → tracks ON DELETE CASCADE, label, score)   zero-shot labels
//
// Embeddings are BLOBs of float32, little-endian, `dim` values.
//
// A track and all its windows are written in one transaction, so a process killed at any
// moment leaves every track either complete or absent. Readers (open_readonly) see the last
// committed state while an indexer writes.
//
// A Store is used from one thread at a time.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "search/catalog.h"
#include "search/embeddings.h"

struct sqlite3;

namespace clap::index {

// The default library: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db, else
// ~/.local/share/clapsearch/library.db.
std::string default_db_path();

// What made the embeddings of an index. An index refuses to mix identities.
struct ModelIdentity {
  std::string id;           // hub id ("org/name") or a local folder's absolute path
  std::string revision;     // commit hash, or "local"
  std::string config_hash;  // sha256 of config.json + preprocessor_config.json
  double window_s = 10;
  double hop_s = 5;
  int dim = 0;
  double silence_db = -60;

  // Scope of text embeddings (they do not depend on windows): id@revision#config_hash.
  std::string model_key() const;
  // One line for messages: "org/name@rev (window 10 s, hop 5 s, silence -60 dBFS, 512-d)".
  std::string describe() const;
  // Empty when `other` may extend an index made with *this; else what differs.
  std::string mismatch(const ModelIdentity& other) const;
};

enum class TrackStatus { Ok, Error };

struct Track {
  int64_t id = 0;
  std::string path;  // absolute
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  std::string content_hash;  // sha256 of the file's bytes ("" if it could not be read)
  double duration_s = 0;     // decoded duration
  std::string title, artist, album, genre, date;
  int track_no = 0;
  TrackStatus status = TrackStatus::Ok;
  std::string error;   // reason when status == Error
  bool silent = false; // every window below the silence threshold
  int64_t indexed_at = 0;  // unix seconds
  int window_count = 0;    // filled by reads
};

struct WindowRecord {
  int64_t id = 0, track_id = 0;
  int idx = 0;
  double start_s = 0, end_s = 0;
  double loudness_dbfs = 0;
  bool silent = false;
  std::vector<float> embedding;  // empty for silent windows
};

// The per-file state the indexer compares with the file system (one light query).
struct FileState {
  int64_t id = 0;
  std::string path;
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  std::string content_hash;
  TrackStatus status = TrackStatus::Ok;
};

struct TrackError {
  std::string path, reason;
};

struct TrackLabel {
  int64_t track_id = 0;
  std::string label;
  float score = 0;
};

struct Counts {
  int64_t tracks = 0, ok = 0, errors = 0, silent_tracks = 0;
  int64_t windows = 0, silent_windows = 0;
  double audio_seconds = 0;  // sum of durations of ok tracks
};

class Store {
 public:
  // Opens or creates the database (and its folder), applies migrations. Throws clap::Error.
  static Store open(const std::string& path);
  // Opens an existing database for reading only (no migration; a database whose schema is
  // older or newer than this build is refused). Throws clap::Error if absent.
  static Store open_readonly(const std::string& path);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const std::string& path() const { return path_; }
  bool read_only() const { return read_only_; }
  int schema_version() const;
  static int current_schema_version();
  int64_t generation() const;  // changes after every committed write
  int64_t file_bytes() const;  // database + WAL file sizes

  // --- model identity
  std::optional<ModelIdentity> model() const;
  void set_model(const ModelIdentity& identity);
  // Deletes every track, window, label, cached text and root, then sets `identity`.
  void wipe(const ModelIdentity& identity);

  // --- roots
  void add_roots(const std::vector<std::string>& paths);
  std::vector<std::string> roots() const;

  // --- tracks
  std::vector<Track> tracks() const;  // all, by path (tags, status, window counts)
  std::optional<Track> track(int64_t id) const;
  std::optional<Track> track_by_path(const std::string& path) const;
  std::vector<FileState> file_states() const;  // all tracks, by path
  std::vector<TrackError> errors() const;      // tracks with status error, by path
  Counts counts() const;

  // Inserts `track` (by path; an existing row with that path keeps its id and is replaced,
  // its windows and labels deleted) with its windows, in one transaction. `track_embedding`
  // (dim floats) or nullptr. Returns the track id.
  int64_t put_track(const Track& track, const std::vector<WindowRecord>& windows, const float* track_embedding);
  // A file that moved: new path and file times; embeddings and windows are kept.
  void move_track(int64_t id, const std::string& new_path, int64_t size, int64_t mtime_ns, int64_t ctime_ns);
  // Deletes tracks (with their windows and labels) in one transaction.
  void remove_tracks(const std::vector<int64_t>& ids);

  // --- embeddings
  // Track embeddings of every track that has one (ok, not silent), ids ascending.
  search::Embeddings track_embeddings() const;
  // Every non-silent window with its embedding, by track id then window index. silent is empty.
  search::WindowTable window_embeddings() const;
  std::vector<WindowRecord> windows(int64_t track_id) const;  // all windows of a track, by idx

  // --- text embedding cache (scoped by ModelIdentity::model_key())
  std::optional<std::vector<float>> cached_text(const std::string& model_key, const std::string& text) const;
  void put_cached_text(const std::string& model_key, const std::string& text, const std::vector<float>& embedding);

  // --- zero-shot labels
  // Replaces the labels of every track that appears in `labels`, in one transaction.
  void put_labels(const std::vector<TrackLabel>& labels);
  std::vector<TrackLabel> labels(int64_t track_id) const;  // by score, descending
  std::vector<TrackLabel> all_labels() const;              // by track id, then score descending
  void clear_labels();

  // Runs `PRAGMA integrity_check` and the index's own invariants (every ok track has its
  // windows 0..n-1, embeddings of the right size); returns the problems found (empty = sound).
  std::vector<std::string> check() const;

  sqlite3* handle() const { return db_; }  // for tests and tools

 private:
  Store(sqlite3* db, std::string path, bool read_only);
  sqlite3* db_ = nullptr;
  std::string path_;
  bool read_only_ = false;
};

}  // namespace clap::index
