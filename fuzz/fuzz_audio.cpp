// The audio path on arbitrary bytes as a file: FFmpeg decoding to 48 kHz mono
// (audio/decode.h), the tags, and the window cutters the indexer feeds with the decoded
// stream (index/window_stream.h, checked against audio::plan_windows over the whole track).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "audio/decode.h"
#include "audio/windows.h"
#include "core/error.h"
#include "fuzz_util.h"
#include "index/window_stream.h"

namespace {

// The indexer's 10 s / 5 s windows and a short window that cuts even a tiny file many times.
struct Cutter {
  int64_t window, hop;
  std::vector<clap::audio::Window> seen;
  clap::index::WindowStream stream;
  Cutter(int64_t w, int64_t h)
      : window(w), hop(h), stream(w, h, [this](int index, int64_t start, int64_t end, const float* samples) {
          FUZZ_CHECK(index == static_cast<int>(seen.size()) && start >= 0 && end > start && end - start <= window);
          for (int64_t i = 0; i < end - start; ++i) FUZZ_CHECK(std::isfinite(samples[i]));
          seen.push_back({start, end});
        }) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("audio");
  const std::string& path = file.write(data, size);
  try {
    (void)clap::audio::read_tags(path);
  } catch (const clap::Error&) {
    // A clear refusal is the expected outcome for a file that is not audio.
  }
  Cutter indexer(480000, 240000), short_windows(4800, 1920);
  try {
    const clap::audio::AudioInfo info = clap::audio::decode_stream(path, 48000, [&](const float* samples, size_t n) {
      FUZZ_CHECK(n <= clap::audio::kMaxChunkSamples);
      indexer.stream.feed(samples, n);
      short_windows.stream.feed(samples, n);
    });
    FUZZ_CHECK(info.output_samples > 0 && info.source_rate > 0 && info.source_channels > 0);
    for (Cutter* c : {&indexer, &short_windows}) {
      c->stream.finish();
      FUZZ_CHECK(c->stream.total() == info.output_samples);
      const auto planned = clap::audio::plan_windows(c->stream.total(), c->window, c->hop);
      FUZZ_CHECK(planned.size() == c->seen.size());
      for (size_t i = 0; i < planned.size(); ++i)
        FUZZ_CHECK(planned[i].start == c->seen[i].start && planned[i].end == c->seen[i].end);
    }
  } catch (const clap::Error&) {
  }
  return 0;
}
