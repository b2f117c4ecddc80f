// Acoustic fingerprints on real encoded files (made here by ffmpeg): copies of one recording in
// other formats, rates, channel counts, trimmed, faded or with silence in front match at a low
// bit error rate and the right offset; other recordings do not. The rates are printed (the
// bound in audio/fingerprint.h quotes them).
#include "audio/fingerprint.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "audio/decode.h"
#include "core/error.h"
#include "search/fingerprint_match.h"
#include "store/rows.h"
#include "support/golden.h"
#include "support/recordings.h"

namespace clap::audio {
namespace {

using search::FingerprintMatch;
using search::kMinOverlapItems;
using search::kSameRecordingBitErrorRate;
using search::match_fingerprints;

double offset_s(const FingerprintMatch& m) { return m.offset_items * fingerprint_item_seconds(); }

using test::song_expression;

std::vector<uint32_t> fingerprint_of(const std::string& path) {
  Fingerprinter f(48000);
  decode_stream(path, 48000, [&](const float* x, size_t n) { f.feed(x, n); });
  return f.finish();
}

class Fingerprints : public ::testing::Test {
 protected:
  // The encoded files are made once for the suite's test processes (test::shared_fixture);
  // each process fingerprints them.
  static void SetUpTestSuite() {
    const std::string dir = test::shared_fixture("fingerprint-copies", [](const std::string& d) {
      for (int song = 0; song < 3; ++song) {
        const std::string source =
            test::ffmpeg(d + "/song" + std::to_string(song) + ".wav",
                         "-f lavfi -i \"aevalsrc='" + song_expression(song) + "':s=44100:d=45\" -ac 2");
        for (const auto& [name, args] : test::copy_kinds())
          test::ffmpeg(d + "/" + std::to_string(song) + "-" + name, "-i " + test::quoted(source) + " " + args);
      }
    });
    dir_ = new std::string(dir);
    for (int song = 0; song < 3; ++song)
      for (const auto& [name, args] : test::copy_kinds())
        (*prints_)[song][name == "flac.flac" ? "flac" : name] = fingerprint_of(dir + "/" + std::to_string(song) + "-" + name);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  // The copies of the original (test::copy_kinds() but the original itself).
  static std::vector<std::pair<std::string, std::string>> copies() {
    return {test::copy_kinds().begin() + 1, test::copy_kinds().end()};
  }
  static inline std::string* dir_ = nullptr;
  static inline auto* prints_ = new std::map<int, std::map<std::string, std::vector<uint32_t>>>;
};

TEST_F(Fingerprints, CopiesOfOneRecordingMatchAtTheirOffset) {
  for (int song = 0; song < 3; ++song)
    std::printf("[fingerprint] song%d variation over %d items: %.3f\n", song, search::kVariationLagItems,
                search::fingerprint_variation((*prints_)[song]["flac"]));
  const std::map<std::string, double> expected_offset = {{"trimmed.flac", -2.0}, {"silence3s.ogg", 3.0}};
  for (int song = 0; song < 3; ++song) {
    const auto& original = (*prints_)[song]["flac"];
    ASSERT_GT(original.size(), 300u) << "45 s is ~360 items";
    for (const auto& [name, args] : copies()) {
      const FingerprintMatch m = match_fingerprints(original, (*prints_)[song][name], 0.5);
      std::printf("[fingerprint] song%d flac vs %-14s bit error rate %.3f offset %+.2f s overlap %d\n", song, name.c_str(),
                  m.bit_error_rate, offset_s(m), m.overlap);
      ASSERT_TRUE(m.measurable) << name;
      EXPECT_LE(m.bit_error_rate, kSameRecordingBitErrorRate) << "song" << song << " " << name;
      const double want = expected_offset.count(name) ? expected_offset.at(name) : 0.0;
      EXPECT_NEAR(offset_s(m), want, 0.25) << "song" << song << " " << name;
    }
  }
}

TEST_F(Fingerprints, DifferentRecordingsDoNotMatch) {
  double lowest = 1;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      if (a == b) continue;
      for (const auto& [name, args] : copies()) {
        const FingerprintMatch m = match_fingerprints((*prints_)[a]["flac"], (*prints_)[b][name], 0.5);
        ASSERT_TRUE(m.measurable);
        lowest = std::min(lowest, m.bit_error_rate);
        EXPECT_GT(m.bit_error_rate, kSameRecordingBitErrorRate) << "song" << a << " vs song" << b << " " << name;
      }
    }
  std::printf("[fingerprint] lowest bit error rate between different songs: %.3f\n", lowest);
}

TEST_F(Fingerprints, SymmetricAndDeterministic) {
  const auto& a = (*prints_)[0]["flac"];
  const auto& b = (*prints_)[0]["trimmed.flac"];
  const FingerprintMatch ab = match_fingerprints(a, b, 0.5), ba = match_fingerprints(b, a, 0.5);
  EXPECT_EQ(ab.bit_error_rate, ba.bit_error_rate);
  EXPECT_EQ(ab.offset_items, -ba.offset_items);
  EXPECT_EQ(fingerprint_of(*dir_ + "/0-flac.flac"), a) << "the same file gives the same fingerprint";
}

// Items that change like music's: a deterministic pseudo-random sequence.
std::vector<uint32_t> varied(size_t n, uint32_t seed) {
  std::vector<uint32_t> v(n);
  for (auto& x : v) x = seed = seed * 1664525u + 1013904223u;
  return v;
}

TEST(FingerprintMatching, TooShortOrTooLittleOverlapIsNotMeasurable) {
  const std::vector<uint32_t> longer = varied(400, 1), shorter(longer.begin(), longer.begin() + kMinOverlapItems - 1);
  EXPECT_FALSE(match_fingerprints(shorter, longer, 0.5).measurable);
  EXPECT_FALSE(match_fingerprints({}, longer, 0.5).measurable);
  const FingerprintMatch same = match_fingerprints(longer, longer, 0.5);
  EXPECT_TRUE(same.measurable);
  EXPECT_EQ(same.bit_error_rate, 0.0);
  EXPECT_EQ(same.offset_items, 0);
  // A fingerprint that does not change (a steady tone) cannot tell recordings apart.
  const std::vector<uint32_t> steady(400, 0x12345678u);
  EXPECT_EQ(search::fingerprint_variation(steady), 0.0);
  EXPECT_FALSE(match_fingerprints(steady, steady, 0.5).measurable);
  EXPECT_GT(search::fingerprint_variation(longer), 0.4);
}

// Steady tones of one pitch class (440 and 880 Hz) have the same chroma, hence the same
// fingerprint; they are not called copies of one recording by their fingerprints.
TEST(FingerprintMatching, SteadyTonesAreNotMeasurable) {
  const std::string dir = test::temp_dir() + "/fingerprint-tones";
  const auto a = fingerprint_of(test::ffmpeg(dir + "/a440.flac", "-f lavfi -i sine=f=440:d=20"));
  const auto b = fingerprint_of(test::ffmpeg(dir + "/a880.flac", "-f lavfi -i sine=f=880:d=18"));
  EXPECT_LT(search::fingerprint_variation(a), search::kMinVariation);
  EXPECT_FALSE(match_fingerprints(a, b, 0.8).measurable);
  const auto noise = fingerprint_of(test::ffmpeg(dir + "/pink.flac", "-f lavfi -i anoisesrc=color=pink:d=16:seed=3"));
  EXPECT_GT(search::fingerprint_variation(noise), search::kMinVariation);
}

TEST(FingerprintMatching, StoredAsLittleEndianBytes) {
  const std::vector<uint32_t> items = {0x04030201u, 0xffffffffu, 0u};
  const std::string bytes = store::fingerprint_bytes(items);
  ASSERT_EQ(bytes.size(), 12u);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[3], 4);
  EXPECT_EQ(store::fingerprint_items(bytes, 7), items);
  EXPECT_THROW(store::fingerprint_items(bytes.substr(0, 5), 7), Error);
}

TEST(FingerprintMatching, SilenceAndShortAudio) {
  Fingerprinter f(48000);
  std::vector<float> zeros(48000 / 10, 0.0f);
  f.feed(zeros.data(), zeros.size());
  EXPECT_TRUE(f.finish().empty()) << "0.1 s is too short for an item";
}

}  // namespace
}  // namespace clap::audio
