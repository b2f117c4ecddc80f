// PostgresStore: copying a whole index (clapsearch migrate): the export and the import.
#include "store/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "core/error.h"
#include "store/postgres.h"
#include "store/postgres_internal.h"
#include "store/rows.h"

namespace clap::store {

using namespace pg_impl;

namespace {

// The write transaction of an import. The tables are locked against other writers (readers go
// on) until it ends.
class PgImportScope final : public ImportScope {
 public:
  PgImportScope(pg::Connection& c, bool& importing) : tx_(c), c_(c), importing_(importing) { importing_ = true; }
  ~PgImportScope() override { importing_ = false; }
  void commit() override {
    // Rows were written with explicit ids: the identity sequences move past them, so that the
    // next insert gets a fresh id (the largest + 1, as SQLite gives).
    for (const char* table : {"tracks", "windows", "retired_tracks"})
      c_.exec(std::string("SELECT setval(pg_get_serial_sequence('") + table + "', 'id'), COALESCE((SELECT MAX(id) FROM " +
              table + "), 0) + 1, false)");
    reset_changes(c_, bump_generation(c_));
    tx_.commit();
    importing_ = false;
  }

 private:
  pg::Transaction tx_;
  pg::Connection& c_;
  bool& importing_;
};

// Rows inserted many per statement (one round trip per few thousand rows): `head` is
// "INSERT INTO t(cols)", `casts` one per column ("::bigint", "" ...), add(p, i) adds row i's
// values in column order.
template <class AddRow>
void insert_rows(pg::Connection& c, const std::string& head, const std::vector<const char*>& casts, size_t n, AddRow add) {
  const size_t per_statement = std::max<size_t>(1, 30000 / casts.size());  // well under the 65535 parameters
  for (size_t at = 0; at < n; at += per_statement) {
    const size_t end = std::min(n, at + per_statement);
    std::string sql = head + " VALUES ";
    pg::Params p;
    for (size_t i = at; i < end; ++i) {
      const size_t base = p.size();
      sql += i > at ? ", (" : "(";
      for (size_t k = 0; k < casts.size(); ++k) sql += (k ? ", $" : "$") + std::to_string(base + k + 1) + casts[k];
      sql += ")";
      add(p, i);
      if (p.size() != base + casts.size()) throw Error("postgresql: internal error: row values do not match " + head);
    }
    c.query(sql, p);
  }
}

// Each embedding set's embedding size, by id.
std::map<int64_t, int> set_dims(pg::Connection& c) {
  std::map<int64_t, int> out;
  auto r = c.query("SELECT id, dim FROM embedding_sets");
  for (int i = 0; i < r.rows(); ++i) out[r.int64(i, 0)] = static_cast<int>(r.int64(i, 1));
  return out;
}

}  // namespace

std::vector<int64_t> PostgresStore::track_ids() const {
  std::vector<int64_t> out;
  auto r = c_->query("SELECT id FROM tracks ORDER BY id", {}, true);
  out.reserve(static_cast<size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.int64(i, 0));
  return out;
}

std::pair<int64_t, int64_t> PostgresStore::set_rows_of_no_track() const {
  auto r = c_->query("SELECT (SELECT COUNT(*) FROM set_windows s WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = s.track_id)), "
                     "(SELECT COUNT(*) FROM set_tracks s WHERE NOT EXISTS (SELECT 1 FROM tracks t WHERE t.id = s.track_id))");
  return {r.int64(0, 0), r.int64(0, 1)};
}

std::vector<TrackCopy> PostgresStore::export_tracks(const std::vector<int64_t>& ids) const {
  std::vector<TrackCopy> out;
  if (ids.empty()) return out;
  const auto m = model();
  const int dim = m ? m->dim : 0;
  const pg::Params batch = pg::Params().add(bigint_array(ids));
  std::map<int64_t, TrackCopy> found;
  {
    auto r = c_->query(std::string("SELECT ") + kTrackColumns + ", t.embedding FROM tracks t WHERE t.id = ANY($1::bigint[])",
                       batch, true);
    for (int i = 0; i < r.rows(); ++i) {
      TrackCopy c;
      c.track = decode_track(r.row(i));
      c.embedding = r.floats(i, kTrackColumnCount, dim);
      found.emplace(c.track.id, std::move(c));
    }
  }
  {
    auto r = c_->query("SELECT id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM windows "
                       "WHERE track_id = ANY($1::bigint[]) ORDER BY track_id, idx",
                       batch, true);
    for (int i = 0; i < r.rows(); ++i) {
      WindowRecord w = decode_window(r.row(i), 2, dim);
      w.id = r.int64(i, 0);
      w.track_id = r.int64(i, 1);
      if (auto it = found.find(w.track_id); it != found.end()) it->second.windows.push_back(std::move(w));
    }
  }
  {
    auto r = c_->query("SELECT track_id, label, score FROM track_labels WHERE track_id = ANY($1::bigint[]) "
                       "ORDER BY track_id, score DESC, label",
                       batch, true);
    for (int i = 0; i < r.rows(); ++i)
      if (auto it = found.find(r.int64(i, 0)); it != found.end())
        it->second.labels.push_back({r.int64(i, 0), r.text(i, 1), static_cast<float>(r.real(i, 2))});
  }
  for (auto& [id, items] : fingerprints(ids))
    if (auto it = found.find(id); it != found.end()) it->second.track.fingerprint = std::move(items);
  {
    // What the inactive embedding sets hold of these tracks.
    const std::map<int64_t, int> dim_of = set_dims(*c_);
    auto w = c_->query("SELECT track_id, set_id, idx, embedding FROM set_windows WHERE track_id = ANY($1::bigint[]) "
                       "ORDER BY track_id, set_id, idx",
                       batch, true);
    for (int i = 0; i < w.rows(); ++i)
      if (auto it = found.find(w.int64(i, 0)); it != found.end()) append_set_copy_window(w.row(i), 1, dim_of, it->second.sets);
    auto t = c_->query("SELECT track_id, set_id, embedding FROM set_tracks WHERE track_id = ANY($1::bigint[])", batch, true);
    for (int i = 0; i < t.rows(); ++i)
      if (auto it = found.find(t.int64(i, 0)); it != found.end()) append_set_copy_track(t.row(i), 1, dim_of, it->second.sets);
  }
  for (int64_t id : ids)
    if (auto it = found.find(id); it != found.end()) out.push_back(std::move(it->second)), found.erase(it);
  return out;
}

std::vector<RetiredCopy> PostgresStore::export_retired(const std::vector<int64_t>& retired_ids) const {
  std::vector<RetiredCopy> out;
  if (retired_ids.empty()) return out;
  const auto m = model();
  const int dim = m ? m->dim : 0;
  const pg::Params batch = pg::Params().add(bigint_array(retired_ids));
  std::map<int64_t, RetiredCopy> found;
  {
    auto r = c_->query("SELECT id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, genre, "
                       "date, track_no, track_id, silent, embedding, indexed_at, retired_at FROM retired_tracks "
                       "WHERE id = ANY($1::bigint[])",
                       batch, true);
    for (int i = 0; i < r.rows(); ++i) {
      RetiredCopy c;
      c.id = r.int64(i, 0);
      c.track = decode_track_file(r.row(i), 1);
      Track& t = c.track;
      t.id = r.int64(i, 13);
      t.silent = r.int64(i, 14) != 0;
      c.embedding = r.floats(i, 15, dim);
      t.indexed_at = r.int64(i, 16);
      c.retired_at = r.int64(i, 17);
      found.emplace(c.id, std::move(c));
    }
  }
  {
    auto r = c_->query("SELECT retired_id, idx, start_s, end_s, loudness_dbfs, silent, embedding FROM retired_windows "
                       "WHERE retired_id = ANY($1::bigint[]) ORDER BY retired_id, idx",
                       batch, true);
    for (int i = 0; i < r.rows(); ++i) {
      WindowRecord w = decode_window(r.row(i), 1, dim);
      w.track_id = r.int64(i, 0);
      if (auto it = found.find(w.track_id); it != found.end()) it->second.windows.push_back(std::move(w));
    }
  }
  for (int64_t id : retired_ids)
    if (auto it = found.find(id); it != found.end()) {
      it->second.track.window_count = static_cast<int>(it->second.windows.size());
      out.push_back(std::move(it->second));
      found.erase(it);
    }
  return out;
}

std::vector<CachedText> PostgresStore::export_cached_texts(const CachedText* after, size_t limit) const {
  const auto m = model();
  const int dim = m ? m->dim : 0;
  std::vector<CachedText> out;
  pg::Params p;
  if (after) p.add(after->model_key).add(after->text);
  p.add(static_cast<int64_t>(limit));
  // The primary key's order (the database's collation): each page continues where the last ended.
  auto r = c_->query(after ? "SELECT model, text, embedding FROM text_cache WHERE (model, text) > ($1, $2) "
                             "ORDER BY model, text LIMIT $3::bigint"
                           : "SELECT model, text, embedding FROM text_cache ORDER BY model, text LIMIT $1::bigint",
                     p, true);
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.floats(i, 2, dim)});
  return out;
}

std::unique_ptr<ImportScope> PostgresStore::begin_import(const ModelIdentity& identity, const std::vector<std::string>& roots) {
  if (read_only_) throw Error(c_->where() + ": opened read-only, cannot import into it");
  if (importing_) throw Error(c_->where() + ": an import is already under way");
  auto scope = std::make_unique<PgImportScope>(*c_, importing_);
  // No other writer until the copy is committed (readers go on); then the check below holds.
  c_->exec("LOCK TABLE meta, roots, tracks, windows, text_cache, track_labels, retired_tracks, retired_windows, "
           "embedding_sets, set_windows, set_tracks IN EXCLUSIVE MODE");
  std::string held;
  auto note = [&](const char* sql, const char* what) {
    if (const int64_t n = c_->query(sql).int64(0, 0); n > 0) held += (held.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  if (const auto m = model()) held = "a model (" + m->id + ")";
  note("SELECT COUNT(*) FROM tracks", "tracks");
  note("SELECT COUNT(*) FROM retired_tracks", "retired tracks");
  note("SELECT COUNT(*) FROM roots", "folders");
  note("SELECT COUNT(*) FROM text_cache", "cached texts");
  if (!held.empty())
    throw Error(c_->where() + ": not an empty index (it holds " + held + "); a copy goes into an empty one only");
  write_copy_head(identity, roots);
  return scope;
}

std::unique_ptr<ImportScope> PostgresStore::begin_replace(const ModelIdentity& identity, const std::vector<std::string>& roots) {
  if (read_only_) throw Error(c_->where() + ": opened read-only, cannot import into it");
  if (importing_) throw Error(c_->where() + ": an import is already under way");
  auto scope = std::make_unique<PgImportScope>(*c_, importing_);
  c_->exec("LOCK TABLE meta, roots, tracks, windows, text_cache, track_labels, retired_tracks, retired_windows, "
           "embedding_sets, set_windows, set_tracks IN EXCLUSIVE MODE");
  // wipe()'s deletes, inside the import's transaction: readers see the old library until commit.
  c_->exec("DELETE FROM set_windows; DELETE FROM set_tracks; DELETE FROM embedding_sets; "
           "DELETE FROM track_labels; DELETE FROM fingerprints; DELETE FROM windows; DELETE FROM tracks; "
           "DELETE FROM text_cache; DELETE FROM roots; DELETE FROM meta WHERE key NOT IN (" + std::string(kKeptMeta) + "); "
           "DELETE FROM retired_windows; DELETE FROM retired_tracks; DELETE FROM jobs");
  write_copy_head(identity, roots);
  return scope;
}

void PostgresStore::write_copy_head(const ModelIdentity& identity, const std::vector<std::string>& roots) {
  write_identity(*c_, identity);
  for (const auto& p : roots)
    c_->query("INSERT INTO roots(path, added_at) VALUES ($1, $2::bigint) ON CONFLICT DO NOTHING",
              pg::Params().add(p).add(now_seconds()));
}

void PostgresStore::import_sets(const std::vector<EmbeddingSet>& sets) {
  if (!importing_) throw Error(c_->where() + ": import_sets outside begin_import");
  const auto m = model();
  if (!m) throw Error(c_->where() + ": import_sets without a model");
  check_imported_sets(sets, *m);
  c_->exec("DELETE FROM embedding_sets");  // the one begin_import recorded, written again with its id
  for (const EmbeddingSet& e : sets) write_set_identity(*c_, e.id, e.identity, e.active);
}

void PostgresStore::import_tracks(const std::vector<TrackCopy>& tracks) {
  if (!importing_) throw Error(c_->where() + ": import_tracks outside begin_import");
  if (tracks.empty()) return;
  const auto m = model();
  const int dim = m ? m->dim : 0;
  for (const TrackCopy& c : tracks) {
    check_embedding_sizes(c.track.path, c.windows, c.embedding.size(), dim);
    check_speech(c.track.speech, c.track.path);
  }
  insert_rows(*c_,
              "INSERT INTO tracks(id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, artist, album, "
              "genre, date, track_no, status, error, silent, embedding, indexed_at, mbid, isrc, album_artist, tags_version, "
              "window_total, speech)",
              {"::bigint", "", "::bigint", "::bigint", "::bigint", "", "::float8", "", "", "", "", "", "::integer", "", "",
               "::boolean", "::bytea", "::bigint", "", "", "", "::integer", "::integer", "::float8"},
              tracks.size(), [&](pg::Params& p, size_t i) {
                const Track& t = tracks[i].track;
                p.add(t.id).add(t.path).add(t.size).add(t.mtime_ns).add(t.ctime_ns).add_text_or_null(t.content_hash);
                p.add(t.duration_s).add(t.title).add(t.artist).add(t.album).add(t.genre).add(t.date).add(t.track_no);
                p.add(status_text(t.status)).add_text_or_null(t.error).add(boolean(t.silent));
                p.add_floats(floats_or_null(tracks[i].embedding), tracks[i].embedding.size()).add(t.indexed_at);
                p.add(t.mbid).add(t.isrc).add(t.album_artist).add(t.tags_version);
                p.add(t.window_total ? t.window_total : static_cast<int>(tracks[i].windows.size()));
                if (t.has_speech()) p.add(t.speech);
                else p.add_null();
              });
  std::vector<std::pair<const Track*, const WindowRecord*>> windows;
  std::vector<std::pair<const Track*, const TrackLabel*>> labels;
  for (const TrackCopy& c : tracks) {
    for (const auto& w : c.windows) windows.emplace_back(&c.track, &w);
    for (const auto& l : c.labels) labels.emplace_back(&c.track, &l);
  }
  insert_rows(*c_, "INSERT INTO windows(id, track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding)",
              {"::bigint", "::bigint", "::integer", "::float8", "::float8", "::float8", "::boolean", "::bytea"},
              windows.size(), [&](pg::Params& p, size_t i) {
                const WindowRecord& w = *windows[i].second;
                p.add(w.id).add(windows[i].first->id).add(w.idx).add(w.start_s).add(w.end_s).add(w.loudness_dbfs);
                p.add(boolean(w.silent)).add_floats(floats_or_null(w.embedding), w.embedding.size());
              });
  insert_rows(*c_, "INSERT INTO track_labels(track_id, label, score)", {"::bigint", "", "::float8"}, labels.size(),
              [&](pg::Params& p, size_t i) {
                p.add(labels[i].first->id).add(labels[i].second->label).add(static_cast<double>(labels[i].second->score));
              });
  std::vector<const Track*> printed;
  for (const TrackCopy& c : tracks)
    if (!c.track.fingerprint.empty()) printed.push_back(&c.track);
  insert_rows(*c_, "INSERT INTO fingerprints(track_id, items)", {"::bigint", "::bytea"}, printed.size(),
              [&](pg::Params& p, size_t i) { p.add(printed[i]->id).add_bytes(fingerprint_bytes(printed[i]->fingerprint)); });
  // The inactive embedding sets' rows (import_sets wrote the sets).
  const std::map<int64_t, int> dim_of = set_dims(*c_);
  std::vector<std::tuple<int64_t, int64_t, const WindowRecord*>> set_windows;  // set, track, window
  std::vector<std::tuple<int64_t, int64_t, const std::vector<float>*>> set_tracks;
  for (const TrackCopy& c : tracks)
    for (const SetCopy& set : c.sets) {
      check_set_copy(c.track.path, set, dim_of);
      for (const WindowRecord& w : set.windows) set_windows.emplace_back(set.set_id, c.track.id, &w);
      if (!set.embedding.empty()) set_tracks.emplace_back(set.set_id, c.track.id, &set.embedding);
    }
  insert_rows(*c_, "INSERT INTO set_windows(set_id, track_id, idx, embedding)", {"::bigint", "::bigint", "::integer", "::bytea"},
              set_windows.size(), [&](pg::Params& p, size_t i) {
                const auto& [set, track, w] = set_windows[i];
                p.add(set).add(track).add(w->idx).add_floats(w->embedding.data(), w->embedding.size());
              });
  insert_rows(*c_, "INSERT INTO set_tracks(set_id, track_id, embedding)", {"::bigint", "::bigint", "::bytea"}, set_tracks.size(),
              [&](pg::Params& p, size_t i) {
                const auto& [set, track, e] = set_tracks[i];
                p.add(set).add(track).add_floats(e->data(), e->size());
              });
}

void PostgresStore::import_retired(const std::vector<RetiredCopy>& retired) {
  if (!importing_) throw Error(c_->where() + ": import_retired outside begin_import");
  if (retired.empty()) return;
  const auto m = model();
  const int dim = m ? m->dim : 0;
  for (const RetiredCopy& c : retired) check_embedding_sizes(c.track.path, c.windows, c.embedding.size(), dim);
  insert_rows(*c_,
              "INSERT INTO retired_tracks(id, track_id, path, size, mtime_ns, ctime_ns, content_hash, duration_s, title, "
              "artist, album, genre, date, track_no, silent, embedding, indexed_at, retired_at)",
              {"::bigint", "::bigint", "", "::bigint", "::bigint", "::bigint", "", "::float8", "", "", "", "", "",
               "::integer", "::boolean", "::bytea", "::bigint", "::bigint"},
              retired.size(), [&](pg::Params& p, size_t i) {
                const RetiredCopy& c = retired[i];
                const Track& t = c.track;
                p.add(c.id).add(t.id).add(t.path).add(t.size).add(t.mtime_ns).add(t.ctime_ns).add(t.content_hash);
                p.add(t.duration_s).add(t.title).add(t.artist).add(t.album).add(t.genre).add(t.date).add(t.track_no);
                p.add(boolean(t.silent)).add_floats(floats_or_null(c.embedding), c.embedding.size());
                p.add(t.indexed_at).add(c.retired_at);
              });
  std::vector<std::pair<int64_t, const WindowRecord*>> windows;
  for (const RetiredCopy& c : retired)
    for (const auto& w : c.windows) windows.emplace_back(c.id, &w);
  insert_rows(*c_, "INSERT INTO retired_windows(retired_id, idx, start_s, end_s, loudness_dbfs, silent, embedding)",
              {"::bigint", "::integer", "::float8", "::float8", "::float8", "::boolean", "::bytea"}, windows.size(),
              [&](pg::Params& p, size_t i) {
                const WindowRecord& w = *windows[i].second;
                p.add(windows[i].first).add(w.idx).add(w.start_s).add(w.end_s).add(w.loudness_dbfs).add(boolean(w.silent));
                p.add_floats(floats_or_null(w.embedding), w.embedding.size());
              });
}

void PostgresStore::import_cached_texts(const std::vector<CachedText>& texts) {
  if (!importing_) throw Error(c_->where() + ": import_cached_texts outside begin_import");
  insert_rows(*c_, "INSERT INTO text_cache(model, text, embedding)", {"", "", "::bytea"}, texts.size(),
              [&](pg::Params& p, size_t i) {
                p.add(texts[i].model_key).add(texts[i].text).add_floats(texts[i].embedding.data(), texts[i].embedding.size());
              });
}

}  // namespace clap::store
