// The Store in a PostgreSQL database (issue 16: a library index shared by several machines).
// Same semantics as SqliteStore (sqlite_store.h); the layout mirrors its tables:
//
//   schema_version(version)   migrations below bring an older database up to date
//   meta(key, value text)     model identity, generation, library_generation
//   roots, tracks, windows, text_cache, track_labels, retired_tracks, retired_windows,
//   embedding_sets, set_windows, set_tracks (the inactive sets' embeddings), jobs
//
// Embeddings are bytea holding float32 little-endian (the SQLite BLOB bytes exactly). Paths and
// labels use the "C" collation, so "by path" orders bytes as SQLite does. A text that is not
// valid UTF-8 (a Latin-1 file name), which a text column rejects, is stored escaped and read
// back as the same bytes (pg::Params / pg::Result in postgres.cpp: the one place); such names
// sort before the others. Every write is one
// transaction; read_scope() is a REPEATABLE READ READ ONLY transaction on this connection.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "store/playlist_reads.h"
#include "store/store.h"

namespace clap::store {

namespace pg {
class Connection;
}

class PostgresStore final : public Store {
 public:
  // Connects to `url` (postgresql://...), creates or migrates the schema. Throws clap::Error.
  // Without `create`, the database must already hold an index (an older schema is migrated): an
  // empty database is refused and left empty.
  static std::unique_ptr<PostgresStore> open(const std::string& url, bool create = true);
  // Connects to an existing index (no schema changes; a missing or other schema is refused);
  // the session is read-only.
  static std::unique_ptr<PostgresStore> open_readonly(const std::string& url);
  // `index --rebuild` of an index missing tables (store.h: replace_damaged_index): creates the
  // tables it lacks, then opens it as open() does. The caller wipes it next.
  static std::unique_ptr<PostgresStore> open_completing_schema(const std::string& url);
  // Throws the DamagedIndex that open_completing_schema would when it cannot repair the database (a
  // column dropped or retyped by hand in a table whose rows a rebuild keeps), before a rebuild
  // loads its model: the exact way out, not a model load and then the refusal (store13).
  static void check_rebuildable(const std::string& url);
  static int current_schema_version();
  // The id its users' password key file is named after (store/database_id.h): meta's key_id row,
  // recorded by the first open() of the database that finds none; std::nullopt when none is
  // recorded. Throws DamagedIndex when the row is not 32 hex digits.
  std::optional<std::string> key_id() const;
  bool connection_closed() const;  // store/connection_state.h
  static bool is_url(const std::string& location);  // postgresql:// or postgres://

  ~PostgresStore() override;

  const std::string& path() const override { return where_; }  // the URL without its password
  bool read_only() const override { return read_only_; }
  int schema_version() const override;
  int64_t generation() const override;
  int64_t library_generation() const override;
  std::unique_ptr<ReadScope> read_scope() const override;
  int64_t file_bytes() const override;
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

  bool has_job_queue() const override { return true; }
  void plan_jobs(const std::vector<IndexJob>& files) override;
  int64_t forget_finished_jobs() override;
  std::vector<IndexJob> claim_jobs(const std::string& worker, int n, double lease_s, int max_pass = 0) override;
  int64_t renew_leases(const std::string& worker, double lease_s) override;
  int64_t finish_job(const IndexJob& job, const std::string& worker, const Track& track,
                     const std::vector<WindowRecord>& windows, const float* track_embedding) override;
  bool finish_pass_job(const IndexJob& job, const std::string& worker, int64_t track_id,
                       const std::vector<WindowRecord>& windows, const float* track_embedding) override;
  int64_t release_jobs(const std::string& worker) override;
  JobCounts job_counts() const override;

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
  int64_t insert_plays(const std::vector<PlayRecord>& plays);
  // begin_import's and begin_replace's first rows: the identity and the roots.
  void write_copy_head(const ModelIdentity& identity, const std::vector<std::string>& roots);
  WindowTable window_rows_by(const char* column, const std::vector<int64_t>& ids, const char* order) const;
  PostgresStore(std::unique_ptr<pg::Connection> c, std::string url, bool read_only);
  std::unique_ptr<pg::Connection> c_;  // mutable state of a const Store: the session
  std::string url_;    // as given (to connect again)
  std::string where_;  // without its password, for messages
  bool read_only_ = false;
  bool importing_ = false;  // an ImportScope is open (clapsearch migrate)
};

}  // namespace clap::store
