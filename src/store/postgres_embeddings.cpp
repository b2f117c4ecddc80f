// PostgresStore: reading embeddings (tracks, windows, batches, changes).
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
    for (int i = 0; i < r.rows(); ++i)
      if (r.append_floats(i, 1, e.dim, e.data)) e.ids.push_back(r.int64(i, 0));
    if (r.rows() < kPage) break;
    after = r.int64(r.rows() - 1, 0);
  }
  return e;
}

namespace {
// Appends the rows of a (id, track_id, start_s, end_s, embedding) result to `t`.
void append_window_rows(pg::Result& r, WindowTable& t) {
  for (int i = 0; i < r.rows(); ++i) {
    if (!r.append_floats(i, 4, t.dim, t.embeddings)) continue;
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
