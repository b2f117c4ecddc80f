#include "service/precision_choice.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>

#include "audio/decode.h"
#include "audio/ffmpeg_library.h"
#include "audio/windows.h"
#include "core/error.h"
#include "core/isa.h"
#include "core/sha256.h"
#include "core/text_file.h"
#include "core/user_dirs.h"
#include "core/utc_time.h"
#include "index/identity.h"
#include "index/passes.h"
#include "index/precut.h"
#include "model/engine_report.h"
#include "service/fidelity.h"

namespace clap::service {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
namespace fs = std::filesystem;

// A file's windows are looked for in its first 10 minutes only: the sample needs a few windows
// per file, and a whole two-hour mix decoded at 48 kHz would hold 1.4 GB.
constexpr double kSampleSecondsPerFile = 600;
// Files tried at most (undecodable or silent ones are passed over for the next).
constexpr int kMaxFilesTried = 4 * kSampleTracks;

struct DecodeLimit {};  // thrown by the sink to stop decoding at kSampleSecondsPerFile

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The sample: its windows' samples, in the order the files and windows were taken.
struct Sample {
  std::vector<std::vector<float>> clips;
  int tracks = 0;
};

// Positions of `count` items spread evenly over `n` (the middle of each of `count` equal parts).
std::vector<size_t> spread(size_t n, size_t count) {
  std::vector<size_t> at;
  for (size_t i = 0; i < count && i < n; ++i) at.push_back((2 * i + 1) * n / (2 * std::min(count, n)));
  return at;
}

// The windows of a file the sample may take, by level: those at or above the track's threshold
// (audio::silence_threshold over the levels known), spread evenly, at most `count`.
std::vector<size_t> sounding_spread(const std::vector<audio::WindowLevel>& levels, double silence_db, size_t count) {
  const double threshold = audio::silence_threshold(levels, silence_db);
  std::vector<size_t> sounding;
  for (size_t w = 0; w < levels.size(); ++w)
    if (levels[w].rms_db >= threshold) sounding.push_back(w);
  std::vector<size_t> at;
  for (size_t k : spread(sounding.size(), count)) at.push_back(sounding[k]);
  return at;
}

Sample take_sample(const PrecisionChoiceRequest& r, int rate) {
  Sample sample;
  const std::vector<index::CrawledFile> files = index::crawl(r.dirs, r.crawl).files;  // sorted by path
  if (files.empty()) return sample;
  // FFmpeg, Chromaprint and libsoxr are loaded before the first decode, as Pipeline::run does: one
  // that cannot be loaded is the run's error. Loaded by the first decode, it failed every file,
  // the sample came out empty and the choice said "no audio to measure on: fp32 is kept" before
  // the run failed on the library (hostile pass 20, H20C-2).
  audio::media::functions();
  // Files evenly spread over the path order (so over the folders), then the others in path
  // order for those that could not be used.
  std::vector<size_t> order = spread(files.size(), kSampleTracks);
  std::vector<bool> listed(files.size(), false);
  for (size_t i : order) listed[i] = true;
  for (size_t i = 0; i < files.size(); ++i)
    if (!listed[i]) order.push_back(i);
  const size_t tracks_wanted = std::min<size_t>(files.size(), kSampleTracks);
  // Windows per file: two when there are enough files, more in a small library.
  const size_t per_track = std::max<size_t>(2, (kSampleWindows + tracks_wanted - 1) / tracks_wanted);
  const int64_t window = std::llround(r.window_s * rate), hop = std::llround(r.hop_s * rate);
  const size_t max_samples = static_cast<size_t>(kSampleSecondsPerFile * rate);
  // The layout the sample's spans follow is always the default first pass's, whatever the run's
  // --first-pass: the sample decides the precision, and a setting that changes no embedding's bits
  // must not change the precision (a sample following the run's first pass chose bf16 for
  // `index --first-pass 0` and int8 for `index --plan --first-pass 2` of the same file, so the
  // workers' index differed from a one-shot run's in every bit: Workers.AWorkerKilledInTheSecondPass...).
  // The windows are handed over only to a run whose first pass has that layout (the default);
  // another run's first pass decodes its files itself.
  const int first_pass = index::kDefaultFirstPass;
  index::PrecutFirstPasses* const precut = r.first_pass == index::kDefaultFirstPass ? r.precut.get() : nullptr;
  const auto full = [&] {
    return sample.tracks >= kSampleTracks || static_cast<int>(sample.clips.size()) >= kSampleWindows;
  };
  const auto room = [&] { return std::min(per_track, static_cast<size_t>(kSampleWindows) - sample.clips.size()); };

  // A file decoded from its start (at most its first kSampleSecondsPerFile), its windows by level.
  const auto take_whole = [&](const index::CrawledFile& f) {
    std::vector<float> samples;
    try {
      audio::decode_stream(f.path, rate, [&](const float* x, size_t n) {
        samples.insert(samples.end(), x, x + std::min(n, max_samples - samples.size()));
        if (samples.size() >= max_samples) throw DecodeLimit{};
      });
    } catch (const DecodeLimit&) {
    } catch (const Error&) {
      return;  // not decodable: the next file
    }
    if (samples.empty()) return;
    const auto windows = audio::plan_windows(static_cast<int64_t>(samples.size()), window, hop);
    std::vector<audio::WindowLevel> levels;
    for (const auto& w : windows) levels.push_back(audio::window_level(samples.data() + w.start, static_cast<size_t>(w.end - w.start)));
    const std::vector<size_t> at = sounding_spread(levels, r.silence_db, room());
    for (size_t w : at) sample.clips.emplace_back(samples.begin() + windows[w].start, samples.begin() + windows[w].end);
    if (!at.empty()) ++sample.tracks;
  };

  // The sample's decode of a file is its first pass's (index/precut.h): its first-pass windows
  // cut as spans (bit for bit a whole decode's) in one decode with the windows the sample adds
  // where the first pass has fewer than it wants (spread over the others, clear of the track's
  // end, where a span cannot be cut). The first pass's are handed to the run (r.precut), which
  // embeds them without decoding the file again. Returns false when the file has no length to
  // lay spans out by (nothing decoded).
  const auto take_spans = [&](const index::CrawledFile& f) {
    const std::optional<index::FileStamp> stamp = index::FileStamp::of(f.path);
    std::optional<audio::StreamLength> length;
    try {
      length = audio::stream_length(f.path, rate);
    } catch (const std::exception&) {
    }
    // A length claiming more windows than any file holds is not laid out (audio/windows.h, H12C-2).
    if (!length || audio::window_count(length->samples, window, hop) > audio::kMaxLaidOutWindows) return false;
    const std::vector<audio::Window> plan = audio::plan_windows(length->samples, window, hop);
    const std::vector<int> first = index::first_pass_span_windows(plan, first_pass);
    if (first.empty()) {
      // No more windows than a first pass takes: its first pass decodes it whole, once, and
      // indexes it complete; so may the sample.
      take_whole(f);
      return true;
    }
    if (first.back() + 1 == static_cast<int>(plan.size())) {
      // Its first pass reaches the track's end, where the span decoder cuts nothing (audio/decode.h):
      // that pass decodes it whole and complete; so does the sample, whose decode stands for the
      // pass's failed span decode (handed over as failed: not tried again).
      if (precut && stamp) precut->put(f.path, index::PrecutSpans{*stamp, *length, {}, std::nullopt});
      take_whole(f);
      return true;
    }
    std::vector<int> cut = first;
    const size_t wanted = room();
    if (cut.size() < wanted) {
      std::vector<int> others;
      for (int i = 0; i + 2 < static_cast<int>(plan.size()); ++i)
        if (!std::binary_search(first.begin(), first.end(), i)) others.push_back(i);
      for (size_t k : spread(others.size(), wanted - cut.size())) cut.push_back(others[k]);
      std::sort(cut.begin(), cut.end());
    }
    std::vector<audio::SampleSpan> spans;
    for (int i : cut) spans.push_back({plan[static_cast<size_t>(i)].start, plan[static_cast<size_t>(i)].end});
    std::optional<std::vector<std::vector<float>>> samples;
    try {
      samples = audio::decode_spans(f.path, rate, spans);
    } catch (const std::exception&) {
    }
    if (samples && samples->size() != spans.size()) samples.reset();
    if (precut && stamp) {
      index::PrecutSpans p;
      p.stamp = *stamp;
      p.length = *length;
      if (samples) p.samples.emplace();
      for (size_t k = 0; k < cut.size(); ++k) {
        if (!std::binary_search(first.begin(), first.end(), cut[k])) continue;
        p.spans.push_back(spans[k]);
        if (samples) p.samples->push_back((*samples)[k]);
      }
      precut->put(f.path, std::move(p));
    }
    if (!samples) return true;  // its first pass decodes it whole (the second and last decode)
    std::vector<audio::WindowLevel> levels;
    for (const std::vector<float>& x : *samples) levels.push_back(audio::window_level(x.data(), x.size()));
    const std::vector<size_t> at = sounding_spread(levels, r.silence_db, wanted);
    for (size_t k : at) sample.clips.push_back(std::move((*samples)[k]));
    if (!at.empty()) ++sample.tracks;
    return true;
  };

  // Files without a length to lay spans out by (a format the span decoder does not cut) are
  // decoded whole by their first pass and again by the later one: sampled only when the others
  // give too few windows (then decoded a third time: docs/operations.md).
  std::vector<size_t> uncut;
  int tried = 0;
  for (size_t i : order) {
    if (full() || tried >= kMaxFilesTried) break;
    ++tried;
    if (!take_spans(files[i])) uncut.push_back(i);
  }
  for (size_t i : uncut) {
    if (full() || static_cast<int>(sample.clips.size()) >= kMinSampleWindows) break;
    take_whole(files[i]);
  }
  return sample;
}

// This machine's times of the precisions (precision_choice.h, precision_speed_dir).
struct SpeedTable {
  std::map<std::string, double> ms_per_window;  // by precision name
  std::string measured_at;
};

// What decides the times' ranking, in words (kept in the file, compared on reading) and as a file
// name: the model's architecture and the kernels this CPU runs: the kernel set's level (the
// non-GEMM ops dispatch on it) and the GEMM kernel of each precision. Not the threads, batch or
// window: they change every precision's time alike, and a setting that leaves the embeddings'
// bits as they are (--threads, --batch) must not change the precision, or a run resumed with
// other settings would not end in the index a one-shot run makes (ProgressiveCli's kill -9 tests
// resume with --threads 1 --batch 1). Nor why the level is what it is: CLAPSEARCH_ISA naming the
// level the CPU's best gives anyway runs the same kernels, and keyed by kernel_set()'s wording
// ("... (CLAPSEARCH_ISA not set)" against "... (CLAPSEARCH_ISA=avx512 ...)") it measured again
// and chose bf16 where the unset run had chosen int8 (hostile pass 11, H11C-2).
std::string speed_key(const PrecisionChoiceRequest& r) {
  const index::ModelSpec spec = index::describe_model(r.model, r.window_s, r.hop_s, r.silence_db, "fp32");
  return "architecture " + spec.identity.config_hash + ", kernels " + isa_level_name(isa_level()) + ": fp32 " +
         audio_gemm_kernel(Precision::F32) + ", bf16 " + audio_gemm_kernel(Precision::BF16) + ", int8 " +
         audio_gemm_kernel(Precision::I8);
}
fs::path speed_file(const std::string& key) {
  return fs::path(precision_speed_dir()) / (sha256_hex(key).substr(0, 16) + ".json");
}

// The table kept for `key`, when it has a time for each precision in `wanted`.
// A file that is not a regular one of at most kMaxSpeedFileBytes is not a table: a FIFO put there
// blocked `index` forever at the open, and a link to /dev/zero read gigabytes (P6-1).
constexpr uint64_t kMaxSpeedFileBytes = 64 << 10;

std::optional<SpeedTable> read_speeds(const fs::path& file, const std::string& key, const std::vector<std::string>& wanted) {
  std::string text;
  try {
    text = read_text_file(file.string(), "kept precision times", kMaxSpeedFileBytes, TextSource::RegularFile);
  } catch (const Error&) {
    return std::nullopt;  // measured again, and the file replaced (keep_speeds)
  }
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("key") || j["key"] != key || !j.contains("ms_per_window") ||
      !j["ms_per_window"].is_object())
    return std::nullopt;
  SpeedTable t;
  t.measured_at = j.value("measured_at", "");
  for (const std::string& p : wanted) {
    const json& ms = j["ms_per_window"];
    if (!ms.contains(p) || !ms[p].is_number() || !(ms[p].get<double>() > 0)) return std::nullopt;
    t.ms_per_window[p] = ms[p].get<double>();
  }
  return t;
}

// Keeps `measured` for `key`, unless another run kept a table first: then that one is the
// machine's and is returned, so runs measuring at the same moment still choose alike. The file
// appears whole (written aside, then linked into place, which fails if it exists). A cache that
// cannot be written leaves this run's times (the next run measures again).
// `unkept` says why when the times could not be kept: the choice says so (another index then
// times the precisions again, and on a shared machine may choose otherwise: hostile pass 11,
// H11C-8, where an unwritable cache chose bf16 one run and int8 the next, silently).
SpeedTable keep_speeds(const fs::path& file, const std::string& key, const SpeedTable& measured,
                       const std::vector<std::string>& wanted, std::string& unkept) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const fs::path aside = file.string() + ".tmp" + std::to_string(::getpid());
  {
    // O_EXCL | O_NOFOLLOW: a link planted at the temporary name is not followed (and fails).
    const int fd = ::open(aside.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      unkept = file.parent_path().string() + ": " + std::strerror(errno);
      return measured;
    }
    const std::string text =
        json{{"key", key}, {"measured_at", measured.measured_at}, {"ms_per_window", measured.ms_per_window}}.dump(1) + "\n";
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const int write_error = errno;
    ::close(fd);
    if (!written) {
      unkept = aside.string() + ": " + std::strerror(write_error);
      fs::remove(aside, ec);
      return measured;
    }
  }
  if (::link(aside.c_str(), file.c_str()) == 0) {
    fs::remove(aside, ec);
    return measured;
  }
  const int err = errno;
  if (err == EEXIST) {
    if (const auto kept = read_speeds(file, key, wanted)) {
      fs::remove(aside, ec);
      return *kept;
    }
  }
  fs::rename(aside, file, ec);  // a damaged or outdated file, or a file system without links
  if (ec) {
    unkept = file.string() + ": " + ec.message();
    fs::remove(aside, ec);
  }
  return measured;
}

// Embeds the sample once, or kSpeedPasses times when `ms_per_window` is to be measured; returns
// the embeddings (every pass gives the same bits) and sets the best pass's milliseconds a window.
std::vector<float> embed_sample(const ClapModel& model, ClapState& state, const std::vector<std::span<const float>>& clips,
                                int batch, double* ms_per_window) {
  std::vector<float> out;
  double best = -1;
  for (int pass = 0; pass < (ms_per_window ? kSpeedPasses : 1); ++pass) {
    const auto t = Clock::now();
    std::vector<float> e = model.embed_audio(state, clips, batch);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
    if (best < 0 || ms < best) best = ms;
    if (pass == 0) out = std::move(e);
  }
  if (ms_per_window) *ms_per_window = best / static_cast<double>(clips.size());
  return out;
}

// Fidelity of `low` against `ref` (both n x dim): the worst window cosine, and the top-k agreement
// of the text queries `texts` (tq x dim, the same fp32 text tower for both: the index's precision
// is its audio tower's) over the windows and of every window as a query over the others.
void measure_against(PrecisionTrial& t, const std::vector<float>& ref, const std::vector<float>& low, int n, int dim,
                     const std::vector<float>& texts, int text_queries, int k) {
  t.window_cosine_min = 1;
  for (int w = 0; w < n; ++w)
    t.window_cosine_min = std::min(t.window_cosine_min, embedding_cosine(ref.data() + static_cast<size_t>(w) * dim,
                                                                         low.data() + static_cast<size_t>(w) * dim, dim));
  double sum = 0;
  int queries = 0;
  t.topk_agreement_min = 1;
  const auto add = [&](double o) {
    sum += o;
    ++queries;
    t.topk_agreement_min = std::min(t.topk_agreement_min, o);
  };
  for (int q = 0; q < text_queries; ++q) {
    const float* query = texts.data() + static_cast<size_t>(q) * dim;
    add(topk_overlap(top_k_rows(ref, n, dim, query, k, -1), top_k_rows(low, n, dim, query, k, -1)));
  }
  for (int w = 0; w < n; ++w)
    add(topk_overlap(top_k_rows(ref, n, dim, ref.data() + static_cast<size_t>(w) * dim, k, w),
                     top_k_rows(low, n, dim, low.data() + static_cast<size_t>(w) * dim, k, w)));
  t.topk_agreement = queries ? sum / queries : 1;
}

// Chooses among the measured trials (fp32 first): a lower precision that holds its bounds
// replaces the current choice when its best time is at least kSpeedMargin below the choice's.
void decide(PrecisionChoice& c, const PrecisionBounds& bounds) {
  PrecisionTrial* choice = &c.trials.front();
  choice->holds_bounds = true;
  for (size_t i = 1; i < c.trials.size(); ++i) {
    PrecisionTrial& t = c.trials[i];
    if (!t.measured) continue;
    t.window_cosine_bound = bounds.window_cosine_for(parse_precision(t.precision));
    std::string broken;
    if (!(t.window_cosine_min >= t.window_cosine_bound))
      broken = "worst window cosine " + fixed(t.window_cosine_min, 6) + " is below its bound " + fixed(t.window_cosine_bound, 4);
    if (!(t.topk_agreement >= bounds.topk_agreement))
      broken += (broken.empty() ? "" : "; ") + std::string("top-") + std::to_string(c.k) + " agreement " +
                fixed(t.topk_agreement, 3) + " is below " + fixed(bounds.topk_agreement, 3);
    t.holds_bounds = broken.empty();
    if (!t.holds_bounds) {
      t.reason = broken;
      continue;
    }
    if (t.ms_per_window <= (1 - kSpeedMargin) * choice->ms_per_window) {
      choice = &t;
    } else {
      t.reason = "holds the bounds, but is not " + fixed(100 * kSpeedMargin, 0) + " % faster than " + choice->precision;
    }
  }
  const PrecisionTrial& fp32 = c.trials.front();
  for (PrecisionTrial& t : c.trials) {
    if (&t == choice || !t.measured || !t.holds_bounds || !t.reason.empty() || &t == &fp32) continue;
    t.reason = "holds the bounds, but " + choice->precision + " is faster";
  }
  choice->chosen = true;
  c.chosen = choice->precision;
  if (choice == &fp32) {
    c.trials.front().reason = "chosen: no lower precision both holds the bounds and is " + fixed(100 * kSpeedMargin, 0) +
                              " % faster";
    c.reason = "fp32: no lower precision both holds the bounds and is faster on this machine";
  } else {
    const double speedup = fp32.ms_per_window / choice->ms_per_window;
    choice->reason = "chosen: the fastest that holds the bounds (" + fixed(speedup, 2) + "x fp32's speed)";
    c.trials.front().reason = "the reference";
    c.reason = choice->precision + ": the fastest precision that holds the bounds on this machine (" + fixed(speedup, 2) +
               "x fp32's speed)";
  }
}

}  // namespace

double PrecisionBounds::window_cosine_for(Precision precision) const {
  if (window_cosine) return *window_cosine;
  return precision == Precision::BF16 ? kBf16WindowCosine : precision == Precision::I8 ? kInt8WindowCosine : 1.0;
}

std::string precision_speed_dir() { return (fs::path(clapsearch_cache_dir()) / "precision-speed").string(); }

PrecisionChoice choose_precision(const PrecisionChoiceRequest& r) {
  PrecisionChoice c;
  c.topk_agreement_bound = r.bounds.topk_agreement;
  c.kernel_set = engine_report().kernel_set;
  for (const char* name : {"fp32", "bf16", "int8"}) {
    PrecisionTrial t;
    t.precision = name;
    c.trials.push_back(t);
  }
  c.trials[0].measured = true;  // the reference, whether or not there is a sample
  c.trials[0].chosen = true;

  ModelOpenOptions mo = r.open;
  mo.text_precision = Precision::F32;
  mo.prepare_audio = true;  // packing is loading, not embedding: it is not timed
  const int rate = ClapModel::read_config(index::model_files_of(r.model)).features.sampling_rate;
  const Sample sample = take_sample(r, rate);
  c.tracks = sample.tracks;
  c.windows = static_cast<int>(sample.clips.size());
  if (c.windows < kMinSampleWindows) {
    c.reason = std::string(c.windows ? "only " + std::to_string(c.windows) + " sounding windows" : "no audio") +
               " to measure on (at least " + std::to_string(kMinSampleWindows) + " needed): fp32, the exact precision, is kept";
    c.trials[0].reason = "chosen: nothing to measure the others on";
    for (size_t i = 1; i < c.trials.size(); ++i) c.trials[i].reason = "not measured: too little audio";
    return c;
  }
  c.measured = true;
  const std::string kernel_bf16 = audio_gemm_kernel(Precision::BF16), kernel_int8 = audio_gemm_kernel(Precision::I8);
  if (bf16_kernel_is_emulated(kernel_bf16))
    c.trials[1].reason = "not a candidate: no bfloat16 instructions on this CPU (kernel " + kernel_bf16 +
                         "): its multiply-adds run in fp32, no faster than fp32";
  else
    c.trials[1].measured = true;
  if (int8_kernel_is_generic(kernel_int8))
    c.trials[2].reason = "not a candidate: no integer kernel for this CPU (kernel " + kernel_int8 + "): slower than fp32";
  else
    c.trials[2].measured = true;
  if (r.progress)
    r.progress("choosing the audio tower's precision (--precision auto): fp32, bf16 and int8 on " +
               std::to_string(c.windows) + " windows of " + std::to_string(c.tracks) + " tracks");

  std::vector<std::span<const float>> clips;
  for (const std::vector<float>& clip : sample.clips) clips.emplace_back(clip);
  ClapState state(mo.threads);
  c.threads = state.threads();
  // This machine's times: kept from its first measurement, else measured now on this sample.
  std::vector<std::string> candidates;
  for (const PrecisionTrial& t : c.trials)
    if (t.measured) candidates.push_back(t.precision);
  const std::string key = speed_key(r);
  const fs::path file = speed_file(key);
  const std::optional<SpeedTable> kept = read_speeds(file, key, candidates);
  const auto timing = [&](PrecisionTrial& t) -> double* { return kept ? nullptr : &t.ms_per_window; };
  std::vector<float> reference, texts;
  int dim = 0;
  {
    mo.audio_precision = Precision::F32;
    const std::unique_ptr<ClapModel> model = load_model(r.model, mo);
    dim = model->embedding_dim();
    reference = embed_sample(*model, state, clips, r.batch, timing(c.trials[0]));
    if (model->has_tokenizer()) {
      texts = model->embed_text(state, default_fidelity_texts());
      c.text_queries = static_cast<int>(default_fidelity_texts().size());
    }
  }
  c.k = std::min(kSampleTopK, c.windows - 1);
  for (size_t i = 1; i < c.trials.size(); ++i) {
    PrecisionTrial& t = c.trials[i];
    if (!t.measured) continue;
    mo.audio_precision = parse_precision(t.precision);
    const std::unique_ptr<ClapModel> model = load_model(r.model, mo);  // one tower at a time in memory
    const std::vector<float> low = embed_sample(*model, state, clips, r.batch, timing(t));
    measure_against(t, reference, low, c.windows, dim, texts, c.text_queries, c.k);
  }
  SpeedTable speeds;
  std::string unkept;
  if (kept) {
    speeds = *kept;
  } else {
    SpeedTable measured;
    measured.measured_at = utc_date_time(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    for (const PrecisionTrial& t : c.trials)
      if (t.measured) measured.ms_per_window[t.precision] = t.ms_per_window;
    speeds = keep_speeds(file, key, measured, candidates, unkept);
  }
  for (PrecisionTrial& t : c.trials)
    if (t.measured) t.ms_per_window = speeds.ms_per_window.at(t.precision);
  c.speed_measured_at = speeds.measured_at;
  c.trials[0].chosen = false;
  decide(c, r.bounds);
  if (!unkept.empty()) {
    const std::string why = "this machine's precision times could not be kept (" + unkept +
                            "): another index times the precisions again and may choose otherwise";
    c.reason += " (" + why + ")";
    if (r.open.warn) r.open.warn(why);
  }
  return c;
}

std::string precision_choice_json(const PrecisionChoice& c) {
  json trials = json::array();
  for (const PrecisionTrial& t : c.trials) {
    json row = {{"precision", t.precision}, {"measured", t.measured}, {"chosen", t.chosen}, {"reason", t.reason}};
    if (t.measured && c.measured) {
      row["window_cosine_min"] = t.window_cosine_min;
      row["topk_agreement"] = t.topk_agreement;
      row["topk_agreement_min"] = t.topk_agreement_min;
      row["ms_per_window"] = t.ms_per_window;
      row["window_cosine_bound"] = t.window_cosine_bound > 0 ? json(t.window_cosine_bound) : json(nullptr);
      row["holds_bounds"] = t.holds_bounds;
    }
    trials.push_back(row);
  }
  return json{{"mode", "auto"},
              {"chosen", c.chosen},
              {"measured", c.measured},
              {"reason", c.reason},
              {"sample", {{"tracks", c.tracks}, {"windows", c.windows}, {"text_queries", c.text_queries}}},
              {"k", c.k},
              {"topk_agreement_bound", c.topk_agreement_bound},
              {"speed_margin", c.speed_margin},
              {"kernel_set", c.kernel_set},
              {"threads", c.threads},
              {"speed_measured_at", c.speed_measured_at},
              {"trials", trials}}
      .dump();
}

std::optional<PrecisionChoice> parse_precision_choice(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("mode", "") != "auto") return std::nullopt;
  try {
    PrecisionChoice c;
    c.chosen = j.at("chosen").get<std::string>();
    c.measured = j.at("measured").get<bool>();
    c.reason = j.value("reason", "");
    const json& s = j.at("sample");
    c.tracks = s.value("tracks", 0);
    c.windows = s.value("windows", 0);
    c.text_queries = s.value("text_queries", 0);
    c.k = j.value("k", kSampleTopK);
    c.topk_agreement_bound = j.value("topk_agreement_bound", PrecisionBounds::kTopkAgreement);
    c.speed_margin = j.value("speed_margin", kSpeedMargin);
    c.kernel_set = j.value("kernel_set", "");
    c.threads = j.value("threads", 0);
    c.speed_measured_at = j.value("speed_measured_at", "");
    for (const json& row : j.at("trials")) {
      PrecisionTrial t;
      t.precision = row.at("precision").get<std::string>();
      t.measured = row.value("measured", false);
      t.chosen = row.value("chosen", false);
      t.reason = row.value("reason", "");
      t.window_cosine_min = row.value("window_cosine_min", 1.0);
      t.topk_agreement = row.value("topk_agreement", 1.0);
      t.topk_agreement_min = row.value("topk_agreement_min", 1.0);
      t.ms_per_window = row.value("ms_per_window", 0.0);
      if (row.contains("window_cosine_bound") && row["window_cosine_bound"].is_number())
        t.window_cosine_bound = row["window_cosine_bound"].get<double>();
      t.holds_bounds = row.value("holds_bounds", false);
      c.trials.push_back(t);
    }
    return c;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

bool precision_choice_open(const store::ModelIdentity& stored) {
  const std::optional<PrecisionChoice> c = parse_precision_choice(stored.precision_choice);
  return c && !c->measured;
}

}  // namespace clap::service
