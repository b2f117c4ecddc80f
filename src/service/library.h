// A session over one library index: the query API every front end (CLI, server) calls.
//
// A Library opens the store, checks the model recorded in it against any model the caller
// names, and loads only what a query needs: the track list, the window catalog, the persisted
// window vector index, the track embeddings, the model. Text embeddings go through the
// index's text cache (a text seen before costs no model run); query audio is decoded and
// embedded exactly as the indexer embeds a track.
//
// What a query reads lives in an immutable LibrarySnapshot. A command-line run takes the one
// snapshot made at open time and fills its parts on first use. A long-running reader (the
// server) calls refresh(): when another process (an indexer) has changed the library since,
// a complete new snapshot is made inside one read transaction and swapped in; queries that
// hold the old one finish on it. So a query never sees half a track, and new tracks appear
// without a restart. The new snapshot is the current one plus what the store reports changed
// since its generation (Store::changes_since: only the changed tracks are read), or, when the
// store cannot tell or much changed, everything read again; both give the same snapshot.
//
// Threads: every method may be called from several threads at once. The model is loaded once
// and shared (immutable); each model run borrows its own ClapState from a pool whose size
// bounds concurrent model runs (LibraryOptions::max_model_runs; a caller that waits too long
// gets Busy). Notes and warnings go to callbacks (which must then be thread-safe); nothing here
// prints.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/embeddings.h"
#include "core/error.h"
#include "index/identity.h"
#include "model/clap.h"
#include "search/catalog.h"
#include "search/filter.h"
#include "search/projection.h"
#include "search/quantized_tracks.h"
#include "search/text_search.h"
#include "search/vector_index.h"
#include "service/audio_embedding.h"
#include "service/compressed_windows.h"
#include "service/model.h"
#include "service/song_resolver.h"
#include "store/store.h"

namespace clap::service {

class MusicCatalog;

struct LibraryOptions {
  std::string db;     // empty = store::default_db_path()
  std::string model;  // empty = the model recorded in the index (another one is refused)
  std::string model_config, model_tokenizer;  // --config / --tokenizer (empty: the index's hints)
  int threads = 0;    // model threads per run, 0 = all cores
  // The text tower's precision (model/clap.h). Text embeddings are cached per precision: a
  // bf16 query never reads an fp32 entry of the text cache, nor the reverse.
  Precision text_precision = Precision::F32;
  Notice note;        // optional notes (see above); null = silent
  Notice warn;        // warnings (text cut at the model's limit, a collapsed text tower); null = dropped
  // Load both towers with the model (LoadOptions::prepare_audio / prepare_text) instead of each
  // on its first use: a server goes on answering audio and text queries however its model file
  // is rewritten under it (model/clap.h); a command that embeds only texts leaves it off.
  bool load_both_towers = false;
  // Model runs at once (each with its own ClapState); 0 = no limit. Callers beyond the limit
  // wait up to model_wait_ms, then get Busy; at most max_waiting wait at once (-1 = no limit,
  // 0 = none: Busy at once).
  int max_model_runs = 0;
  int max_waiting = -1;
  int64_t model_wait_ms = 0;  // 0 = wait as long as it takes
  // How windows are searched (compressed_windows.h): every vector in memory, or a compressed
  // index whose candidates are scored from the store's vectors; auto chooses by size.
  WindowIndexMode window_index = WindowIndexMode::Auto;
  // Lists probed and candidates read, in compressed mode; shortlist 0 = as suits the index
  // (compressed_windows.h: kShortlistFirstCodes, or kShortlistSecondCodes with second codes).
  search::CompressedSearchParams compressed = [] {
    search::CompressedSearchParams p;
    p.shortlist = 0;
    return p;
  }();
};

enum class Access {
  ReadOnly,              // queries only
  ReadWriteIfPossible,   // also caches text embeddings and stores labels when the file is writable
};

// Every model run slot is taken and the wait was too long (a server answers 429).
class Busy : public Error {
 public:
  using Error::Error;
};

// Another embedding set (another model) became the index's active one since this library was
// opened (`clapsearch models --activate`, or `index --model NEW` switching when complete): its
// snapshots no longer describe what the store holds. A long-running reader opens a new Library
// (the server does so and answers the request again on it); nothing mixes the two models.
class ModelChanged : public Error {
 public:
  using Error::Error;
};

// A query audio given by path or an indexed track, with its track embedding.
struct AudioItem {
  std::string path;       // absolute
  int64_t track_id = -1;  // -1: not in the index (decoded and embedded)
  std::vector<float> embedding;
};

// One song's windows as a small catalog (every window, silent ones included and flagged).
struct SongWindows {
  int64_t track_id = -1;  // -1: a file outside the index
  std::string path;       // absolute
  search::Catalog catalog;
};

struct StoreAccess;  // the store and the lock that serialises its use (library_internal.h)
struct CompressedSlot;  // the library's compressed window index, shared by its snapshots (library_internal.h)

// How Library::refresh made the new snapshot.
struct RefreshInfo {
  bool incremental = false;  // from the previous snapshot plus the store's changes
  int64_t changed = 0, removed = 0;  // tracks (incremental only)
  double read_ms = 0;  // incremental: reading the changes and making the parts, before the window index
};

// The library at one moment: tracks, labels, roots, window catalog, window index, track
// embeddings. Immutable once made; parts not loaded up front are loaded on first use.
class LibrarySnapshot {
 public:
  // `note`: progress notes; `warn`: what the user must hear about (a window index that could not be saved).
  LibrarySnapshot(std::shared_ptr<StoreAccess> store, std::string db_path, store::ModelIdentity identity, Notice note,
                  Notice warn = {}, std::shared_ptr<CompressedSlot> compressed = {});
  ~LibrarySnapshot();

  // Loads every part inside one read transaction (what a server does before swapping it in).
  void load_all() const;
  // Makes every part from `previous` (fully loaded: load_all or load_delta) plus what the store
  // reports changed since its generation, inside one read transaction: the same parts load_all
  // would read, row order and bits included. False (nothing loaded) when the store cannot tell
  // what changed, when `previous` is not fully loaded, or when more than max(64, a quarter of
  // the tracks) changed: the caller loads everything instead.
  bool load_delta(const LibrarySnapshot& previous, RefreshInfo* info = nullptr);

  const store::ModelIdentity& identity() const { return identity_; }
  const std::string& db_path() const { return db_path_; }
  int dim() const { return identity_.dim; }
  int64_t library_generation() const { return generation_; }  // the store's, when made

  // --- tracks (every track row, status ok or error)
  const std::vector<store::Track>& tracks() const;
  const std::vector<std::string>& roots() const;
  const store::Track* track(int64_t id) const;  // nullptr when absent
  // A track given as an id or as a path (absolute, relative to the working directory, or
  // through a symlink or another hard link); nullptr when it is not in the index. Reads the file
  // system: front ends that take untrusted input look tracks up by id (track()).
  const store::Track* find_track(const std::string& id_or_path) const;
  // Path shown to people: relative to the indexed folder holding it, else absolute.
  std::string display_path(const std::string& path) const;
  // The indexed folder holding `path` ("" when none).
  std::string root_of(const std::string& path) const;
  // "artist – title" (whichever exist), then stored zero-shot labels in brackets.
  std::string tags_text(const store::Track& t) const;
  const std::vector<store::TrackLabel>& labels_of(int64_t track_id) const;
  // The lookup tables of a media server's song references over tracks() (song_resolver.h),
  // built on first use.
  const SongIndex& song_index() const;
  // Artists, albums, genres and folders with stable ids, as a music server browses them
  // (service/music_catalog.h); made on first use.
  const MusicCatalog& music_catalog() const;
  // The ok tracks matching `rule`, ascending (filters.h matching_tracks), found once per snapshot
  // and rule (by its text): the server's music-only rule applies to every query, and scanning
  // every track for it took a few milliseconds of each request at 100,000 tracks.
  const std::vector<int64_t>& tracks_matching(const search::Filter& rule) const;
  // Whether music_catalog() was made (a server answering /rest/ used it): Library::refresh then
  // makes the next snapshot's before swapping it in, so no request waits the seconds it takes
  // at 100,000 tracks.
  bool music_catalog_made() const;

  // --- embeddings. Throw clap::Error when the index has nothing searchable (searchable() tells).
  bool searchable() const;
  const search::Catalog& catalog() const;
  const search::VectorIndex& window_index() const;  // persisted beside the database (window_index.h)
  const search::TextSearcher& text_searcher() const;  // over catalog()
  // Every float32 track embedding (in compressed mode read on first use, for the queries that
  // need them all: classify, map, playlist, duplicates, matrix).
  const Embeddings& track_embeddings() const;
  // The stored track embedding of `track_id`; throws with the reason when it has none.
  std::vector<float> track_embedding(int64_t track_id) const;
  // The acoustic fingerprints of those of `ids` that have one, read from the store (a snapshot
  // does not hold them: ~4 KB a track, read only by `duplicates`).
  std::map<int64_t, std::vector<uint32_t>> fingerprints(const std::vector<int64_t>& ids) const;
  // The 2-D map of the track embeddings (search/projection.h), computed once per snapshot.
  const search::Projection2D& track_map() const;

  // --- compressed mode (LibraryOptions::window_index): null when every window vector is in
  // memory. In compressed mode text search and query by example take candidates from the
  // compressed index and read the candidates' windows from the store when they run (the
  // snapshot's tracks only); catalog() still reads every window (analyze, duplicates, overlaps).
  const CompressedWindows* compressed() const;
  search::WindowSource window_source() const;
  // The track embeddings in 8 bits (search/quantized_tracks.h: 0.5 GB at a million tracks
  // instead of 2 GB), with which text search (mean) and similar choose candidates, and what
  // reads the candidates' float32 ones from the store (tracks of this snapshot only).
  const search::QuantizedTracks& quantized_tracks() const;
  // The float32 track embeddings of `ids` (ascending), of this snapshot's searchable tracks: read
  // from the store in compressed mode, copied from track_embeddings() in memory mode.
  search::TrackFetch track_fetch() const;
  // The track embeddings in 8 bits in either mode: quantized_tracks() in compressed mode; in
  // memory mode an 8-bit copy of track_embeddings() (a quarter of its bytes, made on first use
  // and carried to the next snapshot by load_delta / Library::refresh), with which song-to-song
  // similarity (service/queries.h similar_all) reads a quarter of the bytes per request and
  // scores in float32 only the tracks that could rank. Throws as track_embeddings() does.
  const search::QuantizedTracks& track_codes() const;
  bool track_codes_made() const;  // whether track_codes() was made (Library::refresh makes the next's)
  const std::vector<float>& centroid_norms() const;  // per row of quantized_tracks()
  search::CompressedSearchParams compressed_params() const;

 private:
  struct Parts;
  void note(const std::string& message) const;
  Parts& parts() const;
  // With the store lock held (and the caller's read scope open):
  const CompressedWindows* compressed_held(store::Store& st) const;
  void load_embeddings_held(store::Store& st) const;
  void load_quantized_held(store::Store& st) const;
  void load_catalog_held(store::Store& st) const;
  void load_catalog() const;

  std::shared_ptr<StoreAccess> store_;
  std::string db_path_;
  store::ModelIdentity identity_;
  Notice note_, warn_;
  std::shared_ptr<CompressedSlot> compressed_slot_;
  // read(store) on a pooled connection, inside one read scope that first checks the store's
  // active embedding set is still this snapshot's (else ModelChanged): the reads made while a
  // query runs (compressed mode) never return another model's vectors.
  template <class Read>
  auto read_same_set(const Read& read) const;
  mutable int64_t generation_ = 0;  // set again inside the read transaction of load_all/load_delta
  std::unique_ptr<Parts> parts_;
};

class Library {
 public:
  // Throws clap::Error: no index, no model recorded yet, a named model not matching the index.
  Library(const LibraryOptions& options, Access access);
  ~Library();

  const store::ModelIdentity& identity() const { return identity_; }
  const std::string& db_path() const { return db_path_; }    // for messages (a URL without its password)
  const std::string& location() const { return location_; }  // to open the store again
  int dim() const { return identity_.dim; }
  bool writable() const;

  // The current snapshot. Hold it for the whole of a query.
  std::shared_ptr<const LibrarySnapshot> snapshot() const;
  // Swaps in a fully loaded new snapshot when the library changed since the current one was
  // made (or when `force`: everything read again); returns whether it did. Concurrent callers
  // load it once. `info` (optional) tells how it was made. Throws ModelChanged when another
  // embedding set was activated (the index of another model), Error when the index is gone.
  bool refresh(bool force = false, RefreshInfo* info = nullptr);
  // When another file was moved over the index (or it was deleted and made again), closes every
  // connection of this library and returns true; its reads then throw ModelChanged. A reader
  // calls it before opening the new file, which this process may not open while a connection to
  // the old one lives (SQLite would pair the new file with the old one's -wal: H12S-3).
  bool close_if_replaced();

  std::vector<store::WindowRecord> track_windows(int64_t track_id) const;
  // Replaces the stored labels of the tracks named in `labels`. Throws when read-only.
  void store_labels(const std::vector<store::TrackLabel>& labels);

  // --- model (loaded on first use only, then shared)
  const index::ModelSpec& model_spec();
  const ClapModel& model();
  bool model_loaded() const;

  // Text embeddings (n × dim) through the index's text cache.
  std::vector<float> embed_texts(const std::vector<std::string>& texts);
  int64_t text_cache_hits() const { return cache_hits_; }
  int64_t text_cache_misses() const { return cache_misses_; }
  // Batches the text tower ran (concurrent requests' texts share one).
  int64_t text_tower_runs() const { return text_tower_runs_; }

  // Decodes `path` and embeds windows of window_s every hop_s seconds (0 = the index's
  // settings), silent windows flagged as the index flags them. Throws clap::Error with a clear
  // reason (no such file, undecodable, silent throughout, longer than max_duration_s when > 0).
  // untrusted: bytes a client sent (WindowSettings::untrusted).
  FileWindows embed_file(const std::string& path, double window_s = 0, double hop_s = 0, double max_duration_s = 0,
                         bool untrusted = false);
  // A file's track embedding, computed exactly as the indexer computes a track's.
  std::vector<float> file_embedding(const std::string& path);
  // An indexed track (id or path: its stored embedding) or any audio file (decoded).
  AudioItem audio_item(const std::string& file_or_track);
  // One song window by window: an indexed track's stored windows, or a file's.
  SongWindows song_windows(const std::string& file_or_track);

  void note(const std::string& message) const;

 private:
  class StateLease;
  StateLease lease_state();
  // Whether `candidate` embeds audio as the index's model does (a text fine-tune of it).
  bool shares_audio(const store::ModelIdentity& candidate) const;
  // Embeds texts with the model; concurrent callers' texts are gathered into one run (see
  // library_models.cpp), and cached under cache_key (null: not cached) with the run's others.
  struct TextRequest;  // texts waiting for the text tower
  std::vector<float> run_text_tower(const std::vector<std::string>& texts, const std::string* cache_key);
  void cache_texts(const std::vector<TextRequest*>& batch, const std::vector<float>& embeddings,
                   const std::vector<uint8_t>& cut);
  void gather_text_requests(std::unique_lock<std::mutex>& lock, size_t max_texts);

  LibraryOptions options_;
  std::string location_;  // store::resolve_location(options.db)
  std::string db_path_;   // store::display_location(location_)
  std::shared_ptr<StoreAccess> store_;
  store::ModelIdentity identity_;
  std::shared_ptr<CompressedSlot> compressed_slot_;

  mutable std::mutex snapshot_mutex_;  // guards snapshot_
  std::shared_ptr<const LibrarySnapshot> snapshot_;
  std::mutex refresh_mutex_;           // one refresh at a time

  std::mutex model_mutex_;             // guards spec_ and model_ while loading
  std::unique_ptr<index::ModelSpec> spec_;
  std::shared_ptr<const ClapModel> model_;
  std::atomic<bool> model_ready_{false};

  std::mutex states_mutex_;            // the ClapState pool
  std::condition_variable states_cv_;
  std::vector<std::unique_ptr<ClapState>> free_states_;
  int states_made_ = 0, waiting_ = 0;

  std::atomic<int64_t> cache_hits_{0}, cache_misses_{0};

  std::mutex text_mutex_;
  std::condition_variable text_cv_;
  std::vector<TextRequest*> text_queue_;
  // Free: the next caller takes the turn; Gathering: its taker waits for more requests;
  // Running: the text tower runs a batch.
  enum class TextTurn { Free, Gathering, Running } text_turn_ = TextTurn::Free;
  std::condition_variable text_arrival_cv_;  // a text request was queued
  // The last two batches' request counts, the requests queued while the last one ran, and its
  // run time (gather_text_requests).
  size_t last_text_batch_requests_ = 0, previous_text_batch_requests_ = 0;
  size_t arrived_during_run_ = 0, arrived_during_last_run_ = 0;
  std::chrono::steady_clock::duration last_text_batch_time_{};
  std::atomic<int64_t> text_tower_runs_{0};
};

}  // namespace clap::service
