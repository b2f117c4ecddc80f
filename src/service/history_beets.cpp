// A beets library's play counts, skip counts and ratings (the mpdstats plugin's flexible fields)
// into the history as source "beets" (service/history.h import_beets_stats).
//
// beets keeps counts, not plays: each run makes the user's "beets" plays (and skips) of a song as
// many as beets counts now, adding the difference. Counts only grow in beets, so a run with the
// same counts adds nothing, and a play is never taken away (a library reset in beets does not
// erase the history).
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "checkpoint/zip_directory.h"
#include "core/error.h"
#include "core/one_line_text.h"
#include "core/text_file.h"
#include "service/accounts.h"
#include "service/history.h"
#include "service/history_files.h"
#include "service/song_resolver.h"
#include "service/user_data.h"

namespace clap::service {

namespace {

// mpdstats' rating (0..1, 0.5 for a song never rated) as 1..5 stars.
int stars_of(double rating) {
  const long stars = std::lround(std::clamp(rating, 0.0, 1.0) * 5);
  return static_cast<int>(std::clamp(stars, 1L, 5L));
}

// The name a song is kept under for the counts: its content hash, else its path.
std::string song_identity(const store::SongRef& s) { return s.content_hash.empty() ? "path:" + s.path : s.content_hash; }

// An entry as a message or the report names it: its path, else artist - title, each bounded.
std::string beets_entry_text(const BeetsTrackStats& t) {
  return t.path.empty() ? echo_excerpt(t.artist) + " - " + echo_excerpt(t.title) : echo_excerpt(t.path);
}

// The plays and skips one import may add in all. Each line's count is bounded (kMaxBeetsCount),
// but not their sum: a 5 KB file of 100 lines of 100,000 plays added 10 million plays (226 s,
// 2.7 GB resident, 1 GB more index), and 2,000 such lines would take 50 GB (hostile pass 21,
// H21P-1). A million is more than any listener's library holds; a larger one is sent in parts.
constexpr int64_t kMaxBeetsPlaysAdded = 1000000;
class TooManyBeetsPlays : public Error {  // named with its file by import_beets_file
 public:
  using Error::Error;
};

}  // namespace

BeetsImport import_beets_stats(store::Store& store, const std::vector<store::Track>& tracks, int64_t user_id,
                               const std::vector<BeetsTrackStats>& stats, int64_t now) {
  BeetsImport report;
  const SongIndex songs(tracks);
  std::vector<std::pair<const BeetsTrackStats*, store::SongRef>> found;
  for (const BeetsTrackStats& t : stats) {
    if (t.play_count < 0 || t.skip_count < 0)
      throw Error(beets_entry_text(t) + ": a negative play or skip count");
    SongRef ref;
    ref.path = t.path;
    ref.mbid = t.mbid;
    ref.artist = t.artist;
    ref.title = t.title;
    ref.album = t.album;
    ref.duration_s = t.duration_s;
    const Resolution r = songs.resolve(ref);
    if (!r.track) {
      ++report.unresolved;
      if (report.unresolved_entries.size() < kMaxUnresolvedListed)
        report.unresolved_entries.push_back(beets_entry_text(t));
      continue;
    }
    found.emplace_back(&t, song_ref(*r.track));
  }
  // The counts kept are read inside the write (Store::add_new_plays): two runs at once (hostile
  // pass 5: four imports of one file kept its counts four times) add the difference once. The
  // file was read and resolved before: only the database's count per song runs under the lock.
  store.add_new_plays([&] {
    report.plays_added = report.skips_added = report.already = 0;
    std::map<std::string, std::pair<int64_t, int64_t>> kept;  // song -> the beets plays and skips kept
    for (const store::SongPlayCount& c : store.song_play_counts(user_id, "beets")) {
      auto& [plays, skips] = kept[song_identity({0, c.content_hash, c.path})];
      (c.skipped ? skips : plays) += c.count;
    }
    // The counts to add first, then the plays: each count becomes as many plays held in memory
    // and written, so their sum is bounded before any is made (kMaxBeetsPlaysAdded).
    struct Added {
      const BeetsTrackStats* stats;
      const store::SongRef* song;
      int64_t plays, skips;
    };
    std::vector<Added> added;
    int64_t total = 0;
    for (const auto& [t, song] : found) {
      auto& [plays, skips] = kept[song_identity(song)];
      const int64_t new_plays = std::max<int64_t>(0, t->play_count - plays);
      const int64_t new_skips = std::max<int64_t>(0, t->skip_count - skips);
      report.plays_added += new_plays;
      report.skips_added += new_skips;
      report.already += std::min(t->play_count, plays) + std::min(t->skip_count, skips);
      plays += new_plays;
      skips += new_skips;
      total += new_plays + new_skips;
      added.push_back({t, &song, new_plays, new_skips});
    }
    if (total > kMaxBeetsPlaysAdded)
      throw TooManyBeetsPlays("the beets counts add " + std::to_string(total) + " plays and skips, more than " +
                  std::to_string(kMaxBeetsPlaysAdded) + " in one import (a play every 4 minutes, 16 hours a day, for 11 years): " +
                  "a damaged library? Nothing was imported; send a part at a time (beet clapsearch history QUERY)");
    std::vector<store::PlayRecord> fresh;
    fresh.reserve(static_cast<size_t>(total));
    for (const Added& a : added) {
      const int64_t at = a.stats->last_played > 0 ? a.stats->last_played : now;
      auto add = [&](int64_t n, bool skipped) {
        for (int64_t i = 0; i < n; ++i) {
          store::PlayRecord p;
          p.user_id = user_id;
          p.song = *a.song;
          p.played_at = at;
          p.skipped = skipped;
          p.source = "beets";
          fresh.push_back(std::move(p));
        }
      };
      add(a.plays, false);
      add(a.skips, true);
    }
    return fresh;
  });
  std::map<int64_t, int> ratings;  // track id -> the user's rating now
  for (const store::FeedbackRecord& f : store.ratings(user_id))
    if (f.kind == "song") ratings[f.song.track_id] = f.rating;
  for (const auto& [t, song] : found) {
    if (t->rating < 0) continue;
    const int stars = stars_of(t->rating);
    auto [it, inserted] = ratings.emplace(song.track_id, 0);
    if (it->second == stars) continue;
    store::FeedbackRecord f;
    f.user_id = user_id;
    f.kind = "song";
    f.song = song;
    f.rating = stars;
    f.at = now;
    store.put_rating(f);
    it->second = stars;
    ++report.ratings_set;
  }
  return report;
}

namespace {

double number_of(const nlohmann::json& j, const char* key, const std::string& where, double fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) throw Error(where + ": \"" + key + "\" is not a number");
  const double v = it->get<double>();
  if (!std::isfinite(v)) throw Error(where + ": \"" + key + "\" is not a number");
  return v;
}

// A count of plays or skips: a whole number from 0 to kMaxBeetsCount. Each count becomes as many
// plays, so a count of 10^12 (a damaged field) must not be believed: it would take the memory.
constexpr double kMaxBeetsCount = 100000;

int64_t count_of(const nlohmann::json& j, const char* key, const std::string& where) {
  const double v = number_of(j, key, where, 0);
  if (v < 0 || v > kMaxBeetsCount || v != std::floor(v))
    throw Error(where + ": \"" + key + "\" is " + echo_excerpt(j.at(key).dump()) + ", not a count from 0 to " +
                std::to_string(static_cast<int64_t>(kMaxBeetsCount)));
  return static_cast<int64_t>(v);
}

std::string string_of(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (!it->is_string()) throw Error(where + ": \"" + key + "\" is not text");
  return it->get<std::string>();
}

}  // namespace

std::vector<BeetsTrackStats> read_beets_stats(const std::string& path) {
  const std::string text = read_text_file(path, "beets statistics", uint64_t{1} << 30, TextSource::FileOrStream);
  check_history_format(path, text, ZipDirectory::looks_like_zip({reinterpret_cast<const uint8_t*>(text.data()), text.size()}),
                       "beets");
  std::vector<BeetsTrackStats> out;
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string one = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (one.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + " line " + std::to_string(line);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(one);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": not a JSON object: " + json_problem(one, e));
    }
    if (!j.is_object()) throw Error(where + ": not a JSON object");
    BeetsTrackStats t;
    t.path = string_of(j, "path", where);
    t.mbid = string_of(j, "mbid", where);
    t.artist = string_of(j, "artist", where);
    t.title = string_of(j, "title", where);
    t.album = string_of(j, "album", where);
    t.duration_s = number_of(j, "length", where, 0);
    t.play_count = count_of(j, "play_count", where);
    t.skip_count = count_of(j, "skip_count", where);
    t.rating = number_of(j, "rating", where, -1);
    // mpdstats' ratings are 0..1; another number (-0.5, 7) was counted as "0 rating(s) set" without
    // a word (hostile pass 9): refused, naming the line (the beets plugin names its item).
    if (j.contains("rating") && !j["rating"].is_null() && !(t.rating >= 0 && t.rating <= 1))
      throw Error(where + ": \"rating\" is " + echo_excerpt(j["rating"].dump()) + ", not a rating from 0 to 1 (mpdstats' ratings)");
    // mpdstats' unix seconds (a fraction allowed); 0 or absent: never played, counted as now.
    const double last = number_of(j, "last_played", where, 0);
    if (last != 0) {
      if (last < 0 || last >= 1e11) throw Error(where + ": \"last_played\" is not a time in unix seconds");
      t.last_played = static_cast<int64_t>(last);
      check_play_time(t.last_played, where);
    }
    if (t.path.empty() && t.mbid.empty() && (t.artist.empty() || t.title.empty()))
      throw Error(where + ": names no song (a path, an mbid, or an artist and a title)");
    out.push_back(std::move(t));
  }
  if (out.empty()) throw Error(path + ": the beets statistics file is empty");
  return out;
}

BeetsImport import_beets_file(const std::string& db, const std::string& path, const std::string& user_name, int64_t now) {
  const std::string location = store::resolve_location(db);
  const auto opened = index_file_id(location);  // before opening (check_index_not_replaced)
  const std::unique_ptr<store::Store> s = store::open_store(location, store::OpenMode::ReadWriteExisting);
  const store::UserRecord user = history_user(*s, user_name);
  const std::vector<BeetsTrackStats> stats = read_beets_stats(path);
  check_index_not_replaced(location, opened, path);
  BeetsImport done;
  try {
    done = import_beets_stats(*s, s->tracks(), user.id, stats, now);
  } catch (const TooManyBeetsPlays& e) {
    throw Error(path + ": " + e.what());
  }
  check_index_not_replaced(location, opened, path,
                           std::to_string(done.plays_added + done.skips_added) + " plays and " + std::to_string(done.ratings_set) + " ratings");
  return done;
}

}  // namespace clap::service
