// The listening history: import (resolve, keep what is new), summary, export, forget
// (service/history.h). The beets counts are in history_beets.cpp.
#include "service/history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/utc_time.h"
#include "service/song_resolver.h"
#include "service/user_lookup.h"
#include "service/user_data.h"

namespace clap::service {

store::UserRecord history_user(const store::Store& store, const std::string& name) {
  if (!name.empty()) {
    // As sign-in finds them (service/accounts.h): "Alice" is alice.
    if (auto u = find_user(store, name)) return *u;
    throw Error("no user named '" + name + "' in the index (`clapsearch user list` lists them)");
  }
  const std::vector<store::UserRecord> users = store.users();
  if (users.size() == 1) return users[0];
  if (users.empty())
    throw Error("the index has no user yet: a history belongs to a user (`clapsearch user add NAME` adds one)");
  std::string names;
  for (const store::UserRecord& u : users) names += (names.empty() ? "" : ", ") + u.name;
  throw InvalidArgument("the index has " + std::to_string(users.size()) + " users (" + names + "): say whose history with --user NAME");
}

std::string play_key(int64_t user_id, const std::string& source, int64_t played_at, const store::SongRef& song) {
  std::string key = std::to_string(user_id);
  key += '\x1f';
  key += source;
  key += '\x1f';
  key += std::to_string(played_at);
  key += '\x1f';
  // The content hash names the recording across re-indexing and moves; a song indexed without
  // one (never the case for files indexed today) is named by its path.
  key += song.content_hash.empty() ? "path:" + song.path : song.content_hash;
  return key;
}

namespace {

// Every key of the user's kept plays, read a page at a time.
std::unordered_set<std::string> kept_play_keys(const store::Store& store, int64_t user_id) {
  std::unordered_set<std::string> keys;
  constexpr size_t kPage = 50000;
  for (auto page = store.plays(user_id, 0, kPage); !page.empty(); page = store.plays(user_id, page.back().id, kPage))
    for (const store::PlayRecord& p : page) keys.insert(play_key(p.user_id, p.source, p.played_at, p.song));
  return keys;
}

}  // namespace

std::string listen_key(const Listen& l) {
  std::string k = l.mbid;
  for (const std::string* part : {&l.isrc, &l.artist, &l.title, &l.album}) {
    k += '\x1f';
    k += *part;
  }
  k += '\x1f';
  k += std::to_string(std::lround(l.duration_s));
  return k;
}

SongRef song_ref_of(const Listen& l) {
  SongRef ref;
  ref.mbid = l.mbid;
  ref.isrc = l.isrc;
  ref.artist = l.artist;
  ref.title = l.title;
  ref.album = l.album;
  ref.duration_s = l.duration_s;
  return ref;
}

HistoryImport import_listens(store::Store& store, const std::vector<store::Track>& tracks, int64_t user_id,
                             const std::vector<Listen>& listens, const std::string& source) {
  HistoryImport report;
  const SongIndex songs(tracks);
  std::unordered_map<std::string, Resolution> resolved;
  std::unordered_set<std::string> keys = kept_play_keys(store, user_id);
  std::vector<store::PlayRecord> fresh;
  for (const Listen& l : listens) {
    const std::string lk = listen_key(l);
    auto it = resolved.find(lk);
    if (it == resolved.end()) it = resolved.emplace(lk, songs.resolve(song_ref_of(l))).first;
    const Resolution& r = it->second;
    if (!r.track) {
      ++report.unresolved;
      report.unresolved_entries.push_back({l, r.reason});
      continue;
    }
    store::PlayRecord p;
    p.user_id = user_id;
    p.song = song_ref(*r.track);
    p.played_at = l.played_at;
    p.source = source;
    if (!keys.insert(play_key(user_id, source, p.played_at, p.song)).second) {
      ++report.already;
      continue;
    }
    fresh.push_back(std::move(p));
  }
  store.add_plays(fresh);
  report.imported = static_cast<int64_t>(fresh.size());
  return report;
}

HistorySummary summarise_history(const store::Store& store, const store::UserRecord& user) {
  HistorySummary s;
  s.user = user.name;
  constexpr size_t kPage = 50000;
  for (auto page = store.plays(user.id, 0, kPage); !page.empty(); page = store.plays(user.id, page.back().id, kPage))
    for (const store::PlayRecord& p : page) {
      ++s.plays;
      SourceCounts& c = s.by_source[p.source];
      ++c.plays;
      if (p.skipped) {
        ++s.skips;
        ++c.skips;
      }
      if (s.first_played == 0 || p.played_at < s.first_played) s.first_played = p.played_at;
      s.last_played = std::max(s.last_played, p.played_at);
    }
  s.stars = static_cast<int64_t>(store.stars(user.id).size());
  s.ratings = static_cast<int64_t>(store.ratings(user.id).size());
  return s;
}

namespace {

template <class Do>
auto with_store(const std::string& db, store::OpenMode mode, const Do& action) {
  const std::unique_ptr<store::Store> s = store::open_store(store::resolve_location(db), mode);
  return action(*s);
}


void put_song(nlohmann::ordered_json& j, const store::SongRef& song) {
  j["track_id"] = song.track_id;
  j["path"] = song.path;
  j["content_hash"] = song.content_hash;
}

void write_line(std::FILE* out, const nlohmann::ordered_json& j) {
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) throw Error("cannot write the history export");
}

}  // namespace

HistoryImport import_history_file(const std::string& db, const std::string& path, HistoryFormat format,
                                  const std::string& user_name, HistoryFormat* format_read) {
  return with_store(db, store::OpenMode::ReadWriteExisting, [&](store::Store& s) {
    // Whose history first (a missing --user is said before a large file is read), then the file
    // whole: a bad file is refused before anything is written.
    const store::UserRecord user = history_user(s, user_name);
    const HistoryFile file = read_history_file(path, format);
    if (format_read) *format_read = file.format;
    return import_listens(s, s.tracks(), user.id, file.listens, history_format_name(file.format));
  });
}

HistorySummary history_summary(const std::string& db, const std::string& user_name) {
  return with_store(db, store::OpenMode::ReadOnly,
                    [&](store::Store& s) { return summarise_history(s, history_user(s, user_name)); });
}

void export_history(const std::string& db, const std::string& user_name, std::FILE* out) {
  with_store(db, store::OpenMode::ReadOnly, [&](store::Store& s) {
    const store::UserRecord user = history_user(s, user_name);
    constexpr size_t kPage = 50000;
    for (auto page = s.plays(user.id, 0, kPage); !page.empty(); page = s.plays(user.id, page.back().id, kPage))
      for (const store::PlayRecord& p : page) {
        nlohmann::ordered_json j;
        j["type"] = "play";
        j["user"] = user.name;
        j["played_at"] = p.played_at;
        j["time"] = utc_date_time(p.played_at);
        j["source"] = p.source;
        j["seconds_played"] = p.seconds_played;
        j["skipped"] = p.skipped;
        put_song(j, p.song);
        write_line(out, j);
      }
    for (const bool rating : {false, true})
      for (const store::FeedbackRecord& f : rating ? s.ratings(user.id) : s.stars(user.id)) {
        nlohmann::ordered_json j;
        j["type"] = rating ? "rating" : "star";
        j["user"] = user.name;
        j["kind"] = f.kind;
        j["at"] = f.at;
        j["time"] = utc_date_time(f.at);
        if (rating) j["rating"] = f.rating;
        if (f.kind == "song") put_song(j, f.song);
        else j["item_id"] = f.item_id;
        write_line(out, j);
      }
    return 0;
  });
}

store::HistoryRemoved forget_history(const std::string& db, const std::string& user_name, int64_t before,
                                     const std::string& source) {
  return with_store(db, store::OpenMode::ReadWriteExisting, [&](store::Store& s) {
    const store::UserRecord user = history_user(s, user_name);
    return s.forget_history(user.id, before, source);
  });
}

}  // namespace clap::service
