#include "store/user_data.h"

#include <algorithm>

#include "core/error.h"

namespace clap::store {

std::string playlists_where(const PlaylistsOf& which, const char* public_true) {
  const std::string user = std::to_string(which.user_id);
  std::string where = which.owned_only ? "p.owner = " + user
                      : which.user_id == 0 ? "1 = 1"
                                           : "(p.owner = " + user + " OR " + public_true + ")";
  if (!which.comment_prefix.empty()) {
    // A literal: the prefix is the service's own mark, quoted all the same (' doubled).
    std::string quoted = "'";
    for (const char c : which.comment_prefix) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    quoted += "'";
    where += " AND substr(p.comment, 1, length(" + quoted + ")) = " + quoted;
  }
  return where;
}

void attach_entries(std::vector<PlaylistRecord>& playlists,
                    const std::function<void(const std::function<void(int64_t, const SongRef&)>&)>& read) {
  int64_t last_id = 0;
  PlaylistRecord* last = nullptr;
  read([&](int64_t playlist_id, const SongRef& entry) {
    if (playlist_id != last_id) {  // consecutive rows are of one playlist: looked up once each
      last_id = playlist_id;
      const auto it = std::lower_bound(playlists.begin(), playlists.end(), playlist_id,
                                       [](const PlaylistRecord& p, int64_t id) { return p.id < id; });
      last = it != playlists.end() && it->id == playlist_id ? &*it : nullptr;
    }
    if (last) last->entries.push_back(entry);
  });
}

std::string quote_name(const std::string& name) {
  std::string out = "'";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

void check_feedback(const FeedbackRecord& f, bool rating) {
  const char* what = rating ? "rating" : "star";
  if (f.kind == "song") {
    if (f.song.track_id <= 0) throw Error(std::string("a ") + what + " of a song needs its track id");
    if (!f.item_id.empty()) throw Error(std::string("a ") + what + " of a song names it by track id, not item id");
  } else if (f.kind == "album" || f.kind == "artist") {
    if (f.item_id.empty()) throw Error(std::string("a ") + what + " of an " + f.kind + " needs its id");
    if (f.song.track_id != 0) throw Error(std::string("a ") + what + " of an " + f.kind + " has no track id");
  } else {
    throw Error(std::string("a ") + what + " of '" + f.kind + "': not song, album or artist");
  }
  if (rating && (f.rating < 0 || f.rating > 5))
    throw Error("rating " + std::to_string(f.rating) + ": not between 0 (none) and 5");
}

void check_play(const PlayRecord& p) {
  if (p.song.track_id <= 0) throw Error("a play needs its track id");
  if (!(p.seconds_played >= 0)) throw Error("a play's seconds played must be 0 or more");
}

void check_playlist(const PlaylistRecord& p) {
  if (p.name.empty()) throw Error("a playlist needs a name");
  for (const SongRef& e : p.entries)
    if (e.track_id <= 0) throw Error("playlist " + quote_name(p.name) + ": an entry without a track id");
}

void check_play_queue(const PlayQueueRecord& q) {
  if (q.user_id <= 0) throw Error("a play queue needs its user");
  for (const SongRef& e : q.entries)
    if (e.track_id <= 0) throw Error("a play queue entry without a track id");
  if (!q.entries.empty() && (q.current < 0 || q.current >= static_cast<int64_t>(q.entries.size())))
    throw Error("play queue: current entry " + std::to_string(q.current) + " is not one of its " +
                std::to_string(q.entries.size()) + " entries");
  if (q.position_ms < 0) throw Error("play queue: a negative position");
}

void check_bookmark(const BookmarkRecord& b) {
  if (b.user_id <= 0) throw Error("a bookmark needs its user");
  if (b.song.track_id <= 0) throw Error("a bookmark needs its track id");
  if (b.position_ms < 0) throw Error("bookmark: a negative position");
}

namespace {

// The pieces of the conditions, with X standing for the table's row.
std::string hash_matches(const std::string& t, const std::string& x) {
  return "(" + x + ".content_hash <> '' AND " + t + ".content_hash = " + x + ".content_hash)";
}

std::string attached(const std::string& x) {
  return "(EXISTS (SELECT 1 FROM tracks a WHERE a.id = " + x + ".track_id AND " + hash_matches("a", x) +
         ") OR (EXISTS (SELECT 1 FROM tracks a WHERE a.id = " + x + ".track_id AND a.path = " + x +
         ".path) AND NOT EXISTS (SELECT 1 FROM tracks h WHERE " + hash_matches("h", x) + ")))";
}

}  // namespace

std::string reattach_sql(const SongRefTable& table) {
  const std::string x = table.name;
  // The track with the content hash at the same path first, then the lowest id with it.
  const std::string by_hash = "COALESCE((SELECT t.id FROM tracks t WHERE " + hash_matches("t", x) + " AND t.path = " + x +
                              ".path), (SELECT MIN(t.id) FROM tracks t WHERE " + hash_matches("t", x) + "))";
  const std::string by_path = "(SELECT t.id FROM tracks t WHERE t.path = " + x + ".path)";
  return "UPDATE " + x + " SET track_id = COALESCE(" + by_hash + ", " + by_path + ") WHERE " + table.songs_only +
         " AND NOT " + attached(x) + " AND COALESCE(" + by_hash + ", " + by_path + ") IS NOT NULL";
}

std::string refresh_sql(const SongRefTable& table) {
  const std::string x = table.name;
  const std::string differs = "(COALESCE(r.content_hash, '') <> " + x + ".content_hash OR r.path <> " + x + ".path)";
  return "UPDATE " + x + " SET content_hash = COALESCE((SELECT r.content_hash FROM tracks r WHERE r.id = " + x +
         ".track_id), ''), path = (SELECT r.path FROM tracks r WHERE r.id = " + x + ".track_id) WHERE " +
         table.songs_only + " AND " + attached(x) + " AND EXISTS (SELECT 1 FROM tracks r WHERE r.id = " + x +
         ".track_id AND " + differs + ")";
}

std::string misattached_sql(const SongRefTable& table) {
  const std::string x = table.name;
  return "SELECT " + x + ".track_id, " + x + ".content_hash, " + x + ".path, t.path, COUNT(*) FROM " + x +
         " JOIN tracks t ON t.id = " + x + ".track_id WHERE " + table.songs_only + " AND NOT " + attached(x) +
         " GROUP BY " + x + ".track_id, " + x + ".content_hash, " + x + ".path, t.path ORDER BY " + x + ".track_id";
}

std::string detach_sql(const SongRefTable& table, bool question_marks) {
  const std::string x = table.name;
  // Numbered in both (SQLite's ?N, PostgreSQL's $N): the new id comes first in the text, last in the binding.
  const char* const pg[] = {"$1::bigint", "$2", "$3", "$4::bigint"};
  const char* const lite[] = {"?1", "?2", "?3", "?4"};
  const auto p = [&](int n) -> std::string { return question_marks ? lite[n - 1] : pg[n - 1]; };
  std::string sql = "UPDATE " + x + " SET track_id = " + p(4) + " WHERE " + table.songs_only;
  sql += " AND track_id = " + p(1) + " AND content_hash = " + p(2) + " AND path = " + p(3);
  return sql + " AND NOT " + attached(x);
}

std::string highest_named_track_id_sql(bool with_retired) {
  std::string sql = "SELECT MAX(m) FROM (SELECT COALESCE(MAX(id), 0) AS m FROM tracks "
                    "UNION ALL SELECT COALESCE(MAX(id), 0) FROM kept_track_ids";
  if (with_retired) sql += " UNION ALL SELECT COALESCE(MAX(track_id), 0) FROM retired_tracks";
  for (const SongRefTable& table : kSongRefTables)
    sql += std::string(" UNION ALL SELECT COALESCE(MAX(track_id), 0) FROM ") + table.name + " WHERE " + table.songs_only;
  return sql + ") AS named";
}

}  // namespace clap::store
