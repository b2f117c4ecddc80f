// Shared code of the command-line front end: the options every index-reading command takes,
// reading query and CSV files, and output (tables with UTF-8 aware widths, CSV, JSON numbers,
// mm:ss times). The logic behind the commands is in the library's service layer.
#pragma once
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/csv.h"
#include "core/output_file.h"
#include "service/aggregates.h"
#include "service/diversity.h"
#include "service/duplicates.h"
#include "service/filters.h"
#include "service/library.h"
#include "service/records.h"
#include "service/seeds.h"

namespace clap::index {
struct IndexSummary;
}  // namespace clap::index

namespace clap::cli {

using service::ojson;  // fields stay in the order written
using service::json_float;
using service::json_num;
using service::csv_field;

// --- options every index-reading command takes ------------------------------------------------

struct LibraryCliOptions {
  std::string db;     // empty = the default library
  std::string model;  // empty = the model recorded in the index
  std::string config, tokenizer;  // --config / --tokenizer (checkpoint files)
  int threads = 0;
  std::string text_precision = "fp32";  // --text-precision (commands that embed texts)
  std::string window_index = "auto";    // --window-index
  bool verbose = false;
  // The service layer's options: notes on stderr with --verbose, warnings always.
  service::LibraryOptions library() const;
};

// --db, --model, --config, --tokenizer, --threads, --verbose (without --model when `model` is
// false: a command that takes several models declares its own).
void add_library_options(CLI::App* cmd, LibraryCliOptions& o, bool model = true);
// --text-precision fp32|bf16|int8 (the text tower's; model/clap.h), for commands that embed query texts.
void add_text_precision_option(CLI::App* cmd, std::string& text_precision);
// --config and --tokenizer: what a checkpoint file given as --model (a LAION .pt) does not hold.
void add_checkpoint_options(CLI::App* cmd, std::string& config, std::string& tokenizer);
// --precision fp32|bf16|int8 (the audio tower's; model/clap.h), and auto with `with_auto`
// (service/precision_choice.h). `default_note` ends the help text.
CLI::Option* add_precision_option(CLI::App* cmd, std::string& precision, const std::string& default_note = " (default fp32)",
                                  bool with_auto = false);
// The --model help text of the commands that take any model form.
extern const char* const kModelHelp;

// Checks for number options with short messages ("must be 0 or more, got -3"), instead of
// CLI11's, which print the type's whole range as a 300-digit number.
CLI::Validator non_negative();
CLI::Validator positive();
CLI::Validator cosine();  // a similarity threshold: between -1 and 1
// "must be between LO and HI [UNIT], got X": the form of every number check (--diversity, --half-life).
CLI::Validator number_between(double lo, double hi, const std::string& unit = "");

// Prints a message on stderr as "clapsearch: <message>" (notes) or as-is (warnings).
void print_note(const std::string& message);
void print_warning(const std::string& message);

// --- input helpers -------------------------------------------------------------------------------

// Query files and CSV files are read by the library (core/csv.h: read_query_file, read_csv).
// The running executable's real path (readlink of /proc/self/exe), for re-executing itself
// under its own name; "/proc/self/exe" when it cannot be read.
std::string self_executable();

// `path` made absolute against `base_dir` when relative.
std::string resolve_against(const std::string& path, const std::string& base_dir);

// --- output helpers ------------------------------------------------------------------------------

// "mm:ss" (minutes grow past 59), with tenths when there are any ("02:07.5").
std::string mmss(double seconds);
// An amount of audio in the unit a person reads best: "42.0 s", "12.5 min", "3.21 h" (index
// summary and status alike).
std::string audio_text(double seconds);
// The end of `index`'s and `worker`'s summary line: the windows later passes added, then the audio
// made searchable with its speed, or only the time when none was (a run that only deepened
// tracks, queued files for workers or found nothing changed: "0.0 s of audio (0.0x real time)"
// read as a stall, hostile pass 22, H22C-1).
std::string summary_work_text(const index::IndexSummary& s);
std::string time_range(double start, double end);  // "mm:ss–mm:ss"
std::string fixed(double v, int decimals);          // printf %.Nf, never "-0.000..."
// A JSON number holding the shortest decimal that round-trips v as float32 (scores are float
// computations; this keeps the output short and identical run to run).

// A plain text table: columns padded to their widest cell (UTF-8 code points), the last column
// not padded. Numeric columns may be right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::vector<bool> right_align = {});
  void add(std::vector<std::string> row);
  // A line printed as-is after the last row added (e.g. per-chunk matches under a result).
  void add_note(std::string line);
  void print(std::FILE* out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  struct Row {
    std::vector<std::string> cells;
    bool note = false;
  };
  std::vector<Row> rows_;
};

size_t display_width(const std::string& utf8);

// CSV output: to `path`, or stdout when path is "-". CSV keeps a tag's exact text, but on a
// terminal (`--csv -` typed at a shell) its cells pass through terminal_text as a table's do:
// a title holding ESC sequences drove the terminal (hostile pass 9, H9C-8).
class CsvOut {
 public:
  explicit CsvOut(const std::string& path);
  void row(const std::vector<std::string>& fields);
  void close();  // commits the output; throws clap::Error on a write error

 private:
  OutputFile out_;
  bool to_terminal_ = false;
};
// Text for the terminal: control characters (C0, DEL, C1; escape sequences included) and bytes
// that are not UTF-8 (a lone 0x9B is CSI to some terminals) shown as '?', so a tag or file name
// cannot drive the terminal. Every message and table goes through it (print_note,
// print_warning, Table, main's error line); JSON output keeps the exact text.
std::string terminal_text(const std::string& s);

// Milliseconds with three significant digits: a tiny model's text query (0.04 ms) is not "0.0 ms".
std::string ms_text(double ms);
// The same for a message of several lines: each line shown safely, the line breaks kept.
std::string terminal_lines(const std::string& s);
// An error message for the terminal. Its own further lines (a filter's caret, a list of weight
// problems) are indented: a line break followed by two spaces. Any other control character, a
// line break inside a path or an echoed value included, is shown as \xNN (control_escaped), so
// a name holding one cannot split the message into lines that look like other messages
// (hostile pass 13, R13C-1). Each line then as terminal_text shows it.
std::string error_lines(const std::string& s);

void print_json(const ojson& j);  // indented, one document on stdout
// After a write to stdout: keeps the reason of its first failure (errno) for stdout_failure().
void note_stdout_failure();
// Flushes stdout; "" when everything written reached it, else "standard output: write failed
// (REASON)" (main's last check, for every command: a full disk, a closed pipe).
std::string stdout_failure();

bool stderr_is_terminal();

// Ctrl-C / SIGTERM for the long-running commands (serve, index --watch). A handler, not
// sigwait: libraries start threads before main (OpenBLAS's pool) that no sigmask of ours
// covers, so a blocked-signal design lets the signal kill the process through one of them.
// The handler only records the signal and writes one byte to a pipe; a second signal ends the
// process at once (as without a handler: every index write is crash-safe).
void install_stop_signals();
bool stop_requested();           // a signal arrived
const std::atomic<bool>* stop_flag();  // the flag stop_requested() reads, for a service that polls it
void wait_for_stop_signal();     // blocks until a signal arrives or wake_stop_waiter() is called
void wake_stop_waiter();
// A descriptor that becomes readable when a stop signal arrives (after install_stop_signals), for
// a loop that polls it together with its own sockets. Signals are caught by a handler writing to
// a pipe, not blocked and waited for: threads the libraries start before main (OpenBLAS) do not
// block them, and would end the process with SIGTERM's default action.
int stop_signal_fd();

// --- --collapse-duplicates ------------------------------------------------------------------------

// Adds the flag to a command that lists tracks.
void add_collapse_option(CLI::App* cmd, bool& collapse);

// --where EXPR, --per-artist N, --per-album N: which tracks a ranked list may hold (service/filters.h).
struct RuleCliOptions {
  std::string where;
  int64_t per_artist = 0, per_album = 0;
  bool include_excluded = false;
  service::ResultRules rules() const;  // throws InvalidArgument on a bad expression
  // `r` with the tracks of the music-only rule excluded (unless --include-excluded).
  service::ResultRules music_only(service::ResultRules r, const service::LibrarySnapshot& snap) const;
};

// The music-only rule (service::kDefaultExclude unless --exclude-rule EXPR, a top-level option, so
// also the key `exclude-rule` at the top of the settings file; "" = none). add_exclude_option before
// the commands; load_exclude_rule once the command line is parsed (throws InvalidArgument
// "exclude-rule: <the parser's message>").
void add_exclude_option(CLI::App& app);
void load_exclude_rule();
const std::string& exclude_rule_text();
const search::Filter& exclude_rule();
// The rule's line of `status` and `doctor` (no newline): "exclude   RULE: N tracks left out of
// queries (…)", or that there is no rule.
std::string exclude_rule_line(int64_t excluded);
void add_rule_options(CLI::App* cmd, RuleCliOptions& o);

// Ranked artists or albums (similar --artist/--album, search --artists/--albums), one list per
// query (`titles`: a heading each; JSON: query added when several): a table or --json. An empty
// list says "(no other artists)" when `beside_a_seed` (similar: the seed's own is left out), else
// "(no artists)" (a text search has no seed: "other" misled, hostile pass 15, R15P-3).
void print_group_hits(service::GroupKind kind, const std::vector<std::string>& titles,
                      const std::vector<std::vector<service::GroupHit>>& lists, bool json, bool beside_a_seed);

// --diversity X (search, like, similar): -1 when not given (service/diversity.h).
void add_diversity_option(CLI::App* cmd, double& diversity);

// --seed, --seeds-from, --text, --not, --not-like: the terms of a mixed query (service/seeds.h).
struct SeedCliOptions {
  std::vector<std::string> seeds, texts, nots, not_likes;
  std::string seeds_from;
  bool any() const { return !seeds.empty() || !seeds_from.empty() || !texts.empty() || !nots.empty() || !not_likes.empty(); }
  // The terms, `first` (a positional seed; empty: none) before the others.
  std::vector<service::QueryTerm> terms(const std::string& first = "") const;
};
// seeds: --seed/--seeds-from as seeds (like, similar); texts: --text; mix_seed (without seeds):
// --seed mixed into texts (search). --not and --not-like always (playlist takes only those).
void add_seed_options(CLI::App* cmd, SeedCliOptions& o, bool seeds, bool texts, bool mix_seed = true);
// "a.flac, track 12 x.flac, \"rainy\" ×0.5, not \"vocals\"": what a mixed query is made of.
std::string query_terms_label(const service::LibrarySnapshot& snap, const service::MixedQuery& q);
using service::collapse_results;  // --collapse-duplicates (service/duplicates.h)
// " (+2 copies)", or "" for none.
std::string copies_text(const std::vector<int64_t>& copies);
// The JSON field of a collapsed entry's copies.
ojson copies_json(const std::vector<int64_t>& copies);

// One embedding set (store::EmbeddingSet) on a line, for `status` and `models`:
// "2 org/name@rev fp32: 120 of 340 windows (35.3%), 3 of 9 tracks [active]".
std::string set_summary(const store::EmbeddingSet& e);

}  // namespace clap::cli
