// clapsearch doctor: check a model: identity (id, revision, folder), weights (sha256, size,
// parameter count), load time, and the health of its text tower. Exit status 3 when the text
// tower looks collapsed (every search would return the same order).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/sha256.h"
#include "index/hub.h"
#include "index/model_health.h"

namespace clap::cli {
namespace {

constexpr int kExitCollapsed = 3;

struct DoctorOptions {
  std::string model = index::kDefaultModel;
  bool json = false;
  int threads = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string with_commas(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

int run_doctor(const DoctorOptions& o) {
  namespace fs = std::filesystem;
  auto t0 = std::chrono::steady_clock::now();
  index::HubOptions hub_options;
  hub_options.quiet = false;
  const index::ResolvedModel resolved = index::resolve_model(o.model, hub_options);
  const double resolve_s = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  auto model = ClapModel::load(resolved.dir);
  const double load_s = seconds_since(t0);

  const std::string weights = (fs::path(resolved.dir) / "model.safetensors").string();
  const std::string sha = sha256_file(weights);
  const std::string hub_sha = index::cached_blob_sha256(weights);
  std::error_code ec;
  const auto file_bytes = static_cast<int64_t>(fs::file_size(weights, ec));

  bool checked = model->has_tokenizer();
  index::ModelHealth health;
  double health_s = 0;
  if (checked) {
    t0 = std::chrono::steady_clock::now();
    health = index::check_text_health(*model, o.threads);
    health_s = seconds_since(t0);
  }
  const bool collapsed = checked && health.collapsed;
  const std::string status = !checked ? "unchecked" : collapsed ? "collapsed" : "ok";

  if (o.json) {
    nlohmann::json j;
    j["model"] = resolved.id;
    j["revision"] = resolved.revision;
    j["dir"] = resolved.dir;
    j["weights_file"] = weights;
    j["weights_sha256"] = sha;
    j["weights_sha256_matches_hub"] = hub_sha.empty() ? nlohmann::json(nullptr) : nlohmann::json(hub_sha == sha);
    j["weights_file_bytes"] = file_bytes;
    j["parameters"] = model->parameter_count();
    j["weight_bytes"] = model->weight_bytes();
    j["weight_mb"] = static_cast<double>(model->weight_bytes()) / 1e6;
    j["embedding_dim"] = model->embedding_dim();
    j["resolve_seconds"] = resolve_s;
    j["load_seconds"] = load_s;
    nlohmann::json h;
    h["prompts"] = index::health_prompts();
    h["threshold"] = index::kCollapsedCosine;
    if (checked) {
      h["mean_pairwise_cosine"] = health.mean_pairwise_cosine;
      h["max_pairwise_cosine"] = health.max_pairwise_cosine;
      h["collapsed"] = health.collapsed;
      h["seconds"] = health_s;
    } else {
      h["mean_pairwise_cosine"] = nullptr;
      h["collapsed"] = nullptr;
    }
    j["text_health"] = h;
    j["status"] = status;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model        %s\n", resolved.id.c_str());
    std::printf("revision     %s\n", resolved.revision.c_str());
    std::printf("folder       %s\n", resolved.dir.c_str());
    std::printf("weights      %s (%.1f MB)\n", weights.c_str(), static_cast<double>(file_bytes) / 1e6);
    std::printf("sha256       %s%s\n", sha.c_str(),
                hub_sha.empty() ? "" : hub_sha == sha ? " (matches the hub)" : " (DOES NOT MATCH the hub's checksum!)");
    std::printf("parameters   %s (%.1f MB of weights)\n", with_commas(model->parameter_count()).c_str(),
                static_cast<double>(model->weight_bytes()) / 1e6);
    std::printf("load time    %.2f s\n", load_s);
    if (!checked)
      std::printf("text tower   not checked (no tokenizer)\n");
    else
      std::printf("text tower   %s (mean pairwise cosine %.4f of %zu unrelated prompts; collapsed above %.2f)\n",
                  collapsed ? "COLLAPSED" : "ok", health.mean_pairwise_cosine, index::health_prompts().size(),
                  index::kCollapsedCosine);
  }
  std::fflush(stdout);
  if (!hub_sha.empty() && hub_sha != sha)
    std::fprintf(stderr, "clapsearch: WARNING: %s does not match the sha256 the hub reported (%s): the cached file was "
                 "modified or corrupted; delete it and run again\n", weights.c_str(), hub_sha.c_str());
  if (collapsed) {
    std::fprintf(stderr, "\n%s\n\n", index::collapsed_warning(resolved.id, health).c_str());
    return kExitCollapsed;
  }
  return 0;
}

}  // namespace

void add_doctor_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DoctorOptions>();
  CLI::App* cmd = app.add_subcommand("doctor", "Check a model: identity, weights hash, text-tower health");
  cmd->add_option("--model,-m", o->model, "Model folder or hub id (org/name[@revision])")->default_val(index::kDefaultModel);
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->add_option("--threads", o->threads, "Threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->footer(
      "Reports the model id, revision (commit) and folder, the sha256 of model.safetensors (and whether it matches\n"
      "the checksum the hub reported), the parameter count and the load time, then embeds a fixed set of unrelated\n"
      "prompts: if their mean pairwise cosine is above 0.95 the text tower is collapsed (every search would return\n"
      "the same order) and the exit status is 3.");
  cmd->callback([o, &action] { action = [o] { return run_doctor(*o); }; });
}

}  // namespace clap::cli
