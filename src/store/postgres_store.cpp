#include "store/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "store/postgres.h"
#include "store/postgres_internal.h"
#include "store/rows.h"

namespace clap::store {

using namespace pg_impl;

namespace {

class PgReadScope final : public ReadScope {
 public:
  explicit PgReadScope(pg::Connection& c) : c_(c) { c_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }
  ~PgReadScope() override {
    try {
      c_.exec("COMMIT");
    } catch (...) {
    }
  }

 private:
  pg::Connection& c_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

PostgresStore::PostgresStore(std::unique_ptr<pg::Connection> c, std::string url, bool read_only)
    : c_(std::move(c)), url_(std::move(url)), where_(pg::redact(url_)), read_only_(read_only) {}

PostgresStore::~PostgresStore() = default;

bool PostgresStore::is_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

int PostgresStore::current_schema_version() { return kSchemaVersion; }

std::unique_ptr<PostgresStore> PostgresStore::open(const std::string& url, bool create) {
  auto c = std::make_unique<pg::Connection>(url);
  check_not_foreign(*c);
  // Only a command that builds an index gives an empty database the schema (store.h: OpenMode).
  if (!create && read_version(*c) == 0) throw_no_index(c->where());
  migrate(*c);
  check_tables(*c);
  // Here rather than in a migration: an index made before it gets one from any writable open,
  // without a new schema version (which would make every older clapsearch refuse the database).
  record_key_id(*c);
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(c), url, false));
}

std::unique_ptr<PostgresStore> PostgresStore::open_completing_schema(const std::string& url) {
  {
    pg::Connection c(url);
    complete_schema(c);
  }
  return open(url, /*create=*/false);
}

void PostgresStore::check_rebuildable(const std::string& url) {
  pg::Connection c(url);
  check_not_foreign(c);
  // A transaction that is never committed: the check reads the migrations' constraints from a
  // scratch schema they build in it (check_hand_made_dependents), and nothing of it stays.
  pg::Transaction tx(c);
  pg_impl::check_rebuildable(c);
}

std::unique_ptr<PostgresStore> PostgresStore::open_readonly(const std::string& url) {
  auto c = std::make_unique<pg::Connection>(url);
  check_not_foreign(*c);
  const int version = read_version(*c);
  const std::string where = c->where();
  if (version == 0) throw_no_index(where);
  if (version < kSchemaVersion) check_version_against_tables(*c, version);  // else `index` is no way out
  if (version != kSchemaVersion)
    throw Error(where + ": index schema version " + std::to_string(version) + ", this clapsearch uses " +
                std::to_string(kSchemaVersion) +
                (version < kSchemaVersion ? " (run `clapsearch index` once to upgrade it)" : " (upgrade clapsearch)"));
  check_tables(*c);
  c->exec("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(c), url, true));
}

int PostgresStore::schema_version() const { return read_version(*c_); }

bool PostgresStore::connection_closed() const { return c_->closed_by_server(); }

std::optional<std::string> PostgresStore::key_id() const {
  auto r = c_->query("SELECT value FROM meta WHERE key = 'key_id'");
  if (!r.rows()) return std::nullopt;
  std::string id = r.text(0, 0);
  // It names a file (service/accounts.cpp): anything but the hex digits record_key_id writes is
  // a hand-edited row, refused rather than put into a path.
  const bool hex = id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex)
    throw DamagedIndex(c_->where() + ": its meta row key_id is not 32 hex digits (the id its users' password key file is "
                       "named after): a damaged index. Delete the row (DELETE FROM meta WHERE key = 'key_id'): the next "
                       "command that opens the index for writing records a new id, and the key file is found again by "
                       "the passwords it opens");
  return id;
}

int64_t PostgresStore::generation() const {
  auto r = c_->query("SELECT value::bigint FROM meta WHERE key = 'generation'");
  return r.rows() ? r.int64(0, 0) : 0;
}

int64_t PostgresStore::library_generation() const {
  auto r = c_->query("SELECT value::bigint FROM meta WHERE key = 'library_generation'");
  return r.rows() ? r.int64(0, 0) : 0;
}

std::unique_ptr<ReadScope> PostgresStore::read_scope() const { return std::make_unique<PgReadScope>(*c_); }

namespace {
// The advisory lock key of the one indexer (planner) of a library ("CLAI").
constexpr int64_t kIndexerLock = 0x434C4149;

// A session-level advisory lock: the server releases it when the session ends, so a planner
// killed with kill -9 (or cut off) frees the library once its connection is gone.
class AdvisoryLock final : public IndexerLock {
 public:
  AdvisoryLock(pg::Connection& c, const std::string& where) : c_(c) {
    if (c_.query("SELECT pg_try_advisory_lock($1::bigint)::int", pg::Params().add(kIndexerLock)).int64(0, 0) != 1)
      throw Error(where + ": another `clapsearch index` is updating this library; wait for it to finish");
  }
  ~AdvisoryLock() override {
    try {
      c_.query("SELECT pg_advisory_unlock($1::bigint)", pg::Params().add(kIndexerLock));
    } catch (...) {  // the connection is gone: so is the lock
    }
  }

 private:
  pg::Connection& c_;
};
}  // namespace

std::unique_ptr<IndexerLock> PostgresStore::lock_indexer() { return std::make_unique<AdvisoryLock>(*c_, where_); }

int64_t PostgresStore::file_bytes() const { return c_->query("SELECT pg_database_size(current_database())").int64(0, 0); }

// --- model identity --------------------------------------------------------------------------

std::optional<ModelIdentity> PostgresStore::model() const {
  auto r = c_->query("SELECT key, value FROM meta");
  ModelIdentity m;
  bool any = false;
  try {
    for (int i = 0; i < r.rows(); ++i) any |= decode_identity_meta(r.row(i), m);
    if (any) check_identity_complete(m);
  } catch (const DamagedIndex& e) {  // a hand-edited meta (rows.h stored_seconds): name the database
    // and the way out, as SQLite's (sqlite.h located) and a damaged embedding's (postgres.cpp) do:
    // it was named without one (hostile pass 14, with H14C-4's new checks).
    const std::string what = e.what();
    throw DamagedIndex((what.rfind(c_->where() + ": ", 0) == 0 ? what : c_->where() + ": " + what) +
                       "; `clapsearch index DIR --db URL --rebuild` creates the index anew (with --model, unless it was "
                       "made with the default model)");
  }
  if (!any) return std::nullopt;
  return m;
}

void PostgresStore::set_model(const ModelIdentity& identity) {
  pg::Transaction tx(*c_);
  write_identity(*c_, identity);
  bump_generation(*c_);
  tx.commit();
}

void PostgresStore::wipe(const ModelIdentity& identity) {
  pg::Transaction tx(*c_);
  check_hand_made_dependents(*c_, {});  // a user's foreign key to a table emptied here
  // Each track's id is kept with its path and content hash: a file indexed again takes it back
  // (write_track: `index --rebuild --plan`'s workers, the rebuild of a damaged index; a track id
  // is a song's id in the Subsonic API, which apps cache).
  c_->exec("INSERT INTO kept_track_ids(id, path, content_hash) SELECT id, path, COALESCE(content_hash, '') FROM tracks "
           "ON CONFLICT (id) DO UPDATE SET path = excluded.path, content_hash = excluded.content_hash");
  // And each retired track's (a file deleted, restorable): no new file may take it, and the file,
  // should it come back, takes it back.
  c_->exec("INSERT INTO kept_track_ids(id, path, content_hash) SELECT track_id, path, content_hash FROM retired_tracks "
           "ON CONFLICT (id) DO NOTHING");
  c_->exec("DELETE FROM set_windows; DELETE FROM set_tracks; DELETE FROM embedding_sets; "
           "DELETE FROM track_labels; DELETE FROM fingerprints; DELETE FROM windows; DELETE FROM tracks; DELETE FROM text_cache; "
           "DELETE FROM roots; DELETE FROM meta WHERE key NOT IN (" + std::string(kKeptMeta) + "); "
           "DELETE FROM retired_windows; DELETE FROM retired_tracks; DELETE FROM jobs");
  validate_constraints(*c_);  // those a completed schema added NOT VALID, on tables now empty
  write_identity(*c_, identity);
  reset_changes(*c_, bump_generation(*c_));
  tx.commit();
}

// --- roots -----------------------------------------------------------------------------------

void PostgresStore::add_roots(const std::vector<std::string>& paths) {
  pg::Transaction tx(*c_);
  for (const auto& p : paths)
    c_->query("INSERT INTO roots(path, added_at) VALUES ($1, $2::bigint) ON CONFLICT DO NOTHING",
              pg::Params().add(p).add(now_seconds()));
  const int64_t g = bump_generation(*c_);
  c_->query("INSERT INTO meta(key, value) VALUES ('roots_changed_at', $1::bigint::text) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            pg::Params().add(g));
  tx.commit();
}

std::vector<std::string> PostgresStore::roots() const {
  std::vector<std::string> out;
  auto r = c_->query("SELECT path FROM roots ORDER BY path");
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
  return out;
}

// --- tracks ----------------------------------------------------------------------------------

std::vector<Track> PostgresStore::tracks() const {
  std::vector<Track> out;
  auto r = c_->query(std::string("SELECT ") + kTrackColumns + " FROM tracks t ORDER BY t.path");
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_track(r.row(i)));
  return out;
}

std::optional<Track> PostgresStore::track(int64_t id) const {
  auto r = c_->query(std::string("SELECT ") + kTrackColumns + " FROM tracks t WHERE t.id = $1::bigint", pg::Params().add(id));
  if (!r.rows()) return std::nullopt;
  return decode_track(r.row(0));
}

std::optional<Track> PostgresStore::track_by_path(const std::string& path) const {
  auto r = c_->query(std::string("SELECT ") + kTrackColumns + " FROM tracks t WHERE t.path = $1", pg::Params().add(path));
  if (!r.rows()) return std::nullopt;
  return decode_track(r.row(0));
}

std::vector<FileState> PostgresStore::file_states() const {
  std::vector<FileState> out;
  auto r = c_->query("SELECT id, path, size, mtime_ns, ctime_ns, content_hash, status FROM tracks ORDER BY path");
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_file_state(r.row(i)));
  return out;
}

std::vector<FileState> PostgresStore::kept_track_ids() const {
  std::vector<FileState> out;
  auto r = c_->query("SELECT id, path, content_hash FROM kept_track_ids WHERE id NOT IN (SELECT id FROM tracks) ORDER BY id");
  for (int i = 0; i < r.rows(); ++i) {
    FileState f;
    f.id = r.int64(i, 0);
    f.path = r.text(i, 1);
    f.content_hash = r.text(i, 2);
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<TrackError> PostgresStore::errors() const {
  std::vector<TrackError> out;
  auto r = c_->query("SELECT path, error FROM tracks WHERE status = 'error' ORDER BY path");
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1)});
  return out;
}

Counts PostgresStore::counts() const {
  Counts c;
  {
    auto r = c_->query(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'ok'), COUNT(*) FILTER (WHERE status = 'error'), "
        "COUNT(*) FILTER (WHERE silent) FROM tracks");
    c.tracks = r.int64(0, 0);
    c.ok = r.int64(0, 1);
    c.errors = r.int64(0, 2);
    c.silent_tracks = r.int64(0, 3);
  }
  {
    // Summed here, in id order, as SqliteStore does: SUM() adds in the order the rows lie on
    // disk (an updated row moves), and floating-point addition depends on the order.
    auto r = c_->query("SELECT duration_s FROM tracks WHERE status = 'ok' ORDER BY id", {}, true);
    for (int i = 0; i < r.rows(); ++i) c.audio_seconds += r.real(i, 0);
  }
  auto w = c_->query("SELECT COUNT(*), COUNT(*) FILTER (WHERE silent) FROM windows");
  c.windows = w.int64(0, 0);
  c.silent_windows = w.int64(0, 1);
  // A window_total no track has (rows.h), named as SQLite's is.
  if (auto bad = c_->query("SELECT id, path, window_total::text FROM tracks WHERE status = 'ok' AND (window_total < 0 OR "
                           "window_total > $1::bigint) ORDER BY id LIMIT 1",
                           pg::Params().add(kMostWindowsOfATrack));
      bad.rows() > 0)
    throw DamagedIndex(c_->where() + ": " + window_total_damage(bad.int64(0, 0), bad.text(0, 1), bad.text(0, 2)) +
                       "; `clapsearch index DIR --db URL --rebuild` creates the index anew (with --model, unless it was "
                       "made with the default model)");
  auto cov = c_->query(
      "SELECT COALESCE(SUM(total), 0), COALESCE(SUM(n), 0), COUNT(*) FILTER (WHERE n >= total) FROM "
      "(SELECT t.window_total AS total, (SELECT COUNT(*) FROM windows w WHERE w.track_id = t.id) AS n "
      "FROM tracks t WHERE t.status = 'ok') AS ok_tracks");
  c.window_total = cov.int64(0, 0);
  c.ok_windows = cov.int64(0, 1);
  c.complete_tracks = cov.int64(0, 2);
  return c;
}

// --- text cache ------------------------------------------------------------------------------

std::optional<std::vector<float>> PostgresStore::cached_text(const std::string& model_key, const std::string& text) const {
  const auto m = model();
  auto r = c_->query("SELECT embedding FROM text_cache WHERE model = $1 AND text = $2", pg::Params().add(model_key).add(text),
                     true);
  if (!r.rows()) return std::nullopt;
  return r.floats(0, 0, m ? m->dim : 0);
}

void PostgresStore::put_cached_texts(const std::vector<CachedText>& texts) {
  if (texts.empty()) return;
  pg::Transaction tx(*c_);
  for (const CachedText& t : texts)
    c_->query("INSERT INTO text_cache(model, text, embedding) VALUES ($1, $2, $3::bytea) "
              "ON CONFLICT (model, text) DO UPDATE SET embedding = excluded.embedding",
              pg::Params().add(t.model_key).add(t.text).add_floats(t.embedding.data(), t.embedding.size()));
  bump_generation(*c_, /*library=*/false);
  tx.commit();
}

// --- labels ----------------------------------------------------------------------------------

void PostgresStore::put_labels(const std::vector<TrackLabel>& labels) {
  pg::Transaction tx(*c_);
  std::set<int64_t> cleared;
  {
    // The tracks' rows first (they are stamped below), then their labels: the order put_track
    // takes them in.
    std::set<int64_t> ids;
    for (const auto& l : labels) ids.insert(l.track_id);
    lock_tracks(*c_, std::vector<int64_t>(ids.begin(), ids.end()));
  }
  for (const auto& l : labels) {
    if (cleared.insert(l.track_id).second)
      c_->query("DELETE FROM track_labels WHERE track_id = $1::bigint", pg::Params().add(l.track_id));
    c_->query("INSERT INTO track_labels(track_id, label, score) VALUES ($1::bigint, $2, $3::float8) "
              "ON CONFLICT (track_id, label) DO UPDATE SET score = excluded.score",
              pg::Params().add(l.track_id).add(l.label).add(static_cast<double>(l.score)));
  }
  stamp_changed(*c_, bump_generation(*c_), std::vector<int64_t>(cleared.begin(), cleared.end()));
  tx.commit();
}

std::vector<TrackLabel> PostgresStore::labels(int64_t track_id) const {
  std::vector<TrackLabel> out;
  auto r = c_->query("SELECT track_id, label, score FROM track_labels WHERE track_id = $1::bigint ORDER BY score DESC, label",
                     pg::Params().add(track_id));
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), r.text(i, 1), static_cast<float>(r.real(i, 2))});
  return out;
}

std::vector<TrackLabel> PostgresStore::all_labels() const {
  std::vector<TrackLabel> out;
  auto r = c_->query("SELECT track_id, label, score FROM track_labels ORDER BY track_id, score DESC, label");
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), r.text(i, 1), static_cast<float>(r.real(i, 2))});
  return out;
}

void PostgresStore::clear_labels() {
  pg::Transaction tx(*c_);
  // The rows of the labelled tracks first (they are stamped below), then the labels: the order
  // put_track takes them in.
  c_->exec("SELECT id FROM tracks WHERE id IN (SELECT track_id FROM track_labels) ORDER BY id FOR NO KEY UPDATE");
  std::vector<int64_t> ids;
  {
    auto r = c_->query("DELETE FROM track_labels RETURNING track_id");
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.int64(i, 0));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  lock_tracks(*c_, ids);  // labels written since the first lock (usually none)
  stamp_changed(*c_, bump_generation(*c_), ids);
  tx.commit();
}

// --- consistency -----------------------------------------------------------------------------

std::vector<std::string> PostgresStore::check() const {
  // The server keeps its own integrity (constraints, foreign keys, checksums when enabled);
  // what is checked here is the index's invariants, as SqliteStore::check does.
  std::vector<std::string> problems;
  if (const int v = read_version(*c_); v != kSchemaVersion)
    problems.push_back("schema version " + std::to_string(v) + ", expected " + std::to_string(kSchemaVersion));
  const auto m = model();
  const int64_t bytes = m ? int64_t(m->dim) * 4 : 0;
  {
    auto r = c_->query(
        "SELECT t.path, COUNT(w.id), COALESCE(MIN(w.idx), 0), COALESCE(MAX(w.idx), -1), t.window_total FROM tracks t "
        "LEFT JOIN windows w ON w.track_id = t.id WHERE t.status = 'ok' GROUP BY t.id, t.path");
    for (int i = 0; i < r.rows(); ++i) {
      const int64_t n = r.int64(i, 1), lo = r.int64(i, 2), hi = r.int64(i, 3), total = r.int64(i, 4);
      if (std::string p = window_numbering_problem(r.text(i, 0), n, lo, hi, total); !p.empty()) problems.push_back(p);
    }
  }
  {
    auto r = c_->query(
        "SELECT t.path, w.idx FROM windows w JOIN tracks t ON t.id = w.track_id WHERE "
        "(NOT w.silent AND t.status = 'ok' AND (w.embedding IS NULL OR octet_length(w.embedding) <> $1::bigint)) OR "
        "(w.silent AND w.embedding IS NOT NULL)",
        pg::Params().add(bytes));
    for (int i = 0; i < r.rows(); ++i)
      problems.push_back(r.text(i, 0) + ": window " + std::to_string(r.int64(i, 1)) + " has a wrong embedding");
  }
  {
    auto r = c_->query(
        "SELECT path FROM tracks WHERE (status = 'ok' AND NOT silent AND (embedding IS NULL OR "
        "octet_length(embedding) <> $1::bigint)) OR (status = 'error' AND embedding IS NOT NULL)",
        pg::Params().add(bytes));
    for (int i = 0; i < r.rows(); ++i) problems.push_back(r.text(i, 0) + ": wrong track embedding");
  }
  return problems;
}

}  // namespace clap::store
