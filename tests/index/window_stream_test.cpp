// WindowStream: the same windows as audio::plan_windows, whatever the chunking, with bounded memory.
#include "index/window_stream.h"

#include <gtest/gtest.h>

#include <random>

#include "audio/windows.h"
#include "core/error.h"

namespace clap::index {
namespace {

struct Got {
  int index;
  int64_t start, end;
  std::vector<float> samples;
};

std::vector<Got> stream(const std::vector<float>& x, int64_t window, int64_t hop, std::mt19937& rng, size_t* peak) {
  std::vector<Got> got;
  WindowStream ws(window, hop, [&](int i, int64_t s, int64_t e, const float* p) { got.push_back({i, s, e, {p, p + (e - s)}}); });
  std::uniform_int_distribution<size_t> chunk(1, 3 * static_cast<size_t>(window) / 2 + 1);
  for (size_t at = 0; at < x.size();) {
    const size_t n = std::min(x.size() - at, chunk(rng));
    ws.feed(x.data() + at, n);
    at += n;
  }
  ws.finish();
  if (peak) *peak = ws.peak_buffered();
  EXPECT_EQ(ws.total(), static_cast<int64_t>(x.size()));
  return got;
}

TEST(WindowStream, SameWindowsAsPlanWindowsForAnyChunking) {
  std::mt19937 rng(5);
  for (int64_t window : {1, 7, 100}) {
    for (int64_t hop : {int64_t(1), window / 2 + 1, window}) {
      for (int64_t total : {int64_t(1), window - 1, window, window + 1, 2 * window, 5 * window + 3, 17 * window / 3}) {
        if (total <= 0) continue;
        std::vector<float> x(static_cast<size_t>(total));
        for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
        for (int rep = 0; rep < 3; ++rep) {
          size_t peak = 0;
          const auto got = stream(x, window, hop, rng, &peak);
          const auto want = audio::plan_windows(total, window, hop);
          ASSERT_EQ(got.size(), want.size()) << window << " " << hop << " " << total;
          for (size_t k = 0; k < want.size(); ++k) {
            EXPECT_EQ(got[k].index, int(k));
            EXPECT_EQ(got[k].start, want[k].start);
            EXPECT_EQ(got[k].end, want[k].end);
            std::vector<float> ref(x.begin() + want[k].start, x.begin() + want[k].end);
            EXPECT_EQ(got[k].samples, ref);
          }
          // Never more than one window plus the chunk being fed.
          EXPECT_LE(peak, static_cast<size_t>(window + 3 * window / 2 + 1));
        }
      }
    }
  }
}

// H11P-7: with a hop longer than the window (embed --hop, embed_audio_files(hop=), embed_song),
// the window after the last one that fits started past the end of the track, its end before its
// start: `embed --hop 100` of a 30 s file crashed, `--hop 35` embedded memory after the samples.
TEST(PlanWindows, AHopLongerThanTheWindowStartsNoWindowAtOrPastTheEnd) {
  for (int64_t window : {1, 10, 48}) {
    for (int64_t hop : {window + 1, 2 * window, 25 * window + 3}) {
      for (int64_t total = 1; total <= 60 * window; ++total) {
        const auto plan = audio::plan_windows(total, window, hop);
        ASSERT_FALSE(plan.empty());
        for (size_t k = 0; k < plan.size(); ++k) {
          EXPECT_EQ(plan[k].start, static_cast<int64_t>(k) * hop);
          EXPECT_LT(plan[k].start, plan[k].end) << window << " " << hop << " " << total;
          EXPECT_LE(plan[k].end, total);
        }
        // No window was left out that would start before the end.
        EXPECT_GE(plan.back().start + hop, total) << window << " " << hop << " " << total;
      }
    }
  }
}

// window_count (H12C-2: a claimed length is counted before it is laid out) is plan_windows' size,
// hops shorter, equal to and longer than the window; and it counts a length no plan could hold.
TEST(PlanWindows, WindowCountIsThePlansSize) {
  for (int64_t window : {1, 7, 480000})
    for (int64_t hop : {1, 3, 7, 240000, 480000, 700000})
      for (int64_t total : {int64_t(0), int64_t(1), int64_t(6), int64_t(7), int64_t(8), int64_t(479999), int64_t(480001), int64_t(2000003)})
        EXPECT_EQ(audio::window_count(total, window, hop), static_cast<int64_t>(audio::plan_windows(total, window, hop).size()))
            << total << " " << window << " " << hop;
  EXPECT_EQ(audio::window_count(INT64_MAX, 480000, 240000), 2 + (INT64_MAX - 480000 - 1) / 240000);  // no overflow
  EXPECT_GT(audio::window_count(int64_t(48000) * 1000000000, 480000, 240000), audio::kMaxLaidOutWindows);
}

TEST(WindowStream, LongStreamKeepsOneWindowPlusOneChunk) {
  const int64_t window = 480000, hop = 240000;
  const size_t chunk = 1 << 16;
  int64_t count = 0;
  WindowStream ws(window, hop, [&](int, int64_t, int64_t, const float*) { ++count; });
  std::vector<float> block(chunk, 0.25f);
  const int64_t total = int64_t(48000) * 600;  // 10 minutes
  for (int64_t at = 0; at < total; at += int64_t(chunk)) ws.feed(block.data(), size_t(std::min<int64_t>(chunk, total - at)));
  ws.finish();
  EXPECT_EQ(count, static_cast<int64_t>(audio::plan_windows(total, window, hop).size()));
  EXPECT_LE(ws.peak_buffered(), size_t(window) + chunk);
  EXPECT_EQ(ws.buffered(), 0u);
}

TEST(WindowStream, EmptyStreamHasNoWindowAndBadSettingsThrow) {
  int count = 0;
  WindowStream ws(10, 5, [&](int, int64_t, int64_t, const float*) { ++count; });
  ws.finish();
  EXPECT_EQ(count, 0);
  auto nop = [](int, int64_t, int64_t, const float*) {};
  EXPECT_THROW(WindowStream(10, 11, nop), Error);
  EXPECT_THROW(WindowStream(10, 0, nop), Error);
  EXPECT_THROW(WindowStream(0, 1, nop), Error);
}

}  // namespace
}  // namespace clap::index
