// The play queue and bookmarks, per user (service/user_data.h): getPlayQueue, savePlayQueue, the
// indexBasedQueue extension's getPlayQueueByIndex and savePlayQueueByIndex, getBookmarks,
// createBookmark, deleteBookmark. Apps that see API 1.16.1 take the play queue (Subsonic 1.12.0)
// for granted and carry a queue between a phone and a desktop with it.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

#include "core/utf8.h"
#include "core/utc_time.h"
#include "server/subsonic.h"
#include "service/music_catalog.h"
#include "service/user_data.h"

namespace clap::server::subsonic {

namespace {

// The most songs a saved queue holds, as a playlist (subsonic_userdata.cpp): a whole library sent
// as a queue is written on every save.
constexpr size_t kMaxQueueSongs = 20000;
// A position in milliseconds: up to a year (a larger one is a wrong value, not a long song).
constexpr int64_t kMaxPositionMs = int64_t{366} * 24 * 3600 * 1000;
constexpr size_t kMaxCommentBytes = 10000;

// The song ids of a save (`id`, repeated, in order); `id=` alone is no songs.
std::vector<std::string> queue_ids(const Call& call) {
  std::vector<std::string> ids = call.all("id");
  if (ids.size() == 1 && ids.front().empty()) ids.clear();
  return ids;
}

// What a save checks, in the order every /rest/ endpoint follows: a required parameter missing
// first (10), then a value that cannot be used (10), then an id that names no song (70), then
// how the parameters fit together. An app that left out `current` is told that, not that one
// of its ids or its position is wrong (it was told the last when it sent position=1e30).
struct QueueSave {
  std::vector<const store::Track*> songs;
  int64_t position = 0;
  std::string client;
};

QueueSave read_queue_save(const Call& call, const std::vector<std::string>& ids) {
  QueueSave save;
  save.position = call.integer("position", 0, 0, kMaxPositionMs);
  save.client = stored_text("c", call.param("c"), kMaxClientNameBytes);
  if (ids.size() > kMaxQueueSongs)
    throw Failure{0, "a play queue holds at most " + std::to_string(kMaxQueueSongs) + " songs (got " +
                         std::to_string(ids.size()) + ")"};
  save.songs.reserve(ids.size());
  for (const std::string& id : ids) save.songs.push_back(&call.song(id));
  return save;
}

void store_queue(const Call& call, const QueueSave& save, int64_t current) {
  user_data(call).save_play_queue(save.songs, current, save.position, save.client, now_unix_seconds());
}

// savePlayQueue: `current` is a song id that must be in the queue (its first place there);
// required unless the call clears the queue (no id).
void save_play_queue(Call& call, ojson&) {
  const std::vector<std::string> ids = queue_ids(call);
  const std::string current_id = ids.empty() ? "" : call.required("current");
  const QueueSave save = read_queue_save(call, ids);
  int64_t current = 0;
  if (!ids.empty()) {
    const store::Track& playing = call.song(current_id);
    const auto it = std::find(save.songs.begin(), save.songs.end(), &playing);
    if (it == save.songs.end()) throw Failure{10, "parameter current: song " + current_id.substr(0, 80) + " is not in the queue"};
    current = it - save.songs.begin();
  }
  store_queue(call, save, current);
}

// savePlayQueueByIndex: `currentIndex` 0-based, required with songs and refused without (the
// extension's page: error 10 when it is not a position of the queue).
void save_play_queue_by_index(Call& call, ojson&) {
  const std::vector<std::string> ids = queue_ids(call);
  if (ids.empty()) {
    if (call.has("currentIndex")) throw Failure{10, "parameter currentIndex: must not be set when the queue is cleared (no id)"};
    store_queue(call, read_queue_save(call, ids), 0);
    return;
  }
  if (call.param("currentIndex").empty()) throw Failure{10, "required parameter is missing: currentIndex"};
  const int64_t last = static_cast<int64_t>(ids.size()) - 1;
  const int64_t current = call.integer("currentIndex", 0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (current < 0 || current > last)
    throw Failure{10, "parameter currentIndex: " + std::to_string(current) + " is not a position of the queue (0 to " +
                          std::to_string(last) + ")"};
  store_queue(call, read_queue_save(call, ids), current);
}

// The saved queue as getPlayQueue and getPlayQueueByIndex show it; nothing (no member) when the
// user saved none or none of its songs is in the library: an empty queue with a date would make
// an app offer to resume nothing (Sublime Music does).
void play_queue(Call& call, ojson& body, bool by_index) {
  const auto saved = user_data(call).play_queue();
  if (!saved) return;
  const service::ShownQueue shown = service::shown_queue(*saved, [&](int64_t id) -> const store::Track* {
    const store::Track* t = call.snap.track(id);
    return t && t->status == store::TrackStatus::Ok ? t : nullptr;
  });
  if (shown.songs.empty()) return;
  ojson q;
  if (by_index) q["currentIndex"] = shown.current;
  else q["current"] = service::MusicCatalog::song_id(shown.songs[static_cast<size_t>(shown.current)]->id);
  q["position"] = shown.position_ms;
  q["username"] = call.user.name;
  q["changed"] = date_time(saved->changed_at);
  q["changedBy"] = saved->changed_by;
  // Made as the answer is written: a queue of 20,000 songs takes a long answer's turn (H10S-2).
  const size_t count = shown.songs.size();
  q["entry"] = call.lazy_list(count, [&call, songs = shown.songs](size_t i) { return child(call, *songs[i]); });
  body[by_index ? "playQueueByIndex" : "playQueue"] = std::move(q);
}

void get_play_queue(Call& call, ojson& body) { play_queue(call, body, false); }
void get_play_queue_by_index(Call& call, ojson& body) { play_queue(call, body, true); }

// --- bookmarks -----------------------------------------------------------------------------------

// A user may bookmark every song of the library: the list is made as the answer is written, and
// a long one takes a long answer's turn (H10S-2: built as one tree, with 10,000-byte comments).
void get_bookmarks(Call& call, ojson& body) {
  std::vector<std::pair<store::BookmarkRecord, const store::Track*>> marks;
  for (store::BookmarkRecord& b : user_data(call).bookmarks()) {
    const store::Track* t = call.snap.track(b.song.track_id);
    if (!t || t->status != store::TrackStatus::Ok) continue;  // kept, unseen, until the song is back
    marks.emplace_back(std::move(b), t);
  }
  const size_t count = marks.size();
  body["bookmarks"] = ojson{{"bookmark", call.lazy_list(count, [&call, marks = std::move(marks)](size_t i) {
                               const auto& [b, t] = marks[i];
                               ojson j;
                               j["position"] = b.position_ms;
                               j["username"] = call.user.name;
                               if (!b.comment.empty()) j["comment"] = b.comment;
                               j["created"] = date_time(b.created_at);
                               j["changed"] = date_time(b.changed_at);
                               j["entry"] = child(call, *t);
                               return j;
                             })}};
}

void create_bookmark(Call& call, ojson&) {
  const std::string id = call.required("id");
  if (call.param("position").empty()) throw Failure{10, "required parameter is missing: position"};
  const int64_t position = call.integer("position", 0, 0, kMaxPositionMs);
  const std::string comment = stored_text("comment", call.param("comment"), kMaxCommentBytes, true);
  const store::Track& song = call.song(id);
  user_data(call).bookmark(song, position, comment, now_unix_seconds());
}

// Deleting a bookmark the user does not have succeeds: apps delete one when a song ends without
// asking whether it was kept.
void delete_bookmark(Call& call, ojson&) { user_data(call).remove_bookmark(call.song(call.required("id"))); }

}  // namespace

const std::vector<Endpoint>& queue_endpoints() {
  static const std::vector<Endpoint> table = {
      {"getPlayQueue", &get_play_queue},
      {"savePlayQueue", &save_play_queue},
      {"getPlayQueueByIndex", &get_play_queue_by_index},
      {"savePlayQueueByIndex", &save_play_queue_by_index},
      {"getBookmarks", &get_bookmarks},
      {"createBookmark", &create_bookmark},
      {"deleteBookmark", &delete_bookmark},
  };
  return table;
}

}  // namespace clap::server::subsonic
