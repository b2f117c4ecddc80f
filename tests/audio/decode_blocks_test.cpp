// Opus and AAC decoded block by block (audio/packet_decoder.h): their decoders never forget (Opus's
// recursive filters; AAC's noise substitution draws from a generator running since the decoder
// opened), so their decoded signal is defined, in every decode, as blocks each decoded by a newly
// opened decoder from a pre-roll. A span decode then gives, bit for bit, a whole decode's samples,
// at any rate, with noise substitution on (FFmpeg's encoder's default) or off, in every container
// cut (Ogg Opus; AAC in MP4 and raw ADTS).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <optional>
#include <string>
#include <vector>

#include "audio/decode.h"
#include "support/golden.h"

namespace clap::audio {
namespace {

constexpr int kRate = 48000;

// Pink noise and a tone on two channels; odd lengths (not a whole number of frames or blocks).
const std::string& library() {
  static const std::string dir = test::shared_fixture("decode-blocks", [](const std::string& d) {
    const auto make = [&](const std::string& name, int rate, const std::string& seconds, const std::string& codec_args) {
      const std::string r = std::to_string(rate);
      test::ffmpeg(d + "/" + name, "-f lavfi -i \"anoisesrc=d=" + seconds + ":c=pink:r=" + r +
                                       ":a=0.25:seed=3\" -f lavfi -i \"sine=f=330:d=" + seconds + ":r=" + r +
                                       "\" -filter_complex \"[0][1]amerge=inputs=2,volume=0.8\" " + codec_args);
    };
    make("opus-48k.opus", 48000, "21.337", "-c:a libopus -b:a 128k");
    make("opus-44k.opus", 44100, "21.337", "-c:a libopus -b:a 96k");
    make("aac-pns.m4a", 48000, "21.337", "-c:a aac -b:a 160k");
    make("aac-no-pns.m4a", 48000, "21.337", "-c:a aac -b:a 160k -aac_pns 0");
    make("aac-44k.m4a", 44100, "21.337", "-c:a aac -b:a 128k");
    make("aac-pns.aac", 48000, "21.337", "-c:a aac -b:a 128k");
    make("aac-44k.aac", 44100, "21.337", "-c:a aac -b:a 128k");
    make("opus-short.opus", 48000, "2.317", "-c:a libopus -b:a 128k");
    make("aac-short.m4a", 44100, "2.317", "-c:a aac -b:a 128k");
  });
  return dir;
}

size_t differing(const std::vector<float>& got, const std::vector<float>& whole, int64_t from) {
  size_t n = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (size_t(from) + i >= whole.size() || std::memcmp(&got[i], &whole[size_t(from) + i], sizeof(float)) != 0) ++n;
  return n;
}

// Spans inside the file (the decoder stops between them and starts again at another block), one
// across a block's edge, and the last one that does not reach the end (the end itself is refused,
// as in every format: end trims).
TEST(DecodeBlocks, OpusAndAacSpansAreAWholeDecodesSamplesBitForBit) {
  for (const char* name : {"opus-48k.opus", "opus-44k.opus", "aac-pns.m4a", "aac-no-pns.m4a", "aac-44k.m4a", "aac-pns.aac",
                           "aac-44k.aac"}) {
    const std::string path = library() + "/" + name;
    AudioInfo info;
    const std::vector<float> whole = decode_file(path, kRate, &info);
    const int64_t total = int64_t(whole.size());
    ASSERT_GT(total, 20 * kRate) << name;
    for (const std::vector<SampleSpan>& spans :
         {std::vector<SampleSpan>{{1 * kRate, 6 * kRate}, {13 * kRate + 77, 17 * kRate}},
          std::vector<SampleSpan>{{kRate * 39 / 10, kRate * 41 / 10}},        // across the edge of blocks 0 and 1
          std::vector<SampleSpan>{{total - 3 * kRate, total - kRate * 3 / 2}}}) {  // near the end
      std::string why;
      const DecodeCounts before = decode_counts();
      const auto got = decode_spans(path, kRate, spans, &why);
      ASSERT_TRUE(got) << name << ": " << why;
      EXPECT_EQ(decode_counts().spans - before.spans, 1) << name;
      EXPECT_EQ(decode_counts().whole, before.whole) << name;
      for (size_t k = 0; k < spans.size(); ++k) {
        ASSERT_EQ(int64_t((*got)[k].size()), spans[k].end - spans[k].start) << name;
        EXPECT_EQ(differing((*got)[k], whole, spans[k].start), 0u) << name << ", span at " << spans[k].start;
      }
    }
    // The span that reaches the end of the stream is refused (the caller decodes the file whole).
    std::string why;
    EXPECT_FALSE(decode_spans(path, kRate, {{total - kRate, total}}, &why)) << name;
    EXPECT_NE(why.find("end of the stream"), std::string::npos) << name << ": " << why;
  }
}

// A file shorter than one block (4 s): one block, from the stream's first packet.
TEST(DecodeBlocks, AFileShorterThanABlockIsCutExactly) {
  for (const char* name : {"opus-short.opus", "aac-short.m4a"}) {
    const std::string path = library() + "/" + name;
    const std::vector<float> whole = decode_file(path, kRate);
    std::string why;
    const auto got = decode_spans(path, kRate, {{kRate / 2, kRate}}, &why);
    ASSERT_TRUE(got) << name << ": " << why;
    EXPECT_EQ(differing((*got)[0], whole, kRate / 2), 0u) << name;
  }
}

// The length read off the packets is a whole decode's (the first pass lays its windows out from
// it without decoding).
TEST(DecodeBlocks, TheLengthFromThePacketsIsAWholeDecodes) {
  for (const char* name : {"opus-48k.opus", "opus-44k.opus", "aac-pns.m4a", "aac-44k.m4a", "aac-pns.aac", "aac-44k.aac",
                           "opus-short.opus", "aac-short.m4a"}) {
    const std::string path = library() + "/" + name;
    std::string why;
    const std::optional<StreamLength> n = stream_length(path, kRate, &why);
    ASSERT_TRUE(n) << name << ": " << why;
    AudioInfo info;
    EXPECT_EQ(n->samples, int64_t(decode_file(path, kRate, &info).size())) << name;
    EXPECT_EQ(n->source_samples, info.source_samples) << name;
    EXPECT_EQ(n->source_rate, info.source_rate) << name;
  }
}

// The Ogg page checksum (CRC-32, polynomial 0x04C11DB7, not reflected, over the page with its
// checksum field zeroed): a page edited by the test is written back valid.
void fix_ogg_checksums(std::string& b) {
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t r = i << 24;
    for (int k = 0; k < 8; ++k) r = (r & 0x80000000u) ? (r << 1) ^ 0x04C11DB7u : r << 1;
    table[i] = r;
  }
  for (size_t at = b.find("OggS"); at != std::string::npos && at + 27 <= b.size(); at = b.find("OggS", at + 1)) {
    const size_t segments = static_cast<unsigned char>(b[at + 26]);
    if (at + 27 + segments > b.size()) break;
    size_t length = 27 + segments;
    for (size_t k = 0; k < segments; ++k) length += static_cast<unsigned char>(b[at + 27 + k]);
    if (at + length > b.size()) break;
    std::memset(&b[at + 22], 0, 4);
    uint32_t crc = 0;
    for (size_t k = 0; k < length; ++k) crc = (crc << 8) ^ table[((crc >> 24) ^ static_cast<unsigned char>(b[at + k])) & 0xFF];
    for (int k = 0; k < 4; ++k) b[at + 22 + k] = static_cast<char>(crc >> (8 * k));
  }
}

// Hostile pass 9, H9C-4: an Opus decoder opened afresh for a block drops the stream's pre-skip
// (OpusHead) from the first samples it decodes; with a pre-skip past the 0.4 s pre-roll (valid up
// to 65,535 samples) every block lost its start: 12 s with a 1 s pre-skip decoded to 9.2 s where
// the packets (and FFmpeg) give 11.0 s. The pre-roll now holds the pre-skip.
TEST(DecodeBlocks, AnOpusPreSkipLongerThanThePreRollCostsNoBlockItsStart) {
  const std::string path = test::temp_dir() + "/long-pre-skip.opus";
  test::ffmpeg(path, "-f lavfi -i \"anoisesrc=d=12:c=pink:a=0.25:seed=3\" -c:a libopus -b:a 96k");
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::string b = bytes.str();
  const size_t head = b.find("OpusHead");
  ASSERT_NE(head, std::string::npos);
  b[head + 10] = static_cast<char>(48000 & 0xFF);  // pre-skip: 1 s at 48 kHz, little-endian
  b[head + 11] = static_cast<char>(48000 >> 8);
  fix_ogg_checksums(b);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << b;
  std::string why;
  const std::optional<StreamLength> n = stream_length(path, kRate, &why);
  ASSERT_TRUE(n) << why;
  EXPECT_EQ(n->samples, 12 * kRate - 48000 + 312);  // the encoder's own pre-skip was 312
  const std::vector<float> whole = decode_file(path, kRate);
  EXPECT_EQ(int64_t(whole.size()), n->samples);
  const auto got = decode_spans(path, kRate, {{5 * kRate, 6 * kRate}}, &why);
  ASSERT_TRUE(got) << why;
  EXPECT_EQ(differing((*got)[0], whole, 5 * kRate), 0u);
}

}  // namespace
}  // namespace clap::audio
