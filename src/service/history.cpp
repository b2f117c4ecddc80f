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
#include "core/one_line_text.h"
#include "core/utc_time.h"
#include "service/accounts.h"
#include "service/song_resolver.h"
#include "service/user_data.h"

namespace clap::service {

store::UserRecord history_user(const store::Store& store, const std::string& name, const std::string& choose) {
  if (!name.empty()) {
    if (auto u = find_user(store, name)) return *u;  // any case, as sign-in and `clapsearch user` match
    throw NoSuchUser("no user named '" + name + "' in the index (`clapsearch user list` lists them)");
  }
  const std::vector<store::UserRecord> users = store.users();
  if (users.size() == 1) return users[0];
  if (users.empty())
    throw NoSuchUser("the index has no user yet: a history belongs to a user (`clapsearch user add NAME` adds one)");
  std::string names;
  for (const store::UserRecord& u : users) names += (names.empty() ? "" : ", ") + u.name;
  throw InvalidArgument("the index has " + std::to_string(users.size()) + " users (" + names + "): say whose history with " +
                        choose);
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

namespace {

// A listen as the report shows it: each text bounded (core/one_line_text.h echo_excerpt), so an
// export's 50 MB artist name is not printed whole, nor held a thousand times (R11C-5).
Listen echoed(const Listen& l) {
  Listen e = l;
  for (std::string* s : {&e.artist, &e.title, &e.album, &e.mbid, &e.isrc}) *s = echo_excerpt(*s);
  return e;
}

// An import as the listens are read (service/history_files.h ListenBatch): each listen resolved
// at once (listens of one song once: listen_key), a resolved one kept as its song and time (16
// bytes, not the listen's text), an unresolved one whole (it is reported); the plays are written
// after the whole file was read, so a bad file writes nothing.
class ListenImport {
 public:
  explicit ListenImport(const std::vector<store::Track>& tracks) : songs_(tracks) {}

  void take(const std::vector<Listen>& listens) {
    for (const Listen& l : listens) {
      const std::string lk = listen_key(l);
      auto it = resolved_.find(lk);
      if (it == resolved_.end()) it = resolved_.emplace(lk, songs_.resolve(song_ref_of(l))).first;
      const Resolution& r = it->second;
      if (!r.track) {
        ++report_.unresolved;
        if (report_.unresolved_entries.size() < kMaxUnresolvedListed) report_.unresolved_entries.push_back({echoed(l), r.reason});
        continue;
      }
      plays_.push_back({r.track, l.played_at});
    }
  }

  // Writes the plays a batch at a time. A play already kept (by an earlier import of the file or
  // an overlapping export, a listen repeated in the file, or another import running now) is
  // skipped by the store's unique rule (store.h add_plays) and counted as already there. Each
  // batch is a transaction: an import stopped half way is completed by running it again.
  HistoryImport write(store::Store& store, int64_t user_id, const std::string& source) {
    constexpr size_t kBatch = 50000;
    std::vector<store::PlayRecord> batch;
    for (size_t first = 0; first < plays_.size(); first += kBatch) {
      batch.clear();
      for (size_t i = first; i < std::min(plays_.size(), first + kBatch); ++i) {
        store::PlayRecord p;
        p.user_id = user_id;
        p.song = song_ref(*plays_[i].track);
        p.played_at = plays_[i].played_at;
        p.source = source;
        batch.push_back(std::move(p));
      }
      report_.imported += store.add_plays(batch);
    }
    report_.already = static_cast<int64_t>(plays_.size()) - report_.imported;
    return std::move(report_);
  }

 private:
  struct Resolved {
    const store::Track* track;
    int64_t played_at;
  };
  const SongIndex songs_;
  std::unordered_map<std::string, Resolution> resolved_;
  std::vector<Resolved> plays_;
  HistoryImport report_;
};

// The sources whose plays the store keeps once (its unique index; store.h add_plays).
void check_import_source(const std::string& source) {
  if (source != history_format_name(HistoryFormat::ListenBrainz) && source != history_format_name(HistoryFormat::LastFm))
    throw InvalidArgument("history import: plays from '" + source + "' are not kept once by the store (listenbrainz, lastfm)");
}

}  // namespace

HistoryImport import_listens(store::Store& store, const std::vector<store::Track>& tracks, int64_t user_id,
                             const std::vector<Listen>& listens, const std::string& source) {
  check_import_source(source);
  ListenImport import(tracks);
  import.take(listens);
  return import.write(store, user_id, source);
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
      if (!s.first_played || p.played_at < *s.first_played) s.first_played = p.played_at;
      if (!s.last_played || p.played_at > *s.last_played) s.last_played = p.played_at;
    }
  s.stars = static_cast<int64_t>(store.stars(user.id).size());
  s.ratings = static_cast<int64_t>(store.ratings(user.id).size());
  return s;
}

void check_index_not_replaced(const std::string& location, const std::optional<std::pair<uint64_t, uint64_t>>& opened,
                              const std::string& what, const std::optional<std::string>& written) {
  if (!opened) return;  // a server's database, or no file (then nothing was opened)
  if (const auto now = index_file_id(location); now == opened) return;
  const std::string read = what == "-" ? "standard input" : what;
  const std::string replaced = location + ": the index file was replaced (deleted and made again, or another moved over it) while ";
  if (!written)
    throw Error(replaced + read + " was read: nothing was imported (the plays would have gone into the old file); run the import again");
  throw Error(replaced + "the import of " + read + " waited to write or wrote: " + *written +
              " went into the old file, not into the index there now; run the import again (it adds what the index there lacks)");
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

// A failed write ends the export at once with its reason ("standard output: write failed (No
// space left on device)"): it was "cannot write the history export", without the reason.
void write_line(OutputFile& out, const nlohmann::ordered_json& j) {
  out.write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  if (out.failed()) out.commit();  // throws the write's reason
}

}  // namespace

HistoryImport import_history_file(const std::string& db, const std::string& path, HistoryFormat format,
                                  const std::string& user_name, HistoryFormat* format_read) {
  const std::string location = store::resolve_location(db);
  const auto opened = index_file_id(location);  // before opening, as Library does
  return with_store(db, store::OpenMode::ReadWriteExisting, [&](store::Store& s) {
    // Whose history first (a missing --user is said before a large file is read), then the file
    // whole: a bad file is refused before anything is written.
    const store::UserRecord user = history_user(s, user_name);
    const std::vector<store::Track> tracks = s.tracks();
    ListenImport import(tracks);
    const HistoryFormat read = read_history_file(path, format, [&](std::vector<Listen>&& listens) { import.take(listens); });
    if (format_read) *format_read = read;
    check_index_not_replaced(location, opened, path);
    HistoryImport done = import.write(s, user.id, history_format_name(read));
    check_index_not_replaced(location, opened, path, std::to_string(done.imported) + " plays");
    return done;
  });
}

HistorySummary history_summary(const std::string& db, const std::string& user_name) {
  return with_store(db, store::OpenMode::ReadOnly,
                    [&](store::Store& s) { return summarise_history(s, history_user(s, user_name)); });
}

void export_history(const std::string& db, const std::string& user_name, OutputFile& out) {
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
    out.commit();
    return 0;
  });
}

store::HistoryRemoved forget_history(const std::string& db, const std::string& user_name, std::optional<int64_t> before,
                                     const std::string& source) {
  return with_store(db, store::OpenMode::ReadWriteExisting, [&](store::Store& s) {
    const store::UserRecord user = history_user(s, user_name);  // an unknown name is refused all the same
    if (!source.empty() && std::find(std::begin(kPlaySources), std::end(kPlaySources), source) == std::end(kPlaySources)) {
      const HistorySummary held = summarise_history(s, user);
      if (!held.by_source.count(source)) {
        std::string known, holds;
        for (const char* name : kPlaySources) known += (known.empty() ? "" : ", ") + std::string(name);
        for (const auto& [name, counts] : held.by_source)
          holds += (holds.empty() ? "" : ", ") + name + " (" + std::to_string(counts.plays) + ")";
        throw InvalidArgument("--source '" + source + "' is no source of plays (the sources: " + known + "); " + user.name +
                              "'s history holds " + (holds.empty() ? "no plays" : "plays from " + holds));
      }
    }
    if (before && *before <= 0) return store::HistoryRemoved{};  // nothing kept is older than 1970
    return s.forget_history(user.id, before.value_or(0), source);
  });
}

}  // namespace clap::service
