// clapsearch index: index music folders (crawl, decode, window, embed, store), incrementally.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/fidelity.h"
#include "core/error.h"
#include "hub/hub.h"
#include "service/indexing.h"
#include "service/watching.h"

namespace clap::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct IndexOptions {
  service::IndexRequest request;  // bound directly, except the settings an index may carry on:
  std::string model;
  double window_s = 10, hop_s = 5, silence_db = -60;
  std::string precision;
  std::optional<double> auto_min_cosine;
  int nice = 0;  // --nice: this process's nice value while it indexes (0: unchanged)
  bool json = false;
  bool watch = false;
  std::string quiet_period = "2s", rescan_every = "10min";
  std::string switch_when = "complete";
};

// The line a run that built another model's embedding set ends with.
std::string set_line(const service::IndexRun& run) {
  const store::EmbeddingSet& e = run.set;
  char cover[96];
  std::snprintf(cover, sizeof cover, "%lld/%lld windows, %lld/%lld tracks", static_cast<long long>(e.covered_windows),
                static_cast<long long>(e.windows), static_cast<long long>(e.covered_tracks), static_cast<long long>(e.tracks));
  const std::string what = "embedding set " + std::to_string(e.id) + " (" + terminal_text(e.identity.id) + "): " +
                           std::to_string(run.set_windows) + " windows embedded, now " + cover;
  if (run.switched) return what + "; it is now the active set: queries use it";
  return what + (e.complete() ? "; complete" : "") +
         "; queries keep using the active set (`clapsearch models --activate " + std::to_string(e.id) + "` switches)";
}

std::string duration_text(double s) {
  char buf[32];
  if (s < 0 || !std::isfinite(s)) return "?";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, int(s) % 3600 / 60);
  return buf;
}

// Progress on stderr: one updating line on a terminal, a plain line every ~5 s otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool enabled) : enabled_(enabled), tty_(stderr_is_terminal()) {}

  void update(const index::IndexProgress& p) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const double since_last = std::chrono::duration<double>(now - last_).count();
    if (p.finished) {
      clear();
      return;
    }
    const bool complete = p.files_done == p.files_total;
    // The catch-up of packet hashes (pass 0) after the files: said as it begins.
    const bool new_task = (p.pass == 0) != catch_up_;
    catch_up_ = p.pass == 0;
    if (new_task) complete_shown_ = false;
    else if (complete ? complete_shown_ : since_last < (tty_ ? 0.2 : 5.0)) return;
    complete_shown_ = complete;
    last_ = now;
    char line[256];
    const double rate = p.elapsed_seconds > 0 ? p.audio_seconds / p.elapsed_seconds : 0;
    if (p.pass == 0)
      std::snprintf(line, sizeof line, "hashing packets: %lld/%lld files, ETA %s", static_cast<long long>(p.files_done),
                    static_cast<long long>(p.files_total), duration_text(p.eta_seconds).c_str());
    else if (p.pass > 1 && p.audio_seconds <= 0)  // later passes' windows make no track newly searchable
      std::snprintf(line, sizeof line, "indexing (pass %d): %lld/%lld files, ETA %s", p.pass, static_cast<long long>(p.files_done),
                    static_cast<long long>(p.files_total), duration_text(p.eta_seconds).c_str());
    else
      std::snprintf(line, sizeof line, "indexing (pass %d): %lld/%lld files, %s of audio, %.1fx real time, ETA %s",
                    p.pass, static_cast<long long>(p.files_done), static_cast<long long>(p.files_total),
                    audio_text(p.audio_seconds).c_str(), rate, duration_text(p.eta_seconds).c_str());
    if (tty_) {
      std::fprintf(stderr, "\r%s\x1b[K", line);
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
  }

  // Clears the progress line so another message can be printed.
  void clear() {
    if (tty_ && shown_) {
      std::fprintf(stderr, "\r\x1b[K");
      std::fflush(stderr);
      shown_ = false;
    }
  }

 private:
  bool enabled_, tty_;
  bool shown_ = false, complete_shown_ = false;
  bool catch_up_ = false;
  Clock::time_point last_ = Clock::now();
};

// The rebuild of a damaged index: where the damaged file is kept, and per table the rows carried
// over ("tracks": track ids), those that could not be read (null: some, not counted) and those left
// out (their user or list could not be read).
nlohmann::json salvage_json(const store::Salvage& salvage) {
  nlohmann::json tables = nlohmann::json::array();
  for (const store::SalvagedTable& t : salvage.tables)
    tables.push_back({{"table", t.table},
                      {"kept", t.kept},
                      {"unreadable", t.unreadable ? nlohmann::json(*t.unreadable) : nlohmann::json(nullptr)},
                      {"left_out", t.left_out},
                      {"missing", t.missing}});
  return {{"backup", salvage.backup}, {"schema_unreadable", salvage.schema_unreadable}, {"tables", tables}};
}

nlohmann::json summary_json(const index::IndexSummary& s, const std::string& db, const store::ModelIdentity& id) {
  nlohmann::json failed = nlohmann::json::array();
  for (const auto& e : s.new_errors) failed.push_back({{"path", e.path}, {"reason", e.reason}});
  nlohmann::json warnings = nlohmann::json::array();
  for (const auto& w : s.warnings) warnings.push_back({{"path", w.path}, {"reason", w.reason}});
  // How the precision was chosen (--precision auto): the index's record, null when it was given.
  nlohmann::json choice = nlohmann::json::parse(id.precision_choice, nullptr, false);
  if (choice.is_discarded() || !choice.is_object()) choice = nullptr;
  return {{"db", db},
          {"model", {{"id", id.id}, {"revision", id.revision}, {"window_s", id.window_s}, {"hop_s", id.hop_s}, {"precision", id.precision},
                     {"precision_choice", choice}}},
          {"found", s.found},
          {"indexed", s.indexed},
          {"planned", s.planned},
          {"unchanged", s.unchanged},
          {"moved", s.moved},
          {"pruned", s.pruned},
          {"restored", s.restored},
          {"tags_refreshed", s.tags_refreshed},
          {"fingerprints_added", s.fingerprints_added},
          {"speech_scored", s.speech_scored},
          {"held", s.held},
          {"errors", s.errors},
          {"silent", s.silent},
          {"windows", s.windows},
          {"silent_windows", s.silent_windows},
          {"embedded_windows", s.embedded_windows},
          {"deepened_windows", s.deepened},
          {"last_pass", s.last_pass},
          {"skipped", s.skipped},
          {"audio_seconds", s.audio_seconds},
          {"wall_seconds", s.wall_seconds},
          {"load_seconds", s.load_seconds},
          {"model_seconds", s.model_seconds},
          {"decode_seconds", s.decode_seconds},
          {"decodes", {{"whole", s.whole_decodes}, {"spans", s.span_decodes}}},
          {"db_seconds", s.db_seconds},
          {"realtime_factor", s.realtime_factor()},
          {"outside_model_fraction", s.outside_model_fraction()},
          {"failed", failed},
          {"warnings", warnings}};
}

void print_summary(const index::IndexSummary& s) {
  std::fprintf(stderr, "indexed %lld, unchanged %lld, moved %lld, pruned %lld, errors %lld",
               static_cast<long long>(s.indexed), static_cast<long long>(s.unchanged), static_cast<long long>(s.moved),
               static_cast<long long>(s.pruned), static_cast<long long>(s.errors));
  if (s.silent) std::fprintf(stderr, " (%lld silent)", static_cast<long long>(s.silent));
  if (s.restored) std::fprintf(stderr, ", restored %lld", static_cast<long long>(s.restored));
  if (s.tags_refreshed) std::fprintf(stderr, ", tags read again %lld", static_cast<long long>(s.tags_refreshed));
  if (s.fingerprints_added)
    std::fprintf(stderr, ", fingerprints added %lld", static_cast<long long>(s.fingerprints_added));
  if (s.speech_scored) std::fprintf(stderr, ", speech scores %lld", static_cast<long long>(s.speech_scored));
  if (s.held) std::fprintf(stderr, ", missing but kept %lld", static_cast<long long>(s.held));
  if (s.planned) std::fprintf(stderr, ", queued for workers %lld", static_cast<long long>(s.planned));
  std::fprintf(stderr, "%s", summary_work_text(s).c_str());
  if (s.embedded_windows > 0)
    std::fprintf(stderr, "; model %.1f s, %.0f%% of the pipeline outside the model (decode, I/O, database)",
                 s.model_seconds, 100 * s.outside_model_fraction());
  std::fprintf(stderr, "\n");
  if (s.errors) std::fprintf(stderr, "errors are recorded with their reason: clapsearch status --errors\n");
}

// --nice N: the process (its threads made from here on: decoders, the model's OpenMP team) runs
// at nice value N, so that a player, a desktop or the server on the same cores comes first. Only
// ever lowered: an unprivileged process cannot raise its priority back, and need not.
void lower_priority(int nice) {
  if (nice <= 0) return;
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, 0);
  if (errno == 0 && now >= nice) return;
  if (setpriority(PRIO_PROCESS, 0, nice) != 0)
    print_warning("--nice " + std::to_string(nice) + ": the priority could not be lowered: " + std::strerror(errno));
}

// The table of a choice --precision auto made in this run, after the summary.
void print_choice(const service::PrecisionChoice& choice) {
  const std::vector<std::string> lines = precision_choice_lines(choice);
  for (size_t i = 0; i < lines.size(); ++i) std::fprintf(stderr, "%s%s\n", i ? "  " : "precision ", terminal_text(lines[i]).c_str());
}

int run_index(const IndexOptions& o) {
  const service::IndexRequest& r = o.request;
  lower_priority(o.nice);
  ProgressPrinter progress(!r.quiet);
  index::IndexCallbacks cb;
  cb.progress = [&](const index::IndexProgress& p) { progress.update(p); };
  cb.event = [&](const index::FileEvent& e) {
    if (r.quiet || e.kind != index::FileEvent::Kind::Error) return;
    progress.clear();
    std::fprintf(stderr, "skipped %s: %s\n", terminal_text(e.path).c_str(), terminal_text(e.detail).c_str());
  };
  const service::IndexRun run = service::run_index(r, cb, print_warning);
  const index::IndexSummary& summary = run.summary;
  progress.clear();

  if (!r.quiet) {
    for (const auto& w : summary.warnings) std::fprintf(stderr, "warning: %s: %s\n", terminal_text(w.path).c_str(), terminal_text(w.reason).c_str());
    print_summary(summary);
    if (run.built_set) std::fprintf(stderr, "%s\n", terminal_text(set_line(run)).c_str());
    if (run.precision_choice) print_choice(*run.precision_choice);
  }
  if (o.json) {  // file names need not be UTF-8: invalid bytes become U+FFFD instead of failing
    nlohmann::json j = summary_json(summary, run.db_path, run.identity);
    if (run.built_set)
      j["embedding_set"] = {{"id", run.set.id},
                            {"embedded_windows", run.set_windows},
                            {"model", run.set.identity.id},
                            {"windows", run.set.windows},
                            {"covered_windows", run.set.covered_windows},
                            {"tracks", run.set.tracks},
                            {"covered_tracks", run.set.covered_tracks},
                            {"complete", run.set.complete()},
                            {"active", run.switched}};
    if (run.salvage) j["damaged_index"] = salvage_json(*run.salvage);
    if (r.plan) j["kept_track_ids"] = run.kept_track_ids;
    std::printf("%s\n", service::json_text(j).c_str());
  }
  if (r.plan) {
    if (!r.quiet)
      std::fprintf(stderr,
                   "%lld files queued, %lld track ids kept (a file indexed again takes its old id back): start "
                   "`clapsearch worker --db %s` on any machines that reach the audio\n",
                   static_cast<long long>(summary.planned), static_cast<long long>(run.kept_track_ids),
                   terminal_text(run.db_path).c_str());
    return 0;
  }
  if (run.built_set && !run.switched) return 0;  // the set's build reads no folder
  if (summary.found == 0) {
    if (!r.quiet) std::fprintf(stderr, "no audio files found\n");
    return 0;
  }
  if (summary.ok_files == 0) {
    std::fprintf(stderr, "clapsearch: error: none of the %lld files found could be indexed\n",
                 static_cast<long long>(summary.found));
    return 1;
  }
  return 0;
}

// A log line of a long-running watch: the local time first.
void watch_log(const std::string& line) {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
  std::fprintf(stderr, "%s %s\n", when, terminal_text(line).c_str());
  std::fflush(stderr);
}

bool something_changed(const index::IndexSummary& s) {
  return s.indexed || s.moved || s.pruned || s.restored || s.errors || s.held || s.tags_refreshed || !s.warnings.empty();
}

// `index --watch`: the normal run, then the index kept current until Ctrl-C / SIGTERM.
int run_watch(const IndexOptions& o) {
  const service::IndexRequest& r = o.request;
  if (r.plan) throw InvalidArgument("--watch keeps an index current by indexing here; it cannot be combined with --plan");
  lower_priority(o.nice);
  index::WatchOptions watch;
  watch.quiet = index::parse_duration(o.quiet_period, "--quiet-period");
  watch.rescan_every = index::parse_duration(o.rescan_every, "--rescan-every");

  // Ctrl-C / SIGTERM ask the watch to stop: the current run is abandoned between two files
  // (every finished file is stored), the watch loop sees it within 250 ms.
  install_stop_signals();

  ProgressPrinter progress(!r.quiet);
  bool watching = false;  // past the first run: every file is logged
  service::WatchCallbacks cb;
  cb.index.progress = [&](const index::IndexProgress& p) {
    if (!watching) progress.update(p);
  };
  cb.index.event = [&](const index::FileEvent& e) {
    if (r.quiet) return;
    using K = index::FileEvent::Kind;
    if (!watching) {
      if (e.kind != K::Error) return;
      progress.clear();
      std::fprintf(stderr, "skipped %s: %s\n", terminal_text(e.path).c_str(), terminal_text(e.detail).c_str());
      return;
    }
    switch (e.kind) {
      case K::Indexed: watch_log("indexed " + e.path); break;
      case K::Moved: watch_log("moved " + e.detail + " -> " + e.path); break;
      case K::Restored: watch_log("restored " + e.path); break;
      case K::Error: watch_log("skipped " + e.path + ": " + e.detail); break;
      case K::Pruned: watch_log("pruned " + e.path); break;
      case K::LeaseLost: watch_log("taken over by another worker: " + e.path); break;
    }
  };
  cb.log = [&](const std::string& line) {
    if (r.quiet) return;
    progress.clear();
    watch_log(line);
  };
  cb.finished = [&](const service::IndexRun& run, const index::Rescan* rescan) {
    const index::IndexSummary& s = run.summary;
    progress.clear();
    if (!r.quiet && (!rescan || something_changed(s))) {
      for (const auto& w : s.warnings) watch_log("warning: " + w.path + ": " + w.reason);
      if (rescan) {
        std::string roots;
        for (const auto& root : rescan->roots) roots += (roots.empty() ? "" : ", ") + root;
        watch_log("rescanned " + roots + " (" + rescan->reason + ")");
      }
      print_summary(s);
      if (run.precision_choice) print_choice(*run.precision_choice);
    }
    if (o.json) {
      std::printf("%s\n", service::json_text(summary_json(s, run.db_path, run.identity)).c_str());
      std::fflush(stdout);
    }
    if (!rescan && !r.quiet) {
      watch_log("watching for changes (Ctrl-C to stop)");
      watching = true;
    }
  };
  try {
    service::watch_index(r, watch, cb, [] { return stop_requested(); });
  } catch (const service::WatchStopped&) {
  }
  progress.clear();
  if (!r.quiet) watch_log("stopped");
  return 0;
}

}  // namespace

void add_index_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<IndexOptions>();
  CLI::App* cmd = app.add_subcommand("index", "Index music folders (decode, window, embed, store); re-runs are incremental");
  cmd->add_option("dirs", o->request.dirs, "Folders (or files) to index; added to the library")->required();
  cmd->add_option("--db", o->request.db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
  auto* model = cmd->add_option("--model,-m", o->model,
                                std::string(kModelHelp) + " (default: the index's model, else " + hub::kDefaultModel + ")");
  add_checkpoint_options(cmd, o->request.model_config, o->request.model_tokenizer);
  auto* window = cmd->add_option("--window", o->window_s, "Window length in seconds (default 10; at least 1, at most the model's input)");
  auto* hop = cmd->add_option("--hop", o->hop_s, "Seconds between window starts (default 5; at least 0.5, at most --window)");
  auto* silence = cmd->add_option("--silence-db", o->silence_db,
                                  "Windows quieter than this RMS level (dBFS) are silent: stored, not embedded (default -60)");
  auto* precision = add_precision_option(
      cmd, o->precision, " (default: auto, which chooses on an index's first run; later runs keep the index's precision)", true);
  cmd->add_option("--auto-min-cosine", o->auto_min_cosine,
                  "With --precision auto: the worst window cosine to fp32 a lower precision must keep on the sample "
                  "(default: its own bound, 0.999 for bf16, 0.995 for int8)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--auto-min-agreement", o->request.precision_bounds.topk_agreement,
                  "With --precision auto: the top-10 agreement with fp32's rankings a lower precision must keep on the "
                  "sample (mean share of fp32's top 10 it also returns)")
      ->default_val(service::PrecisionBounds::kTopkAgreement)
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--nice", o->nice,
                  "Run at this nice value (1-19, lower priority: the machine's player and the search server stay "
                  "responsive; the clapsearch-index service runs at 10; 0 = unchanged)")
      ->default_val(0)
      ->check(CLI::Range(0, 19));
  cmd->add_option("--threads", o->request.threads, "Model threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->add_option("--batch", o->request.batch, "Windows per model call")->default_val(8)->check(CLI::Range(1, 1024));
  cmd->add_option("--decoders", o->request.decoders,
                  "Decoding threads (0 = automatic: two for first passes, which wait on decoding, one otherwise)")
      ->default_val(0)
      ->check(CLI::Range(0, 64));
  cmd->add_option("--first-pass", o->request.first_pass,
                  "Windows per track in the first pass, which makes every track searchable early; the second pass "
                  "fills in the rest (0 = every window at once)")
      ->default_val(index::kDefaultFirstPass)
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--passes", o->request.max_passes,
                  "Stop after this pass (1 = the first pass only); the next run continues (0 = every pass)")
      ->default_val(0)
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--include", o->request.include, "Only files matching this glob (relative path or name); repeatable");
  cmd->add_option("--exclude", o->request.exclude, "Skip files and folders matching this glob; repeatable");
  cmd->add_flag("--rebuild", o->request.rebuild,
                "Discard the index and start over (needed to change windows or precision; another --model is built "
                "beside the index's model: --switch-when). The new index is built aside and replaces the old one "
                "whole at the end: readers see the old library until then. Users, their data and the track ids are "
                "kept; of a damaged index, all that can still be read (the damaged file is kept beside it)");
  cmd->add_option("--switch-when", o->switch_when,
                  "--model NEW on an index of another model builds NEW's embedding set beside the active one (queries "
                  "keep using it); complete: switch queries to NEW once its set covers every track; now: switch after "
                  "this run's work on it (the rest of the run embeds what it lacks); never: leave it to `clapsearch "
                  "models --activate`")
      ->default_val("complete")
      ->check(CLI::IsMember({"complete", "now", "never"}));
  cmd->add_flag("--retry-errors", o->request.retry_errors, "Decode files recorded as errors again even if unchanged");
  cmd->add_flag("--prune-missing", o->request.prune_missing,
                "Prune missing files even when most of a folder's tracks are gone (else kept: an unmounted drive)");
  cmd->add_flag("--follow-links-out", o->request.follow_links_out,
                "Index links (to files or folders) that lead out of the indexed folders, e.g. a beets library "
                "imported with import.link; else they are left out with a warning (docs/security.md)");
  cmd->add_flag("--plan", o->request.plan,
                "PostgreSQL store: record the files to embed as jobs for `clapsearch worker`s (moves and pruning are "
                "applied now); embed nothing");
  cmd->add_flag("--quiet,-q", o->request.quiet, "No progress, warnings or summary on stderr");
  cmd->add_flag("--json", o->json, "Print the run's summary as one JSON object on stdout (--watch: one line per run)");
  cmd->add_flag("--watch", o->watch,
                "After the run, keep running and keep the index current as files are added, changed, moved or "
                "deleted (inotify; see --quiet-period, --rescan-every); Ctrl-C or SIGTERM stops");
  cmd->add_option("--quiet-period", o->quiet_period,
                  "--watch: a changed file is indexed once unchanged and closed for this long (e.g. 500ms, 2s)")
      ->default_val("2s")
      ->type_name("DURATION");
  cmd->add_option("--rescan-every", o->rescan_every,
                  "--watch: how often folders inotify cannot watch (network/FUSE filesystems, watch limit reached) "
                  "are rescanned instead (e.g. 10min, 1h)")
      ->default_val("10min")
      ->type_name("DURATION");
  cmd->footer(
      "Files: mp3 flac ogg oga opus m4a aac wav wave aif aiff aifc wma alac mp4 webm mka ape wv (hidden files skipped).\n"
      "Unchanged files (same size and mtime) are skipped without decoding; moved/renamed files are recognised by\n"
      "content hash and keep their embeddings; deleted files are pruned (kept restorable for 30 days: a file that\n"
      "comes back is not embedded again); changed files are embedded again. When most of a folder's tracks are\n"
      "missing (an unmounted drive), they are kept unless --prune-missing.\n"
      "Bad files are recorded with the reason (clapsearch status --errors); the exit status is 1 only when none\n"
      "of the files found could be indexed.\n"
      "Summary (--json): indexed, unchanged, moved, pruned, errors, audio_seconds, wall_seconds, load_seconds,\n"
      "model_seconds, realtime_factor (audio seconds per wall second) and outside_model_fraction (share of the\n"
      "wall time, model loading excluded, spent outside the model: decoding, resampling, I/O, database).\n"
      "--watch: new, changed, moved and deleted files are indexed seconds after they are finished (partial\n"
      "downloads such as *.part are ignored until renamed); a folder that disappears (an unmounted drive) keeps\n"
      "its tracks and is rescanned when it is back; network and FUSE filesystems are rescanned periodically.");
  cmd->callback([o, model, window, hop, silence, precision, &action] {
    if (precision->count()) o->request.precision = o->precision;
    o->request.precision_bounds.window_cosine = o->auto_min_cosine;
    if (!o->request.quiet) o->request.note = print_note;
    using Switch = service::IndexRequest::Switch;
    o->request.switch_when = o->switch_when == "now" ? Switch::Now : o->switch_when == "never" ? Switch::Never : Switch::Complete;
    if (model->count()) o->request.model = o->model;
    if (window->count()) o->request.window_s = o->window_s;
    if (hop->count()) o->request.hop_s = o->hop_s;
    if (silence->count()) o->request.silence_db = o->silence_db;
    action = [o] { return o->watch ? run_watch(*o) : run_index(*o); };
  });
}

}  // namespace clap::cli
