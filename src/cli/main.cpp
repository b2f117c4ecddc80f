// clapsearch command line: parses arguments and dispatches to one file per subcommand.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

// OpenMP threads that spin while waiting collapse throughput as soon as anything else wants
// a core (measured: 11.8-GFLOP window 3.0 s spinning vs 0.38 s passive with the machine's
// other core busy) - and the indexer's own decode thread always does. Sleeping at once costs
// a futex wake-up (~70 us here) per parallel region instead, which the text tower (about 90
// regions per query) feels: a short spin of 2000 rounds (tens of microseconds) took a query
// from 15.8 to 12.8 ms on an idle machine and left audio under load unchanged. libgomp reads
// these once when it loads, so unless the user chose a policy, restart once with them set.
static void ensure_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  if (std::getenv("GOMP_SPINCOUNT") == nullptr) setenv("GOMP_SPINCOUNT", "2000", 1);
  execv("/proc/self/exe", argv);  // on failure, carry on with the default policy
}

int main(int argc, char** argv) {
  ensure_openmp_wait_policy(argv);
  CLI::App app{"clapsearch: neural music search with CLAP (text -> songs, songs -> songs), native and fast on CPU"};
  app.set_version_flag("--version", "clapsearch 0.1.0");
  app.require_subcommand(1);
  clap::cli::Action action;
  clap::cli::add_embed_command(app, action);
  clap::cli::add_bench_command(app, action);
  clap::cli::add_index_command(app, action);
  clap::cli::add_status_command(app, action);
  clap::cli::add_doctor_command(app, action);
  clap::cli::add_search_command(app, action);
  clap::cli::add_like_command(app, action);
  clap::cli::add_similar_command(app, action);
  clap::cli::add_matrix_command(app, action);
  clap::cli::add_analyze_command(app, action);
  clap::cli::add_classify_command(app, action);
  clap::cli::add_eval_command(app, action);
  clap::cli::add_serve_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  int status = 0;
  try {
    status = action ? action() : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clapsearch: error: %s\n", e.what());
    status = 1;
  }
  // Everything a command printed reached stdout, or the run fails (a full disk, a closed pipe).
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "clapsearch: error: cannot write to standard output (%s)\n", std::strerror(errno));
    return status ? status : 1;
  }
  return status;
}
