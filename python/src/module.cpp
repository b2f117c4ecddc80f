// `import clapsearch`: the compiled half of the Python package (python/clapsearch/ is the
// other). A front end like src/cli and src/server: it parses Python arguments, calls the
// library's public functions (service/, model/clap.h) and converts the results; the logic is
// in the library, so Python, the CLI and the server give the same answers.
//
// Every call into the engine releases the GIL (two Python threads embed on two cores); every
// clap::Error becomes a clapsearch.Error (FileNotFoundError / ValueError subclasses where the
// cause is a missing file or a bad argument) with the CLI's message. Embeddings come back as
// numpy arrays that own the engine's buffer (no copy); input arrays are read in place when they
// are float32 and C-contiguous. This file holds Model, index and load_audio; library.cpp the
// Library; support.h what both use (argument checks, the in-memory WAV, results as Python
// objects, Ctrl-C). python/clapsearch/__init__.py checks every argument's type before it gets here.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "core/error.h"
#include "hub/hub.h"
#include "index/identity.h"
#include "index/window_settings.h"
#include "library.h"
#include "model/clap.h"
#include "service/audio_embedding.h"
#include "service/filters.h"
#include "service/indexing.h"
#include "service/library.h"
#include "service/model.h"
#include "support.h"

namespace clap::python {
namespace {

// clapsearch.Error and its two subclasses (created in the module init).
PyObject* g_error = nullptr;
PyObject* g_not_found = nullptr;
PyObject* g_invalid = nullptr;

// --- Model -------------------------------------------------------------------------------

class Model {
 public:
  static constexpr const char* kShownName = "_Model";  // made<Model>'s error
  Model(const std::string& spec, const std::string& precision, const std::string& text_precision, int threads,
        const std::string& config, const std::string& tokenizer)
      : threads_(threads) {
    check_threads(threads);
    service::ModelOpenOptions o;
    o.hub.quiet = true;
    o.hub.config = config;
    o.hub.tokenizer = tokenizer;
    o.threads = threads;
    o.audio_precision = parse_precision(precision);
    o.text_precision = parse_precision(text_precision);
    ReleaseGil release;
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

  // The engine is called `batch` items at a time (results do not depend on the batch) so that
  // Ctrl-C is seen between batches: a KeyboardInterrupt within one batch's time, not at the
  // end of a call that may run for minutes.
  // max_tokens 0 cuts at the model's limit; the laion_clap drop-in passes LAION's 77.
  py::array_t<float> embed_text(const std::vector<std::string>& texts, int batch, size_t max_tokens) const {
    if (max_tokens == 1) throw InvalidInput("max_tokens must be 0 (the model's limit) or at least 2");
    if (texts.empty()) throw InvalidInput("embed_text: no texts (give a string or a non-empty list of strings)");
    check_batch(batch);
    std::vector<float> out;
    {
      ReleaseGil release;
      Lease state(*this);
      out.reserve(texts.size() * static_cast<size_t>(dim()));
      for (size_t i = 0; i < texts.size(); i += static_cast<size_t>(batch)) {
        if (i > 0) check_signals();
        const size_t end = std::min(texts.size(), i + static_cast<size_t>(batch));
        const std::vector<std::string> part(texts.begin() + static_cast<std::ptrdiff_t>(i), texts.begin() + static_cast<std::ptrdiff_t>(end));
        const std::vector<float> e = model_->embed_text(*state, part, batch, max_tokens);
        out.insert(out.end(), e.begin(), e.end());
      }
    }
    return owned_matrix(std::move(out), static_cast<py::ssize_t>(texts.size()), dim());
  }

  // Clips at the model's rate are embedded as given (each like the reference processor
  // called on it alone); at another rate each is resampled first (libsoxr), as a file is.
  py::array_t<float> embed_audio(const py::array& array, int sr, int batch) const {
    check_rate(sr);
    check_batch(batch);
    const Clips clips = clips_of(array);
    std::vector<float> out;
    {
      ReleaseGil release;
      Lease state(*this);
      std::vector<std::vector<float>> resampled;
      std::vector<std::span<const float>> spans;
      for (py::ssize_t i = 0; i < clips.rows; ++i) {
        if (sr == model_->sample_rate()) {
          spans.emplace_back(clips.row(i), static_cast<size_t>(clips.length));
          continue;
        }
        if (i > 0) check_signals();
        const MemoryWav wav(clips.row(i), static_cast<size_t>(clips.length), sr);
        const std::string what = clips.batch ? "audio clip " + std::to_string(i) : std::string("audio");
        resampled.push_back(naming_samples(wav, what, [&] { return audio::decode_file(wav.path(), model_->sample_rate()); }));
        if (resampled.back().empty()) throw InvalidInput(what + ": shorter than one sample at the model's rate");
      }
      if (!resampled.empty()) spans.assign(resampled.begin(), resampled.end());
      out.reserve(spans.size() * static_cast<size_t>(dim()));
      for (size_t i = 0; i < spans.size(); i += static_cast<size_t>(batch)) {
        if (i > 0) check_signals();
        const size_t end = std::min(spans.size(), i + static_cast<size_t>(batch));
        const std::vector<float> e = model_->embed_audio(
            *state, std::vector<std::span<const float>>(spans.begin() + static_cast<std::ptrdiff_t>(i), spans.begin() + static_cast<std::ptrdiff_t>(end)),
            batch);
        out.insert(out.end(), e.begin(), e.end());
      }
    }
    return owned_matrix(std::move(out), clips.rows, dim());
  }

  // `clapsearch embed --audio` for each file: a file of at most one window as one clip,
  // longer ones as the normalised mean of their windows every hop_s seconds.
  py::array_t<float> embed_audio_files(const std::vector<std::string>& paths, double hop_s, int batch) const {
    if (paths.empty()) throw InvalidInput("embed_audio_files: no files (give a non-empty list of paths)");
    if (!(hop_s > 0)) throw InvalidInput("hop must be a positive number of seconds");
    // As embed --hop: windows further apart than the model's window leave audio out.
    index::check_window_settings_named(double(model_->window_samples()) / model_->sample_rate(), hop_s, "the model's window", "hop");
    check_batch(batch);
    for (const auto& p : paths) require_file(p);
    std::vector<float> out;
    {
      ReleaseGil release;
      Lease state(*this);
      out.reserve(paths.size() * static_cast<size_t>(dim()));
      for (const auto& p : paths) {
        if (&p != &paths.front()) check_signals();
        const std::vector<float> e = service::embed_audio_file(*model_, *state, p, hop_s, batch, check_signals);
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
      ReleaseGil release;
      service::check_window_length(window_s, model_->sample_rate(), model_->window_samples());
      // The index's bounds (window >= 1 s, 0.5 s <= hop <= window): a hop past the window left
      // gaps between windows and a last window of 0 s. Named by Python's keywords.
      index::check_window_settings_named(window_s, hop_s, "window", "hop");
      service::WindowSettings settings;
      settings.window_s = window_s;
      settings.hop_s = hop_s;
      settings.silence_db = silence_db;
      settings.batch = batch;
      settings.between_batches = check_signals;  // Ctrl-C within one long file
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
    const std::unique_ptr<MemoryWav> wav = one_clip_wav(array, sr, "embed_song", "song");
    return naming_samples(*wav, "the song's samples", [&] { return embed_song_file(wav->path(), window_s, hop_s, silence_db, batch); });
  }

  float logit_scale() const { return model_->logit_scale_audio(); }
  float logit_scale_text() const { return model_->logit_scale_text(); }
  std::string precision() const { return precision_name(model_->audio_precision()); }
  std::string text_precision() const { return precision_name(model_->text_precision()); }
  std::string config_json() const { return model_->config().to_json_text(); }
  std::string features_json() const { return model_->config().features.to_json_text(); }

 private:
  int threads_ = 0;
  std::string name_;
  std::unique_ptr<ClapModel> model_;
  mutable std::mutex states_mutex_;
  mutable std::vector<std::unique_ptr<ClapState>> states_;
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
  check_threads(threads);
  check_batch(batch);
  // A Python callback that raised, or Ctrl-C (Python's signal handlers run after every file,
  // from the progress callback): the run stops between two files (every finished file is
  // stored, as when a watch is stopped) by this exception, and the Python error is raised.
  struct Stopped {};
  index::IndexCallbacks callbacks;
  std::mutex error_mutex;
  std::optional<py::error_already_set> callback_error;
  auto call = [&](const py::object* f, auto&&... args) {
    if (!PyGILState_Check()) wait_out_interpreter_exit();
    py::gil_scoped_acquire gil;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (f) (*f)(args...);
    } catch (py::error_already_set& e) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!callback_error) callback_error.emplace(std::move(e));
      throw Stopped{};
    }
  };
  callbacks.progress = [&](const index::IndexProgress& p) {
    call(progress.is_none() ? nullptr : &progress, p.files_done, p.files_total, p.audio_seconds, p.elapsed_seconds,
         p.eta_seconds);
  };
  callbacks.event = [&](const index::FileEvent& e) {
    static const char* const kinds[] = {"indexed", "moved", "restored", "error", "pruned", "lease_lost"};
    if (event.is_none()) return call(nullptr);
    if (!PyGILState_Check()) wait_out_interpreter_exit();
    py::gil_scoped_acquire gil;  // for the names' Python strings (call takes it again: reentrant)
    call(&event, py::str(kinds[static_cast<int>(e.kind)]), fs_str(e.path), fs_str(e.detail));
  };
  service::IndexRun run;
  try {
    LibraryCall release;
    run = service::run_index(r, callbacks);
  } catch (const Stopped&) {
  }
  if (callback_error) throw std::move(*callback_error);
  const index::IndexSummary& s = run.summary;
  py::dict d;
  d["db"] = fs_str(run.db_path);
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
  for (const auto& e : s.new_errors) errors.append(py::make_tuple(fs_str(e.path), fs_str(e.reason)));
  d["new_errors"] = errors;
  return d;
}

// A message that may hold file names that are not UTF-8 (shown as \xNN escapes, not refused).
void set_error(PyObject* type, const char* message) {
  PyObject* text = PyUnicode_DecodeUTF8(message, static_cast<Py_ssize_t>(std::strlen(message)), "backslashreplace");
  if (!text) return;  // the decoding error is raised instead
  PyErr_SetObject(type, text);
  Py_DECREF(text);
}

// A NotFoundError as Python's FileNotFoundError is: errno ENOENT, strerror and filename set
// (hostile pass 9: they were None). Its str() stays the message (_native.py sets __str__).
void set_not_found(const char* message, const std::string& filename) {
  PyObject* text = PyUnicode_DecodeUTF8(message, static_cast<Py_ssize_t>(std::strlen(message)), "backslashreplace");
  if (!text) return;
  PyObject* error = PyObject_CallOneArg(g_not_found, text);
  Py_DECREF(text);
  if (!error) return;
  const auto set = [&](const char* name, PyObject* value) {
    if (value) PyObject_SetAttrString(error, name, value);
    Py_XDECREF(value);
  };
  set("errno", PyLong_FromLong(ENOENT));
  set("strerror", PyUnicode_FromString(std::strerror(ENOENT)));
  if (!filename.empty())  // as os functions give it: the name decoded as the file system encodes it
    set("filename", PyUnicode_DecodeFSDefaultAndSize(filename.data(), static_cast<Py_ssize_t>(filename.size())));
  PyErr_Clear();  // an attribute that could not be set leaves the error as it is
  PyErr_SetObject(g_not_found, error);
  Py_DECREF(error);
}

// The file a message "FILE: no such file..." names ("" when it names none).
std::string named_file(const std::string& message) {
  const size_t at = message.find(": no such file");
  return at == std::string::npos || at == 0 ? "" : message.substr(0, at);
}

py::array_t<float> load_audio(const std::string& path, int sr) {
  require_file(path);
  check_rate(sr);
  std::vector<float> samples;
  {
    ReleaseGil release;
    // Ctrl-C about every second of decoded audio: a 3-hour file takes a while (L5).
    size_t next_check = static_cast<size_t>(sr);
    audio::decode_stream(path, sr, [&](const float* x, size_t n) {
      if (samples.size() >= next_check) {
        next_check = samples.size() + static_cast<size_t>(sr);
        check_signals();
      }
      samples.insert(samples.end(), x, x + n);
    });
  }
  return owned_vector(std::move(samples));
}

}  // namespace
}  // namespace clap::python

PYBIND11_MODULE(_clapsearch, m) {
  using namespace clap::python;
  m.doc() = "The compiled half of clapsearch (see the clapsearch package for the documented API).";
  remember_main_thread();
  watch_forks_during_library_calls();

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
      set_error(g_invalid, e.what());
    } catch (const NotFound& e) {
      set_not_found(e.what(), e.filename);
    } catch (const clap::Error& e) {
      const std::string what = e.what();
      PyObject* type = g_error;
      // "'ID': no track with that id": a playlist seed or a path's end the index does not have
      // (H12P-1: it was a plain Error, where similar() of the same id is a NotFoundError); not
      // "FILE: a loop of symbolic links, and no track with that id", which is not a missing file. "not in the
      // Hugging Face cache": a hub model (or revision) not cached while offline, which Model's
      // docstring says is a NotFoundError (H12P-10: it was a plain Error).
      if (what.find("no such file") != std::string::npos || what.find("no such model") != std::string::npos ||
          what.find("no such track") != std::string::npos || what.find("No such file") != std::string::npos ||
          what.find("': no track with that id") != std::string::npos ||
          what.find("not in the Hugging Face cache") != std::string::npos)
        return set_not_found(e.what(), named_file(what));
      if (what.find("choose from") != std::string::npos || what.find("must be") != std::string::npos) type = g_invalid;
      set_error(type, e.what());
    }
  });

  py::class_<Model>(m, "_Model")
      .def(py::init<const std::string&, const std::string&, const std::string&, int, const std::string&, const std::string&>(),
           py::arg("model"), py::arg("precision"), py::arg("text_precision"), py::arg("threads"), py::arg("config"),
           py::arg("tokenizer"))
      .def("embed_text", on_made(&Model::embed_text), py::arg("texts"), py::arg("batch"), py::arg("max_tokens") = 0)
      .def("embed_audio", on_made(&Model::embed_audio), py::arg("data"), py::arg("sr"), py::arg("batch"))
      .def("embed_audio_files", on_made(&Model::embed_audio_files), py::arg("paths"), py::arg("hop"), py::arg("batch"))
      .def("embed_song_file", on_made(&Model::embed_song_file), py::arg("path"), py::arg("window"), py::arg("hop"),
           py::arg("silence_db"), py::arg("batch"))
      .def("embed_song", on_made(&Model::embed_song), py::arg("data"), py::arg("sr"), py::arg("window"), py::arg("hop"),
           py::arg("silence_db"), py::arg("batch"))
      .def_property_readonly("name", [](py::handle self) { return fs_str(made<Model>(self).name()); })
      .def_property_readonly("dim", on_made(&Model::dim))
      .def_property_readonly("sample_rate", [](py::handle self) { return made<Model>(self).model().sample_rate(); })
      .def_property_readonly("logit_scale", on_made(&Model::logit_scale))
      .def_property_readonly("logit_scale_text", on_made(&Model::logit_scale_text))
      .def_property_readonly("precision", on_made(&Model::precision))
      .def_property_readonly("text_precision", on_made(&Model::text_precision))
      .def("config_json", on_made(&Model::config_json))
      .def("features_json", on_made(&Model::features_json));

  bind_library(m);

  m.def("run_index", &run_index, py::arg("dirs"), py::arg("db"), py::arg("model"), py::arg("config"), py::arg("tokenizer"),
        py::arg("window"), py::arg("hop"), py::arg("precision"), py::arg("threads"), py::arg("batch"), py::arg("rebuild"),
        py::arg("progress"), py::arg("event"));
  m.def("load_audio", &load_audio, py::arg("path"), py::arg("sr"));
  m.def("default_model", [] { return std::string(clap::hub::kDefaultModel); });
  m.attr("DEFAULT_EXCLUDE_RULE") = std::string(clap::service::kDefaultExclude);
  m.attr("MIN_SAMPLE_RATE") = kMinSampleRate;
  m.attr("MAX_SAMPLE_RATE") = kMaxSampleRate;
  m.attr("MAX_THREADS") = kMaxThreads;
  m.attr("MIN_HOP_SECONDS") = clap::index::kMinHopSeconds;
}
