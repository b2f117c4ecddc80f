// Shared code of the commands that read an index (search, like, similar, matrix, analyze,
// classify, eval): opening the index and checking the model, loading the window catalog, the
// persisted window vector index and track embeddings, text embeddings through the index's
// cache, embedding a query file the way the indexer embeds a track, and output helpers (tables
// with UTF-8 aware widths, CSV, JSON numbers, mm:ss times).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "index/identity.h"
#include "index/store.h"
#include "model/clap.h"
#include "search/catalog.h"
#include "search/embeddings.h"
#include "search/vector_index.h"

namespace clap::cli {

using ojson = nlohmann::ordered_json;  // fields stay in the order written

// --- options every index-reading command takes ------------------------------------------------

struct LibraryOptions {
  std::string db;     // empty = index::default_db_path()
  std::string model;  // empty = the model recorded in the index
  int threads = 0;
  bool verbose = false;
};

// --db, --model, --threads, --verbose.
void add_library_options(CLI::App* cmd, LibraryOptions& o);

// --- the library ---------------------------------------------------------------------------------

// Windows of an audio file cut and embedded as the indexer does (window/hop of the index,
// windows below the index's silence threshold marked silent and given a zero embedding).
struct FileWindows {
  std::string path;
  int dim = 0;
  std::vector<float> embeddings;  // n × dim; zero rows for silent windows
  std::vector<double> starts, ends;
  std::vector<uint8_t> silent;
  double duration_s = 0;
  int64_t size() const { return static_cast<int64_t>(starts.size()); }
};

class Library {
 public:
  // Opens the index. `writable`: open for writing (text cache, labels); falls back to read-only
  // when the database cannot be written. Throws clap::Error: no index, no model recorded yet,
  // --model not matching the index.
  Library(const LibraryOptions& options, bool writable);
  ~Library();

  index::Store& store() { return store_; }
  const index::ModelIdentity& identity() const { return identity_; }
  const std::string& db_path() const { return db_path_; }
  bool verbose() const { return options_.verbose; }
  int dim() const { return identity_.dim; }

  // --- tracks (every track row, status ok or error)
  const std::vector<index::Track>& tracks();
  const index::Track* track(int64_t id);  // nullptr when absent
  // A track given as an id or as a path (absolute or relative to the working directory);
  // nullptr when it is not in the index.
  const index::Track* find_track(const std::string& id_or_path);
  // Path shown in tables: relative to the indexed folder holding it, else absolute.
  std::string display_path(const std::string& path);
  // "artist – title" (whichever exist), then stored zero-shot labels in brackets.
  std::string tags_text(const index::Track& t);
  std::vector<index::TrackLabel> labels_of(int64_t track_id);

  // --- embeddings. Throw clap::Error when the index has nothing searchable.
  const search::Catalog& catalog();
  const search::VectorIndex& window_index();  // persisted beside the database
  const search::Embeddings& track_embeddings();
  // The stored track embedding of `track_id`; throws when it has none (error/silent track).
  std::vector<float> track_embedding(int64_t track_id);

  // --- model (loaded on first use only)
  const index::ModelSpec& model_spec();
  const ClapModel& model();
  bool model_loaded() const { return model_ != nullptr; }

  // Text embeddings (n × dim) through the index's text cache: texts seen before cost no model
  // run. Counts of hits and misses are kept (verbose note on stderr).
  std::vector<float> embed_texts(const std::vector<std::string>& texts);
  int64_t text_cache_hits() const { return cache_hits_; }
  int64_t text_cache_misses() const { return cache_misses_; }

  // Decodes `path` at the model's rate and embeds windows of window_s every hop_s seconds
  // (0 = the index's settings). Throws clap::Error with a clear reason (no such file,
  // undecodable, silent throughout).
  FileWindows embed_file(const std::string& path, double window_s = 0, double hop_s = 0);
  // A file's track embedding: the normalised mean of its non-silent windows (as the index).
  std::vector<float> file_embedding(const std::string& path);

  void note(const std::string& message) const;  // stderr, only with --verbose

 private:
  void load_tracks();
  void check_model_override();

  LibraryOptions options_;
  std::string db_path_;
  index::Store store_;
  index::ModelIdentity identity_;
  std::vector<std::string> roots_;
  bool tracks_loaded_ = false;
  std::vector<index::Track> tracks_;
  std::map<int64_t, size_t> track_pos_;
  std::map<std::string, size_t> path_pos_;
  bool labels_loaded_ = false;
  std::map<int64_t, std::vector<index::TrackLabel>> labels_;
  std::unique_ptr<search::Catalog> catalog_;
  std::unique_ptr<search::VectorIndex> window_index_;
  std::unique_ptr<search::Embeddings> track_embeddings_;
  std::unique_ptr<index::ModelSpec> spec_;
  std::unique_ptr<ClapModel> model_;
  std::unique_ptr<ClapState> model_state_;  // --threads, warnings to stderr; made with model_
  int64_t cache_hits_ = 0, cache_misses_ = 0;
};

// The file a persisted window index lives in: "<db>.windows.faiss".
std::string window_index_path(const std::string& db_path);
// Fingerprint of what the window index holds (window ids, track ids, vectors): the index file
// is reused only while this is unchanged, so it is rebuilt whenever the windows changed, and
// not after writes that leave them alone (text cache, labels).
int64_t window_fingerprint(const search::Catalog& catalog);

// --- input helpers -------------------------------------------------------------------------------

// Lines of a text file, trimmed; blank lines and lines starting with '#' skipped.
std::vector<std::string> read_query_file(const std::string& path);
// An RFC 4180 CSV file (quoted fields, "" escapes, CRLF or LF).
std::vector<std::vector<std::string>> read_csv(const std::string& path);
// `path` made absolute against `base_dir` when relative.
std::string resolve_against(const std::string& path, const std::string& base_dir);
bool is_integer(const std::string& s);

// --- output helpers ------------------------------------------------------------------------------

// "mm:ss" (minutes grow past 59), rounded to the nearest second.
std::string mmss(double seconds);
std::string time_range(double start, double end);  // "mm:ss–mm:ss"
std::string fixed(double v, int decimals);          // printf %.Nf, never "-0.000..."
// A JSON number holding the shortest decimal that round-trips v as float32 (scores are float
// computations; this keeps the output short and identical run to run).
double json_num(double v);

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

// CSV output: to `path`, or stdout when path is "-".
class CsvOut {
 public:
  explicit CsvOut(const std::string& path);
  ~CsvOut();
  void row(const std::vector<std::string>& fields);
  void close();  // flushes; throws clap::Error on a write error

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  bool owned_ = false;
};
std::string csv_field(const std::string& s);

void print_json(const ojson& j);  // indented, one document on stdout

}  // namespace clap::cli
