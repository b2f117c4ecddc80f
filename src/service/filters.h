// Which tracks a result list may hold (issue 38): a `--where` filter over the tracks' stored
// metadata (search/filter.h) and caps of N tracks per artist or album. Every query that ranks
// tracks takes them (service/queries.h, playlists.h), so the CLI, the server and the Python
// module behave alike.
//
// A filter applies before ranking: a query ranks only the allowed tracks, and returns k results
// whenever k allowed tracks exist. How (service/queries.cpp), by the allowed tracks' windows:
//   at most kExactFilterWindows, or at most 1/kExactFilterShare of the library's windows: the
//     allowed tracks are scored exactly from their vectors (in compressed mode read from the
//     store), as an exhaustive search over a library of only them;
//   otherwise the usual search asks for more (k × library / allowed, twice over), keeps the
//     allowed results in order, and falls back to the exact scoring above when fewer than k
//     came back.
// Caps drop a result whose artist (album) already has N tracks in the list, and the search is
// asked for more until the list is full or the library is exhausted.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/embeddings.h"
#include "search/filter.h"
#include "store/store.h"

namespace clap::service {

inline constexpr int64_t kExactFilterWindows = 50'000;
inline constexpr int64_t kExactFilterShare = 20;  // 5 %

struct ResultRules {
  search::Filter where;     // empty: every track
  int64_t per_artist = 0;   // at most this many tracks per artist; 0 = no cap
  int64_t per_album = 0;    // per album (its name with its album artist, else artist); 0 = no cap
  std::vector<int64_t> exclude;  // tracks never listed (a query's seeds: service/seeds.h), ascending
  // The rule choosing the exact scoring above (tests force either path): allowed windows at
  // most exact_windows, or at most 1/exact_share of the library's (0: no share rule).
  int64_t exact_windows = kExactFilterWindows, exact_share = kExactFilterShare;
  bool empty() const { return where.empty() && exclude.empty() && per_artist <= 0 && per_album <= 0; }
  bool capped() const { return per_artist > 0 || per_album > 0; }
};

// A filter as a front end takes it: blank text = no filter; a bad expression throws
// InvalidArgument "<name>: <the parser's message>" (its column and caret included).
search::Filter parse_where(const std::string& text, const std::string& name);

// The music-only rule (docs/user-guide.md, Music only): a filter whose matching tracks no query
// lists unless the query switches it off. Front ends read it from the settings file (the CLI's
// top-level --exclude-rule, serve's start); a fresh install excludes these genres.
inline constexpr const char* kDefaultExclude = "genre in (\"Podcast\", \"Audiobook\", \"Speech\")";
// The ok tracks matching `rule`, ascending (none for an empty rule).
std::vector<int64_t> matching_tracks(const search::Filter& rule, const std::vector<store::Track>& tracks);
// `rules` with the tracks matching `rule` added to its exclusions: unchanged when none matches,
// so a library without such tracks is searched as without the rule.
ResultRules excluding_rule(ResultRules rules, const search::Filter& rule, const std::vector<store::Track>& tracks);
// The same with the matching tracks already found (LibrarySnapshot::tracks_matching keeps them
// per snapshot), ascending.
ResultRules excluding_tracks(ResultRules rules, const std::vector<int64_t>& matching);

// Throws InvalidArgument on a negative cap.
void check_rules(const ResultRules& rules);

// What the filter language reads of a track (views into `t`).
search::FilterFields filter_fields(const store::Track& t);

// The allowed tracks of a list, in id order: those with status ok that match the filter and are
// not excluded.
struct AllowedTracks {
  bool all = true;            // no filter, no exclusion: every track
  std::vector<int64_t> ids;   // ascending (when !all)
  int64_t windows = 0;        // the allowed tracks' windows (Track::window_count)
  int64_t library_windows = 0;
  int64_t exact_windows = kExactFilterWindows, exact_share = kExactFilterShare;  // ResultRules' rule
  bool contains(int64_t id) const;
  // The rule above: score the allowed tracks exactly instead of filtering a longer list.
  bool exact() const;
  // How many times more results a search asks for (library / allowed windows, at least 1).
  int64_t enlargement() const;
};
AllowedTracks allowed_tracks(const std::vector<store::Track>& tracks, const ResultRules& rules);

// The rows of `tracks` whose id `keep` accepts, in order (an exact scan over allowed tracks).
Embeddings subset_rows(const Embeddings& tracks, const std::function<bool(int64_t id)>& keep);

// The caps of one result list, taken in rank order: take() is false for a track whose artist
// (album) already has its N. Tracks without an artist (album) each count as their own.
class ResultCaps {
 public:
  ResultCaps(int64_t per_artist, int64_t per_album) : per_artist_(per_artist), per_album_(per_album) {}
  bool take(const store::Track& t);

 private:
  int64_t per_artist_, per_album_;
  std::map<std::string, int64_t> artists_, albums_;
};

}  // namespace clap::service
