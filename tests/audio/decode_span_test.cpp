// audio::decode_spans against whole decodes of real files made with the ffmpeg command line: the
// windows a progressive index's first pass cuts without decoding the whole file must be, bit for
// bit, the samples a whole decode gives (after the downmix), in every format - or be refused, and
// the file decoded whole.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "support/golden.h"

namespace clap::audio {
namespace {

constexpr int kRate = 48000;
constexpr int64_t kWindow = 10 * kRate, kHop = 5 * kRate;

// 47 s of pink noise and a tone on two different channels, as `codec_args` encode it. The noise
// has a fixed seed: anoisesrc's default seed is random, and about one noise in ten made libvorbis
// use short blocks somewhere, which the span decoder refuses (see VorbisShortBlocks...): the
// fixture, and so the test, differed from run to run (CI failed on one).
const std::string& resampled_library();  // below, with the resampled spans' tests

const std::string& library() {
  static const std::string dir = test::shared_fixture("decode-spans", [](const std::string& d) {
    const auto make = [&](const std::string& name, int rate, const std::string& codec_args) {
      const std::string r = std::to_string(rate);
      test::ffmpeg(d + "/" + name, "-f lavfi -i \"anoisesrc=d=47:c=pink:r=" + r + ":a=0.25:seed=1\" -f lavfi -i \"sine=f=330:d=47:r=" +
                                       r + "\" -filter_complex \"[0][1]amerge=inputs=2,volume=0.8\" " + codec_args);
    };
    // Clicks every 0.37 s: libvorbis switches to short blocks at each, and FFmpeg's Ogg demuxer
    // then gives some packets inside a page timestamps that do not follow from the ones before.
    test::ffmpeg(d + "/vorbis-clicks.ogg",
                 "-f lavfi -i \"anoisesrc=d=47:c=pink:r=48000:a=0.05:seed=1\" -f lavfi -i "
                 "\"aevalsrc='if(lt(mod(t\\,0.37)\\,0.003)\\,0.9\\,0)':d=47:s=48000\" "
                 "-filter_complex \"[0][1]amerge=inputs=2\" -c:a libvorbis -q:a 5");
    make("flac.flac", 48000, "-c:a flac");
    make("wav.wav", 48000, "-c:a pcm_s16le");
    make("cbr.mp3", 48000, "-c:a libmp3lame -b:a 192k");
    make("vbr.mp3", 48000, "-c:a libmp3lame -q:a 2");
    // VBR without a Xing/LAME header: no TOC to seek by, no encoder delay or padding recorded.
    make("vbr-no-toc.mp3", 48000, "-c:a libmp3lame -q:a 4 -write_xing 0");
    make("aac.m4a", 48000, "-c:a aac -b:a 160k");
    make("aac-adts.aac", 48000, "-c:a aac -b:a 128k");
    make("vorbis.ogg", 48000, "-c:a libvorbis -q:a 5");
    make("opus.opus", 48000, "-c:a libopus -b:a 128k");
  });
  return dir;
}

struct Outcome {
  bool cut = false;  // decode_spans answered
  std::string why;   // else why not
  size_t differing = 0;  // samples that differ from the whole decode's (bitwise)
};

// Windows `indices` (10 s every 5 s; -1: the last one, partial) cut by decode_spans, compared
// sample for sample with a whole decode's.
Outcome compare(const std::string& name, const std::vector<int64_t>& indices, const SpanOptions& options = {}) {
  const std::string path = library() + "/" + name;
  const std::vector<float> whole = decode_file(path, kRate);
  const int64_t total = int64_t(whole.size());
  std::vector<SampleSpan> spans;
  for (int64_t idx : indices) {
    if (idx < 0)
      for (idx = 0; idx * kHop + kWindow < total;) ++idx;
    spans.push_back({idx * kHop, std::min(total, idx * kHop + kWindow)});
  }
  Outcome o;
  const auto got = decode_spans(path, kRate, spans, &o.why, options);
  if (!got) return o;
  o.cut = true;
  for (size_t k = 0; k < spans.size(); ++k) {
    const std::vector<float>& s = (*got)[k];
    EXPECT_EQ(int64_t(s.size()), spans[k].end - spans[k].start) << name;
    for (size_t i = 0; i < s.size() && i + size_t(spans[k].start) < whole.size(); ++i)
      if (std::memcmp(&s[i], &whole[size_t(spans[k].start) + i], sizeof(float)) != 0) {
        ++o.differing;
      }
  }
  return o;
}

// The first pass's kind of windows: inside the track with 10 s between them (the decoder stops,
// skips the packets between and starts afresh), and the one that reaches the end.
TEST(DecodeSpans, EveryFormatGivesAWholeDecodesSamplesBitForBit) {
  // Opus and AAC (noise substitution on: FFmpeg's encoder's default) are decoded block by block
  // in every decode (audio/packet_decoder.h; decode_blocks_test).
  for (const char* name : {"flac.flac", "wav.wav", "cbr.mp3", "vbr.mp3", "vbr-no-toc.mp3", "vorbis.ogg", "opus.opus",
                           "aac.m4a", "aac-adts.aac"}) {
    const DecodeCounts before = decode_counts();
    const Outcome o = compare(name, {1, 5, 7});
    EXPECT_TRUE(o.cut) << name << ": " << o.why;
    EXPECT_EQ(o.differing, 0u) << name;
    EXPECT_EQ(decode_counts().spans - before.spans, 1) << name;
  }
}

// The first pass plans its windows from the length read off the packets (nothing decoded): it
// must be the length a whole decode gives, for every file the span decoder cuts (MP3's LAME
// header trims its encoder delay and padding; a VBR MP3 without one trims nothing), and the
// others are refused (decoded whole to learn it).
TEST(DecodeSpans, TheLengthFromThePacketsIsAWholeDecodesOrRefused) {
  // Ogg Vorbis and Opus: the last packet's duration is already its page's end trim (decode_spans.cpp;
  // counted twice, 44.1 and 22.05 kHz Vorbis came out 56 and 100 samples short).
  for (const std::string name : {"flac.flac", "wav.wav", "cbr.mp3", "vbr.mp3", "vbr-no-toc.mp3", "vorbis.ogg", "opus.opus",
                                  "aac.m4a", "aac-adts.aac", "resampled/44100.flac", "resampled/44100-vbr-no-toc.mp3",
                                  "resampled/22050-cbr.mp3", "resampled/96000.wav", "resampled/44100.ogg", "resampled/22050.ogg"}) {
    const bool resampled = name.starts_with("resampled/");
    const std::string path = resampled ? resampled_library() + "/" + name.substr(10) : library() + "/" + name;
    std::string why;
    const DecodeCounts before = decode_counts();
    const std::optional<StreamLength> n = stream_length(path, kRate, &why);
    EXPECT_EQ(decode_counts().whole, before.whole) << name << ": decoded";
    ASSERT_TRUE(n) << name << ": " << why;
    AudioInfo info;
    EXPECT_EQ(n->samples, int64_t(decode_file(path, kRate, &info).size())) << name;
    EXPECT_EQ(n->source_samples, info.source_samples) << name;  // a resampled file's too
    EXPECT_EQ(n->source_rate, info.source_rate) << name;
  }
}

// Refused, and the caller decodes the file whole: a window reaching the end of the stream (end
// trims and padding: an MP4's last AAC frame differed in 512 samples, measured).
TEST(DecodeSpans, TheEndIsDecodedWhole) {
  for (const char* name : {"vorbis.ogg", "flac.flac", "cbr.mp3", "opus.opus", "aac.m4a", "aac-adts.aac"}) {
    const Outcome end = compare(name, {1, -1});
    EXPECT_FALSE(end.cut) << name;
    EXPECT_NE(end.why.find("end of the stream"), std::string::npos) << end.why;
  }
}

// Short Vorbis blocks (transients: real music has them) leave the Ogg demuxer's timestamps inside
// a page inexact (measured on this file: 123 jumps of 448 samples, each where a long block is
// followed by a short one), so packets cannot be placed without decoding: refused, decoded whole.
// Whatever the demuxer gives, a cut must never be other samples than a whole decode's.
TEST(DecodeSpans, VorbisShortBlocksAreRefusedOrExact) {
  const Outcome o = compare("vorbis-clicks.ogg", {1, 5, 7});
  if (o.cut) EXPECT_EQ(o.differing, 0u);
  else EXPECT_NE(o.why.find("not contiguous"), std::string::npos) << o.why;
}

// The pre-roll is what makes the samples exact (so the test above can tell): without it MP3's
// bit reservoir and overlap give other samples.
TEST(DecodeSpans, WithoutAPreRollTheSamplesDiffer) {
  const Outcome mp3 = compare("cbr.mp3", {1, 5}, SpanOptions{0});
  EXPECT_TRUE(mp3.cut) << mp3.why;
  EXPECT_GT(mp3.differing, 0u);
}

// A source at another rate than the model's is cut too: the resampled signal is defined block by
// block (1 s of output each, resampled from its own input and margins: block_resampler.h), in a
// whole decode as in a span decode, so a span's samples are the whole decode's bit for bit. Before
// blocks, soxr started mid-stream gave samples that differed by float rounding in nearly every
// sample, and every such file was decoded whole. 44101 Hz: a rate whose output grid repeats only
// every 44101 samples (its margin is a whole block).
const std::string& resampled_library() {
  static const std::string dir = test::shared_fixture("decode-spans-resampled-18s", [](const std::string& d) {
    const auto make = [&](const std::string& name, int rate, const std::string& codec_args) {
      const std::string r = std::to_string(rate);
      test::ffmpeg(d + "/" + name, "-f lavfi -i \"anoisesrc=d=18:c=pink:r=" + r + ":a=0.25:seed=2\" -f lavfi -i \"sine=f=330:d=18:r=" +
                                       r + "\" -filter_complex \"[0][1]amerge=inputs=2,volume=0.8\" " + codec_args);
    };
    make("44100.flac", 44100, "-c:a flac");
    make("44100.wav", 44100, "-c:a pcm_s16le");
    make("44100-cbr.mp3", 44100, "-c:a libmp3lame -b:a 192k");
    make("44100-vbr-no-toc.mp3", 44100, "-c:a libmp3lame -q:a 4 -write_xing 0");
    make("44100.ogg", 44100, "-c:a libvorbis -q:a 5");
    make("22050.flac", 22050, "-c:a flac");
    make("22050-cbr.mp3", 22050, "-c:a libmp3lame -b:a 96k");
    make("22050.ogg", 22050, "-c:a libvorbis -q:a 4");
    make("32000.flac", 32000, "-c:a flac");
    make("32000-vbr.mp3", 32000, "-c:a libmp3lame -q:a 2");
    make("96000.flac", 96000, "-c:a flac");
    make("96000.wav", 96000, "-c:a pcm_s24le");
    make("44101.flac", 44101, "-c:a flac");
    make("44101.wav", 44101, "-c:a pcm_s16le");
  });
  return dir;
}

TEST(DecodeSpans, AResampledSourceGivesAWholeDecodesSamplesBitForBit) {
  for (const char* name : {"44100.flac", "44100.wav", "44100-cbr.mp3", "44100-vbr-no-toc.mp3", "44100.ogg", "22050.flac",
                           "22050-cbr.mp3", "22050.ogg", "32000.flac", "32000-vbr.mp3", "96000.flac", "96000.wav", "44101.flac",
                           "44101.wav"}) {
    const std::string path = resampled_library() + "/" + name;
    const std::vector<float> whole = decode_file(path, kRate);
    // Spans at 3-5 s and 12-14 s (the decoder stops and starts afresh between them), and one that
    // starts and ends inside blocks (2.5-3.7 s: not on a block's edge).
    for (const std::vector<SampleSpan>& spans :
         {std::vector<SampleSpan>{{3 * kRate, 5 * kRate}, {12 * kRate, 14 * kRate}},
          std::vector<SampleSpan>{{kRate * 5 / 2, kRate * 37 / 10}}}) {
      std::string why;
      const DecodeCounts before = decode_counts();
      const auto got = decode_spans(path, kRate, spans, &why);
      ASSERT_TRUE(got) << name << ": " << why;
      EXPECT_EQ(decode_counts().spans - before.spans, 1) << name;
      for (size_t k = 0; k < spans.size(); ++k) {
        ASSERT_EQ(int64_t((*got)[k].size()), spans[k].end - spans[k].start) << name;
        ASSERT_LE(spans[k].end, int64_t(whole.size())) << name;
        size_t differing = 0;
        for (size_t i = 0; i < (*got)[k].size(); ++i)
          if (std::memcmp(&(*got)[k][i], &whole[size_t(spans[k].start) + i], sizeof(float)) != 0) ++differing;
        EXPECT_EQ(differing, 0u) << name << ", span " << k;
      }
    }
  }
}

// A resampled span needs its last block's input and right margin: a window whose block reaches
// the end of the stream is refused (the whole decode's last block is cut at the stream's end).
TEST(DecodeSpans, AResampledSpanWhoseBlockReachesTheEndIsDecodedWhole) {
  const std::string path = resampled_library() + "/44100.flac";
  std::string why;
  // 18 s: the span 12-17.5 s lies in blocks 12-17, and block 17's input and margin reach the end.
  EXPECT_FALSE(decode_spans(path, kRate, {{12 * kRate, 17 * kRate + kRate / 2}}, &why));
  EXPECT_NE(why.find("end of the stream"), std::string::npos) << why;
}

}  // namespace
}  // namespace clap::audio
