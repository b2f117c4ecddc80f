// One function per subcommand: registers its options on the app and sets `action` to the
// code that runs when it is chosen. main.cpp only parses and dispatches.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "model/clap.h"

namespace clap::cli {

using Action = std::function<int()>;

void add_embed_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_index_command(CLI::App& app, Action& action);
void add_status_command(CLI::App& app, Action& action);
void add_doctor_command(CLI::App& app, Action& action);
void add_search_command(CLI::App& app, Action& action);
void add_like_command(CLI::App& app, Action& action);
void add_similar_command(CLI::App& app, Action& action);
void add_matrix_command(CLI::App& app, Action& action);
void add_analyze_command(CLI::App& app, Action& action);
void add_classify_command(CLI::App& app, Action& action);
void add_eval_command(CLI::App& app, Action& action);

// Shared helpers for front ends.
// `threads`: for the text-tower health check a model gets when it was just downloaded.
std::unique_ptr<ClapModel> open_model(const std::string& spec, int threads);
// A state for model calls with --threads, engine warnings printed to stderr ("warning: ...").
ClapState model_state(int threads);
std::string json_float(float v);  // shortest text that round-trips a float32
bool stderr_is_terminal();

}  // namespace clap::cli
