// PostgresStore: the users' play queues and bookmarks (store.h PlayQueueRecord, BookmarkRecord),
// as SqliteStore keeps them (sqlite_play_queue.cpp).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/postgres_internal.h"
#include "store/postgres_store.h"
#include "store/user_data.h"

namespace clap::store {

namespace pg_impl {

std::vector<PlayQueueRecord> read_play_queues(pg::Connection& c, int64_t user_id) {
  std::vector<PlayQueueRecord> out;
  auto r = c.query("SELECT user_id, current_index, position_ms, changed_at, changed_by FROM play_queues "
                   "WHERE $1::bigint = 0 OR user_id = $1::bigint ORDER BY user_id",
                   pg::Params().add(user_id));
  for (int i = 0; i < r.rows(); ++i) {
    PlayQueueRecord q;
    q.user_id = r.int64(i, 0);
    q.current = r.int64(i, 1);
    q.position_ms = r.int64(i, 2);
    q.changed_at = r.int64(i, 3);
    q.changed_by = r.text(i, 4);
    out.push_back(q);
  }
  for (PlayQueueRecord& q : out) {
    auto e = c.query("SELECT track_id, content_hash, path FROM play_queue_entries WHERE user_id = $1::bigint ORDER BY position",
                     pg::Params().add(q.user_id));
    for (int i = 0; i < e.rows(); ++i) q.entries.push_back({e.int64(i, 0), e.text(i, 1), e.text(i, 2)});
  }
  return out;
}

std::vector<BookmarkRecord> read_bookmarks(pg::Connection& c, int64_t user_id) {
  std::vector<BookmarkRecord> out;
  auto r = c.query("SELECT user_id, track_id, content_hash, path, position_ms, comment, created_at, changed_at "
                   "FROM bookmarks WHERE $1::bigint = 0 OR user_id = $1::bigint ORDER BY user_id, changed_at DESC, track_id",
                   pg::Params().add(user_id));
  for (int i = 0; i < r.rows(); ++i) {
    BookmarkRecord b;
    b.user_id = r.int64(i, 0);
    b.song = {r.int64(i, 1), r.text(i, 2), r.text(i, 3)};
    b.position_ms = r.int64(i, 4);
    b.comment = r.text(i, 5);
    b.created_at = r.int64(i, 6);
    b.changed_at = r.int64(i, 7);
    out.push_back(b);
  }
  return out;
}

void write_play_queue(pg::Connection& c, const PlayQueueRecord& q) {
  c.query("DELETE FROM play_queue_entries WHERE user_id = $1::bigint", pg::Params().add(q.user_id));
  c.query("DELETE FROM play_queues WHERE user_id = $1::bigint", pg::Params().add(q.user_id));
  if (q.entries.empty()) return;
  c.query("INSERT INTO play_queues(user_id, current_index, position_ms, changed_at, changed_by) "
          "VALUES ($1::bigint, $2::bigint, $3::bigint, $4::bigint, $5)",
          pg::Params().add(q.user_id).add(q.current).add(q.position_ms).add(q.changed_at).add(q.changed_by));
  for (size_t i = 0; i < q.entries.size(); ++i)
    c.query("INSERT INTO play_queue_entries(user_id, position, track_id, content_hash, path) "
            "VALUES ($1::bigint, $2::integer, $3::bigint, $4, $5)",
            pg::Params()
                .add(q.user_id)
                .add(static_cast<int64_t>(i))
                .add(q.entries[i].track_id)
                .add(q.entries[i].content_hash)
                .add(q.entries[i].path));
}

void write_bookmark(pg::Connection& c, const BookmarkRecord& b) {
  c.query("INSERT INTO bookmarks(user_id, track_id, content_hash, path, position_ms, comment, created_at, changed_at) "
          "VALUES ($1::bigint, $2::bigint, $3, $4, $5::bigint, $6, $7::bigint, $8::bigint)",
          pg::Params()
              .add(b.user_id)
              .add(b.song.track_id)
              .add(b.song.content_hash)
              .add(b.song.path)
              .add(b.position_ms)
              .add(b.comment)
              .add(b.created_at)
              .add(b.changed_at));
}

}  // namespace pg_impl

using namespace pg_impl;

void PostgresStore::put_play_queue(const PlayQueueRecord& queue) {
  check_play_queue(queue);
  pg::Transaction tx(*c_);
  lock_user(*c_, queue.user_id);
  write_play_queue(*c_, queue);
  tx.commit();
}

std::optional<PlayQueueRecord> PostgresStore::play_queue(int64_t user_id) const {
  if (user_id <= 0) return std::nullopt;
  std::vector<PlayQueueRecord> q = read_play_queues(*c_, user_id);
  if (q.empty()) return std::nullopt;
  return q.front();
}

void PostgresStore::put_bookmark(const BookmarkRecord& bookmark) {
  check_bookmark(bookmark);
  pg::Transaction tx(*c_);
  lock_user(*c_, bookmark.user_id);
  // The replaced bookmark's creation time is kept here, inside the lock: read by the caller
  // before, another process's bookmark of the song could come between.
  BookmarkRecord b = bookmark;
  auto old = c_->query("DELETE FROM bookmarks WHERE user_id = $1::bigint AND track_id = $2::bigint RETURNING created_at",
                       pg::Params().add(bookmark.user_id).add(bookmark.song.track_id));
  for (int i = 0; i < old.rows(); ++i) b.created_at = i ? std::min(b.created_at, old.int64(i, 0)) : old.int64(i, 0);
  write_bookmark(*c_, b);
  tx.commit();
}

bool PostgresStore::remove_bookmark(int64_t user_id, int64_t track_id) {
  return c_->query("DELETE FROM bookmarks WHERE user_id = $1::bigint AND track_id = $2::bigint",
                   pg::Params().add(user_id).add(track_id))
             .affected() > 0;
}

std::vector<BookmarkRecord> PostgresStore::bookmarks(int64_t user_id) const {
  if (user_id <= 0) return {};
  return read_bookmarks(*c_, user_id);
}

}  // namespace clap::store
