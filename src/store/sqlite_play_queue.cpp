// SqliteStore: the users' play queues and bookmarks (store.h PlayQueueRecord, BookmarkRecord).
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/sqlite.h"
#include "store/sqlite_internal.h"
#include "store/sqlite_store.h"
#include "store/user_data.h"

namespace clap::store {

namespace sqlite_impl {

std::vector<PlayQueueRecord> read_play_queues(sqlite3* db, int64_t user_id) {
  std::vector<PlayQueueRecord> out;
  {
    sql::Stmt s(db, "SELECT user_id, current_index, position_ms, changed_at, changed_by FROM play_queues "
                    "WHERE ? = 0 OR user_id = ? ORDER BY user_id");
    s.bind(1, user_id).bind(2, user_id);
    while (s.step()) {
      PlayQueueRecord q;
      q.user_id = s.int64(0);
      q.current = s.int64(1);
      q.position_ms = s.int64(2);
      q.changed_at = s.int64(3);
      q.changed_by = s.text(4);
      out.push_back(q);
    }
  }
  sql::Stmt e(db, "SELECT track_id, content_hash, path FROM play_queue_entries WHERE user_id = ? ORDER BY position");
  for (PlayQueueRecord& q : out) {
    e.bind(1, q.user_id);
    while (e.step()) q.entries.push_back({e.int64(0), e.text(1), e.text(2)});
    e.reset();
  }
  return out;
}

std::vector<BookmarkRecord> read_bookmarks(sqlite3* db, int64_t user_id) {
  std::vector<BookmarkRecord> out;
  sql::Stmt s(db, "SELECT user_id, track_id, content_hash, path, position_ms, comment, created_at, changed_at "
                  "FROM bookmarks WHERE ? = 0 OR user_id = ? ORDER BY user_id, changed_at DESC, track_id");
  s.bind(1, user_id).bind(2, user_id);
  while (s.step()) {
    BookmarkRecord b;
    b.user_id = s.int64(0);
    b.song = {s.int64(1), s.text(2), s.text(3)};
    b.position_ms = s.int64(4);
    b.comment = s.text(5);
    b.created_at = s.int64(6);
    b.changed_at = s.int64(7);
    out.push_back(b);
  }
  return out;
}

void write_play_queue(sqlite3* db, const PlayQueueRecord& q) {
  sql::Stmt(db, "DELETE FROM play_queue_entries WHERE user_id = ?").bind(1, q.user_id).run();
  sql::Stmt(db, "DELETE FROM play_queues WHERE user_id = ?").bind(1, q.user_id).run();
  if (q.entries.empty()) return;
  sql::Stmt(db, "INSERT INTO play_queues(user_id, current_index, position_ms, changed_at, changed_by) VALUES (?, ?, ?, ?, ?)")
      .bind(1, q.user_id)
      .bind(2, q.current)
      .bind(3, q.position_ms)
      .bind(4, q.changed_at)
      .bind(5, q.changed_by)
      .run();
  sql::Stmt s(db, "INSERT INTO play_queue_entries(user_id, position, track_id, content_hash, path) VALUES (?, ?, ?, ?, ?)");
  for (size_t i = 0; i < q.entries.size(); ++i) {
    s.bind(1, q.user_id).bind(2, static_cast<int64_t>(i)).bind(3, q.entries[i].track_id);
    s.bind(4, q.entries[i].content_hash).bind(5, q.entries[i].path);
    s.run();
  }
}

void write_bookmark(sqlite3* db, const BookmarkRecord& b) {
  sql::Stmt(db, "INSERT INTO bookmarks(user_id, track_id, content_hash, path, position_ms, comment, created_at, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, b.user_id)
      .bind(2, b.song.track_id)
      .bind(3, b.song.content_hash)
      .bind(4, b.song.path)
      .bind(5, b.position_ms)
      .bind(6, b.comment)
      .bind(7, b.created_at)
      .bind(8, b.changed_at)
      .run();
}

}  // namespace sqlite_impl

using namespace sqlite_impl;

void SqliteStore::put_play_queue(const PlayQueueRecord& queue) {
  check_play_queue(queue);
  sql::Transaction tx(db_);
  write_play_queue(db_, queue);
  tx.commit();
}

std::optional<PlayQueueRecord> SqliteStore::play_queue(int64_t user_id) const {
  if (user_id <= 0) return std::nullopt;
  std::vector<PlayQueueRecord> q = read_play_queues(db_, user_id);
  if (q.empty()) return std::nullopt;
  return q.front();
}

void SqliteStore::put_bookmark(const BookmarkRecord& bookmark) {
  check_bookmark(bookmark);
  sql::Transaction tx(db_);
  BookmarkRecord b = bookmark;  // the replaced one's creation time is kept, read inside the write lock
  sql::Stmt old(db_, "SELECT MIN(created_at) FROM bookmarks WHERE user_id = ? AND track_id = ?");
  old.bind(1, bookmark.user_id).bind(2, bookmark.song.track_id);
  if (old.step() && !old.is_null(0)) b.created_at = old.int64(0);
  sql::Stmt(db_, "DELETE FROM bookmarks WHERE user_id = ? AND track_id = ?")
      .bind(1, bookmark.user_id)
      .bind(2, bookmark.song.track_id)
      .run();
  write_bookmark(db_, b);
  tx.commit();
}

bool SqliteStore::remove_bookmark(int64_t user_id, int64_t track_id) {
  sql::Transaction tx(db_);
  sql::Stmt(db_, "DELETE FROM bookmarks WHERE user_id = ? AND track_id = ?").bind(1, user_id).bind(2, track_id).run();
  const bool removed = sqlite3_changes(db_) > 0;
  tx.commit();
  return removed;
}

std::vector<BookmarkRecord> SqliteStore::bookmarks(int64_t user_id) const {
  if (user_id <= 0) return {};
  return read_bookmarks(db_, user_id);
}

}  // namespace clap::store
