// clapsearch radio --mpd HOST:PORT: an endless radio for MPD. Watches MPD's queue (idle mode on
// queue and player events, no polling) and appends the tracks the station chooses
// (service/radio.h) when few songs remain after the current one. The protocol is in
// mpd_client.h; this file connects the two and handles signals and reconnecting.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/user_option.h"
#include "cli/mpd_client.h"
#include "core/error.h"
#include "core/secret_file.h"
#include "service/for_you.h"
#include "service/index_replaced.h"
#include "service/listening.h"
#include "service/radio.h"
#include "store/store.h"

namespace clap::cli {
namespace {

struct MpdRadioOptions {
  LibraryCliOptions lib;
  std::string mpd = "localhost:6600";
  std::string password_file;
  std::string music_dir;
  std::vector<std::string> texts;
  int64_t min_queue = 5;
  int64_t no_repeat = 100;
  double diversity = 0.3;
  bool once = false;
  bool for_me = false;
  RuleCliOptions rules;
  std::string user;         // whose listening history the songs heard go to, and whose taste --for-me follows
  bool no_history = false;
};

// The songs MPD plays, into a user's listening history (source "mpd"; service/listening.h).
class Listening {
 public:
  Listening(std::unique_ptr<service::PlayRecorder> recorder, std::string user)
      : recorder_(std::move(recorder)), user_(std::move(user)) {}
  // The player's state at this moment; a song finished by it is recorded. `reopen_index` (a
  // watching radio's) opens the index again when another file was moved over it.
  void observe(const service::QueueView& q, const service::RadioStation& station,
               const std::function<void()>& reopen_index) {
    service::PlayerMoment m;
    m.stopped = !q.current_uri;
    m.playing = q.playing;
    m.entry_id = q.current_entry_id;
    if (q.current_uri) m.uri = *q.current_uri;
    m.elapsed_s = q.elapsed_s;
    m.duration_s = q.duration_s;
    m.now_s = monotonic_s();
    if (const std::optional<service::HeardSong> heard = watcher_.observe(m))
      record(*heard, station, m.now_s, reopen_index);
  }

 private:
  static double monotonic_s() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<double>(t.tv_sec) + t.tv_nsec / 1e9;
  }
  void record(const service::HeardSong& heard, const service::RadioStation& station, double now_s,
              const std::function<void()>& reopen_index) {
    std::optional<std::string> path = service::MusicFolderMap::file_uri_path(heard.uri);
    if (!path && station.folder()) path = station.folder()->path_of(heard.uri);
    if (!path) return;  // a stream, or the music folder is not known yet
    const int64_t played_at = static_cast<int64_t>(std::time(nullptr)) - static_cast<int64_t>(now_s - heard.started_s);
    // A play whose write a replacement of the index overtook (a backup moved over it while the
    // write waited for another writer's lock) went into the old file, where nothing reads it: it
    // was said "not recorded" and lost (hostile pass 19, H19P-3). It is made once more, in the
    // file now at the name, once the radio has opened that file (this process may open it only
    // after closing the old one). Plays are kept once per user, source, song and second
    // (docs/user-guide.md), so the same play can never be counted twice. A record that wrote
    // nothing (the play was there already) under a replacement is ModelChanged (hostile pass 21):
    // made once more the same way.
    for (bool again = false;; again = true) {
      const auto once_more = [&](const Error& e) {
        if (!again && reopen_index) {
          reopen_index();
          return true;
        }
        not_recorded(heard, e);
        return false;
      };
      try {
        if (const std::optional<service::RecordedPlay> play = recorder_->record(heard, *path, played_at))
          print_note(std::string(play->skipped ? "skipped " : "played ") + terminal_text(heard.uri) + " (" +
                     fixed(play->seconds_played, 0) + " s): in the history of " + terminal_text(user_));
        return;
      } catch (const service::IndexReplacedDuringCall& e) {
        if (once_more(e)) continue;
        return;
      } catch (const service::ModelChanged& e) {
        if (once_more(e)) continue;
        return;
      } catch (const Error& e) {
        // The radio goes on when the index cannot take the play (read-only, being migrated).
        not_recorded(heard, e);
        return;
      }
    }
  }
  static void not_recorded(const service::HeardSong& heard, const Error& e) {
    print_warning(std::string("the play of ") + terminal_text(heard.uri) + " was not recorded: " + e.what());
  }
  std::unique_ptr<service::PlayRecorder> recorder_;
  std::string user_;

 public:
  void close_if_replaced() { recorder_->close_if_replaced(); }

 private:
  service::PlayWatcher watcher_;
};

// The password: --password-file (its first line), else $MPD_PASSWORD, else none.
std::string mpd_password(const MpdRadioOptions& o) {
  if (!o.password_file.empty()) {
    const std::string p = read_secret_line(o.password_file, "password file", 4096);
    if (p.empty()) throw InvalidArgument(empty_secret_message(o.password_file, "password file"));
    if (!service::line_protocol_safe(p))
      throw InvalidArgument(o.password_file + ": the password's line holds a carriage return or NUL, which MPD's protocol "
                            "cannot carry: not sent");
    return p;
  }
  const char* env = std::getenv("MPD_PASSWORD");
  const std::string p = env ? env : "";
  // A line break would send the rest of the value to MPD as a command of its own (rough edge 11).
  if (!service::line_protocol_safe(p))
    throw InvalidArgument("$MPD_PASSWORD holds " + service::line_protocol_problem(p) +
                          ", which MPD's protocol cannot carry: not sent");
  return p;
}

// Sleeps up to `seconds`; true when a stop signal came (cli/common: Ctrl-C and SIGTERM as a file
// descriptor, so the radio waits for MPD and for them at once and ends between two steps).
bool wait_or_stop(int seconds) {
  pollfd p{stop_signal_fd(), POLLIN, 0};
  return poll(&p, 1, seconds * 1000) > 0;
}

// Appends the station's choice for MPD's queue as it is now; prints one line per song added.
// `said` is the last "nothing to continue from" note, so a watching radio says it once, not at
// every player event. With --once, nothing to continue from for a fault of MPD's (a status
// naming no song of the queue) is an error (exit 1); a stopped MPD or an empty queue is a note.
// `check_index` (a watching radio): opens the index again when it changed under the radio, before
// a play is recorded or a song chosen.
void top_up(MpdClient& mpd, service::RadioStation& station, bool once, std::string& said, Listening* listening = nullptr,
            const std::function<void()>& check_index = {}) {
  const auto check_index_or_warn = [&] {
    if (!check_index) return;
    try {
      check_index();
    } catch (const Error& e) {
      // The file now at the name cannot be opened yet (not an index, still being put back): the
      // radio goes on and tries again at the next event.
      print_warning(std::string(e.what()) + "; trying again at the next song");
    }
  };
  check_index_or_warn();
  service::QueueView queue = mpd.queue();
  // When the queue was read: the radio for you tells a skip by how long the last song played.
  queue.clock_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  // A status the radio cannot read (a fault: no song named, an unknown state) says nothing about
  // the song heard: it is neither recorded as ended nor as playing; the next event tells.
  if (listening && (queue.current_uri || !queue.no_current_is_fault))
    listening->observe(queue, station, check_index ? std::function<void()>(check_index_or_warn) : std::function<void()>());
  if (!queue.current_uri) {
    const std::string why = queue.no_current_reason + ": nothing to continue from, nothing added";
    if (once && queue.no_current_is_fault) throw Error(why);
    if (why != said) (queue.no_current_is_fault ? print_warning : print_note)(why);
    said = why;
    return;
  }
  said.clear();
  service::RadioFill fill;
  try {
    fill = station.fill(queue);
  } catch (const MpdError&) {
    throw;
  } catch (const Error& e) {
    if (once) throw;
    // A song the index does not know (a stream, a new file): the radio waits for the next one.
    print_warning(std::string(e.what()) + "; waiting for the next song");
    return;
  }
  if (once && fill.wanted == 0)
    print_note(std::to_string(queue.upcoming_uris.size()) + " songs follow the current one (--min-queue " +
               std::to_string(station.options().min_queue) + "): nothing to add");
  int64_t added = 0;
  for (const service::RadioPick& pick : fill.picks) {
    try {
      mpd.add(pick.uri);
    } catch (const MpdRefused& e) {
      print_warning(std::string(e.what()));
      continue;
    }
    ++added;
    std::printf("added %s (cosine %s, after %s)\n", terminal_text(pick.uri).c_str(), fixed(pick.score, 4).c_str(),
                terminal_text(fill.seed_uri).c_str());
  }
  std::fflush(stdout);
  for (const std::string& uri : fill.unsendable)
    print_warning("skipped '" + terminal_text(uri) + "': its name holds " + service::line_protocol_problem(uri) +
                  " (shown as '?'), which the radio never sends to MPD (its protocol is one command a line: past a "
                  "line's end, the rest of the name would run as MPD commands); rename the file");
  for (const std::string& uri : fill.missing)
    print_warning("skipped '" + terminal_text(uri) + "': the file is not in the music folder (moved or deleted since it "
                  "was indexed: run clapsearch index to update the index)");
  if (fill.outside_folder > 0 && station.folder())
    print_warning(std::to_string(fill.outside_folder) +
                  " chosen tracks are indexed outside the music folder " + station.folder()->folder() +
                  " and cannot be queued");
  if (added < fill.wanted)
    print_note("added " + std::to_string(added) + " of the " + std::to_string(fill.wanted) +
               " songs wanted: the index has no more tracks outside the queue, the no-repeat window and their "
               "copies of one recording");
}

int run_mpd_radio(const MpdRadioOptions& o) {
  const MpdAddress address = parse_mpd_address(o.mpd);
  // A write to a connection MPD closed must be an error to recover from, not a fatal signal.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string password = mpd_password(o);
  service::RadioStationOptions so;
  so.texts = o.texts;
  so.min_queue = o.min_queue;
  so.no_repeat = o.no_repeat;
  so.diversity = o.diversity;
  so.rules = o.rules.rules();
  if (!o.rules.include_excluded) so.exclude = exclude_rule();
  // Caught from here on (a Ctrl-C while the index loads ends the radio at its first wait);
  // --once keeps their default action (end at once).
  if (!o.once) install_stop_signals();
  std::optional<service::MusicFolderMap> folder;
  if (!o.music_dir.empty()) folder.emplace(o.music_dir);
  auto lib = std::make_unique<service::Library>(o.lib.library(), service::Access::ReadWriteIfPossible);  // caches the texts' embeddings

  // The first connection must work: a wrong address or password is a mistake to report, not to retry.
  auto mpd = std::make_unique<MpdClient>(address, password);
  // Without --music-dir: MPD's own music_directory when it tells it (a local socket), else the
  // station finds the folder from the index (RadioStation).
  if (!folder)
    if (const std::optional<std::string> dir = mpd->music_directory()) {
      try {
        folder.emplace(*dir);
      } catch (const InvalidArgument& e) {
        // MPD in a container or another mount namespace: its folder is not this machine's.
        print_note(std::string("MPD's music_directory is not a folder here (") + e.what() +
                   "): finding the music folder from the index");
      }
    }
  // The user's taste (--for-me), made once from the index the radio reads (a new play changes it
  // little), and again when that index is opened again: its centres are vectors of the index's
  // embeddings, meaningless against another model's, and a copy put back holds its own history
  // (hostile pass 14: the radio kept the taste of the index it started on).
  // The user is found at the start (--user, else the only user) and by that name in every index
  // opened again, as the plays are (PlayRecorder): a copy put back whose only user is someone else
  // gave the radio that user's taste while the plays went to the first (hostile pass 15, H15P-2).
  // A copy without that user leaves the radio following the songs alone; it threw, and the radio
  // kept the old file closed and added nothing until it was restarted (H15P-1).
  std::string taste_user = o.user;
  bool started = false;
  const auto taste_of = [&](service::Library& from) -> std::shared_ptr<const service::Taste> {
    if (!o.for_me) return nullptr;
    const auto snap = from.snapshot();
    auto st = store::open_store(from.location(), store::OpenMode::ReadOnly);
    std::optional<store::UserRecord> found;
    try {
      found = service::history_user(*st, taste_user);
    } catch (const service::NoSuchUser& e) {
      if (!started) throw;
      print_warning(std::string(e.what()) + ": the radio follows the songs alone");
      return nullptr;
    }
    const store::UserRecord& user = *found;
    taste_user = user.name;
    started = true;
    service::TasteOptions to;
    to.nearest = 0;
    to.now = service::taste_clock(static_cast<int64_t>(std::time(nullptr)));
    auto taste = std::make_shared<service::Taste>(service::build_taste(*snap, service::load_history(*st, user.id, *snap), to));
    if (taste->centres.empty())
      print_note(user.name + " has no plays, stars or ratings yet: the radio follows the songs alone");
    else
      print_note("the radio for " + user.name + ": following the nearest of " + std::to_string(taste->centres.size()) +
                 " taste centres, leaving songs skipped");
    return taste;
  };
  so.taste = taste_of(*lib);
  service::RadioStation station(*lib, folder, so);
  std::string said;
  if (o.once) {
    top_up(*mpd, station, true, said);
    return 0;
  }
  std::unique_ptr<Listening> listening;
  if (!o.no_history) {
    const std::string location = store::resolve_location(o.lib.db);
    if (const std::optional<store::UserRecord> user = service::recording_user(location, o.user)) {
      listening = std::make_unique<Listening>(std::make_unique<service::PlayRecorder>(location, user->id, "mpd", user->name), user->name);
      print_note("recording what MPD plays in the listening history of " + terminal_text(user->name) + " (--no-history: not)");
    }
  }
  // Another file moved over the index (a backup put back) or another model activated while the
  // radio runs: opened again, as serve does, with every connection to the old file closed first
  // (this process may not open the new one before: H12S-3). The radio said "waiting for the next
  // song" at every event and recorded no play until it was restarted (hostile pass 13, H13P-4).
  const auto check_index = [&] {
    try {
      lib->refresh();
      return;
    } catch (const service::ModelChanged&) {
    }
    lib->close_if_replaced();
    if (listening) listening->close_if_replaced();
    service::LibraryOptions again = o.lib.library();
    again.model.clear();  // the model the index records now, as serve and the Python module do
    auto next = std::make_unique<service::Library>(again, service::Access::ReadWriteIfPossible);
    station.use(*next, taste_of(*next));
    lib = std::move(next);
    print_note("the index " + terminal_text(lib->db_path()) + " was replaced or changed its model: opened again");
  };
  print_note("radio on MPD at " + address.text() + ": keeping " + std::to_string(o.min_queue) +
             " songs after the current one (Ctrl-C stops)");
  // The first round is not retried either: MPD refusing what the radio asks (a password without
  // the permission to read the queue) is reported at once.
  top_up(*mpd, station, false, said, listening.get(), check_index);
  int backoff_s = 1;
  for (;;) {
    try {
      if (!mpd) {
        mpd = std::make_unique<MpdClient>(address, password);
        print_note("connected to MPD at " + address.text() + " again");
        backoff_s = 1;
        top_up(*mpd, station, false, said, listening.get(), check_index);
      }
      if (mpd->wait_for_change(stop_signal_fd()) == MpdClient::Wake::Signal) break;
      top_up(*mpd, station, false, said, listening.get(), check_index);
    } catch (const MpdError& e) {
      // MPD restarted or the network broke: try again, waiting 1, 2, 4 ... up to 60 seconds.
      mpd.reset();
      print_warning(std::string(e.what()) + "; connecting again in " + std::to_string(backoff_s) +
                    " s");
      if (wait_or_stop(backoff_s)) break;
      backoff_s = std::min(backoff_s * 2, 60);
    }
  }
  print_note("radio stopped");
  return 0;
}

}  // namespace

void add_radio_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<MpdRadioOptions>();
  CLI::App* cmd = app.add_subcommand("radio", "An endless radio for MPD: appends similar tracks as the queue runs low");
  cmd->add_option("--mpd", o->mpd, "MPD's address: HOST:PORT, HOST, [IPv6]:PORT or a local socket path")
      ->default_str("localhost:6600")
      ->type_name("ADDRESS");
  cmd->add_option("--music-dir", o->music_dir,
                  "MPD's music_directory (as this machine sees it): MPD's song URIs are relative to it. "
                  "Default: MPD's own (over a local socket), else found from the index")
      ->type_name("DIR");
  cmd->add_option("--password-file", o->password_file, "Read MPD's password from FILE (its first line); else $MPD_PASSWORD")
      ->type_name("FILE");
  cmd->add_option("--text,-t", o->texts, "Steer the radio with a description (\"warm lo-fi guitar\"); repeatable")
      ->allow_extra_args(false);
  cmd->add_option("--min-queue", o->min_queue, "Keep at least this many songs after the current one")
      ->default_val(5)
      ->check(positive());
  cmd->add_option("--no-repeat", o->no_repeat, "Never append a track among the last N songs appended or heard")
      ->default_val(100)
      ->check(non_negative());
  cmd->add_option("--diversity", o->diversity, "0 = the nearest tracks, up to 1 = as varied as possible (as playlist's)")
      ->default_val(0.3)
      ->check(number_between(0, 1));
  cmd->add_flag("--for-me", o->for_me,
                "The radio for you: follow the taste centre nearest the song playing (clapsearch taste) and leave the "
                "neighbourhood of songs skipped in this session");
  cmd->add_flag("--once", o->once, "Top the queue up once and exit (for cron and scripts); says why when nothing is added");
  cmd->add_option("--user", o->user,
                  "Record the songs heard in this user's listening history and, with --for-me, follow their taste "
                  "(default: the index's only user; required when it has several)")
      ->check(user_name());
  cmd->add_flag("--no-history", o->no_history, "Do not record what MPD plays in the listening history");
  add_rule_options(cmd, o->rules);
  add_library_options(cmd, o->lib);
  add_text_precision_option(cmd, o->lib.text_precision);
  cmd->footer(
      "While MPD plays (or pauses) a song, the radio keeps --min-queue songs after it: when fewer remain it appends\n"
      "the tracks `playlist --seed CURRENT [--text ...]` would choose (the same MMR radio), leaving out the current\n"
      "song, the songs in the queue, the last --no-repeat songs appended or heard and every other file of their\n"
      "recordings (another encoding: the same content, fingerprint, MBID or ISRC, as playlist and duplicates\n"
      "tell them), and keeping to --where, the caps and the music-only rule (clapsearch --exclude-rule) as\n"
      "playlist does. It\n"
      "waits for MPD's queue and player events (idle mode), so it costs nothing between songs. Nothing is appended\n"
      "while MPD is stopped or its queue is empty (a note says so). MPD's song URIs are paths relative to its\n"
      "music folder: --music-dir, else MPD's music_directory when MPD tells it (over a local socket), else found\n"
      "from the index: the one indexed file whose path ends with the playing song's URI (when several do, the\n"
      "radio names them and asks for --music-dir; exit 2 with --once). A song playing that is not an indexed file (a stream, a file\n"
      "not indexed yet) is reported and skipped (with --once: an error, exit 1). A track whose file name holds a\n"
      "line break (or a carriage return or NUL) is never sent to MPD (MPD would run the rest of the name as commands): it is skipped with a\n"
      "warning and another track is chosen, as is a track whose file is gone from the music folder since it was\n"
      "indexed; a password with a line break is refused. --once exits 0 when the\n"
      "queue was topped up or nothing was needed, and with a note (exit 0) when MPD is stopped or its queue\n"
      "empty; exit 1 when MPD's status names no song of its queue or a state other than play, pause or stop\n"
      "(a watching radio warns and waits), or the song playing is not indexed.\n"
      "The first connection must succeed; when MPD goes away later, the radio connects again, waiting 1, 2, 4 ...\n"
      "up to 60 s between tries. Ctrl-C or SIGTERM stops it (exit 0). Prints one line per song appended.\n"
      "Listening history: while it watches (not with --once), the radio records each indexed song MPD plays in\n"
      "the history of --user (default: the index's only user; none recorded when the index has no user; --user\n"
      "is required when it has several) as source \"mpd\": the time it played (pauses not counted), and a skip\n"
      "when it was left before 30 s or before half its length, whichever comes first. The song playing when the\n"
      "radio stops is not recorded. `clapsearch history` shows it; --no-history records nothing.\n\n"
      "--for-me: the query also holds the user's taste centre nearest the song playing (made from their plays,\n"
      "stars and ratings when the radio starts), and a song left before 30 s or half its length counts as skipped:\n"
      "the radio steers away from it and its neighbourhood for the rest of the session.");
  cmd->callback([o, &action] { action = [o] { return run_mpd_radio(*o); }; });
}

}  // namespace clap::cli
