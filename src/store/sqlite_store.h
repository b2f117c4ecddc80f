// The Store on one SQLite database (WAL journal, foreign keys, busy timeout): the embedded
// default, nothing to install, one file per library.
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
// Embeddings are BLOBs of float32, little-endian, `dim` values. Every write is one
// transaction; readers (open_readonly) see the last committed state while an indexer writes.
#pragma once
#include <string>
#include <utility>

#include "store/playlist_reads.h"
#include "store/store.h"

struct sqlite3;

namespace clap::store {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database (and its folder), applies migrations. Throws clap::Error.
  // Without `create`, the file must already hold an index (an older schema is migrated): a
  // missing or empty file is refused and left as it was.
  static SqliteStore open(const std::string& path, bool create = true);
  // Opens an existing database for reading only (no migration; a database whose schema is
  // older or newer than this build is refused). Throws clap::Error if absent.
  static SqliteStore open_readonly(const std::string& path);
  static int current_schema_version();
  // See store.h: check_replaceable and replace_damaged_index.
  static void check_replaceable(const std::string& path);
  // Refuses a path that is a dangling symbolic link as the place of a new index (R13C-3).
  static void check_not_dangling(const std::string& path);
  static SqliteStore replace_damaged(const std::string& path, std::unique_ptr<IndexerLock>& lock, Salvage* salvage);

  SqliteStore(SqliteStore&&) noexcept;
  SqliteStore& operator=(SqliteStore&&) noexcept;
  ~SqliteStore() override;

  const std::string& path() const override { return path_; }
  bool read_only() const override { return read_only_; }
  int schema_version() const override;
  int64_t generation() const override;
  int64_t library_generation() const override;
  std::unique_ptr<ReadScope> read_scope() const override;
  int64_t file_bytes() const override;
  int64_t rows_written() const;  // store/connection_state.h
  std::unique_ptr<IndexerLock> lock_indexer() override;

  std::optional<ModelIdentity> model() const override;
  void set_model(const ModelIdentity& identity) override;
  void wipe(const ModelIdentity& identity) override;

  std::vector<EmbeddingSet> embedding_sets() const override;
  int64_t add_embedding_set(const ModelIdentity& identity) override;
  std::vector<SetTrack> set_tracks(int64_t set_id) const override;
  std::vector<WindowRecord> set_windows(int64_t set_id, int64_t track_id) const override;
  void add_set_windows(int64_t set_id, int64_t track_id, const std::vector<WindowRecord>& windows,
                       const float* track_embedding) override;
  void activate_set(int64_t set_id) override;
  void drop_set(int64_t set_id) override;
  void add_roots(const std::vector<std::string>& paths) override;
  std::vector<std::string> roots() const override;

  std::vector<Track> tracks() const override;
  std::optional<Track> track(int64_t id) const override;
  std::optional<Track> track_by_path(const std::string& path) const override;
  std::vector<FileState> file_states() const override;
  std::vector<FileState> kept_track_ids() const override;
  std::vector<TrackError> errors() const override;
  Counts counts() const override;
  int64_t put_track(const Track& track, const std::vector<WindowRecord>& windows, const float* track_embedding) override;
  void add_windows(int64_t track_id, const std::vector<WindowRecord>& windows, const float* track_embedding) override;
  std::vector<PartialTrack> partial_tracks() const override;
  void move_track(int64_t id, const std::string& new_path, int64_t size, int64_t mtime_ns, int64_t ctime_ns) override;
  std::vector<FileState> tracks_with_tags_before(int version) const override;
  void update_tags(int64_t id, const Track& tags) override;
  std::map<int64_t, std::vector<uint32_t>> fingerprints(const std::vector<int64_t>& ids) const override;
  std::vector<FileState> tracks_without_fingerprint() const override;
  void put_fingerprint(int64_t id, const std::vector<uint32_t>& items) override;
  Embeddings tracks_without_speech() const override;
  void put_speech(const std::vector<std::pair<int64_t, double>>& scores) override;
  void remove_tracks(const std::vector<int64_t>& ids) override;
  void retire_tracks(const std::vector<int64_t>& ids) override;
  std::vector<FileState> retired_tracks() const override;
  int64_t restore_track(int64_t retired_id, const std::string& path, int64_t size, int64_t mtime_ns, int64_t ctime_ns) override;
  int64_t purge_retired(int64_t before_unix_s) override;
  std::map<std::string, std::string> packet_hashes(const std::vector<std::string>& content_hashes) const override;
  void put_packet_hashes(const std::vector<std::pair<std::string, std::string>>& rows) override;
  std::vector<FileState> tracks_without_packet_hash() const override;

  Embeddings track_embeddings() const override;
  WindowTable window_embeddings() const override;
  std::vector<WindowRecord> windows(int64_t track_id) const override;
  Embeddings track_embeddings(const std::vector<int64_t>& ids) const override;
  // store/embedding_sizes.h
  std::optional<int64_t> misshapen_track_embedding() const;
  void scan_window_embeddings(int64_t batch, const std::function<bool(const WindowTable&)>& sink) const override;
  WindowTable window_embeddings(const std::vector<int64_t>& window_ids) const override;
  std::vector<int64_t> active_window_ids() const override;
  WindowTable track_window_embeddings(const std::vector<int64_t>& track_ids) const override;
  std::optional<LibraryChanges> changes_since(int64_t since) const override;

  std::optional<std::vector<float>> cached_text(const std::string& model_key, const std::string& text) const override;
  void put_cached_texts(const std::vector<CachedText>& texts) override;

  void put_labels(const std::vector<TrackLabel>& labels) override;
  std::vector<TrackLabel> labels(int64_t track_id) const override;
  std::vector<TrackLabel> all_labels() const override;
  void clear_labels() override;

  std::vector<std::string> check() const override;

  // --- copying a whole index (clapsearch migrate)
  std::vector<int64_t> track_ids() const override;
  std::vector<TrackCopy> export_tracks(const std::vector<int64_t>& ids) const override;
  std::vector<RetiredCopy> export_retired(const std::vector<int64_t>& retired_ids) const override;
  std::vector<CachedText> export_cached_texts(const CachedText* after, size_t limit) const override;
  std::unique_ptr<ImportScope> begin_import(const ModelIdentity& identity, const std::vector<std::string>& roots) override;
  std::unique_ptr<ImportScope> begin_replace(const ModelIdentity& identity, const std::vector<std::string>& roots) override;
  void import_sets(const std::vector<EmbeddingSet>& sets) override;
  void import_tracks(const std::vector<TrackCopy>& tracks) override;
  void import_retired(const std::vector<RetiredCopy>& retired) override;
  void import_cached_texts(const std::vector<CachedText>& texts) override;

  bool has_users() const override;
  std::vector<UserRecord> users() const override;
  std::optional<UserRecord> user(const std::string& name) const override;
  std::optional<UserRecord> user_by_id(int64_t id) const override;
  int64_t add_user(const UserRecord& user) override;
  void set_password(int64_t user_id, const std::string& password_encrypted) override;
  bool remove_user(int64_t user_id) override;
  int64_t add_api_key(const ApiKeyRecord& key) override;
  std::optional<ApiKeyRecord> api_key(const std::string& key_hash) const override;
  std::vector<ApiKeyRecord> api_keys(int64_t user_id) const override;
  bool remove_api_key(int64_t user_id, int64_t key_id) override;
  void put_star(const FeedbackRecord& star) override;
  bool remove_star(int64_t user_id, const std::string& kind, const std::string& item_id, int64_t track_id) override;
  std::vector<FeedbackRecord> stars(int64_t user_id) const override;
  void put_rating(const FeedbackRecord& rating) override;
  std::vector<FeedbackRecord> ratings(int64_t user_id) const override;
  int64_t add_play(const PlayRecord& play) override;
  std::vector<PlayRecord> plays(int64_t user_id, int64_t after_id, size_t limit) const override;
  int64_t count_plays(int64_t user_id, int64_t up_to_id) const override;
  int64_t add_plays(const std::vector<PlayRecord>& plays) override;
  int64_t add_new_plays(const std::function<std::vector<PlayRecord>()>& fresh) override;
  std::vector<SongPlayCount> song_play_counts(int64_t user_id, const std::string& source) const override;
  HistoryRemoved forget_history(int64_t user_id, int64_t before, const std::string& source) override;
  int64_t put_playlist(const PlaylistRecord& playlist) override;
  std::vector<PlaylistRecord> playlists(int64_t user_id) const override;
  std::optional<PlaylistRecord> playlist(int64_t id) const override;
  // store/playlist_reads.h
  std::vector<PlaylistRecord> playlist_headers(PlaylistsOf which) const;
  void playlist_entries(PlaylistsOf which, bool whole, const std::function<void(int64_t, const SongRef&)>& each) const;
  int64_t playlist_count(int64_t owner) const;
  // store/orphan_rows.h
  std::pair<int64_t, int64_t> set_rows_of_no_track() const;
  bool change_playlist(int64_t id, const std::function<bool(PlaylistRecord&)>& change) override;
  bool remove_playlist(int64_t id) override;
  void put_play_queue(const PlayQueueRecord& queue) override;
  std::optional<PlayQueueRecord> play_queue(int64_t user_id) const override;
  void put_bookmark(const BookmarkRecord& bookmark) override;
  bool remove_bookmark(int64_t user_id, int64_t track_id) override;
  std::vector<BookmarkRecord> bookmarks(int64_t user_id) const override;
  int64_t reattach_songs() override;
  std::vector<Misattached> misattached_songs() const override;
  int64_t detach_misattached_songs() override;
  UserDataCopy export_user_data() const override;
  void import_user_data(const UserDataCopy& data) override;

 private:
  // begin_import's and begin_replace's first rows: the identity and the roots.
  void write_copy_head(const ModelIdentity& identity, const std::vector<std::string>& roots);
  static SqliteStore open_file(const std::string& path, bool create);  // open() once the file is there
  WindowTable window_rows_by(const char* column, const std::vector<int64_t>& ids, const char* order) const;
  SqliteStore(sqlite3* db, std::string path, bool read_only);
  sqlite3* db_ = nullptr;
  std::string path_;
  bool read_only_ = false;
  bool importing_ = false;  // an ImportScope is open (clapsearch migrate)
};

}  // namespace clap::store
