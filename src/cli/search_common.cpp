#include "cli/search_common.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audio/decode.h"
#include "audio/windows.h"
#include "cli/commands.h"
#include "core/error.h"
#include "index/crawl.h"
#include "core/vector_math.h"
#include "index/hub.h"

namespace clap::cli {

namespace fs = std::filesystem;

void add_library_options(CLI::App* cmd, LibraryOptions& o) {
  cmd->add_option("--db", o.db, "Index database (default: $CLAPSEARCH_DB, else $XDG_DATA_HOME/clapsearch/library.db)");
  cmd->add_option("--model,-m", o.model,
                  "Model folder or hub id (default: the model recorded in the index; another model is refused)");
  cmd->add_option("--threads", o.threads, "Model threads (0 = all cores)")->default_val(0)->check(CLI::Range(0, 1024));
  cmd->add_flag("--verbose,-v", o.verbose, "Notes on stderr: text cache hits, vector index loaded or rebuilt, model runs");
}

// ---------------------------------------------------------------------------------------------
namespace {

index::Store open_store(const std::string& path, bool writable) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(path + ": no index here (build one with `clapsearch index DIR --db " + path + "`)");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not an index database");
  if (writable) {
    try {
      return index::Store::open(path);
    } catch (const Error&) {
      // Not writable (permissions, read-only medium): read-only still answers queries.
    }
  }
  return index::Store::open_readonly(path);
}

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string read_whole(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file (" + what + ")");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder (" + what + ")");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read (" + what + ")");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

std::string window_index_path(const std::string& db_path) { return db_path + ".windows.faiss"; }

int64_t window_fingerprint(const search::Catalog& c) {
  // Order-independent sum of per-window hashes over exactly the rows the index holds (active
  // rows). The first 16 values of each vector stand for it: a window re-embedded from other
  // audio or by another model differs there.
  uint64_t h = splitmix(static_cast<uint64_t>(c.dim()));
  int64_t n = 0;
  const int probe = std::min(c.dim(), 16);
  for (int64_t t = 0; t < c.track_count(); ++t)
    for (int64_t r : c.active_rows(t)) {
      uint64_t x = splitmix(static_cast<uint64_t>(c.table().window_ids[r]));
      x = splitmix(x ^ static_cast<uint64_t>(c.table().track_ids[r]));
      const float* e = c.embedding(r);
      for (int j = 0; j < probe; ++j) {
        uint32_t bits;
        std::memcpy(&bits, e + j, 4);
        x = splitmix(x ^ bits);
      }
      h += x;
      ++n;
    }
  h = splitmix(h ^ static_cast<uint64_t>(n));
  return static_cast<int64_t>(h & 0x7fffffffffffffffULL);
}

// ---------------------------------------------------------------------------------------------

Library::Library(const LibraryOptions& options, bool writable)
    : options_(options),
      db_path_(index::absolute_path(options.db.empty() ? index::default_db_path() : options.db)),
      store_(open_store(db_path_, writable)) {
  const auto m = store_.model();
  if (!m)
    throw Error(db_path_ + ": the index is empty (no model recorded yet): run `clapsearch index DIR --db " + db_path_ + "`");
  identity_ = *m;
  roots_ = store_.roots();
  if (!options_.model.empty()) model_spec();  // a --model that does not match is refused up front
}

Library::~Library() = default;

void Library::note(const std::string& message) const {
  if (options_.verbose) std::fprintf(stderr, "clapsearch: %s\n", message.c_str());
}

// --- tracks ----------------------------------------------------------------------------------

void Library::load_tracks() {
  if (tracks_loaded_) return;
  tracks_ = store_.tracks();
  for (size_t i = 0; i < tracks_.size(); ++i) {
    track_pos_[tracks_[i].id] = i;
    path_pos_[tracks_[i].path] = i;
  }
  tracks_loaded_ = true;
}

const std::vector<index::Track>& Library::tracks() {
  load_tracks();
  return tracks_;
}

const index::Track* Library::track(int64_t id) {
  load_tracks();
  auto it = track_pos_.find(id);
  return it == track_pos_.end() ? nullptr : &tracks_[it->second];
}

bool is_integer(const std::string& s) {
  if (s.empty() || s.size() > 18) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const index::Track* Library::find_track(const std::string& id_or_path) {
  load_tracks();
  if (is_integer(id_or_path))
    if (const index::Track* t = track(std::stoll(id_or_path))) return t;
  if (id_or_path.empty()) return nullptr;
  auto it = path_pos_.find(index::absolute_path(id_or_path));
  if (it != path_pos_.end()) return &tracks_[it->second];
  std::error_code ec;
  const fs::path canonical = fs::canonical(id_or_path, ec);  // the same file through a symlink
  if (!ec) {
    it = path_pos_.find(canonical.string());
    if (it != path_pos_.end()) return &tracks_[it->second];
  }
  return nullptr;
}

std::string Library::display_path(const std::string& path) {
  size_t best = 0;
  for (const auto& r : roots_)
    if (r.size() > best && path.size() > r.size() && index::path_under(path, r)) best = r.size();
  if (best == 0) return path;
  std::string rel = path.substr(best);
  while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
  return rel.empty() ? path : rel;
}

std::vector<index::TrackLabel> Library::labels_of(int64_t track_id) {
  if (!labels_loaded_) {
    for (auto& l : store_.all_labels()) labels_[l.track_id].push_back(l);
    labels_loaded_ = true;
  }
  auto it = labels_.find(track_id);
  return it == labels_.end() ? std::vector<index::TrackLabel>{} : it->second;
}

std::string Library::tags_text(const index::Track& t) {
  std::string s;
  if (!t.artist.empty() && !t.title.empty()) s = t.artist + " \u2013 " + t.title;
  else s = t.artist + t.title;
  const auto labels = labels_of(t.id);
  if (!labels.empty()) {
    std::string l;
    for (const auto& x : labels) l += (l.empty() ? "" : ", ") + x.label;
    s += (s.empty() ? "[" : " [") + l + "]";
  }
  return s;
}

// --- embeddings ------------------------------------------------------------------------------

const search::Catalog& Library::catalog() {
  if (!catalog_) {
    search::WindowTable t = store_.window_embeddings();
    if (t.size() == 0)
      throw Error(db_path_ + ": the index has no searchable tracks (none indexed successfully): run `clapsearch index DIR --db " +
                  db_path_ + "`");
    catalog_ = std::make_unique<search::Catalog>(std::move(t));
    note("catalog: " + std::to_string(catalog_->window_count()) + " windows of " + std::to_string(catalog_->track_count()) +
         " tracks");
  }
  return *catalog_;
}

const search::VectorIndex& Library::window_index() {
  if (!window_index_) {
    const search::Catalog& c = catalog();
    const std::string path = window_index_path(db_path_);
    search::LoadInfo info;
    auto idx = search::VectorIndex::load_or_build(
        path, window_fingerprint(c), [&c] { return search::window_index_data(c); }, {}, &info);
    window_index_ = std::make_unique<search::VectorIndex>(std::move(idx));
    note(std::string("window index ") + path + ": " + (info.rebuilt ? "rebuilt (" + info.reason + ")" : "loaded") + ", " +
         search::index_kind_name(window_index_->kind()) + ", " + std::to_string(window_index_->size()) + " windows" +
         (info.save_error.empty() ? "" : "; not saved: " + info.save_error));
  }
  return *window_index_;
}

const search::Embeddings& Library::track_embeddings() {
  if (!track_embeddings_) {
    track_embeddings_ = std::make_unique<search::Embeddings>(store_.track_embeddings());
    if (track_embeddings_->size() == 0)
      throw Error(db_path_ + ": the index has no searchable tracks (none indexed successfully): run `clapsearch index DIR --db " +
                  db_path_ + "`");
    track_embeddings_->check("track embeddings of " + db_path_);
  }
  return *track_embeddings_;
}

std::vector<float> Library::track_embedding(int64_t track_id) {
  const search::Embeddings& e = track_embeddings();
  const int64_t i = e.find(track_id);
  if (i < 0) {
    const index::Track* t = track(track_id);
    if (!t) throw Error("no track " + std::to_string(track_id) + " in the index");
    throw Error(t->path + ": has no embedding in the index (" +
                (t->status == index::TrackStatus::Error ? "it could not be indexed: " + t->error : "silent throughout") + ")");
  }
  return std::vector<float>(e.row(i), e.row(i) + e.dim);
}

// --- model -----------------------------------------------------------------------------------

const index::ModelSpec& Library::model_spec() {
  if (!spec_) {
    const bool given = !options_.model.empty();
    const std::string spec = given ? options_.model : index::model_spec_of(identity_);
    index::ResolvedModel resolved;
    try {
      resolved = index::resolve_model(spec);
    } catch (const Error& e) {
      if (given) throw;
      throw Error(std::string("the index's model cannot be found: ") + e.what() +
                  " (pass --model with the folder or hub id it was indexed with)");
    }
    auto s = std::make_unique<index::ModelSpec>(
        index::describe_model(resolved, identity_.window_s, identity_.hop_s, identity_.silence_db));
    const std::string diff = identity_.mismatch(s->identity);
    if (!diff.empty())
      throw Error((given ? "--model " + spec : "the model " + spec) + " does not match the index " + db_path_ + ": " + diff +
                  ". The index was made with " + identity_.describe() +
                  "; searching needs embeddings from the same model (re-index with `clapsearch index DIR --model ... "
                  "--rebuild` to change models)");
    spec_ = std::move(s);
  }
  return *spec_;
}

const ClapModel& Library::model() {
  if (!model_) {
    const index::ModelSpec& s = model_spec();
    note("loading model " + s.resolved.dir);
    model_ = ClapModel::load(s.resolved.dir);
    model_state_ = std::make_unique<ClapState>(model_state(options_.threads));
    if (model_->embedding_dim() != identity_.dim)
      throw Error("the model's embedding size " + std::to_string(model_->embedding_dim()) + " differs from the index's " +
                  std::to_string(identity_.dim));
  }
  return *model_;
}

std::vector<float> Library::embed_texts(const std::vector<std::string>& texts) {
  const int d = dim();
  const std::string key = identity_.model_key();
  std::vector<float> out(texts.size() * static_cast<size_t>(d), 0.0f);
  std::vector<std::string> missing;
  std::map<std::string, std::vector<size_t>> slots;  // text -> rows wanting it
  for (size_t i = 0; i < texts.size(); ++i) {
    if (slots.count(texts[i])) {
      slots[texts[i]].push_back(i);
      continue;
    }
    slots[texts[i]].push_back(i);
    const auto cached = store_.cached_text(key, texts[i]);
    if (cached && static_cast<int>(cached->size()) == d) {
      std::copy(cached->begin(), cached->end(), out.begin() + static_cast<long>(i * d));
      ++cache_hits_;
    } else {
      missing.push_back(texts[i]);
      ++cache_misses_;
    }
  }
  if (!missing.empty()) {
    const ClapModel& m = model();
    if (!m.has_tokenizer()) throw Error("the model has no tokenizer: text queries are not possible with it");
    const std::vector<float> emb = m.embed_text(*model_state_, missing);
    bool saved = !store_.read_only();
    for (size_t k = 0; k < missing.size(); ++k) {
      std::vector<float> e(emb.begin() + static_cast<long>(k * d), emb.begin() + static_cast<long>((k + 1) * d));
      if (saved) {
        try {
          store_.put_cached_text(key, missing[k], e);
        } catch (const Error& err) {
          saved = false;
          note(std::string("text cache not written: ") + err.what());
        }
      }
      // Rows are taken from the same floats the cache holds: a later cached run prints the same.
      for (size_t row : slots[missing[k]]) std::copy(e.begin(), e.end(), out.begin() + static_cast<long>(row * d));
    }
    if (store_.read_only()) note("index opened read-only: text embeddings not cached");
  }
  // Duplicated texts.
  for (const auto& [text, rows] : slots)
    for (size_t r = 1; r < rows.size(); ++r)
      std::copy(out.begin() + static_cast<long>(rows[0] * d), out.begin() + static_cast<long>((rows[0] + 1) * d),
                out.begin() + static_cast<long>(rows[r] * d));
  note("text cache: " + std::to_string(cache_hits_) + " hit(s), " + std::to_string(cache_misses_) + " miss(es)" +
       (cache_misses_ ? " (embedded with the model)" : " (no model run)"));
  return out;
}

FileWindows Library::embed_file(const std::string& path, double window_s, double hop_s) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not an audio file");
  const index::ModelSpec& s = model_spec();
  if (window_s <= 0) window_s = identity_.window_s;
  if (hop_s <= 0) hop_s = identity_.hop_s;
  const int64_t window = std::llround(window_s * s.sample_rate), hop = std::llround(hop_s * s.sample_rate);
  if (window > s.max_samples)
    throw Error("chunks of " + fixed(window_s, 2) + " s are longer than the model's input (" +
                fixed(double(s.max_samples) / s.sample_rate, 2) + " s)");
  if (window < 1 || hop < 1) throw Error("chunk and hop must be at least one sample long");
  std::vector<float> samples;
  try {
    samples = audio::decode_file(path, s.sample_rate);
  } catch (const Error& e) {
    throw Error(std::string("cannot decode the query audio: ") + e.what());
  }
  FileWindows fw;
  fw.path = path;
  fw.dim = dim();
  fw.duration_s = double(samples.size()) / s.sample_rate;
  const auto windows = audio::plan_windows(static_cast<int64_t>(samples.size()), window, hop);
  std::vector<std::span<const float>> clips;
  std::vector<size_t> clip_rows;
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto& w = windows[i];
    const size_t n = static_cast<size_t>(w.end - w.start);
    const bool silent = audio::rms_dbfs(samples.data() + w.start, n) < identity_.silence_db;
    fw.starts.push_back(double(w.start) / s.sample_rate);
    fw.ends.push_back(double(w.end) / s.sample_rate);
    fw.silent.push_back(silent ? 1 : 0);
    if (!silent) {
      clips.emplace_back(samples.data() + w.start, n);
      clip_rows.push_back(i);
    }
  }
  if (clips.empty())
    throw Error(path + ": silent throughout (every window is below " + fixed(identity_.silence_db, 0) + " dBFS)");
  const ClapModel& m = model();
  const std::vector<float> emb = m.embed_audio(*model_state_, clips, 8);
  fw.embeddings.assign(windows.size() * static_cast<size_t>(fw.dim), 0.0f);
  for (size_t k = 0; k < clip_rows.size(); ++k)
    std::copy(emb.begin() + static_cast<long>(k * fw.dim), emb.begin() + static_cast<long>((k + 1) * fw.dim),
              fw.embeddings.begin() + static_cast<long>(clip_rows[k] * fw.dim));
  note("embedded " + path + ": " + std::to_string(windows.size()) + " windows (" +
       std::to_string(windows.size() - clips.size()) + " silent)");
  return fw;
}

std::vector<float> Library::file_embedding(const std::string& path) {
  const FileWindows fw = embed_file(path);
  // As the indexer computes a track's embedding: float sum of the non-silent windows in order,
  // then L2 normalisation (so a copy of an indexed file gets exactly its stored embedding).
  std::vector<float> mean(static_cast<size_t>(fw.dim), 0.0f);
  for (int64_t i = 0; i < fw.size(); ++i)
    if (!fw.silent[i])
      for (int k = 0; k < fw.dim; ++k) mean[k] += fw.embeddings[i * fw.dim + k];
  l2_normalize_rows(mean.data(), 1, fw.dim);
  return mean;
}

// --- input helpers ---------------------------------------------------------------------------

std::vector<std::string> read_query_file(const std::string& path) {
  std::istringstream in(read_whole(path, "queries"));
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  if (out.empty()) throw Error(path + ": no queries in the file (one per line)");
  return out;
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  const std::string s = read_whole(path, "CSV");
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  size_t i = 0;
  if (s.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;  // UTF-8 byte order mark
  auto end_row = [&] {
    row.push_back(field);
    field.clear();
    if (!(row.size() == 1 && row[0].empty())) rows.push_back(row);  // blank line
    row.clear();
    any = false;
  };
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      end_row();
    } else {
      field += c;
      any = true;
    }
  }
  if (quoted) throw Error(path + ": unterminated quoted field");
  if (any || !field.empty() || !row.empty()) end_row();
  return rows;
}

std::string resolve_against(const std::string& path, const std::string& base_dir) {
  if (path.empty() || path[0] == '/') return index::absolute_path(path);
  return index::absolute_path((fs::path(base_dir) / path).string());
}

// --- output helpers --------------------------------------------------------------------------

std::string mmss(double seconds) {
  const long long s = std::max<long long>(0, std::llround(seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
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

double json_num(double v) {
  if (!std::isfinite(v)) return v;
  return std::strtod(json_float(static_cast<float>(v)).c_str(), nullptr);
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
  rows_.push_back({std::move(row), false});
}

void Table::add_note(std::string line) { rows_.push_back({{std::move(line)}, true}); }

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
  }
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

CsvOut::CsvOut(const std::string& path) : path_(path) {
  if (path == "-") {
    f_ = stdout;
  } else {
    f_ = std::fopen(path.c_str(), "w");
    if (!f_) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
    owned_ = true;
  }
}

CsvOut::~CsvOut() {
  if (owned_ && f_) std::fclose(f_);
}

void CsvOut::row(const std::vector<std::string>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) s += (i ? "," : "") + csv_field(fields[i]);
  s += "\n";
  std::fwrite(s.data(), 1, s.size(), f_);
}

void CsvOut::close() {
  if (!f_) return;
  const bool bad = std::fflush(f_) != 0 || std::ferror(f_);
  if (owned_) {
    const bool close_failed = std::fclose(f_) != 0;
    f_ = nullptr;
    if (bad || close_failed) throw Error(path_ + ": write failed");
  } else if (bad) {
    throw Error("write to stdout failed");
  }
}

void print_json(const ojson& j) {
  const std::string s = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stdout, "%s\n", s.c_str());
}

}  // namespace clap::cli
