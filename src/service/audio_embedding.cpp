#include "service/audio_embedding.h"

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <span>
#include <utility>

#include "audio/decode.h"
#include "audio/media_unavailable.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/vector_math.h"
#include "index/identity.h"
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

// model.embed_audio (or audio_pooled) of `clips`, `batch` clips per call with `between` called
// between two calls: the same numbers as one call (every clip is embedded on its own).
std::vector<float> embed_in_batches(const std::vector<std::span<const float>>& clips, int batch, size_t width,
                                    const std::function<void()>& between,
                                    const std::function<std::vector<float>(const std::vector<std::span<const float>>&)>& embed) {
  if (!between) return embed(clips);
  std::vector<float> out;
  out.reserve(clips.size() * width);
  const size_t step = static_cast<size_t>(std::max(1, batch));
  for (size_t i = 0; i < clips.size(); i += step) {
    if (i > 0) between();
    const std::vector<std::span<const float>> part(clips.begin() + static_cast<std::ptrdiff_t>(i),
                                                   clips.begin() + static_cast<std::ptrdiff_t>(std::min(clips.size(), i + step)));
    const std::vector<float> e = embed(part);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

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
  std::vector<float> samples;
  const size_t max_samples = s.max_duration_s > 0 ? static_cast<size_t>(s.max_duration_s * rate) + 1 : SIZE_MAX;
  bool too_long = false;
  DecodeCheck check{s.between_batches, static_cast<size_t>(rate), static_cast<size_t>(rate)};
  try {
    audio::decode_stream(
        path, rate,
        [&](const float* x, size_t n) {
          check(samples.size());
          if (samples.size() + n > max_samples) {
            too_long = true;
            throw Error("too long");
          }
          samples.insert(samples.end(), x, x + n);
        },
        s.untrusted ? audio::Origin::Untrusted : audio::Origin::LocalFile);
  } catch (const audio::MediaLibraryUnavailable&) {
    throw;  // no audio can be decoded now: not this file's fault (H20S-1)
  } catch (const Error& e) {
    if (too_long) throw AudioTooLong(path + ": longer than the " + fixed(s.max_duration_s, 0) + " s a query may last");
    throw UndecodableAudio(std::string("cannot decode the query audio: ") + e.what());
  }
  FileWindows fw;
  fw.path = path;
  fw.dim = model.embedding_dim();
  fw.duration_s = double(samples.size()) / rate;
  const auto windows = audio::plan_windows(static_cast<int64_t>(samples.size()), window, hop);
  std::vector<audio::WindowLevel> levels;
  for (const auto& w : windows)
    levels.push_back(audio::window_level(samples.data() + w.start, static_cast<size_t>(w.end - w.start)));
  const double threshold = audio::silence_threshold(levels, s.silence_db);  // a quiet clip is not silent
  std::vector<std::span<const float>> clips;
  std::vector<size_t> clip_rows;
  for (size_t i = 0; i < windows.size(); ++i) {
    const auto& w = windows[i];
    const size_t n = static_cast<size_t>(w.end - w.start);
    const bool silent = levels[i].rms_db < threshold;
    fw.starts.push_back(double(w.start) / rate);
    fw.ends.push_back(double(w.end) / rate);
    fw.silent.push_back(silent ? 1 : 0);
    if (!silent) {
      clips.emplace_back(samples.data() + w.start, n);
      clip_rows.push_back(i);
    }
  }
  if (clips.empty())
    throw Error(path + ": silent throughout (digital silence: no sample reaches " + fixed(audio::kDigitalSilenceDb, 0) +
                " dBFS)");
  if (s.pooled) {
    fw.pooled_dim = model.config().audio.hidden_size;
    const size_t width = static_cast<size_t>(fw.pooled_dim);
    const std::vector<float> pooled =
        embed_in_batches(clips, s.batch, width, s.between_batches,
                         [&](const std::vector<std::span<const float>>& part) { return model.audio_pooled(state, part, s.batch); });
    fw.pooled.assign(windows.size() * width, 0.0f);
    for (size_t k = 0; k < clip_rows.size(); ++k)
      std::copy(pooled.begin() + static_cast<long>(k * width), pooled.begin() + static_cast<long>((k + 1) * width),
                fw.pooled.begin() + static_cast<long>(clip_rows[k] * width));
    return fw;
  }
  const std::vector<float> emb =
      embed_in_batches(clips, s.batch, static_cast<size_t>(fw.dim), s.between_batches,
                       [&](const std::vector<std::span<const float>>& part) { return model.embed_audio(state, part, s.batch); });
  fw.embeddings.assign(windows.size() * static_cast<size_t>(fw.dim), 0.0f);
  for (size_t k = 0; k < clip_rows.size(); ++k)
    std::copy(emb.begin() + static_cast<long>(k * fw.dim), emb.begin() + static_cast<long>((k + 1) * fw.dim),
              fw.embeddings.begin() + static_cast<long>(clip_rows[k] * fw.dim));
  return fw;
}

std::vector<float> file_track_embedding(const FileWindows& fw) {
  return track_embedding(fw.size(), fw.dim, fw.embeddings.data(), fw.silent.data());
}

std::vector<float> embed_audio_file(const ClapModel& model, ClapState& state, const std::string& path, double hop_s,
                                    int batch, const std::function<void()>& between_batches) {
  check_hop(hop_s);
  check_hop_within(hop_s, double(model.window_samples()) / model.sample_rate(), "the model's window");
  std::vector<float> samples;
  DecodeCheck check{between_batches, static_cast<size_t>(model.sample_rate()), static_cast<size_t>(model.sample_rate())};
  if (between_batches)
    audio::decode_stream(path, model.sample_rate(), [&](const float* x, size_t n) {
      check(samples.size());
      samples.insert(samples.end(), x, x + n);
    });
  else
    samples = audio::decode_file(path, model.sample_rate());
  const auto windows = audio::plan_windows(static_cast<int64_t>(samples.size()), model.window_samples(),
                                           static_cast<int64_t>(hop_s * model.sample_rate()));
  std::vector<std::span<const float>> clips;
  for (const auto& w : windows) clips.emplace_back(samples.data() + w.start, static_cast<size_t>(w.end - w.start));
  std::vector<float> emb =
      embed_in_batches(clips, batch, static_cast<size_t>(model.embedding_dim()), between_batches,
                       [&](const std::vector<std::span<const float>>& part) { return model.embed_audio(state, part, batch); });
  if (clips.size() == 1) return emb;  // at most one window: exactly the reference's processing
  return track_embedding(static_cast<int64_t>(clips.size()), model.embedding_dim(), emb.data(), nullptr);
}

}  // namespace clap::service
