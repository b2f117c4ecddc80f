// clapsearch migrate: an index copied whole between stores (a SQLite file, a PostgreSQL
// database), ids and embeddings bit for bit; the logic is service/migrate.h.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/migrate.h"
#include "store/store.h"

namespace clap::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct MigrateOptions {
  std::string from, to;
  bool json = false;
  bool quiet = false;
};

// Progress on stderr: one updating line on a terminal, a plain line every ~5 s otherwise.
class MigrateProgress {
 public:
  explicit MigrateProgress(bool enabled) : enabled_(enabled), tty_(stderr_is_terminal()) {}
  void update(int64_t done, int64_t total) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const bool complete = done == total;
    if (complete ? complete_shown_ : std::chrono::duration<double>(now - last_).count() < (tty_ ? 0.2 : 5.0)) return;
    complete_shown_ = complete;
    last_ = now;
    if (tty_) {
      std::fprintf(stderr, "\rmigrating: %lld/%lld tracks\x1b[K", static_cast<long long>(done), static_cast<long long>(total));
      shown_ = true;
    } else {
      std::fprintf(stderr, "migrating: %lld/%lld tracks\n", static_cast<long long>(done), static_cast<long long>(total));
    }
    std::fflush(stderr);
  }
  void clear() {
    if (tty_ && shown_) std::fprintf(stderr, "\r\x1b[K");
    shown_ = false;
  }
  ~MigrateProgress() { clear(); }

 private:
  bool enabled_, tty_;
  bool shown_ = false, complete_shown_ = false;
  Clock::time_point last_ = Clock::now() - std::chrono::hours(1);  // the first update is shown
};

std::string count(int64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

int run_migrate(const MigrateOptions& o) {
  // An empty --to (`--to "$DEST"` with DEST unset) must not mean the default library, as an empty
  // --db does: the copy would go to a place nobody named.
  if (o.to.empty()) throw InvalidArgument("--to is empty: name the SQLite file or postgresql:// URL the copy goes to");
  const std::string from = o.from.empty() ? store::default_db_path() : o.from;
  MigrateProgress progress(!o.quiet);
  store::check_index_folder(store::resolve_location(o.to));  // as for `index --db`: no folders made
  const service::MigrateSummary s = service::migrate_index(from, o.to, [&](int64_t done, int64_t total) { progress.update(done, total); });
  progress.clear();
  // Shown with --json too (on stderr): rows the copy does not hold are never left out unsaid.
  if (s.set_windows_of_no_track > 0 || s.set_tracks_of_no_track > 0)
    print_warning(s.from + " holds " + count(s.set_windows_of_no_track, "window row") + " and " +
                  count(s.set_tracks_of_no_track, "track row") +
                  " of inactive embedding sets whose track is gone (a hand edit, or another tool, deleted tracks with "
                  "foreign keys off); the copy, which carries a set's rows with their track, left them out");
  if (o.json) {
    ojson j;
    j["from"] = s.from;
    j["to"] = s.to;
    j["tracks"] = s.tracks;
    j["windows"] = s.windows;
    j["labels"] = s.labels;
    j["retired"] = s.retired;
    j["retired_windows"] = s.retired_windows;
    j["cached_texts"] = s.cached_texts;
    j["packet_hashes"] = s.packet_hashes;
    j["roots"] = s.roots;
    j["embedding_sets"] = s.embedding_sets;
    j["set_windows"] = s.set_windows;
    j["set_windows_of_no_track"] = s.set_windows_of_no_track;
    j["set_tracks_of_no_track"] = s.set_tracks_of_no_track;
    j["users"] = s.users;
    j["api_keys"] = s.api_keys;
    j["stars"] = s.stars;
    j["ratings"] = s.ratings;
    j["plays"] = s.plays;
    j["playlists"] = s.playlists;
    j["ok"] = s.counts.ok;
    j["errors"] = s.counts.errors;
    j["silent_tracks"] = s.counts.silent_tracks;
    j["silent_windows"] = s.counts.silent_windows;
    j["verified"] = true;
    j["inherited_problems"] = s.inherited_problems;
    j["seconds"] = s.seconds;
    print_json(j);
    return 0;
  }
  std::printf("migrated %s -> %s\n", terminal_text(s.from).c_str(), terminal_text(s.to).c_str());
  std::printf("copied   %s (%lld ok, %lld errors) with %s and %s; %s with %s; %s; %s in %.1f s\n",
              count(s.tracks, "track").c_str(), static_cast<long long>(s.counts.ok), static_cast<long long>(s.counts.errors),
              count(s.windows, "window").c_str(), count(s.labels, "label").c_str(), count(s.retired, "retired track").c_str(),
              count(s.retired_windows, "window").c_str(), count(s.cached_texts, "cached text").c_str(),
              count(s.roots, "folder").c_str(), s.seconds);
  if (s.packet_hashes > 0)
    std::printf("copied   %lld packet hash%s\n", static_cast<long long>(s.packet_hashes), s.packet_hashes == 1 ? "" : "es");
  if (s.embedding_sets > 1)
    std::printf("copied   %s (the active one and %s of the others)\n", count(s.embedding_sets, "embedding set").c_str(),
                count(s.set_windows, "window").c_str());
  if (s.users > 0)
    std::printf("copied   %s with %s, %s, %s, %s and %s\n", count(s.users, "user").c_str(), count(s.api_keys, "API key").c_str(),
                count(s.stars, "star").c_str(), count(s.ratings, "rating").c_str(), count(s.plays, "play").c_str(),
                count(s.playlists, "playlist").c_str());
  std::printf("verified the copy: the same counts as the source, %s\n",
              s.inherited_problems.empty() ? "and its check finds no problem" : "and only the source's own problems:");
  for (const auto& p : s.inherited_problems) std::printf("  %s\n", terminal_text(p).c_str());
  return 0;
}

}  // namespace

void add_migrate_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<MigrateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "migrate", "Copy an index between stores: a SQLite file to a PostgreSQL database (postgresql://...) or back");
  cmd->add_option("--from", o->from,
                  "The index to copy: a SQLite file or a postgresql:// URL (default: $CLAPSEARCH_DB, else "
                  "$XDG_DATA_HOME/clapsearch/library.db); only read");
  cmd->add_option("--to", o->to, "Where the copy goes: a new or empty SQLite file, or an empty PostgreSQL database")
      ->required();
  cmd->add_flag("--json", o->json,
                "Print the summary as one JSON object: from, to, tracks, windows, labels, retired, retired_windows, "
                "cached_texts, packet_hashes, roots, embedding_sets, set_windows, users, api_keys, stars, ratings, plays, playlists, seconds ...");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress on stderr");
  cmd->footer(
      "Everything is copied: the model identity, the folders, every track (errors and silent ones too) with its id,\n"
      "its windows with their ids and every embedding bit for bit, zero-shot labels, retired tracks (kept\n"
      "restorable), the packet hashes that tell their files moved and retagged, every embedding set (the active\n"
      "one, and the other models' embeddings beside it, with their ids), the text-embedding cache of every model,\n"
      "and the users with their API keys, stars, ratings, plays and playlists (passwords sealed again with the\n"
      "copy's key file, which is made beside it: see `user`).\n"
      "Every query gives the same output on the copy.\n"
      "The copy is one transaction and is checked before it is committed (the same counts as the source, a clean\n"
      "check): a failure leaves the destination as it was. A destination that holds anything is refused.\n"
      "Passwords in a URL are never printed (or use ~/.pgpass / PGPASSWORD).");
  cmd->callback([o, &action] { action = [o] { return run_migrate(*o); }; });
}

}  // namespace clap::cli
