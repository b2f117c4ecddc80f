// The resampled signal, defined block by block (internal to audio/: mono_resampler.h drives it
// for the whole decode in decode.cpp and the span decoder in decode_spans.cpp).
//
// Why blocks: a resampler run over a whole stream carries state from the stream's start, and
// one started mid-stream (a span decode) gives samples that differ from it by float rounding in
// nearly every sample, whatever the pre-roll. So the resampled signal is defined, in both paths,
// as the concatenation of independent blocks of the output timeline: block k is output samples
// [k*B, (k+1)*B) with B = target_rate (1 s), which is exactly input samples [k*R, (k+1)*R) at
// source rate R. Each block is resampled by libsoxr afresh (soxr_clear) from input
// [k*R - M, (k+1)*R + M), cut at the stream's start and end, and only its own B outputs are
// kept. An output sample is then a pure function of a bounded stretch of input, computed the
// same way whether the stream was decoded from its start or from a span's pre-roll.
//
// The margin M covers the filter: measured (soxr HQ, 20 bits), an impulse's response is above
// 1e-7 within about 100 input samples either side when upsampling from 8-44.1 kHz (180 from
// 96 kHz, where the filter is designed at the lower rate), and its faint tail above 1e-12 within
// about 900 (1100 from 96 kHz). M is 1024 input samples (scaled by R / target when
// downsampling), rounded up to a multiple of R / gcd(R, target) so that block k's first input
// sample falls on the output grid: 1029 samples (23 ms) at 44.1 kHz, 2048 at 96 kHz. Blocks then
// match a continuous soxr run to float rounding (under 1e-6; tests/audio/block_resampler_test.cpp)
// for about 5 % more of soxr's work. An odd rate whose grid period is long (44101 Hz: every 44101
// samples) gets a margin of a whole period (1 s: three times the work, and rare).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct soxr;

namespace clap::audio::detail {

// How many output samples `source_samples` input samples resample to: round(n * target / rate),
// in exact integer arithmetic (the last block is cut to it).
inline int64_t resampled_length(int64_t source_samples, int64_t source_rate, int64_t target_rate) {
  return (source_samples * target_rate * 2 + source_rate) / (2 * source_rate);
}

class BlockResampler {
 public:
  // Throws clap::Error naming `path` when libsoxr refuses the rates.
  BlockResampler(const std::string& path, int source_rate, int target_rate);
  ~BlockResampler();
  BlockResampler(const BlockResampler&) = delete;
  BlockResampler& operator=(const BlockResampler&) = delete;

  int64_t source_rate() const { return source_rate_; }  // input samples a block covers (R)
  int64_t target_rate() const { return target_rate_; }  // output samples a block covers (B)
  int64_t margin() const { return margin_; }             // M, input samples either side

  // The input block k reads: [input_begin(k), input_end(k)), the end cut at the stream's end.
  int64_t input_begin(int64_t k) const { return k * source_rate_ > margin_ ? k * source_rate_ - margin_ : 0; }
  int64_t input_end(int64_t k) const { return (k + 1) * source_rate_ + margin_; }

  // The margin for these rates (see above); exposed for the tests and the docs.
  static int64_t margin_for(int64_t source_rate, int64_t target_rate);

  // Block k's first `count` output samples (B, fewer for a stream's last block), appended to
  // `out`. `in` holds the input from input_begin(k): `n` samples, input_end(k) - input_begin(k)
  // unless the stream ends before. Output the resampler falls short of at the stream's very end
  // is zeros (as many as soxr's flush leaves out: a sample or two).
  void block(int64_t k, const float* in, int64_t n, int64_t count, std::vector<float>& out);

 private:
  const std::string& path_;
  int64_t source_rate_, target_rate_, margin_;
  soxr* soxr_ = nullptr;
  std::vector<float> buf_;
};

}  // namespace clap::audio::detail
