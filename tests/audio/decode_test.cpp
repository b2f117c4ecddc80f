// Tests for clap::audio decoding: real files made with the ffmpeg / sox command-line tools.
#include "audio/decode.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/error.h"
#include "support/golden.h"

namespace clap::audio {
namespace {

namespace fs = std::filesystem;

// Runs ffmpeg with the given arguments writing <temp_dir>/<name>; returns the path.
std::string ffmpeg(const std::string& name, const std::string& args) {
  std::string path = test::temp_dir() + "/" + name;
  std::string err;
  int rc = test::run_command("ffmpeg -nostdin -hide_banner -loglevel error -y " + args + " '" + path + "'", nullptr, &err);
  if (rc != 0) throw std::runtime_error("ffmpeg failed for " + name + ": " + err);
  return path;
}

// Stereo 1 kHz sine at amplitude 0.5 in both channels (RMS -9.03 dBFS), 44.1 kHz.
std::string sine_input(double seconds, int rate = 44100) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*1000*t)|0.5*sin(2*PI*1000*t):s=%d:d=%g\"", rate,
                seconds);
  return buf;
}

// Amplitude of the component at `freq` (Goertzel, i.e. one DFT bin, with a Hann window so a
// tone between bins does not leak); a pure sine of amplitude A gives about A.
double tone_amplitude(const float* x, size_t n, double freq, int rate) {
  const double w = 2 * M_PI * freq / rate, coeff = 2 * std::cos(w);
  double s1 = 0, s2 = 0, wsum = 0;
  for (size_t i = 0; i < n; ++i) {
    double win = 0.5 - 0.5 * std::cos(2 * M_PI * double(i) / double(n - 1));
    wsum += win;
    double s0 = win * x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  double re = s1 - s2 * std::cos(w), im = s2 * std::sin(w);
  return 2 * std::sqrt(re * re + im * im) / wsum;
}

double tone_amplitude(const std::vector<float>& x, double freq, int rate) {
  return tone_amplitude(x.data(), x.size(), freq, rate);
}

// The middle of a signal (skips codec start-up and tail effects).
std::vector<float> middle(const std::vector<float>& x, double fraction = 0.5) {
  size_t n = size_t(double(x.size()) * fraction), b = (x.size() - n) / 2;
  return std::vector<float>(x.begin() + long(b), x.begin() + long(b + n));
}

double rms_db(const std::vector<float>& x) { return rms_dbfs(x.data(), x.size()); }

std::string error_of(const std::string& path) {
  try {
    decode_file(path, 48000);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// One 3 s stereo 44.1 kHz sine per codec/container.

struct CodecCase {
  const char* name;
  const char* file;
  const char* encode;     // ffmpeg output options
  const char* codec;      // expected AudioInfo::codec
  const char* container;  // expected AudioInfo::container (substring)
  int length_tolerance;   // |decoded - 144000| at 48 kHz, samples; see CodecLengths below
  double rms_tolerance_db;
};

// Length tolerances, measured with FFmpeg 5.1 (all decoders honour encoder delay / padding
// signalling, so no codec is far off):
//  - wav/flac/aiff: lossless, exact sample count -> exact output length.
//  - mp3 (LAME): the LAME/Xing tag gives encoder delay and padding, FFmpeg trims both -> exact.
//  - vorbis: granule positions give the exact end; the start is exact -> exact.
//  - opus: the encoder resamples 44.1 -> 48 kHz itself; pre-skip and the end granule trim it,
//    within a few samples of 3 s.
//  - aac in m4a: the edit list gives priming (1024 samples, skipped by FFmpeg) and the
//    presentation end; FFmpeg 5.1 does not trim the end padding itself (820 extra samples here,
//    +893 at 48 kHz), decode_stream cuts frames at the declared stream end -> exact.
// So every case is exact; the lossless ones are exact by construction.
//
// Level: lossy encoders do not keep the exact level of a pure tone (measured with sox on
// ffmpeg's own decode: LAME 192k -0.27 dB, 128k -0.45 dB), hence 0.6 dB / 0.04 amplitude.
const CodecCase kCodecs[] = {
    {"wav", "sine.wav", "-c:a pcm_s16le", "pcm_s16le", "wav", 0, 0.05},
    {"flac", "sine.flac", "-c:a flac", "flac", "flac", 0, 0.05},
    {"aiff", "sine.aiff", "-c:a pcm_s16be", "pcm_s16be", "aiff", 0, 0.05},
    {"mp3", "sine.mp3", "-c:a libmp3lame -b:a 192k", "mp3", "mp3", 0, 0.6},
    {"vorbis", "sine.ogg", "-c:a libvorbis -q:a 5", "vorbis", "ogg", 0, 0.6},
    {"opus", "sine.opus", "-c:a libopus -b:a 128k", "opus", "ogg", 0, 0.6},
    {"aac", "sine.m4a", "-c:a aac -b:a 192k", "aac", "mp4", 0, 0.6},
};

class Codecs : public ::testing::TestWithParam<CodecCase> {};

TEST_P(Codecs, SineDecodesToRightLengthFrequencyAndLevel) {
  const CodecCase& c = GetParam();
  std::string path = ffmpeg(c.file, sine_input(3.0) + " " + c.encode);
  AudioInfo info;
  std::vector<float> x = decode_file(path, 48000, &info);
  const long expected = 3 * 48000;
  std::printf("[ codec %-6s] length %zu (expected %ld, diff %+ld), duration %.6f s, container %.6f s, resampler %s\n",
              c.name, x.size(), expected, long(x.size()) - expected, info.duration_s, info.container_duration_s,
              info.resampler.c_str());
  EXPECT_LE(std::labs(long(x.size()) - expected), c.length_tolerance);
  EXPECT_EQ(info.output_samples, long(x.size()));
  EXPECT_NEAR(info.duration_s * 48000, double(x.size()), 1.0);
  EXPECT_EQ(info.codec, c.codec);
  EXPECT_NE(info.container.find(c.container), std::string::npos) << info.container;
  EXPECT_EQ(info.source_channels, 2);
  EXPECT_EQ(info.source_rate, std::string(c.name) == "opus" ? 48000 : 44100);
  EXPECT_EQ(info.corrupt_packets, 0);

  std::vector<float> mid = middle(x);
  double a1000 = tone_amplitude(mid, 1000, 48000), a1500 = tone_amplitude(mid, 1500, 48000);
  std::printf("[ codec %-6s] 1 kHz amplitude %.4f, 1.5 kHz %.2e, RMS %.3f dBFS\n", c.name, a1000, a1500, rms_db(mid));
  EXPECT_NEAR(a1000, 0.5, c.rms_tolerance_db < 0.1 ? 0.002 : 0.04) << c.name;
  EXPECT_GT(20 * std::log10(a1000 / std::max(a1500, 1e-12)), 60.0) << c.name << " 1 kHz dominates";
  EXPECT_NEAR(rms_db(mid), 20 * std::log10(0.5 / std::sqrt(2.0)), c.rms_tolerance_db) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Audio, Codecs, ::testing::ValuesIn(kCodecs),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// Channel counts x sample rates (lossless wav, 1 s).

class RatesAndChannels : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(RatesAndChannels, DecodeToExactLengthAndLevel) {
  auto [channels, rate] = GetParam();
  std::string expr;
  for (int c = 0; c < channels; ++c) expr += std::string(c ? "|" : "") + "0.5*sin(2*PI*1000*t)";
  const char* layout = channels == 1 ? "mono" : channels == 2 ? "stereo" : "5.1";
  std::string path = ffmpeg("in.wav", "-f lavfi -i \"aevalsrc=" + expr + ":s=" + std::to_string(rate) +
                                          ":d=1:c=" + layout + "\" -c:a pcm_f32le");
  for (int target : {16000, 48000}) {
    AudioInfo info;
    std::vector<float> x = decode_file(path, target, &info);
    EXPECT_EQ(long(x.size()), target) << channels << " ch, " << rate << " Hz -> " << target;
    EXPECT_EQ(info.source_rate, rate);
    EXPECT_EQ(info.source_channels, channels);
    // soxr when libswresample has it (Debian's does), else swr's own filter.
    if (rate == target) {
      EXPECT_EQ(info.resampler, "none");
    } else {
      EXPECT_TRUE(info.resampler == "soxr" || info.resampler == "swr") << info.resampler;
    }
    std::vector<float> mid = middle(x);
    EXPECT_NEAR(tone_amplitude(mid, 1000, target), 0.5, 0.005);
    EXPECT_NEAR(rms_db(mid), -9.0309, 0.02);
  }
}

INSTANTIATE_TEST_SUITE_P(Audio, RatesAndChannels,
                         ::testing::Combine(::testing::Values(1, 2, 6),
                                            ::testing::Values(8000, 22050, 44100, 48000, 96000)),
                         [](const auto& info) {
                           return std::to_string(std::get<0>(info.param)) + "ch_" +
                                  std::to_string(std::get<1>(info.param)) + "Hz";
                         });

// ---------------------------------------------------------------------------------------------
// Downmix is the plain average of the channels.

TEST(Downmix, StereoIsAverageOfChannels) {
  // 48 kHz float wav: no resampling, so the output must equal (L + R) / 2 sample by sample.
  std::string path = ffmpeg("lr.wav",
                            "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*1000*t)|0.3*sin(2*PI*1500*t):s=48000:d=1\" -c:a pcm_f32le");
  std::vector<float> x = decode_file(path, 48000);
  ASSERT_EQ(x.size(), 48000u);
  double max_err = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    double t = double(i) / 48000;
    double l = float(0.5 * std::sin(2 * M_PI * 1000 * t)), r = float(0.3 * std::sin(2 * M_PI * 1500 * t));
    max_err = std::max(max_err, std::fabs(x[i] - (l + r) / 2));
  }
  EXPECT_LT(max_err, 1e-6);
  EXPECT_NEAR(tone_amplitude(x, 1000, 48000), 0.25, 0.002);
  EXPECT_NEAR(tone_amplitude(x, 1500, 48000), 0.15, 0.002);

  // Opposite-phase channels cancel.
  std::string anti = ffmpeg("anti.wav", "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*1000*t)|-0.5*sin(2*PI*1000*t):s=44100:d=1\" -c:a pcm_f32le");
  std::vector<float> y = decode_file(anti, 48000);
  EXPECT_LT(rms_db(y), -120);
}

TEST(Downmix, SurroundWeightsEveryChannelEqually) {
  // 5.1 with the tone in one channel only: the average gives 1/6 of it whichever channel it is
  // (FFmpeg's default downmix would give the centre -3 dB and drop the LFE entirely).
  for (int ch : {0, 2, 3, 5}) {  // FL, FC, LFE, SR
    std::string expr;
    for (int c = 0; c < 6; ++c) expr += std::string(c ? "|" : "") + (c == ch ? "0.6*sin(2*PI*1000*t)" : "0");
    std::string path = ffmpeg("surround" + std::to_string(ch) + ".wav",
                              "-f lavfi -i \"aevalsrc=" + expr + ":s=48000:d=1:c=5.1\" -c:a pcm_f32le");
    std::vector<float> x = decode_file(path, 48000);
    EXPECT_NEAR(tone_amplitude(x, 1000, 48000), 0.1, 0.001) << "channel " << ch;
  }
}

// ---------------------------------------------------------------------------------------------
// Timing: the resampler adds no delay.

TEST(Timing, ImpulseStaysInPlace) {
  // A single full-scale sample at 0.5 s in 44.1 kHz audio lands at 0.5 s in the 48 kHz output.
  std::string path = ffmpeg("click.wav", "-f lavfi -i \"aevalsrc=if(eq(n\\,22050)\\,1\\,0):s=44100:d=1\" -c:a pcm_f32le");
  for (int target : {48000, 16000, 96000}) {
    std::vector<float> x = decode_file(path, target);
    ASSERT_EQ(long(x.size()), target);
    size_t peak = size_t(std::max_element(x.begin(), x.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) -
                         x.begin());
    EXPECT_NEAR(double(peak), target / 2.0, 1.0) << "target " << target;
  }
}

// ---------------------------------------------------------------------------------------------
// Tags.

TEST(Tags, WrittenByFfmpegAreReadBack) {
  const std::string meta =
      "-metadata title='Blue Train' -metadata artist='John Coltrane' -metadata album='Blue Train LP' "
      "-metadata genre=Jazz -metadata date=1957 -metadata track=3/12";
  for (const char* file : {"t.flac", "t.mp3", "t.ogg", "t.opus", "t.m4a"}) {
    std::string path = ffmpeg(file, sine_input(2.0) + " " + meta);
    Tags t = read_tags(path);
    EXPECT_EQ(t.title, "Blue Train") << file;
    EXPECT_EQ(t.artist, "John Coltrane") << file;
    EXPECT_EQ(t.album, "Blue Train LP") << file;
    EXPECT_EQ(t.genre, "Jazz") << file;
    EXPECT_EQ(t.date.substr(0, 4), "1957") << file;
    EXPECT_EQ(t.track, 3) << file;
    EXPECT_NEAR(t.duration_s, 2.0, 0.06) << file;
  }
  // Untagged file: empty fields, duration still known.
  Tags t = read_tags(ffmpeg("plain.wav", sine_input(1.5)));
  EXPECT_EQ(t.title, "");
  EXPECT_EQ(t.track, 0);
  EXPECT_NEAR(t.duration_s, 1.5, 1e-3);
  EXPECT_THROW(read_tags(test::temp_dir() + "/missing.flac"), Error);
}

// ---------------------------------------------------------------------------------------------
// Determinism and reentrancy.

TEST(Determinism, BitIdenticalAcrossRunsAndThreads) {
  std::vector<std::string> files = {ffmpeg("d.mp3", sine_input(4.0) + " -c:a libmp3lame"),
                                    ffmpeg("d.ogg", sine_input(4.0) + " -c:a libvorbis"),
                                    ffmpeg("d.m4a", sine_input(4.0) + " -c:a aac"),
                                    ffmpeg("d.flac", sine_input(4.0, 96000))};
  std::vector<std::vector<float>> first;
  for (const auto& f : files) {
    first.push_back(decode_file(f, 48000));
    std::vector<float> again = decode_file(f, 48000);
    ASSERT_EQ(first.back().size(), again.size()) << f;
    EXPECT_EQ(std::memcmp(first.back().data(), again.data(), again.size() * sizeof(float)), 0) << f;
  }
  // 8 threads, each decoding every file; results must match the serial ones bit for bit.
  std::vector<std::vector<std::vector<float>>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < files.size(); ++i) got[t].push_back(decode_file(files[(i + t) % files.size()], 48000));
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 8; ++t)
    for (size_t i = 0; i < files.size(); ++i) {
      const auto& ref = first[(i + t) % files.size()];
      ASSERT_EQ(got[t][i].size(), ref.size());
      EXPECT_EQ(std::memcmp(got[t][i].data(), ref.data(), ref.size() * sizeof(float)), 0) << "thread " << t;
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: each throws clap::Error naming the path, none crashes.

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

TEST(BadFiles, EachThrowsErrorNamingThePath) {
  const std::string dir = test::temp_dir();
  std::mt19937 rng(1234);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = char(rng() & 0xff);
    return s;
  };

  write_file(dir + "/random.mp3", random_bytes(200000));
  write_file(dir + "/random.flac", random_bytes(4096));
  write_file(dir + "/random.wav", random_bytes(100));
  write_file(dir + "/notes.txt", "This is a text file, not audio.\nSecond line.\n");
  write_file(dir + "/text.mp3", "This is a text file, not audio.\nSecond line.\n");
  write_file(dir + "/empty.wav", "");
  fs::create_directories(dir + "/folder.mp3");
  std::string flac = ffmpeg("full.flac", sine_input(5.0));
  {
    std::ifstream in(flac, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    write_file(dir + "/truncated_header.flac", bytes.substr(0, 30));
    write_file(dir + "/truncated_meta.flac", bytes.substr(0, 60));
  }
  std::string video = ffmpeg("video_only.mp4", "-f lavfi -i testsrc=duration=1:size=64x64:rate=10 -c:v mpeg4");
  std::string header_only = ffmpeg("zero_samples.wav", "-f lavfi -i anullsrc=r=44100:cl=stereo -t 0 -c:a pcm_s16le");

  struct Case {
    std::string path, reason;
  };
  const std::vector<Case> cases = {
      {dir + "/random.mp3", ""},
      {dir + "/random.flac", ""},
      {dir + "/random.wav", ""},
      {dir + "/notes.txt", ""},
      {dir + "/text.mp3", ""},
      {dir + "/empty.wav", "empty file"},
      {dir + "/folder.mp3", "directory"},
      {dir + "/truncated_header.flac", ""},
      {dir + "/truncated_meta.flac", ""},
      {video, "no audio stream"},
      {header_only, "no audio samples"},
      {dir + "/does/not/exist.mp3", "no such file"},
  };
  for (const Case& c : cases) {
    std::string msg = error_of(c.path);
    std::printf("[ bad file ] %s -> %s\n", fs::path(c.path).filename().c_str(), msg.c_str());
    EXPECT_NE(msg, "") << c.path << " decoded without error";
    EXPECT_EQ(msg.rfind(c.path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.reason), std::string::npos) << msg;
    // Streaming API reports the same way.
    EXPECT_THROW(decode_stream(c.path, 16000, [](const float*, size_t) {}), Error) << c.path;
  }
}

// A float WAV whose samples hold NaN or infinity (found by fuzz_audio) is refused: passed on,
// they would make the window's features and embedding NaN.
TEST(BadFiles, NonFiniteFloatSamplesAreRefused) {
  const std::string wav = ffmpeg("float.wav", "-f lavfi -i \"sine=frequency=440:sample_rate=8000:duration=0.1\" -c:a pcm_f32le");
  std::ifstream in(wav, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const size_t data = bytes.find("data");
  ASSERT_NE(data, std::string::npos);
  ASSERT_EQ(error_of(wav), "");
  for (const float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    std::string damaged = bytes;
    std::memcpy(&damaged[data + 8 + 4 * 300], &bad, 4);
    const std::string path = test::temp_dir() + "/non_finite.wav";
    write_file(path, damaged);
    const std::string msg = error_of(path);
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find("not numbers (NaN or infinity)"), std::string::npos) << msg;
    for (const int rate : {8000, 16000})  // passed through as is, and resampled
      EXPECT_THROW(decode_stream(path, rate, [](const float*, size_t) {}), Error) << rate;
  }
}

// Two samples at 2.8 MHz are 0.03 samples at 48 kHz: "no audio samples", not an empty success
// (found by fuzz_audio at 1 GHz; callers rely on a decoded file having samples).
TEST(BadFiles, SamplesThatRoundToNoneAreRefused) {
  auto le = [](uint32_t v, int bytes) {
    std::string s;
    for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xff);
    return s;
  };
  const uint32_t rate = 2822400;  // DSD512 as PCM: the highest real source rate
  const std::string wav = "RIFF" + le(36 + 4, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(1, 2) + le(rate, 4) +
                          le(rate * 2u, 4) + le(2, 2) + le(16, 2) + "data" + le(4, 4) + le(0x1000, 2) + le(0x2000, 2);
  const std::string path = test::temp_dir() + "/dsd512_rate.wav";
  write_file(path, wav);
  const std::string msg = error_of(path);
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
  EXPECT_NE(msg.find("no audio samples at 48000 Hz"), std::string::npos) << msg;

  // The other way round: 4096 samples "at 2 Hz" would resample to 98 million samples and cost
  // the resampler 0.5 GB (found by fuzz_audio); a rate that low is a damaged header.
  const std::string slow = "RIFF" + le(36 + 8192, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(1, 2) + le(2, 4) +
                           le(4, 4) + le(2, 2) + le(16, 2) + "data" + le(8192, 4) + std::string(8192, '\x10');
  const std::string slow_path = test::temp_dir() + "/two_hz.wav";
  write_file(slow_path, slow);
  EXPECT_NE(error_of(slow_path).find("sample rate 2 Hz is below 1000 Hz"), std::string::npos) << error_of(slow_path);
}

// A header beyond any real audio (hostile pass R7: a WAV claiming 1 GHz was decoded, 96,000
// samples into 4 at 48 kHz, while Python refuses such a rate) is refused by every decoder path,
// the span decoder too, naming the file and what is wrong; so are more than 64 channels and more
// than 64 bits per sample.
TEST(BadFiles, AbsurdHeadersAreRefusedByEveryDecoder) {
  auto le = [](uint32_t v, int bytes) {
    std::string s;
    for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xff);
    return s;
  };
  // PCM (or, with format 0xFFFE and a channel mask, WAVE_FORMAT_EXTENSIBLE) of `bytes` zero bytes.
  auto wav = [&](uint32_t rate, uint32_t channels, uint32_t bits, uint32_t bytes) {
    const uint32_t align = channels * bits / 8;
    return "RIFF" + le(36 + bytes, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) + le(channels, 2) + le(rate, 4) +
           le(rate * align, 4) + le(align, 2) + le(bits, 2) + "data" + le(bytes, 4) + std::string(bytes, '\0');
  };
  struct Case {
    const char* name;
    std::string bytes;
    const char* says;
  };
  const Case cases[] = {
      {"one_ghz.wav", wav(1000000000, 1, 16, 192000), "sample rate 1000000000 Hz is above 3000000 Hz"},
      {"four_mhz.wav", wav(4000000, 2, 16, 192000), "sample rate 4000000 Hz is above 3000000 Hz"},
      {"channels.wav", wav(48000, 100, 16, 48000), "100 channels, more than 64"},
  };
  for (const Case& c : cases) {
    const std::string path = test::temp_dir() + "/" + c.name;
    write_file(path, c.bytes);
    const std::string msg = error_of(path);
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
    EXPECT_NE(msg.find("a damaged header?"), std::string::npos) << msg;
    EXPECT_THROW(read_format(path), Error) << c.name;  // duplicates would weigh it the best copy
    try {
      std::string why;
      decode_spans(path, 48000, {{0, 100}}, &why);
      ADD_FAILURE() << c.name << ": the span decoder took it (" << why << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
}

// A WAV whose LIST chunk claims 4 GB made FFmpeg's demuxer allocate 1.3 GB for one tag (found
// by fuzz_audio); FFmpeg's single allocations are now capped, so the file costs little memory.
TEST(BadFiles, HeaderSizesDoNotBecomeHugeAllocations) {
  auto le = [](uint32_t v, int bytes) {
    std::string s;
    for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xff);
    return s;
  };
  std::string samples;
  for (int i = 0; i < 800; ++i) samples += le(uint32_t(int16_t(1000 * (i % 9) - 4000)) & 0xffff, 2);
  const std::string wav = "RIFF" + le(4 + 24 + 12 + 8 + uint32_t(samples.size()), 4) + "WAVE" + "fmt " + le(16, 4) +
                          le(1, 2) + le(1, 2) + le(8000, 4) + le(16000, 4) + le(2, 2) + le(16, 2) + "LIST" +
                          le(0xfdffff19u, 4) + "INFO" + "ISFT" + le(0x4c00000eu, 4) + std::string("Lavf59", 7) + "data" +
                          le(uint32_t(samples.size()), 4) + samples;
  const std::string path = test::temp_dir() + "/list_claims_4gb.wav";
  write_file(path, wav);
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  try {
    (void)read_tags(path);
    (void)decode_file(path, 48000);
  } catch (const Error&) {
    // refusing the file is fine too; what matters is the memory
  }
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 512 * 1024) << "KB more at peak";  // ru_maxrss is in KB
}

// A long frame at a low rate (FLAC, 32768 samples at 1 kHz: 1.6 million samples at 48 kHz) is
// resampled in slices of bounded size (fuzz_audio found one frame asking for 1.5 GB); the
// result is bit for bit what the same audio in short frames gives.
TEST(Streaming, LongFramesAreResampledInSlicesWithTheSameResult) {
  const std::string sine = "-f lavfi -i \"sine=frequency=100:sample_rate=1000:duration=70\" -c:a flac";
  const std::string long_frames = ffmpeg("long_frames.flac", sine + " -frame_size 32768");
  const std::string short_frames = ffmpeg("short_frames.flac", sine + " -frame_size 1024");
  size_t largest_chunk = 0;
  const AudioInfo info = decode_stream(long_frames, 48000, [&](const float*, size_t n) { largest_chunk = std::max(largest_chunk, n); });
  EXPECT_EQ(info.output_samples, 70 * 48000);
  EXPECT_LE(largest_chunk, kMaxChunkSamples);
  const std::vector<float> a = decode_file(long_frames, 48000), b = decode_file(short_frames, 48000);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(BadFiles, PartlyDamagedFilesKeepWhatDecodes) {
  const std::string dir = test::temp_dir();
  std::string flac = ffmpeg("full.flac", sine_input(6.0));
  std::string mp3 = ffmpeg("full.mp3", sine_input(6.0) + " -c:a libmp3lame -b:a 128k");
  auto bytes_of = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  };
  // Truncated to the first half: the first ~3 s decode.
  std::string fb = bytes_of(flac);
  write_file(dir + "/half.flac", fb.substr(0, fb.size() / 2));
  AudioInfo info;
  std::vector<float> x = decode_file(dir + "/half.flac", 48000, &info);
  EXPECT_NEAR(double(x.size()) / 48000, 3.0, 0.3);
  EXPECT_NEAR(tone_amplitude(middle(x), 1000, 48000), 0.5, 0.01);

  // Garbage over 10% of an mp3 in the middle: the rest decodes, damaged packets are counted.
  std::string mb = bytes_of(mp3);
  std::mt19937 rng(99);
  for (size_t i = mb.size() * 45 / 100; i < mb.size() * 55 / 100; ++i) mb[i] = char(rng() & 0xff);
  write_file(dir + "/damaged.mp3", mb);
  std::vector<float> y = decode_file(dir + "/damaged.mp3", 48000, &info);
  std::printf("[ damaged  ] mp3: %zu samples (%.3f s), %d corrupt packets\n", y.size(), double(y.size()) / 48000,
              info.corrupt_packets);
  EXPECT_GT(double(y.size()) / 48000, 5.0);
  EXPECT_GE(info.corrupt_packets, 1);
  std::vector<float> head(y.begin(), y.begin() + 2 * 48000);
  EXPECT_NEAR(tone_amplitude(head, 1000, 48000), 0.5, 0.04);  // LAME 128k: -0.45 dB on a pure tone
}

// ---------------------------------------------------------------------------------------------
// Streaming.

TEST(Streaming, SinkReceivesSameSamplesAsDecodeFile) {
  const std::pair<const char*, const char*> files[] = {
      {"s.mp3", "-c:a libmp3lame"}, {"s.flac", "-c:a flac"}, {"s.opus", "-c:a libopus"}};
  for (const auto& [name, enc] : files) {
    std::string path = ffmpeg(name, sine_input(5.0) + " " + enc);
    std::vector<float> whole = decode_file(path, 32000);
    std::vector<float> streamed;
    size_t calls = 0;
    AudioInfo info = decode_stream(path, 32000, [&](const float* s, size_t n) {
      ++calls;
      streamed.insert(streamed.end(), s, s + n);
    });
    EXPECT_GT(calls, 10u);
    EXPECT_EQ(info.output_samples, long(whole.size()));
    ASSERT_EQ(streamed.size(), whole.size()) << path;
    EXPECT_EQ(std::memcmp(streamed.data(), whole.data(), whole.size() * sizeof(float)), 0) << path;
  }
}

TEST(Streaming, TwentyMinuteFlacInBoundedChunks) {
  std::string path = ffmpeg("long.flac", "-f lavfi -i sine=frequency=440:sample_rate=44100:duration=1200 -c:a flac");
  size_t total = 0, max_chunk = 0, calls = 0;
  double sum_sq = 0;
  auto t0 = std::chrono::steady_clock::now();
  AudioInfo info = decode_stream(path, 48000, [&](const float* s, size_t n) {
    ++calls;
    total += n;
    max_chunk = std::max(max_chunk, n);
    for (size_t i = 0; i < n; ++i) sum_sq += double(s[i]) * s[i];
  });
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ long     ] 20 min flac: %zu samples in %zu chunks (max %zu), %.2f s (%.0fx real time)\n", total, calls,
              max_chunk, secs, 1200 / secs);
  EXPECT_EQ(total, size_t(1200) * 48000);
  EXPECT_EQ(info.output_samples, long(total));
  EXPECT_NEAR(info.duration_s, 1200.0, 1e-6);
  EXPECT_LE(max_chunk, size_t(2 * 48000)) << "chunks must stay below 2 s of audio";
  EXPECT_GT(calls, 600u);
  // lavfi sine has amplitude 1/8: RMS = 20*log10(0.125/sqrt(2)) = -21.07 dBFS.
  EXPECT_NEAR(10 * std::log10(sum_sq / double(total)), -21.07, 0.05);
}

TEST(Streaming, RateChangeMidStream) {
  // Two raw mp3 streams (no Xing header) at different rates, concatenated: the decoder output
  // changes rate mid-way; both parts are resampled and the total matches their durations.
  std::string a = ffmpeg("a.mp3", sine_input(2.0, 44100) + " -c:a libmp3lame -write_xing 0");
  std::string b = ffmpeg("b.mp3", sine_input(3.0, 22050) + " -c:a libmp3lame -write_xing 0");
  std::string ab = test::temp_dir() + "/ab.mp3";
  ASSERT_EQ(test::run_command("cat '" + a + "' '" + b + "' > '" + ab + "'"), 0);
  AudioInfo info;
  std::vector<float> x = decode_file(ab, 48000, &info);
  // Without the LAME tag, encoder delay/padding stay in: up to ~1 frame (1152 samples) each.
  EXPECT_NEAR(double(x.size()) / 48000, 5.0, 0.1);
  EXPECT_NEAR(tone_amplitude(std::vector<float>(x.begin() + 24000, x.begin() + 72000), 1000, 48000), 0.5, 0.04);
  EXPECT_NEAR(tone_amplitude(std::vector<float>(x.end() - 96000, x.end() - 24000), 1000, 48000), 0.5, 0.04);
  std::printf("[ rate chg ] %zu samples (%.4f s), source rate %d\n", x.size(), double(x.size()) / 48000, info.source_rate);
}

TEST(Streaming, SinkExceptionPropagatesAndBadRateIsRejected) {
  std::string path = ffmpeg("x.flac", sine_input(2.0));
  size_t calls = 0;
  EXPECT_THROW(decode_stream(path, 48000,
                             [&](const float*, size_t) {
                               if (++calls == 3) throw std::runtime_error("stop");
                             }),
               std::runtime_error);
  EXPECT_EQ(calls, 3u);
  for (int bad : {0, -1}) {
    try {
      decode_file(path, bad);
      ADD_FAILURE() << "rate " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// rms_dbfs.

TEST(Loudness, RmsDbfs) {
  std::vector<float> sine(48000), square(1000, 1.0f), half(1000, 0.5f), silence(1000, 0.0f);
  for (size_t i = 0; i < sine.size(); ++i) sine[i] = float(std::sin(2 * M_PI * 1000 * double(i) / 48000));
  EXPECT_NEAR(rms_dbfs(sine.data(), sine.size()), -3.0103, 1e-3);
  EXPECT_NEAR(rms_dbfs(square.data(), square.size()), 0.0, 1e-9);
  EXPECT_NEAR(rms_dbfs(half.data(), half.size()), -6.0206, 1e-3);
  EXPECT_EQ(rms_dbfs(silence.data(), silence.size()), -200.0);
  EXPECT_EQ(rms_dbfs(nullptr, 0), -200.0);
  float tiny = 1e-30f;
  EXPECT_EQ(rms_dbfs(&tiny, 1), -200.0);
}

// ---------------------------------------------------------------------------------------------
// Speed (not run by default): --gtest_also_run_disabled_tests --gtest_filter='*Speed*'

TEST(Speed, DISABLED_TenMinuteMp3) {
  std::string path = ffmpeg("ten.mp3", "-f lavfi -i \"aevalsrc=0.3*sin(2*PI*440*t)+0.1*sin(2*PI*3000*t)|0.3*sin(2*PI*660*t):s=44100:d=600\" -c:a libmp3lame -b:a 192k");
  for (int target : {48000, 16000}) {
    auto t0 = std::chrono::steady_clock::now();
    size_t total = 0;
    decode_stream(path, target, [&](const float*, size_t n) { total += n; });
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ speed    ] 10 min stereo 44.1k mp3 -> %d Hz mono: %.2f s, %.0fx real time\n", target, secs, 600 / secs);
    EXPECT_EQ(total, size_t(600) * target);
  }
}

}  // namespace
}  // namespace clap::audio
