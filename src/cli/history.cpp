// clapsearch history: a user's listening history (issue 55) - a summary, importing a
// ListenBrainz or Last.fm export, exporting it all, forgetting part of it. Thin over
// service/history.h.
#include <cstdio>
#include <ctime>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/user_option.h"
#include "core/error.h"
#include "service/history.h"

namespace clap::cli {
namespace {

struct HistoryOptions {
  std::string db, user, file, format = "auto", before, source;
  bool json = false;
};

// How many unresolved listens the text report shows (--json lists the first
// service::kMaxUnresolvedListed; "unresolved" counts them all).
constexpr size_t kShownUnresolved = 20;

void print_more_unresolved(int64_t unresolved) {
  if (unresolved <= static_cast<int64_t>(kShownUnresolved)) return;
  std::printf("  ... and %lld more (--json lists the first %zu)\n", static_cast<long long>(unresolved) - static_cast<long long>(kShownUnresolved),
              service::kMaxUnresolvedListed);
}

std::string song_text(const service::Listen& l) {
  std::string s = l.artist + " - " + l.title;
  if (!l.album.empty()) s += " (" + l.album + ")";
  return s;
}

// A beets library's counts (the file `beet clapsearch history` writes).
int run_import_beets(const HistoryOptions& o) {
  const service::BeetsImport r = service::import_beets_file(o.db, o.file, o.user, static_cast<int64_t>(std::time(nullptr)));
  if (o.json) {
    ojson j;
    j["imported"] = r.plays_added + r.skips_added;
    j["already"] = r.already;
    j["unresolved"] = r.unresolved;
    j["format"] = "beets";
    j["plays"] = r.plays_added;
    j["skips"] = r.skips_added;
    j["ratings"] = r.ratings_set;
    j["unresolved_entries"] = r.unresolved_entries;
    print_json(j);
    return 0;
  }
  std::printf("imported %lld plays and %lld skips, %lld already there, %lld ratings set, %lld unresolved (beets)\n",
              static_cast<long long>(r.plays_added), static_cast<long long>(r.skips_added), static_cast<long long>(r.already),
              static_cast<long long>(r.ratings_set), static_cast<long long>(r.unresolved));
  for (size_t i = 0; i < r.unresolved_entries.size() && i < kShownUnresolved; ++i)
    std::printf("  not in the library: %s\n", terminal_text(r.unresolved_entries[i]).c_str());
  print_more_unresolved(r.unresolved);
  return 0;
}

int run_import(const HistoryOptions& o) {
  if (o.format == "beets") return run_import_beets(o);
  service::HistoryFormat read = service::HistoryFormat::Auto;
  const service::HistoryImport r =
      service::import_history_file(o.db, o.file, service::parse_history_format(o.format), o.user, &read);
  if (o.json) {
    ojson j;
    j["imported"] = r.imported;
    j["already"] = r.already;
    j["unresolved"] = r.unresolved;
    j["format"] = service::history_format_name(read);
    ojson list = ojson::array();
    for (const service::UnresolvedListen& u : r.unresolved_entries) {
      ojson e;
      e["where"] = u.listen.where;
      e["played_at"] = u.listen.played_at;
      e["artist"] = u.listen.artist;
      e["title"] = u.listen.title;
      e["album"] = u.listen.album;
      e["mbid"] = u.listen.mbid;
      e["isrc"] = u.listen.isrc;
      e["duration"] = u.listen.duration_s;
      e["reason"] = u.reason;
      list.push_back(std::move(e));
    }
    j["unresolved_entries"] = std::move(list);
    print_json(j);
    return 0;
  }
  std::printf("imported %lld plays, %lld already there, %lld unresolved (%s export)\n", static_cast<long long>(r.imported),
              static_cast<long long>(r.already), static_cast<long long>(r.unresolved), service::history_format_name(read));
  for (size_t i = 0; i < r.unresolved_entries.size() && i < kShownUnresolved; ++i) {
    const service::UnresolvedListen& u = r.unresolved_entries[i];
    std::printf("  not in the library: %s: %s\n", terminal_text(u.listen.where).c_str(), terminal_text(song_text(u.listen)).c_str());
  }
  print_more_unresolved(r.unresolved);
  return 0;
}

int run_summary(const HistoryOptions& o) {
  const service::HistorySummary s = service::history_summary(o.db, o.user);
  if (o.json) {
    ojson j;
    j["user"] = s.user;
    j["plays"] = s.plays;
    j["skips"] = s.skips;
    j["stars"] = s.stars;
    j["ratings"] = s.ratings;
    // null without plays: 0 is a time a play may have (1970-01-01).
    j["first_played"] = s.first_played ? ojson(*s.first_played) : ojson(nullptr);
    j["last_played"] = s.last_played ? ojson(*s.last_played) : ojson(nullptr);
    ojson by = ojson::object();
    for (const auto& [source, c] : s.by_source) by[source] = {{"plays", c.plays}, {"skips", c.skips}};
    j["by_source"] = std::move(by);
    print_json(j);
    return 0;
  }
  std::printf("%s: %lld plays (%lld skipped), %lld stars, %lld ratings\n", terminal_text(s.user).c_str(),
              static_cast<long long>(s.plays), static_cast<long long>(s.skips), static_cast<long long>(s.stars),
              static_cast<long long>(s.ratings));
  if (s.by_source.empty()) return 0;
  Table table({"source", "plays", "skips"}, {false, true, true});
  for (const auto& [source, c] : s.by_source) table.add({source, std::to_string(c.plays), std::to_string(c.skips)});
  table.print(stdout);
  return 0;
}

int run_export(const HistoryOptions& o) {
  OutputFile out("-");
  service::export_history(o.db, o.user, out);
  return 0;
}

int run_forget(const HistoryOptions& o) {
  if (o.before.empty() && o.source.empty() && o.user.empty())
    throw InvalidArgument("say what to forget: --before DATE, --source SOURCE and/or --user NAME (all of that user's history)");
  std::optional<int64_t> before;
  if (!o.before.empty()) {
    int64_t at = 0;
    if (!service::parse_history_time(o.before, at))
      throw InvalidArgument("--before '" + o.before + "' is not a date (e.g. 2024-01-31, 2024-01-31T12:00:00Z or unix seconds)");
    before = at;
  }
  const store::HistoryRemoved r = service::forget_history(o.db, o.user, before, o.source);
  if (o.json) {
    print_json(ojson{{"plays", r.plays}, {"stars", r.stars}, {"ratings", r.ratings}});
    return 0;
  }
  std::printf("forgot %lld plays, %lld stars, %lld ratings\n", static_cast<long long>(r.plays),
              static_cast<long long>(r.stars), static_cast<long long>(r.ratings));
  return 0;
}

void add_common(CLI::App* cmd, HistoryOptions& o) {
  cmd->add_option("--user", o.user, "Whose history (default: the index's only user; required when it has several)")->check(user_name());
  cmd->add_option("--db", o.db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
}

}  // namespace

void add_history_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<HistoryOptions>();
  CLI::App* cmd = app.add_subcommand("history", "A user's listening history: summary, import an export, export, forget");
  cmd->require_subcommand(0, 1);
  cmd->footer(
      "The history is the plays, skips, stars and ratings kept in the index per user: the Subsonic server's\n"
      "scrobbles, stars and ratings (source subsonic), what `clapsearch radio` plays in MPD (mpd), imported\n"
      "ListenBrainz and Last.fm exports (listenbrainz, lastfm) and a beets library's counts (beets, through\n"
      "`beet clapsearch history`). It stays in the index: nothing is sent anywhere. `history export` writes it\n"
      "all as JSON lines; `history forget` removes part of it.\n"
      "Without a subcommand: the user's totals and the plays by source (--json: {\"plays\", \"skips\", \"stars\",\n"
      "\"ratings\", \"by_source\": {SOURCE: {\"plays\", \"skips\"}}}).");
  add_common(cmd, *o);
  cmd->add_flag("--json", o->json, "One JSON object: {user, plays, skips, stars, ratings, first_played, last_played, by_source}");

  CLI::App* import = cmd->add_subcommand("import", "Import a ListenBrainz or Last.fm export into a user's history");
  import->add_option("FILE", o->file, "The export: a ListenBrainz zip or .jsonl, a Last.fm CSV or JSON (-: standard input)")->required();
  import->add_option("--format", o->format,
                     "listenbrainz, lastfm or auto (default: detected from the file); beets: the counts `beet clapsearch "
                     "history` sends")
      ->check(CLI::IsMember({"auto", "listenbrainz", "lastfm", "beets"}));
  add_common(import, *o);
  import->add_flag("--json", o->json, "One JSON object: {imported, already, unresolved, format, unresolved_entries: [...]}");
  import->footer(
      "Each listen is matched to a song of the library by MusicBrainz recording id, ISRC, or artist + title (+\n"
      "duration; the album decides among copies). Listens of songs not in the library are counted and listed,\n"
      "never dropped silently. A play already kept (same user, source, time and song) is not added again:\n"
      "importing the same or an overlapping export twice adds only what is new. A file that is empty,\n"
      "truncated or not an export (over 2 GiB, a damaged zip member, a time before 1970 or in the future) is\n"
      "an error naming it and the reason (exit 1), and nothing is imported. FILE - reads standard input (a\n"
      "file sent with < or a pipe, up to the same 2 GiB; the format is detected the same way).\n"
      "ListenBrainz: the export zip as downloaded (listens/YYYY/M.jsonl) or one .jsonl of listens.\n"
      "Last.fm: CSV with a header row (artist, album, track, and uts/timestamp/date) or without one\n"
      "(artist,album,track,date), or JSON (scrobbles or the API's recenttracks pages).");
  import->callback([o, &action] { action = [o] { return run_import(*o); }; });

  CLI::App* exp = cmd->add_subcommand("export", "Write a user's whole history (plays, stars, ratings) as JSON lines");
  add_common(exp, *o);
  exp->footer(
      "One JSON object a line on standard output: {\"type\": \"play\", user, played_at, time, source, seconds_played,\n"
      "skipped, track_id, path, content_hash}, then {\"type\": \"star\"|\"rating\", user, kind, at, time, rating, path\n"
      "or item_id, ...}.");
  exp->callback([o, &action] { action = [o] { return run_export(*o); }; });

  CLI::App* forget = cmd->add_subcommand("forget", "Remove part of a user's history (by date, by source, or all of it)");
  forget->add_option("--before", o->before, "Forget what happened before DATE (2024-01-31, 2024-01-31T12:00:00Z, or unix seconds)");
  forget->add_option("--source", o->source,
                     "Forget only the plays from SOURCE (subsonic, mpd, listenbrainz, lastfm, beets; another name is refused)");
  add_common(forget, *o);
  forget->add_flag("--json", o->json, "One JSON object: {plays, stars, ratings} removed");
  forget->footer(
      "At least one of --before, --source and --user. --user alone forgets all of that user's plays, stars and\n"
      "ratings (the user stays). --source removes plays only (stars and ratings carry no source); --before\n"
      "removes plays, stars and ratings older than DATE (UTC). Nothing else is touched.");
  forget->callback([o, &action] { action = [o] { return run_forget(*o); }; });

  cmd->callback([o, cmd, &action] {
    if (cmd->get_subcommands().empty()) action = [o] { return run_summary(*o); };
  });
}

}  // namespace clap::cli
