#include "service/for_you.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <unordered_map>

#include "core/deadline.h"
#include "core/error.h"
#include "service/history.h"
#include "service/history_files.h"
#include "service/mixes.h"
#include "service/song_resolver.h"
#include "service/user_data.h"
#include "store/playlist_reads.h"
#include "core/vector_math.h"

namespace clap::service {

TasteHistory load_history(const store::Store& store, int64_t user_id, const LibrarySnapshot& snap, int64_t* unresolved) {
  TasteHistory h;
  int64_t missing = 0;
  auto here = [&](const store::SongRef& s) {
    const store::Track* t = snap.track(s.track_id);
    // A reference still attached to its recording: the same content, or the same path.
    const bool ok = t && t->status == store::TrackStatus::Ok && (t->content_hash == s.content_hash || t->path == s.path);
    if (!ok) ++missing;
    return ok;
  };
  constexpr size_t kPage = 20000;  // a long history is read a page at a time
  for (auto page = store.plays(user_id, 0, kPage); !page.empty(); page = store.plays(user_id, page.back().id, kPage)) {
    for (const store::PlayRecord& p : page)
      if (here(p.song)) h.plays.push_back({p.song.track_id, p.played_at, p.skipped});
    if (page.size() < kPage) break;
  }
  for (const store::FeedbackRecord& f : store.stars(user_id))
    if (f.kind == "song" && here(f.song)) h.starred.emplace(f.song.track_id, f.at);
  for (const store::FeedbackRecord& f : store.ratings(user_id))
    if (f.kind == "song" && here(f.song)) h.ratings.emplace(f.song.track_id, f.rating), h.rated_at.emplace(f.song.track_id, f.at);
  if (unresolved) *unresolved = missing;
  return h;
}

TasteHistory history_from_file(const LibrarySnapshot& snap, const std::string& path, int64_t* unresolved) {
  const HistoryFile file = read_history_file(path);
  TasteHistory h;
  int64_t missing = 0;
  std::unordered_map<std::string, const store::Track*> resolved;  // a favourite is resolved once
  for (const Listen& l : file.listens) {
    const std::string key = listen_key(l);
    auto it = resolved.find(key);
    if (it == resolved.end()) it = resolved.emplace(key, snap.song_index().resolve(song_ref_of(l)).track).first;
    if (it->second) h.plays.push_back({it->second->id, l.played_at, false});
    else ++missing;
  }
  if (unresolved) *unresolved = missing;
  return h;
}

int64_t taste_clock(int64_t now) {
  constexpr int64_t kDay = 86400;
  return (now / kDay + 1) * kDay;
}

std::vector<float> for_me_query(const Taste& taste, const float* seed, int64_t dim, const std::vector<const float*>& skipped,
                                int64_t* centre) {
  int64_t arg = -1;
  double top = -2;
  for (size_t j = 0; j < taste.centres.size(); ++j) {
    const double s = cosine(seed, taste.centres[j].vector.data(), dim);
    if (s > top) top = s, arg = static_cast<int64_t>(j);
  }
  if (centre) *centre = arg;
  std::vector<double> sum(seed, seed + dim);
  if (arg >= 0)
    for (int64_t d = 0; d < dim; ++d) sum[d] += taste.centres[arg].vector[d];
  for (const float* s : skipped)
    for (int64_t d = 0; d < dim; ++d) sum[d] -= kSkipPush * s[d];
  double norm = 0;
  for (double v : sum) norm += v * v;
  if (!(norm > 1e-12)) return std::vector<float>(seed, seed + dim);  // the skips cancelled the seed out
  std::vector<float> q(sum.begin(), sum.end());
  l2_normalize_rows(q.data(), 1, dim);
  return q;
}

namespace {

UserTaste labelled_taste(Library& lib, const LibrarySnapshot& snap, const store::UserRecord& user, const TasteHistory& history,
                         int64_t unresolved, TasteOptions options) {
  UserTaste u;
  u.user = user;
  u.unresolved = unresolved;
  u.plays = static_cast<int64_t>(history.plays.size());
  if (options.now == 0) options.now = taste_clock(static_cast<int64_t>(std::time(nullptr)));
  u.taste = build_taste(snap, history, options);
  label_centres(lib, u.taste, &u.label_note);
  return u;
}

}  // namespace

UserTaste user_taste(Library& lib, const LibrarySnapshot& snap, const store::Store& store, const store::UserRecord& user,
                     TasteOptions options) {
  int64_t unresolved = 0;
  const TasteHistory h = load_history(store, user.id, snap, &unresolved);
  return labelled_taste(lib, snap, user, h, unresolved, std::move(options));
}

namespace {
// The user by name, their song references re-attached to the snapshot's library (once per
// library generation and connection, as every /rest/ request does through UserData).
store::UserRecord attached_user(AccountsConnection& connection, const LibrarySnapshot& snap, const std::string& user_name,
                                const std::string& choose) {
  const store::UserRecord user =
      connection.with([&](Accounts&, store::Store& s) { return history_user(s, user_name, choose); });
  const UserData reattached(connection, user.id, snap.library_generation());
  return user;
}
}  // namespace

UserTaste user_taste(Library& lib, const LibrarySnapshot& snap, AccountsConnection& connection, const std::string& user_name,
                     const std::string& choose, TasteOptions options) {
  const store::UserRecord user = attached_user(connection, snap, user_name, choose);
  int64_t unresolved = 0;
  const TasteHistory h =
      connection.with([&](Accounts&, store::Store& s) { return load_history(s, user.id, snap, &unresolved); });
  return labelled_taste(lib, snap, user, h, unresolved, std::move(options));
}

std::optional<search::Point2D> map_position(const LibrarySnapshot& snap, const std::vector<float>& vector) {
  if (!snap.searchable()) return std::nullopt;
  const search::Projection2D& map = snap.track_map();
  if (map.mean.size() != vector.size()) return std::nullopt;
  return search::project(map, vector.data());
}

namespace {

// The comment save_mix_playlists writes: a first line, then "\nN. SONG: REASON" for the N-th
// entry. Split at each "\nN. " in turn (N = 1, 2, ...): the text of entry N, "SONG: REASON".
// "\nN. ", appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "\n" + std::string.
std::string line_mark(int n) {
  std::string mark(1, '\n');
  mark += std::to_string(n);
  mark += ". ";
  return mark;
}

std::vector<std::string> numbered_lines(const std::string& comment) {
  std::vector<std::string> out;
  size_t at = comment.find(line_mark(1));
  for (int n = 1; at != std::string::npos; ++n) {
    const size_t from = at + line_mark(n).size();
    const size_t next = comment.find(line_mark(n + 1), from);
    out.push_back(comment.substr(from, next == std::string::npos ? std::string::npos : next - from));
    at = next;
  }
  return out;
}

// The reason of the song at `position` (0-based) named `name`: the line of that number when it
// names the song, else the first line not taken yet that does (a playlist edited in an app:
// songs removed or moved), else none.
std::string reason_of(const std::vector<std::string>& lines, std::vector<bool>& taken, size_t position, const std::string& name) {
  const std::string prefix = name + ": ";
  auto names_it = [&](size_t i) { return !taken[i] && lines[i].rfind(prefix, 0) == 0; };
  size_t found = position < lines.size() && names_it(position) ? position : lines.size();
  for (size_t i = 0; found == lines.size() && i < lines.size(); ++i)
    if (names_it(i)) found = i;
  if (found == lines.size()) return "";
  taken[found] = true;
  return lines[found].substr(prefix.size());
}

}  // namespace

std::vector<StoredMix> stored_mixes(const store::Store& store, int64_t user_id, const LibrarySnapshot& snap) {
  // The user's mix playlists and their entries from two reads in one committed state, whatever
  // their number (a read per mix was as many statements as the user had playlists marked so,
  // kMaxPlaylistsPerUser at most); the request's budget is checked as the entries are read.
  const store::PlaylistsOf marked(user_id, true, kMixPlaylistMark);
  const auto scope = store.read_scope();
  std::vector<store::PlaylistRecord> mixes = store::playlist_headers(store, marked);  // by id: the order they were saved in
  if (mixes.empty()) return {};
  uint64_t rows = 0;
  int64_t last_id = 0;
  store::PlaylistRecord* last = nullptr;
  store::playlist_entries(store, marked, [&](int64_t playlist_id, const store::SongRef& entry) {
    if (++rows % 4096 == 0) check_deadline("mixes");
    if (playlist_id != last_id) {  // consecutive rows are of one playlist
      last_id = playlist_id;
      const auto it = std::lower_bound(mixes.begin(), mixes.end(), playlist_id,
                                       [](const store::PlaylistRecord& p, int64_t id) { return p.id < id; });
      last = it != mixes.end() && it->id == playlist_id ? &*it : nullptr;
    }
    if (last) last->entries.push_back(entry);  // a mix made since the headers were read: passed over
  });
  std::vector<StoredMix> out;
  for (const store::PlaylistRecord& p : mixes) {
    StoredMix m;
    m.playlist_id = p.id;
    m.name = p.name;
    m.about = p.comment.substr(0, p.comment.find('\n'));
    m.made_at = p.changed_at;
    const std::vector<std::string> lines = numbered_lines(p.comment);
    std::vector<bool> taken(lines.size(), false);
    for (size_t i = 0; i < p.entries.size(); ++i) {
      // Still the recording the mix named (as load_history checks a play): the same content or path.
      const store::SongRef& ref = p.entries[i];
      const store::Track* t = snap.track(ref.track_id);
      if (!t || t->status != store::TrackStatus::Ok || (t->content_hash != ref.content_hash && t->path != ref.path)) {
        ++m.missing;
        continue;
      }
      m.songs.push_back({t->id, reason_of(lines, taken, i, song_name(*t))});
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<StoredMix> stored_mixes(AccountsConnection& connection, const LibrarySnapshot& snap, const std::string& user_name,
                                    const std::string& choose, store::UserRecord* user) {
  const store::UserRecord who = attached_user(connection, snap, user_name, choose);
  if (user) *user = who;
  return connection.with([&](Accounts&, store::Store& s) { return stored_mixes(s, who.id, snap); });
}

}  // namespace clap::service
