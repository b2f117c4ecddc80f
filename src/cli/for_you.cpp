// clapsearch taste and clapsearch mix (issue 55): a user's taste centres and the daily mixes made
// from them, each pick with its reason; mix also writes M3U8 files and the user's mix playlists
// (what Subsonic apps list). The logic: service/taste.h, service/mixes.h, service/for_you.h.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/user_option.h"
#include "core/utc_time.h"
#include "core/one_line_text.h"
#include "core/error.h"
#include "service/for_you.h"
#include "service/m3u.h"
#include "service/mixes.h"
#include "service/taste.h"

namespace clap::cli {
namespace {

struct TasteCliOptions {
  LibraryCliOptions lib;
  std::string user;
  bool all_users = false;
  bool json = false;
  service::TasteOptions taste;
  RuleCliOptions rules;  // --where, --include-excluded (no caps: --per-artist is the mix's own)
  service::MixOptions mix;
  std::string m3u;
  bool no_save = false;
};

// The history's ages are measured from the end of today: every run of a day answers alike.
int64_t taste_now() { return service::taste_clock(now_unix_seconds()); }

// The user's taste over the library as it is, labelled (service::user_taste), its notes printed.
service::UserTaste taste_of_user(service::Library& lib, const service::LibrarySnapshot& snap, store::Store& st,
                                 const store::UserRecord& user, const TasteCliOptions& o) {
  service::TasteOptions to = o.taste;
  to.now = taste_now();
  to.rules = o.rules.music_only(o.rules.rules(), snap);
  service::UserTaste u = service::user_taste(lib, snap, st, user, to);
  if (!u.label_note.empty()) print_warning(u.label_note);
  if (u.unresolved > 0)
    print_note(std::to_string(u.unresolved) + " entries of " + user.name +
               "'s history name songs the library does not hold now (left out)");
  return u;
}

ojson track_json(const service::LibrarySnapshot& snap, int64_t id) {
  const store::Track* t = snap.track(id);
  ojson j = {{"path", t ? t->path : ""}, {"id", id}};
  if (t) {
    j["title"] = t->title;
    j["artist"] = t->artist;
    j["album"] = t->album;
  }
  return j;
}

ojson named_weights(const std::vector<std::pair<std::string, double>>& v) {
  ojson a = ojson::array();
  for (const auto& [name, w] : v) a.push_back({{"name", name}, {"weight", json_num(w)}});
  return a;
}

std::string names(const std::vector<std::pair<std::string, double>>& v) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < 3; ++i) s += (i ? ", " : "") + v[i].first;
  return s.empty() ? "-" : s;
}

// Opens the index and its store (users, plays), re-attaching the song references of plays and
// stars to the library as it is now (as the server does) when the store can be written.
struct Opened {
  std::unique_ptr<service::Library> lib;
  std::shared_ptr<const service::LibrarySnapshot> snap;
  std::unique_ptr<store::Store> store;
};
Opened open_index(const TasteCliOptions& o) {
  Opened x;
  x.lib = std::make_unique<service::Library>(o.lib.library(), service::Access::ReadWriteIfPossible);
  x.snap = x.lib->snapshot();
  x.store = store::open_store(x.lib->location(), store::OpenMode::ReadWriteOrReadOnly);
  if (!x.store->read_only()) x.store->reattach_songs();
  return x;
}

int run_taste(const TasteCliOptions& o) {
  service::check_taste_options(o.taste);
  Opened x = open_index(o);
  const service::UserTaste u = taste_of_user(*x.lib, *x.snap, *x.store, service::history_user(*x.store, o.user), o);
  const auto& centres = u.taste.centres;
  if (o.json) {
    ojson list = ojson::array();
    for (const service::TasteCentre& c : centres) {
      ojson tracks = ojson::array();
      for (const auto& [id, cos] : c.nearest) {
        ojson t = track_json(*x.snap, id);
        t["score"] = json_num(cos);
        const auto h = u.taste.tracks.find(id);
        t["plays"] = h == u.taste.tracks.end() ? 0 : h->second.plays;
        tracks.push_back(t);
      }
      list.push_back({{"label", c.label},
                      {"weight", json_num(c.weight)},
                      {"size", c.members.size()},
                      {"pushed", c.pushed.size()},
                      {"top_artists", named_weights(c.top_artists)},
                      {"top_genres", named_weights(c.top_genres)},
                      {"tracks", tracks}});
    }
    print_json({{"user", u.user.name}, {"plays", u.plays}, {"unresolved", u.unresolved}, {"centres", list}});
    return 0;
  }
  if (centres.empty()) {
    std::printf("%s has no taste centres yet: no plays, stars or ratings of songs of this library.\n",
                terminal_text(u.user.name).c_str());
    return 0;
  }
  std::printf("%s: %zu taste centre%s from %lld plays\n", terminal_text(u.user.name).c_str(), centres.size(),
              centres.size() == 1 ? "" : "s", static_cast<long long>(u.plays));
  for (size_t j = 0; j < centres.size(); ++j) {
    const service::TasteCentre& c = centres[j];
    std::printf("\n%zu. %s: %s of your listening, %zu songs; artists: %s; genres: %s\n", j + 1,
                terminal_text(c.label).c_str(), (fixed(100 * c.weight, 0) + "%").c_str(), c.members.size(),
                terminal_text(names(c.top_artists)).c_str(), terminal_text(names(c.top_genres)).c_str());
    Table table({"#", "cosine", "plays", "track", "tags"}, {true, true, true, false, false});
    int n = 0;
    for (const auto& [id, cos] : c.nearest) {
      const store::Track* t = x.snap->track(id);
      const auto h = u.taste.tracks.find(id);
      table.add({std::to_string(++n), fixed(cos, 4), std::to_string(h == u.taste.tracks.end() ? 0 : h->second.plays),
                 t ? x.snap->display_path(t->path) : "?", t ? x.snap->tags_text(*t) : ""});
    }
    table.print(stdout);
  }
  return 0;
}

// "Mix 1 · late-night piano.m3u8": one line, with '/' (no file name holds one) as '-', within
// the 255 bytes a file name may have (a long tag must not fail every user's nightly run).
std::string m3u_file_name(const std::string& name) {
  std::string s = one_line_text(name, 240);
  for (char& ch : s)
    if (ch == '/') ch = '-';
  return s + ".m3u8";
}

// The exit status of `mix --all-users` when some users' mixes were refused and the others' made
// (docs/commands.md): apart from 1, a run that failed as a whole.
constexpr int kSomeUsersRefused = 3;

// --m3u's folder, made when the first mix file is written into it (run_mix checked its parent).
void make_m3u_folder(const std::string& m3u) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(m3u, ec) && !fs::create_directory(m3u, ec) && !fs::is_directory(m3u, ec))
    throw InvalidArgument("cannot write " + m3u + ": cannot make the folder (" + ec.message() + ")");
}

// One user's mixes: made, written as M3U8 files, saved as their playlists, printed (or added to
// `all` for --json).
void mix_user(Opened& x, const TasteCliOptions& o, const store::UserRecord& user, bool save, ojson& all);

int run_mix(const TasteCliOptions& o) {
  service::check_taste_options(o.taste);
  service::check_mix_options(o.mix);
  if (o.all_users && !o.user.empty()) throw InvalidArgument("give --user NAME or --all-users, not both");
  Opened x = open_index(o);
  std::vector<store::UserRecord> users;
  if (o.all_users) users = x.store->users();
  else users.push_back(service::history_user(*x.store, o.user));
  const bool save = !o.no_save;
  if (save && x.store->read_only())
    print_warning("the index " + x.lib->db_path() + " cannot be written: the mixes are not saved as playlists");
  if (!o.m3u.empty()) {
    // The folder itself is made, not a path of them: a typo (/home/ann/Muisc/mixes) is reported,
    // as `index --db` reports a folder that is not there, instead of a tree made where nobody looks.
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path folder(o.m3u), parent = fs::path(o.m3u).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec))
      throw InvalidArgument("--m3u " + o.m3u + ": the folder " + parent.string() + " does not exist (make it first)");
    // Something that is not a folder at the name (a file, /dev/full): said so, not as the
    // library's "cannot create directories: File exists [/dev/full]".
    if (fs::exists(fs::symlink_status(folder, ec)) && !fs::is_directory(folder, ec))
      throw InvalidArgument("cannot write " + o.m3u + ": it is not a folder (--m3u names the folder the mix files go into)");
    // The folder itself is made at the first mix file (make_m3u_folder): a run refused before
    // it (no history, a refused option, a user with no mixes) leaves nothing behind (rough13).
  }

  ojson all = ojson::array();
  // With --all-users each user's mixes are made on their own: one user refused (at the bound on
  // the playlists a user owns, a history that cannot be read, a file that cannot be written) is
  // named with the reason, the others are still mixed, and the exit status says so
  // (kSomeUsersRefused); one refusal stopped the nightly run for every user after it. A fault of
  // the index itself (damaged, unreachable, a failed write) still stops the run.
  std::vector<std::string> refused;
  for (const store::UserRecord& user : users) {
    if (!o.all_users) {
      mix_user(x, o, user, save, all);
      continue;
    }
    try {
      mix_user(x, o, user, save, all);
    } catch (const InvalidArgument&) {
      throw;
    } catch (const Error& e) {
      if (store::is_unavailable(e)) throw;
      std::fprintf(stderr, "clapsearch: error: %s: no mixes: %s\n", terminal_text(user.name).c_str(), error_lines(e.what()).c_str());
      refused.push_back(user.name);
      if (o.json) all.push_back({{"user", user.name}, {"refused", e.what()}});
    }
  }
  if (o.json) print_json(o.all_users ? ojson{{"users", all}} : all);
  if (refused.empty()) return 0;
  std::string names;
  for (const std::string& n : refused) names += (names.empty() ? "" : ", ") + n;
  std::fprintf(stderr, "clapsearch: error: the mixes of %zu of %zu users were refused (%s); the others' were made\n", refused.size(),
               users.size(), terminal_text(names).c_str());
  return kSomeUsersRefused;
}

void mix_user(Opened& x, const TasteCliOptions& o, const store::UserRecord& user, bool save, ojson& all) {
  const service::UserTaste u = taste_of_user(*x.lib, *x.snap, *x.store, user, o);
  service::MixOptions mo = o.mix;
  mo.rules = o.rules.music_only(o.rules.rules(), *x.snap);
  const std::vector<service::Mix> mixes = service::make_mixes(*x.snap, u.taste, mo);
  // The files first: a folder that cannot be written fails the user's mixes before anything is saved.
  std::vector<std::string> files;
  if (!o.m3u.empty())
    for (const service::Mix& m : mixes) {
      if (m.tracks.empty()) {  // no file for a mix without songs (as no playlist)
        files.emplace_back();
        continue;
      }
      std::vector<service::M3uEntry> entries;
      for (const service::MixPick& p : m.tracks)
        if (const store::Track* t = x.snap->track(p.track_id)) entries.push_back(service::m3u_entry(*t));
      make_m3u_folder(o.m3u);
      const std::string prefix = o.all_users ? user.name + " - " : "";
      files.push_back((std::filesystem::path(o.m3u) / m3u_file_name(prefix + m.name)).string());
      for (const std::string& skipped : service::write_m3u(files.back(), entries, false))
        print_warning("left out of " + terminal_text(files.back()) + ": " + terminal_text(skipped) +
                      ": a file name with a line break cannot be written to an M3U playlist");
    }
  std::vector<int64_t> ids;
  if (save && !x.store->read_only()) ids = service::save_mix_playlists(*x.store, user.id, *x.snap, mixes, now_unix_seconds());

  if (o.json) {
    ojson list = ojson::array();
    for (size_t i = 0; i < mixes.size(); ++i) {
      const service::Mix& m = mixes[i];
      ojson tracks = ojson::array();
      for (const service::MixPick& p : m.tracks) {
        ojson t = track_json(*x.snap, p.track_id);
        t["known"] = p.known;
        t["score"] = json_num(p.score);
        t["reason"] = p.reason;
        tracks.push_back(t);
      }
      ojson j = {{"name", m.name}, {"centre", m.centre}, {"label", m.label}, {"tracks", tracks}};
      if (i < ids.size() && ids[i] != 0) j["playlist_id"] = ids[i];
      if (i < files.size() && !files[i].empty()) j["m3u"] = files[i];
      if (!m.empty_reason.empty()) j["empty_reason"] = m.empty_reason;
      list.push_back(j);
    }
    if (o.all_users) all.push_back({{"user", user.name}, {"mixes", list}});
    else all = {{"user", user.name}, {"mixes", list}};
    return;
  }
  if (mixes.empty()) {
    std::printf("%s: no mixes: no taste centres yet (no plays, stars or ratings of songs of this library)\n",
                terminal_text(user.name).c_str());
    return;
  }
  for (const service::Mix& m : mixes) {
    if (m.tracks.empty()) {
      std::printf("%s%s (0 songs, not saved): %s\n\n", o.all_users ? terminal_text(user.name + ": ").c_str() : "",
                  terminal_text(m.name).c_str(), m.empty_reason.c_str());
      continue;
    }
    std::printf("%s%s (%zu songs)%s\n", o.all_users ? terminal_text(user.name + ": ").c_str() : "",
                terminal_text(m.name).c_str(), m.tracks.size(), save && !x.store->read_only() ? ", saved as a playlist" : "");
    Table table({"#", "", "track", "why"}, {true, false, false, false});
    int n = 0;
    for (const service::MixPick& p : m.tracks) {
      const store::Track* t = x.snap->track(p.track_id);
      table.add({std::to_string(++n), p.known ? "known" : "new", t ? x.snap->display_path(t->path) : "?", p.reason});
    }
    table.print(stdout);
    std::printf("\n");
  }
}

void add_taste_options(CLI::App* cmd, TasteCliOptions& o) {
  cmd->add_option("--user", o.user, "Whose history (default: the index's only user; required when there are several)")->check(user_name());
  cmd->add_option("--half-life", o.taste.half_life_days, "Days after which a play counts half (recent plays weigh more)")
      ->default_val(90)
      ->check(number_between(service::kMinHalfLifeDays, service::kMaxHalfLifeDays, "days"));
  cmd->add_option("--max-centres", o.taste.max_centres, "At most this many taste centres (the history decides how many)")
      ->default_val(8)
      ->check(positive());
  cmd->add_option("--where", o.rules.where, "Only songs matching EXPR (docs/user-guide.md, Filters)")->type_name("EXPR");
  cmd->add_flag("--include-excluded", o.rules.include_excluded,
                "Take the songs the music-only rule leaves out too (clapsearch --exclude-rule)");
  add_library_options(cmd, o.lib);
}

}  // namespace

void add_taste_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<TasteCliOptions>();
  CLI::App* cmd = app.add_subcommand("taste", "Your taste centres: clusters of what you play, star and rate, with the songs nearest each");
  add_taste_options(cmd, *o);
  cmd->add_option("--nearest", o->taste.nearest, "Songs listed nearest each centre")->default_val(10)->check(non_negative());
  cmd->add_flag("--json", o->json,
                "One JSON object: user, plays, centres [{label, weight, size, top_artists, top_genres, tracks [{path, score, plays, ...}]}]");
  cmd->footer(
      "Plays (Subsonic scrobbles, the MPD radio, imported histories), stars and ratings of the user make several taste\n"
      "centres, not one average: someone who plays jazz and metal gets a jazz centre and a metal centre. Recent plays\n"
      "count more (--half-life), stars and high ratings pull a centre, skips and low ratings push it away. Each centre's\n"
      "label is a zero-shot tag of its sound. docs/user-guide.md, \"For you\".");
  cmd->callback([o, &action] { action = [o] { return run_taste(*o); }; });
}

void add_mix_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<TasteCliOptions>();
  o->taste.nearest = 0;
  CLI::App* cmd = app.add_subcommand("mix", "Daily mixes, one per taste centre: favourites and new songs near it, each with its reason");
  add_taste_options(cmd, *o);
  cmd->add_flag("--all-users", o->all_users, "Mixes for every user of the index (what the nightly timer runs)");
  cmd->add_option("--mixes", o->mix.mixes, "At most this many mixes (one per taste centre)")->default_val(6)->check(positive());
  cmd->add_option("--size", o->mix.size, "Songs per mix")->default_val(50)->check(positive());
  cmd->add_option("--discovery", o->mix.discovery, "Share of songs you never played, 0..1")
      ->default_val(0.3)
      ->check(number_between(0, 1));
  cmd->add_option("--not-played-days", o->mix.not_played_days, "Leave out songs played in the last N days (0: none; at most 36500)")
      ->default_val(3)
      ->check(non_negative());
  cmd->add_option("--per-artist", o->mix.per_artist, "At most N songs per artist in a mix (0: no cap)")->default_val(3)->check(non_negative());
  cmd->add_option("--diversity", o->mix.diversity, "How much a mix avoids similar songs in a row, 0..1")
      ->default_val(0.3)
      ->check(number_between(0, 1));
  cmd->add_option("--m3u", o->m3u, "Also write each mix as an M3U8 file into this folder (\"Mix 1 · LABEL.m3u8\")");
  cmd->add_flag("--no-save", o->no_save, "Do not save the mixes as the user's playlists in the index");
  cmd->add_flag("--json", o->json, "One JSON object: user, mixes [{name, centre, label, playlist_id, tracks [{path, known, reason, ...}], empty_reason (a mix without songs: why; it is not saved)}]");
  cmd->footer(
      "Each mix is saved as a private playlist of the user (\"Mix 1 · late-night piano\"), which Subsonic apps list\n"
      "(getPlaylists); a new run replaces the user's previous mixes and no other playlist. The reasons are in the\n"
      "playlist's comment. The Debian package's clapsearch-mix.timer runs `clapsearch mix --all-users` nightly.\n"
      "With --all-users each user's mixes are made on their own: a user refused (e.g. owning the 10,000 playlists a\n"
      "user may have) is named with the reason on stderr (and as {\"user\", \"refused\"} in --json), the others are\n"
      "mixed, and the exit status is 3.\n"
      "docs/user-guide.md, \"For you\".");
  cmd->callback([o, &action] { action = [o] { return run_mix(*o); }; });
}

}  // namespace clap::cli
