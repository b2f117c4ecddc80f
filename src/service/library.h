// A session over one library index: the query API every front end (CLI, server) calls.
//
// A Library opens the store, checks the model recorded in it against any model the caller
// names, and loads on first use only what a query needs: the track list, the window catalog,
// the persisted window vector index, the track embeddings, the model. Text embeddings go
// through the index's text cache (a text seen before costs no model run); query audio is
// decoded and embedded exactly as the indexer embeds a track.
//
// Notes (cache hits, vector index loaded or rebuilt, model runs) and warnings go to callbacks;
// nothing here prints. A Library is used from one thread at a time.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/embeddings.h"
#include "index/identity.h"
#include "model/clap.h"
#include "search/catalog.h"
#include "search/vector_index.h"
#include "service/audio_embedding.h"
#include "service/model.h"
#include "store/store.h"

namespace clap::service {

struct LibraryOptions {
  std::string db;     // empty = store::default_db_path()
  std::string model;  // empty = the model recorded in the index (another one is refused)
  int threads = 0;    // model threads, 0 = all cores
  Notice note;        // optional notes (see above); null = silent
  Notice warn;        // warnings (text cut at the model's limit, a collapsed text tower); null = dropped
};

enum class Access {
  ReadOnly,              // queries only
  ReadWriteIfPossible,   // also caches text embeddings and stores labels when the file is writable
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

class Library {
 public:
  // Throws clap::Error: no index, no model recorded yet, a named model not matching the index.
  Library(const LibraryOptions& options, Access access);
  ~Library();

  const store::ModelIdentity& identity() const { return identity_; }
  const std::string& db_path() const { return db_path_; }
  int dim() const { return identity_.dim; }
  bool writable() const { return !store_->read_only(); }

  // --- tracks (every track row, status ok or error)
  const std::vector<store::Track>& tracks();
  const store::Track* track(int64_t id);  // nullptr when absent
  // A track given as an id or as a path (absolute, relative to the working directory, or
  // through a symlink); nullptr when it is not in the index.
  const store::Track* find_track(const std::string& id_or_path);
  // Path shown to people: relative to the indexed folder holding it, else absolute.
  std::string display_path(const std::string& path);
  // "artist – title" (whichever exist), then stored zero-shot labels in brackets.
  std::string tags_text(const store::Track& t);
  std::vector<store::TrackLabel> labels_of(int64_t track_id);
  std::vector<store::WindowRecord> track_windows(int64_t track_id) const;
  // Replaces the stored labels of the tracks named in `labels`. Throws when read-only.
  void store_labels(const std::vector<store::TrackLabel>& labels);

  // --- embeddings. Throw clap::Error when the index has nothing searchable.
  const search::Catalog& catalog();
  const search::VectorIndex& window_index();  // persisted beside the database (window_index.h)
  const Embeddings& track_embeddings();
  // The stored track embedding of `track_id`; throws with the reason when it has none.
  std::vector<float> track_embedding(int64_t track_id);

  // --- model (loaded on first use only)
  const index::ModelSpec& model_spec();
  const ClapModel& model();
  bool model_loaded() const { return model_ != nullptr; }

  // Text embeddings (n × dim) through the index's text cache.
  std::vector<float> embed_texts(const std::vector<std::string>& texts);
  int64_t text_cache_hits() const { return cache_hits_; }
  int64_t text_cache_misses() const { return cache_misses_; }

  // Decodes `path` and embeds windows of window_s every hop_s seconds (0 = the index's
  // settings), silent windows flagged as the index flags them. Throws clap::Error with a clear
  // reason (no such file, undecodable, silent throughout).
  FileWindows embed_file(const std::string& path, double window_s = 0, double hop_s = 0);
  // A file's track embedding, computed exactly as the indexer computes a track's.
  std::vector<float> file_embedding(const std::string& path);
  // An indexed track (id or path: its stored embedding) or any audio file (decoded).
  AudioItem audio_item(const std::string& file_or_track);
  // One song window by window: an indexed track's stored windows, or a file's.
  SongWindows song_windows(const std::string& file_or_track);

  void note(const std::string& message) const;

 private:
  void load_tracks();

  LibraryOptions options_;
  std::string db_path_;
  std::unique_ptr<store::Store> store_;
  store::ModelIdentity identity_;
  std::vector<std::string> roots_;
  bool tracks_loaded_ = false;
  std::vector<store::Track> tracks_;
  std::map<int64_t, size_t> track_pos_;
  std::map<std::string, size_t> path_pos_;
  bool labels_loaded_ = false;
  std::map<int64_t, std::vector<store::TrackLabel>> labels_;
  std::unique_ptr<search::Catalog> catalog_;
  std::unique_ptr<search::VectorIndex> window_index_;
  std::unique_ptr<Embeddings> track_embeddings_;
  std::unique_ptr<index::ModelSpec> spec_;
  std::unique_ptr<ClapModel> model_;
  std::unique_ptr<ClapState> state_;  // this session's buffers, thread count and warnings; made with model_
  int64_t cache_hits_ = 0, cache_misses_ = 0;
};

}  // namespace clap::service
