#include "service/audio_embedding.h"

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <span>
#include <utility>

#include "audio/decode.h"
#include "audio/media_unavailable.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "index/identity.h"
#include "index/window_stream.h"
#include "service/stop_check.h"
#include "core/missing_file.h"

namespace clap::service {

namespace fs = std::filesystem;

namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A length too large for fixed's digits (1e+300), as %g writes it.
std::string number_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void check_window_length(double window_s, int rate, int64_t max_samples) {
  // Compared as doubles: llround of a length beyond int64 (a chunk of 1e300 s) is unspecified
  // (LLONG_MIN here), which passed this check and was then refused as "shorter than one sample".
  if (!(window_s * rate < static_cast<double>(max_samples) + 0.5))
    throw Error("chunks of " + (window_s < 1e6 ? fixed(window_s, 2) : number_g(window_s)) + " s are longer than the model's input (" +
                fixed(double(max_samples) / rate, 2) + " s)");
}

namespace {

// A decode sink's check, about every second of audio: `between` (when given) may throw to stop.
struct DecodeCheck {
  const std::function<void()>& between;
  size_t every, next;
  void operator()(size_t decoded) {
    if (!between || decoded < next) return;
    next = decoded + every;
    between();
  }
};

// Windows embedded as a file is decoded: each added window's samples are copied into the next
// batch, and every `batch` windows the model runs (with `between` called before every run but the
// first). Every clip is embedded on its own, so the rows are the numbers one call over all the
// windows gives, whatever the batches.
class WindowEmbedder {
 public:
  using Embed = std::function<std::vector<float>(const std::vector<std::span<const float>>&)>;
  WindowEmbedder(size_t width, int batch, const std::function<void()>& between, Embed embed)
      : width_(width), batch_(static_cast<size_t>(std::max(1, batch))), between_(between), embed_(std::move(embed)) {}

  void add(size_t window, const float* x, size_t n) {
    queued_.emplace_back(x, x + n);
    queued_windows_.push_back(window);
    if (queued_.size() >= batch_) run();
  }
  void finish() {
    if (!queued_.empty()) run();
  }
  // Window `window`'s row, nullptr when it was not added.
  const float* row(size_t window) const {
    const auto it = row_of_.find(window);
    return it == row_of_.end() ? nullptr : rows_.data() + it->second * width_;
  }
  size_t embedded() const { return row_of_.size(); }

 private:
  void run() {
    if (runs_++ > 0 && between_) between_();
    const std::vector<std::span<const float>> clips(queued_.begin(), queued_.end());
    const std::vector<float> e = embed_(clips);
    for (size_t k = 0; k < queued_windows_.size(); ++k) row_of_.emplace(queued_windows_[k], row_of_.size());
    rows_.insert(rows_.end(), e.begin(), e.end());
    queued_.clear();
    queued_windows_.clear();
  }

  size_t width_, batch_;
  const std::function<void()>& between_;
  Embed embed_;
  std::vector<std::vector<float>> queued_;
  std::vector<size_t> queued_windows_;
  std::map<size_t, size_t> row_of_;  // window -> row
  std::vector<float> rows_;
  size_t runs_ = 0;
};

}  // namespace

namespace {
thread_local std::function<void()> t_stop_check;
}  // namespace

ScopedStopCheck::ScopedStopCheck(std::function<void()> check) : previous_(std::exchange(t_stop_check, std::move(check))) {}
ScopedStopCheck::~ScopedStopCheck() { t_stop_check = std::move(previous_); }
const std::function<void()>& thread_stop_check() { return t_stop_check; }

void check_hop(double hop_s) {
  if (hop_s >= index::kMinHopSeconds) return;
  char shown[96];
  std::snprintf(shown, sizeof shown, "--hop %g s: at least %g s (every window is one model run)", hop_s, index::kMinHopSeconds);
  throw InvalidArgument(shown);
}

namespace {
// Windows further apart than they are long leave the audio between them out, and the last one
// could be 0 s long: refused as `index --hop` longer than --window is (hostile pass 10).
void check_hop_within(double hop_s, double window_s, const char* window) {
  if (!(hop_s > window_s + 1e-9)) return;
  char shown[160];
  std::snprintf(shown, sizeof shown, "--hop %g s is longer than %s (%g s): audio between windows would be left out", hop_s,
                window, window_s);
  throw InvalidArgument(shown);
}
}  // namespace

FileWindows embed_file_windows(const ClapModel& model, ClapState& state, const std::string& path,
                               const WindowSettings& given) {
  // The caller's check, else the thread's (a query or seed file of a Python call: Ctrl-C within it).
  WindowSettings s = given;
  if (!s.between_batches) s.between_batches = thread_stop_check();
  std::error_code ec;
  if (const std::string why = missing_file_reason(path); !why.empty()) throw Error(path + ": " + why);
  if (fs::is_directory(path, ec)) throw Error(path + ": is a folder, not an audio file");
  const int rate = model.sample_rate();
  const int64_t window = std::llround(s.window_s * rate), hop = std::llround(s.hop_s * rate);
  check_window_length(s.window_s, rate, model.window_samples());
  check_hop(s.hop_s);
  check_hop_within(s.hop_s, s.window_s, "the window");
  if (window < 1 || hop < 1) throw Error("chunk and hop must be at least one sample long");
  // The windows are cut and embedded as the file is decoded (index::WindowStream): a query file
  // is held a window and a batch of clips at a time, not whole. `like` of a 10-hour file held
  // every sample (6.1 GB resident and growing, hostile pass 22, H22C-6), and so did a seed file,
  // `similar FILE` and `analyze`. Which windows are silence is known only at the end (a track all
  // below --silence-db is judged against its own loudest window: audio::silence_threshold), so a
  // window below --silence-db is embedded while no louder one has come, and not once one has (it
  // is then silent whatever follows); the rows of windows found silent at the end are zeros, as
  // they always were.
  FileWindows fw;
  fw.path = path;
  fw.dim = model.embedding_dim();
  if (s.pooled) fw.pooled_dim = model.config().audio.hidden_size;
  const size_t width = static_cast<size_t>(s.pooled ? fw.pooled_dim : fw.dim);
  WindowEmbedder embedder(width, s.batch, s.between_batches, [&](const std::vector<std::span<const float>>& part) {
    return s.pooled ? model.audio_pooled(state, part, s.batch) : model.embed_audio(state, part, s.batch);
  });
  std::vector<audio::WindowLevel> levels;
  bool loud_seen = false;
  index::WindowStream stream(window, hop, [&](int i, int64_t start, int64_t end, const float* x) {
    const size_t n = static_cast<size_t>(end - start);
    levels.push_back(audio::window_level(x, n));
    fw.starts.push_back(double(start) / rate);
    fw.ends.push_back(double(end) / rate);
    const bool loud = !(levels.back().rms_db < s.silence_db);  // as audio::QuietTrackCheck counts it
    loud_seen = loud_seen || loud;
    if (loud || !loud_seen) embedder.add(static_cast<size_t>(i), x, n);
  });
  const size_t max_samples = s.max_duration_s > 0 ? static_cast<size_t>(s.max_duration_s * rate) + 1 : SIZE_MAX;
  size_t decoded = 0;
  bool too_long = false;
  std::exception_ptr model_failure;  // the model's, not the file's: never "cannot decode"
  DecodeCheck check{s.between_batches, static_cast<size_t>(rate), static_cast<size_t>(rate)};
  try {
    audio::decode_stream(
        path, rate,
        [&](const float* x, size_t n) {
          check(decoded);
          if (decoded + n > max_samples) {
            too_long = true;
            throw Error("too long");
          }
          decoded += n;
          try {
            stream.feed(x, n);
          } catch (...) {
            model_failure = std::current_exception();
            throw;
          }
        },
        s.untrusted ? audio::Origin::Untrusted : audio::Origin::LocalFile);
  } catch (const audio::MediaLibraryUnavailable&) {
    throw;  // no audio can be decoded now: not this file's fault (H20S-1)
  } catch (const Error& e) {
    if (model_failure) std::rethrow_exception(model_failure);
    if (too_long) throw AudioTooLong(path + ": longer than the " + fixed(s.max_duration_s, 0) + " s a query may last");
    throw UndecodableAudio(std::string("cannot decode the query audio: ") + e.what());
  }
  stream.finish();
  embedder.finish();
  fw.duration_s = double(decoded) / rate;
  const double threshold = audio::silence_threshold(levels, s.silence_db);  // a quiet clip is not silent
  std::vector<float>& rows = s.pooled ? fw.pooled : fw.embeddings;
  rows.assign(levels.size() * width, 0.0f);
  size_t sounding = 0;
  for (size_t i = 0; i < levels.size(); ++i) {
    const bool silent = levels[i].rms_db < threshold;
    fw.silent.push_back(silent ? 1 : 0);
    if (silent) continue;
    const float* row = embedder.row(i);
    // A window below --silence-db after a louder one is silent (the threshold is --silence-db).
    if (!row) throw Error(path + ": internal error: window " + std::to_string(i) + " was judged silent while decoded, not after");
    std::copy(row, row + width, rows.begin() + static_cast<long>(i * width));
    ++sounding;
  }
  if (sounding == 0)
    throw Error(path + ": silent throughout (digital silence: no sample reaches " + fixed(audio::kDigitalSilenceDb, 0) +
                " dBFS)");
  return fw;
}

std::vector<float> file_track_embedding(const FileWindows& fw) {
  return track_embedding(fw.size(), fw.dim, fw.embeddings.data(), fw.silent.data());
}

std::vector<float> embed_audio_file(const ClapModel& model, ClapState& state, const std::string& path, double hop_s,
                                    int batch, const std::function<void()>& between_batches) {
  check_hop(hop_s);
  check_hop_within(hop_s, double(model.window_samples()) / model.sample_rate(), "the model's window");
  // Embedded as decoded, as embed_file_windows does: a long file is never held whole.
  WindowEmbedder embedder(static_cast<size_t>(model.embedding_dim()), batch, between_batches,
                          [&](const std::vector<std::span<const float>>& part) { return model.embed_audio(state, part, batch); });
  index::WindowStream stream(model.window_samples(), static_cast<int64_t>(hop_s * model.sample_rate()),
                             [&](int i, int64_t start, int64_t end, const float* x) {
                               embedder.add(static_cast<size_t>(i), x, static_cast<size_t>(end - start));
                             });
  size_t decoded = 0;
  DecodeCheck check{between_batches, static_cast<size_t>(model.sample_rate()), static_cast<size_t>(model.sample_rate())};
  audio::decode_stream(path, model.sample_rate(), [&](const float* x, size_t n) {
    check(decoded);
    decoded += n;
    stream.feed(x, n);
  });
  stream.finish();
  embedder.finish();
  const size_t windows = static_cast<size_t>(stream.emitted());
  if (windows == 0) throw Error(path + ": no audio in the file");
  std::vector<float> emb;
  emb.reserve(windows * static_cast<size_t>(model.embedding_dim()));
  for (size_t i = 0; i < windows; ++i) emb.insert(emb.end(), embedder.row(i), embedder.row(i) + model.embedding_dim());
  if (windows == 1) return emb;  // at most one window: exactly the reference's processing
  return track_embedding(static_cast<int64_t>(windows), model.embedding_dim(), emb.data(), nullptr);
}

}  // namespace clap::service
