// PostgresStore: reading embeddings (tracks, windows, batches, changes) and the embedding sets.
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

// --- embedding sets (store.h EmbeddingSet; the same rows and rules as SqliteStore's) -------------

namespace {

// The windows every set must hold: the active set's stored non-silent windows of ok tracks.
constexpr const char* kWantedWindows =
    "FROM windows w JOIN tracks t ON t.id = w.track_id WHERE t.status = 'ok' AND NOT w.silent AND w.embedding IS NOT NULL";
// Whether set $1 holds window w.
constexpr const char* kHeld =
    "EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = $1::bigint AND s.track_id = w.track_id AND s.idx = w.idx)";

int64_t count(pg::Connection& c, const std::string& sql, int64_t set_id = 0) {
  return (set_id ? c.query(sql, pg::Params().add(set_id)) : c.query(sql)).int64(0, 0);
}

std::optional<EmbeddingSet> read_set(pg::Connection& c, int64_t set_id) {
  auto r = c.query(std::string("SELECT ") + kSetColumns + " FROM embedding_sets WHERE id = $1::bigint", pg::Params().add(set_id),
                   true);
  if (!r.rows()) return std::nullopt;
  return decode_set(r.row(0));
}

EmbeddingSet inactive_set(pg::Connection& c, int64_t set_id, const char* why) {
  return require_inactive_set(read_set(c, set_id), set_id, why);
}

}  // namespace

std::vector<EmbeddingSet> PostgresStore::embedding_sets() const {
  std::unique_ptr<ReadScope> scope;  // the sets and their counts from one committed state
  if (!c_->in_transaction()) scope = read_scope();
  std::vector<EmbeddingSet> out;
  {
    auto r = c_->query(std::string("SELECT ") + kSetColumns + " FROM embedding_sets ORDER BY id", {}, true);
    for (int i = 0; i < r.rows(); ++i) out.push_back(decode_set(r.row(i)));
  }
  if (out.empty()) return out;
  const std::string wanted = kWantedWindows, held = kHeld;
  fill_set_coverage(out, count(*c_, "SELECT COUNT(*) " + wanted), count(*c_, "SELECT COUNT(DISTINCT w.track_id) " + wanted),
                    [&](int64_t id) {
                      return std::make_pair(count(*c_, "SELECT COUNT(*) " + wanted + " AND " + held, id),
                                            count(*c_, "SELECT COUNT(DISTINCT w.track_id) " + wanted + " AND NOT " + held, id));
                    });
  return out;
}

int64_t PostgresStore::add_embedding_set(const ModelIdentity& identity) {
  pg::Transaction tx(*c_);
  const int64_t id = write_set_identity(*c_, 0, identity, false);
  bump_generation(*c_, false);
  tx.commit();
  return id;
}

std::vector<SetTrack> PostgresStore::set_tracks(int64_t set_id) const {
  inactive_set(*c_, set_id, "it holds every window already");
  std::vector<SetTrack> out;
  auto r = c_->query(std::string("SELECT t.id, t.path, t.size, t.mtime_ns, t.ctime_ns, t.content_hash, t.status, "
                                 "t.window_total, w.idx, ") +
                         kHeld + " " + kWantedWindows + " ORDER BY t.id, w.idx",
                     pg::Params().add(set_id));
  for (int i = 0; i < r.rows(); ++i) append_set_track_row(r.row(i), out);
  return out;
}

std::vector<WindowRecord> PostgresStore::set_windows(int64_t set_id, int64_t track_id) const {
  const EmbeddingSet e = inactive_set(*c_, set_id, "its windows are the index's");
  std::vector<WindowRecord> out;
  auto r = c_->query("SELECT idx, embedding FROM set_windows WHERE set_id = $1::bigint AND track_id = $2::bigint ORDER BY idx",
                     pg::Params().add(set_id).add(track_id), true);
  for (int i = 0; i < r.rows(); ++i) out.push_back(decode_set_window(r.row(i), track_id, e.identity.dim));
  return out;
}

void PostgresStore::add_set_windows(int64_t set_id, int64_t track_id, const std::vector<WindowRecord>& windows,
                                    const float* track_embedding) {
  pg::Transaction tx(*c_);
  const EmbeddingSet e = inactive_set(*c_, set_id, "its windows are written by `clapsearch index`");
  std::set<int64_t> stored;
  {
    auto r = c_->query(std::string("SELECT w.idx ") + kWantedWindows + " AND w.track_id = $1::bigint", pg::Params().add(track_id));
    for (int i = 0; i < r.rows(); ++i) stored.insert(r.int64(i, 0));
  }
  for (const WindowRecord& w : windows) {
    check_set_window(e, track_id, w, stored.count(w.idx) > 0);
    c_->query("INSERT INTO set_windows(set_id, track_id, idx, embedding) VALUES ($1::bigint, $2::bigint, $3::integer, $4::bytea)",
              pg::Params().add(set_id).add(track_id).add(w.idx).add_floats(w.embedding.data(), w.embedding.size()));
  }
  c_->query("INSERT INTO set_tracks(set_id, track_id, embedding) VALUES ($1::bigint, $2::bigint, $3::bytea) "
            "ON CONFLICT (set_id, track_id) DO UPDATE SET embedding = excluded.embedding",
            pg::Params().add(set_id).add(track_id).add_floats(track_embedding, static_cast<size_t>(e.identity.dim)));
  bump_generation(*c_, false);
  tx.commit();
}

void PostgresStore::activate_set(int64_t set_id) {
  pg::Transaction tx(*c_);
  // Workers embed with the active model: a job open now would store the old model's embeddings
  // into the new set. Their rows are locked (a worker storing one finishes first), and a worker
  // that claims a job planned after the switch finds the model changed (service/worker.cpp).
  if (const int64_t open =
          c_->query("SELECT COUNT(*) FROM (SELECT id FROM jobs WHERE state IN ('pending', 'leased') FOR UPDATE) AS o")
              .int64(0, 0))
    throw Error(where_ + ": " + std::to_string(open) +
                " indexing jobs are still open, which workers embed with the active model: let them finish "
                "(`clapsearch worker --until-done`) before switching embedding sets");
  const EmbeddingSet next = inactive_set(*c_, set_id, "nothing to switch");
  const int64_t current = active_set(*c_);
  const std::optional<ModelIdentity> was = model();
  if (!current || !was) throw Error(where_ + ": the index has no active embedding set to switch from");
  check_set_window_settings(*was, next);
  const auto run = [&](const char* sql, int64_t id) { c_->query(sql, pg::Params().add(id)); };
  // The active set's embeddings into its own set ...
  run("DELETE FROM set_windows WHERE set_id = $1::bigint", current);
  run("DELETE FROM set_tracks WHERE set_id = $1::bigint", current);
  run("INSERT INTO set_windows(set_id, track_id, idx, embedding) SELECT $1::bigint, track_id, idx, embedding FROM windows "
      "WHERE NOT silent AND embedding IS NOT NULL",
      current);
  run("INSERT INTO set_tracks(set_id, track_id, embedding) SELECT $1::bigint, id, embedding FROM tracks "
      "WHERE status = 'ok' AND embedding IS NOT NULL",
      current);
  // ... and the new set's in their place: what it lacks is embedded again by the next index run.
  run("DELETE FROM windows w WHERE NOT w.silent AND NOT EXISTS (SELECT 1 FROM set_windows s WHERE s.set_id = $1::bigint "
      "AND s.track_id = w.track_id AND s.idx = w.idx)",
      set_id);
  run("UPDATE windows w SET embedding = s.embedding FROM set_windows s WHERE s.set_id = $1::bigint AND "
      "s.track_id = w.track_id AND s.idx = w.idx AND NOT w.silent",
      set_id);
  run("UPDATE tracks SET embedding = (SELECT s.embedding FROM set_tracks s WHERE s.set_id = $1::bigint AND "
      "s.track_id = tracks.id) WHERE embedding IS NOT NULL OR status = 'ok'",
      set_id);
  run("DELETE FROM set_windows WHERE set_id = $1::bigint", set_id);
  run("DELETE FROM set_tracks WHERE set_id = $1::bigint", set_id);
  c_->exec("UPDATE embedding_sets SET active = false WHERE active");  // then the one: a single active set at every row
  run("UPDATE embedding_sets SET active = true WHERE id = $1::bigint", set_id);
  write_identity(*c_, next.identity);
  reset_changes(*c_, bump_generation(*c_));  // every track's embeddings changed: readers read everything again
  tx.commit();
}

void PostgresStore::drop_set(int64_t set_id) {
  pg::Transaction tx(*c_);
  inactive_set(*c_, set_id, "activate another set before dropping it");
  c_->query("DELETE FROM embedding_sets WHERE id = $1::bigint", pg::Params().add(set_id));  // its rows go with it (cascade)
  bump_generation(*c_, false);
  tx.commit();
}

// --- embeddings ------------------------------------------------------------------------------

Embeddings PostgresStore::track_embeddings() const {
  // In keyset pages inside one read snapshot, into a vector sized once: a single result for a
  // million tracks held its 2 GB beside the copy, and the freed result stayed in the process's
  // heap (a search node's resident memory 0.65 GB higher for good).
  constexpr int64_t kPage = 16384;
  std::unique_ptr<ReadScope> scope;
  if (!c_->in_transaction()) scope = read_scope();
  const auto m = model();
  Embeddings e;
  e.dim = m ? m->dim : 0;
  auto counted = c_->query("SELECT count(*) FROM tracks WHERE embedding IS NOT NULL AND status = 'ok'");
  const int64_t expected = counted.int64(0, 0);
  e.ids.reserve(static_cast<size_t>(expected));
  e.data.reserve(static_cast<size_t>(expected) * static_cast<size_t>(e.dim));
  int64_t after = std::numeric_limits<int64_t>::min();
  for (;;) {
    auto r = c_->query("SELECT id, embedding FROM tracks WHERE id > $1::bigint AND embedding IS NOT NULL AND status = 'ok' "
                       "ORDER BY id LIMIT $2::bigint",
                       pg::Params().add(after).add(kPage), true);
    for (int i = 0; i < r.rows(); ++i)  // the track-level searches read these: non-finite is named (R14C-1)
      if (r.append_floats(i, 1, e.dim, e.data, /*finite=*/true)) e.ids.push_back(r.int64(i, 0));
    if (r.rows() < kPage) break;
    after = r.int64(r.rows() - 1, 0);
  }
  return e;
}

namespace {
// Appends the rows of a (id, track_id, start_s, end_s, embedding) result to `t`.
void append_window_rows(pg::Result& r, WindowTable& t) {
  for (int i = 0; i < r.rows(); ++i) {
    // Every search reads its windows here: a value that is not finite is named (R14C-1).
    if (!r.append_floats(i, 4, t.dim, t.embeddings, /*finite=*/true)) continue;
    t.window_ids.push_back(r.int64(i, 0));
    t.track_ids.push_back(r.int64(i, 1));
    t.starts.push_back(r.real(i, 2));
    t.ends.push_back(r.real(i, 3));
  }
}
}  // namespace

WindowTable PostgresStore::window_embeddings() const {
  const auto m = model();
  WindowTable t;
  t.dim = m ? m->dim : 0;
  auto r = c_->query(
      "SELECT w.id, w.track_id, w.start_s, w.end_s, w.embedding FROM windows w JOIN tracks t ON t.id = w.track_id "
      "WHERE NOT w.silent AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY w.track_id, w.idx",
      {}, true);
  append_window_rows(r, t);
  return t;
}

std::vector<WindowRecord> PostgresStore::windows(int64_t track_id) const {
  const auto m = model();
  const int dim = m ? m->dim : 0;
  std::vector<WindowRecord> out;
  auto r = c_->query("SELECT id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows "
                     "WHERE track_id = $1::bigint ORDER BY idx",
                     pg::Params().add(track_id), true);
  for (int i = 0; i < r.rows(); ++i) {
    WindowRecord w = decode_window(r.row(i), 2, dim);
    w.id = r.int64(i, 0);
    w.track_id = r.int64(i, 1);
    out.push_back(std::move(w));
  }
  return out;
}

Embeddings PostgresStore::track_embeddings(const std::vector<int64_t>& ids) const {
  const auto m = model();
  Embeddings e;
  e.dim = m ? m->dim : 0;
  if (ids.empty()) return e;
  auto r = c_->query("SELECT id, embedding FROM tracks WHERE id = ANY($1::bigint[]) AND embedding IS NOT NULL "
                     "AND status = 'ok' ORDER BY id",
                     pg::Params().add(bigint_array(ids)), true);
  for (int i = 0; i < r.rows(); ++i)
    if (r.append_floats(i, 1, e.dim, e.data)) e.ids.push_back(r.int64(i, 0));
  return e;
}

std::optional<int64_t> PostgresStore::misshapen_track_embedding() const {
  const auto m = model();
  const int64_t bytes = int64_t(m ? m->dim : 0) * int64_t(sizeof(float));
  // octet_length() of a BYTEA is the size its TOAST header records: the value is not fetched
  // nor decompressed. What Result::append_floats compares, so this finds what a read refuses.
  auto r = c_->query("SELECT id FROM tracks WHERE embedding IS NOT NULL AND status = 'ok' AND "
                     "octet_length(embedding) <> $1::bigint ORDER BY id LIMIT 1",
                     pg::Params().add(bytes));
  if (r.rows() > 0) return r.int64(0, 0);
  return std::nullopt;
}

void PostgresStore::scan_window_embeddings(int64_t batch, const std::function<bool(const WindowTable&)>& sink) const {
  if (batch <= 0) throw Error(c_->where() + ": scan batch must be positive");
  std::unique_ptr<ReadScope> scope;
  if (!c_->in_transaction()) scope = read_scope();
  const auto m = model();
  int64_t after = std::numeric_limits<int64_t>::min();
  for (;;) {
    // Keyset pages over the primary key: each page is one index range scan, however far in.
    auto r = c_->query(
        "SELECT w.id, w.track_id, w.start_s, w.end_s, w.embedding FROM windows w JOIN tracks t ON t.id = w.track_id "
        "WHERE w.id > $1::bigint AND NOT w.silent AND w.embedding IS NOT NULL AND t.status = 'ok' "
        "ORDER BY w.id LIMIT $2::bigint",
        pg::Params().add(after).add(batch), true);
    if (r.rows() == 0) return;
    after = r.int64(r.rows() - 1, 0);
    WindowTable t;
    t.dim = m ? m->dim : 0;
    append_window_rows(r, t);
    if (t.size() > 0 && !sink(t)) return;
    if (r.rows() < batch) return;
  }
}

// The searchable windows (window_embeddings()'s rows) whose `column` is one of `ids`, in `order`.
WindowTable PostgresStore::window_rows_by(const char* column, const std::vector<int64_t>& ids, const char* order) const {
  const auto m = model();
  WindowTable t;
  t.dim = m ? m->dim : 0;
  if (ids.empty()) return t;
  auto r = c_->query(std::string("SELECT w.id, w.track_id, w.start_s, w.end_s, w.embedding FROM windows w JOIN tracks t ON "
                                 "t.id = w.track_id WHERE w.") +
                         column + " = ANY($1::bigint[]) AND NOT w.silent AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY " +
                         order,
                     pg::Params().add(bigint_array(ids)), true);
  append_window_rows(r, t);
  return t;
}

WindowTable PostgresStore::window_embeddings(const std::vector<int64_t>& window_ids) const {
  return window_rows_by("id", window_ids, "w.id");
}

WindowTable PostgresStore::track_window_embeddings(const std::vector<int64_t>& track_ids) const {
  return window_rows_by("track_id", track_ids, "w.track_id, w.idx");
}

std::vector<int64_t> PostgresStore::active_window_ids() const {
  std::vector<int64_t> ids;
  auto r = c_->query(
      "SELECT w.id FROM windows w JOIN tracks t ON t.id = w.track_id "
      "WHERE NOT w.silent AND w.embedding IS NOT NULL AND t.status = 'ok' ORDER BY w.id",
      {}, true);
  ids.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) ids.push_back(r.int64(i, 0));
  return ids;
}

std::optional<LibraryChanges> PostgresStore::changes_since(int64_t since) const {
  // One committed state: the caller's read transaction, else one of its own.
  std::unique_ptr<ReadScope> scope;
  if (!c_->in_transaction()) scope = read_scope();
  auto r = c_->query("SELECT key, value::bigint FROM meta WHERE key IN ('library_generation', 'changes_from', 'roots_changed_at')");
  std::optional<int64_t> from;
  int64_t roots_at = 0;
  LibraryChanges c;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string key = r.text(i, 0);
    if (key == "library_generation") c.library_generation = r.int64(i, 1);
    else if (key == "changes_from") from = r.int64(i, 1);
    else roots_at = r.int64(i, 1);
  }
  if (!from || since < *from || since > c.library_generation) return std::nullopt;
  if (since == c.library_generation) return c;
  c.roots_changed = roots_at > since;
  {
    auto t = c_->query("SELECT id FROM tracks WHERE changed_at > $1::bigint ORDER BY id", pg::Params().add(since));
    for (int i = 0; i < t.rows(); ++i) c.changed.push_back(t.int64(i, 0));
  }
  {
    // A removed id that is in the library again (restored) is among the changed.
    auto t = c_->query("SELECT DISTINCT r.track_id FROM removed_tracks r WHERE r.removed_at > $1::bigint "
                       "AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = r.track_id) ORDER BY r.track_id",
                       pg::Params().add(since));
    for (int i = 0; i < t.rows(); ++i) c.removed.push_back(t.int64(i, 0));
  }
  return c;
}

}  // namespace clap::store
