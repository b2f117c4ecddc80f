// The users' play queues and bookmarks (service/user_data.h UserData::save_play_queue ...): what
// the Subsonic API's getPlayQueue/savePlayQueue, the indexBasedQueue extension and the bookmark
// endpoints keep, so that a queue moves between a phone and a desktop.
#include <algorithm>

#include "service/user_data.h"

namespace clap::service {

void UserData::save_play_queue(const std::vector<const store::Track*>& songs, int64_t current, int64_t position_ms,
                               const std::string& changed_by, int64_t at) {
  store::PlayQueueRecord q;
  q.user_id = user_;
  for (const store::Track* t : songs) q.entries.push_back(song_ref(*t));
  q.current = songs.empty() ? 0 : current;
  q.position_ms = songs.empty() ? 0 : position_ms;
  q.changed_at = at;
  q.changed_by = changed_by;
  connection_.with([&](Accounts&, store::Store& s) {
    s.put_play_queue(q);
    return 0;
  });
}

std::optional<store::PlayQueueRecord> UserData::play_queue() const {
  return connection_.with([&](Accounts&, store::Store& s) { return s.play_queue(user_); });
}

void UserData::bookmark(const store::Track& song, int64_t position_ms, const std::string& comment, int64_t at) {
  connection_.with([&](Accounts&, store::Store& s) {
    store::BookmarkRecord b;
    b.user_id = user_;
    b.song = song_ref(song);
    b.position_ms = position_ms;
    b.comment = comment;
    b.created_at = b.changed_at = at;  // the store keeps a replaced bookmark's created_at
    s.put_bookmark(b);
    return 0;
  });
}

bool UserData::remove_bookmark(const store::Track& song) {
  return connection_.with([&](Accounts&, store::Store& s) { return s.remove_bookmark(user_, song.id); });
}

std::vector<store::BookmarkRecord> UserData::bookmarks() const {
  return connection_.with([&](Accounts&, store::Store& s) { return s.bookmarks(user_); });
}

ShownQueue shown_queue(const store::PlayQueueRecord& queue, const std::function<const store::Track*(int64_t)>& track) {
  ShownQueue out;
  int64_t after = -1, before = -1;  // the shown index of the next song after the saved current one, the last before
  for (size_t i = 0; i < queue.entries.size(); ++i) {
    const store::Track* t = track(queue.entries[i].track_id);
    if (!t) continue;
    const auto at = static_cast<int64_t>(i), shown = static_cast<int64_t>(out.songs.size());
    if (at == queue.current) {
      out.current = shown;
      out.position_ms = queue.position_ms;
      after = shown;
    } else if (at > queue.current && after < 0) {
      after = shown;
    } else if (at < queue.current) {
      before = shown;
    }
    out.songs.push_back(t);
  }
  if (out.songs.empty()) return out;
  if (after < 0) after = std::max<int64_t>(before, 0);
  if (out.current != after) out.position_ms = 0;  // the saved song is gone: the one shown starts
  out.current = after;
  return out;
}

}  // namespace clap::service
