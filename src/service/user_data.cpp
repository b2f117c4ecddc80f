#include "service/user_data.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "core/deadline.h"
#include "store/playlist_reads.h"

namespace clap::service {

store::SongRef song_ref(const store::Track& t) { return {t.id, t.content_hash, t.path}; }

std::string too_many_playlists_message() {
  return "a user owns at most " + std::to_string(kMaxPlaylistsPerUser) +
         " playlists (delete one to make another, or add the songs to one already made)";
}

// The sums of one user's plays up to play `last_id` (UserData::play_tally).
struct PlaySum {
  int64_t last_id = 0;     // 0: none summed
  int64_t rows = 0;        // plays with an id up to last_id, skips included (Store::count_plays)
  int64_t last_track = 0, last_at = 0;  // play last_id as summed
  bool last_skipped = false;
  std::chrono::steady_clock::time_point counted;  // when Store::count_plays last agreed
  std::shared_ptr<UserData::PlayTally> tally = std::make_shared<UserData::PlayTally>();
};

struct PlaySums {
  std::map<int64_t, PlaySum> users;
};

UserData::UserData(AccountsConnection& connection, int64_t user_id, int64_t library_generation)
    : connection_(connection), user_(user_id) {
  connection_.with([&](Accounts&, store::Store& s) {
    // Once per library state: a read-only index (the server could not open it for writing) is
    // read as it is.
    if (connection_.attached_generation != library_generation) {
      if (!s.read_only()) s.reattach_songs();
      // Plays may point at other track ids now (re-attached here or by the index run).
      connection_.play_sums.reset();
    }
    connection_.attached_generation = library_generation;
    return 0;
  });
}

namespace {

store::FeedbackRecord feedback(int64_t user, const std::string& kind, const std::string& item, const store::Track* song,
                               int64_t at) {
  store::FeedbackRecord f;
  f.user_id = user;
  f.kind = kind;
  f.at = at;
  if (song) f.song = song_ref(*song);
  else f.item_id = item;
  return f;
}

}  // namespace

void UserData::star(const std::vector<const store::Track*>& songs, const std::vector<std::string>& albums,
                    const std::vector<std::string>& artists, int64_t at) {
  connection_.with([&](Accounts&, store::Store& s) {
    for (const store::Track* t : songs) s.put_star(feedback(user_, "song", "", t, at));
    for (const auto& a : albums) s.put_star(feedback(user_, "album", a, nullptr, at));
    for (const auto& a : artists) s.put_star(feedback(user_, "artist", a, nullptr, at));
    return 0;
  });
}

void UserData::unstar(const std::vector<const store::Track*>& songs, const std::vector<std::string>& albums,
                      const std::vector<std::string>& artists) {
  connection_.with([&](Accounts&, store::Store& s) {
    for (const store::Track* t : songs) s.remove_star(user_, "song", "", t->id);
    for (const auto& a : albums) s.remove_star(user_, "album", a, 0);
    for (const auto& a : artists) s.remove_star(user_, "artist", a, 0);
    return 0;
  });
}

UserData::Starred UserData::starred() const {
  return connection_.with([&](Accounts&, store::Store& s) {
    Starred out;
    for (const store::FeedbackRecord& f : s.stars(user_)) {
      if (f.kind == "song") out.songs.emplace(f.song.track_id, f.at);
      else if (f.kind == "album") out.albums.emplace(f.item_id, f.at);
      else out.artists.emplace(f.item_id, f.at);
    }
    return out;
  });
}

void UserData::rate(const store::Track* song, const std::string& kind, const std::string& item_id, int rating, int64_t at) {
  store::FeedbackRecord f = feedback(user_, kind, item_id, song, at);
  f.rating = rating;
  connection_.with([&](Accounts&, store::Store& s) {
    s.put_rating(f);
    return 0;
  });
}

UserData::Ratings UserData::ratings() const {
  return connection_.with([&](Accounts&, store::Store& s) {
    Ratings out;
    for (const store::FeedbackRecord& f : s.ratings(user_)) {
      if (f.kind == "song") out.songs.emplace(f.song.track_id, f.rating);
      else out.items.emplace(f.item_id, f.rating);
    }
    return out;
  });
}

void UserData::played(const store::Track& song, int64_t at, const std::string& source) {
  store::PlayRecord p;
  p.user_id = user_;
  p.song = song_ref(song);
  p.played_at = at;
  p.source = source;
  connection_.with([&](Accounts&, store::Store& s) { return s.add_play(p); });
}

namespace {


// Whether `sum` still holds every play up to its last: that play itself unchanged (a forgotten
// last play whose id a new play took again), and, when the last count is older than
// full_check_s, as many plays up to that id.
bool still_holds(const store::Store& s, int64_t user, PlaySum& sum, double full_check_s) {
  if (sum.last_id == 0) return true;
  const std::vector<store::PlayRecord> at = s.plays(user, sum.last_id - 1, 1);
  if (at.empty() || at.front().id != sum.last_id || at.front().song.track_id != sum.last_track ||
      at.front().played_at != sum.last_at || at.front().skipped != sum.last_skipped)
    return false;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - sum.counted).count() < full_check_s) return true;
  if (s.count_plays(user, sum.last_id) != sum.rows) return false;
  sum.counted = now;
  return true;
}

}  // namespace

std::shared_ptr<const UserData::PlayTally> UserData::play_tally(double full_check_s) const {
  return connection_.with([&](Accounts&, store::Store& s) -> std::shared_ptr<const PlayTally> {
    if (!connection_.play_sums) connection_.play_sums = std::make_shared<PlaySums>();
    PlaySum& sum = connection_.play_sums->users[user_];
    const auto scope = s.read_scope();  // the check and the newer plays from one state
    if (!still_holds(s, user_, sum, full_check_s)) sum = PlaySum();
    if (sum.last_id == 0) sum.counted = std::chrono::steady_clock::now();  // summed from the start now
    constexpr size_t kPage = 10000;  // a long history is read a page at a time
    for (auto page = s.plays(user_, sum.last_id, kPage); !page.empty(); page = s.plays(user_, sum.last_id, kPage)) {
      // Requests hold the tally they were given: a newer one is a copy when one is held.
      if (sum.tally.use_count() > 1) sum.tally = std::make_shared<PlayTally>(*sum.tally);
      for (const store::PlayRecord& p : page) {
        if (p.skipped) continue;
        PlayStats& st = (*sum.tally)[p.song.track_id];
        ++st.count;
        st.last = std::max(st.last, p.played_at);
      }
      sum.rows += static_cast<int64_t>(page.size());
      sum.last_id = page.back().id;
      sum.last_track = page.back().song.track_id;
      sum.last_at = page.back().played_at;
      sum.last_skipped = page.back().skipped;
      if (page.size() < kPage) break;
    }
    return sum.tally;
  });
}

std::vector<store::PlaylistRecord> UserData::playlists(bool all) const {
  return connection_.with([&](Accounts&, store::Store& s) { return s.playlists(all ? 0 : user_); });
}

std::vector<UserData::PlaylistSummary> UserData::playlist_summaries(
    int64_t only_owner, const std::function<std::optional<int64_t>(int64_t)>& seconds_of) const {
  const store::PlaylistsOf which = only_owner != 0 ? store::PlaylistsOf(only_owner, true) : store::PlaylistsOf(user_);
  return connection_.with([&](Accounts&, store::Store& s) {
    // One committed state: an entry read is of a playlist listed (PostgreSQL: the entries'
    // cursor reads in this scope's transaction).
    const auto scope = s.read_scope();
    std::vector<PlaylistSummary> out;
    std::map<int64_t, size_t> at;  // playlist id -> its place in `out`
    for (store::PlaylistRecord& p : store::playlist_headers(s, which)) {
      at[p.id] = out.size();
      out.push_back({std::move(p), "", 0, 0});
    }
    std::map<int64_t, std::string> names;
    for (const store::UserRecord& u : s.users()) names[u.id] = u.name;
    for (PlaylistSummary& p : out)
      if (const auto n = names.find(p.playlist.owner); n != names.end()) p.owner = n->second;
    if (out.empty()) return out;
    // Consecutive rows are of one playlist (by id): its place is looked up once per playlist.
    int64_t last_id = 0;
    PlaylistSummary* last = nullptr;
    uint64_t rows = 0;
    store::playlist_entry_tracks(s, which, [&](int64_t playlist_id, int64_t track_id) {
      if (++rows % 4096 == 0) check_deadline("playlists");
      if (playlist_id != last_id) {
        last_id = playlist_id;
        const auto it = at.find(playlist_id);
        last = it == at.end() ? nullptr : &out[it->second];
      }
      if (!last) return;
      if (const std::optional<int64_t> seconds = seconds_of(track_id)) {
        ++last->songs;
        last->seconds += *seconds;
      }
    });
    return out;
  });
}

std::optional<store::PlaylistRecord> UserData::playlist(int64_t id, bool admin) const {
  auto p = connection_.with([&](Accounts&, store::Store& s) { return s.playlist(id); });
  if (p && !(p->owner == user_ || p->is_public || admin)) return std::nullopt;
  return p;
}

int64_t UserData::save_playlist(const store::PlaylistRecord& p, bool admin) {
  if (p.id != 0) {
    const auto old = connection_.with([&](Accounts&, store::Store& s) { return s.playlist(p.id); });
    if (!old) throw Error("playlist " + std::to_string(p.id) + " does not exist");
    if (old->owner != user_ && !admin) throw NotAllowed("the playlist belongs to another user");
  }
  // Counted under the lock with the write: two creations at once in this server cannot both pass
  // at the bound (another process's may: the bound is a guard, not an exact count). Thrown after
  // the lock, as an exception inside with() drops its connection. 0: too many.
  const int64_t id = connection_.with([&](Accounts&, store::Store& s) -> int64_t {
    if (p.id == 0 && store::playlist_count(s, p.owner) >= kMaxPlaylistsPerUser) return 0;
    return s.put_playlist(p);
  });
  if (id == 0) throw TooMany(too_many_playlists_message());
  return id;
}

std::optional<int64_t> UserData::change_playlist(int64_t id, bool admin,
                                                const std::function<void(store::PlaylistRecord&)>& change) {
  enum class Outcome { Unreadable, NotOwner, Written };
  // The outcome is thrown after the lock: an exception inside with() drops its connection.
  // The lock orders this process's changes; the store's transaction (Store::change_playlist)
  // orders them with another server process's on the same index.
  const Outcome outcome = connection_.with([&](Accounts&, store::Store& s) {
    Outcome o = Outcome::Unreadable;
    s.change_playlist(id, [&](store::PlaylistRecord& p) {
      if (!(p.owner == user_ || p.is_public || admin)) return false;
      o = p.owner != user_ && !admin ? Outcome::NotOwner : Outcome::Written;
      if (o == Outcome::Written) change(p);
      return o == Outcome::Written;
    });
    return o;
  });
  if (outcome == Outcome::NotOwner) throw NotAllowed("the playlist belongs to another user");
  if (outcome == Outcome::Unreadable) return std::nullopt;
  return id;
}

void UserData::delete_playlist(int64_t id, bool admin) {
  // One lock for the check and the removal, as change_playlist.
  const std::optional<int64_t> owner = connection_.with([&](Accounts&, store::Store& s) -> std::optional<int64_t> {
    const auto old = s.playlist(id);
    if (!old) return std::nullopt;
    if (old->owner == user_ || admin) s.remove_playlist(id);
    return old->owner;
  });
  if (!owner) throw Error("playlist " + std::to_string(id) + " does not exist");
  if (*owner != user_ && !admin) throw NotAllowed("the playlist belongs to another user");
}

std::string UserData::user_name(int64_t id) const {
  const auto u = connection_.with([&](Accounts&, store::Store& s) { return s.user_by_id(id); });
  return u ? u->name : "";
}

void NowPlaying::set(const Entry& given) {
  // Bounded, as every player name a client makes up is a new entry: an entry goes when an hour
  // old (list() shows none older), a user keeps kMaxPlayersPerUser (their oldest goes), and a
  // player's name is cut to kMaxPlayerNameBytes (at a character's start).
  constexpr size_t kMaxPlayersPerUser = 8, kMaxPlayerNameBytes = 256;
  Entry e = given;
  if (e.player.size() > kMaxPlayerNameBytes) {
    size_t n = kMaxPlayerNameBytes;
    while (n > 0 && (static_cast<unsigned char>(e.player[n]) & 0xC0) == 0x80) --n;
    e.player.resize(n);
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end();) it = now - it->second.since >= 3600 ? entries_.erase(it) : std::next(it);
  const std::pair<int64_t, std::string> key{e.user_id, e.player};
  if (!entries_.count(key)) {
    const auto first = entries_.lower_bound({e.user_id, std::string()});
    auto last = first, oldest = first;
    size_t players = 0;
    for (; last != entries_.end() && last->first.first == e.user_id; ++last, ++players)
      if (last->second.since < oldest->second.since) oldest = last;
    if (players >= kMaxPlayersPerUser) entries_.erase(oldest);
  }
  entries_[key] = e;
}

std::vector<NowPlaying::Entry> NowPlaying::list(int64_t now) const {
  std::lock_guard lock(mutex_);
  std::vector<Entry> out;
  for (const auto& [key, e] : entries_)
    if (now - e.since < 3600) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.since > b.since; });
  return out;
}

NowPlaying& NowPlaying::of(const std::string& location) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<NowPlaying>> all;
  std::lock_guard lock(mutex);
  auto& p = all[location];
  if (!p) p = std::make_unique<NowPlaying>();
  return *p;
}

}  // namespace clap::service
