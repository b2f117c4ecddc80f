#include "audio/block_resampler.h"
#include "audio/ffmpeg_library.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace clap::audio::detail {

int64_t BlockResampler::margin_for(int64_t source_rate, int64_t target_rate) {
  const int64_t period = source_rate / std::gcd(source_rate, target_rate);  // input samples per output-grid repeat
  const int64_t wanted = source_rate > target_rate ? (1024 * source_rate + target_rate - 1) / target_rate : 1024;
  return (wanted + period - 1) / period * period;
}

BlockResampler::BlockResampler(const std::string& path, int source_rate, int target_rate)
    : path_(path), source_rate_(source_rate), target_rate_(target_rate), margin_(margin_for(source_rate, target_rate)) {
  // soxr's HQ recipe (20-bit precision, passband to 0.914 of the lower Nyquist frequency, linear
  // phase): what libswresample's soxr engine at precision 20 set up before, measured to give the
  // same samples to float rounding, so the signal keeps its quality (docs/design.md).
  soxr_io_spec_t io = CLAP_MEDIA(soxr_io_spec)(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t quality = CLAP_MEDIA(soxr_quality_spec)(SOXR_HQ, 0);
  // One thread: parallelism is per file, and the output must not depend on a thread count.
  soxr_runtime_spec_t runtime = CLAP_MEDIA(soxr_runtime_spec)(1);
  soxr_error_t error = nullptr;
  soxr_ = CLAP_MEDIA(soxr_create)(double(source_rate), double(target_rate), 1, &error, &io, &quality, &runtime);
  if (!soxr_ || error)
    throw Error(path + ": cannot create the resampler (" + std::to_string(source_rate) + " Hz to " + std::to_string(target_rate) +
                " Hz): " + (error ? error : "unknown error"));
}

BlockResampler::~BlockResampler() { CLAP_MEDIA_RELEASE(soxr_delete)(soxr_); }

void BlockResampler::block(int64_t k, const float* in, int64_t n, int64_t count, std::vector<float>& out) {
  // Afresh for every block: soxr_clear keeps the object (its set-up) and forgets the previous
  // block, so block k's samples do not depend on which blocks came before (tested: bit for bit a
  // new object's).
  if (const soxr_error_t e = CLAP_MEDIA(soxr_clear)(soxr_)) throw Error(path_ + ": resampler error: " + e);
  // The outputs before the block's own: its left margin, on the output grid by the margin's choice.
  const int64_t skip = (k * source_rate_ - input_begin(k)) * target_rate_ / source_rate_;
  const int64_t want = skip + count;
  const size_t base = out.size();
  buf_.resize(size_t(std::min<int64_t>(want, 1 << 16)) + 64);
  int64_t produced = 0, fed = 0;
  const auto take = [&](size_t got) {
    // Keep outputs [skip, skip + count) of this block.
    const int64_t from = std::max<int64_t>(produced, skip), to = std::min<int64_t>(produced + int64_t(got), want);
    if (from < to) out.insert(out.end(), buf_.data() + (from - produced), buf_.data() + (to - produced));
    produced += int64_t(got);
  };
  while (fed < n && produced < want) {
    size_t used = 0, got = 0;
    if (const soxr_error_t e = CLAP_MEDIA(soxr_process)(soxr_, in + fed, size_t(n - fed), &used, buf_.data(), buf_.size(), &got))
      throw Error(path_ + ": resampling failed: " + e);
    if (used == 0 && got == 0) throw Error(path_ + ": the resampler stalled");
    fed += int64_t(used);
    take(got);
  }
  // The end of the block's input: soxr gives the outputs its filter still holds.
  while (produced < want) {
    size_t got = 0;
    if (const soxr_error_t e = CLAP_MEDIA(soxr_process)(soxr_, nullptr, 0, nullptr, buf_.data(), buf_.size(), &got))
      throw Error(path_ + ": resampler flush failed: " + e);
    if (got == 0) break;
    take(got);
  }
  out.resize(base + size_t(count), 0.0f);
}

}  // namespace clap::audio::detail
