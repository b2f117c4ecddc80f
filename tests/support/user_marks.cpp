#include "support/user_marks.h"

#include <stdexcept>

#include "store/store.h"

namespace clap::test {

std::map<std::string, int64_t> ids_by_path(const std::string& location) {
  std::map<std::string, int64_t> out;
  for (const store::FileState& f : store::open_store(location, store::OpenMode::ReadOnly)->file_states()) out[f.path] = f.id;
  return out;
}

UserMarks add_user_marks(const std::string& location, const std::string& name, const MarkedSongs& songs) {
  auto s = store::open_store(location, store::OpenMode::ReadWrite);
  const auto ref = [&](int64_t id) {
    const auto t = s->track(id);
    if (!t) throw std::runtime_error("add_user_marks: no track " + std::to_string(id));
    return store::SongRef{t->id, t->content_hash, t->path};
  };
  store::UserRecord u;
  u.name = name;
  u.password_encrypted = "v1:00";
  u.created_at = 1;
  UserMarks m;
  m.user = s->add_user(u);
  const auto feedback = [&](int64_t id) {
    store::FeedbackRecord f;
    f.user_id = m.user;
    f.kind = "song";
    f.song = ref(id);
    f.at = 2;
    return f;
  };
  if (songs.starred) s->put_star(feedback(songs.starred));
  if (songs.rated) {
    store::FeedbackRecord rating = feedback(songs.rated);
    rating.rating = 4;
    s->put_rating(rating);
  }
  if (songs.played) {
    store::PlayRecord play;
    play.user_id = m.user;
    play.song = ref(songs.played);
    play.played_at = 3;
    play.source = "subsonic";
    s->add_play(play);
  }
  if (songs.listed) {
    store::PlaylistRecord pl;
    pl.owner = m.user;
    pl.name = "marks";
    pl.created_at = pl.changed_at = 4;
    pl.entries = {ref(songs.listed)};
    m.playlist = s->put_playlist(pl);
  }
  if (songs.bookmarked) {
    store::BookmarkRecord b;
    b.user_id = m.user;
    b.song = ref(songs.bookmarked);
    b.position_ms = 5000;
    b.created_at = b.changed_at = 5;
    s->put_bookmark(b);
  }
  if (songs.queued) {
    store::PlayQueueRecord queue;
    queue.user_id = m.user;
    queue.entries = {ref(songs.queued)};
    queue.changed_at = 6;
    s->put_play_queue(queue);
  }
  return m;
}

}  // namespace clap::test
