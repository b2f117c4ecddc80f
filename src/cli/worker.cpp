// clapsearch worker: embed the files a planner queued in a PostgreSQL store (service/worker.h).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "service/worker.h"

namespace clap::cli {
namespace {

struct WorkerOptions {
  service::WorkerRequest request;
  std::string model;
  bool json = false;
};

int run_worker(WorkerOptions& o) {
  service::WorkerRequest& r = o.request;
  if (!o.model.empty()) r.model = o.model;
  // SIGINT / SIGTERM (Ctrl-C, systemctl stop): finish the files in hand, give nothing up half
  // done, exit 0. A second signal ends the process at once (cli/common.h).
  install_stop_signals();
  r.stop = stop_flag();

  index::IndexCallbacks cb;
  cb.event = [&](const index::FileEvent& e) {
    if (r.quiet) return;
    switch (e.kind) {
      case index::FileEvent::Kind::Indexed: std::fprintf(stderr, "indexed %s\n", terminal_text(e.path).c_str()); break;
      case index::FileEvent::Kind::Error:
        std::fprintf(stderr, "skipped %s: %s\n", terminal_text(e.path).c_str(), terminal_text(e.detail).c_str());
        break;
      case index::FileEvent::Kind::LeaseLost:
        std::fprintf(stderr, "not stored %s: %s\n", terminal_text(e.path).c_str(), terminal_text(e.detail).c_str());
        break;
      default: break;
    }
  };
  const service::Notice note = [&](const std::string& m) {
    if (!r.quiet) print_note(m);
  };
  if (!r.quiet) print_note("worker on " + store::display_location(store::resolve_location(r.db)));
  const service::WorkerRun run = service::run_worker(r, cb, note);
  const index::IndexSummary& s = run.summary;
  if (!r.quiet) {
    std::fprintf(stderr, "worker %s: indexed %lld, errors %lld", run.worker.c_str(), static_cast<long long>(s.indexed),
                 static_cast<long long>(s.errors));
    if (s.lost_leases) std::fprintf(stderr, ", taken over by others %lld", static_cast<long long>(s.lost_leases));
    std::fprintf(stderr, "%s", summary_work_text(s).c_str());
    std::fprintf(stderr, "%s\n", run.stopped ? "; stopped" : "");
  }
  if (o.json) {
    nlohmann::json failed = nlohmann::json::array();
    for (const auto& e : s.new_errors) failed.push_back({{"path", e.path}, {"reason", e.reason}});
    const nlohmann::json j = {{"db", run.db_path},       {"worker", run.worker},       {"indexed", s.indexed},
                              {"errors", s.errors},      {"lost_leases", s.lost_leases}, {"windows", s.windows},
                              {"deepened_windows", s.deepened}, {"last_pass", s.last_pass},
                              {"audio_seconds", s.audio_seconds}, {"wall_seconds", s.wall_seconds},
                              {"batches", run.batches},  {"reconnects", run.reconnects}, {"stopped", run.stopped},
                              {"failed", failed}};
    std::printf("%s\n", service::json_text(j).c_str());
  }
  return 0;
}

}  // namespace

void add_worker_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<WorkerOptions>();
  CLI::App* cmd = app.add_subcommand(
      "worker", "Embed the files `clapsearch index --plan` queued in a PostgreSQL store (run on any number of machines)");
  cmd->add_option("--db", o->request.db, "The library (postgresql://user@host:port/dbname; default: $CLAPSEARCH_DB)");
  cmd->add_option("--model,-m", o->model, std::string(kModelHelp) + " (default: the index's; another model is refused)");
  add_checkpoint_options(cmd, o->request.model_config, o->request.model_tokenizer);
  cmd->add_option("--threads", o->request.threads, "Model threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->add_option("--batch", o->request.batch, "Windows per model call")->default_val(8)->check(CLI::Range(1, 1024));
  cmd->add_option("--decoders", o->request.decoders,
                  "Decoding threads (0 = automatic: two for first passes, which wait on decoding, one otherwise)")
      ->default_val(0)
      ->check(CLI::Range(0, 64));
  cmd->add_option("--lease", o->request.lease_s,
                  "Seconds a claimed file stays this worker's without a heartbeat; then another worker takes it")
      ->default_val(120)
      ->check(CLI::Range(5.0, 86400.0));
  cmd->add_option("--max-attempts", o->request.max_attempts,
                  "Claims of one file without a result (its workers died) before it is recorded as an error")
      ->default_val(3)
      ->check(CLI::Range(1, 100));
  cmd->add_option("--path-map", o->request.path_map,
                  "FROM=TO: the planner's folder FROM is mounted at TO on this machine; repeatable");
  cmd->add_option("--passes", o->request.max_passes,
                  "Take jobs of passes 1..N only (1 = first passes: every track searchable soon); later passes stay "
                  "queued for other workers or a later run (0 = every pass)")
      ->default_val(0)
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_flag("--until-done", o->request.until_done,
                "Exit 0 once no job (of passes 1..--passes) is left or leased (else run until stopped)");
  cmd->add_option("--poll", o->request.idle_poll_s, "Seconds between looks at an empty queue")
      ->default_val(5)
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_flag("--quiet,-q", o->request.quiet, "No per-file lines or summary on stderr");
  cmd->add_flag("--json", o->json, "Print the worker's summary as one JSON object on stdout");
  cmd->footer(
      "Every worker embeds with the index's model, windows and precision (a worker with another model refuses to\n"
      "start); the model must be reachable on this machine (hub cache or the same local path). Files are read at\n"
      "the paths the planner recorded, or where --path-map says. A worker killed or cut off loses its files after\n"
      "--lease seconds and another worker redoes them; nothing is stored twice or half. When the database restarts,\n"
      "workers retry with backoff (up to 10 minutes) and go on. SIGINT/SIGTERM: finish the files in hand, exit 0.\n"
      "Progress of the whole run from any machine: clapsearch status --db URL.");
  cmd->callback([o, &action] { action = [o] { return run_worker(*o); }; });
}

}  // namespace clap::cli
