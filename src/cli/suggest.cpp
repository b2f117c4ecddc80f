#include "cli/suggest.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "cli/cli_tree.h"
#include "core/one_line_text.h"

namespace clap::cli {

namespace {

// Longer words get no suggestion: no typing mistake is that long, and the distance of a
// 128 KiB argument (the kernel's limit for one) to every name would cost a second.
constexpr size_t kMaxSuggested = 64;

// Optimal string alignment distance: a swap of two neighbours (--tpo for --top) is one mistake.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// Case and '_' do not matter to a reader: --Top and --music_dir (MPD's music_directory) are
// the same words as --top and --music-dir.
std::string normalised(std::string s) {
  for (char& c : s) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The words other tools use for what clapsearch names otherwise, each with the names a command
// may have for it (the first its command has is meant). mpc and MPD's own settings (host, port,
// music_directory), other servers' listen options, beets' --library, other search tools'
// --limit: words a new user types before reading --help.
const std::map<std::string, std::vector<std::string>>& option_synonyms() {
  static const std::map<std::string, std::vector<std::string>> table = {
      // MPD (radio): its address is one value, HOST:PORT or a socket.
      {"--host", {"--mpd"}}, {"--port", {"--mpd"}}, {"--mpd-host", {"--mpd"}}, {"--mpd-port", {"--mpd"}},
      {"--socket", {"--mpd"}}, {"--server", {"--mpd"}}, {"--mpd-password", {"--password-file"}},
      {"--music-directory", {"--music-dir"}}, {"--music-folder", {"--music-dir"}}, {"--music-path", {"--music-dir"}},
      {"--music-root", {"--music-dir"}},
      // A server's listening address (serve).
      {"--bind", {"--host"}}, {"--listen", {"--host"}}, {"--address", {"--host"}}, {"--addr", {"--host"}},
      {"--bind-address", {"--host"}}, {"--listen-address", {"--host"}}, {"--interface", {"--host"}}, {"--ip", {"--host"}},
      {"--listen-port", {"--port"}}, {"--http-port", {"--port"}},
      {"--api-key", {"--token", "--token-file"}}, {"--auth-token", {"--token", "--token-file"}},
      {"--secret", {"--token", "--token-file"}}, {"--passwd", {"--password-file"}}, {"--pass", {"--password-file"}},
      // How many results.
      {"--limit", {"--top", "--length", "--size"}}, {"--count", {"--top", "--length", "--size"}},
      {"--num", {"--top", "--length", "--size"}}, {"--number", {"--top", "--length", "--size"}},
      {"--num-results", {"--top"}}, {"--max-results", {"--top"}}, {"--topk", {"--top"}}, {"--k", {"--top"}},
      // The index and other files.
      {"--database", {"--db"}}, {"--library", {"--db"}}, {"--db-path", {"--db"}}, {"--dbpath", {"--db"}},
      {"--output-file", {"--out", "--output"}}, {"--out-file", {"--out", "--output"}}, {"--outfile", {"--out", "--output"}},
      {"--settings", {"--config-file"}}, {"--config", {"--config-file"}},
      {"--model-path", {"--model"}}, {"--weights", {"--model"}}, {"--checkpoint", {"--model"}},
      // Everyday switches and counts.
      {"--jobs", {"--threads"}}, {"--workers", {"--threads"}}, {"--cpus", {"--threads"}}, {"--num-threads", {"--threads"}},
      {"--nthreads", {"--threads"}}, {"--silent", {"--quiet"}}, {"--debug", {"--verbose"}},
      {"--username", {"--user"}}, {"--login", {"--user"}}, {"--ignore", {"--exclude"}},
      {"--prompt", {"--text", "--query"}}, {"--description", {"--text", "--query"}},
  };
  return table;
}

// The same for command words: beets' import, other servers' server and daemon, help and version.
const std::map<std::string, std::string>& command_synonyms() {
  static const std::map<std::string, std::string> table = {
      {"help", "--help"},     {"version", "--version"}, {"scan", "index"},    {"update", "index"},
      {"import", "index"},    {"rescan", "index"},      {"find", "search"},   {"query", "search"},
      {"server", "serve"},    {"daemon", "serve"},      {"web", "serve"},     {"info", "status"},
      {"stats", "status"},    {"train", "finetune"},    {"dedupe", "duplicates"}, {"dupes", "duplicates"},
  };
  return table;
}

// The name among `names` that `typed` most likely meant: the same name in other case or with
// '_'; the only one `typed` begins (--password for --password-file); the only one within a few
// typing mistakes; the longest one that `typed` begins with (--music-directory: --music-dir).
// "" when none is near. `min_prefix`: the shortest typed word read as a prefix.
std::string nearest(const std::string& typed_raw, const std::vector<std::string>& names, size_t min_prefix, size_t dashes) {
  const std::string typed = normalised(typed_raw);
  if (typed.size() > kMaxSuggested || typed.size() <= dashes) return "";
  for (const std::string& n : names)
    if (normalised(n) == typed) return n;
  std::vector<std::string> begun;
  for (const std::string& n : names)
    if (typed.size() >= min_prefix && normalised(n).rfind(typed, 0) == 0) begun.push_back(n);
  if (begun.size() == 1) return begun.front();
  const size_t body = typed.size() - dashes;
  const size_t limit = body <= 3 ? 1 : 2;
  std::string best;
  size_t best_distance = limit + 1, ties = 0;
  for (const std::string& n : names) {
    const std::string key = normalised(n);
    if (key.size() > typed.size() + limit || typed.size() > key.size() + limit) continue;  // cannot be near
    const size_t d = edit_distance(typed, key);
    if (d < best_distance) best = n, best_distance = d, ties = 0;
    else if (d == best_distance && n != best) ++ties;
  }
  if (best_distance <= limit && ties == 0) return best;
  std::string longest;
  for (const std::string& n : names)
    if (n.size() > dashes + 1 && n.size() > longest.size() && typed.rfind(normalised(n), 0) == 0 &&
        (typed[n.size()] == '-' || n.size() - dashes >= 4))
      longest = n;
  return longest;
}

std::string path_of(const std::vector<const CLI::App*>& levels) {
  std::string path;
  for (const CLI::App* level : levels) path += (path.empty() ? "" : " ") + level->get_name();
  return path;
}

// Every visible command below `app`, with the path that names it, depth first in help order.
void commands_below(const CLI::App& app, const std::string& path, std::vector<std::pair<std::string, const CLI::App*>>& out) {
  for (const CLI::App* sub : visible_commands(app)) {
    out.emplace_back(path + " " + sub->get_name(), sub);
    commands_below(*sub, path + " " + sub->get_name(), out);
  }
}

// "`clapsearch index`, `clapsearch search`, `clapsearch like` and 6 other commands".
std::string listed(const std::vector<std::string>& paths) {
  std::string out;
  const size_t shown = paths.size() <= 4 ? paths.size() : 3;
  for (size_t i = 0; i < shown; ++i)
    out += (i == 0 ? "" : i + 1 == paths.size() ? " and " : ", ") + ("`" + paths[i] + "`");
  if (shown < paths.size()) out += " and " + std::to_string(paths.size() - shown) + " other commands";
  return out;
}

std::vector<std::string> long_names(const std::vector<const CLI::App*>& levels) {
  std::vector<std::string> names;
  for (const CLI::App* level : levels)
    for (const CLI::Option* o : named_options(*level))
      for (const std::string& n : option_names(*o))
        if (n.rfind("--", 0) == 0) names.push_back(n);  // long names: a single letter is too near everything
  // --help is the root's and the command's: one name, not two equally near ones.
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace

std::string shown_word(const std::string& word) { return echo_excerpt(word, 100); }

std::string unknown_option_message(const std::vector<const CLI::App*>& levels, const std::string& typed) {
  const std::string path = path_of(levels);
  // -music-dir (one dash, as Go's flags and find take long names) means --music-dir.
  const bool one_dash_word = typed.size() > 2 && typed[0] == '-' && typed[1] != '-';
  const std::string as_long = one_dash_word ? "-" + typed : typed;
  std::string near;
  if (as_long.rfind("--", 0) == 0) {
    const std::vector<std::string> own = long_names(levels);
    near = nearest(as_long, own, 4, 2);
    if (near.empty()) {
      const auto synonym = option_synonyms().find(normalised(as_long));
      if (synonym != option_synonyms().end())
        for (const std::string& meant : synonym->second)
          if (near.empty() && std::find(own.begin(), own.end(), meant) != own.end()) near = meant;
    }
  }
  // The commands (outside this path) that have the option as typed: `search --music-dir` is radio's.
  // Not when the command has it itself, in other case or with '_' (--WINDOW_INDEX).
  std::vector<std::string> elsewhere;
  if (as_long.rfind("--", 0) == 0 && as_long.size() <= kMaxSuggested && normalised(near) != normalised(as_long)) {
    std::vector<std::pair<std::string, const CLI::App*>> all;
    commands_below(*levels.front(), levels.front()->get_name(), all);
    for (const auto& [command_path, command] : all) {
      if (std::find(levels.begin(), levels.end(), command) != levels.end()) continue;
      const std::vector<std::string> names = long_names({command});
      if (std::any_of(names.begin(), names.end(), [&](const std::string& n) { return normalised(n) == normalised(as_long); }))
        elsewhere.push_back(command_path);
    }
  }
  // A short option's letters after the first are its value (-k5), unless they spell a long name.
  const std::string shown = one_dash_word && near.empty() && elsewhere.empty() ? typed.substr(0, 2) : typed;
  std::string hint;
  if (!near.empty()) hint = "did you mean " + near + "?";
  if (!elsewhere.empty())
    hint += (hint.empty() ? "" : " ") + shown_word(as_long) + " is an option of " + listed(elsewhere);
  // At the root a command must come first: the options are its.
  const CLI::App& last = *levels.back();
  if (levels.size() == 1 && last.get_require_subcommand_min() > 0 && near.empty()) {
    if (elsewhere.empty()) {
      std::string names;
      for (const CLI::App* c : visible_commands(last)) names += (names.empty() ? "" : ", ") + c->get_name();
      hint = "a command comes first: " + names;
    } else {
      hint += ", written after the command's name";
    }
  }
  return "unknown option '" + shown_word(shown) + "' for " + path + (hint.empty() ? "" : " (" + hint + ")") + "; `" + path +
         " --help` lists what it takes";
}

std::string end_of_options_before_command(const std::vector<const CLI::App*>& levels) {
  const std::string path = path_of(levels);
  std::string names;
  for (const CLI::App* c : visible_commands(*levels.back())) names += (names.empty() ? "" : ", ") + c->get_name();
  return "'--' before a command for " + path + " (a command comes first: " + names + "; '--' goes after it, before words "
         "that begin with '-'); `" + path + " --help` lists the commands";
}

std::string unknown_command_message(const std::vector<const CLI::App*>& levels, const std::string& typed) {
  const std::string path = path_of(levels);
  const CLI::App& level = *levels.back();
  std::vector<std::string> names;
  for (const CLI::App* c : visible_commands(level)) names.push_back(c->get_name());
  std::string near = nearest(typed, names, 2, 0);
  if (near.empty()) {
    const auto synonym = command_synonyms().find(normalised(typed));
    if (synonym != command_synonyms().end()) {
      const std::string& meant = synonym->second;
      const bool is_option = meant[0] == '-' && level.get_option_no_throw(meant) != nullptr;
      if (is_option || std::find(names.begin(), names.end(), meant) != names.end()) near = meant;
    }
  }
  std::vector<std::string> elsewhere;
  if (typed.size() <= kMaxSuggested) {
    std::vector<std::pair<std::string, const CLI::App*>> all;
    commands_below(*levels.front(), levels.front()->get_name(), all);
    for (const auto& [command_path, command] : all) {
      const CLI::App* parent = command->get_parent();
      if (parent != &level && normalised(command->get_name()) == normalised(typed))
        elsewhere.push_back(command_path.substr(0, command_path.rfind(' ')));
    }
  }
  std::string hint;
  if (!near.empty()) hint = "did you mean " + near + "?";
  if (!elsewhere.empty()) hint += (hint.empty() ? "" : " ") + shown_word(typed) + " is a command of " + listed(elsewhere);
  if (hint.empty()) {
    std::string all;
    for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
    hint = "commands: " + all;
  }
  return "unknown command '" + shown_word(typed) + "' for " + path + " (" + hint + "); `" + path +
         " --help` lists the commands";
}

}  // namespace clap::cli
