// The SQLite index store: schema, tracks with windows, moves, deletes, embeddings matrices,
// text cache, labels, generation counter, read-only access, default path.
#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include <limits>
#include <sqlite3.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "support/golden.h"

namespace clap::store {
namespace {

namespace fs = std::filesystem;

constexpr int kDim = 4;

ModelIdentity identity() {
  ModelIdentity m;
  m.id = "org/model";
  m.revision = "0123456789abcdef0123456789abcdef01234567";
  m.config_hash = std::string(64, 'a');
  m.dim = kDim;
  return m;
}

std::vector<float> unit(int axis) {
  std::vector<float> v(kDim, 0.0f);
  v[axis % kDim] = 1.0f;
  return v;
}

Track track(const std::string& path) {
  Track t;
  t.path = path;
  t.size = 1000;
  t.mtime_ns = 123456789;
  t.ctime_ns = 987654321;
  t.content_hash = std::string(64, 'b');
  t.duration_s = 12.5;
  t.title = "Title";
  t.artist = "Artist";
  t.album = "Album";
  t.genre = "Jazz";
  t.date = "1999";
  t.track_no = 3;
  return t;
}

std::vector<WindowRecord> windows(int n, int silent_at = -1) {
  std::vector<WindowRecord> out;
  for (int i = 0; i < n; ++i) {
    WindowRecord w;
    w.idx = i;
    w.start_s = 5.0 * i;
    w.end_s = 5.0 * i + 10;
    w.silent = i == silent_at;
    w.loudness_dbfs = w.silent ? -90 : -20;
    if (!w.silent) w.embedding = unit(i);
    out.push_back(w);
  }
  return out;
}

std::string db_path() { return test::temp_dir() + "/sub/dir/library.db"; }

// The store hides its database handle: tests look at the file through a connection of their own.
int64_t scalar(const Store& s, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(s.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sql;
  int64_t v = -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

std::string text_scalar(const Store& s, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(s.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sql;
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW) v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

TEST(Store, CreatesSchemaWithWalAndForeignKeys) {
  SqliteStore s = SqliteStore::open(db_path());
  EXPECT_EQ(s.schema_version(), SqliteStore::current_schema_version());
  EXPECT_EQ(text_scalar(s, "PRAGMA journal_mode"), "wal");  // persistent in the file
  EXPECT_FALSE(s.model());
  EXPECT_TRUE(s.check().empty());
  // Re-opening an up-to-date database migrates nothing and keeps the data.
  s.set_model(identity());
  SqliteStore again = SqliteStore::open(db_path());
  ASSERT_TRUE(again.model());
  EXPECT_EQ(again.model()->id, "org/model");
  EXPECT_EQ(again.model()->dim, kDim);
  EXPECT_DOUBLE_EQ(again.model()->window_s, 10);
  EXPECT_DOUBLE_EQ(again.model()->silence_db, -60);
}

TEST(Store, AnotherProgramsDatabaseIsLeftUntouched) {
  const std::string path = test::temp_dir() + "/photos.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE photos(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos(name) VALUES ('a')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const auto before = std::filesystem::file_size(path);
  try {
    SqliteStore::open(path);
    FAIL() << "a foreign database was opened for writing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another program's database (tables: photos)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SqliteStore::open_readonly(path), Error);
  EXPECT_EQ(std::filesystem::file_size(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));  // journal mode not switched
  // A clapsearch index carries its application id in the SQLite header.
  SqliteStore s = SqliteStore::open(db_path());
  EXPECT_EQ(text_scalar(s, "PRAGMA application_id"), std::to_string(0x434C4150));
}

TEST(Store, TrackWithWindowsRoundTrips) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(2);
  const int64_t id = s.put_track(track("/music/a.flac"), windows(3, 1), emb.data());
  auto t = s.track(id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/music/a.flac");
  EXPECT_EQ(t->size, 1000);
  EXPECT_EQ(t->mtime_ns, 123456789);
  EXPECT_EQ(t->title, "Title");
  EXPECT_EQ(t->artist, "Artist");
  EXPECT_EQ(t->album, "Album");
  EXPECT_EQ(t->genre, "Jazz");
  EXPECT_EQ(t->date, "1999");
  EXPECT_EQ(t->track_no, 3);
  EXPECT_EQ(t->status, TrackStatus::Ok);
  EXPECT_EQ(t->window_count, 3);
  EXPECT_GT(t->indexed_at, 0);
  EXPECT_EQ(s.track_by_path("/music/a.flac")->id, id);
  EXPECT_FALSE(s.track_by_path("/music/none.flac"));

  const auto ws = s.windows(id);
  ASSERT_EQ(ws.size(), 3u);
  EXPECT_TRUE(ws[1].silent);
  EXPECT_TRUE(ws[1].embedding.empty());
  EXPECT_EQ(ws[2].embedding, unit(2));
  EXPECT_DOUBLE_EQ(ws[2].start_s, 10);
  EXPECT_DOUBLE_EQ(ws[2].end_s, 20);

  const WindowTable table = s.window_embeddings();  // non-silent only
  EXPECT_EQ(table.dim, kDim);
  ASSERT_EQ(table.size(), 2);
  EXPECT_EQ(table.track_ids, (std::vector<int64_t>{id, id}));
  EXPECT_EQ(table.starts, (std::vector<double>{0, 10}));
  EXPECT_EQ(std::vector<float>(table.embeddings.begin() + kDim, table.embeddings.end()), unit(2));
  const Embeddings tracks = s.track_embeddings();
  EXPECT_EQ(tracks.ids, std::vector<int64_t>{id});
  EXPECT_EQ(tracks.data, emb);
  EXPECT_TRUE(s.check().empty());

  // Replacing by path keeps the id and replaces the windows.
  const int64_t again = s.put_track(track("/music/a.flac"), windows(1), emb.data());
  EXPECT_EQ(again, id);
  EXPECT_EQ(s.windows(id).size(), 1u);
  EXPECT_EQ(s.counts().windows, 1);
}

// A library whose meta says dim 0 holds empty embedding BLOBs; they read as empty (fuzz_store
// confirmed memcpy was handed SQLite's null buffer for an empty BLOB: undefined behaviour).
// Empty embedding BLOBs never reach memcpy as SQLite's null buffer (UBSan, fuzz_store), and an
// index whose dim is 0 is named damaged with the way out (R9C-2), whatever is read first.
TEST(Store, EmptyEmbeddingBlobsReadAsEmpty) {
  {
    SqliteStore s = SqliteStore::open(db_path());
    s.set_model(identity());
    const auto emb = unit(0);
    s.put_track(track("/music/a.flac"), windows(2, -1), emb.data());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = 0 WHERE key = 'dim'; UPDATE windows SET embedding = X''; "
                             "UPDATE tracks SET embedding = X''",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  SqliteStore r = SqliteStore::open_readonly(db_path());
  const auto damaged = [](const auto& read) {
    try {
      read();
      return std::string("no error");
    } catch (const DamagedIndex& e) {
      return std::string(e.what());
    }
  };
  for (const std::string& what : {damaged([&] { r.model(); }), damaged([&] { r.track_embeddings(); }),
                                  damaged([&] { r.window_embeddings(); })}) {
    EXPECT_NE(what.find("the index is damaged: its dim is 0"), std::string::npos) << what;
    EXPECT_NE(what.find("--rebuild"), std::string::npos) << what;
  }
}

// A meta value holding a NUL byte (hand-edited: `UPDATE meta SET value = x'00'`): the message
// was cut at it, "...: the index is damaged: its dim is " with neither the reason nor the way out
// (hostile pass 14, H14C-3). The NUL is shown escaped and the rest follows.
TEST(Store, AMetaValueHoldingANulIsNamedWhole) {
  {
    SqliteStore s = SqliteStore::open(db_path());
    s.set_model(identity());
  }
  for (const std::string key : {"dim", "hop_s", "window_s"}) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, ("UPDATE meta SET value = CAST(x'610062' AS TEXT) WHERE key = '" + key + "'").c_str(), nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    std::string what = "no error";
    try {
      SqliteStore::open_readonly(db_path()).model();
    } catch (const DamagedIndex& e) {
      what = e.what();  // as every front end reads it: a C string
    }
    EXPECT_NE(what.find("the index is damaged: its " + key + " is a\\x00b ("), std::string::npos) << what;
    EXPECT_NE(what.find("--rebuild"), std::string::npos) << what;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);  // back to a sound value for the next key
    ASSERT_EQ(sqlite3_exec(db, ("UPDATE meta SET value = 5 WHERE key = '" + key + "'").c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
}

TEST(Store, ErrorsSilentCountsAndDeletesCascade) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(0);
  const int64_t a = s.put_track(track("/m/a.mp3"), windows(2), emb.data());
  Track bad = track("/m/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "not audio";
  bad.duration_s = 0;
  s.put_track(bad, {}, nullptr);
  Track quiet = track("/m/quiet.wav");
  quiet.status = TrackStatus::Error;
  quiet.silent = true;
  quiet.error = "silent";
  s.put_track(quiet, windows(1, 0), nullptr);

  Counts c = s.counts();
  EXPECT_EQ(c.tracks, 3);
  EXPECT_EQ(c.ok, 1);
  EXPECT_EQ(c.errors, 2);
  EXPECT_EQ(c.silent_tracks, 1);
  EXPECT_EQ(c.windows, 3);
  EXPECT_EQ(c.silent_windows, 1);
  EXPECT_DOUBLE_EQ(c.audio_seconds, 12.5);  // ok tracks only
  const auto errs = s.errors();
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].path, "/m/bad.mp3");
  EXPECT_EQ(errs[0].reason, "not audio");
  EXPECT_EQ(s.track_embeddings().size(), 1);
  EXPECT_EQ(s.window_embeddings().size(), 2);  // error tracks' windows are not searched
  EXPECT_TRUE(s.check().empty());

  s.put_labels({{a, "jazz", 0.9f}, {a, "rock", 0.1f}});
  s.remove_tracks({a});
  EXPECT_EQ(s.counts().windows, 1);
  EXPECT_TRUE(s.all_labels().empty());
  EXPECT_EQ(scalar(s, "SELECT COUNT(*) FROM windows WHERE track_id NOT IN (SELECT id FROM tracks)"), 0);
}

TEST(Store, MoveKeepsEmbeddingsAndId) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(1);
  const int64_t id = s.put_track(track("/m/old.flac"), windows(2), emb.data());
  const auto before = s.windows(id);
  s.move_track(id, "/m/new/place.flac", 1000, 5, 6);
  EXPECT_FALSE(s.track_by_path("/m/old.flac"));
  auto t = s.track_by_path("/m/new/place.flac");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->id, id);
  EXPECT_EQ(t->mtime_ns, 5);
  const auto after = s.windows(id);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].embedding, before[i].embedding);
  EXPECT_EQ(s.track_embeddings().data, emb);
  EXPECT_THROW(s.move_track(99999, "/x", 1, 1, 1), Error);
}

TEST(Store, RetiredTracksAreRestoredBitForBitAndPurged) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(2);
  Track t = track("/m/drive/song.flac");
  t.content_hash = std::string(64, 'c');
  const int64_t id = s.put_track(t, windows(3, 1), emb.data());
  const auto before = s.windows(id);
  Track bad = track("/m/drive/bad.mp3");
  bad.status = TrackStatus::Error;
  bad.error = "not audio";
  const int64_t bad_id = s.put_track(bad, {}, nullptr);
  s.retire_tracks({id, bad_id});
  EXPECT_EQ(s.counts().tracks, 0);
  EXPECT_EQ(s.counts().windows, 0);
  const auto retired = s.retired_tracks();
  ASSERT_EQ(retired.size(), 1u);  // the error track had nothing worth keeping
  EXPECT_EQ(retired[0].path, "/m/drive/song.flac");
  EXPECT_EQ(retired[0].content_hash, t.content_hash);

  const int64_t back = s.restore_track(retired[0].id, "/m/other/song.flac", 1000, 7, 8);
  EXPECT_EQ(back, id);  // its old id was free
  const auto r = s.track(back);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/m/other/song.flac");
  EXPECT_EQ(r->mtime_ns, 7);
  EXPECT_EQ(r->title, t.title);
  const auto after = s.windows(back);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].idx, before[i].idx);
    EXPECT_EQ(after[i].silent, before[i].silent);
    EXPECT_EQ(after[i].embedding, before[i].embedding);
  }
  EXPECT_EQ(s.track_embeddings().data, emb);
  EXPECT_TRUE(s.retired_tracks().empty());
  EXPECT_TRUE(s.check().empty());

  // Purged after the retention time; a wipe forgets them too.
  s.retire_tracks({back});
  EXPECT_EQ(s.purge_retired(0), 0);
  EXPECT_EQ(s.purge_retired(std::numeric_limits<int64_t>::max()), 1);
  EXPECT_TRUE(s.retired_tracks().empty());
  EXPECT_EQ(scalar(s, "SELECT COUNT(*) FROM retired_windows"), 0);
}

TEST(Store, GenerationCountsWriteTransactions) {
  SqliteStore s = SqliteStore::open(db_path());
  const int64_t g0 = s.generation();
  s.set_model(identity());
  const int64_t g1 = s.generation();
  EXPECT_GT(g1, g0);
  const auto emb = unit(0);
  s.put_track(track("/m/a.mp3"), windows(1), emb.data());
  const int64_t g2 = s.generation();
  EXPECT_GT(g2, g1);
  (void)s.tracks();
  (void)s.counts();
  EXPECT_EQ(s.generation(), g2);  // reads do not count
  s.put_cached_texts({{identity().model_key(), "jazz", unit(3)}});
  EXPECT_GT(s.generation(), g2);
}

TEST(Store, TextCacheIsScopedByModel) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const std::string key = identity().model_key();
  EXPECT_FALSE(s.cached_text(key, "calm piano"));
  s.put_cached_texts({{key, "calm piano", unit(1)}});
  ASSERT_TRUE(s.cached_text(key, "calm piano"));
  EXPECT_EQ(*s.cached_text(key, "calm piano"), unit(1));
  EXPECT_FALSE(s.cached_text("other@model#x", "calm piano"));
}

TEST(Store, LabelsReplacePerTrack) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(0);
  const int64_t a = s.put_track(track("/m/a.mp3"), windows(1), emb.data());
  const int64_t b = s.put_track(track("/m/b.mp3"), windows(1), emb.data());
  s.put_labels({{a, "jazz", 0.2f}, {a, "rock", 0.7f}, {b, "pop", 0.5f}});
  auto la = s.labels(a);
  ASSERT_EQ(la.size(), 2u);
  EXPECT_EQ(la[0].label, "rock");  // by score
  s.put_labels({{a, "blues", 0.9f}});
  la = s.labels(a);
  ASSERT_EQ(la.size(), 1u);
  EXPECT_EQ(la[0].label, "blues");
  EXPECT_EQ(s.labels(b).size(), 1u);
  EXPECT_EQ(s.all_labels().size(), 2u);
  s.clear_labels();
  EXPECT_TRUE(s.all_labels().empty());
}

TEST(Store, WipeAndIdentityMismatch) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(0);
  s.put_track(track("/m/a.mp3"), windows(2), emb.data());
  s.add_roots({"/m"});
  ModelIdentity other = identity();
  EXPECT_EQ(identity().mismatch(other), "");
  other.window_s = 5;
  EXPECT_NE(identity().mismatch(other).find("window 10 s vs 5 s"), std::string::npos);
  other = identity();
  other.id = "org/other";
  EXPECT_NE(identity().mismatch(other).find("model org/model vs org/other"), std::string::npos);
  s.wipe(other);
  EXPECT_EQ(s.counts().tracks, 0);
  EXPECT_EQ(s.counts().windows, 0);
  EXPECT_TRUE(s.roots().empty());
  EXPECT_EQ(s.model()->id, "org/other");
}

TEST(Store, ReadOnlyOpen) {
  const std::string path = db_path();
  EXPECT_THROW(SqliteStore::open_readonly(path), Error);  // nothing there yet
  {
    SqliteStore s = SqliteStore::open(path);
    s.set_model(identity());
    const auto emb = unit(0);
    s.put_track(track("/m/a.mp3"), windows(1), emb.data());
  }
  SqliteStore r = SqliteStore::open_readonly(path);
  EXPECT_TRUE(r.read_only());
  EXPECT_EQ(r.counts().tracks, 1);
  EXPECT_THROW(r.set_model(identity()), Error);
  // A file that is not a database is refused with a clear message.
  const std::string junk = test::temp_dir() + "/junk.db";
  std::ofstream(junk) << "this is not sqlite, just text long enough to look like a header......";
  EXPECT_THROW(SqliteStore::open(junk), Error);
  EXPECT_THROW(SqliteStore::open_readonly(junk), Error);
}

// Issue 53: the indexer lock was "<path as given>.lock": an index reached through a symbolic link
// from another folder and by its own path took two locks, and two `index` runs went on at once.
TEST(Store, OneIndexerAtATimeThroughALinkToo) {
  const std::string path = db_path();
  const std::string link = test::temp_dir() + "/elsewhere/library.db";
  std::filesystem::create_directories(std::filesystem::path(link).parent_path());
  SqliteStore by_path = SqliteStore::open(path);
  std::filesystem::create_symlink(path, link);
  SqliteStore by_link = SqliteStore::open(link);
  {
    const auto lock = by_link.lock_indexer();
    const std::string msg = test::error_of([&] { by_path.lock_indexer(); });
    EXPECT_NE(msg.find("another `clapsearch index`"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(by_path.lock_indexer());
  EXPECT_FALSE(std::filesystem::exists(link + ".lock"));
}

// H14S-1's sibling in one process (a script opening the index by two names): SQLite keeps the
// -wal by name, so a file opened by two of its hard links had two logs, and the checkpoints of
// each wrote over the other's changes. A symbolic link to it stays one name.
TEST(Store, AFileOpenByAnotherOfItsHardLinksIsRefused) {
  const std::string path = db_path();
  const std::string link = test::temp_dir() + "/elsewhere/hard.db", symlink = test::temp_dir() + "/elsewhere/sym.db";
  std::filesystem::create_directories(std::filesystem::path(link).parent_path());
  {
    SqliteStore first = SqliteStore::open(path);
    std::filesystem::create_hard_link(path, link);
    const std::string msg = test::error_of([&] { SqliteStore::open(link); });
    EXPECT_NE(msg.find("open by another name (" + path + "; a hard link or a bind mount"), std::string::npos) << msg;
    std::filesystem::create_symlink(path, symlink);
    EXPECT_NO_THROW(SqliteStore::open(symlink));
  }
  EXPECT_NO_THROW(SqliteStore::open(link));  // the other name closed
}

// H15S-1's sibling in one process: a bind mount of the file is another name of a file with one
// link, which the refusal did not look at (SQLite refused the second name itself, as "disk I/O
// error", naming no reason).
TEST(Store, AFileOpenByABindMountOfItIsRefused) {
  const std::string path = db_path(), mount_point = test::temp_dir() + "/elsewhere/bound.db";
  std::filesystem::create_directories(std::filesystem::path(mount_point).parent_path());
  std::ofstream{mount_point};
  {
    SqliteStore first = SqliteStore::open(path);
    if (::mount(path.c_str(), mount_point.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      GTEST_SKIP() << "this test needs to make a bind mount (root)";
    }
    const std::string msg = test::error_of([&] { SqliteStore::open(mount_point); });
    EXPECT_NE(msg.find("open by another name (" + path + "; a hard link or a bind mount"), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(SqliteStore::open(mount_point));  // the other name closed
  EXPECT_EQ(::umount2(mount_point.c_str(), MNT_DETACH), 0);
}

// Every name is checked since H15S-1, and another process opening the index by this very name
// locks the file's SHARED bytes a moment before the -shm's DMS byte (SQLite's order at its first
// read): a check in that moment called it "open by another name", so two processes opening one
// index at once could refuse each other. A child process here holds that moment for 300 ms (the
// file's lock, then the -shm's); the open waits it out and succeeds. A lock that stays is refused
// as before (AFileOpenByAnotherOfItsHardLinksIsRefused, the bind mount above).
TEST(Store, AProcessOpeningTheSameNameAtOnceIsNotAnotherName) {
  const std::string path = db_path();
  { SqliteStore made = SqliteStore::open(path); }
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // only system calls from here: the parent has threads
    const auto lock = [](int fd, off_t start, off_t length) {
      struct flock l {};
      l.l_type = F_RDLCK;
      l.l_whence = SEEK_SET;
      l.l_start = start;
      l.l_len = length;
      return ::fcntl(fd, F_SETLK, &l) == 0;
    };
    const int file = ::open(path.c_str(), O_RDWR);
    if (file < 0 || !lock(file, 0x40000002, 510)) ::_exit(2);  // SQLite's SHARED bytes
    if (::write(ready[1], "f", 1) != 1) ::_exit(3);
    ::usleep(300 * 1000);
    const int shm = ::open((path + "-shm").c_str(), O_RDWR | O_CREAT, 0644);
    if (shm < 0 || !lock(shm, 128, 1)) ::_exit(4);  // the -shm's DMS byte
    ::usleep(3000 * 1000);
    ::_exit(0);
  }
  ::close(ready[1]);
  char got = 0;
  ASSERT_EQ(::read(ready[0], &got, 1), 1);
  ::close(ready[0]);
  const std::string msg = test::error_of([&] { SqliteStore::open(path).counts(); });
  EXPECT_EQ(msg, "") << "a process opening the same name at the same moment";
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the child held its locks until the end (exit " << WEXITSTATUS(status) << ")";
}

// Hostile pass 15, R15C-1: a symbolic link at the index's -wal (SQLite opens its own files with
// O_NOFOLLOW) failed the open as "cannot open the index: it cannot be written".
TEST(Store, ALinkAtTheWriteAheadLogsNameIsNamed) {
  const std::string path = db_path();
  { SqliteStore made = SqliteStore::open(path); }
  std::ofstream(test::temp_dir() + "/elsewhere.txt") << "the user's file\n";
  std::filesystem::create_symlink(test::temp_dir() + "/elsewhere.txt", path + "-wal");
  const std::string msg = test::error_of([&] { SqliteStore::open(path).counts(); });
  EXPECT_NE(msg.find("a symbolic link is at " + path + "-wal"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("cannot be written"), std::string::npos) << msg;
  std::ifstream kept(test::temp_dir() + "/elsewhere.txt");
  std::string line;
  std::getline(kept, line);
  EXPECT_EQ(line, "the user's file");
}

TEST(Store, DefaultPathFollowsEnvironment) {
  const char* keep_db = std::getenv("CLAPSEARCH_DB");
  const char* keep_xdg = std::getenv("XDG_DATA_HOME");
  const char* keep_home = std::getenv("HOME");
  const std::string old_db = keep_db ? keep_db : "", old_xdg = keep_xdg ? keep_xdg : "", old_home = keep_home ? keep_home : "";
  setenv("CLAPSEARCH_DB", "/x/lib.db", 1);
  EXPECT_EQ(default_db_path(), "/x/lib.db");
  unsetenv("CLAPSEARCH_DB");
  setenv("XDG_DATA_HOME", "/data", 1);
  EXPECT_EQ(default_db_path(), "/data/clapsearch/library.db");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(default_db_path(), "/home/u/.local/share/clapsearch/library.db");
  keep_db ? setenv("CLAPSEARCH_DB", old_db.c_str(), 1) : unsetenv("CLAPSEARCH_DB");
  keep_xdg ? setenv("XDG_DATA_HOME", old_xdg.c_str(), 1) : unsetenv("XDG_DATA_HOME");
  keep_home ? setenv("HOME", old_home.c_str(), 1) : unsetenv("HOME");
}

}  // namespace
}  // namespace clap::store

namespace clap::store {
namespace {

// Embedding sets (issue 37): another model's embeddings kept beside the active set's, their
// coverage, the one-transaction switch and dropping.
TEST(StoreSets, BuiltBesideSwitchedAndDropped) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(0);
  const int64_t a = s.put_track(track("/m/a.mp3"), windows(3, /*silent_at=*/1), emb.data());  // 2 searched windows
  const int64_t b = s.put_track(track("/m/b.mp3"), windows(2), emb.data());
  ASSERT_EQ(s.embedding_sets().size(), 1u);
  EXPECT_TRUE(s.embedding_sets()[0].active);
  EXPECT_EQ(s.embedding_sets()[0].windows, 4);

  ModelIdentity other = identity();
  other.id = "org/other";
  other.dim = 8;
  const int64_t set = s.add_embedding_set(other);
  const std::vector<float> wide(8, 0.5f);
  auto win = [&](int idx) {
    WindowRecord w;
    w.idx = idx;
    w.embedding = wide;
    return w;
  };
  s.add_set_windows(set, a, {win(0)}, wide.data());
  // Only stored non-silent windows, of this set's size, once.
  EXPECT_NE(test::error_of([&] { s.add_set_windows(set, a, {win(1)}, wide.data()); }).find("not a stored non-silent window"),
            std::string::npos);
  WindowRecord narrow = win(2);
  narrow.embedding.resize(4);
  EXPECT_NE(test::error_of([&] { s.add_set_windows(set, a, {narrow}, wide.data()); }).find("has 4 floats, not 8"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { s.add_set_windows(set, a, {win(0)}, wide.data()); }), "");
  EmbeddingSet e = s.embedding_sets().at(1);
  EXPECT_EQ(e.covered_windows, 1);
  EXPECT_EQ(e.covered_tracks, 0);
  EXPECT_FALSE(e.complete());
  const std::vector<SetTrack> work = s.set_tracks(set);
  ASSERT_EQ(work.size(), 2u);
  EXPECT_EQ(work[0].stored, (std::vector<int>{0, 2}));
  EXPECT_EQ(work[0].held, (std::vector<int>{0}));
  s.add_set_windows(set, a, {win(2)}, wide.data());
  s.add_set_windows(set, b, {win(0), win(1)}, wide.data());
  e = s.embedding_sets().at(1);
  EXPECT_TRUE(e.complete());
  EXPECT_EQ(s.set_windows(set, b).size(), 2u);

  // A track indexed again loses its place in the inactive set.
  s.put_track(track("/m/b.mp3"), windows(2), emb.data());
  EXPECT_EQ(s.embedding_sets().at(1).covered_tracks, 1);
  s.add_set_windows(set, b, {win(0), win(1)}, wide.data());

  // The switch: one transaction; readers cannot follow it by changes. The speech scores were the
  // old model's (index/speech.h): cleared, for the next index run to compute.
  s.put_speech({{a, 0.75}});
  const int64_t g = s.library_generation();
  EXPECT_NE(test::error_of([&] { s.activate_set(1); }).find("is the active one"), std::string::npos);
  s.activate_set(set);
  EXPECT_FALSE(s.track(a)->has_speech());
  EXPECT_EQ(s.tracks_without_speech().size(), 2);
  EXPECT_EQ(s.model()->id, "org/other");
  EXPECT_EQ(s.model()->dim, 8);
  EXPECT_FALSE(s.changes_since(g).has_value());
  const WindowTable t = s.window_embeddings();
  EXPECT_EQ(t.dim, 8);
  EXPECT_EQ(t.size(), 4);
  EXPECT_EQ(s.track_embeddings().dim, 8);
  EXPECT_TRUE(s.check().empty());
  std::vector<EmbeddingSet> sets = s.embedding_sets();
  EXPECT_FALSE(sets[0].active);
  EXPECT_TRUE(sets[0].complete());  // the old set, whole
  EXPECT_TRUE(sets[1].active);

  // Dropping: not the active set, not an unknown one.
  EXPECT_NE(test::error_of([&] { s.drop_set(set); }).find("is the active one"), std::string::npos);
  EXPECT_NE(test::error_of([&] { s.drop_set(42); }).find("no embedding set 42"), std::string::npos);
  s.drop_set(1);
  EXPECT_EQ(s.embedding_sets().size(), 1u);
  EXPECT_EQ(scalar(s, "SELECT COUNT(*) FROM set_windows"), 0);
  EXPECT_EQ(scalar(s, "SELECT COUNT(*) FROM set_tracks"), 0);
}

TEST(StoreSets, SwitchingToAnIncompleteSetLeavesWhatItLacksToTheNextRun) {
  SqliteStore s = SqliteStore::open(db_path());
  s.set_model(identity());
  const auto emb = unit(0);
  const int64_t a = s.put_track(track("/m/a.mp3"), windows(3), emb.data());
  s.put_track(track("/m/b.mp3"), windows(2), emb.data());
  ModelIdentity other = identity();
  other.id = "org/other";
  const int64_t set = s.add_embedding_set(other);
  WindowRecord w;
  w.idx = 1;
  w.embedding = unit(3);
  s.add_set_windows(set, a, {w}, unit(3).data());
  s.activate_set(set);
  // a keeps its one window of the new set; b none: both partly indexed, b not searchable.
  EXPECT_EQ(s.window_embeddings().size(), 1);
  EXPECT_EQ(s.track_embeddings().ids, (std::vector<int64_t>{a}));
  const std::vector<PartialTrack> partial = s.partial_tracks();
  ASSERT_EQ(partial.size(), 2u);
  EXPECT_EQ(partial[0].present, (std::vector<int>{1}));
  EXPECT_TRUE(partial[1].present.empty());
}

}  // namespace
}  // namespace clap::store
