#include "cli/common.h"

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/one_line_text.h"
#include "core/regular_file.h"
#include "core/utf8.h"
#include "index/crawl.h"
#include "index/indexer.h"

namespace clap::cli {

namespace fs = std::filesystem;

service::LibraryOptions LibraryCliOptions::library() const {
  service::LibraryOptions o;
  o.db = db;
  o.model = model;
  o.model_config = config;
  o.model_tokenizer = tokenizer;
  o.threads = threads;
  o.text_precision = parse_precision(text_precision);
  o.window_index = service::parse_window_index_mode(window_index);
  if (verbose) o.note = print_note;
  o.warn = print_warning;
  return o;
}

const char* const kModelHelp =
    "Model: a Hugging Face folder, a checkpoint file (LAION .pt, pytorch_model.bin, model.safetensors) or a hub id "
    "org/name[@revision]";

CLI::Option* add_precision_option(CLI::App* cmd, std::string& precision, const std::string& default_note, bool with_auto) {
  const std::string automatic =
      with_auto ? "; auto: the fastest of the three that keeps within those bounds and top-10 agreement 0.9 of fp32, "
                  "measured on a sample of your audio on this machine"
                : "";
  auto* option = cmd->add_option("--precision", precision,
                                 "Audio tower precision: fp32, bf16 (1.4-1.9x faster on CPUs with AVX512-BF16; embeddings "
                                 "within cosine 0.999 of fp32) or int8 (about 3x faster on CPUs with AVX512-VNNI; within "
                                 "cosine 0.995 of fp32 on the models measured: check yours with doctor --fidelity)" +
                                     automatic + default_note);
  if (with_auto) return option->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}));
  return option->check(CLI::IsMember({"fp32", "bf16", "int8"}));
}

void add_text_precision_option(CLI::App* cmd, std::string& text_precision) {
  cmd->add_option("--text-precision", text_precision,
                  "Text tower precision for query texts: fp32, bf16 (2-3x faster and half the memory on CPUs with "
                  "AVX512-BF16; within cosine 0.999 of fp32) or int8 (3-4x faster, a quarter of the memory with "
                  "AVX512-VNNI; within cosine 0.995). Cached apart from fp32 embeddings")
      ->default_val("fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
}

namespace {
// --config and --tokenizer name a file or a folder. A FIFO, socket or device is refused when the
// options are read, whatever the command goes on to do: `search x --config /dev/zero` answered
// (rc 0) when the text was in the text cache, as the model, and so --config, was not loaded
// (hostile pass 9, R9C-4). An absent path is left to the model loader, which names it.
CLI::Validator file_or_folder() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v.empty()) return "";
        if (is_link_loop(v)) return v + " is " + std::string(kLinkLoop);
        struct stat st {};
        if (::stat(v.c_str(), &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return "";
        const char* what = S_ISFIFO(st.st_mode)                          ? "a FIFO (named pipe)"
                           : S_ISSOCK(st.st_mode)                        ? "a socket"
                           : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                                                                         : "not a regular file";
        return v + " is " + what + ", not a file or a folder";
      },
      "", "");
}
}  // namespace

void add_checkpoint_options(CLI::App* cmd, std::string& config, std::string& tokenizer) {
  cmd->add_option("--config", config,
                  "config.json (or a folder holding it and preprocessor_config.json) to use instead of the model's own, or "
                  "instead of what is inferred from a checkpoint file's tensor shapes")
      ->check(file_or_folder());
  cmd->add_option("--tokenizer", tokenizer,
                  "Folder with vocab.json + merges.txt for a checkpoint file (default: roberta-base's, from the Hugging "
                  "Face cache, fetched once when online)")
      ->check(file_or_folder());
}

void add_library_options(CLI::App* cmd, LibraryCliOptions& o, bool model) {
  cmd->add_option("--db", o.db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
  if (model)
    cmd->add_option("--model,-m", o.model,
                    "Model folder, checkpoint file (.pt, .bin) or hub id (default: the model recorded in the index; another "
                    "model is refused)");
  add_checkpoint_options(cmd, o.config, o.tokenizer);
  cmd->add_option("--threads", o.threads, "Model threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->add_option("--window-index", o.window_index,
                  "How windows are searched: memory (every window vector in memory), compressed (64-byte codes in memory, "
                  "candidates scored exactly from the index: for libraries larger than memory) or auto (compressed from 4 M "
                  "windows)")
      ->default_val("auto")
      ->check(CLI::IsMember({"auto", "memory", "compressed"}));
  cmd->add_flag("--verbose,-v", o.verbose, "Notes on stderr: text cache hits, vector index loaded or rebuilt, model runs");
}

namespace {
// The value as shown in a message (a long one cut), and what is wrong with it as a decimal
// number ("" when it is one; then *x holds it).
std::string shown_value(const std::string& v) {
  if (v.empty()) return "\"\"";  // an empty value named as one (" is not a number" said nothing)
  return v.size() > 24 ? v.substr(0, 24) + "..." : v;
}
std::string not_a_number(const std::string& v, double* x) {
  char* end = nullptr;
  *x = std::strtod(v.c_str(), &end);
  if (v.find_first_of("xX") != std::string::npos) return shown_value(v) + " is not a decimal number";
  // "5=6" and "0.5abc" are no numbers at all ("not a finite number" said otherwise); nan, inf
  // and 1e400 are numbers that are not finite.
  if (v.empty() || end == v.c_str() || *end != '\0') return shown_value(v) + " is not a number";
  if (!std::isfinite(*x)) return shown_value(v) + " is not a finite number";
  return "";
}

CLI::Validator number_at_least(double floor, bool strict, const std::string& what) {
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        double x = 0;
        if (std::string problem = not_a_number(v, &x); !problem.empty()) return problem;
        if (strict ? !(x > floor) : !(x >= floor)) return "must be " + what + ", got " + shown_value(v);
        return "";
      },
      strict ? "NUMBER > 0" : "NUMBER >= 0", strict ? "positive" : "non-negative");
}
}  // namespace

// A number from `lo` to `hi` (both included), in the form of the checks above.
CLI::Validator number_between(double lo, double hi, const std::string& unit) {
  const auto text = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", x);
    return std::string(b);
  };
  const std::string range = "between " + text(lo) + " and " + text(hi) + (unit.empty() ? "" : " " + unit);
  return CLI::Validator(
      [=](std::string& v) -> std::string {
        double x = 0;
        if (std::string problem = not_a_number(v, &x); !problem.empty()) return problem;
        if (!(x >= lo && x <= hi)) return "must be " + range + ", got " + shown_value(v);
        return "";
      },
      "NUMBER " + text(lo) + ".." + text(hi), "number " + range);
}

CLI::Validator non_negative() { return number_at_least(0, false, "0 or more"); }
CLI::Validator positive() { return number_at_least(0, true, "more than 0"); }

CLI::Validator cosine() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        const std::string shown = v.size() > 24 ? v.substr(0, 24) + "..." : v;
        if (v.find_first_of("xX") != std::string::npos) return shown + " is not a decimal number";
        if (v.empty() || end == v.c_str() || *end != '\0') return shown + " is not a number";
        if (!std::isfinite(x)) return shown + " is not a finite number";
        if (!(x >= -1 && x <= 1)) return "a cosine lies between -1 and 1, got " + shown;
        return "";
      },
      "COSINE", "cosine");
}

void print_note(const std::string& message) { std::fprintf(stderr, "clapsearch: %s\n", terminal_text(message).c_str()); }

// One-line warnings (a text cut at the model's limit) get a "warning: " prefix; the loud
// multi-line ones (a collapsed text tower) stand apart between blank lines.
void print_warning(const std::string& message) {
  if (message.find('\n') == std::string::npos) std::fprintf(stderr, "warning: %s\n", terminal_text(message).c_str());
  else std::fprintf(stderr, "\n%s\n\n", terminal_lines(message).c_str());  // our own text, with names in it
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

// --- input helpers ---------------------------------------------------------------------------

std::string resolve_against(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path[0] == '/') return index::absolute_path(path);
  return index::absolute_path((fs::path(base_dir) / path).string());
}

// --- output helpers --------------------------------------------------------------------------

std::string mmss(double seconds) {
  // A length no audio has (NaN, infinity, 1e308, -5: a stored duration damaged by hand, which `status`
  // names) is not a length of 00:00, which llround's overflow made of it (hostile pass 16).
  if (!(seconds >= 0 && seconds <= 1e15)) return "?";
  // Tenths are shown when there are any: windows may start every 0.5 s, and 00:02.5 rounded
  // to 00:03 would name a moment the window does not start at.
  const long long tenths = std::max<long long>(0, std::llround(seconds * 10));
  const long long s = tenths / 10;
  char buf[40];
  if (tenths % 10 == 0) std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%02lld:%02lld.%lld", s / 60, s % 60, tenths % 10);
  return buf;
}

std::string audio_text(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else std::snprintf(buf, sizeof buf, "%.2f h", s / 3600);
  return buf;
}

std::string summary_work_text(const index::IndexSummary& s) {
  std::string text;
  if (s.deepened) text += ", " + std::to_string(s.deepened) + " windows added by passes 2-" + std::to_string(s.last_pass);
  if (s.audio_seconds > 0)
    text += "; " + audio_text(s.audio_seconds) + " of audio in " + fixed(s.wall_seconds, 1) + " s (" + fixed(s.realtime_factor(), 1) +
            "x real time)";
  else
    text += " in " + fixed(s.wall_seconds, 1) + " s";
  return text;
}

std::string time_range(double start, double end) { return mmss(start) + "\u2013" + mmss(end); }

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

Table::Table(std::vector<std::string> headers, std::vector<bool> right_align)
    : headers_(std::move(headers)), right_(std::move(right_align)) {
  right_.resize(headers_.size(), false);
}

void Table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  for (auto& cell : row) cell = terminal_text(cell);
  rows_.push_back({std::move(row), false});
}

void Table::add_note(std::string line) { rows_.push_back({{terminal_text(line)}, true}); }

void Table::print(std::FILE* out) const {
  std::vector<size_t> w(headers_.size(), 0);
  for (size_t c = 0; c < headers_.size(); ++c) w[c] = display_width(headers_[c]);
  for (const auto& r : rows_)
    if (!r.note)
      for (size_t c = 0; c < r.cells.size(); ++c) w[c] = std::max(w[c], display_width(r.cells[c]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < cells.size(); ++c) {
      const size_t pad = w[c] - display_width(cells[c]);
      const bool last = c + 1 == cells.size();
      if (c) s += "  ";
      if (right_[c]) s += std::string(pad, ' ') + cells[c];
      else s += cells[c] + (last ? "" : std::string(pad, ' '));
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::fprintf(out, "%s\n", s.c_str());
  };
  line(headers_);
  for (const auto& r : rows_) {
    if (r.note) std::fprintf(out, "%s\n", r.cells[0].c_str());
    else line(r.cells);
    if (out == stdout) note_stdout_failure();
  }
}

std::string terminal_lines(const std::string& s) {
  std::string out;
  size_t start = 0;
  for (size_t end; (end = s.find('\n', start)) != std::string::npos; start = end + 1)
    out += terminal_text(s.substr(start, end - start)) + "\n";
  return out + terminal_text(s.substr(start));
}

std::string error_lines(const std::string& s) {
  std::string out;
  size_t start = 0;
  for (size_t end = 0; (end = s.find("\n  ", end)) != std::string::npos; start = ++end)
    out += terminal_text(control_escaped(std::string_view(s).substr(start, end - start))) + "\n";
  return out + terminal_text(control_escaped(std::string_view(s).substr(start)));
}

std::string ms_text(double ms) {
  char buf[32];
  if (ms >= 100) std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  else if (ms >= 10) std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else if (ms >= 1) std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  else std::snprintf(buf, sizeof buf, "%.3f ms", ms);
  return buf;
}

namespace {
// The UTF-8 continuation bytes (after 0xE2) of the characters that are not controls (Cc) but move
// text on a terminal or in a table as one: U+2028 and U+2029 (line and paragraph separators,
// which some terminals and most viewers break lines at) and the bidirectional embeddings,
// overrides and isolates U+202A..U+202E and U+2066..U+2069, which reorder what follows them (a
// tag could show another file's name; hostile pass 9, R9C-6). The marks U+200E/U+200F are kept:
// they reorder nothing beyond their own neighbours and are common in right-to-left titles.
bool layout_control(unsigned char b1, unsigned char b2) {
  if (b1 == 0x80) return b2 >= 0xA8 && b2 <= 0xAE;  // U+2028..U+202E
  if (b1 == 0x81) return b2 >= 0xA6 && b2 <= 0xA9;  // U+2066..U+2069
  return false;
}
}  // namespace

std::string terminal_text(const std::string& s) {
  std::string valid;
  const std::string& text = sanitize_utf8(s, valid) ? valid : s;  // invalid parts became U+FFFD
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const unsigned char next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c < 0x20 || c == 0x7F) {
      out += '?';
    } else if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {
      out += '?';  // a C1 control (U+0080..U+009F: CSI and friends)
      ++i;
    } else if (c == 0xE2 && i + 2 < text.size() && layout_control(next, static_cast<unsigned char>(text[i + 2]))) {
      out += '?';
      i += 2;
    } else if (text.compare(i, 3, "\xEF\xBF\xBD") == 0) {
      out += '?';  // U+FFFD: where the bytes were not UTF-8
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}


CsvOut::CsvOut(const std::string& path) : out_(path), to_terminal_((path.empty() || path == "-") && ::isatty(STDOUT_FILENO)) {}

void CsvOut::row(const std::vector<std::string>& fields) {
  if (!to_terminal_) return out_.write(service::csv_line(fields));
  std::vector<std::string> shown;
  shown.reserve(fields.size());
  for (const std::string& f : fields) shown.push_back(terminal_text(f));
  out_.write(service::csv_line(shown));
}

void CsvOut::close() { out_.commit(); }

void print_json(const ojson& j) {
  const std::string s = service::json_text(j, 2);
  std::fprintf(stdout, "%s\n", s.c_str());
  note_stdout_failure();
}

namespace {
int stdout_errno = 0;
}

// stdio discards its buffer when a write fails and a later fflush succeeds, so the reason must
// be taken at once, while errno still holds it (a stale errno named a wrong reason).
void note_stdout_failure() {
  if (stdout_errno == 0 && std::ferror(stdout)) stdout_errno = errno ? errno : EIO;
}

std::string stdout_failure() {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int flush_errno = errno;
  if (flushed && !std::ferror(stdout)) return "";
  const int err = stdout_errno ? stdout_errno : (!flushed && flush_errno ? flush_errno : 0);
  return std::string("standard output: write failed (") + (err ? std::strerror(err) : "an earlier write failed") + ")";
}

std::string self_executable() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec || p.empty() || !std::filesystem::exists(p, ec)) return "/proc/self/exe";  // e.g. replaced by an upgrade
  return p.string();
}

void add_collapse_option(CLI::App* cmd, bool& collapse) {
  cmd->add_flag("--collapse-duplicates", collapse,
                "One track per group of duplicate recordings (the best copy, with \"+N copies\"; see `clapsearch duplicates`)");
}

void add_rule_options(CLI::App* cmd, RuleCliOptions& o) {
  cmd->add_option("--where", o.where,
                  "Only tracks matching EXPR, e.g. 'genre = \"jazz\" and year < 1980 and duration < 5:00' "
                  "(fields, operators: docs/user-guide.md, Filters)")
      ->type_name("EXPR");
  cmd->add_option("--per-artist", o.per_artist, "At most N tracks per artist (0 = no cap)")->default_val(0)->check(non_negative());
  cmd->add_option("--per-album", o.per_album, "At most N tracks per album (0 = no cap)")->default_val(0)->check(non_negative());
  cmd->add_flag("--include-excluded", o.include_excluded,
                "List the tracks the music-only rule leaves out too (clapsearch --exclude-rule, the settings file's exclude-rule)");
}

void print_group_hits(service::GroupKind kind, const std::vector<std::string>& titles,
                      const std::vector<std::vector<service::GroupHit>>& lists, bool json, bool beside_a_seed) {
  const bool album = kind == service::GroupKind::Album;
  if (json) {
    ojson out = ojson::array();
    for (size_t q = 0; q < lists.size(); ++q)
      for (size_t r = 0; r < lists[q].size(); ++r) {
        ojson j = service::group_hit_record(lists[q][r], r + 1, album);
        if (lists.size() > 1) j["query"] = titles[q];
        out.push_back(std::move(j));
      }
    print_json(out);
    return;
  }
  for (size_t q = 0; q < lists.size(); ++q) {
    std::printf("%s%s\n\n", q ? "\n" : "", terminal_text(titles[q]).c_str());
    std::vector<std::string> headers = {"#", "cosine", "tracks"};
    headers.push_back(album ? "album" : "artist");
    if (album) headers.push_back("artist");
    std::vector<bool> right = {true, true, true, false};
    if (album) right.push_back(false);
    Table table(headers, right);
    size_t rank = 0;
    for (const service::GroupHit& h : lists[q]) {
      std::vector<std::string> row = {std::to_string(++rank), fixed(h.score, 4), std::to_string(h.tracks), h.name};
      if (album) row.push_back(h.artist);
      table.add(row);
    }
    table.print(stdout);
    if (lists[q].empty()) std::printf("(no %s%s)\n", beside_a_seed ? "other " : "", album ? "albums" : "artists");
  }
}

namespace {
std::string& exclude_text() {
  static std::string text = service::kDefaultExclude;
  return text;
}
search::Filter& exclude_filter() {
  static search::Filter f;
  return f;
}
}  // namespace

void add_exclude_option(CLI::App& app) {
  app.add_option("--exclude-rule", exclude_text(),
                 "Music only: tracks matching EXPR (the --where language) are left out of every query unless "
                 "--include-excluded; \"\" = none (default: " + std::string(service::kDefaultExclude) + ")")
      ->type_name("EXPR");
}

void load_exclude_rule() { exclude_filter() = service::parse_where(exclude_text(), "exclude-rule"); }
const std::string& exclude_rule_text() { return exclude_text(); }
const search::Filter& exclude_rule() { return exclude_filter(); }

std::string exclude_rule_line(int64_t excluded) {
  if (exclude_text().find_first_not_of(" \t\r\n") == std::string::npos)
    return "exclude   (no music-only rule: every track is searched)";
  return "exclude   " + terminal_text(exclude_text()) + ": " + std::to_string(excluded) +
         " tracks left out of queries (--include-excluded lists them)";
}

service::ResultRules RuleCliOptions::music_only(service::ResultRules r, const service::LibrarySnapshot& snap) const {
  if (include_excluded) return r;
  return service::excluding_rule(std::move(r), exclude_rule(), snap.tracks());
}

service::ResultRules RuleCliOptions::rules() const {
  service::ResultRules r;
  r.where = service::parse_where(where, "--where");
  r.per_artist = per_artist;
  r.per_album = per_album;
  return r;
}

void add_diversity_option(CLI::App* cmd, double& diversity) {
  cmd->add_option("--diversity", diversity,
                  "0..1: maximal marginal relevance over track embeddings (0 = the ranking's order), copies of one recording "
                  "listed once, copies of the query's own tracks not at all")
      ->check(number_between(0, 1));  // shown as FLOAT (0..1)
}

void add_seed_options(CLI::App* cmd, SeedCliOptions& o, bool seeds, bool texts, bool mix_seed) {
  if (seeds) {
    cmd->add_option("--seed", o.seeds, "Another seed: a track of the index (id or path) or an audio file, SEED[:WEIGHT]; repeatable")
        ->type_name("SEED")
        ->allow_extra_args(false);
    cmd->add_option("--seeds-from", o.seeds_from,
                    "Seeds from a playlist (M3U/M3U8, or one track id or path a line, with a weight as in 12:0.5 if wanted; -: standard input)")
        ->type_name("FILE");
  }
  if (texts)
    cmd->add_option("--text", o.texts, "Mix in a text, TEXT[:WEIGHT]; repeatable")->type_name("TEXT")->allow_extra_args(false);
  else if (!seeds && mix_seed)
    cmd->add_option("--seed", o.seeds, "Mix in an audio seed (track id or path, or an audio file), SEED[:WEIGHT]; repeatable")
        ->type_name("SEED")
        ->allow_extra_args(false);
  cmd->add_option("--not", o.nots, "Push away from a text, TEXT[:WEIGHT]; repeatable")->type_name("TEXT")->allow_extra_args(false);
  cmd->add_option("--not-like", o.not_likes, "Push away from a track or audio file, SEED[:WEIGHT]; repeatable")
      ->type_name("SEED")
      ->allow_extra_args(false);
}

std::vector<service::QueryTerm> SeedCliOptions::terms(const std::string& first) const {
  using service::TermKind;
  std::vector<service::QueryTerm> out;
  if (!first.empty()) out.push_back({TermKind::Audio, first, false, "seed"});
  for (const auto& s : seeds) out.push_back({TermKind::Audio, s, false, "--seed"});
  if (!seeds_from.empty())
    for (const auto& s : service::read_seed_list(seeds_from)) out.push_back({TermKind::Audio, s, false, "--seeds-from " + seeds_from + ":"});
  for (const auto& t : texts) out.push_back({TermKind::Text, t, false, "--text"});
  for (const auto& t : nots) out.push_back({TermKind::Text, t, true, "--not"});
  for (const auto& s : not_likes) out.push_back({TermKind::Audio, s, true, "--not-like"});
  return out;
}

// "a.flac, track 12, \"rainy\" ×0.5, not \"vocals\"": what a mixed query is made of.
std::string query_terms_label(const service::LibrarySnapshot& snap, const service::MixedQuery& q) {
  std::string out;
  for (const auto& t : q.terms) {
    if (!out.empty()) out += ", ";
    if (t.negative) out += "not ";
    if (t.kind == service::TermKind::Text) out += "\"" + t.value + "\"";
    else if (t.track_id >= 0) out += "track " + std::to_string(t.track_id) + " " + snap.display_path(snap.track(t.track_id)->path);
    else out += t.value;
    if (t.weight != 1) out += " \u00d7" + fixed(t.weight, 3);
  }
  return out;
}

std::string copies_text(const std::vector<int64_t>& copies) {
  if (copies.empty()) return "";
  return " (+" + std::to_string(copies.size()) + (copies.size() == 1 ? " copy)" : " copies)");
}

ojson copies_json(const std::vector<int64_t>& copies) {
  ojson a = ojson::array();
  for (int64_t id : copies) a.push_back(id);
  return a;
}

}  // namespace clap::cli

namespace clap::cli {
namespace {
std::atomic<bool> g_stop_signal{false};
int g_stop_pipe[2] = {-1, -1};

void on_stop_signal(int sig) {
  if (g_stop_signal.load()) {  // the second Ctrl-C: stop now (the index is crash-safe)
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  const int saved = errno;
  g_stop_signal.store(true);
  [[maybe_unused]] const ssize_t n = ::write(g_stop_pipe[1], "s", 1);  // async-signal-safe
  errno = saved;
}
}  // namespace

void install_stop_signals() {
  static_assert(std::atomic<bool>::is_always_lock_free);
  if (g_stop_pipe[0] < 0 && ::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_stop_signal.load(); }

const std::atomic<bool>* stop_flag() { return &g_stop_signal; }

void wait_for_stop_signal() {
  for (;;) {
    char c = 0;
    if (::read(g_stop_pipe[0], &c, 1) == 1) return;
    pollfd p{g_stop_pipe[0], POLLIN, 0};
    ::poll(&p, 1, -1);  // EINTR: read again
  }
}

int stop_signal_fd() { return g_stop_pipe[0]; }

void wake_stop_waiter() { [[maybe_unused]] const ssize_t n = ::write(g_stop_pipe[1], "w", 1); }

// One embedding set on a line: "2 org/name@rev fp32: 120 of 340 windows (35.3%), 3 of 9 tracks".
std::string set_summary(const store::EmbeddingSet& e) {
  char cover[160];
  std::snprintf(cover, sizeof cover, ": %lld of %lld windows (%.1f%%), %lld of %lld tracks",
                static_cast<long long>(e.covered_windows), static_cast<long long>(e.windows),
                e.windows ? 100.0 * double(e.covered_windows) / double(e.windows) : 100.0,
                static_cast<long long>(e.covered_tracks), static_cast<long long>(e.tracks));
  return std::to_string(e.id) + " " + terminal_text(e.identity.id) + "@" + terminal_text(e.identity.revision) + " " +
         e.identity.precision + cover + (e.active ? " [active]" : e.complete() ? " (complete)" : "");
}

}  // namespace clap::cli
