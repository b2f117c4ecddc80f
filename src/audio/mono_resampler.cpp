#include "audio/mono_resampler.h"
#include "audio/ffmpeg_library.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
}

#include <algorithm>
#include <cmath>
#include <cstring>

#include "audio/decode_internal.h"

namespace clap::audio::detail {

namespace {

// One sample of a format as float (double formats: as double), as libswresample converts.
float sample_of(uint8_t v) { return float(int(v) - 0x80) * (1.0f / (1 << 7)); }
float sample_of(int16_t v) { return float(v) * (1.0f / (1 << 15)); }
float sample_of(int32_t v) { return float(v) * (1.0f / float(1U << 31)); }
float sample_of(int64_t v) { return float(v) * (1.0f / 9223372036854775808.0f); }
float sample_of(float v) { return v; }
double sample_of(double v) { return v; }

template <typename T>
void mix(const AVFrame* f, int from, bool planar, std::vector<float>& out) {
  const int channels = f->ch_layout.nb_channels;
  const int n = f->nb_samples - from;
  const size_t base = out.size();
  out.resize(base + size_t(n));
  float* o = out.data() + base;
  // Sample i of channel c.
  const auto at = [&](int c, int i) {
    return planar ? reinterpret_cast<const T*>(f->extended_data[c])[from + i]
                  : reinterpret_cast<const T*>(f->extended_data[0])[int64_t(from + i) * channels + c];
  };
  using Acc = decltype(sample_of(T{}));
  if (channels == 1) {
    for (int i = 0; i < n; ++i) o[i] = float(sample_of(at(0, i)));
  } else if (channels == 2) {
    const Acc half = Acc(0.5);
    for (int i = 0; i < n; ++i) o[i] = float(sample_of(at(0, i)) * half + sample_of(at(1, i)) * half);
  } else {
    const Acc w = Acc(1.0 / channels);
    for (int i = 0; i < n; ++i) {
      Acc v = 0;
      for (int c = 0; c < channels; ++c) v += sample_of(at(c, i)) * w;
      o[i] = float(v);
    }
  }
}

}  // namespace

void downmix(const std::string& path, const AVFrame* f, int from, std::vector<float>& out) {
  if (from >= f->nb_samples) return;
  const auto format = static_cast<AVSampleFormat>(f->format);
  const bool planar = CLAP_MEDIA(av_sample_fmt_is_planar)(format);
  switch (CLAP_MEDIA(av_get_packed_sample_fmt)(format)) {
    case AV_SAMPLE_FMT_U8: return mix<uint8_t>(f, from, planar, out);
    case AV_SAMPLE_FMT_S16: return mix<int16_t>(f, from, planar, out);
    case AV_SAMPLE_FMT_S32: return mix<int32_t>(f, from, planar, out);
    case AV_SAMPLE_FMT_S64: return mix<int64_t>(f, from, planar, out);
    case AV_SAMPLE_FMT_FLT: return mix<float>(f, from, planar, out);
    case AV_SAMPLE_FMT_DBL: return mix<double>(f, from, planar, out);
    default: fail(path, std::string("decoded samples in an unknown format (") + (CLAP_MEDIA(av_get_sample_fmt_name)(format) ? CLAP_MEDIA(av_get_sample_fmt_name)(format) : "none") + ")");
  }
}

void MonoResampler::feed(const AVFrame* f, int skip) {
  if (f->sample_rate != in_rate_) {
    finish();
    in_rate_ = f->sample_rate;
    if (in_rate_ != target_) {
      blocks_.emplace(path_, in_rate_, target_);
      engine = "soxr";
      next_block_ = first_block_;
      pending_begin_ = blocks_->input_begin(first_block_);
    }
    first_block_ = 0;  // only the first segment starts mid-stream
  }
  const int n = std::max(f->nb_samples - skip, 0);
  source_samples += n;
  if (!blocks_) {
    mono_.clear();
    downmix(path_, f, skip, mono_);
    emit(mono_.data(), mono_.size());
    return;
  }
  const size_t before = pending_.size();
  downmix(path_, f, skip, pending_);
  check_numbers(pending_.data() + before, pending_.size() - before);  // before resampling: as decoded
  run_blocks(false);
}

void MonoResampler::check_numbers(const float* p, size_t n) const {
  // Float formats carry NaN and infinity as they are (a damaged or crafted float WAV); passed
  // on they would make every feature and embedding of the window NaN and poison the index's
  // scores, so such a file is refused like other undecodable audio (found by fuzz_audio).
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) fail(path_, "audio samples that are not numbers (NaN or infinity): damaged file");
}

void MonoResampler::finish() {
  if (blocks_) run_blocks(true);
  blocks_.reset();
  pending_.clear();
  pending_begin_ = next_block_ = 0;
  in_rate_ = 0;
}

void MonoResampler::run_blocks(bool at_end) {
  const int64_t end = pending_begin_ + int64_t(pending_.size());  // the segment's input so far
  const int64_t total = at_end ? resampled_length(end, in_rate_, target_) : 0;
  for (;;) {
    const int64_t k = next_block_;
    const int64_t need = blocks_->input_end(k);
    int64_t count = target_;
    if (!at_end) {
      if (end < need) return;
    } else {
      count = std::min<int64_t>(target_, total - k * target_);
      if (count <= 0) return;
    }
    const int64_t begin = blocks_->input_begin(k);
    out_.clear();
    blocks_->block(k, pending_.data() + (begin - pending_begin_), std::min(need, end) - begin, count, out_);
    // To the sink in tenths of a second, about a decoded frame's worth as before blocks: a sink
    // that checks progress or stops the decode (the fingerprint's first two minutes) sees the
    // stream at the same grain.
    const size_t piece = size_t(std::max(target_ / 10, 1));
    for (size_t at = 0; at < out_.size(); at += piece) emit(out_.data() + at, std::min(piece, out_.size() - at));
    ++next_block_;
    // Input before the next block's left margin is no longer needed.
    const int64_t keep_from = std::min(blocks_->input_begin(next_block_), end);
    pending_.erase(pending_.begin(), pending_.begin() + (keep_from - pending_begin_));
    pending_begin_ = keep_from;
  }
}

void MonoResampler::emit(const float* p, size_t n) {
  if (!blocks_) {
    check_numbers(p, n);
  } else {
    // The input was checked (feed): a sample that is not finite now was made by resampling
    // samples near the largest float (3.4e38), which a filter's sum overflows. It was reported as
    // "not numbers (NaN or infinity): damaged file" (hostile pass 9): say what is wrong.
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i]))
        fail(path_, "audio samples too large to resample from " + std::to_string(in_rate_) + " Hz to " + std::to_string(target_) +
                        " Hz (they overflow the float range): samples near the largest float (3.4e38), where audio is "
                        "expected within -1..1");
  }
  while (n > 0) {
    const size_t k = std::min(n, kMaxChunkSamples);
    sink_(p, k);
    p += k;
    n -= k;
    output_samples += int64_t(k);
  }
}

}  // namespace clap::audio::detail
