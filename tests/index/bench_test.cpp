// Indexing throughput on a generated library, and what the pipeline adds over the pure model
// time of the same windows. Disabled by default (minutes with a full-size model); run with
//
//   CLAPSEARCH_BENCH_MODEL=<model folder> CLAPSEARCH_BENCH_FILES=20 CLAPSEARCH_BENCH_SECONDS=20 
//     build/tests/test_index --gtest_also_run_disabled_tests --gtest_filter='IndexBench.*'
//
// Without CLAPSEARCH_BENCH_MODEL the tiny golden model is used. A full-size model with random
// weights is what `clapsearch bench --config bench/configs/<name>/config.json` generates into
// ~/.cache/clapsearch/bench/<hash> (the folder it prints).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "audio/decode.h"
#include "audio/windows.h"
#include "hub/hub.h"
#include "index/indexer.h"
#include "store/sqlite_store.h"
#include "support/golden.h"

namespace clap::index {
namespace {
using namespace clap::store;  // Track, WindowRecord, ModelIdentity...
using namespace clap::hub;    // resolve_model

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

TEST(IndexBench, DISABLED_ThroughputAndPipelineOverhead) {
  const char* model_env = std::getenv("CLAPSEARCH_BENCH_MODEL");
  const std::string model_dir = model_env && *model_env ? model_env : test::case_dir("tiny-unfused");
  const int files = env_int("CLAPSEARCH_BENCH_FILES", 20), seconds = env_int("CLAPSEARCH_BENCH_SECONDS", 20);
  const std::string lib = test::temp_dir() + "/lib", db = test::temp_dir() + "/index.db";
  fs::create_directories(lib);
  // Typical library formats: the decoders and resamplers a real collection exercises.
  const char* kinds[][2] = {{"mp3", "-ar 44100 -ac 2 -c:a libmp3lame -b:a 192k"},
                            {"flac", "-ar 44100 -ac 2 -c:a flac"},
                            {"m4a", "-ar 44100 -ac 2 -c:a aac -b:a 192k"},
                            {"ogg", "-ar 44100 -ac 2 -c:a libvorbis"},
                            {"opus", "-ar 48000 -ac 2 -c:a libopus -b:a 128k"},
                            {"wav", "-ar 48000 -ac 2 -c:a pcm_s16le"}};
  for (int i = 0; i < files; ++i) {
    const auto& k = kinds[i % 6];
    char cmd[512];
    std::snprintf(cmd, sizeof cmd,
                  "ffmpeg -nostdin -loglevel error -y -f lavfi -i \"anoisesrc=seed=11:d=%d:c=pink:a=0.2:r=44100\" -f lavfi -i "
                  "\"sine=f=%d:d=%d:sample_rate=44100\" -filter_complex amix=inputs=2 %s '%s/f%02d.%s'",
                  seconds, 220 + 40 * i, seconds, k[1], lib.c_str(), i, k[0]);
    ASSERT_EQ(test::run_command(cmd), 0) << cmd;
  }
  auto model = ClapModel::load(model_dir);
  const ResolvedModel resolved = resolve_model(model_dir);
  IndexSettings settings;
  settings.decoder_nice = env_int("CLAPSEARCH_BENCH_NICE", settings.decoder_nice);
  const ModelSpec spec = describe_model(resolved, settings.window_s, settings.hop_s, settings.silence_db);

  // Pure model time of the same windows (decoded beforehand, one embed_audio call).
  std::vector<std::vector<float>> decoded;
  std::vector<std::span<const float>> clips;
  for (const auto& e : fs::directory_iterator(lib)) decoded.push_back(audio::decode_file(e.path().string(), 48000));
  for (const auto& x : decoded)
    for (const auto& w : audio::plan_windows(int64_t(x.size()), 480000, 240000))
      if (audio::rms_dbfs(x.data() + w.start, size_t(w.end - w.start)) >= settings.silence_db)
        clips.emplace_back(x.data() + w.start, size_t(w.end - w.start));
  model->embed_audio({clips.front()}, 1);  // warm-up (first-call allocations, kernel JIT)
  auto pure_time = [&] {
    const auto t0 = Clock::now();
    model->embed_audio(clips, settings.batch);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  // Measured before and after the pipeline (the machine may be shared): the mean is the reference.
  const double pure_before = pure_time();

  store::SqliteStore store = store::SqliteStore::open(db);
  ensure_identity(store, spec.identity, false);
  const IndexSummary s = index_roots(store, {lib}, spec, settings, [&]() -> const ClapModel& { return *model; });
  ASSERT_EQ(s.indexed, files);
  ASSERT_EQ(s.embedded_windows, int64_t(clips.size()));
  const double pure_after = pure_time();
  const double pure = (pure_before + pure_after) / 2;
  const double pipeline = s.wall_seconds - s.load_seconds;
  std::printf(
      "[ bench ] model %s\n"
      "[ bench ] %d files, %.0f s of audio, %lld windows\n"
      "[ bench ] pure model time of the same windows  %.2f s  (%.2f s before, %.2f s after the run)\n"
      "[ bench ] indexing wall time                   %.2f s  (%.1fx real time)\n"
      "[ bench ]   of which in the model              %.2f s\n"
      "[ bench ]   decoding: %.2f s CPU in the decoder thread (overlapped); database %.3f s\n"
      "[ bench ] outside the model: %.1f%% of wall time; pipeline adds %.1f%% over the pure model time\n",
      model_dir.c_str(), files, s.audio_seconds, static_cast<long long>(s.embedded_windows), pure, pure_before, pure_after, pipeline,
      s.audio_seconds / pipeline, s.model_seconds, s.decode_seconds, s.db_seconds, 100 * s.outside_model_fraction(),
      100 * (pipeline / pure - 1));
}

}  // namespace
}  // namespace clap::index
