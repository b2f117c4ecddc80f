// clapsearch status: what the index holds (counts, audio hours, model, size, recorded errors).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/fidelity.h"
#include "service/records.h"
#include "core/error.h"
#include "service/status.h"

namespace clap::cli {
namespace {

struct StatusOptions {
  std::string db;
  bool errors = false, json = false, check = false;
};

std::string size_text(int64_t bytes) {
  char buf[32];
  if (bytes < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1024.0);
  else if (bytes < 1024LL * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1073741824.0);
  return buf;
}

// A damaged index is reported whole (stdout), then named as an error: exit status 1.
int damaged_status(const service::LibraryStatus& st) {
  if (st.damaged.empty()) return 0;
  std::fflush(stdout);
  std::fprintf(stderr, "clapsearch: error: %s\n", terminal_text(st.damaged).c_str());
  return 1;
}

int run_status(const StatusOptions& o) {
  const service::LibraryStatus st = service::library_status(o.db, exclude_rule(), o.check ? service::EmbeddingCheck::Values : service::EmbeddingCheck::Sizes);
  const std::string& db_path = st.db_path;
  const store::Counts& c = st.counts;
  const service::Coverage coverage = service::library_coverage(c);
  const auto& model = st.model;
  const auto& errors = st.errors;
  const auto& roots = st.roots;
  if (o.json) {
    nlohmann::json errs = nlohmann::json::array();
    for (const auto& e : errors) errs.push_back({{"path", e.path}, {"reason", e.reason}});
    nlohmann::json m = nullptr;
    if (model)
      m = {{"id", model->id},       {"revision", model->revision}, {"config_hash", model->config_hash},
           {"content_hash", model->content_hash.empty() ? nlohmann::json(nullptr) : nlohmann::json(model->content_hash)},
           {"audio_hash", model->audio_hash.empty() ? nlohmann::json(nullptr) : nlohmann::json(model->audio_hash)},
           {"window_s", model->window_s}, {"hop_s", model->hop_s},  {"dim", model->dim},
           {"silence_db", model->silence_db}, {"precision", model->precision}};
    if (model) {  // how --precision auto chose the precision (null: it was given)
      m["precision_choice"] = nlohmann::json::parse(model->precision_choice, nullptr, false);
      if (m["precision_choice"].is_discarded() || !m["precision_choice"].is_object()) m["precision_choice"] = nullptr;
    }
    nlohmann::json j = {{"db", db_path},
                        {"db_bytes", st.db_bytes},
                        {"schema_version", st.schema_version},
                        {"generation", st.generation},
                        {"tracks", c.tracks},
                        {"ok", c.ok},
                        {"error_count", c.errors},
                        {"silent_tracks", c.silent_tracks},
                        {"windows", c.windows},
                        {"silent_windows", c.silent_windows},
                        {"coverage", {{"windows", coverage.windows},
                                      {"window_total", coverage.window_total},
                                      {"fraction", coverage.fraction},
                                      {"complete_tracks", coverage.complete_tracks},
                                      {"first_pass_tracks", coverage.first_pass_tracks},
                           {"text", service::coverage_text(coverage)}}},
                        {"audio_seconds", st.durations_damaged ? nlohmann::json(nullptr) : nlohmann::json(c.audio_seconds)},
                        {"audio_hours", st.durations_damaged ? nlohmann::json(nullptr) : nlohmann::json(c.audio_seconds / 3600)},
                        {"model", m},
                        {"roots", roots},
                        {"errors", errs}};
    j["exclude"] = {{"rule", exclude_rule_text()}, {"tracks", st.excluded}};  // the music-only rule
    j["speech"] = {{"scored", st.speech_scored}, {"above_half", st.speech_above_half}};
    j["embedding_sets"] = nlohmann::json::array();
    for (const store::EmbeddingSet& e : st.sets) j["embedding_sets"].push_back(service::embedding_set_record<nlohmann::json>(e));
    if (st.jobs)
      j["jobs"] = {{"pending", st.jobs->pending}, {"leased", st.jobs->leased}, {"expired_leases", st.jobs->expired},
                   {"done", st.jobs->done},       {"failed", st.jobs->failed}};
    // File names need not be UTF-8: invalid bytes become U+FFFD rather than aborting the output.
    // null, or what is damaged with the way out (a stored track embedding: R9C-1).
    j["damaged"] = st.damaged.empty() ? nlohmann::json(nullptr) : nlohmann::json(st.damaged);
    std::printf("%s\n", service::json_text(j, 2).c_str());
    return damaged_status(st);
  }
  std::printf("index     %s (%s, schema %d)\n", db_path.c_str(), size_text(st.db_bytes).c_str(),
              st.schema_version);
  std::error_code fs_error;
  if (model)
    // The id and revision as the index holds them: through terminal_text, as every name read from
    // the index (hostile pass 15, H15C-4: an ESC there cleared the screen or set the title). A
    // model path that is a loop of links is no checkpoint file, not a filesystem_error.
    std::printf("model     %s%s\n          window %g s, hop %g s, silence below %g dBFS, %d-d embeddings, %s audio tower\n",
                terminal_text(model->id).c_str(),
                model->revision != "local"                          ? ("@" + terminal_text(model->revision)).c_str()
                : std::filesystem::is_regular_file(model->id, fs_error) ? " (checkpoint file)"
                                                                    : " (local folder)",
                model->window_s, model->hop_s, model->silence_db, model->dim, model->precision.c_str());
  else
    std::printf("model     (none yet)\n");
  if (model)
    if (const auto choice = service::parse_precision_choice(model->precision_choice)) {
      const std::vector<std::string> lines = precision_choice_lines(*choice);
      for (size_t i = 0; i < lines.size(); ++i) std::printf("%s%s\n", i ? "            " : "precision ", lines[i].c_str());
    }
  std::printf("tracks    %lld (%lld ok, %lld errors", static_cast<long long>(c.tracks), static_cast<long long>(c.ok),
              static_cast<long long>(c.errors));
  if (c.silent_tracks) std::printf(", of which %lld silent", static_cast<long long>(c.silent_tracks));
  std::printf(")\nwindows   %lld (%lld silent, not searched)\n", static_cast<long long>(c.windows),
              static_cast<long long>(c.silent_windows));
  if (c.ok > 0)  // how much is embedded: progressive indexing embeds a few windows a track first
    std::printf("coverage  %s%s\n", service::coverage_text(coverage).c_str(),
                coverage.complete() ? "" : ": `clapsearch index` continues");
  if (st.durations_damaged)  // named below as damage, not totalled as if it were the ok tracks' audio
    std::printf("audio     unknown: a track's stored duration is damaged (below)\n");
  else
    std::printf("audio     %s in the tracks that are searched (ok)\n", audio_text(c.audio_seconds).c_str());
  std::printf("%s\n", exclude_rule_line(st.excluded).c_str());
  if (c.ok > 0)  // index/speech.h: computed at the end of each index run
    std::printf("speech    %lld of %lld tracks scored, %lld above 0.5 (--where 'speech > 0.5'; the score needs a real CLAP model)\n",
                static_cast<long long>(st.speech_scored), static_cast<long long>(c.ok), static_cast<long long>(st.speech_above_half));
  if (st.sets.size() > 1)  // another model's embeddings beside the active set's (index --model, clapsearch models)
    for (const store::EmbeddingSet& e : st.sets)
      std::printf("%s %s\n", &e == &st.sets.front() ? "sets     " : "         ", set_summary(e).c_str());
  for (size_t i = 0; i < roots.size(); ++i) std::printf("%s %s\n", i ? "         " : "folders  ", terminal_text(roots[i]).c_str());
  if (st.jobs && st.jobs->total() > 0) {
    const store::JobCounts& j = *st.jobs;
    std::printf("jobs      %lld of %lld done (%lld failed), %lld being embedded, %lld waiting", static_cast<long long>(j.done + j.failed),
                static_cast<long long>(j.total()), static_cast<long long>(j.failed), static_cast<long long>(j.leased),
                static_cast<long long>(j.pending));
    if (j.expired) std::printf("; %lld leases ran out (a worker died: taken again by the next worker)", static_cast<long long>(j.expired));
    std::printf("\n");
  }
  if (o.errors) {
    if (errors.empty()) std::printf("no recorded errors\n");
    else std::printf("errors:\n");
    for (const auto& e : errors) std::printf("  %s: %s\n", terminal_text(e.path).c_str(), terminal_text(e.reason).c_str());
  } else if (!errors.empty()) {
    std::printf("(clapsearch status --errors lists the %zu files that could not be indexed)\n", errors.size());
  }
  if (!st.damaged.empty()) std::printf("damaged   %s\n", terminal_text(st.damaged).c_str());
  return damaged_status(st);
}

}  // namespace

void add_status_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand("status", "Show what the index holds: counts, audio hours, model, recorded errors");
  cmd->add_option("--db", o->db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
  cmd->add_flag("--errors", o->errors, "List the files that could not be indexed, with the reason");
  cmd->add_flag("--check", o->check,
                "Read every stored track embedding back and check its values (finite, of unit length), which finds "
                "an embedding of the right size holding NaN or garbage; without it only their sizes are checked, "
                "as the database keeps them (fast: nothing is read)");
  cmd->add_flag("--json", o->json,
                "One JSON object: tracks, ok, error_count, silent_tracks, windows, silent_windows, audio_seconds (null "
                "when a stored duration is damaged: damaged names it), "
                "model (its precision_choice: how --precision auto chose, or null), roots, db_bytes, errors [{path, reason}], embedding_sets [{id, model, revision, precision, dim, "
                "active, windows, covered_windows, tracks, covered_tracks, complete, fraction}], damaged (null, or what is damaged "
                "among the stored track embeddings, with the way out: the exit status is then 1)");
  cmd->callback([o, &action] { action = [o] { return run_status(*o); }; });
}

}  // namespace clap::cli
