// PostgresStore's bookkeeping rows: ids, generations, change stamps, the removal log and meta.
#include "store/postgres_internal.h"
#include "store/rows.h"

#include <chrono>

#include "core/crypto.h"
#include "core/sha256.h"

namespace clap::store::pg_impl {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void lock_ids(pg::Connection& c) { c.query("SELECT pg_advisory_xact_lock($1::bigint)", pg::Params().add(kIdLock)); }

void lock_user(pg::Connection& c, int64_t user_id) {
  c.query("SELECT pg_advisory_xact_lock(1668044100, ($1::bigint % 2147483647)::integer)", pg::Params().add(user_id));
}

int64_t max_id(pg::Connection& c, const char* table) {
  return c.query(std::string("SELECT COALESCE(MAX(id), 0) FROM ") + table).int64(0, 0);
}

// Every write transaction ends with this (see SqliteStore). Returns the library generation the
// transaction commits: the stamp of the rows it changed (Store::changes_since).
//
// Why stamps are in commit order, with writers on several machines at READ COMMITTED: the
// UPDATE of meta's row takes its row lock, held until the transaction ends; a concurrent
// writer's UPDATE waits for it and then re-reads the committed row (READ COMMITTED re-checks an
// updated row), so it gets the next value. Hence stamps are handed out in commit order, and a
// writer holding stamp G+1 committed after the one holding G (PostgreSQL releases the row lock
// only after the commit is visible to new snapshots). A reader whose snapshot shows library
// generation G therefore sees every transaction stamped <= G, and every transaction it does not
// see commits with a stamp > G: changes_since(G), read later, finds it. The stamps themselves are
// written after the bump, in the same transaction, on rows this transaction already locked by
// writing them (see lock_tracks for the others), so the meta lock never waits on a track row
// lock while holding it in a way that reverses another writer's order.
int64_t bump_generation(pg::Connection& c, bool library) {
  c.exec("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'");
  if (!library) return 0;
  return c.query("INSERT INTO meta(key, value) VALUES ('library_generation', '1') "
                 "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value::bigint")
      .int64(0, 0);
}

// How many library generations the removal log covers: a reader further behind reads everything.
constexpr int64_t kRemovedLogGenerations = 100000;

// A bigint[] parameter: "{1,2,3}".
std::string bigint_array(const std::vector<int64_t>& ids) {
  std::string s = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s + "}";
}

// Locks the rows of tracks this transaction is about to stamp but does not write (labels), in id
// order, before it touches their labels and before bump_generation takes the meta lock: a writer
// never holds meta, or a track's labels, while waiting for the track's row (a put_track of that
// track holds the row, then deletes its labels, then waits for meta).
void lock_tracks(pg::Connection& c, const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  c.query("SELECT id FROM tracks WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
          pg::Params().add(bigint_array(ids)));
}

// Change stamps, inside the write transaction, after bump_generation.
void stamp_changed(pg::Connection& c, int64_t generation, const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  c.query("UPDATE tracks SET changed_at = $1::bigint WHERE id = ANY($2::bigint[])",
          pg::Params().add(generation).add(bigint_array(ids)));
}
void log_removed(pg::Connection& c, int64_t generation, const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  c.query("INSERT INTO removed_tracks(removed_at, track_id) SELECT $1::bigint, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
          pg::Params().add(generation).add(bigint_array(ids)));
  // The log stays short: entries older than kRemovedLogGenerations go, and a reader that far
  // behind is told to read everything (changes_from moves past them; meta's row is locked).
  const int64_t cut = generation - kRemovedLogGenerations;
  if (cut <= 0) return;
  if (c.query("DELETE FROM removed_tracks WHERE removed_at <= $1::bigint", pg::Params().add(cut)).affected() > 0)
    c.query("UPDATE meta SET value = GREATEST(value::bigint, $1::bigint)::text WHERE key = 'changes_from'",
            pg::Params().add(cut));
}
// After a wipe or an import: nothing before `generation` can be told apart.
void reset_changes(pg::Connection& c, int64_t generation) {
  c.exec("DELETE FROM removed_tracks");
  c.query("INSERT INTO meta(key, value) VALUES ('changes_from', $1::bigint::text) "
          "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          pg::Params().add(generation));
}

void put_meta(pg::Connection& c, const char* key, const std::string& value) {
  c.query("INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          pg::Params().add(key).add(value));
}
void put_meta(pg::Connection& c, const char* key, double value) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  put_meta(c, key, std::string(buf));
}

void record_key_id(pg::Connection& c) {
  if (c.query("SELECT 1 FROM meta WHERE key = 'key_id'").rows()) return;  // the usual case: one read, no write
  const std::string id = random_bytes(16);
  c.query("INSERT INTO meta(key, value) VALUES ('key_id', $1) ON CONFLICT (key) DO NOTHING",
          pg::Params().add(to_hex(reinterpret_cast<const uint8_t*>(id.data()), id.size())));
}

void write_identity(pg::Connection& c, const ModelIdentity& m) {
  put_identity_meta(m, [&](const char* key, const auto& value) { put_meta(c, key, value); });
  write_set_identity(c, active_set(c), m, true);
}

int64_t active_set(pg::Connection& c) {
  auto r = c.query("SELECT id FROM embedding_sets WHERE active");
  return r.rows() ? r.int64(0, 0) : 0;
}

int64_t write_set_identity(pg::Connection& c, int64_t id, const ModelIdentity& m, bool active) {
  if (!id) {
    lock_ids(c);  // two new sets never get one id
    id = max_id(c, "embedding_sets") + 1;
  }
  c.query(std::string("INSERT INTO embedding_sets(") + kSetColumns +
              ") VALUES ($1::bigint, $2::boolean, $3, $4, $5, $6, $7, $8, $9, $10::float8, $11::float8, $12::integer, "
              "$13::float8, $14) ON CONFLICT (id) DO UPDATE SET active = excluded.active, model_id = excluded.model_id, "
              "model_revision = excluded.model_revision, config_hash = excluded.config_hash, "
              "content_hash = excluded.content_hash, audio_hash = excluded.audio_hash, "
              "model_config = excluded.model_config, model_tokenizer = excluded.model_tokenizer, "
              "window_s = excluded.window_s, hop_s = excluded.hop_s, dim = excluded.dim, "
              "silence_db = excluded.silence_db, precision = excluded.precision",
          pg::Params()
              .add(id)
              .add(boolean(active))
              .add(m.id)
              .add(m.revision)
              .add(m.config_hash)
              .add(m.content_hash)
              .add(m.audio_hash)
              .add(m.config_path)
              .add(m.tokenizer_path)
              .add(m.window_s)
              .add(m.hop_s)
              .add(m.dim)
              .add(m.silence_db)
              .add(m.precision));
  return id;
}

}  // namespace clap::store::pg_impl
