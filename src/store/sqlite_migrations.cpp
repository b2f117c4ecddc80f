// SqliteStore's schema: numbered migrations (kMigrations[i] brings version i to i + 1), and the
// retired tracks' tables, made on first use.
#include "store/sqlite_internal.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <set>
#include <string>

#include "core/error.h"
#include "store/schema_tables.h"

namespace clap::store::sqlite_impl {

namespace {

// Schema migrations: kMigrations[i] brings a database from version i to version i + 1.
const char* const kMigrations[] = {
    // 0 -> 1: initial layout.
    R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('generation', 0);
CREATE TABLE roots(
  path     TEXT PRIMARY KEY,
  added_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE tracks(
  id           INTEGER PRIMARY KEY,
  path         TEXT NOT NULL UNIQUE,
  size         INTEGER NOT NULL,
  mtime_ns     INTEGER NOT NULL,
  ctime_ns     INTEGER NOT NULL DEFAULT 0,
  content_hash TEXT,
  duration_s   REAL NOT NULL DEFAULT 0,
  title        TEXT,
  artist       TEXT,
  album        TEXT,
  genre        TEXT,
  date         TEXT,
  track_no     INTEGER NOT NULL DEFAULT 0,
  status       TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  error        TEXT,
  silent       INTEGER NOT NULL DEFAULT 0,
  embedding    BLOB,
  indexed_at   INTEGER NOT NULL
);
CREATE INDEX tracks_content_hash ON tracks(content_hash);
CREATE TABLE windows(
  id            INTEGER PRIMARY KEY,
  track_id      INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  idx           INTEGER NOT NULL,
  start_s       REAL NOT NULL,
  end_s         REAL NOT NULL,
  loudness_dbfs REAL NOT NULL,
  silent        INTEGER NOT NULL,
  embedding     BLOB,
  UNIQUE (track_id, idx)
);
CREATE TABLE text_cache(
  model     TEXT NOT NULL,
  text      TEXT NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (model, text)
) WITHOUT ROWID;
CREATE TABLE track_labels(
  track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  label    TEXT NOT NULL,
  score    REAL NOT NULL,
  PRIMARY KEY (track_id, label)
) WITHOUT ROWID;
)sql",
    // 1 -> 2: change stamps, for readers that refresh incrementally (Store::changes_since).
    // changed_at = the library generation that last wrote the track (its row, windows or
    // labels); removed_tracks logs removals. Rows written before this migration carry 0, and
    // changes_from records from which generation on the stamps are complete.
    R"sql(
ALTER TABLE tracks ADD COLUMN changed_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tracks_changed_at ON tracks(changed_at);
CREATE TABLE removed_tracks(
  removed_at INTEGER NOT NULL,
  track_id   INTEGER NOT NULL,
  PRIMARY KEY (removed_at, track_id)
) WITHOUT ROWID;
INSERT OR REPLACE INTO meta(key, value)
  VALUES ('changes_from', COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'library_generation'), 0));
)sql",
    // 2 -> 3: the identifiers a media server names a song by (issue 36): MusicBrainz recording id,
    // ISRC and album artist from the file's tags. tags_version says which reading of the tags a
    // row holds: rows written before this migration carry 0, and the next index run reads their
    // tags again (store::kTagsVersion) without decoding or embedding the audio.
    R"sql(
ALTER TABLE tracks ADD COLUMN mbid TEXT;
ALTER TABLE tracks ADD COLUMN isrc TEXT;
ALTER TABLE tracks ADD COLUMN album_artist TEXT;
ALTER TABLE tracks ADD COLUMN tags_version INTEGER NOT NULL DEFAULT 0;
)sql",
    // 3 -> 4: acoustic fingerprints (audio/fingerprint.h), which `duplicates` decides by. Tracks
    // indexed before have none; the next index run computes them (a decode, no embedding).
    R"sql(
CREATE TABLE fingerprints(
  track_id INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
  items    BLOB NOT NULL
);
)sql",
    // 4 -> 5: progressive indexing (index/passes.h): a track may hold only some of its windows.
    // window_total = how many it has in all; every track indexed before holds all of its windows.
    R"sql(
ALTER TABLE tracks ADD COLUMN window_total INTEGER NOT NULL DEFAULT 0;
UPDATE tracks SET window_total = (SELECT COUNT(*) FROM windows w WHERE w.track_id = tracks.id);
)sql",
    // 5 -> 6: embedding sets (issue 37; store.h EmbeddingSet). The tracks and windows tables keep
    // the active set's embeddings; embedding_sets lists every set with its identity (the active
    // one's mirrors meta), set_windows / set_tracks hold the inactive sets' embeddings. The
    // index's one model becomes set 1, active.
    R"sql(
CREATE TABLE embedding_sets(
  id              INTEGER PRIMARY KEY,
  active          INTEGER NOT NULL DEFAULT 0,
  model_id        TEXT NOT NULL,
  model_revision  TEXT NOT NULL DEFAULT '',
  config_hash     TEXT NOT NULL DEFAULT '',
  content_hash    TEXT NOT NULL DEFAULT '',
  audio_hash      TEXT NOT NULL DEFAULT '',
  model_config    TEXT NOT NULL DEFAULT '',
  model_tokenizer TEXT NOT NULL DEFAULT '',
  window_s        REAL NOT NULL,
  hop_s           REAL NOT NULL,
  dim             INTEGER NOT NULL,
  silence_db      REAL NOT NULL,
  precision       TEXT NOT NULL DEFAULT 'fp32'
);
CREATE TABLE set_windows(
  set_id    INTEGER NOT NULL REFERENCES embedding_sets(id) ON DELETE CASCADE,
  track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  idx       INTEGER NOT NULL,
  embedding BLOB NOT NULL,
  PRIMARY KEY (set_id, track_id, idx)
) WITHOUT ROWID;
CREATE INDEX set_windows_track ON set_windows(track_id);
CREATE TABLE set_tracks(
  set_id    INTEGER NOT NULL REFERENCES embedding_sets(id) ON DELETE CASCADE,
  track_id  INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
  embedding BLOB NOT NULL,
  PRIMARY KEY (set_id, track_id)
) WITHOUT ROWID;
CREATE INDEX set_tracks_track ON set_tracks(track_id);
INSERT INTO embedding_sets(id, active, model_id, model_revision, config_hash, content_hash, audio_hash, model_config,
                           model_tokenizer, window_s, hop_s, dim, silence_db, precision)
SELECT 1, 1, (SELECT value FROM meta WHERE key = 'model_id'),
       COALESCE((SELECT value FROM meta WHERE key = 'model_revision'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'config_hash'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'content_hash'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'audio_hash'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'model_config'), ''),
       COALESCE((SELECT value FROM meta WHERE key = 'model_tokenizer'), ''),
       COALESCE((SELECT CAST(value AS REAL) FROM meta WHERE key = 'window_s'), 10),
       COALESCE((SELECT CAST(value AS REAL) FROM meta WHERE key = 'hop_s'), 5),
       COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'dim'), 0),
       COALESCE((SELECT CAST(value AS REAL) FROM meta WHERE key = 'silence_db'), -60),
       COALESCE((SELECT value FROM meta WHERE key = 'precision'), 'fp32')
WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'model_id');
)sql",
    // 6 -> 7: the speech/music score of a track (issue 38; index/speech.h), in [0, 1]. NULL = none:
    // every track indexed before has none, and the next index run computes them from the stored
    // track embeddings (no decoding).
    R"sql(
ALTER TABLE tracks ADD COLUMN speech REAL;
)sql",
    // 7 -> 8: users and what they keep (issue 54: the Subsonic API's users, API keys, stars,
    // ratings, plays, playlists; issue 55 reads the plays and feedback). No foreign key to tracks:
    // a song is referred to by track id plus the content hash and path that find it again after
    // `index --rebuild` or a new id (store.h SongRef; reattach_songs), and nothing a user keeps
    // goes when a track does. Removing a user removes what they keep (ON DELETE CASCADE).
    R"sql(
CREATE TABLE users(
  id                 INTEGER PRIMARY KEY,
  name               TEXT NOT NULL UNIQUE,
  password_encrypted TEXT NOT NULL,
  admin              INTEGER NOT NULL DEFAULT 0,
  created_at         INTEGER NOT NULL
);
CREATE TABLE api_keys(
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key_hash   TEXT NOT NULL UNIQUE,
  label      TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE TABLE stars(
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  item_kind    TEXT NOT NULL CHECK (item_kind IN ('song', 'album', 'artist')),
  item_id      TEXT NOT NULL DEFAULT '',
  track_id     INTEGER NOT NULL DEFAULT 0,
  content_hash TEXT NOT NULL DEFAULT '',
  path         TEXT NOT NULL DEFAULT '',
  starred_at   INTEGER NOT NULL
);
CREATE INDEX stars_item ON stars(user_id, item_kind, item_id, track_id);
CREATE TABLE ratings(
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  item_kind    TEXT NOT NULL CHECK (item_kind IN ('song', 'album', 'artist')),
  item_id      TEXT NOT NULL DEFAULT '',
  track_id     INTEGER NOT NULL DEFAULT 0,
  content_hash TEXT NOT NULL DEFAULT '',
  path         TEXT NOT NULL DEFAULT '',
  rating       INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
  rated_at     INTEGER NOT NULL
);
CREATE INDEX ratings_item ON ratings(user_id, item_kind, item_id, track_id);
CREATE TABLE plays(
  id             INTEGER PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  track_id       INTEGER NOT NULL,
  content_hash   TEXT NOT NULL DEFAULT '',
  path           TEXT NOT NULL DEFAULT '',
  played_at      INTEGER NOT NULL,
  seconds_played REAL NOT NULL DEFAULT 0,
  skipped        INTEGER NOT NULL DEFAULT 0,
  source         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX plays_user_time ON plays(user_id, played_at);
CREATE INDEX plays_track ON plays(track_id);
CREATE TABLE playlists(
  id         INTEGER PRIMARY KEY,
  owner      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  comment    TEXT NOT NULL DEFAULT '',
  public     INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL
);
CREATE TABLE playlist_entries(
  playlist_id  INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
  position     INTEGER NOT NULL,
  track_id     INTEGER NOT NULL,
  content_hash TEXT NOT NULL DEFAULT '',
  path         TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (playlist_id, position)
) WITHOUT ROWID;
)sql",
    // 8 -> 9: the users' play queues and bookmarks (issue 54: getPlayQueue/savePlayQueue, the
    // indexBasedQueue extension, getBookmarks/createBookmark). Songs are referred to as the
    // other user tables refer to them (store.h SongRef), re-attached after a rebuild or a move.
    R"sql(
CREATE TABLE play_queues(
  user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  current_index INTEGER NOT NULL DEFAULT 0,
  position_ms INTEGER NOT NULL DEFAULT 0,
  changed_at  INTEGER NOT NULL,
  changed_by  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE play_queue_entries(
  user_id      INTEGER NOT NULL REFERENCES play_queues(user_id) ON DELETE CASCADE,
  position     INTEGER NOT NULL,
  track_id     INTEGER NOT NULL,
  content_hash TEXT NOT NULL DEFAULT '',
  path         TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (user_id, position)
) WITHOUT ROWID;
CREATE TABLE bookmarks(
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  track_id     INTEGER NOT NULL,
  content_hash TEXT NOT NULL DEFAULT '',
  path         TEXT NOT NULL DEFAULT '',
  position_ms  INTEGER NOT NULL,
  comment      TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  changed_at   INTEGER NOT NULL
);
CREATE INDEX bookmarks_user ON bookmarks(user_id, track_id);
)sql",
    // 9 -> 10: kept_track_ids, the ids of the tracks wipe() deleted (an `index --rebuild` that
    // empties the index first), given back to the files indexed again (Store::wipe); and a
    // user's plays in id order (Store::plays(user, after_id), count_plays: the play sums
    // service/user_data.h brings up to date per request) read from an index of the user alone,
    // whose entries hold the rowid (the play's id) in order, instead of every play of the table
    // after the id. plays_user_time orders a user's plays by time, not by id.
    R"sql(
CREATE INDEX plays_user_id ON plays(user_id);
CREATE TABLE kept_track_ids(
  id           INTEGER PRIMARY KEY,
  path         TEXT NOT NULL,
  content_hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX kept_track_ids_path ON kept_track_ids(path);
CREATE INDEX kept_track_ids_hash ON kept_track_ids(content_hash);
)sql",
    // 10 -> 11: a play imported from an export (issue 55: `history import`, sources "listenbrainz"
    // and "lastfm") is kept once: one user, source, start second and song (its content hash, else
    // its path; service/history.h play_key). The import skipped the plays it had read as kept,
    // but two imports at once both read none and both wrote. Plays such imports doubled are merged
    // first: the first kept, with the longest time played and "skipped" only if every copy was.
    // Other sources may hold several plays at one second (beets adds a song's counted plays at
    // its last play; a scrobble is a scrobble) and are not constrained.
    R"sql(
UPDATE plays SET
  seconds_played = (SELECT MAX(d.seconds_played) FROM plays d WHERE d.user_id = plays.user_id AND d.source = plays.source
                    AND d.played_at = plays.played_at AND d.content_hash = plays.content_hash
                    AND (plays.content_hash <> '' OR d.path = plays.path)),
  skipped = (SELECT MIN(d.skipped) FROM plays d WHERE d.user_id = plays.user_id AND d.source = plays.source
             AND d.played_at = plays.played_at AND d.content_hash = plays.content_hash
             AND (plays.content_hash <> '' OR d.path = plays.path))
WHERE id IN (SELECT MIN(id) FROM plays WHERE source IN ('listenbrainz', 'lastfm')
             GROUP BY user_id, source, played_at, CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END
             HAVING COUNT(*) > 1);
DELETE FROM plays WHERE source IN ('listenbrainz', 'lastfm') AND id NOT IN (
  SELECT MIN(id) FROM plays WHERE source IN ('listenbrainz', 'lastfm')
  GROUP BY user_id, source, played_at, CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END);
CREATE UNIQUE INDEX plays_imported_once ON plays(user_id, source, played_at,
  (CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END))
  WHERE source IN ('listenbrainz', 'lastfm');
)sql",
    // 11 -> 12: packet_hashes, the hash of each indexed file's compressed audio (audio/packet_hash.h)
    // by the file's content hash: a file moved and retagged at once (another path, another content
    // hash) is told by it from a new file and keeps its track id and user data (hostile pass 9,
    // H9S-5). Filled by index runs, for the tracks indexed before too (while their files are there).
    R"sql(
CREATE TABLE packet_hashes(
  content_hash TEXT PRIMARY KEY,
  packet_hash  TEXT NOT NULL
) WITHOUT ROWID;
)sql",
    // 12 -> 13: every play but beets' is kept once per user, source, start second and song (hostile
    // pass 16, H16S-5): a retried scrobble (the same id and time: a player that lost the answer)
    // and the MPD radio recorded a second play. beets alone adds several plays of a song at one
    // second on purpose (its counts at the last play). The plays doubled so far are merged as
    // 10 -> 11 merged the imports' (the first kept, the longest time played, "skipped" only if
    // every copy was); add_play then keeps the play once and answers the kept play's id.
    R"sql(
UPDATE plays SET
  seconds_played = (SELECT MAX(d.seconds_played) FROM plays d WHERE d.user_id = plays.user_id AND d.source = plays.source
                    AND d.played_at = plays.played_at AND d.content_hash = plays.content_hash
                    AND (plays.content_hash <> '' OR d.path = plays.path)),
  skipped = (SELECT MIN(d.skipped) FROM plays d WHERE d.user_id = plays.user_id AND d.source = plays.source
             AND d.played_at = plays.played_at AND d.content_hash = plays.content_hash
             AND (plays.content_hash <> '' OR d.path = plays.path))
WHERE id IN (SELECT MIN(id) FROM plays WHERE source <> 'beets'
             GROUP BY user_id, source, played_at, CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END
             HAVING COUNT(*) > 1);
DELETE FROM plays WHERE source <> 'beets' AND id NOT IN (
  SELECT MIN(id) FROM plays WHERE source <> 'beets'
  GROUP BY user_id, source, played_at, CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END);
DROP INDEX plays_imported_once;
CREATE UNIQUE INDEX plays_imported_once ON plays(user_id, source, played_at,
  (CASE WHEN content_hash = '' THEN 'path:' || path ELSE content_hash END))
  WHERE source <> 'beets';
)sql",
};
}  // namespace

extern const int kSchemaVersion = static_cast<int>(sizeof(kMigrations) / sizeof(kMigrations[0]));

int64_t read_version(sqlite3* db) {
  sql::Stmt has(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (!has.step()) {
    // An index (our application id) always has the table: not finding it is a damaged schema
    // page (the schema spans more than the first page).
    sql::Stmt id(db, "PRAGMA application_id");
    if (id.step() && id.int64(0) == kApplicationId)
      throw sql::SqliteError("database error: the schema has no schema_version table", SQLITE_CORRUPT);
    return 0;
  }
  sql::Stmt v(db, "SELECT version FROM schema_version");
  // The table is created and filled in one transaction: a table without its row, or with a row
  // that holds no version, is a damaged page.
  if (!v.step() || v.int64(0) <= 0)
    throw sql::SqliteError("database error: the schema_version table holds no version", SQLITE_CORRUPT);
  // A version past int's range is newer than any release (hostile pass 9, H9C-3): cast, 2^63-1
  // became -1, which indexed the migration list before its start and was advised to "upgrade it"
  // with `clapsearch index`, and 2^32+5 became 5, which ran migrations again over the file. It is
  // kept whole (int64_t): callers compare it with kSchemaVersion and show it as stored.
  return v.int64(0);
}

namespace {
// The schema the migrations make, read from their SQL once per process.
const std::vector<SchemaPart>& schema() {
  static const std::vector<SchemaPart> parts = schema_parts(kMigrations, kSchemaVersion);
  return parts;
}
}  // namespace

SchemaColumns read_columns(sqlite3* db) {
  // One statement: every table with its columns and their declared types.
  SchemaColumns present;
  sql::Stmt s(db, "SELECT m.name, p.name, p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p "
                  "WHERE m.type = 'table'");
  while (s.step()) present[s.text(0)][s.text(1)] = s.text(2);
  return present;
}

void check_version_against_tables(sqlite3* db, const std::string& path, int64_t version) {
  if (const auto ahead = ahead_of(schema(), version, read_columns(db)))
    throw Error(version_behind_tables(path, version, *ahead, kSchemaVersion));
}

void migrate(sqlite3* db, const std::string& path) {
  if (read_version(db) == kSchemaVersion) return;
  sql::Transaction tx(db);
  int64_t version = read_version(db);  // again, under the write lock (another process may have migrated)
  if (version < 0 || version > kSchemaVersion)
    throw Error(path + ": index schema version " + std::to_string(version) +
                " is newer than this clapsearch supports (" + std::to_string(kSchemaVersion) + "); upgrade clapsearch");
  if (version > 0) check_version_against_tables(db, path, version);
  if (version == 0) sql::exec(db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
  for (; version < kSchemaVersion; ++version) sql::exec(db, kMigrations[version]);
  sql::exec(db, "DELETE FROM schema_version");
  sql::Stmt(db, "INSERT INTO schema_version(version) VALUES (?)").bind(1, kSchemaVersion).run();
  tx.commit();
}

std::string missing_table(const SchemaColumns& present) {
  if (!present.count("schema_version")) return "schema_version";
  for (const SchemaPart& part : schema())  // every table the migrations create (none drops one), in order
    if (part.column.empty() && !present.count(part.table)) return part.table;
  // The retired tables come as a pair (kRetiredTables): one without the other is damage too.
  if (present.count("retired_tracks") && !present.count("retired_windows")) return "retired_windows";
  return "";
}

std::string unfilled_column_damage(sqlite3* db) {
  // pragma_table_info's notnull is the column's own NOT NULL (an INTEGER PRIMARY KEY fills itself:
  // pk > 0 is left out; a generated column is not listed).
  sql::Stmt s(db, "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' "
                  "AND p.\"notnull\" AND p.dflt_value IS NULL AND p.pk = 0 ORDER BY m.name, p.cid");
  std::vector<TableColumn> required;
  while (s.step()) required.emplace_back(s.text(0), s.text(1));
  const std::optional<TableColumn> unfilled = unfilled_column(schema(), required);
  if (unfilled) return store::unfilled_column_damage(*unfilled) + ", or restore the database from a backup";
  // A nullable column made NOT NULL (the table made again by hand, or its definition edited): met
  // only by the first write of an empty value, on raw SQL (hostile pass 16).
  sql::Stmt n(db, "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' "
                  "AND p.\"notnull\" ORDER BY m.name, p.cid");
  std::vector<TableColumn> not_null;
  while (n.step()) not_null.emplace_back(n.text(0), n.text(1));
  const std::optional<TableColumn> tight = tightened_column(schema(), not_null);
  return tight ? store::tightened_column_damage(*tight) + "SQLite cannot drop a NOT NULL in place: make table " + tight->first +
                     " again as clapsearch made it (`sqlite3 NEW.db .schema " + tight->first +
                     "` of a new index shows it) and copy its rows over, or restore the database from a backup"
               : "";
}

std::string column_damage(const SchemaColumns& present) {
  // SQLite keeps the type a column was declared with, as written; case aside, it is the migration's.
  return store::column_damage(schema(), present, [](const std::string& declared, const std::string& found) {
    return std::equal(declared.begin(), declared.end(), found.begin(), found.end(),
                      [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == std::toupper(static_cast<unsigned char>(b)); });
  });
}

// Created on first use, not by a schema migration: an index without them reads as before, and
// a clapsearch that does not know them ignores them.
extern const char* const kRetiredTables = R"sql(
CREATE TABLE IF NOT EXISTS retired_tracks(
  id           INTEGER PRIMARY KEY,
  track_id     INTEGER NOT NULL,
  path         TEXT NOT NULL,
  size         INTEGER NOT NULL,
  mtime_ns     INTEGER NOT NULL,
  ctime_ns     INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  duration_s   REAL NOT NULL,
  title TEXT, artist TEXT, album TEXT, genre TEXT, date TEXT,
  track_no     INTEGER NOT NULL,
  silent       INTEGER NOT NULL,
  embedding    BLOB,
  indexed_at   INTEGER NOT NULL,
  retired_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS retired_tracks_content_hash ON retired_tracks(content_hash);
CREATE TABLE IF NOT EXISTS retired_windows(
  retired_id    INTEGER NOT NULL REFERENCES retired_tracks(id) ON DELETE CASCADE,
  idx           INTEGER NOT NULL,
  start_s       REAL NOT NULL,
  end_s         REAL NOT NULL,
  loudness_dbfs REAL NOT NULL,
  silent        INTEGER NOT NULL,
  embedding     BLOB,
  PRIMARY KEY (retired_id, idx)
) WITHOUT ROWID;
)sql";

bool has_retired_tables(sqlite3* db) {
  sql::Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'retired_tracks'");
  return s.step();
}

}  // namespace clap::store::sqlite_impl
