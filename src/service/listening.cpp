// Plays heard on a player, into the history (service/listening.h).
#include "service/listening.h"

#include <algorithm>

#include "core/error.h"
#include "service/accounts.h"
#include "service/history.h"
#include "service/user_data.h"

namespace clap::service {

bool is_skip(double seconds_played, double duration_s) {
  const double threshold = duration_s > 0 ? std::min(kSkipBeforeSeconds, duration_s / 2) : kSkipBeforeSeconds;
  return seconds_played < threshold;
}

std::optional<HeardSong> PlayWatcher::close(double now_s) {
  if (!active_) return std::nullopt;
  if (playing_) song_.seconds_played += std::max(0.0, now_s - last_s_);
  // Wall-clock time runs a little past the song's end before the player says the next one started.
  if (song_.duration_s > 0) song_.seconds_played = std::min(song_.seconds_played, song_.duration_s);
  song_.skipped = is_skip(song_.seconds_played, song_.duration_s);
  active_ = false;
  return song_;
}

std::optional<HeardSong> PlayWatcher::observe(const PlayerMoment& m) {
  if (m.stopped) return close(m.now_s);
  std::optional<HeardSong> done;
  if (active_ && m.entry_id == entry_id_) {
    if (playing_) song_.seconds_played += std::max(0.0, m.now_s - last_s_);
    if (m.duration_s > 0) song_.duration_s = m.duration_s;
    playing_ = m.playing;
    last_s_ = m.now_s;
    return std::nullopt;
  }
  done = close(m.now_s);
  active_ = true;
  entry_id_ = m.entry_id;
  song_ = HeardSong{};
  song_.uri = m.uri;
  // A song first seen part-way (watching began during it) counts what had played already.
  song_.seconds_played = std::max(0.0, m.elapsed_s);
  song_.started_s = m.now_s - song_.seconds_played;
  song_.duration_s = m.duration_s;
  playing_ = m.playing;
  last_s_ = m.now_s;
  return done;
}

std::optional<HeardSong> PlayWatcher::finish(double now_s) { return close(now_s); }

PlayRecorder::PlayRecorder(std::string location, int64_t user_id, std::string source, std::string user_name)
    : connection_(std::make_unique<AccountsConnection>(std::move(location))),
      user_id_(user_id),
      source_(std::move(source)),
      user_name_(std::move(user_name)) {}

PlayRecorder::~PlayRecorder() = default;

void PlayRecorder::close_if_replaced() { connection_->close_if_replaced(); }

std::optional<RecordedPlay> PlayRecorder::record(const HeardSong& song, const std::string& path, int64_t played_at) {
  return connection_->with([&](Accounts&, store::Store& s) -> std::optional<RecordedPlay> {
    const std::optional<store::Track> t = s.track_by_path(path);
    if (!t) return std::nullopt;
    RecordedPlay verdict{song.seconds_played, song.duration_s, song.skipped};
    // Without a length a song is a skip before 30 s: a 3 s song heard whole was one.
    if (song.duration_s <= 0 && t->duration_s > 0) {
      verdict.duration_s = t->duration_s;
      verdict.seconds_played = std::min(song.seconds_played, verdict.duration_s);
      verdict.skipped = is_skip(verdict.seconds_played, verdict.duration_s);
    }
    store::PlayRecord p;
    p.user_id = user_name_.empty() ? user_id_ : history_user(s, user_name_).id;
    p.song = song_ref(*t);
    p.played_at = played_at;
    p.seconds_played = verdict.seconds_played;
    p.skipped = verdict.skipped;
    p.source = source_;
    s.add_play(p);
    return verdict;
  });
}

std::optional<store::UserRecord> recording_user(const std::string& location, const std::string& name) {
  const std::unique_ptr<store::Store> s = store::open_store(location, store::OpenMode::ReadOnly);
  if (name.empty() && !s->has_users()) return std::nullopt;
  return history_user(*s, name);
}

}  // namespace clap::service
