// `import clapsearch`: the compiled half of the Python package (python/clapsearch/ is the
// other). A front end like src/cli and src/server: it parses Python arguments, calls the
// library's public functions (service/, model/clap.h) and converts the results; the logic is
// in the library, so Python, the CLI and the server give the same answers.
//
// Every call into the engine releases the GIL (two Python threads embed on two cores); every
// clap::Error becomes a clapsearch.Error (FileNotFoundError / ValueError subclasses where the
// cause is a missing file or a bad argument) with the CLI's message. Embeddings come back as
// numpy arrays that own the engine's buffer (no copy); input arrays are read in place when they
// are float32 and C-contiguous.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <unistd.h>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "core/error.h"
#include "hub/hub.h"
#include "model/clap.h"
#include "search/duplicates.h"
#include "service/aggregates.h"
#include "service/audio_embedding.h"
#include "service/diversity.h"
#include "service/duplicates.h"
#include "service/filters.h"
#include "service/indexing.h"
#include "service/library.h"
#include "service/model.h"
#include "service/playlists.h"
#include "service/queries.h"
#include "service/records.h"
#include "service/seeds.h"

namespace py = pybind11;
namespace fs = std::filesystem;

namespace clap::python {
namespace {

// clapsearch.Error and its two subclasses (created in the module init).
PyObject* g_error = nullptr;
PyObject* g_not_found = nullptr;
PyObject* g_invalid = nullptr;

// A bad argument from Python (shape, dtype, sample rate, empty list): clapsearch.InvalidInputError,
// as is every clap::InvalidArgument the library throws (a value out of range, a missing query).
class InvalidInput : public clap::InvalidArgument {
 public:
  using clap::InvalidArgument::InvalidArgument;
};
// A file that is not there: clapsearch.NotFoundError (a FileNotFoundError).
class NotFound : public Error {
 public:
  using Error::Error;
};

void require_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw NotFound(path + ": no such file");
}

// A numpy array of n × dim floats that owns `v` (moved, not copied).
py::array_t<float> owned_matrix(std::vector<float>&& v, py::ssize_t rows, py::ssize_t dim) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({rows, dim}, {dim * static_cast<py::ssize_t>(sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
                            heap->data(), owner);
}
py::array_t<float> owned_vector(std::vector<float>&& v) {
  auto* heap = new std::vector<float>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(float))}, heap->data(), owner);
}

// Audio samples from Python: float32, 1-D (one clip) or 2-D (a batch of equal-length clips),
// finite. Read in place when C-contiguous.
struct Clips {
  py::array_t<float, py::array::c_style> data;
  bool batch = false;
  py::ssize_t rows = 0, length = 0;
  const float* row(py::ssize_t i) const { return data.data() + i * length; }
};

Clips clips_of(const py::array& array) {
  if (!py::isinstance<py::array_t<float>>(array) || array.dtype().kind() != 'f' || array.itemsize() != 4)
    throw InvalidInput("audio must be a float32 numpy array (got dtype " + py::str(array.dtype()).cast<std::string>() +
                       "): convert with x.astype(np.float32), samples in [-1, 1]");
  if (array.ndim() != 1 && array.ndim() != 2)
    throw InvalidInput("audio must be 1-D (one clip) or 2-D (a batch of clips, one per row); got " +
                       std::to_string(array.ndim()) + " dimensions");
  Clips c;
  c.data = py::array_t<float, py::array::c_style>::ensure(array);  // copies only when not C-contiguous
  c.batch = array.ndim() == 2;
  c.rows = c.batch ? array.shape(0) : 1;
  c.length = c.batch ? array.shape(1) : array.shape(0);
  if (c.rows == 0) throw InvalidInput("audio: an empty batch (0 clips)");
  if (c.length == 0) throw InvalidInput("audio: a clip of 0 samples");
  const float* p = c.data.data();
  const py::ssize_t n = c.rows * c.length;
  for (py::ssize_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i]))
      throw InvalidInput("audio: sample " + std::to_string(i % c.length) + (c.batch ? " of clip " + std::to_string(i / c.length) : "") +
                         " is not finite (NaN or infinity)");
  return c;
}

void check_rate(int sr) {
  if (sr <= 0 || sr > 1000000) throw InvalidInput("sample rate must be a positive number of Hz (got " + std::to_string(sr) + ")");
}

// A temporary 32-bit float WAV file of one clip, removed with the object: how samples at
// another rate reach FFmpeg's resampler, the one the CLI and the indexer use.
class TempWav {
 public:
  TempWav(const float* samples, size_t n, int rate) {
    static std::atomic<uint64_t> counter{0};
    path_ = (fs::temp_directory_path() / ("clapsearch-python-" + std::to_string(::getpid()) + "-" +
                                          std::to_string(counter.fetch_add(1)) + ".wav")).string();
    std::ofstream f(path_, std::ios::binary);
    if (!f) throw Error(path_ + ": cannot create a temporary file");
    const uint32_t data_bytes = static_cast<uint32_t>(n * sizeof(float));
    auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
    f.write("RIFF", 4);
    u32(36 + data_bytes);
    f.write("WAVEfmt ", 8);
    u32(16);
    u16(3);  // IEEE float
    u16(1);  // mono
    u32(static_cast<uint32_t>(rate));
    u32(static_cast<uint32_t>(rate) * 4);
    u16(4);
    u16(32);
    f.write("data", 4);
    u32(data_bytes);
    f.write(reinterpret_cast<const char*>(samples), data_bytes);
    if (!f) throw Error(path_ + ": cannot write a temporary file");
  }
  ~TempWav() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TempWav(const TempWav&) = delete;
  TempWav& operator=(const TempWav&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// --- Model -------------------------------------------------------------------------------

class Model {
 public:
  Model(const std::string& spec, const std::string& precision, const std::string& text_precision, int threads,
        const std::string& config, const std::string& tokenizer)
      : threads_(threads) {
    if (threads < 0) throw InvalidInput("threads must be 0 (all cores) or more (got " + std::to_string(threads) + ")");
    service::ModelOpenOptions o;
    o.hub.quiet = true;
    o.hub.config = config;
    o.hub.tokenizer = tokenizer;
    o.threads = threads;
    o.audio_precision = parse_precision(precision);
    o.text_precision = parse_precision(text_precision);
    py::gil_scoped_release release;
    service::OpenedModel opened = service::open_model(spec, o);
    name_ = opened.resolved.id;
    model_ = std::move(opened.model);
  }

  const ClapModel& model() const { return *model_; }
  const std::string& name() const { return name_; }
  int dim() const { return model_->embedding_dim(); }

  // One ClapState per concurrent call (a small pool): threads embed at once, each with its own.
  class Lease {
   public:
    Lease(const Model& m) : m_(m) {
      std::lock_guard<std::mutex> lock(m_.states_mutex_);
      if (!m_.states_.empty()) {
        state_ = std::move(m_.states_.back());
        m_.states_.pop_back();
      } else {
        state_ = std::make_unique<ClapState>(m_.threads_);
      }
    }
    ~Lease() {
      std::lock_guard<std::mutex> lock(m_.states_mutex_);
      m_.states_.push_back(std::move(state_));
    }
    ClapState& operator*() { return *state_; }

   private:
    const Model& m_;
    std::unique_ptr<ClapState> state_;
  };

  py::array_t<float> embed_text(const std::vector<std::string>& texts, int batch) const {
    if (texts.empty()) throw InvalidInput("embed_text: no texts (give a string or a non-empty list of strings)");
    check_batch(batch);
    std::vector<float> out;
    {
      py::gil_scoped_release release;
      Lease state(*this);
      out = model_->embed_text(*state, texts, batch);
    }
    return owned_matrix(std::move(out), static_cast<py::ssize_t>(texts.size()), dim());
  }

  // Clips at the model's rate are embedded as given (each like the reference processor
  // called on it alone); at another rate each is resampled first by FFmpeg, as a file is.
  py::array_t<float> embed_audio(const py::array& array, int sr, int batch) const {
    check_rate(sr);
    check_batch(batch);
    const Clips clips = clips_of(array);
    std::vector<float> out;
    {
      py::gil_scoped_release release;
      Lease state(*this);
      if (sr == model_->sample_rate()) {
        std::vector<std::span<const float>> spans;
        for (py::ssize_t i = 0; i < clips.rows; ++i) spans.emplace_back(clips.row(i), static_cast<size_t>(clips.length));
        out = model_->embed_audio(*state, spans, batch);
      } else {
        std::vector<std::vector<float>> resampled;
        for (py::ssize_t i = 0; i < clips.rows; ++i) {
          TempWav wav(clips.row(i), static_cast<size_t>(clips.length), sr);
          resampled.push_back(audio::decode_file(wav.path(), model_->sample_rate()));
          if (resampled.back().empty()) throw InvalidInput("audio: a clip shorter than one sample at the model's rate");
        }
        std::vector<std::span<const float>> spans(resampled.begin(), resampled.end());
        out = model_->embed_audio(*state, spans, batch);
      }
    }
    return owned_matrix(std::move(out), clips.rows, dim());
  }

  // `clapsearch embed --audio` for each file: a file of at most one window as one clip,
  // longer ones as the normalised mean of their windows every hop_s seconds.
  py::array_t<float> embed_audio_files(const std::vector<std::string>& paths, double hop_s, int batch) const {
    if (paths.empty()) throw InvalidInput("embed_audio_files: no files (give a non-empty list of paths)");
    if (!(hop_s > 0)) throw InvalidInput("hop must be a positive number of seconds");
    check_batch(batch);
    for (const auto& p : paths) require_file(p);
    std::vector<float> out;
    {
      py::gil_scoped_release release;
      Lease state(*this);
      out.reserve(paths.size() * static_cast<size_t>(dim()));
      for (const auto& p : paths) {
        const std::vector<float> e = service::embed_audio_file(*model_, *state, p, hop_s, batch);
        out.insert(out.end(), e.begin(), e.end());
      }
    }
    return owned_matrix(std::move(out), static_cast<py::ssize_t>(paths.size()), dim());
  }

  // Whole-song mode: the windows the index cuts (window_s every hop_s, silent ones flagged and
  // zero), and the track embedding it stores.
  py::dict embed_song_file(const std::string& path, double window_s, double hop_s, double silence_db, int batch) const {
    require_file(path);
    check_batch(batch);
    if (!(window_s > 0) || !(hop_s > 0)) throw InvalidInput("window and hop must be positive numbers of seconds");
    service::FileWindows w;
    std::vector<float> track;
    {
      py::gil_scoped_release release;
      service::check_window_length(window_s, model_->sample_rate(), model_->window_samples());
      service::WindowSettings settings;
      settings.window_s = window_s;
      settings.hop_s = hop_s;
      settings.silence_db = silence_db;
      settings.batch = batch;
      Lease state(*this);
      w = service::embed_file_windows(*model_, *state, path, settings);
      track = service::file_track_embedding(w);
    }
    py::dict d;
    const py::ssize_t n = w.size();
    d["windows"] = owned_matrix(std::move(w.embeddings), n, w.dim);
    d["starts"] = py::array_t<double>(static_cast<py::ssize_t>(w.starts.size()), w.starts.data());
    d["ends"] = py::array_t<double>(static_cast<py::ssize_t>(w.ends.size()), w.ends.data());
    py::array_t<bool> silent(n);
    for (py::ssize_t i = 0; i < n; ++i) silent.mutable_at(i) = w.silent[static_cast<size_t>(i)] != 0;
    d["silent"] = silent;
    d["track"] = owned_vector(std::move(track));
    d["duration_s"] = w.duration_s;
    return d;
  }

  py::dict embed_song(const py::array& array, int sr, double window_s, double hop_s, double silence_db, int batch) const {
    check_rate(sr);
    const Clips clips = clips_of(array);
    if (clips.batch) throw InvalidInput("embed_song: one song at a time (a 1-D array of samples)");
    std::unique_ptr<TempWav> wav;
    {
      py::gil_scoped_release release;
      wav = std::make_unique<TempWav>(clips.row(0), static_cast<size_t>(clips.length), sr);
    }
    return embed_song_file(wav->path(), window_s, hop_s, silence_db, batch);
  }

  float logit_scale() const { return model_->logit_scale_audio(); }
  float logit_scale_text() const { return model_->logit_scale_text(); }
  std::string precision() const { return precision_name(model_->audio_precision()); }
  std::string text_precision() const { return precision_name(model_->text_precision()); }
  std::string config_json() const { return model_->config().to_json_text(); }
  std::string features_json() const { return model_->config().features.to_json_text(); }

 private:
  static void check_batch(int batch) {
    if (batch < 1 || batch > 1024) throw InvalidInput("batch must be between 1 and 1024 (got " + std::to_string(batch) + ")");
  }
  int threads_ = 0;
  std::string name_;
  std::unique_ptr<ClapModel> model_;
  mutable std::mutex states_mutex_;
  mutable std::vector<std::unique_ptr<ClapState>> states_;
};

// --- Library -----------------------------------------------------------------------------

search::Aggregate parse_aggregate_arg(const std::string& name) {
  if (name != "mean" && name != "max") throw InvalidInput("aggregate must be \"mean\" or \"max\" (got \"" + name + "\")");
  return search::parse_aggregate(name);
}

// where=, per_artist=, per_album= of the query methods (service/filters.h): a bad expression
// is an InvalidInputError naming the column, as the CLI's --where.
service::ResultRules rules_of(const std::string& where, int64_t per_artist, int64_t per_album) {
  service::ResultRules r;
  r.where = service::parse_where(where, "where");
  r.per_artist = per_artist;
  r.per_album = per_album;
  service::check_rules(r);
  return r;
}

// seeds=, texts=, nots=, not_likes= of the query methods (service/seeds.h), after the query's
// own audio seed `first` (none when empty); each "VALUE" or "VALUE:WEIGHT".
std::vector<service::QueryTerm> terms_of(const std::string& first, const std::vector<std::string>& seeds,
                                         const std::vector<std::string>& texts, const std::vector<std::string>& nots,
                                         const std::vector<std::string>& not_likes) {
  using service::TermKind;
  std::vector<service::QueryTerm> terms;
  if (!first.empty()) terms.push_back({TermKind::Audio, first, false, "track"});
  for (const auto& v : seeds) terms.push_back({TermKind::Audio, v, false, "seeds"});
  for (const auto& v : texts) terms.push_back({TermKind::Text, v, false, "texts"});
  for (const auto& v : nots) terms.push_back({TermKind::Text, v, true, "nots"});
  for (const auto& v : not_likes) terms.push_back({TermKind::Audio, v, true, "not_likes"});
  return terms;
}

class Library {
 public:
  // exclude_rule: the music-only rule (service::kDefaultExclude unless the caller gives another;
  // "" = none), applied to every query whose include_excluded is false, as the CLI's.
  Library(const std::string& db, const std::string& model, const std::string& config, const std::string& tokenizer,
          int threads, const std::string& text_precision, const std::string& exclude_rule)
      : exclude_(service::parse_where(exclude_rule, "exclude_rule")) {
    if (threads < 0) throw InvalidInput("threads must be 0 (all cores) or more");
    options_.db = db;
    options_.model = model;
    options_.model_config = config;
    options_.model_tokenizer = tokenizer;
    options_.threads = threads;
    options_.text_precision = parse_precision(text_precision);
    py::gil_scoped_release release;
    lib_ = std::make_unique<service::Library>(options_, service::Access::ReadWriteIfPossible);
  }

  std::string db_path() const { return lib_->db_path(); }
  std::string exclude_rule() const { return exclude_.text(); }
  int dim() const { return lib_->dim(); }

  // search --json: one list over every query (the field "query" when several).
  // diversity < 0: the plain ranking; 0..1: --diversity (service/diversity.h).
  // seeds, nots, not_likes: mixed into every text (service::search_mixed); with no text, the
  // seeds are the query (as `clapsearch search --seed`).
  std::string search(std::vector<std::string> texts, int64_t k, const std::string& aggregate, double high,
                     double moderate, const std::string& where, int64_t per_artist, int64_t per_album, double diversity,
                     bool include_excluded, const std::vector<std::string>& seeds, const std::vector<std::string>& nots,
                     const std::vector<std::string>& not_likes) {
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    const std::vector<service::QueryTerm> terms = terms_of("", seeds, {}, nots, not_likes);
    if (texts.empty() && seeds.empty()) throw InvalidInput("search: no query text (or seeds)");
    for (const auto& t : texts)
      if (t.find_first_not_of(" \t\r\n") == std::string::npos) throw InvalidInput("empty query text");
    if (k < 0) throw InvalidInput("k must be 0 (every track) or more");
    if (!(high >= moderate)) throw InvalidInput("high must be at least moderate");
    if (diversity > 1) throw InvalidInput("diversity must be in [0, 1]");
    search::TextSearchOptions topts;
    topts.k = diversity >= 0 ? service::results_before_diversity(k) : k;
    topts.aggregate = parse_aggregate_arg(aggregate);
    topts.thresholds.high = high;
    topts.thresholds.moderate = moderate;
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    const service::ResultRules rules = music_only(parsed, *snap, include_excluded);
    std::vector<std::vector<search::TrackScore>> results;
    if (!terms.empty()) {
      // The texts are positive terms of their own: negatives alone go with them.
      const service::MixedQuery mq = service::resolve_query(*lib_, *snap, terms, true, /*need_positive=*/texts.empty());
      const bool seeds_alone = texts.empty();
      results = service::search_mixed(*lib_, *snap, texts, mq, topts, rules);
      if (seeds_alone) texts.push_back("");  // one unnamed query: the seeds
    } else {
      results = service::search_texts(*lib_, *snap, texts, topts, rules);
    }
    if (diversity >= 0)
      for (auto& list : results)
        list = service::diversify(*snap, std::move(list), k, diversity, [](const search::TrackScore& r) { return r.track_id; },
                                  [](const search::TrackScore& r) { return r.score; });
    const bool several = texts.size() > 1;
    service::ojson out = service::ojson::array();
    for (size_t i = 0; i < texts.size(); ++i)
      for (size_t r = 0; r < results[i].size(); ++r)
        out.push_back(service::text_result_record(*snap, results[i][r], r + 1, several ? &texts[i] : nullptr));
    return service::json_text(out);
  }

  // like --json, the query an audio file, an indexed track (track=True) or samples.
  // seeds, texts, nots, not_likes: more terms (service::mixed_query_chunks), the query first;
  // diversity < 0: the plain ranking.
  std::string like(const std::string& query, bool is_track, int64_t k, int per_chunk, double vote_weight,
                   bool exclude_self, double chunk_s, double hop_s, const std::string& where, int64_t per_artist,
                   int64_t per_album, double diversity, bool include_excluded, const std::vector<std::string>& seeds,
                   const std::vector<std::string>& texts, const std::vector<std::string>& nots,
                   const std::vector<std::string>& not_likes) {
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    const bool mixed = !seeds.empty() || !texts.empty() || !nots.empty() || !not_likes.empty();
    if (diversity > 1) throw InvalidInput("diversity must be in [0, 1]");
    if (query.empty() && seeds.empty()) throw InvalidInput("like: give a query (an audio file, a track, samples) or seeds");
    if (mixed && (chunk_s > 0 || hop_s > 0)) throw InvalidInput("chunk and hop do not go with several seeds (each is cut as the index is)");
    if (k < 0) throw InvalidInput("k must be 0 (every track hit) or more");
    if (per_chunk < 1 || per_chunk > 1000) throw InvalidInput("per_chunk must be between 1 and 1000");
    if (!(vote_weight >= 0 && vote_weight <= 1)) throw InvalidInput("vote_weight must be in [0, 1]");
    if (chunk_s < 0 || hop_s < 0) throw InvalidInput("chunk and hop must be positive (or 0: the index's)");
    if (!is_track && !mixed) require_file(query);
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    service::ResultRules rules = music_only(parsed, *snap, include_excluded);
    search::LikeOptions lo;
    lo.k = diversity >= 0 ? service::results_before_diversity(k) : k;
    lo.per_chunk = per_chunk;
    lo.vote_weight = vote_weight;
    search::QueryChunks chunks;
    if (mixed) {
      const service::MixedQuery mq = service::resolve_query(*lib_, *snap, terms_of(query, seeds, texts, nots, not_likes));
      chunks = service::mixed_query_chunks(*lib_, *snap, mq);
      rules = service::excluding_seeds(rules, mq);
    } else if (is_track) {
      const store::Track* t = snap->find_track(query);
      if (!t) throw NotFound(query + ": no such track in the index (give a track id or the path of an indexed file)");
      chunks = service::track_query_chunks(*snap, *t);
      if (exclude_self) lo.exclude_track = t->id;
    } else {
      if (exclude_self)
        if (const store::Track* t = snap->find_track(query)) lo.exclude_track = t->id;
      chunks = service::file_query_chunks(*lib_, query, chunk_s, hop_s);
    }
    auto results = service::like(*snap, chunks, lo, rules);
    if (diversity >= 0)
      results = service::diversify(*snap, std::move(results), k, diversity, [](const search::LikeResult& r) { return r.track_id; },
                                   [](const search::LikeResult& r) { return r.combined; });
    service::ojson out = service::ojson::array();
    size_t rank = 0;
    for (const auto& r : results) out.push_back(service::like_result_record(*snap, r, ++rank));
    return service::json_text(out);
  }

  std::string like_samples(const py::array& array, int sr, int64_t k, int per_chunk, double vote_weight, double chunk_s,
                           double hop_s, const std::string& where, int64_t per_artist, int64_t per_album, double diversity,
                           bool include_excluded) {
    check_rate(sr);
    const Clips clips = clips_of(array);
    if (clips.batch) throw InvalidInput("like: one query clip at a time (a 1-D array of samples)");
    std::unique_ptr<TempWav> wav;
    {
      py::gil_scoped_release release;
      wav = std::make_unique<TempWav>(clips.row(0), static_cast<size_t>(clips.length), sr);
    }
    return like(wav->path(), false, k, per_chunk, vote_weight, false, chunk_s, hop_s, where, per_artist, per_album, diversity,
                include_excluded, {}, {}, {}, {});
  }

  // similar --json: an indexed track (itself left out) or any audio file.
  // seeds, texts, nots, not_likes: more terms (service/seeds.h), the query (when not empty) first.
  std::string similar(const std::string& query, int64_t k, const std::string& where, int64_t per_artist, int64_t per_album,
                      const std::vector<std::string>& seeds, const std::vector<std::string>& texts,
                      const std::vector<std::string>& nots, const std::vector<std::string>& not_likes, double diversity,
                      bool include_excluded) {
    if (k < 0) throw InvalidInput("k must be 0 (every track) or more");
    if (diversity > 1) throw InvalidInput("diversity must be in [0, 1]");
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    const service::ResultRules rules = music_only(parsed, *snap, include_excluded);
    const int64_t fetch = diversity >= 0 ? service::results_before_diversity(k) : k;
    std::vector<search::Hit> hits;
    if (!seeds.empty() || !texts.empty() || !nots.empty() || !not_likes.empty()) {
      const auto terms = terms_of(query, seeds, texts, nots, not_likes);
      hits = service::similar_mixed(*snap, service::resolve_query(*lib_, *snap, terms), lib_->dim(), fetch, rules);
    } else if (const store::Track* t = snap->find_track(query)) {
      hits = service::similar_tracks(*snap, *t, fetch, rules);
    } else {
      std::error_code ec;
      if (!fs::exists(query, ec)) throw NotFound(query + ": no such file, and no track with that id or path in the index");
      hits = service::similar_to_vector(*snap, lib_->file_embedding(query), fetch, rules);
    }
    if (diversity >= 0)
      hits = service::diversify(*snap, std::move(hits), k, diversity, [](const search::Hit& h) { return h.id; },
                                [](const search::Hit& h) { return h.score; });
    service::ojson out = service::ojson::array();
    size_t rank = 0;
    for (const auto& h : hits) out.push_back(service::similar_result_record(*snap, h, ++rank));
    return service::json_text(out);
  }

  // similar --artist/--album and search --artists/--albums --json (service/aggregates.h): by
  // `text`, or like the artist (album, by `artist` when given) named `like`.
  std::string groups(bool album, const std::string& text, const std::string& like, const std::string& artist, int64_t k,
                     const std::string& where, bool include_excluded) {
    if (k < 0) throw InvalidInput("k must be 0 (every one) or more");
    if (text.empty() == like.empty()) throw InvalidInput("give a text or like=NAME (one of them)");
    const service::ResultRules parsed = rules_of(where, 0, 0);
    const service::GroupKind kind = album ? service::GroupKind::Album : service::GroupKind::Artist;
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    const service::ResultRules rules = music_only(parsed, *snap, include_excluded);
    std::vector<service::GroupHit> hits;
    if (!text.empty()) {
      hits = service::search_groups(*lib_, *snap, kind, {text}, k, rules)[0];
    } else {
      try {
        hits = service::similar_groups(*snap, kind, like, artist, k, rules);
      } catch (const InvalidArgument&) {
        throw;
      } catch (const Error& e) {
        throw NotFound(e.what());
      }
    }
    service::ojson out = service::ojson::array();
    for (size_t r = 0; r < hits.size(); ++r) out.push_back(service::group_hit_record(hits[r], r + 1, album));
    return service::json_text(out);
  }

  std::string playlist(const std::vector<std::string>& seeds, const std::vector<std::string>& texts, int64_t length,
                       double diversity, const std::string& where, int64_t per_artist, int64_t per_album,
                       bool include_excluded) {
    if (length < 1) throw InvalidInput("length must be positive");
    service::RadioRequest request;
    request.seeds = seeds;
    request.texts = texts;
    request.length = length;
    request.diversity = diversity;
    const service::ResultRules parsed = rules_of(where, per_artist, per_album);
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    request.rules = music_only(parsed, *snap, include_excluded);
    const service::Playlist p = service::radio(*lib_, *snap, request);
    service::ojson out = service::ojson::array();
    for (size_t i = 0; i < p.tracks.size(); ++i) {
      const bool seed = static_cast<int64_t>(i) < p.seeds;
      out.push_back(service::playlist_track_record(*snap, p.tracks[i], i + 1, &seed));
    }
    return service::json_text(out);
  }

  std::string path(const std::string& from, const std::string& to, int64_t length, const std::string& where,
                   bool include_excluded) {
    const service::ResultRules parsed = rules_of(where, 0, 0);
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    const service::Playlist p = service::track_path(*snap, from, to, length, music_only(parsed, *snap, include_excluded));
    service::ojson out = service::ojson::array();
    for (size_t i = 0; i < p.tracks.size(); ++i) out.push_back(service::playlist_track_record(*snap, p.tracks[i], i + 1));
    return service::json_text(out);
  }

  // duplicates --json.
  std::string duplicates(double threshold, double min_duration_ratio) {
    search::DuplicateOptions options;
    options.threshold = threshold;
    options.min_duration_ratio = min_duration_ratio;
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    const auto groups = service::find_duplicates(*snap, options);
    return service::json_text(service::duplicate_groups_record(*snap, groups));
  }

  // Every track row: id, path, status, error, duration, tags, windows.
  std::string tracks() {
    py::gil_scoped_release release;
    const auto snap = lib_->snapshot();
    service::ojson out = service::ojson::array();
    for (const store::Track& t : snap->tracks()) {
      service::ojson j;
      j["track_id"] = t.id;
      j["path"] = t.path;
      j["status"] = t.status == store::TrackStatus::Ok ? "ok" : "error";
      j["error"] = t.error;
      j["silent"] = t.silent;
      j["duration_s"] = service::json_num(t.duration_s);
      j["n_windows"] = t.window_count;
      j["artist"] = t.artist;
      j["title"] = t.title;
      j["album"] = t.album;
      j["genre"] = t.genre;
      j["date"] = t.date;
      out.push_back(j);
    }
    return service::json_text(out);
  }

  // FAISS's convention over the track embeddings: D (n × k) cosines, I (n × k) track ids,
  // -1 / -inf where fewer than k tracks exist.
  py::tuple search_vectors(const py::array& queries, int64_t k) {
    if (k < 1) throw InvalidInput("k must be positive");
    if (!py::isinstance<py::array_t<float>>(queries) || queries.dtype().kind() != 'f' || queries.itemsize() != 4)
      throw InvalidInput("queries must be a float32 numpy array of shape (n, " + std::to_string(dim()) + ")");
    if (queries.ndim() != 2 || queries.shape(1) != dim())
      throw InvalidInput("queries must have shape (n, " + std::to_string(dim()) + "), the index's embedding size");
    auto q = py::array_t<float, py::array::c_style>::ensure(queries);
    const py::ssize_t n = q.shape(0);
    py::array_t<float> D({n, static_cast<py::ssize_t>(k)});
    py::array_t<int64_t> I({n, static_cast<py::ssize_t>(k)});
    const float* qp = q.data();
    float* dp = D.mutable_data();
    int64_t* ip = I.mutable_data();
    const int d = dim();
    for (py::ssize_t i = 0; i < n * d; ++i)
      if (!std::isfinite(qp[i])) throw InvalidInput("queries: a value is not finite (NaN or infinity)");
    {
      py::gil_scoped_release release;
      const auto snap = lib_->snapshot();
      for (py::ssize_t r = 0; r < n; ++r) {
        const std::vector<float> v(qp + r * d, qp + (r + 1) * d);
        const auto hits = service::similar_to_vector(*snap, v, k);
        for (int64_t j = 0; j < k; ++j) {
          const bool has = j < static_cast<int64_t>(hits.size());
          dp[r * k + j] = has ? static_cast<float>(hits[static_cast<size_t>(j)].score) : -std::numeric_limits<float>::infinity();
          ip[r * k + j] = has ? hits[static_cast<size_t>(j)].id : -1;
        }
      }
    }
    return py::make_tuple(D, I);
  }

 private:
  service::ResultRules music_only(service::ResultRules rules, const service::LibrarySnapshot& snap, bool include_excluded) const {
    if (include_excluded) return rules;
    return service::excluding_rule(std::move(rules), exclude_, snap.tracks());
  }

  service::LibraryOptions options_;
  search::Filter exclude_;
  std::unique_ptr<service::Library> lib_;
};

// `clapsearch index`: returns the run's summary as a dict. `progress` (optional) is called with
// (files_done, files_total, audio_seconds, elapsed_seconds, eta_seconds) from the indexer,
// with the GIL taken for the call only; `event` with (kind, path, detail).
py::dict run_index(const std::vector<std::string>& dirs, const std::string& db, const std::optional<std::string>& model,
                   const std::string& config, const std::string& tokenizer, std::optional<double> window_s,
                   std::optional<double> hop_s, std::optional<std::string> precision, int threads, int batch, bool rebuild,
                   const py::object& progress, const py::object& event) {
  if (dirs.empty()) throw InvalidInput("index: no folders or files given");
  for (const auto& d : dirs) require_file(d);
  service::IndexRequest r;
  r.dirs = dirs;
  r.db = db;
  r.model = model;
  r.model_config = config;
  r.model_tokenizer = tokenizer;
  r.window_s = window_s;
  r.hop_s = hop_s;
  r.precision = precision;
  r.threads = threads;
  r.batch = batch;
  r.rebuild = rebuild;
  r.quiet = true;
  index::IndexCallbacks callbacks;
  std::mutex error_mutex;
  std::optional<py::error_already_set> callback_error;
  auto call = [&](const py::object& f, auto&&... args) {
    py::gil_scoped_acquire gil;
    {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (callback_error) return;
    }
    try {
      f(args...);
    } catch (py::error_already_set& e) {
      std::lock_guard<std::mutex> lock(error_mutex);
      callback_error.emplace(std::move(e));
    }
  };
  if (!progress.is_none())
    callbacks.progress = [&](const index::IndexProgress& p) {
      call(progress, p.files_done, p.files_total, p.audio_seconds, p.elapsed_seconds, p.eta_seconds);
    };
  if (!event.is_none())
    callbacks.event = [&](const index::FileEvent& e) {
      static const char* const kinds[] = {"indexed", "moved", "restored", "error", "pruned", "lease_lost"};
      call(event, std::string(kinds[static_cast<int>(e.kind)]), e.path, e.detail);
    };
  service::IndexRun run;
  {
    py::gil_scoped_release release;
    run = service::run_index(r, callbacks);
  }
  if (callback_error) throw std::move(*callback_error);
  const index::IndexSummary& s = run.summary;
  py::dict d;
  d["db"] = run.db_path;
  d["found"] = s.found;
  d["indexed"] = s.indexed;
  d["unchanged"] = s.unchanged;
  d["moved"] = s.moved;
  d["restored"] = s.restored;
  d["pruned"] = s.pruned;
  d["errors"] = s.errors;
  d["windows"] = s.windows;
  d["audio_seconds"] = s.audio_seconds;
  d["wall_seconds"] = s.wall_seconds;
  py::list errors;
  for (const auto& e : s.new_errors) errors.append(py::make_tuple(e.path, e.reason));
  d["new_errors"] = errors;
  return d;
}

py::array_t<float> load_audio(const std::string& path, int sr) {
  require_file(path);
  check_rate(sr);
  std::vector<float> samples;
  {
    py::gil_scoped_release release;
    samples = audio::decode_file(path, sr);
  }
  return owned_vector(std::move(samples));
}

}  // namespace
}  // namespace clap::python

PYBIND11_MODULE(_clapsearch, m) {
  using namespace clap::python;
  m.doc() = "The compiled half of clapsearch (see the clapsearch package for the documented API).";

  g_error = PyErr_NewExceptionWithDoc("clapsearch.Error", "Base of every error clapsearch raises; the message is the CLI's.",
                                      PyExc_Exception, nullptr);
  {
    py::tuple bases = py::make_tuple(py::handle(g_error), py::handle(PyExc_FileNotFoundError));
    g_not_found = PyErr_NewExceptionWithDoc("clapsearch.NotFoundError", "A file, model or track that is not there (a FileNotFoundError).",
                                            bases.ptr(), nullptr);
  }
  {
    py::tuple bases = py::make_tuple(py::handle(g_error), py::handle(PyExc_ValueError));
    g_invalid = PyErr_NewExceptionWithDoc("clapsearch.InvalidInputError",
                                          "A bad argument: dtype, shape, sample rate, empty list, out-of-range option (a ValueError).",
                                          bases.ptr(), nullptr);
  }
  m.attr("Error") = py::handle(g_error);
  m.attr("NotFoundError") = py::handle(g_not_found);
  m.attr("InvalidInputError") = py::handle(g_invalid);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const clap::InvalidArgument& e) {
      PyErr_SetString(g_invalid, e.what());
    } catch (const NotFound& e) {
      PyErr_SetString(g_not_found, e.what());
    } catch (const clap::Error& e) {
      const std::string what = e.what();
      PyObject* type = g_error;
      if (what.find("no such file") != std::string::npos || what.find("no such model") != std::string::npos ||
          what.find("no such track") != std::string::npos || what.find("No such file") != std::string::npos)
        type = g_not_found;
      else if (what.find("choose from") != std::string::npos || what.find("must be") != std::string::npos)
        type = g_invalid;
      PyErr_SetString(type, e.what());
    }
  });

  py::class_<Model>(m, "_Model")
      .def(py::init<const std::string&, const std::string&, const std::string&, int, const std::string&, const std::string&>(),
           py::arg("model"), py::arg("precision"), py::arg("text_precision"), py::arg("threads"), py::arg("config"),
           py::arg("tokenizer"))
      .def("embed_text", &Model::embed_text, py::arg("texts"), py::arg("batch"))
      .def("embed_audio", &Model::embed_audio, py::arg("data"), py::arg("sr"), py::arg("batch"))
      .def("embed_audio_files", &Model::embed_audio_files, py::arg("paths"), py::arg("hop"), py::arg("batch"))
      .def("embed_song_file", &Model::embed_song_file, py::arg("path"), py::arg("window"), py::arg("hop"),
           py::arg("silence_db"), py::arg("batch"))
      .def("embed_song", &Model::embed_song, py::arg("data"), py::arg("sr"), py::arg("window"), py::arg("hop"),
           py::arg("silence_db"), py::arg("batch"))
      .def_property_readonly("name", &Model::name)
      .def_property_readonly("dim", &Model::dim)
      .def_property_readonly("sample_rate", [](const Model& x) { return x.model().sample_rate(); })
      .def_property_readonly("logit_scale", &Model::logit_scale)
      .def_property_readonly("logit_scale_text", &Model::logit_scale_text)
      .def_property_readonly("precision", &Model::precision)
      .def_property_readonly("text_precision", &Model::text_precision)
      .def("config_json", &Model::config_json)
      .def("features_json", &Model::features_json);

  py::class_<Library>(m, "_Library")
      .def(py::init<const std::string&, const std::string&, const std::string&, const std::string&, int, const std::string&,
                    const std::string&>(),
           py::arg("db"), py::arg("model"), py::arg("config"), py::arg("tokenizer"), py::arg("threads"),
           py::arg("text_precision"), py::arg("exclude_rule"))
      .def_property_readonly("db_path", &Library::db_path)
      .def_property_readonly("exclude_rule", &Library::exclude_rule)
      .def_property_readonly("dim", &Library::dim)
      .def("search", &Library::search)
      .def("like", &Library::like)
      .def("like_samples", &Library::like_samples)
      .def("similar", &Library::similar)
      .def("groups", &Library::groups)
      .def("playlist", &Library::playlist)
      .def("path", &Library::path)
      .def("duplicates", &Library::duplicates)
      .def("tracks", &Library::tracks)
      .def("search_vectors", &Library::search_vectors);

  m.def("run_index", &run_index, py::arg("dirs"), py::arg("db"), py::arg("model"), py::arg("config"), py::arg("tokenizer"),
        py::arg("window"), py::arg("hop"), py::arg("precision"), py::arg("threads"), py::arg("batch"), py::arg("rebuild"),
        py::arg("progress"), py::arg("event"));
  m.def("load_audio", &load_audio, py::arg("path"), py::arg("sr"));
  m.def("default_model", [] { return std::string(clap::hub::kDefaultModel); });
  m.attr("DEFAULT_EXCLUDE_RULE") = std::string(clap::service::kDefaultExclude);
}
