// `clapsearch migrate` in the library (service/migrate.h) and the Store methods behind it
// (store.h, "copying a whole index"): a SQLite index holding every kind of row — awkward floats
// (denormals, -0, extremes), error and silent tracks, gaps in the ids, labels, retired tracks,
// text-cache entries of two models — copied to a real PostgreSQL server (support/postgres_server.h)
// and back to a new SQLite file: every field, every id and every embedding bit equal; new rows get
// fresh ids after the copy; a non-empty destination is refused untouched; a copy that fails
// midway (a trigger of the destination, a damaged source) leaves the destination as it was.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <random>

#include "core/error.h"
#include "service/migrate.h"
#include "store/postgres.h"
#include "store/store.h"
#include "support/golden.h"
#include "support/postgres_server.h"

namespace clap {
namespace {

namespace fs = std::filesystem;
using store::OpenMode;

constexpr int kDim = 8;

store::ModelIdentity identity() {
  store::ModelIdentity m;
  m.id = "/models/my-clap";
  m.revision = "local";
  m.config_hash = std::string(64, 'a');
  m.content_hash = std::string(64, 'c');
  m.audio_hash = std::string(64, 'd');
  m.config_path = "/models/config.json";
  m.tokenizer_path = "/models/tok";
  m.window_s = 7.5;
  m.hop_s = 2.25;
  m.silence_db = -55.5;
  m.precision = "bf16";
  m.dim = kDim;
  return m;
}

// Floats whose bits a lossy path would change: denormals, -0, extremes, random mantissas.
std::vector<float> awkward(int seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::vector<float> v(kDim);
  for (auto& x : v) x = std::bit_cast<float>(static_cast<uint32_t>(rng() & 0xff7fffffu));  // no NaN/inf exponent
  v[0] = std::numeric_limits<float>::denorm_min();
  v[1] = -0.0f;
  v[2] = std::numeric_limits<float>::max();
  v[3] = -std::numeric_limits<float>::min();
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
bool same_bits(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }

store::Track track(const std::string& path, int n) {
  store::Track t;
  t.path = path;
  t.size = 1000 + n;
  t.mtime_ns = 1700000000123456789 + n;
  t.ctime_ns = 987654321 + n;
  t.content_hash = std::string(63, 'b') + static_cast<char>('a' + n % 26);
  t.duration_s = 12.5 + n * 0.1;  // not exact in binary
  t.title = "Title " + std::to_string(n);
  t.artist = "Artíst \"quoted\" 'x'";
  t.album = n % 2 ? "" : "Album";
  t.genre = "Jazz";
  t.date = "1999-01-0" + std::to_string(n % 9 + 1);
  t.track_no = n;
  t.indexed_at = 1600000000 + n;
  return t;
}

std::vector<store::WindowRecord> windows(int n, int seed, int silent_at = -1) {
  std::vector<store::WindowRecord> out;
  for (int i = 0; i < n; ++i) {
    store::WindowRecord w;
    w.idx = i;
    w.start_s = 2.25 * i + 0.1;
    w.end_s = 2.25 * i + 7.6;
    w.silent = i == silent_at;
    w.loudness_dbfs = w.silent ? -90.25 : -20.0 / 3;
    if (!w.silent) w.embedding = awkward(seed * 100 + i);
    out.push_back(w);
  }
  return out;
}

// A library with a bit of everything: `ok_tracks` + 2 error tracks, 3 of them removed (gaps in
// the ids, the largest one too) and 3 retired (2 kept restorable): ok_tracks - 4 tracks remain.
void fill(store::Store& s, int ok_tracks = 12) {  // at least 12
  s.set_model(identity());
  s.add_roots({"/music", "/more music/ü"});
  std::vector<int64_t> ids;
  for (int n = 0; n < ok_tracks; ++n) {
    const auto emb = awkward(1000 + n);
    ids.push_back(s.put_track(track("/music/t" + std::to_string(n) + ".flac", n), windows(1 + n % 4, n, n % 3 == 1 ? 0 : -1),
                              emb.data()));
  }
  store::Track bad = track("/music/bad.mp3", 50);
  bad.status = store::TrackStatus::Error;
  bad.error = "not audio: Invalid data found when processing input";
  bad.content_hash.clear();
  bad.duration_s = 0;
  const int64_t bad_id = s.put_track(bad, {}, nullptr);
  store::Track quiet = track("/music/quiet.wav", 51);
  quiet.status = store::TrackStatus::Error;
  quiet.silent = true;
  quiet.error = "silent";
  auto quiet_windows = windows(2, 51);
  for (auto& w : quiet_windows) w.silent = true, w.embedding.clear(), w.loudness_dbfs = -200;
  s.put_track(quiet, quiet_windows, nullptr);
  // Gaps in the ids, the largest included.
  s.remove_tracks({ids[2], ids[5], ids.back()});
  // Retired tracks (an error track is simply deleted).
  s.retire_tracks({ids[3], ids[7], bad_id});
  s.put_labels({{ids[0], "jazz", 0.7f}, {ids[0], "Blues", std::numeric_limits<float>::denorm_min()},
                {ids[1], "rock", -0.0f}, {ids[4], "noise", 1.0f / 3}});
  const std::string key = identity().model_key();
  s.put_cached_texts({{key, "calm piano", awkward(7)},
                      {key, "", awkward(8)},
                      {key, "ünïcödé \"quoted\" 'text'", awkward(9)},
                      {"content:" + std::string(64, 'e'), "calm piano", awkward(10)}});
  // Packet hashes (audio/packet_hash.h), by content hash: of live tracks, of the retired ones (a
  // file that comes back moved and retagged), and "" for a file that could not be demuxed.
  std::vector<std::pair<std::string, std::string>> packets;
  for (const store::FileState& f : s.file_states())
    if (!f.content_hash.empty()) packets.emplace_back(f.content_hash, f.id % 3 ? std::string(64, char('0' + f.id % 10)) : "");
  for (const store::FileState& r : s.retired_tracks()) packets.emplace_back(r.content_hash, std::string(64, 'f'));
  s.put_packet_hashes(packets);
}

// The packet hashes of an index's tracks and retired tracks, by content hash.
std::map<std::string, std::string> all_packet_hashes(const store::Store& s) {
  std::vector<std::string> hashes;
  for (const store::FileState& f : s.file_states()) hashes.push_back(f.content_hash);
  for (const store::FileState& r : s.retired_tracks()) hashes.push_back(r.content_hash);
  return s.packet_hashes(hashes);
}

void expect_same_track(const store::Track& a, const store::Track& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.ctime_ns, b.ctime_ns);
  EXPECT_EQ(a.content_hash, b.content_hash);
  EXPECT_TRUE(same_bits(a.duration_s, b.duration_s)) << a.path;
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.artist, b.artist);
  EXPECT_EQ(a.album, b.album);
  EXPECT_EQ(a.genre, b.genre);
  EXPECT_EQ(a.date, b.date);
  EXPECT_EQ(a.track_no, b.track_no);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.silent, b.silent);
  EXPECT_EQ(a.indexed_at, b.indexed_at);
  EXPECT_EQ(a.window_count, b.window_count);
}

void expect_same_windows(const std::vector<store::WindowRecord>& a, const std::vector<store::WindowRecord>& b, bool ids) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (ids) {
      EXPECT_EQ(a[i].id, b[i].id);
    }
    EXPECT_EQ(a[i].track_id, b[i].track_id);
    EXPECT_EQ(a[i].idx, b[i].idx);
    EXPECT_TRUE(same_bits(a[i].start_s, b[i].start_s));
    EXPECT_TRUE(same_bits(a[i].end_s, b[i].end_s));
    EXPECT_TRUE(same_bits(a[i].loudness_dbfs, b[i].loudness_dbfs));
    EXPECT_EQ(a[i].silent, b[i].silent);
    EXPECT_TRUE(same_bits(a[i].embedding, b[i].embedding)) << "window " << a[i].id;
  }
}

std::vector<store::CachedText> all_texts(const store::Store& s) {
  std::vector<store::CachedText> out;
  for (auto page = s.export_cached_texts(nullptr, 2); !page.empty(); page = s.export_cached_texts(&page.back(), 2))
    out.insert(out.end(), page.begin(), page.end());
  return out;
}

// Everything a user sees of an index, through the ordinary reads (not only the export), equal.
void expect_same_index(const store::Store& a, const store::Store& b) {
  SCOPED_TRACE(store::display_location(a.path()) + " vs " + store::display_location(b.path()));
  const auto ma = a.model(), mb = b.model();
  ASSERT_TRUE(ma && mb);
  EXPECT_EQ(ma->id, mb->id);
  EXPECT_EQ(ma->revision, mb->revision);
  EXPECT_EQ(ma->config_hash, mb->config_hash);
  EXPECT_EQ(ma->content_hash, mb->content_hash);
  EXPECT_EQ(ma->audio_hash, mb->audio_hash);
  EXPECT_EQ(ma->config_path, mb->config_path);
  EXPECT_EQ(ma->tokenizer_path, mb->tokenizer_path);
  EXPECT_TRUE(same_bits(ma->window_s, mb->window_s));
  EXPECT_TRUE(same_bits(ma->hop_s, mb->hop_s));
  EXPECT_TRUE(same_bits(ma->silence_db, mb->silence_db));
  EXPECT_EQ(ma->dim, mb->dim);
  EXPECT_EQ(ma->precision, mb->precision);
  EXPECT_EQ(a.roots(), b.roots());

  const auto ta = a.tracks(), tb = b.tracks();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    expect_same_track(ta[i], tb[i]);
    expect_same_windows(a.windows(ta[i].id), b.windows(tb[i].id), true);
    const auto la = a.labels(ta[i].id), lb = b.labels(ta[i].id);
    ASSERT_EQ(la.size(), lb.size());
    for (size_t k = 0; k < la.size(); ++k) {
      EXPECT_EQ(la[k].label, lb[k].label);
      // Bit for bit, but for the sign of a zero: SQLite keeps a REAL without fraction as an
      // integer, so -0.0 reads back as 0.0 there (its own rule, for any write).
      if (la[k].score == 0) {
        EXPECT_EQ(lb[k].score, 0.0f);
      } else {
        EXPECT_EQ(std::bit_cast<uint32_t>(la[k].score), std::bit_cast<uint32_t>(lb[k].score));
      }
    }
  }
  EXPECT_EQ(a.track_ids(), b.track_ids());
  const auto ea = a.track_embeddings(), eb = b.track_embeddings();
  EXPECT_EQ(ea.ids, eb.ids);
  EXPECT_TRUE(same_bits(ea.data, eb.data));
  const auto wa = a.window_embeddings(), wb = b.window_embeddings();
  EXPECT_EQ(wa.window_ids, wb.window_ids);
  EXPECT_EQ(wa.track_ids, wb.track_ids);
  EXPECT_EQ(wa.starts, wb.starts);
  EXPECT_EQ(wa.ends, wb.ends);
  EXPECT_TRUE(same_bits(wa.embeddings, wb.embeddings));
  EXPECT_EQ(a.all_labels().size(), b.all_labels().size());
  const auto ca = a.counts(), cb = b.counts();
  EXPECT_EQ(ca.tracks, cb.tracks);
  EXPECT_EQ(ca.ok, cb.ok);
  EXPECT_EQ(ca.errors, cb.errors);
  EXPECT_EQ(ca.silent_tracks, cb.silent_tracks);
  EXPECT_EQ(ca.windows, cb.windows);
  EXPECT_EQ(ca.silent_windows, cb.silent_windows);
  EXPECT_DOUBLE_EQ(ca.audio_seconds, cb.audio_seconds);
  EXPECT_TRUE(b.check().empty());

  // Every track whole, through the export (the track embedding of an error track included).
  const auto xa = a.export_tracks(a.track_ids()), xb = b.export_tracks(b.track_ids());
  ASSERT_EQ(xa.size(), xb.size());
  for (size_t i = 0; i < xa.size(); ++i) {
    expect_same_track(xa[i].track, xb[i].track);
    EXPECT_TRUE(same_bits(xa[i].embedding, xb[i].embedding)) << xa[i].track.path;
    expect_same_windows(xa[i].windows, xb[i].windows, true);
    EXPECT_EQ(xa[i].labels.size(), xb[i].labels.size());
  }

  // Retired tracks with their windows, ids and retirement times.
  const auto ra = a.retired_tracks(), rb = b.retired_tracks();
  ASSERT_EQ(ra.size(), rb.size());
  std::vector<int64_t> rids;
  for (size_t i = 0; i < ra.size(); ++i) {
    EXPECT_EQ(ra[i].id, rb[i].id);
    EXPECT_EQ(ra[i].path, rb[i].path);
    EXPECT_EQ(ra[i].content_hash, rb[i].content_hash);
    rids.push_back(ra[i].id);
  }
  const auto da = a.export_retired(rids), db = b.export_retired(rids);
  ASSERT_EQ(da.size(), db.size());
  for (size_t i = 0; i < da.size(); ++i) {
    EXPECT_EQ(da[i].id, db[i].id);
    EXPECT_EQ(da[i].retired_at, db[i].retired_at);
    expect_same_track(da[i].track, db[i].track);
    EXPECT_TRUE(same_bits(da[i].embedding, db[i].embedding));
    expect_same_windows(da[i].windows, db[i].windows, false);
  }

  // The packet hashes (issue 53: `migrate` left them out; a file moved and retagged after the
  // copy was then a new track, its users' data left behind).
  const std::map<std::string, std::string> pa = all_packet_hashes(a);
  EXPECT_FALSE(pa.empty());
  EXPECT_EQ(pa, all_packet_hashes(b));

  // The text cache of every model.
  const auto ca2 = all_texts(a), cb2 = all_texts(b);
  ASSERT_EQ(ca2.size(), cb2.size());
  for (size_t i = 0; i < ca2.size(); ++i) {
    EXPECT_EQ(ca2[i].model_key, cb2[i].model_key);
    EXPECT_EQ(ca2[i].text, cb2[i].text);
    EXPECT_TRUE(same_bits(ca2[i].embedding, cb2[i].embedding));
    const auto direct = b.cached_text(ca2[i].model_key, ca2[i].text);
    ASSERT_TRUE(direct);
    EXPECT_TRUE(same_bits(*direct, ca2[i].embedding));
  }
}

std::string with_password(const std::string& url) {
  // postgresql://clap@host... -> postgresql://clap:s3cret-pw@host... (the test server trusts every login).
  const size_t at = url.find('@');
  return url.substr(0, at) + ":s3cret-pw" + url.substr(at);
}

TEST(Migrate, SqliteToPostgresAndBackKeepsEveryIdFieldAndBit) {
  const std::string original = test::temp_dir() + "/migrate/original.db";
  const std::string roundtrip = test::temp_dir() + "/migrate/sub/roundtrip.db";
  const std::string url = with_password(test::PostgresServer::shared().create_database());
  {
    auto s = store::open_store(original, OpenMode::ReadWrite);
    fill(*s);
    ASSERT_TRUE(s->check().empty());
    ASSERT_EQ(s->retired_tracks().size(), 2u);
  }
  std::vector<std::pair<int64_t, int64_t>> seen;
  const service::MigrateSummary there = service::migrate_index(original, url, [&](int64_t d, int64_t t) { seen.emplace_back(d, t); });
  EXPECT_EQ(there.from, original);
  EXPECT_EQ(there.to.find("s3cret-pw"), std::string::npos) << there.to;
  EXPECT_EQ(there.to, store::pg::redact(url));
  EXPECT_EQ(there.tracks, 8);  // see fill()
  EXPECT_EQ(there.retired, 2);
  EXPECT_EQ(there.cached_texts, 4);
  EXPECT_EQ(there.labels, 4);
  EXPECT_EQ(there.roots, 2);
  EXPECT_EQ(there.packet_hashes, 10);  // the 8 tracks' (the silent one too) and the 2 retired ones'
  EXPECT_TRUE(there.inherited_problems.empty());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), std::make_pair(int64_t{10}, int64_t{10}));

  const service::MigrateSummary back = service::migrate_index(url, roundtrip);
  EXPECT_EQ(back.tracks, there.tracks);
  EXPECT_EQ(back.windows, there.windows);
  EXPECT_EQ(back.retired_windows, there.retired_windows);
  EXPECT_EQ(back.to, roundtrip);

  auto a = store::open_store(original, OpenMode::ReadOnly);
  auto pg = store::open_store(url, OpenMode::ReadWrite);
  auto b = store::open_store(roundtrip, OpenMode::ReadWrite);
  expect_same_index(*a, *pg);
  expect_same_index(*a, *b);

  // New rows on the copies get fresh ids, the ones the original would give (largest + 1).
  auto ids = a->track_ids();
  const int64_t max_track = *std::max_element(ids.begin(), ids.end());
  int64_t max_window = 0;
  for (const auto& c : a->export_tracks(ids))
    for (const auto& w : c.windows) max_window = std::max(max_window, w.id);
  const auto emb = awkward(77);
  for (store::Store* s : {pg.get(), b.get()}) {
    const int64_t id = s->put_track(track("/music/new.flac", 77), windows(2, 77), emb.data());
    EXPECT_EQ(std::count(ids.begin(), ids.end(), id), 0);
    EXPECT_GT(id, max_track);
    for (const auto& w : s->windows(id)) EXPECT_GT(w.id, max_window);
    // A retired track comes back under its old id (free), and retiring gives a fresh retired id.
    const auto retired = s->retired_tracks();
    const auto copy = s->export_retired({retired[0].id});
    ASSERT_EQ(copy.size(), 1u);
    const int64_t restored = s->restore_track(retired[0].id, "/music/back.flac", 1, 2, 3);
    EXPECT_EQ(restored, copy[0].track.id);
    expect_same_windows(s->windows(restored), [&] {
      auto w = copy[0].windows;
      for (auto& x : w) x.track_id = restored;
      return w;
    }(), false);
    s->retire_tracks({id});
    const auto now = s->retired_tracks();
    ASSERT_EQ(now.size(), 2u);
    EXPECT_GT(now.back().id, retired.back().id);
    EXPECT_TRUE(s->check().empty());
  }
}

TEST(Migrate, PostgresToPostgresAndAnEmptyExistingSqliteFile) {
  const std::string first = test::PostgresServer::shared().create_database();
  const std::string second = test::PostgresServer::shared().create_database();
  const std::string empty_file = test::temp_dir() + "/migrate/empty-existing.db";
  {
    auto s = store::open_store(first, OpenMode::ReadWrite);
    fill(*s);
  }
  { store::open_store(empty_file, OpenMode::ReadWrite); }  // an index with nothing in it
  service::migrate_index(first, second);
  service::migrate_index(second, empty_file);
  auto a = store::open_store(first, OpenMode::ReadOnly);
  expect_same_index(*a, *store::open_store(second, OpenMode::ReadOnly));
  expect_same_index(*a, *store::open_store(empty_file, OpenMode::ReadOnly));
}

TEST(Migrate, ANonEmptyDestinationIsRefusedAndLeftAlone) {
  const std::string source = test::temp_dir() + "/migrate/refuse-source.db";
  const std::string dest_file = test::temp_dir() + "/migrate/refuse-dest.db";
  const std::string dest_url = test::PostgresServer::shared().create_database();
  {
    auto s = store::open_store(source, OpenMode::ReadWrite);
    fill(*s);
  }
  // Each holds something: a whole index, a model alone, a cached text alone.
  for (const std::string& dest : {dest_file, dest_url}) {
    auto d = store::open_store(dest, OpenMode::ReadWrite);
    store::ModelIdentity other = identity();
    other.id = "org/other";
    d->set_model(other);
    const auto emb = awkward(5);
    d->put_track(track("/elsewhere/a.flac", 1), windows(1, 5), emb.data());
    const int64_t generation = d->generation();
    const std::string msg = test::error_of([&] { service::migrate_index(source, dest); });
    EXPECT_NE(msg.find(store::display_location(dest) + ": not empty (it holds an index of org/other, 1 track)"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("an empty database or a new file"), std::string::npos) << msg;
    auto again = store::open_store(dest, OpenMode::ReadOnly);
    EXPECT_EQ(again->generation(), generation);
    EXPECT_EQ(again->counts().tracks, 1);
    EXPECT_EQ(again->model()->id, "org/other");
  }
  {
    auto d = store::open_store(dest_url, OpenMode::ReadWrite);
    d->wipe(identity());
  }
  {
    // Only a model (an emptied index) is still an index: refused.
    const std::string msg = test::error_of([&] { service::migrate_index(source, dest_url); });
    EXPECT_NE(msg.find("not empty (it holds an index of /models/my-clap)"), std::string::npos) << msg;
  }
  // The store refuses too, inside its write transaction (nothing can slip in between).
  auto d = store::open_store(dest_file, OpenMode::ReadWrite);
  const std::string msg = test::error_of([&] { d->begin_import(identity(), {}); });
  EXPECT_NE(msg.find("not an empty index"), std::string::npos) << msg;
  EXPECT_NE(test::error_of([&] { d->import_tracks({}); }).find("outside begin_import"), std::string::npos);
  // The same index, and no index at all, are refused before anything is opened for writing.
  EXPECT_NE(test::error_of([&] { service::migrate_index(source, source); }).find("the same index"), std::string::npos);
  const std::string none = test::temp_dir() + "/migrate/none.db";
  EXPECT_NE(test::error_of([&] { service::migrate_index(none, dest_file + "2"); }).find("no index here"), std::string::npos);
  EXPECT_FALSE(fs::exists(dest_file + "2"));
  const std::string no_model = test::temp_dir() + "/migrate/no-model.db";
  { store::open_store(no_model, OpenMode::ReadWrite); }
  EXPECT_NE(test::error_of([&] { service::migrate_index(no_model, dest_file + "3"); }).find("nothing to copy"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dest_file + "3"));
}

void sqlite_exec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

void expect_empty(const store::Store& s) {
  EXPECT_FALSE(s.model());
  EXPECT_EQ(s.counts().tracks, 0);
  EXPECT_EQ(s.counts().windows, 0);
  EXPECT_TRUE(s.roots().empty());
  EXPECT_TRUE(s.retired_tracks().empty());
  EXPECT_TRUE(s.export_cached_texts(nullptr, 10).empty());
  EXPECT_TRUE(s.all_labels().empty());
}

TEST(Migrate, AFailureMidwayLeavesTheDestinationAsItWas) {
  // A source of several batches, so that the failure comes after many rows were written.
  const std::string source = test::temp_dir() + "/migrate/midway-source.db";
  {
    auto s = store::open_store(source, OpenMode::ReadWrite);
    fill(*s, 300);
  }
  auto src = store::open_store(source, OpenMode::ReadOnly);
  const auto ids = src->track_ids();
  const int64_t late = ids[ids.size() * 3 / 4];

  // PostgreSQL: the destination's own trigger refuses one window of a late track.
  const std::string url = test::PostgresServer::shared().create_database();
  { store::open_store(url, OpenMode::ReadWrite); }  // the schema, empty
  {
    store::pg::Connection c(url);
    c.exec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "IF NEW.track_id = " + std::to_string(late) + " THEN RAISE EXCEPTION 'injected: no room for track %', NEW.track_id; "
           "END IF; RETURN NEW; END $$; "
           "CREATE TRIGGER refuse BEFORE INSERT ON windows FOR EACH ROW EXECUTE FUNCTION refuse()");
  }
  int64_t progressed = 0;
  std::string msg = test::error_of([&] { service::migrate_index(source, url, [&](int64_t d, int64_t) { progressed = d; }); });
  EXPECT_NE(msg.find("injected: no room for track " + std::to_string(late)), std::string::npos) << msg;
  EXPECT_GE(progressed, 128);  // batches were copied before the failure
  expect_empty(*store::open_store(url, OpenMode::ReadWrite));

  // SQLite, an existing empty index: the same with a SQLite trigger; the file stays, empty.
  const std::string existing = test::temp_dir() + "/migrate/midway-existing.db";
  { store::open_store(existing, OpenMode::ReadWrite); }
  sqlite_exec(existing, "CREATE TRIGGER refuse BEFORE INSERT ON windows WHEN NEW.track_id = " + std::to_string(late) +
                            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  msg = test::error_of([&] { service::migrate_index(source, existing); });
  EXPECT_NE(msg.find("injected failure"), std::string::npos) << msg;
  ASSERT_TRUE(fs::exists(existing));
  expect_empty(*store::open_store(existing, OpenMode::ReadOnly));

  // A damaged source (a late window's embedding cut short): a new SQLite file is removed again.
  const std::string damaged = test::temp_dir() + "/migrate/midway-damaged.db";
  fs::copy_file(source, damaged);
  sqlite_exec(damaged, "UPDATE windows SET embedding = substr(embedding, 1, 12) WHERE track_id = " + std::to_string(late) +
                           " AND embedding IS NOT NULL");
  const std::string fresh = test::temp_dir() + "/migrate/midway-new/copy.db";
  msg = test::error_of([&] { service::migrate_index(damaged, fresh); });
  EXPECT_NE(msg.find("embedding holds a blob of 12 bytes"), std::string::npos) << msg;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) EXPECT_FALSE(fs::exists(fresh + suffix)) << suffix;
  // ... and a PostgreSQL destination stays empty (the one that refused above, trigger dropped).
  store::pg::Connection(url).exec("DROP TRIGGER refuse ON windows");
  msg = test::error_of([&] { service::migrate_index(damaged, url); });
  EXPECT_NE(msg.find("embedding holds a blob of 12 bytes"), std::string::npos) << msg;
  expect_empty(*store::open_store(url, OpenMode::ReadOnly));
  // With the trigger gone, the intact source copies into the very same database.
  const auto ok = service::migrate_index(source, url);
  EXPECT_EQ(ok.tracks, static_cast<int64_t>(ids.size()));
  expect_same_index(*src, *store::open_store(url, OpenMode::ReadOnly));
}

TEST(Migrate, PasswordsNeverAppearInMessages) {
  const std::string source = test::temp_dir() + "/migrate/pw-source.db";
  {
    auto s = store::open_store(source, OpenMode::ReadWrite);
    fill(*s);
  }
  const std::string unreachable = "postgresql://clap:s3cret-pw@127.0.0.1:1/library";
  std::string msg = test::error_of([&] { service::migrate_index(source, unreachable); });
  EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cret-pw"), std::string::npos) << msg;
  msg = test::error_of([&] { service::migrate_index(unreachable, source + ".copy"); });
  EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cret-pw"), std::string::npos) << msg;
  // A refused (non-empty) server destination is named without its password.
  const std::string url = with_password(test::PostgresServer::shared().create_database());
  service::migrate_index(source, url);
  msg = test::error_of([&] { service::migrate_index(source, url); });
  EXPECT_NE(msg.find("not empty"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("s3cret-pw"), std::string::npos) << msg;
  EXPECT_EQ(store::display_location(url).find("s3cret-pw"), std::string::npos);
  EXPECT_EQ(store::display_location("/a/b.db"), "/a/b.db");
}

}  // namespace
}  // namespace clap
