#include "store/store.h"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/one_line_text.h"
#include "core/regular_file.h"
#include "core/user_dirs.h"
#include "store/connection_state.h"
#include "store/database_id.h"
#include "store/orphan_rows.h"
#include "store/postgres.h"
#include "store/playlist_reads.h"
#include "store/postgres_store.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"

namespace clap::store {

namespace fs = std::filesystem;

namespace {

std::string env(const char* name) { return env_or_empty(name); }

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

namespace {

// The XDG data location ($XDG_DATA_HOME/clapsearch/library.db): the one index whose folders
// clapsearch makes itself. A location the user names (--db, $CLAPSEARCH_DB) must be in a folder
// that exists: a typo such as /typo/dir/x.db is an error, not a new folder tree.
std::string standard_db_path() {
  std::string data = env("XDG_DATA_HOME");
  if (data.empty() || data.front() != '/') {  // XDG: relative values are ignored
    try {
      data = home_dir() + "/.local/share";
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + "; pass --db PATH");
    }
  }
  return data + "/clapsearch/library.db";
}

}  // namespace

std::string default_db_path() {
  if (std::string p = env("CLAPSEARCH_DB"); !p.empty()) return p;
  return standard_db_path();
}

std::string ModelIdentity::model_key() const {
  if (!content_hash.empty()) return "content:" + content_hash;
  return id + "@" + revision + "#" + config_hash;
}

namespace {
// The same local folder written differently (a trailing slash, a symlink, a relative path).
bool same_location(const std::string& a, const std::string& b) {
  if (a == b) return true;
  std::error_code ec;
  return fs::equivalent(a, b, ec) && !ec;
}
}  // namespace

std::string ModelIdentity::describe() const {
  std::string out = id;
  if (!revision.empty() && revision != "local") out.append("@").append(revision, 0, 12);
  out += " (window " + format_number(window_s) + " s, hop " + format_number(hop_s) + " s, silence " +
         format_number(silence_db) + " dBFS, " + std::to_string(dim) + "-d" +
         (precision == "fp32" ? std::string() : ", " + precision + " audio tower") + ")";
  return out;
}

std::string ModelIdentity::mismatch(const ModelIdentity& o) const {
  std::vector<std::string> diffs;
  auto differs = [](double a, double b) { return std::fabs(a - b) > 1e-9; };
  if (!content_hash.empty() && !o.content_hash.empty()) {
    // The content decides; where the model lives does not.
    if (content_hash != o.content_hash)
      diffs.push_back(same_location(id, o.id) ? "the model's files (weights, configuration or tokenizer) changed since: content " +
                                                     content_hash.substr(0, 12) + " vs " + o.content_hash.substr(0, 12)
                                               : "model " + id + " vs " + o.id + " (content " + content_hash.substr(0, 12) +
                                                     " vs " + o.content_hash.substr(0, 12) + ")");
  } else if (!same_location(id, o.id)) {
    diffs.push_back("model " + id + " vs " + o.id);
  } else if (revision != o.revision) {
    diffs.push_back("revision " + revision + " vs " + o.revision);
  } else if (config_hash != o.config_hash) {
    diffs.push_back("model configuration (config.json / preprocessor_config.json changed)");
  }
  if (dim != o.dim) diffs.push_back("embedding size " + std::to_string(dim) + " vs " + std::to_string(o.dim));
  if (differs(window_s, o.window_s)) diffs.push_back("window " + format_number(window_s) + " s vs " + format_number(o.window_s) + " s");
  if (differs(hop_s, o.hop_s)) diffs.push_back("hop " + format_number(hop_s) + " s vs " + format_number(o.hop_s) + " s");
  if (differs(silence_db, o.silence_db))
    diffs.push_back("silence threshold " + format_number(silence_db) + " vs " + format_number(o.silence_db) + " dBFS");
  if (precision != o.precision) diffs.push_back("audio precision " + precision + " vs " + o.precision);
  std::string out;
  for (const auto& d : diffs) out += (out.empty() ? "" : "; ") + d;
  return out;
}

bool ModelIdentity::shares_audio_with(const ModelIdentity& o) const {
  if (audio_hash.empty() || audio_hash != o.audio_hash) return false;
  ModelIdentity same_model = o;  // what remains when the model itself is set aside
  same_model.id = id, same_model.revision = revision, same_model.config_hash = config_hash;
  same_model.content_hash = content_hash;
  return mismatch(same_model).empty();
}

std::unique_ptr<Store> open_store(const std::string& location, OpenMode mode, std::string* unexpected) {
  if (PostgresStore::is_url(location)) {
    // A server decides what this user may do; ReadWriteOrReadOnly asks for writing (a role
    // without write grants fails then rather than falling back: not yet told apart).
    if (mode == OpenMode::ReadOnly) return PostgresStore::open_readonly(location);
    return PostgresStore::open(location, /*create=*/mode == OpenMode::ReadWrite);
  }
  // No file has a longer path; a settings file's db (up to its 1 MB) was echoed whole, twice, by
  // "no index here (build one with ...)" (hostile pass 13, H13C-2).
  if (location.size() > PATH_MAX)
    throw Error(echo_excerpt(location) + ": not an index: a path longer than any the system opens (" + std::to_string(PATH_MAX) +
                " bytes)");
  std::error_code ec;
  const bool create = mode == OpenMode::ReadWrite;
  if (!create) {
    if (is_link_loop(location))
      throw Error(location + ": not an index: this is " + kLinkLoop + "; give --db the index file itself");
    if (!fs::exists(location, ec))
      throw Error(location + ": no index here (build one with `clapsearch index DIR --db " + location + "`)");
    if (fs::is_directory(location, ec)) throw Error(location + ": is a folder, not an index database");
  }
  if (mode == OpenMode::ReadWriteOrReadOnly) {
    try {
      return std::make_unique<SqliteStore>(SqliteStore::open(location, /*create=*/false));
    } catch (const sql::ReplacedWhileOpening&) {
      // Not a file this process may not write: a read-only open that then found the new file
      // would leave the caller (the server's accounts connection) unable to write to it.
      throw;
    } catch (const Error& e) {
      // Not writable (permissions, read-only medium): read-only still answers queries. Told
      // apart from a full disk or an I/O error, which the user must hear about.
      const std::string folder = fs::path(location).parent_path().string();
      if (unexpected && ::access(location.c_str(), W_OK) == 0 && ::access(folder.empty() ? "." : folder.c_str(), W_OK) == 0)
        *unexpected = e.what();
    }
  }
  if (mode == OpenMode::ReadWrite || mode == OpenMode::ReadWriteExisting)
    return std::make_unique<SqliteStore>(SqliteStore::open(location, create));
  return std::make_unique<SqliteStore>(SqliteStore::open_readonly(location));
}

bool is_damage(const std::exception& e) {
  if (dynamic_cast<const DamagedIndex*>(&e)) return true;
  const auto* sqlite = dynamic_cast<const sql::SqliteError*>(&e);
  return sqlite && (sqlite->code() == SQLITE_CORRUPT || sqlite->code() == SQLITE_NOTADB);
}

bool is_unavailable(const std::exception& e) {
  if (is_damage(e) || dynamic_cast<const pg::Unreachable*>(&e)) return true;
  const auto* sqlite = dynamic_cast<const sql::SqliteError*>(&e);
  return sqlite && (sqlite->code() == SQLITE_IOERR || sqlite->code() == SQLITE_CANTOPEN);
}

void check_replaceable(const std::string& location) {
  // A server's database is never replaced: its damage that a rebuild repairs (a missing table, a
  // damaged column of a table the rebuild empties unread) is repaired in place by
  // replace_damaged_index; other damage is named here, before a model is loaded.
  if (PostgresStore::is_url(location)) return PostgresStore::check_rebuildable(location);
  SqliteStore::check_replaceable(location);
}

std::unique_ptr<Store> replace_damaged_index(const std::string& location, std::unique_ptr<IndexerLock>& lock,
                                             Salvage* salvage) {
  check_replaceable(location);
  if (PostgresStore::is_url(location)) {
    std::unique_ptr<Store> store = PostgresStore::open_completing_schema(location);
    if (!lock) lock = store->lock_indexer();
    return store;
  }
  return std::make_unique<SqliteStore>(SqliteStore::replace_damaged(location, lock, salvage));
}

namespace {
[[noreturn]] void no_job_queue(const Store& s) {
  throw Error(s.path() + ": a SQLite index has no job queue: one process indexes it (`clapsearch index`); planning and "
              "workers on several machines need a PostgreSQL store (--db postgresql://...)");
}
}  // namespace

void Store::plan_jobs(const std::vector<IndexJob>&) { no_job_queue(*this); }
int64_t Store::forget_finished_jobs() { no_job_queue(*this); }
std::vector<IndexJob> Store::claim_jobs(const std::string&, int, double, int) { no_job_queue(*this); }
int64_t Store::renew_leases(const std::string&, double) { no_job_queue(*this); }
int64_t Store::finish_job(const IndexJob&, const std::string&, const Track&, const std::vector<WindowRecord>&, const float*) {
  no_job_queue(*this);
}
bool Store::finish_pass_job(const IndexJob&, const std::string&, int64_t, const std::vector<WindowRecord>&, const float*) {
  no_job_queue(*this);
}
int64_t Store::release_jobs(const std::string&) { no_job_queue(*this); }
JobCounts Store::job_counts() const { return {}; }

bool is_server_location(const std::string& location) { return PostgresStore::is_url(location); }

void check_index_folder(const std::string& location) {
  if (is_server_location(location)) return;
  SqliteStore::check_not_dangling(location);
  std::error_code ec;
  const fs::path folder = fs::path(location).parent_path();
  if (folder.empty() || fs::is_directory(folder, ec)) return;
  std::string standard;
  try {
    standard = fs::absolute(standard_db_path()).lexically_normal().string();
  } catch (const Error&) {  // no home folder: no standard location either
  }
  if (fs::absolute(location).lexically_normal().string() == standard) return;
  if (fs::exists(folder, ec)) throw Error(location + ": cannot create the index: " + folder.string() + " is not a folder");
  throw Error(location + ": cannot create the index: the folder " + folder.string() +
              " does not exist (make it first if this is the right place: clapsearch makes no folders for a named --db)");
}

std::string resolve_location(const std::string& given) {
  const std::string location = given.empty() ? default_db_path() : given;
  if (is_server_location(location)) return location;
  std::string p = fs::absolute(fs::path(location)).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string display_location(const std::string& location) {
  return is_server_location(location) ? pg::redact(location) : location;
}

// --- store/playlist_reads.h ---------------------------------------------------------------------

namespace {
// The store behind `s`: one of the two kinds open_store makes.
template <class Read>
auto on_store(const Store& s, const Read& read) {
  if (const auto* sqlite = dynamic_cast<const SqliteStore*>(&s)) return read(*sqlite);
  if (const auto* postgres = dynamic_cast<const PostgresStore*>(&s)) return read(*postgres);
  throw Error("not a store open_store makes: " + s.path());
}
}  // namespace

std::vector<PlaylistRecord> playlist_headers(const Store& s, PlaylistsOf which) {
  return on_store(s, [&](const auto& store) { return store.playlist_headers(which); });
}

void playlist_entry_tracks(const Store& s, PlaylistsOf which, const std::function<void(int64_t, int64_t)>& each) {
  on_store(s, [&](const auto& store) {
    store.playlist_entries(which, false, [&](int64_t playlist_id, const SongRef& entry) { each(playlist_id, entry.track_id); });
  });
}

void playlist_entries(const Store& s, PlaylistsOf which, const std::function<void(int64_t, const SongRef&)>& each) {
  on_store(s, [&](const auto& store) { store.playlist_entries(which, true, each); });
}

int64_t playlist_count(const Store& s, int64_t owner) {
  return on_store(s, [&](const auto& store) { return store.playlist_count(owner); });
}

// --- store/orphan_rows.h ------------------------------------------------------------------------

SetRowsOfNoTrack set_rows_of_no_track(const Store& s) {
  const auto [windows, tracks] = on_store(s, [](const auto& store) { return store.set_rows_of_no_track(); });
  return {windows, tracks};
}

// --- store/embedding_sizes.h ---------------------------------------------------------------------

std::optional<int64_t> misshapen_track_embedding(const Store& s) {
  return on_store(s, [&](const auto& store) { return store.misshapen_track_embedding(); });
}

// --- store/database_id.h ------------------------------------------------------------------------

std::optional<std::string> password_key_id(const Store& s) {
  if (const auto* postgres = dynamic_cast<const PostgresStore*>(&s)) return postgres->key_id();
  return std::nullopt;
}

// --- store/connection_state.h -------------------------------------------------------------------

std::optional<int64_t> rows_written(const Store& s) {
  if (const auto* sqlite = dynamic_cast<const SqliteStore*>(&s)) return sqlite->rows_written();
  return std::nullopt;
}

bool connection_closed(const Store& s) {
  if (const auto* postgres = dynamic_cast<const PostgresStore*>(&s)) return postgres->connection_closed();
  return false;
}

}  // namespace clap::store
