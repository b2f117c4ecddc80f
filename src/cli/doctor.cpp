// clapsearch doctor: check a model: identity (id, revision, folder), weights (sha256, size,
// parameter count), load time, and the health of its text tower. Exit status 3 when the text
// tower looks collapsed (every search would return the same order). And the music-only rule in
// effect with how many tracks of the index at --db it leaves out (service::library_status, as
// `status` counts them; an index that cannot be opened is reported, not an error).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/fidelity.h"
#include "service/records.h"
#include "core/error.h"
#include "core/isa.h"
#include "hub/hub.h"
#include "index/identity.h"
#include "service/doctor.h"
#include "service/embedding_sets.h"
#include "service/status.h"
#include "store/store.h"

namespace clap::cli {
namespace {

constexpr int kExitCollapsed = 3;

struct DoctorOptions {
  std::string model = hub::kDefaultModel;
  bool model_given = false;  // --model on the command line (or the settings file)
  bool precision_given = false;  // --precision given: --fidelity compares that one (else: the auto table)
  std::string config, tokenizer;
  std::string db;  // the index whose tracks the music-only rule is counted over
  bool json = false;
  bool fix_reused_ids = false;  // --fix-reused-ids: detach user data on track ids given again, and nothing else
  int threads = 0;
  FidelityOptions fidelity;  // --fidelity DIR...: a lower precision against fp32 on this audio
};

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

// The music-only rule over the index at `db`: the tracks it leaves out, or why they could not be
// counted (no index there).
struct ExcludeReport {
  std::string db;
  int64_t tracks = -1;  // -1: not counted
  std::string error;
};

ExcludeReport exclude_report(const std::string& db) {
  ExcludeReport r;
  try {
    // (the count alone: the embeddings are not looked at, `status` does)
    const service::LibraryStatus st = service::library_status(db, exclude_rule(), service::EmbeddingCheck::None);
    r.db = st.db_path;
    r.tracks = st.excluded;
  } catch (const Error& e) {
    r.db = store::display_location(store::resolve_location(db));
    r.error = e.what();
  }
  return r;
}

// User data on track ids given again (service::reused_track_ids): one line per recording, at most
// `limit`, then how many more.
void print_reused(const service::ReusedIdReport& reused, size_t limit) {
  for (size_t i = 0; i < reused.found.size() && i < limit; ++i) {
    const store::Store::Misattached& m = reused.found[i];
    std::printf("             %lld %s of %s shown on %s (track %lld)\n", static_cast<long long>(m.rows), m.table.c_str(),
                terminal_text(m.song.path).c_str(), terminal_text(m.shown_on).c_str(), static_cast<long long>(m.song.track_id));
  }
  if (reused.found.size() > limit) std::printf("             ... and %zu more\n", reused.found.size() - limit);
}

int run_fix_reused_ids(const DoctorOptions& o) {
  const service::ReusedIdReport before = service::reused_track_ids(o.db);
  if (!before.error.empty()) throw Error(before.error);
  const int64_t moved = service::detach_reused_track_ids(o.db);
  if (o.json) {
    std::printf("%s\n", service::json_text(nlohmann::json{{"db", before.db}, {"detached_rows", moved}}, 2).c_str());
  } else {
    std::printf("detached %lld row%s of user data from track ids given to other files, in %s\n", static_cast<long long>(moved),
                moved == 1 ? "" : "s", terminal_text(before.db).c_str());
    if (moved > 0)
      std::printf("kept, not deleted: they are shown again when their recording is indexed again (by content hash or path)\n");
  }
  return 0;
}

int run_doctor(const DoctorOptions& o) {
  if (o.fix_reused_ids) return run_fix_reused_ids(o);
  if (!o.fidelity.dirs.empty()) {
    FidelityOptions f = o.fidelity;
    f.model = o.model;
    f.config = o.config;
    f.tokenizer = o.tokenizer;
    f.threads = o.threads;
    f.json = o.json;
    if (f.precision == "auto" || (!o.precision_given && f.text_precision == "fp32")) return run_precision_table(f);
    return run_fidelity(f);
  }
  if (o.fidelity.precision != "fp32" || o.fidelity.text_precision != "fp32")
    throw InvalidArgument("--precision and --text-precision go with --fidelity DIR... (the folders whose audio the report uses)");
  service::DoctorReport r;
  std::string model = o.model;
  hub::HubOptions hub_options;
  hub_options.config = o.config;
  hub_options.tokenizer = o.tokenizer;
  // `doctor --db INDEX` checks the model of that index (its active set), as every query there
  // loads it, not the default hub model (issue 53, L15). An index that cannot be opened keeps
  // the default: its error is reported below with the music-only count.
  if (!o.model_given && !o.db.empty()) {
    try {
      for (const store::EmbeddingSet& set : service::list_embedding_sets(o.db))
        if (set.active) {
          model = index::model_spec_of(set.identity);
          const hub::HubOptions recorded = index::hub_options_of(set.identity);
          if (hub_options.config.empty()) hub_options.config = recorded.config;
          if (hub_options.tokenizer.empty()) hub_options.tokenizer = recorded.tokenizer;
        }
    } catch (const Error& e) {
      // Said now, not only after the model check: when the default model cannot load either
      // (offline, not in the cache), that error was all `doctor --db INDEX` said (hostile pass 8).
      print_warning(o.db + ": cannot read the index's model (" + e.what() + "); checking " +
                    model + " instead");
    }
  }
  try {
    r = service::check_model(model, o.threads, hub_options);
  } catch (const Error& e) {
    if (!o.json) throw;
    // A script asked for JSON: it gets a document saying what failed (and the exit status).
    std::printf("%s\n", service::json_text(nlohmann::json{{"model", model}, {"status", "error"}, {"error", e.what()}}, 2).c_str());
    std::fprintf(stderr, "clapsearch: error: %s\n", error_lines(e.what()).c_str());
    return 1;
  }
  const ExcludeReport excluded = exclude_report(o.db);
  const service::ReusedIdReport reused = service::reused_track_ids(o.db);
  const bool checked = r.health_checked;
  const bool collapsed = r.collapsed();
  const service::ModelHealth& health = r.health;
  const std::string status = !checked ? "unchecked" : collapsed ? "collapsed" : "ok";

  if (o.json) {
    nlohmann::json j;
    j["model"] = r.id;
    j["revision"] = r.revision;
    j["dir"] = r.dir;
    j["weights_file"] = r.weights_file;
    j["weights_format"] = r.weights_format;
    j["weights_sha256"] = r.weights_sha256;
    j["weights_sha256_matches_hub"] = r.hub_sha256.empty() ? nlohmann::json(nullptr) : nlohmann::json(!r.hub_checksum_mismatch());
    j["weights_file_bytes"] = r.weights_file_bytes;
    j["parameters"] = r.parameters;
    j["weight_bytes"] = r.weight_bytes;
    j["weight_mb"] = static_cast<double>(r.weight_bytes) / 1e6;
    j["embedding_dim"] = r.embedding_dim;
    j["resolve_seconds"] = r.resolve_seconds;
    j["load_seconds"] = r.load_seconds;
    j["kernels"] = {{"fp32", r.kernel_fp32}, {"bf16", r.kernel_bf16}, {"int8", r.kernel_int8}};
    j["precision_advice"] = r.precision_advice;
    j["kernel_set"] = {{"level", isa_level_name(isa_level())},
                       {"reason", isa_level_reason()},
                       {"cpu_best", isa_level_name(cpu_isa_level())}};
    j["blas"] = {{"library", r.blas_library}, {"optimised", r.blas_optimised}};
    nlohmann::json h;
    h["prompts"] = service::health_prompts();
    h["threshold"] = service::kCollapsedCosine;
    if (checked) {
      h["mean_pairwise_cosine"] = health.mean_pairwise_cosine;
      h["max_pairwise_cosine"] = health.max_pairwise_cosine;
      h["collapsed"] = health.collapsed;
      h["seconds"] = r.health_seconds;
    } else {
      h["mean_pairwise_cosine"] = nullptr;
      h["collapsed"] = nullptr;
    }
    j["text_health"] = h;
    j["exclude"] = {{"rule", exclude_rule_text()},
                    {"db", excluded.db},
                    {"tracks", excluded.tracks >= 0 ? nlohmann::json(excluded.tracks) : nlohmann::json(nullptr)}};
    if (!excluded.error.empty()) j["exclude"]["error"] = excluded.error;
    nlohmann::json found = nlohmann::json::array();
    for (const store::Store::Misattached& m : reused.found)
      found.push_back({{"table", m.table}, {"track_id", m.song.track_id}, {"path", m.song.path},
                       {"content_hash", m.song.content_hash}, {"shown_on", m.shown_on}, {"rows", m.rows}});
    j["reused_track_ids"] = {{"db", reused.db}, {"rows", reused.error.empty() ? nlohmann::json(reused.rows) : nlohmann::json(nullptr)},
                             {"found", found}};
    if (!reused.error.empty()) j["reused_track_ids"]["error"] = reused.error;
    j["status"] = status;
    std::printf("%s\n", service::json_text(j, 2).c_str());
  } else {
    // Names given or read from the hub cache's refs go through terminal_text (H15C-4's siblings).
    std::printf("model        %s\n", terminal_text(r.id).c_str());
    std::printf("revision     %s\n", terminal_text(r.revision).c_str());
    std::printf("folder       %s\n", terminal_text(r.dir).c_str());
    std::printf("weights      %s (%.1f MB, %s)\n", terminal_text(r.weights_file).c_str(), static_cast<double>(r.weights_file_bytes) / 1e6,
                r.weights_format.c_str());
    std::printf("sha256       %s%s\n", r.weights_sha256.c_str(),
                r.hub_sha256.empty() ? "" : !r.hub_checksum_mismatch() ? " (matches the hub)" : " (DOES NOT MATCH the hub's checksum!)");
    std::printf("parameters   %s (%.1f MB of weights)\n", with_commas(r.parameters).c_str(),
                static_cast<double>(r.weight_bytes) / 1e6);
    std::printf("load time    %.2f s\n", r.load_seconds);
    std::printf("kernel set   %s (%s)\n", isa_level_name(isa_level()), isa_level_reason().c_str());
    std::printf("kernels      fp32 %s, bf16 %s, int8 %s\n", r.kernel_fp32.c_str(), r.kernel_bf16.c_str(),
                r.kernel_int8.c_str());
    if (!r.precision_advice.empty()) std::printf("precisions   %s\n", r.precision_advice.c_str());
    std::printf("BLAS         %s%s\n", r.blas_library.empty() ? "(none)" : r.blas_library.c_str(),
                r.blas_optimised ? "" : " (the REFERENCE BLAS: vector-index builds will be very slow)");
    if (!checked)
      std::printf("text tower   not checked (no tokenizer)\n");
    else
      std::printf("text tower   %s (mean pairwise cosine %.4f of %zu unrelated prompts; collapsed above %.2f)\n",
                  collapsed ? "COLLAPSED" : "ok", health.mean_pairwise_cosine, service::health_prompts().size(),
                  service::kCollapsedCosine);
    if (exclude_rule().empty())
      std::printf("%s\n", exclude_rule_line(0).c_str());
    else if (excluded.tracks >= 0)
      std::printf("%s, in %s\n", exclude_rule_line(excluded.tracks).c_str(), terminal_text(excluded.db).c_str());
    else
      std::printf("exclude   %s (tracks not counted: %s)\n", terminal_text(exclude_rule_text()).c_str(),
                  error_lines(excluded.error).c_str());
    if (reused.error.empty() && reused.rows == 0) {
      std::printf("user data    ok (no star, rating, play, playlist, queue or bookmark entry on a track id given again)\n");
    } else if (reused.error.empty()) {
      std::printf("user data    %lld row%s on track ids given to other files (an index of before the fix of K6-1):\n",
                  static_cast<long long>(reused.rows), reused.rows == 1 ? "" : "s");
      print_reused(reused, 10);
    }
  }
  std::fflush(stdout);
  if (r.hub_checksum_mismatch())
    std::fprintf(stderr, "clapsearch: WARNING: %s does not match the sha256 the hub reported (%s): the cached file was "
                 "modified or corrupted; delete it and run again\n", r.weights_file.c_str(), r.hub_sha256.c_str());
  if (reused.rows > 0)
    std::fprintf(stderr,
                 "clapsearch: WARNING: %lld row%s of user data in %s show on songs they were not made for; "
                 "`clapsearch doctor --fix-reused-ids --db %s` detaches them (kept, never deleted)\n",
                 static_cast<long long>(reused.rows), reused.rows == 1 ? "" : "s", terminal_text(reused.db).c_str(),
                 terminal_text(reused.db).c_str());
  if (collapsed) {
    std::fprintf(stderr, "\n%s\n\n", service::collapsed_warning(r.id, health).c_str());
    return kExitCollapsed;
  }
  return 0;
}

}  // namespace

void add_doctor_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand("doctor", "Check a model: identity, weights hash, text-tower health");
  cmd->add_option("--model,-m", o->model, kModelHelp)->default_val(hub::kDefaultModel);
  add_checkpoint_options(cmd, o->config, o->tokenizer);
  cmd->add_option("--db", o->db,
                  "Index whose tracks the music-only rule is counted over (default: $CLAPSEARCH_DB, else "
                  "$XDG_DATA_HOME/clapsearch/library.db)");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_flag("--fix-reused-ids", o->fix_reused_ids,
                "Instead of the model check: detach the user data (stars, ratings, plays, playlist, queue and "
                "bookmark entries) that shows on another song because its track id was given again (indexes made "
                "before that was fixed); the rows are kept, never deleted, and come back with their recording");
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  add_precision_option(cmd, o->fidelity.precision, " (with --fidelity; default: the table of all three, as auto)", true);
  add_text_precision_option(cmd, o->fidelity.text_precision);
  cmd->add_option("--fidelity", o->fidelity.dirs,
                  "Instead of the model check: embed every window of the audio under these folders with --precision "
                  "and with fp32 (and the query texts with --text-precision and with fp32) and report how far "
                  "embeddings and top-k rankings move; repeatable");
  cmd->add_option("--top", o->fidelity.top, "With --fidelity: k of the top-k lists compared")
      ->default_val(10)
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--batch", o->fidelity.batch, "With --fidelity: windows per model call")
      ->default_val(8)
      ->check(CLI::Range(1, 1024));
  cmd->footer(
      "Reports the model id, revision (commit) and folder, the sha256 of model.safetensors (and whether it matches\n"
      "the checksum the hub reported), the parameter count and the load time, then embeds a fixed set of unrelated\n"
      "prompts: if their mean pairwise cosine is above 0.95 the text tower is collapsed (every search would return\n"
      "the same order) and the exit status is 3. Then the music-only rule in effect (--exclude-rule, the settings\n"
      "file's exclude-rule) and how many tracks of the index at --db it leaves out, as `status` counts them.\n"
      "With --db and without --model, the model checked is that index's (the model its queries load).\n"
      "It also reports user data on a track id given again (an index made before that was fixed showed a deleted\n"
      "song's stars and plays on the next file added); --fix-reused-ids detaches those rows, keeping them.\n"
      "With --fidelity DIR..., instead: the report of how far --precision (or --text-precision) bf16 or int8 moves\n"
      "this model's embeddings and top-k rankings from fp32 on the audio under DIR (`bench --fidelity` before);\n"
      "without --precision (or with --precision auto), the table `index --precision auto` chooses from: fp32, bf16\n"
      "and int8 on a sample of that audio (up to 32 windows of 16 tracks), each with its worst window cosine, top-10\n"
      "agreement and time per window on this machine, and which one auto would choose or why not.");
  cmd->callback([o, cmd, &action] {
    o->model_given = cmd->count("--model") > 0;
    o->precision_given = cmd->count("--precision") > 0;
    action = [o] { return run_doctor(*o); };
  });
}

}  // namespace clap::cli
