// One function per subcommand: registers its options on the app and sets `action` to the
// code that runs when it is chosen. main.cpp only parses and dispatches.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

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
void add_map_command(CLI::App& app, Action& action);
void add_serve_command(CLI::App& app, Action& action);
void add_convert_command(CLI::App& app, Action& action);
void add_finetune_command(CLI::App& app, Action& action);
void add_duplicates_command(CLI::App& app, Action& action);
void add_overlaps_command(CLI::App& app, Action& action);
void add_playlist_command(CLI::App& app, Action& action);
void add_path_command(CLI::App& app, Action& action);
void add_radio_command(CLI::App& app, Action& action);
void add_worker_command(CLI::App& app, Action& action);
void add_migrate_command(CLI::App& app, Action& action);
void add_models_command(CLI::App& app, Action& action);
void add_user_command(CLI::App& app, Action& action);
void add_history_command(CLI::App& app, Action& action);
void add_taste_command(CLI::App& app, Action& action);  // for_you.cpp
void add_mix_command(CLI::App& app, Action& action);
// Shell completion scripts and the man page, generated from `app` itself (completion.cpp).
void add_completion_command(CLI::App& app, Action& action);
void add_manpage_command(CLI::App& app, Action& action);

}  // namespace clap::cli
