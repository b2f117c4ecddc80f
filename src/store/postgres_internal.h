// PostgresStore's internals, shared by its files and by nothing else: postgres_store.cpp
// (opening, the model identity, roots, track reads, text cache, labels, check),
// postgres_writes.cpp (tracks written, moved, retired), postgres_jobs.cpp (the job queue of
// distributed indexing), postgres_embeddings.cpp (embedding reads and embedding sets), postgres_copy.cpp (the export
// and import of `clapsearch migrate`), postgres_migrations.cpp (the schema: numbered migrations),
// postgres_dependents.cpp (what `index --rebuild` would take away: checked before it starts)
// and postgres_meta.cpp (generations, change stamps, meta rows, ids).
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres.h"
#include "store/schema_tables.h"
#include "store/store.h"

namespace clap::store::pg_impl {

int64_t now_seconds();

// --- the schema (postgres_migrations.cpp) ------------------------------------------------------

// The schema version this clapsearch writes: the number of migrations.
extern const int kSchemaVersion;
// The version a database records (0: none, an empty database).
int read_version(pg::Connection& c);
// Refuses a database that holds another program's tables: nothing is added to it.
void check_not_foreign(pg::Connection& c);
[[noreturn]] void throw_no_index(const std::string& where);
// Throws DamagedIndex naming the first table of kSchemaVersion's schema the database lacks (one
// dropped by hand or another tool), instead of raw SQL errors in every later statement.
void check_tables(pg::Connection& c);
// Named too: a column dropped or retyped by hand, with its way out (`--rebuild` when the table is
// one the rebuild makes again, else the statement that puts the column back).
// Throws that DamagedIndex when `index --rebuild` cannot repair the database (a damaged column in a
// table whose rows a rebuild keeps): asked before the model is loaded (store::check_replaceable).
void check_rebuildable(pg::Connection& c);  // postgres_dependents.cpp
// Throws an Error naming what was made by hand that a rebuild would silently take away or that
// would stop its wipe: other tables' foreign keys to a table the wipe empties (ON DELETE CASCADE
// empties them too), and views over and triggers on `remade` (tables dropped and made again).
void check_hand_made_dependents(pg::Connection& c, const std::vector<std::string>& remade);
// `index --rebuild` of such a database (issue 53, M8): creates every table of kSchemaVersion's
// schema that it lacks, as the migrations make it, and adds again the foreign keys that a table
// dropped with CASCADE took along (NOT VALID until validate_constraints). A table whose rows the
// rebuild deletes unread (windows, fingerprints, ...) with a column dropped or retyped by hand is
// dropped and made so too; no other table that is there is dropped or changed. Refuses another
// program's database, any other schema version, and a damaged column of another table.
void complete_schema(pg::Connection& c);
// Validates the constraints complete_schema added NOT VALID (on tables emptied by a wipe: at no cost).
void validate_constraints(pg::Connection& c);
// The migrations' SQL, in order (kMigrations), for the checks of postgres_dependents.cpp.
std::vector<std::string_view> migration_statements();
// Every table the migrations create, as a text[] literal for a query parameter.
const std::string& table_array();
// The columns of each of those tables that the database holds, with format_type's type names.
SchemaColumns read_columns(pg::Connection& c);
// The tables of `present` with a column of the schema missing or of another type, in schema order.
std::vector<std::string> damaged_tables(const SchemaColumns& present);
// The tables whose rows a rebuild deletes unread: one with a damaged column is made again whole.
const std::set<std::string>& remade_when_damaged();
// Throws DamagedIndex naming the damaged column of `table` with its way out.
[[noreturn]] void throw_column_damage(pg::Connection& c, const SchemaColumns& present, const std::string& table);
// Brings the database to kSchemaVersion, one numbered migration at a time, under an advisory lock.
void migrate(pg::Connection& c);
// Throws clap::Error when the database holds a table that a migration past `version` makes
// (store/schema_tables.h), as SQLite's does (R11C-1).
void check_version_against_tables(pg::Connection& c, int version);

// --- ids, generations, change stamps, meta rows (postgres_meta.cpp) ----------------------------

// Track and window ids are given as SQLite gives rowids - one more than the largest id in the
// table - not drawn from the identity sequences: a sequence also advances for a row that is not
// inserted (INSERT ... ON CONFLICT DO UPDATE of an existing path, a rolled-back transaction) and
// never hands out an id again, so the same library would get other ids than in a SQLite store
// (store.h: the stores are interchangeable, and every command prints ids). Writers that insert
// rows take this transaction lock first ("CLAN"), so that two of them never compute the same id
// (under READ COMMITTED the MAX after the lock sees the previous holder's committed rows).
constexpr int64_t kIdLock = 0x434C414E;
// Takes the id lock (kIdLock) for the rest of the transaction.
void lock_ids(pg::Connection& c);
int64_t max_id(pg::Connection& c, const char* table);
// Takes user `user_id`'s lock for the rest of the transaction ("clUD", then the id): a write that
// replaces what the user keeps (a star, a rating, a bookmark, the play queue: a delete, then an
// insert) runs alone among the server processes of this index. Without it two processes' deletes
// both found nothing and both inserted (two rows), or the second insert met the first's key (an error).
void lock_user(pg::Connection& c, int64_t user_id);
int64_t bump_generation(pg::Connection& c, bool library = true);
// A bigint[] parameter: "{1,2,3}".
std::string bigint_array(const std::vector<int64_t>& ids);
void lock_tracks(pg::Connection& c, const std::vector<int64_t>& ids);
void stamp_changed(pg::Connection& c, int64_t generation, const std::vector<int64_t>& ids);
void log_removed(pg::Connection& c, int64_t generation, const std::vector<int64_t>& ids);
void reset_changes(pg::Connection& c, int64_t generation);
inline const char* boolean(bool b) { return b ? "true" : "false"; }
void put_meta(pg::Connection& c, const char* key, const std::string& value);
void put_meta(pg::Connection& c, const char* key, double value);
// Records the database's key id (store/database_id.h: 32 random hex digits in meta's key_id row)
// when it has none; of two processes recording one at once, the first one's is kept.
void record_key_id(pg::Connection& c);
// The meta rows a wipe (and migrate's replace) keeps: the counters, and the id the users' password
// key file is named after (the users and their passwords are kept too).
constexpr const char* kKeptMeta = "'generation', 'library_generation', 'key_id'";
// The active embedding set's id (0: none recorded yet).
int64_t active_set(pg::Connection& c);
// Writes set `id`'s identity (id 0: a new set, whose id is returned).
int64_t write_set_identity(pg::Connection& c, int64_t id, const ModelIdentity& m, bool active);
// The model identity in meta and in the active set's row.
void write_identity(pg::Connection& c, const ModelIdentity& m);

// --- tracks (postgres_writes.cpp) ----------------------------------------------------------------

// The rows of put_track (and of finish_job), inside the caller's transaction; returns the id.
int64_t write_track(pg::Connection& c, int dim, const Track& t, const std::vector<WindowRecord>& windows,
                    const float* track_embedding);
// The rows of add_windows, inside the caller's transaction.
void write_windows(pg::Connection& c, int dim, int64_t track_id, const std::vector<WindowRecord>& windows,
                   const float* track_embedding);

// --- play queues and bookmarks (postgres_play_queue.cpp), also for `clapsearch migrate` ----------

// One user's (user_id > 0) or every user's (0) play queues with their entries, and bookmarks.
std::vector<PlayQueueRecord> read_play_queues(pg::Connection& c, int64_t user_id);
std::vector<BookmarkRecord> read_bookmarks(pg::Connection& c, int64_t user_id);
// Replaces the user's queue (none when it has no entries); adds a bookmark.
void write_play_queue(pg::Connection& c, const PlayQueueRecord& q);
void write_bookmark(pg::Connection& c, const BookmarkRecord& b);

}  // namespace clap::store::pg_impl
