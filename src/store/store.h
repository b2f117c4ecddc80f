// The library index: the tracks of a music library, their analysis windows with embeddings,
// the identity of the model that made them, a text-embedding cache and zero-shot labels.
//
// `Store` is the one interface the indexer and the service layer use; `SqliteStore`
// (sqlite_store.h) and `PostgresStore` (postgres_store.h) implement it, and `open_store` picks
// the implementation from the location (a SQLite file path, or a postgresql:// URL). Nothing above this layer sees
// a database handle.
//
// Contract every implementation keeps:
//   * A track and the windows given with it are written atomically (put_track), and so is each
//     later batch of its windows with the track embedding made from all of them (add_windows),
//     so a process killed at any moment leaves every track as the last committed write left it.
//     A track may hold fewer windows than it has (Track::window_total; progressive indexing,
//     index/passes.h): queries use the windows present.
//   * generation() changes after every committed write (tracks, roots, text cache, labels);
//     library_generation() after every one but the text cache's: the cheap "has the library
//     changed?" poll of a long-running reader (a server whose own text-cache writes must not
//     make it reload).
//   * Reads inside one read_scope() see one committed state (no half-written track, no
//     track without its windows), however long the scope lasts.
//   * Embeddings are float32 vectors of the identity's `dim`, stored bit for bit; every other
//     float (durations, window times, label scores) reads back as it was written.
//   * A new track or window gets the id one larger than the largest in its table (SQLite's
//     rowid rule), so the same history of writes gives the same ids in every implementation.
//   * Readers see the last committed state while an indexer writes.
// A Store object is used from one thread at a time (open one per thread).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/embeddings.h"
#include "core/error.h"
#include "store/user_records.h"

namespace clap::store {

// The default library: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db, else
// ~/.local/share/clapsearch/library.db.
std::string default_db_path();

// Refuses (clap::Error naming the missing folder) a SQLite location whose folder does not exist,
// unless it is the standard location ($XDG_DATA_HOME/clapsearch/library.db), whose folders are
// made: a typo in `--db /typo/dir/x.db` is an error, not a new folder tree. Called by the
// commands that create an index (index, serve --watch, migrate --to) before they open it.
void check_index_folder(const std::string& location);

// What made the embeddings of an index. An index refuses to mix identities.
struct ModelIdentity {
  std::string id;           // hub id ("org/name"), or a local folder's or checkpoint file's absolute path
  std::string revision;     // commit hash, or "local"
  std::string config_hash;  // sha256 of config.json + preprocessor_config.json
  // sha256 over every file that defines the model (weights, configs, tokenizer): what the
  // model *is*. id/revision are only where to find it. Empty in indexes made before it was
  // recorded (they are compared by id, revision and config_hash until the next index run).
  std::string content_hash;
  // sha256 over what makes audio embeddings (the audio tower and projection, their config, the
  // front end): two models with the same audio_hash embed audio identically, so a text-only
  // fine-tune of the index's model (train/) applies to its stored embeddings as they are.
  // Empty in indexes made before it was recorded.
  std::string audio_hash;
  // Where a checkpoint file's --config and --tokenizer came from (hints for opening the model
  // again, like id; empty when not given). Not compared: the content hash covers what they hold.
  std::string config_path, tokenizer_path;
  double window_s = 10;
  double hop_s = 5;
  int dim = 0;
  double silence_db = -60;
  // Precision of the audio tower that made the embeddings ("fp32", "bf16"; model/clap.h):
  // part of what an index is, like the window settings. Indexes made before it was recorded
  // hold fp32 embeddings.
  std::string precision = "fp32";
  // How `precision` was chosen when `--precision auto` chose it (service/precision_choice.h: the
  // measured table, as JSON); empty when it was given, or recorded before auto existed. Not
  // compared: a record of the choice, not part of what the embeddings are.
  std::string precision_choice;

  // Scope of text embeddings (they do not depend on windows): "content:<content_hash>", or
  // id@revision#config_hash for an identity without a content hash.
  std::string model_key() const;
  // One line for messages: "org/name@rev (window 10 s, hop 5 s, silence -60 dBFS, 512-d)".
  std::string describe() const;
  // Empty when `other` may extend an index made with *this; else what differs.
  std::string mismatch(const ModelIdentity& other) const;
  // True when `other` differs from *this only in its text side: the same audio_hash (both
  // known) and window settings. Its audio embeddings are this index's, bit for bit.
  bool shares_audio_with(const ModelIdentity& other) const;
};

enum class TrackStatus { Ok, Error };

// The reading of a file's tags the indexer writes into Track::tags_version (1: title, artist,
// album, album artist, genre, date, track number, MBID, ISRC). A track whose row holds an older
// one has its tags read again by the next index run, its embeddings kept.
inline constexpr int kTagsVersion = 1;

inline constexpr double kNoSpeech = -1;  // Track::speech when no score is stored

struct Track {
  int64_t id = 0;
  std::string path;  // absolute
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  std::string content_hash;  // sha256 of the file's bytes ("" if it could not be read)
  double duration_s = 0;     // decoded duration
  std::string title, artist, album, genre, date;
  int track_no = 0;
  // What a media server names a song by besides its tags above (issue 36): the MusicBrainz
  // recording id, the ISRC and the album artist, as the file's tags hold them ("" = absent).
  std::string mbid, isrc, album_artist;
  // Which reading of the tags the row holds (kTagsVersion when the indexer wrote it; 0 in rows
  // written before the identifiers were stored, which the next index run reads again).
  int tags_version = 0;
  // The acoustic fingerprint (audio/fingerprint.h) the indexer computed: written with the row by
  // put_track, finish_job and import_tracks when not empty; track reads leave it empty
  // (Store::fingerprints reads them, export_tracks fills it).
  std::vector<uint32_t> fingerprint;
  TrackStatus status = TrackStatus::Ok;
  std::string error;   // reason when status == Error
  bool silent = false; // every window below the silence threshold
  int64_t indexed_at = 0;  // unix seconds
  int window_count = 0;    // windows stored (filled by reads)
  // Windows the track has in all (the windows audio::plan_windows cuts it into). put_track
  // writes it (0 = as many as it is given); fewer stored than this = partly indexed.
  int window_total = 0;
  // The speech/music score (index/speech.h): in [0, 1], or kNoSpeech when none is stored (a track
  // just written, one whose windows changed since, an error or silent track). put_track and the
  // imports write it as given; add_windows and activate_set clear it (the track embedding it was
  // computed from changed); put_speech sets it.
  double speech = kNoSpeech;
  bool has_speech() const { return speech >= 0; }
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

// A partly indexed track (Store::partial_tracks): its file state, how many windows it has and
// which of them are stored (idx ascending; `silent` the stored silent ones among them).
struct PartialTrack {
  FileState state;
  int window_total = 0;
  std::vector<int> present, silent;
};

struct TrackError {
  std::string path, reason;
};

struct TrackLabel {
  int64_t track_id = 0;
  std::string label;
  float score = 0;
};

// One file to embed, recorded by a planner (index --plan) for any worker to claim.
struct IndexJob {
  int64_t id = 0;
  std::string path;  // as the planner saw it (the track's path)
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  int attempts = 0;  // claims so far, this one included
  // Progressive indexing (index/passes.h): the pass this job embeds - 1, the file's first pass
  // (a new or changed file: its first_pass evenly spaced windows, every window when first_pass
  // is 0), or a later one over the stored track of that path (the windows of passes up to this
  // one it lacks) - and the first pass's window count the planner chose, which lays out every
  // pass of the track.
  int pass = 1;
  int first_pass = 0;
};

struct JobCounts {
  int64_t pending = 0, leased = 0, done = 0, failed = 0;
  int64_t expired = 0;  // of the leased: leases that ran out (their worker died or was cut off)
  std::vector<int64_t> open_by_pass;  // pending + leased jobs of pass p at [p] (progressive indexing's passes)
  int64_t total() const { return pending + leased + done + failed; }
  int64_t open() const { return pending + leased; }
  // The open jobs of passes 1..max_pass (every pass when max_pass is 0).
  int64_t open_through(int max_pass) const {
    if (max_pass <= 0) return open();
    int64_t n = 0;
    for (size_t p = 0; p < open_by_pass.size() && p <= static_cast<size_t>(max_pass); ++p) n += open_by_pass[p];
    return n;
  }
};

// What changed in the library after a library generation (Store::changes_since): what a
// long-running reader applies to its snapshot instead of reading everything again.
struct LibraryChanges {
  int64_t library_generation = 0;  // the state these changes bring a reader to
  std::vector<int64_t> changed;    // tracks written (put, moved, restored, labels replaced) after `since`, ascending
  std::vector<int64_t> removed;    // tracks removed or retired after `since` (and not in the library now), ascending
  bool roots_changed = false;
};

struct Counts {
  int64_t tracks = 0, ok = 0, errors = 0, silent_tracks = 0;
  int64_t windows = 0, silent_windows = 0;
  // Coverage (progressive indexing): windows the ok tracks have in all (window_total summed),
  // how many of them are stored, and the ok tracks that hold all of theirs.
  int64_t window_total = 0, ok_windows = 0, complete_tracks = 0;
  double audio_seconds = 0;  // sum of durations of ok tracks, added in id order
};

// Held while one process updates a library (Store::lock_indexer); released when destroyed.
class IndexerLock {
 public:
  virtual ~IndexerLock() = default;
};

// Held while a reader loads several things that must agree; see read_scope().
class ReadScope {
 public:
  virtual ~ReadScope() = default;
};

// --- copying a whole index (clapsearch migrate) -------------------------------------------------
// What Store::export_* read and Store::import_* write: rows as stored, with their own ids.

// One track's embeddings in an inactive embedding set (TrackCopy::sets): the windows the set holds
// (idx and embedding) and its track embedding (empty = none).
struct SetCopy {
  int64_t set_id = 0;
  std::vector<WindowRecord> windows;
  std::vector<float> embedding;
};

// One track whole: the row (with its id; window_count filled), its windows with their ids (by
// idx), the track embedding (empty = none) and its zero-shot labels.
struct TrackCopy {
  Track track;
  std::vector<WindowRecord> windows;
  std::vector<float> embedding;
  std::vector<TrackLabel> labels;
  std::vector<SetCopy> sets;  // what the inactive embedding sets hold of it, by set id
};

// One retired track (Store::retire_tracks): `id` is the retired entry's, `track.id` the id it had
// in the library (restore_track takes it back when free); its windows have no ids of their own
// (WindowRecord::id 0, track_id = `id`).
struct RetiredCopy {
  int64_t id = 0;
  int64_t retired_at = 0;  // unix seconds (purge_retired counts from it)
  Track track;
  std::vector<WindowRecord> windows;
  std::vector<float> embedding;
};

// One text-cache entry (any model key).
struct CachedText {
  std::string model_key, text;
  std::vector<float> embedding;
};

// The write transaction of Store::begin_import: commit() makes the whole copy visible at once;
// destroyed without commit(), everything written through it is rolled back.
class ImportScope {
 public:
  virtual ~ImportScope() = default;
  virtual void commit() = 0;
};

// One embedding set of an index (issue 37: changing models without downtime): the audio
// embeddings one model (one audio identity) made of the library's windows. Exactly one set is
// *active*: the tracks and windows tables hold its embeddings, model() is its identity, and every
// query reads it alone. The others are kept beside it (built by `index --model NEW`, or the set
// that was active before a switch) for the windows the active set stores.
struct EmbeddingSet {
  int64_t id = 0;
  ModelIdentity identity;
  bool active = false;
  // Coverage: the ok tracks with embeddings (not silent, a non-silent window stored) and the
  // non-silent windows the active set stores, and how many of them this set holds. The active
  // set holds them all; another set is complete when it does too (it may then be activated
  // without a track losing its embeddings).
  int64_t tracks = 0, covered_tracks = 0;
  int64_t windows = 0, covered_windows = 0;
  bool complete() const { return covered_windows == windows && covered_tracks == tracks; }
};

// A track's place in an inactive set (Store::set_tracks): the non-silent windows the active set
// stores (idx ascending) and those of them the set holds.
struct SetTrack {
  FileState state;
  int window_total = 0;
  std::vector<int> stored, held;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual const std::string& path() const = 0;  // where the store lives (file path or URL)
  virtual bool read_only() const = 0;
  virtual int schema_version() const = 0;
  virtual int64_t generation() const = 0;          // changes after every committed write
  virtual int64_t library_generation() const = 0;  // ... but the text cache's
  virtual std::unique_ptr<ReadScope> read_scope() const = 0;
  virtual int64_t file_bytes() const = 0;  // bytes on disk (database + journal)
  // One indexer per library at a time, whichever machine it runs on: taken for the life of the
  // returned object (which must not outlive this Store) and released by the system when the
  // process dies, kill -9 included (SQLite: flock on "<db>.lock"; PostgreSQL: a session
  // advisory lock). Throws clap::Error when another process holds it.
  virtual std::unique_ptr<IndexerLock> lock_indexer() = 0;

  // --- model identity
  virtual std::optional<ModelIdentity> model() const = 0;
  virtual void set_model(const ModelIdentity& identity) = 0;
  // Deletes every track, window, label, cached text and root, then sets `identity`.
  virtual void wipe(const ModelIdentity& identity) = 0;

  // --- embedding sets (EmbeddingSet)
  // Every set, by id, with its coverage (the active one included; empty for an index without a model).
  virtual std::vector<EmbeddingSet> embedding_sets() const = 0;
  // Records a new, empty, inactive set for `identity` (its window settings must be the active
  // set's: the windows are shared); returns its id.
  virtual int64_t add_embedding_set(const ModelIdentity& identity) = 0;
  // Every ok track with embeddings to hold, by id, with what inactive set `set_id` holds of it.
  virtual std::vector<SetTrack> set_tracks(int64_t set_id) const = 0;
  // The windows set `set_id` holds for a track (idx and embedding filled), by idx.
  virtual std::vector<WindowRecord> set_windows(int64_t set_id, int64_t track_id) const = 0;
  // Adds embeddings of windows the active set stores (non-silent, not yet in the set) to inactive
  // set `set_id`, with the set's track embedding made from every window it then holds of the
  // track, atomically. Not a library write (no query reads an inactive set).
  virtual void add_set_windows(int64_t set_id, int64_t track_id, const std::vector<WindowRecord>& windows,
                               const float* track_embedding) = 0;
  // Makes set `set_id` the active one in one transaction: the active set's embeddings move into
  // its own set, the set's into the tracks and windows tables, model() becomes its identity. A
  // stored non-silent window the set does not hold is deleted (the track is partly indexed: the
  // next index run embeds it again), a track it holds no embedding of keeps none. A library write
  // that a reader cannot follow by changes (changes_since is nullopt across it).
  virtual void activate_set(int64_t set_id) = 0;
  // Deletes inactive set `set_id` with its embeddings; throws for the active set or an unknown id.
  virtual void drop_set(int64_t set_id) = 0;

  // --- roots
  virtual void add_roots(const std::vector<std::string>& paths) = 0;
  virtual std::vector<std::string> roots() const = 0;

  // --- tracks
  virtual std::vector<Track> tracks() const = 0;  // all, by path (tags, status, window counts)
  virtual std::optional<Track> track(int64_t id) const = 0;
  virtual std::optional<Track> track_by_path(const std::string& path) const = 0;
  virtual std::vector<FileState> file_states() const = 0;  // all tracks, by path
  // The track ids kept for files indexed again (wipe(), the rebuild of a damaged index) that no
  // track holds yet, with their path and content hash (id, path, content_hash only), by id.
  virtual std::vector<FileState> kept_track_ids() const = 0;
  virtual std::vector<TrackError> errors() const = 0;      // tracks with status error, by path
  virtual Counts counts() const = 0;

  // Inserts `track` (by path; an existing row with that path keeps its id and is replaced,
  // its windows and labels deleted) with its windows, atomically. `track_embedding` (dim
  // floats) or nullptr. Returns the track id.
  virtual int64_t put_track(const Track& track, const std::vector<WindowRecord>& windows,
                            const float* track_embedding) = 0;
  // Adds windows (not yet stored; an idx already there is an error) to an ok track and replaces
  // its track embedding (dim floats: made from every window it then holds), atomically, without
  // touching anything else. A library write. Throws when the track is not an ok track of the index.
  virtual void add_windows(int64_t track_id, const std::vector<WindowRecord>& windows, const float* track_embedding) = 0;
  // Ok tracks holding fewer windows than window_total, by id.
  virtual std::vector<PartialTrack> partial_tracks() const = 0;
  // A file that moved: new path and file times; embeddings and windows are kept.
  virtual void move_track(int64_t id, const std::string& new_path, int64_t size, int64_t mtime_ns,
                          int64_t ctime_ns) = 0;
  // Ok tracks whose tags_version is below `version` (id, path, file state), by id: the tracks
  // whose tags an index run reads again.
  virtual std::vector<FileState> tracks_with_tags_before(int version) const = 0;
  // Rewrites a track's tags (title, artist, album, album_artist, genre, date, track_no, mbid,
  // isrc, tags_version, taken from `tags`); nothing else changes (its windows and embeddings
  // stay). A library write (the generation and the track's change stamp move). Throws when the
  // track is not in the index.
  virtual void update_tags(int64_t id, const Track& tags) = 0;
  // Acoustic fingerprints (audio/fingerprint.h; issue 33): of the given tracks that have one;
  // the ok, non-silent tracks that have none (indexed before fingerprints were stored: an index
  // run computes them); and storing one for a track (not a library change: no query reads it
  // from a snapshot). put_fingerprint throws when the track is not in the index.
  virtual std::map<int64_t, std::vector<uint32_t>> fingerprints(const std::vector<int64_t>& ids) const = 0;
  virtual std::vector<FileState> tracks_without_fingerprint() const = 0;
  virtual void put_fingerprint(int64_t id, const std::vector<uint32_t>& items) = 0;
  // Speech/music scores (Track::speech; index/speech.h computes them): the ok tracks with a track
  // embedding and no score, with those embeddings (ids ascending) — new tracks, tracks whose
  // windows changed, tracks indexed before scores were stored — and storing scores (each in
  // [0, 1]; throws for a track not in the index or a score outside). put_speech is a library
  // write (the generation and the tracks' change stamps move): filters read the score from a
  // snapshot.
  virtual Embeddings tracks_without_speech() const = 0;
  virtual void put_speech(const std::vector<std::pair<int64_t, double>>& scores) = 0;
  // Deletes tracks (with their windows and labels) atomically.
  virtual void remove_tracks(const std::vector<int64_t>& ids) = 0;

  // --- retired tracks: pruned from the library but kept restorable for a while, so that a file
  // that comes back (a drive mounted again, a folder restored) is not embedded again.
  // Moves tracks (row, windows, embeddings) out of the library atomically; tracks without
  // embeddings (errors) are simply deleted.
  virtual void retire_tracks(const std::vector<int64_t>& ids) = 0;
  // Retired tracks: id = the retired entry, path = where the file was, content hash and size.
  virtual std::vector<FileState> retired_tracks() const = 0;
  // Brings a retired track back into the library at `path` (its old id when still free); returns
  // the track id.
  virtual int64_t restore_track(int64_t retired_id, const std::string& path, int64_t size, int64_t mtime_ns,
                                int64_t ctime_ns) = 0;
  // Forgets tracks retired before `before_unix_s`; returns how many.
  virtual int64_t purge_retired(int64_t before_unix_s) = 0;

  // --- packet hashes (audio/packet_hash.h): the hash of a file's compressed audio, keyed by the
  // file's content hash, so that it follows its tracks (live, retired, rebuilt) and a file moved
  // and retagged at once (another content hash, another path) is told from a new one
  // (index/retag_moves.h). Not a library change. purge_retired forgets the rows of content hashes
  // no track or retired track holds any more.
  // The stored packet hashes of the given content hashes (those that have one).
  virtual std::map<std::string, std::string> packet_hashes(const std::vector<std::string>& content_hashes) const = 0;
  // Stores (content hash, packet hash) pairs over what a content hash had ("": could not be demuxed).
  virtual void put_packet_hashes(const std::vector<std::pair<std::string, std::string>>& rows) = 0;
  // Ok tracks with a content hash that has no packet hash stored (indexed since, or before packet
  // hashes were stored: an index run computes them), by id.
  virtual std::vector<FileState> tracks_without_packet_hash() const = 0;

  // --- embeddings
  // Track embeddings of every track that has one (ok, not silent), ids ascending.
  virtual Embeddings track_embeddings() const = 0;
  // Every non-silent window of an ok track with its embedding, by track id then window index;
  // `silent` is left empty.
  virtual WindowTable window_embeddings() const = 0;
  virtual std::vector<WindowRecord> windows(int64_t track_id) const = 0;  // all windows of a track, by idx
  // The track embeddings of those of `ids` that have one (as track_embeddings() reads them), ids ascending.
  virtual Embeddings track_embeddings(const std::vector<int64_t>& ids) const = 0;
  // The rows of window_embeddings() in ascending window id, at most `batch` at a time, without
  // ever holding them all: how a search node builds a compressed index over a library larger
  // than its memory. Reads one committed state (its own read scope when the caller has none).
  // `sink` returns false to stop early.
  virtual void scan_window_embeddings(int64_t batch, const std::function<bool(const WindowTable&)>& sink) const = 0;
  // The rows of window_embeddings() with these window ids (unknown, silent or an error track's
  // windows left out), ascending window id: the exact vectors a compressed index re-ranks with.
  virtual WindowTable window_embeddings(const std::vector<int64_t>& window_ids) const = 0;
  // The ids of window_embeddings()'s rows, ascending, without their vectors (a few bytes per
  // window): what a search node draws its training sample from.
  virtual std::vector<int64_t> active_window_ids() const = 0;
  // The rows of window_embeddings() of these tracks (unknown, error or silent tracks give none),
  // in its order (track id, then window index): the exact windows of a compressed index's
  // candidate tracks.
  virtual WindowTable track_window_embeddings(const std::vector<int64_t>& track_ids) const = 0;

  // --- incremental reading (a long-running reader; see LibraryChanges)
  // What changed in the library after library generation `since`: every track whose row,
  // windows, embeddings or labels were written by a transaction that committed after the one
  // that made `since`, and every track removed (or retired) since. Each library write stamps the
  // rows it touches with the library generation it commits, and generations are handed out in
  // commit order, so a reader that read a state at generation G and applies changes_since(G)
  // misses nothing. Text-cache writes change nothing here. nullopt when the store cannot tell:
  // `since` is before the index was wiped or imported, before change stamps were kept (an index
  // migrated from an older schema), older than the removal log keeps, or ahead of the store:
  // the reader then reads everything again. Reads one committed state (its own read scope when
  // the caller has none open; call it inside the caller's read_scope() to read the changed rows
  // from the same state).
  virtual std::optional<LibraryChanges> changes_since(int64_t since) const = 0;

  // --- text embedding cache (scoped by ModelIdentity::model_key())
  virtual std::optional<std::vector<float>> cached_text(const std::string& model_key, const std::string& text) const = 0;
  // Writes (or replaces) every entry in one transaction: a batch of new query texts costs one
  // commit (one WAL flush on PostgreSQL), not one per text.
  virtual void put_cached_texts(const std::vector<CachedText>& texts) = 0;

  // --- zero-shot labels
  // Replaces the labels of every track that appears in `labels`, atomically.
  virtual void put_labels(const std::vector<TrackLabel>& labels) = 0;
  virtual std::vector<TrackLabel> labels(int64_t track_id) const = 0;  // by score, descending
  virtual std::vector<TrackLabel> all_labels() const = 0;              // by track id, then score descending
  virtual void clear_labels() = 0;

  // --- the job queue of distributed indexing (a store on a server: several machines index one
  // library; has_job_queue() is false for SQLite, whose library one process indexes, and the
  // other calls throw there).
  virtual bool has_job_queue() const { return false; }
  // Records a job per file and pass (by path and IndexJob::pass). A path with an open job of that
  // pass for the same size and mtime keeps it (a worker may hold it); otherwise the job starts
  // over as pending.
  virtual void plan_jobs(const std::vector<IndexJob>& files);
  // Forgets finished jobs (done, failed) before a new plan; returns how many.
  virtual int64_t forget_finished_jobs();
  // Claims up to `n` jobs, pending first then those whose lease expired (by job id), for
  // `worker` (a name unique to this worker process) until lease_s from now, by the store's clock.
  // Concurrent claimers never get the same job. A job of a later pass is claimed only while no
  // job of an earlier pass is open (pending or leased): every file's pass p is done, by whichever
  // workers, before any file's pass p + 1 begins.
  virtual std::vector<IndexJob> claim_jobs(const std::string& worker, int n, double lease_s, int max_pass = 0);
  // Extends the leases `worker` holds; returns how many it still holds.
  virtual int64_t renew_leases(const std::string& worker, double lease_s);
  // put_track and "job done" (or "failed" when the track is an error) in one transaction, if
  // `worker` still holds the job's lease; else nothing is written and 0 is returned (the lease
  // ran out and another worker has the job: it writes the track). Returns the track id. A track
  // left partly indexed gets a job for its next pass (pending) in the same transaction.
  virtual int64_t finish_job(const IndexJob& job, const std::string& worker, const Track& track,
                             const std::vector<WindowRecord>& windows, const float* track_embedding);
  // A later pass's job (IndexJob::pass > 1): add_windows(track_id, windows, track_embedding) when
  // `windows` is not empty, "job done", and - when windows were added and the track still lacks
  // some - a job for its next pass, in one transaction, if `worker` still holds the job's lease;
  // else nothing is written and false is returned. Empty `windows`: the job is done with nothing
  // to add (the track is complete, changed, gone or not ok; the next plan sees to it).
  virtual bool finish_pass_job(const IndexJob& job, const std::string& worker, int64_t track_id,
                               const std::vector<WindowRecord>& windows, const float* track_embedding);
  // Gives the jobs `worker` holds back (pending), e.g. when it stops or lost its connection.
  virtual int64_t release_jobs(const std::string& worker);
  virtual JobCounts job_counts() const;

  // The implementation's own integrity check plus the index's invariants (every ok track has
  // windows, numbered below its window_total, embeddings of the right size); the problems found (empty = sound).
  virtual std::vector<std::string> check() const = 0;

  // --- copying a whole index (clapsearch migrate)
  // Reading, inside one read_scope() (one committed state), a batch at a time (memory stays
  // bounded whatever the library's size): the ids first, then the rows of a few hundred.
  virtual std::vector<int64_t> track_ids() const = 0;  // ascending
  // The tracks with these ids that exist, whole, in the order given.
  virtual std::vector<TrackCopy> export_tracks(const std::vector<int64_t>& ids) const = 0;
  // The retired tracks with these retired ids (retired_tracks() lists them), in the order given.
  virtual std::vector<RetiredCopy> export_retired(const std::vector<int64_t>& retired_ids) const = 0;
  // At most `limit` text-cache entries following `after` (nullptr: from the first), ordered by
  // model key, then text.
  virtual std::vector<CachedText> export_cached_texts(const CachedText* after, size_t limit) const = 0;
  // Writing, into an empty index: begin_import() refuses an index that holds anything (a model,
  // tracks, retired tracks, folders, cached texts: throws clap::Error), opens one write
  // transaction and writes `identity` and `roots` into it; the import_* calls then write rows
  // with their own ids (embeddings bit for bit); commit() moves the id counters past the ids
  // written (later inserts get fresh ids) and commits. Nothing else may be written through this
  // store while the scope is open (import_* outside one throw); the scope ends before the store.
  virtual std::unique_ptr<ImportScope> begin_import(const ModelIdentity& identity, const std::vector<std::string>& roots) = 0;
  // Like begin_import, into an index that may hold a library (`index --rebuild`, issue 53): the
  // transaction first deletes everything the index holds, as wipe() does, so that readers keep
  // seeing the old library until commit() and the copy, whole, after it.
  virtual std::unique_ptr<ImportScope> begin_replace(const ModelIdentity& identity, const std::vector<std::string>& roots) = 0;
  // Every embedding set of the copy (ids, identities, which one is active: the one whose
  // identity begin_import wrote), written before the tracks whose TrackCopy::sets refer to them.
  virtual void import_sets(const std::vector<EmbeddingSet>& sets) = 0;
  virtual void import_tracks(const std::vector<TrackCopy>& tracks) = 0;
  virtual void import_retired(const std::vector<RetiredCopy>& retired) = 0;
  virtual void import_cached_texts(const std::vector<CachedText>& texts) = 0;

  // --- users and what they keep (UserRecord ...). Writes are not library writes: the generations
  // do not move (a server does not reload its snapshot for a star). Every write is one transaction.
  virtual bool has_users() const = 0;
  virtual std::vector<UserRecord> users() const = 0;  // by name
  virtual std::optional<UserRecord> user(const std::string& name) const = 0;
  virtual std::optional<UserRecord> user_by_id(int64_t id) const = 0;
  // Adds a user (id: the largest + 1); throws clap::Error when the name is taken.
  virtual int64_t add_user(const UserRecord& user) = 0;
  virtual void set_password(int64_t user_id, const std::string& password_encrypted) = 0;
  // Removes a user with everything they keep (keys, stars, ratings, plays, playlists); false when absent.
  virtual bool remove_user(int64_t user_id) = 0;
  virtual int64_t add_api_key(const ApiKeyRecord& key) = 0;  // returns its id
  virtual std::optional<ApiKeyRecord> api_key(const std::string& key_hash) const = 0;
  virtual std::vector<ApiKeyRecord> api_keys(int64_t user_id) const = 0;  // by id
  // Revokes key `key_id` of the user; false when the user has no such key.
  virtual bool remove_api_key(int64_t user_id, int64_t key_id) = 0;
  // Stars and ratings: put replaces the user's star (rating) of the same item (a song: the same
  // track id), remove deletes it (false when there was none). A rating of 0 removes it.
  virtual void put_star(const FeedbackRecord& star) = 0;
  virtual bool remove_star(int64_t user_id, const std::string& kind, const std::string& item_id, int64_t track_id) = 0;
  virtual std::vector<FeedbackRecord> stars(int64_t user_id) const = 0;  // newest first
  virtual void put_rating(const FeedbackRecord& rating) = 0;
  virtual std::vector<FeedbackRecord> ratings(int64_t user_id) const = 0;  // newest first
  // Plays: add returns the id (of a play kept already, as add_plays tells: that one's, unchanged); read
  // by id ascending after `after_id`, at most `limit` (0 = all); user_id 0 = every user's.
  virtual int64_t add_play(const PlayRecord& play) = 0;
  virtual std::vector<PlayRecord> plays(int64_t user_id, int64_t after_id, size_t limit) const = 0;
  // How many plays the user has with an id up to `up_to_id` (included): with the play at that id,
  // what a sum of the plays kept between requests (service/user_data.h) checks before adding the
  // newer ones. A new play takes an id above every one held, so this count moves only when plays
  // at or below that id went (forgotten, the user removed).
  virtual int64_t count_plays(int64_t user_id, int64_t up_to_id) const = 0;
  // Many plays in one transaction (a history import: all or none), ids assigned in order. A play
  // already kept (every source but "beets": one user, source, start second and song, by content
  // hash else path; the schema's unique index) is not added again, also when another process
  // adds it at the same time. Returns the plays added.
  virtual int64_t add_plays(const std::vector<PlayRecord>& plays) = 0;
  // The plays `fresh` returns, written as add_plays does (the unique rule included); `fresh` runs
  // inside the write transaction and no other add_new_plays comes between its reading of the
  // store and the write (SQLite: the write lock, BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped
  // advisory lock), so two runs at once that add "what is missing" (the beets counts, which the
  // unique rule cannot guard: beets adds several plays at one second on purpose) add it once.
  // `fresh` must only read (song_play_counts is what it is for) and be quick: every other writer
  // of this index waits meanwhile; read files before. Returns the plays added.
  virtual int64_t add_new_plays(const std::function<std::vector<PlayRecord>()>& fresh) = 0;
  // How many plays (and skips) of `source` the user keeps, per song as the plays name it (content
  // hash and path) and skipped or not: counted by the database, not read play by play.
  virtual std::vector<SongPlayCount> song_play_counts(int64_t user_id, const std::string& source) const = 0;
  // Forgets history (`clapsearch history forget`): the plays of user `user_id` (0 = every user)
  // started before `before` (0 = whenever) from `source` ("" = any); with no source also the
  // stars and ratings made before `before` (they carry no source). One transaction.
  virtual HistoryRemoved forget_history(int64_t user_id, int64_t before, const std::string& source) = 0;
  // Playlists: put writes a new one (id 0: the id is returned) or replaces one (header and entries);
  // playlists(user) lists the user's and the public ones (user 0: all), by id, without entries.
  virtual int64_t put_playlist(const PlaylistRecord& playlist) = 0;
  virtual std::vector<PlaylistRecord> playlists(int64_t user_id) const = 0;
  virtual std::optional<PlaylistRecord> playlist(int64_t id) const = 0;
  // Reads playlist `id` (with entries), lets `change` edit it and writes it when it returns true,
  // in one transaction no other process's change of it comes between (SQLite BEGIN IMMEDIATE,
  // PostgreSQL the row FOR UPDATE): false when there is no such playlist.
  virtual bool change_playlist(int64_t id, const std::function<bool(PlaylistRecord&)>& change) = 0;
  virtual bool remove_playlist(int64_t id) = 0;
  // The user's play queue: put replaces it (a queue without entries removes it: nothing saved);
  // nullopt when the user has none.
  virtual void put_play_queue(const PlayQueueRecord& queue) = 0;
  virtual std::optional<PlayQueueRecord> play_queue(int64_t user_id) const = 0;
  // Bookmarks: put replaces the user's bookmark of the same track, keeping when the replaced one
  // was made (its created_at, read in the write); remove deletes it (false when
  // there was none); listed newest change first.
  virtual void put_bookmark(const BookmarkRecord& bookmark) = 0;
  virtual bool remove_bookmark(int64_t user_id, int64_t track_id) = 0;
  virtual std::vector<BookmarkRecord> bookmarks(int64_t user_id) const = 0;
  // Re-attaches detached song references (SongRef) of stars, ratings, plays, playlist entries,
  // play queue entries and bookmarks, and brings the content hash and path of attached ones up to
  // date (moves, re-encoded files), in one transaction; returns how many rows were re-attached. References whose recording is not in
  // the library stay as they are (never deleted) and come back when it does. Run after an index
  // run; cheap when nothing changed.
  virtual int64_t reattach_songs() = 0;
  // Song references that name a live track holding another recording (neither their content hash
  // nor their path): made only by an id given again (K6-1, fixed; an index of before keeps them).
  // Per table and recording: the reference, how many rows, and the path of the track they show on.
  struct Misattached {
    std::string table, shown_on;
    SongRef song;
    int64_t rows = 0;
  };
  virtual std::vector<Misattached> misattached_songs() const = 0;
  // Moves each such recording's rows to a track id no track has and none will get (above every id
  // named): unseen until re-attachment finds the recording; never deleted. Returns the rows moved.
  virtual int64_t detach_misattached_songs() = 0;
  // clapsearch migrate: everything above, and writing it into the import (inside begin_import).
  virtual UserDataCopy export_user_data() const = 0;
  virtual void import_user_data(const UserDataCopy& data) = 0;
};

// Only the commands that build an index (`index`, `index --plan`, `migrate`'s target) create one;
// every other command refuses a location without an index (a missing SQLite file, an empty
// file or PostgreSQL database) and leaves it as it was (issue 33: a typo'd database name).
enum class OpenMode {
  ReadWrite,          // create if absent (an empty database gets the schema), migrate an older schema
  ReadWriteExisting,  // read-write; an index must be there (an older schema is migrated)
  ReadOnly,           // must exist with the current schema
  ReadWriteOrReadOnly // read-write, else (permissions, read-only medium) read-only; an index must be there
};

// Opens the store at `location`: a SQLite database path, or a postgresql:// (postgres://) URL
// (PostgresStore; ReadOnly creates nothing, the index must exist there). Throws clap::Error with the reason
// (no index there, not an index, schema too new...). With ReadWriteOrReadOnly, `unexpected`
// (when given) receives why a read-write open failed although the file and its folder are
// writable (a full disk, an I/O error): a fallback the caller should warn about, unlike a
// read-only file or medium.
// The index location a command was given (--db, CLAPSEARCH_DB; empty = default_db_path()) as the
// commands use it: a SQLite file path made absolute, a server URL (postgresql://) as given.
std::string resolve_location(const std::string& given);
// True for a PostgreSQL URL (postgresql://, postgres://): a store on a server, shared by machines.
bool is_server_location(const std::string& location);
// `location` for messages and output: a server URL without its password.
std::string display_location(const std::string& location);

std::unique_ptr<Store> open_store(const std::string& location, OpenMode mode, std::string* unexpected = nullptr);

// --- a damaged index and `index --rebuild` (issue 33) -------------------------------------------
// Thrown when a SQLite index cannot be used because its file is damaged (SQLite: "malformed",
// "not a database"; a schema without its version table): opening it again will not help.
class DamagedIndex : public Error {
 public:
  using Error::Error;
};
// True when `e`, thrown by open_store or a Store call, reports a damaged database file (a
// DamagedIndex, or SQLite's SQLITE_CORRUPT / SQLITE_NOTADB found while reading or writing).
bool is_damage(const std::exception& e);
// True when `e` says the index cannot be read right now, whatever was asked of it: damage
// (is_damage), a SQLite file that cannot be opened or read (removed, an I/O error), a
// PostgreSQL server that cannot be reached or dropped the connection. A server answers these
// with 503 ("index unavailable"), never as the client's mistake (400).
bool is_unavailable(const std::exception& e);
// A PostgreSQL database passes: it is never replaced (see replace_damaged_index).
// Throws clap::Error unless `location` is a SQLite file that is recognisably a clapsearch index,
// however damaged: its SQLite header carries the application id every index gets when created
// ("CLAP", 0x434C4150 at offset 68), or - an index made before the application id was set - its
// schema still lists the schema_version and meta tables. Nothing else (another program's
// database, a file whose header is gone, a PostgreSQL database) is ever replaced.
void check_replaceable(const std::string& location);
// What the rebuild of a damaged SQLite index carried over from it (issue 54: "nothing stored is
// lost - user data least of all"): per table, the rows kept in the new index, and what could not
// be. `tracks` (and `retired_tracks`) are the track ids kept (kept_track_ids: each file indexed
// again takes its old id back, so the users' stars, plays and playlists name the same songs).
struct SalvagedTable {
  std::string table;
  int64_t kept = 0;
  // Rows the damaged file holds that could not be read: 0 when the table read whole; when a part
  // of it is damaged, the count if the table's rows could still be counted, else nullopt (some).
  std::optional<int64_t> unreadable = 0;
  int64_t left_out = 0;  // read, but what they belong to (their user, their playlist) could not be
  bool missing = false;  // the damaged index has no such table (dropped, or an older schema)
};
struct Salvage {
  std::string backup;  // the damaged file, kept beside the index under this name
  bool schema_unreadable = false;  // its list of tables could not be read: nothing could be kept
  std::vector<SalvagedTable> tables;
};

// `index --rebuild` of a damaged index: a new index at `location` (after check_replaceable) that
// holds every user row and track id SQLite can still read from the damaged file (table by table,
// and key range by key range where a whole table does not read), while the damaged file (with
// its -wal and -journal files) is kept beside it as `location.damaged-YYYYMMDDTHHMMSSZ` (what was
// carried and where the file went: `salvage`). The new file is built aside and renamed over the
// damaged one, so an interrupted rebuild leaves the damaged index where it was. Holds the indexer
// lock while it does (taken into `lock` when empty, else the caller's lock on this location). The
// caller has closed every Store it had open on the file. A PostgreSQL database (whose damage is a
// missing table) is not replaced: the tables it lacks are created again, none that is there is
// dropped, and the caller's wipe then empties it, keeping its users' data (issue 53, M8).
std::unique_ptr<Store> replace_damaged_index(const std::string& location, std::unique_ptr<IndexerLock>& lock,
                                             Salvage* salvage = nullptr);

}  // namespace clap::store
