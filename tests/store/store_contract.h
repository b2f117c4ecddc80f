// The Store contract's shared set-up (the conformance_*_test.cpp files): the same cases run on a
// SQLite file and on a database of a real PostgreSQL server that the test process starts
// (support/postgres_server.h; one server per process, one database per test), and the tracks,
// windows and awkward floats they write.
#pragma once
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "store/postgres.h"
#include "store/postgres_store.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap::store::contract {

inline constexpr int kDim = 8;

inline ModelIdentity identity() {
  ModelIdentity m;
  m.id = "org/model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'a');
  m.dim = kDim;
  return m;
}

// Floats whose bits a lossy path would change: denormals, -0, extremes, random mantissas.
inline std::vector<float> awkward(int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::vector<float> v(kDim);
  for (auto& x : v) x = std::bit_cast<float>(static_cast<uint32_t>(rng() & 0xff7fffffu));  // no NaN/inf exponent
  v[0] = std::numeric_limits<float>::denorm_min();
  v[1] = -0.0f;
  v[2] = std::numeric_limits<float>::max();
  return v;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

inline std::vector<float> unit(int axis) {
  std::vector<float> v(kDim, 0.0f);
  v[axis % kDim] = 1.0f;
  return v;
}

inline Track track(const std::string& path) {
  Track t;
  t.path = path;
  t.size = 1000;
  t.mtime_ns = 1700000000123456789;
  t.ctime_ns = 987654321;
  t.content_hash = std::string(64, 'b');
  t.duration_s = 12.5;
  t.title = "Title";
  t.artist = "Artíst";
  t.album = "Album";
  t.genre = "Jazz";
  t.date = "1999";
  t.track_no = 3;
  return t;
}

inline std::vector<WindowRecord> windows(int n, int silent_at = -1, int seed = 1) {
  std::vector<WindowRecord> out;
  for (int i = 0; i < n; ++i) {
    WindowRecord w;
    w.idx = i;
    w.start_s = 5.0 * i + 0.1;
    w.end_s = 5.0 * i + 10.1;
    w.silent = i == silent_at;
    w.loudness_dbfs = w.silent ? -90.25 : -20.125;
    if (!w.silent) w.embedding = awkward(seed * 100 + i);
    out.push_back(w);
  }
  return out;
}

// Parameterised by the backend ("sqlite", "postgres"); conformance_test.cpp instantiates it once
// for every file's cases.
class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      location_ = test::temp_dir() + "/sub/library.db";
    } else {
      location_ = test::PostgresServer::shared().create_database();
    }
  }
  std::unique_ptr<Store> open(OpenMode mode = OpenMode::ReadWrite) const { return open_store(location_, mode); }
  std::string location_;
};

// Raw SQL on the index behind `location`, with no Store in the way.
inline void raw_sql(const std::string& location, const std::string& sql_text) {
  if (PostgresStore::is_url(location)) {
    pg::Connection c(location);
    c.exec(sql_text);
    return;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(location.c_str(), &db), SQLITE_OK);
  sql::exec(db, sql_text);
  sqlite3_close(db);
}

inline std::vector<int64_t> ids(std::initializer_list<int64_t> l) { return std::vector<int64_t>(l); }

// The schema change of the song identifiers (issue 36), undone: an index made before it.
// Back to the schema before the identifiers (and the fingerprints, which came after them).
// What came after progressive indexing, which an index goes back to an older schema without:
// SQLite's embedding sets (version 6), speech score (7), users (8), play queues (9) and kept track
// ids (10), packet hashes (12); PostgreSQL's embedding sets (7), jobs per pass (8), speech score (9),
// users (10), play queues (11), kept track ids (12) and packet hashes (14); and how many migrations
// they are.
inline std::string drop_sets(bool sqlite) {
  const std::string sets = "DROP TABLE set_windows; DROP TABLE set_tracks; DROP TABLE embedding_sets; ";
  const std::string speech =
      "ALTER TABLE tracks DROP COLUMN speech; DROP TABLE bookmarks; DROP TABLE play_queue_entries; DROP TABLE play_queues; DROP TABLE playlist_entries; DROP TABLE playlists; DROP TABLE plays; "
      "DROP TABLE ratings; DROP TABLE stars; DROP TABLE api_keys; DROP TABLE users; DROP TABLE kept_track_ids; "
      "DROP TABLE packet_hashes; ";
  if (sqlite) return sets + speech;
  return sets +
         "ALTER TABLE jobs DROP CONSTRAINT jobs_path_pass; DROP INDEX jobs_state; "
         "ALTER TABLE jobs DROP COLUMN pass, DROP COLUMN first_pass, DROP COLUMN claim_seq, DROP COLUMN finish_seq; "
         "DROP SEQUENCE job_events; ALTER TABLE jobs ADD CONSTRAINT jobs_path_key UNIQUE (path); "
         "CREATE INDEX jobs_state ON jobs(state, id); " + speech;
}
// The migrations drop_sets undoes: the sets, the speech score, the users, the play queues, the kept
// track ids, the imported plays kept once, the packet hashes and every play kept once (all on
// tables it drops).
inline int sets_migrations(bool sqlite) { return sqlite ? 8 : 9; }

inline constexpr const char* kDropIdentifiers =
    "DROP TABLE fingerprints; "
    "ALTER TABLE tracks DROP COLUMN mbid; ALTER TABLE tracks DROP COLUMN isrc; "
    "ALTER TABLE tracks DROP COLUMN album_artist; ALTER TABLE tracks DROP COLUMN tags_version; "
    "ALTER TABLE tracks DROP COLUMN window_total; ";

}  // namespace clap::store::contract
