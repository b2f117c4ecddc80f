// SqliteStore's internals, shared by its files and by nothing else: sqlite_store.cpp (opening,
// the model identity, roots, track reads, text cache, labels, check), sqlite_writes.cpp (tracks
// written, moved, retired), sqlite_embeddings.cpp (embedding reads and embedding sets),
// sqlite_copy.cpp (the export and import of `clapsearch migrate`), sqlite_migrations.cpp (the
// schema: numbered migrations) and sqlite_meta.cpp (generations, change stamps, meta rows).
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "store/schema_tables.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace clap::store::sqlite_impl {

int64_t now_seconds();

// --- the schema (sqlite_migrations.cpp) --------------------------------------------------------

// The schema version this clapsearch writes: the number of migrations.
extern const int kSchemaVersion;
// The SQLite header's application id of a clapsearch index ("CLAP"), so that `file` and
// clapsearch itself can tell an index from another program's database.
constexpr int kApplicationId = 0x434C4150;
// The version a database records (0: none, a new file); throws SqliteError (SQLITE_CORRUPT) on a
// damaged schema. The number as stored: a version past int's range is shown as the file holds it
// (hostile pass 9, R9C-7: it was clamped to 2147483647 in messages).
int64_t read_version(sqlite3* db);
// Brings the database to kSchemaVersion, one numbered migration at a time, in one transaction.
void migrate(sqlite3* db, const std::string& path);
// Every table of the database with its columns and their declared types: one statement.
SchemaColumns read_columns(sqlite3* db);
// Throws clap::Error when the database holds a table or column that a migration past `version`
// makes (store/schema_tables.h): its version row disagrees with its tables, and an upgrade from it
// would fail on raw SQL (hostile pass 11, R11C-1; issue 53 for a column).
void check_version_against_tables(sqlite3* db, const std::string& path, int64_t version);
// The first table of kSchemaVersion's schema that `present` lacks ("" when none does): a table
// dropped by hand or by another tool makes the index damaged, not a run of SQL errors.
std::string missing_table(const SchemaColumns& present);
// The first column of kSchemaVersion's schema that `present`'s tables lack or hold with another
// declared type ("" when none): found at open rather than by the first statement that reaches it.
std::string column_damage(const SchemaColumns& present);
// A column added by hand that no insert fills (store/schema_tables.h unfilled_column), or a
// nullable column made NOT NULL (tightened_column), said with its way out; "" when none.
std::string unfilled_column_damage(sqlite3* db);
// The retired tracks' tables, created on first use (CREATE TABLE IF NOT EXISTS), and whether a
// database has them.
extern const char* const kRetiredTables;
bool has_retired_tables(sqlite3* db);

// --- the rebuild of a damaged index (sqlite_salvage.cpp) -----------------------------------------

// Copies every user row and track id SQLite can read from the damaged index file `damaged` into
// the new, empty index `fresh` (store.h: Salvage; `backup` is left to the caller).
Salvage salvage_user_data(const std::string& damaged, const std::string& fresh);

// --- generations, change stamps, meta rows (sqlite_meta.cpp) -----------------------------------

int64_t bump_generation(sqlite3* db, bool library = true);
void stamp_changed(sqlite3* db, int64_t generation, const std::vector<int64_t>& ids);
void log_removed(sqlite3* db, int64_t generation, const std::vector<int64_t>& ids);
void reset_changes(sqlite3* db, int64_t generation);
void set_meta(sqlite3* db, const char* key, const std::string& value);
void set_meta(sqlite3* db, const char* key, double value);

// The active set's id (0: none recorded yet).
int64_t active_set(sqlite3* db);
// Writes set `id`'s identity (id 0: a new set, whose id is returned).
int64_t write_set_identity(sqlite3* db, int64_t id, const ModelIdentity& m, bool active);
// The model identity in meta and in the active set's row.
void write_identity(sqlite3* db, const ModelIdentity& m);

// --- play queues and bookmarks (sqlite_play_queue.cpp), also for `clapsearch migrate` ------------

// One user's (user_id > 0) or every user's (0) play queues with their entries, and bookmarks.
std::vector<PlayQueueRecord> read_play_queues(sqlite3* db, int64_t user_id);
std::vector<BookmarkRecord> read_bookmarks(sqlite3* db, int64_t user_id);
// Replaces the user's queue (none when it has no entries); adds a bookmark.
void write_play_queue(sqlite3* db, const PlayQueueRecord& q);
void write_bookmark(sqlite3* db, const BookmarkRecord& b);

// The process's connections to index files, by the file each opened (sqlite_open_files.cpp).
// SQLite finds a database's -wal and -shm by its name, so a file moved over an index that this
// process has open (a backup put back: `mv copy.db library.db`) would be paired with the old
// file's WAL, whose pages SQLite then reads and checkpoints into it (H12S-3). track_open, called
// on a connection just opened at `path` (nothing read yet), refuses (SQLITE_CANTOPEN) while any
// connection of this process still has another file open at that name, or another process still
// has a file moved away from that name open (its -shm there in use; H13S-1); close_tracked closes a
// connection, and the last writable one of a file that was moved away first empties its WAL
// into it (SQLite's own close does not checkpoint a moved file, and leaves its WAL at the name);
// while another process's reading keeps it from doing so, that connection is kept open and the
// next track_open at the name tries again, refusing until it can (H13S-2).
void track_open(sqlite3* db, const std::string& path);
// After the connection's first read: another process that opened the file by another name at the
// same moment is seen now (H15S-4); throws SqliteError (SQLITE_CANTOPEN) naming it.
void confirm_one_name(sqlite3* db, const std::string& path);
void close_tracked(sqlite3* db);

}  // namespace clap::store::sqlite_impl
