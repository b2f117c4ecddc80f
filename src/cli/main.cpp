// clapsearch command line: parses arguments and dispatches to one file per subcommand.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <exception>
#include <new>
#include <utility>
#include <vector>

#include "cli/cli_tree.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/config_file.h"
#include "cli/suggest.h"
#include "cli/version.h"
#include "core/error.h"
#include "core/isa.h"

// OpenMP threads that spin while waiting collapse throughput as soon as anything else wants
// a core (measured: 11.8-GFLOP window 3.0 s spinning vs 0.38 s passive with the machine's
// other core busy) - and the indexer's own decode thread always does. Sleeping at once costs
// a futex wake-up (~70 us here) per parallel region instead, which the text tower (about 90
// regions per query) feels: a short spin of 2000 rounds (tens of microseconds) took a query
// from 15.8 to 12.8 ms on an idle machine and left audio under load unchanged. libgomp reads
// these once when it loads, so unless the user chose a policy, restart once with them set.
// Only a command that runs restarts: each start loads ~150 shared libraries (FFmpeg's share
// alone ~0.3 s on a loaded 2-core machine), and --help, --version and a usage error run no
// OpenMP, so they start once.
static void ensure_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  if (std::getenv("GOMP_SPINCOUNT") == nullptr) setenv("GOMP_SPINCOUNT", "2000", 1);
  // The executable's real path, not /proc/self/exe: the process name that ps and top show
  // is the executed file's name ("exe" otherwise).
  execv(clap::cli::self_executable().c_str(), argv);  // on failure, carry on with the default policy
}

// In a command with positional arguments, a repeatable option takes one value per occurrence:
// `--include '*.flac' DIR` must leave DIR to the positional argument instead of reading it as a
// second glob. One rule for every such command (bench's `--vectors 10000 100000`, with nothing
// positional to swallow, keeps its value lists).
static void one_value_per_occurrence(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    const std::vector<CLI::Option*> options = sub->get_options();
    const bool has_positional =
        std::any_of(options.begin(), options.end(), [](const CLI::Option* o) { return o->get_positional(); });
    if (has_positional)
      for (CLI::Option* opt : options)
        if (opt->nonpositional() && opt->get_expected_max() > 1) opt->allow_extra_args(false);
    one_value_per_occurrence(*sub);
  }
}

// A usage error's line, and the pointer to --help unless the line already names the command's
// own `--help` ("`clapsearch radio --help` lists what it takes": hostile pass 15, R15P-1, where
// "Run with --help for more information." then said it a second time). `text` is shown safely.
static void print_usage_error(const std::string& text) {
  std::fprintf(stderr, "clapsearch: error: %s\n%s", text.c_str(),
               text.find(" --help`") == std::string::npos ? "Run with --help for more information.\n" : "");
}

// CLI11's words for an option given more values than it takes ("--top: At Most 1 required but
// received 2": `-k 1 -k 2`, a settings file's `top = [1, 2]`) in the CLI's own (hostile pass 12,
// H12C-5; issue 53's L10 and L19 named the same words for other causes).
static std::string one_value_wording(std::string text) {
  static const std::regex at_most("At Most ([0-9]+) required but received ([0-9]+)");
  std::smatch m;
  if (!std::regex_search(text, m, at_most)) return text;
  const std::string takes = m[1] == "1" ? "takes one value" : "takes at most " + m[1].str() + " values";
  return m.prefix().str() + takes + ", " + m[2].str() + " were given" + m.suffix().str();
}

// Every number option, in every command, must be a plain decimal number. CLI11 (2.1) reads
// integers with strtoll base 0, so `-k 010` would be 8 and `0x10` 16, and an integer too large
// for 64 bits silently became the largest one; its range checks let NaN through (every
// comparison with it is false) and read 1e400 as infinity, and strtod takes hexadecimal floats.
// One check here instead of one per option. Returns the message for the first bad value ("" when none).
static std::string bad_number(const std::string& value, bool integer, bool is_unsigned) {
  const std::string shown = value.size() > 24 ? value.substr(0, 24) + "..." : value;
  if (value.find_first_of("xX") != std::string::npos) return shown + " is not a decimal number";
  errno = 0;
  char* end = nullptr;
  if (integer) {
    const size_t digits = value.find_first_not_of("+-") == std::string::npos ? 0 : value.find_first_not_of("+-");
    if (digits > 1 || value.size() == digits || value.find_first_not_of("0123456789", digits) != std::string::npos)
      return shown + " is not a whole number";
    if (value.size() > digits + 1 && value[digits] == '0') return shown + ": write whole numbers without leading zeros";
    // An unsigned option (finetune --seed) read "-1" as 2^64-1, in silence (hostile pass 9, H9C-7).
    if (is_unsigned && value[0] == '-' && value.find_first_not_of('0', 1) != std::string::npos)
      return shown + " is below 0 (a whole number 0 or more)";
    // An unsigned option takes up to 2^64-1 (finetune --seed 18446744073709551615 was "out of range").
    if (is_unsigned) (void)std::strtoull(value.c_str(), &end, 10);
    else (void)std::strtoll(value.c_str(), &end, 10);
    if (errno == ERANGE) return shown + " is out of range";
    return "";
  }
  const double x = std::strtod(value.c_str(), &end);
  if (!std::isfinite(x)) return shown + " is not a finite number";
  // strtod's ERANGE for a finite value is an underflow (1e-320): finite, but too near 0 (H9C-7).
  if (errno == ERANGE) return shown + " is too close to 0 (a double's smallest normal value is about 2.2e-308)";
  return "";
}

static std::string bad_number_option(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->count() == 0) continue;
      const std::string type = opt->get_type_name();
      const bool is_unsigned = type.rfind("UINT", 0) == 0;
      const bool integer = type.rfind("INT", 0) == 0 || is_unsigned;
      if (!integer && type.rfind("FLOAT", 0) != 0) continue;
      for (const std::string& v : opt->results()) {
        const std::string bad = bad_number(v, integer, is_unsigned);
        if (!bad.empty()) return opt->get_name() + ": " + bad;
      }
    }
    const std::string nested = bad_number_option(*sub);
    if (!nested.empty()) return nested;
  }
  return "";
}

// An output named by an empty text (`--csv "$OUT"` with OUT unset) was taken as not given: the
// table went to the terminal, `--m3u ''` wrote no file, `serve --token-file ''` served without a
// token, all in silence (hostile pass 8). An output or secret file typed empty is an error here,
// for every command; a settings file's empty value still means "not set". So is every other
// name an empty text meant "not given" for (options16): `--db ''` used the default index (and
// `index --db ''` filled it), `--password-file ''` fell back to $MPD_PASSWORD or standard input,
// `--model ''`, `--music-dir ''` and `serve --host ''` ("serving on  (not loopback)") the same.
// And `--where "$FILTER"` with FILTER unset (or blank) searched every track as if no filter had
// been given, exit 0 (hostile pass 20, H20C-4): named too.
static std::string empty_file_option(const CLI::App& app, int argc, char** argv) {
  static const char* const kOutput = "an empty name (name a file, or - for standard output where the option allows it)";
  static const char* const kLeaveOut = "an empty name (name one, or leave the option out for the default)";
  static const std::pair<const char*, const char*> kNamed[] = {
      {"--csv", kOutput}, {"--m3u", kOutput}, {"--output", kOutput}, {"-o", kOutput}, {"--out", kOutput},
      {"--token-file", kOutput}, {"--password-file", "an empty name (name a file, or - for standard input)"},
      {"--db", kLeaveOut}, {"--model", kLeaveOut}, {"-m", kLeaveOut}, {"--tokenizer", kLeaveOut}, {"--config", kLeaveOut},
      {"--music-dir", kLeaveOut}, {"--host", "an empty address (leave --host out for 127.0.0.1)"},
      {"--where", "an empty expression (an unset shell variable?): give one, or leave --where out for every track"}};
  const auto blank = [](const std::string& v) { return v.find_first_not_of(" \t\r\n") == std::string::npos; };
  const auto typed = [&](const std::string& name) {
    return std::any_of(argv + 1, argv + argc, [&](const char* a) {
      return std::strncmp(a, name.c_str(), name.size()) == 0 && (a[name.size()] == 0 || a[name.size()] == '=');
    });
  };
  for (const CLI::App* sub : app.get_subcommands()) {
    for (const CLI::Option* opt : sub->get_options()) {
      if (opt->count() == 0) continue;
      for (const auto& [name, says] : kNamed) {
        if (!opt->check_name(name) || !typed(name)) continue;
        for (const std::string& v : opt->results())
          if (v.empty() || (std::strcmp(name, "--where") == 0 && blank(v))) return std::string(name) + ": " + says;
      }
    }
    const std::string nested = empty_file_option(*sub, argc, argv);
    if (!nested.empty()) return nested;
  }
  return "";
}

// Secrets given on the command line (`--token SECRET`, a password in a postgresql:// URL) are
// visible to every user of the machine in ps and /proc/PID/cmdline. Once parsed (CLI11 copied
// every argument), they are overwritten in place, which is what those show. The safer ways are
// CLAPSEARCH_TOKEN / --token-file and PGPASSWORD / ~/.pgpass (docs/security.md).
static void scrub_secrets(int argc, char** argv) {
  auto blank = [](char* from, char* to) { std::fill(from, to, 'x'); };
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (std::strcmp(a, "--token") == 0 && i + 1 < argc) {
      blank(argv[i + 1], argv[i + 1] + std::strlen(argv[i + 1]));
      ++i;
      continue;
    }
    if (std::strncmp(a, "--token=", 8) == 0) {
      blank(a + 8, a + std::strlen(a));
      continue;
    }
    // postgresql://user:PASSWORD@host/...: the password between the first ':' after the scheme
    // and the '@' that ends the user part.
    for (const char* scheme : {"postgresql://", "postgres://"}) {
      char* at = std::strstr(a, scheme);
      if (!at) continue;
      char* user = at + std::strlen(scheme);
      char* end = user + std::strcspn(user, "/?#");
      char* atsign = nullptr;
      for (char* c = user; c < end; ++c)
        if (*c == '@') atsign = c;
      if (!atsign) break;
      if (char* colon = static_cast<char*>(std::memchr(user, ':', size_t(atsign - user)))) blank(colon + 1, atsign);
      break;
    }
  }
}

// When CLI11 says only "A subcommand is required": the word where a command was expected, named
// (`clapsearch eval foo`, `clapsearch -x`), as `clapsearch serch` is; "" when no word is wrong.
static std::string wrong_command_word(const CLI::App& app, int argc, char** argv) {
  std::vector<const CLI::App*> levels{&app};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const CLI::App* level = levels.back();
    std::vector<const CLI::App*> subs = level->get_subcommands([](const CLI::App*) { return true; });
    const auto sub = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* c) { return c->check_name(arg); });
    if (sub != subs.end()) {
      levels.push_back(*sub);
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-') {
      const std::string name = arg.substr(0, arg.find('='));
      if (const CLI::Option* o = level->get_option_no_throw(name)) {  // a known option (and its value)
        if (arg.find('=') == std::string::npos && o->get_expected_min() > 0) ++i;
        continue;
      }
    }
    if (subs.empty()) return "";
    // A command whose subcommands are optional (eval: its own options replay a history) still
    // takes no word of its own: a word there is a wrong command word, an option is not.
    const bool takes_words =
        !level->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
    if (level->get_require_subcommand_min() == 0 && (takes_words || (arg.size() > 1 && arg[0] == '-'))) return "";
    // The nearest command or option, or the command elsewhere that has it (cli/suggest.h).
    if (arg == "--") return clap::cli::end_of_options_before_command(levels);
    if (arg.size() > 1 && arg[0] == '-') return clap::cli::unknown_option_message(levels, arg.substr(0, arg.find('=')));
    return clap::cli::unknown_command_message(levels, arg);
  }
  return "";
}

// CLI11 (2.1) gives an option that takes a value the next word whatever it is: `eval --history
// --db X` read the history from a file named "--db" and then called X an unknown command
// (hostile pass 5, H5-10). A value that is an option of the command (or of a command above it)
// is that mistake in every command: named here, before parsing. A value that starts with '-' on
// purpose is written --option=VALUE. Returns the message ("" when no option lacks its value).
static std::string option_without_value(const CLI::App& app, int argc, char** argv) {
  std::vector<const CLI::App*> levels{&app};
  const auto known = [&](const std::string& word) -> const CLI::Option* {
    if (word.size() < 2 || word[0] != '-') return nullptr;
    const std::string name = word.substr(0, word.find('='));
    for (const CLI::App* level : levels)
      if (const CLI::Option* o = level->get_option_no_throw(name)) return o;
    return nullptr;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return "";
    std::vector<const CLI::App*> subs = levels.back()->get_subcommands([](const CLI::App*) { return true; });
    const auto sub = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* c) { return c->check_name(arg); });
    if (sub != subs.end()) {
      levels.push_back(*sub);
      continue;
    }
    const CLI::Option* o = known(arg);
    if (!o || arg.find('=') != std::string::npos || o->get_expected_min() <= 0 || i + 1 >= argc) continue;
    if (known(argv[i + 1]))
      return arg + " needs a value, and '" + std::string(argv[i + 1]) + "' after it is an option (a value that starts with " +
             "'-' is written " + arg + "=VALUE)";
    ++i;  // its value
  }
  return "";
}

// `--csv=` (the value typed empty after '=') is `--csv` without its value to CLI11 (2.1), which
// then took the next word as the value (`search x --csv= --db D` read the table's name from
// "--db" and D as a second query), and `-o=` named a file "=" (a short option's value is all
// that follows it). Both are rewritten as the option and an empty word, so they mean exactly
// what `--csv ''` and `-o ''` mean: an empty output name is a usage error naming the option
// (empty_file_option), an empty value elsewhere is checked as that option checks it. Only
// options that take a value are rewritten; a word after `--` is left alone.
static std::vector<std::string> split_empty_values(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  std::vector<const CLI::App*> levels{&app};
  const auto takes_value = [&](const std::string& name) {
    for (const CLI::App* level : levels)
      if (const CLI::Option* o = level->get_option_no_throw(name)) return o->get_expected_min() > 0;
    return false;
  };
  std::vector<std::string> args;
  args.push_back(out[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string& arg = out[static_cast<size_t>(i)];
    if (arg == "--") {
      args.insert(args.end(), out.begin() + i, out.end());
      break;
    }
    std::vector<const CLI::App*> subs = levels.back()->get_subcommands([](const CLI::App*) { return true; });
    const auto sub = std::find_if(subs.begin(), subs.end(), [&](const CLI::App* c) { return c->check_name(arg); });
    if (sub != subs.end()) levels.push_back(*sub);
    const bool long_form = arg.size() > 3 && arg.compare(0, 2, "--") == 0;
    const bool short_form = arg.size() == 3 && arg[0] == '-' && arg[1] != '-';
    if ((long_form || short_form) && arg.back() == '=' && arg.find('=') == arg.size() - 1 &&
        takes_value(arg.substr(0, arg.size() - 1))) {
      args.push_back(arg.substr(0, arg.size() - 1));
      args.emplace_back();
      continue;
    }
    args.push_back(arg);
  }
  return args;
}

// The commands in the order --help lists them, under headings: what a person does every day
// first, upkeep, models and measurements after. CLI11 prints groups in the order of their
// first command and commands in the order they were added, so this table is that order.
static void add_commands(CLI::App& app, clap::cli::Action& action) {
  using namespace clap::cli;
  struct Group {
    const char* heading;
    std::vector<void (*)(CLI::App&, Action&)> adders;
  };
  const Group groups[] = {
      {"Everyday commands",
       {add_index_command, add_search_command, add_like_command, add_similar_command, add_playlist_command, add_path_command,
        add_radio_command,         add_taste_command, add_mix_command, add_duplicates_command, add_serve_command,
        add_status_command}},
      {"Exploring the library", {add_overlaps_command, add_analyze_command, add_classify_command, add_map_command, add_matrix_command}},
      {"Library upkeep", {add_migrate_command, add_models_command, add_user_command, add_history_command, add_worker_command, add_completion_command}},
      {"Models and training", {add_embed_command, add_convert_command, add_finetune_command, add_eval_command}},
      {"Benchmarks and diagnostics", {add_doctor_command, add_bench_command}},
  };
  for (const Group& g : groups)
    for (auto add : g.adders) {
      add(app, action);
      app.get_subcommands([](CLI::App*) { return true; }).back()->group(g.heading);
    }
  add_manpage_command(app, action);  // hidden: the build writes the man page with it
}

int main(int argc, char** argv) {
  // A file-size limit (`ulimit -f`, a systemd LimitFSIZE=) ends a process that writes past it with
  // SIGXFSZ, which by default kills it and dumps core: an index run, a `--csv` or a redirected
  // output died mid-write with "File size limit exceeded" and no word of which file (hostile pass
  // 10, H10C-1). Ignored, the write fails with EFBIG instead, and every writer already reports a
  // failed write as an error naming its file ("File too large"). Before the re-exec below, which
  // keeps an ignored signal ignored.
  std::signal(SIGXFSZ, SIG_IGN);
  // CLAPSEARCH_ISA (core/isa.h) is checked before anything runs: a kernel set above the CPU's
  // would stop with SIGILL in the middle of a command, an unknown one would be ignored.
  if (const std::string isa_error = clap::isa_environment_error(); !isa_error.empty()) {
    // Shown safely as every other error (the value is the environment's: an escape sequence in it
    // reached the terminal raw, hostile pass 12, H12C-1).
    std::fprintf(stderr, "clapsearch: error: %s\n", clap::cli::terminal_text(isa_error).c_str());
    return 2;
  }
  // Named explicitly: usage lines say "clapsearch", not the path the binary was started by.
  CLI::App app{"clapsearch: neural music search with CLAP (text -> songs, songs -> songs), native and fast on CPU", "clapsearch"};
  app.set_version_flag("--version", [] {
    std::string text = clap::cli::version_text();
    if (!text.empty() && text.back() == '\n') text.pop_back();  // CLI11 ends the text with a newline itself
    return text;
  });
  app.require_subcommand(1);
  app.formatter(clap::cli::help_formatter());  // before the commands, which inherit it
  clap::cli::Action action;
  // Before the commands: they inherit fallthrough (--config-file after a command's name).
  const std::string config_file = clap::cli::add_config_file_option(app);
  clap::cli::add_exclude_option(app);  // top-level: the key `exclude-rule` at the top of the settings file
  add_commands(app, action);
  one_value_per_occurrence(app);
  // Every check and the parser read the words with `--opt=` split (split_empty_values); the
  // secrets are scrubbed in the real argv, which is what ps shows.
  char** const typed_argv = argv;
  const int typed_argc = argc;
  std::vector<std::string> words = split_empty_values(app, argc, argv);
  std::vector<char*> word_ptrs;
  for (std::string& w : words) word_ptrs.push_back(w.data());
  word_ptrs.push_back(nullptr);
  argc = static_cast<int>(words.size());
  argv = word_ptrs.data();
  const std::vector<const CLI::App*> commands = std::as_const(app).get_subcommands([](const CLI::App*) { return true; });
  const bool named = argc > 1 && argv[1][0] != '-';
  if (named && std::none_of(commands.begin(), commands.end(), [&](const CLI::App* c) { return c->check_name(argv[1]); })) {
    print_usage_error(clap::cli::error_lines(clap::cli::unknown_command_message({&app}, argv[1])));
    return 2;
  }
  // Before CLI11 opens the settings file: a FIFO there would block, /dev/zero never end.
  if (const std::string bad = clap::cli::check_config_files(argc, argv, config_file); !bad.empty()) {
    // --help and --version still answer when only $CLAPSEARCH_CONFIG_FILE is bad (as CLI11 lets
    // them): the file is then not read at all.
    const auto has = [&](const char* flag) { return std::any_of(argv + 1, argv + argc, [&](const char* a) { return std::strcmp(a, flag) == 0; }); };
    const bool named = std::any_of(argv + 1, argv + argc, [](const char* a) { return std::strncmp(a, "--config-file", 13) == 0; });
    if (named || !(has("--help") || has("-h") || has("--version"))) {
      std::fprintf(stderr, "clapsearch: error: %s\n", clap::cli::terminal_text(bad).c_str());
      return 2;
    }
    app.get_config_ptr()->default_str("")->required(false);
  }
  if (const std::string missing = option_without_value(app, argc, argv); !missing.empty()) {
    print_usage_error(clap::cli::terminal_text(missing));
    return 2;
  }
  if (const std::string malformed = clap::cli::malformed_option(app, argc, argv); !malformed.empty()) {
    print_usage_error(clap::cli::error_lines(malformed));
    return 2;
  }
  // Before the parse: CLI11 takes a switch's `=5` or `=` as on without an error (R15C-3).
  if (const std::string valued = clap::cli::switch_given_a_value(app, argc, argv); !valued.empty()) {
    print_usage_error(clap::cli::error_lines(valued));
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    // A key or section the commands do not have: named with the file it is in.
    std::fprintf(stderr, "clapsearch: error: %s: %s\n", clap::cli::terminal_text(clap::cli::config_file_in_use(app, config_file)).c_str(),
                 clap::cli::terminal_text(clap::cli::config_error_text(e)).c_str());
    return 2;
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0 (when their text reached stdout); every usage error exits 2,
    // as command-line tools do, with the same "clapsearch: error:" line as every other error
    // (CLI11's message quotes what was typed: shown safely).
    if (e.get_exit_code() != 0) {
      // A wrong command word is named as such; a value the settings file gave is named with the
      // file, its line and its key.
      std::string text = one_value_wording(e.what());
      const bool not_expected = text.find("was not expected") != std::string::npos ||
                                text.find("were not expected") != std::string::npos;
      std::string wrong =
          text.find("ubcommand") != std::string::npos || not_expected ? wrong_command_word(app, argc, argv) : std::string();
      // An option no command on the way has, or a word too many, in our words (R13P-1); an
      // unknown option also before CLI11's "NAME is required", which it finds first.
      if (wrong.empty() && (not_expected || text.rfind("Could not convert: ", 0) == 0))
        wrong = clap::cli::switch_given_a_value(app, argc, argv);
      if (wrong.empty() && not_expected) wrong = clap::cli::unexpected_argument(app, argc, argv);
      if (wrong.empty() && text.find(" is required") != std::string::npos)
        if (std::string unknown = clap::cli::unexpected_argument(app, argc, argv); unknown.rfind("unknown option", 0) == 0)
          wrong = std::move(unknown);
      // A switch the file gave a list (`json = [1, 2]`: "status.json: too many inputs for a flag").
      if (const std::string bad_switch = clap::cli::config_switch_error(app); wrong.empty() && !bad_switch.empty())
        wrong = clap::cli::config_file_in_use(app, config_file) + ": " + bad_switch;
      if (!wrong.empty()) {
        text = wrong;
      } else if (const std::string in_file = clap::cli::config_value_error_text(text, argc, argv); in_file != text) {
        text = clap::cli::config_file_in_use(app, config_file) + ": " + in_file;
      } else if (text.rfind("Could not convert: ", 0) == 0 || text.find(" not in range ") != std::string::npos ||
                 text.find(" is not a finite number") != std::string::npos) {
        // CLI11's own words for a value that is no number of the option's kind (`-k 1e3`: "Could
        // not convert: --top = 1e3"; `--threads abc`: "Value abc not in range 0 to 1024"): the
        // number check's, as for every other bad number ("--top: 1e3 is not a whole number"). A
        // number out of range keeps CLI11's message, which gives the range. A whole-number option's
        // range check called `-k 1e400` "not a finite number", where `-k 1e3` is "not a whole number".
        if (const std::string bad = bad_number_option(app); !bad.empty()) text = bad;
      }
      print_usage_error(clap::cli::error_lines(text));
      return 2;
    }
    app.exit(e);
    clap::cli::note_stdout_failure();  // the help or version text's own write, while errno holds its reason
    if (const std::string failed = clap::cli::stdout_failure(); !failed.empty()) {
      std::fprintf(stderr, "clapsearch: error: %s\n", failed.c_str());
      return 1;
    }
    return 0;
  }
  // The file's switches take the words the command line's do (CLI11 read `json = 5` and
  // `json = ""` as on, `json = -1` as off, with no word: hostile pass 19, H19C-1).
  if (const std::string bad_switch = clap::cli::config_switch_error(app); !bad_switch.empty()) {
    print_usage_error(clap::cli::terminal_text(clap::cli::config_file_in_use(app, config_file) + ": " + bad_switch));
    return 2;
  }
  if (const std::string empty = empty_file_option(app, argc, argv); !empty.empty()) {
    print_usage_error(clap::cli::terminal_text(empty));
    return 2;
  }
  // The words as typed, before the secrets are scrubbed from them: the restarted process parses
  // them again and scrubs its own.
  ensure_openmp_wait_policy(typed_argv);
  scrub_secrets(typed_argc, typed_argv);
  if (std::string bad = bad_number_option(app); !bad.empty()) {
    if (const std::string in_file = clap::cli::config_value_error_text(bad, argc, argv); in_file != bad)
      bad = clap::cli::config_file_in_use(app, config_file) + ": " + in_file;  // named with the file, its line and key
    print_usage_error(clap::cli::terminal_text(bad));
    return 2;
  }
  try {
    clap::cli::load_exclude_rule();
  } catch (const clap::InvalidArgument& e) {
    // Named with the settings file when the rule came from it.
    const bool typed = std::any_of(argv + 1, argv + argc, [](const char* a) { return std::strncmp(a, "--exclude-rule", 14) == 0 && (a[14] == 0 || a[14] == '='); });
    const std::string file = typed ? "" : clap::cli::config_file_in_use(app, config_file) + ": ";
    std::fprintf(stderr, "clapsearch: error: %s%s\n", clap::cli::terminal_text(file).c_str(), clap::cli::error_lines(e.what()).c_str());
    return 2;
  }
  int status = 0;
  bool reported = false;  // an error was printed: one message is enough
  try {
    status = action ? action() : 0;
  } catch (const clap::InvalidArgument& e) {
    // A value the settings file gave that the command refused as it ran (`where`, `hop`, a seed's
    // weight) is named with the file, its line and its key, as those refused while parsing are:
    // "--where: unknown field" sent the owner of a service to a command line that had no --where.
    std::string text = e.what();
    if (const std::string in_file = clap::cli::config_value_error_text(text, argc, argv); in_file != text)
      text = clap::cli::config_file_in_use(app, config_file) + ": " + in_file;
    print_usage_error(clap::cli::error_lines(text));
    status = 2, reported = true;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "clapsearch: error: out of memory (the input or settings need more than this machine has)\n");
    status = 1, reported = true;
  } catch (const std::exception& e) {
    // Multi-line messages (a list of weight problems) keep their lines; each line is shown safely.
    std::fprintf(stderr, "clapsearch: error: %s\n", clap::cli::error_lines(e.what()).c_str());
    status = 1, reported = true;
  }
  // Everything a command printed reached stdout, or the run fails (a full disk, a closed pipe).
  // When the command failed with its own error (often this very write: "standard output: write
  // failed"), that error is the message.
  if (const std::string failed = clap::cli::stdout_failure(); !failed.empty()) {
    if (!reported) std::fprintf(stderr, "clapsearch: error: %s\n", failed.c_str());
    return status ? status : 1;
  }
  return status;
}
