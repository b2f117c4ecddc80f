// The audio path on arbitrary bytes as a file: FFmpeg decoding to 48 kHz mono
// (audio/decode.h), the tags, and the window cutters the indexer feeds with the decoded
// stream (index/window_stream.h, checked against audio::plan_windows over the whole track);
// and the span decoder (the indexer's first pass of a long file), whose spans, when it does not
// refuse the file and their levels are the whole decode's (the indexer's guard), must be the
// whole decode's samples bit for bit.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
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
  std::vector<float> whole;
  try {
    const clap::audio::AudioInfo info = clap::audio::decode_stream(path, 48000, [&](const float* samples, size_t n) {
      FUZZ_CHECK(n <= clap::audio::kMaxChunkSamples);
      indexer.stream.feed(samples, n);
      short_windows.stream.feed(samples, n);
      whole.insert(whole.end(), samples, samples + n);
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
    return 0;
  }
  // Three spans (a quarter, half and three quarters in), as the first pass asks for windows.
  const int64_t total = static_cast<int64_t>(whole.size());
  const int64_t length = std::min<int64_t>(4800, total / 8);
  if (length <= 0) return 0;
  std::vector<clap::audio::SampleSpan> spans;
  for (int64_t k = 1; k <= 3; ++k) spans.push_back({total * k / 4 - length, total * k / 4});
  try {
    if (const auto cut = clap::audio::decode_spans(path, 48000, spans)) {
      // The indexer's guard (index/pipeline_decode.cpp send_spans): spans are placed by
      // timestamps, and a whole decode that lost samples at a damaged frame before them is off;
      // the levels tell. Spans whose levels are the whole decode's must be its samples.
      bool levels_agree = true;
      for (size_t k = 0; k < spans.size(); ++k) {
        FUZZ_CHECK(static_cast<int64_t>((*cut)[k].size()) == spans[k].end - spans[k].start);
        const double a = clap::audio::window_level((*cut)[k].data(), (*cut)[k].size()).rms_db;
        const double b = clap::audio::window_level(whole.data() + spans[k].start, static_cast<size_t>(length)).rms_db;
        levels_agree = levels_agree && std::memcmp(&a, &b, sizeof a) == 0;
      }
      for (size_t k = 0; k < spans.size() && levels_agree; ++k)
        FUZZ_CHECK(std::equal((*cut)[k].begin(), (*cut)[k].end(), whole.begin() + spans[k].start,
                              whole.begin() + spans[k].end, [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }));
    }
  } catch (const clap::Error&) {
    // Refusing a file a whole decode read is the expected outcome only when it cannot be opened
    // again (it is the same bytes): still not a crash.
  }
  return 0;
}
