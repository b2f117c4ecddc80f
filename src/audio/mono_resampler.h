// Decoded frames to mono float at the target rate (internal to audio/: the whole decode in
// decode.cpp and the span decoder in decode_spans.cpp feed it).
#pragma once
extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "audio/decode_internal.h"
#include "audio/ffmpeg_input.h"

namespace clap::audio::detail {


// Decoded frames (any sample format, rate, channel layout) -> mono float at target_rate.
// One SwrContext per "segment" of constant input parameters; if a stream changes rate, format
// or layout mid-way the segment is flushed and a new one begins. Each segment yields exactly
// round(in_samples * target / in_rate) output samples: the resampler's flush is cut to that
// count (or padded with zeros if it falls a sample or two short).
class MonoResampler {
 public:
  MonoResampler(const std::string& path, int target_rate, const SampleSink& sink)
      : path_(path), target_(target_rate), sink_(sink) {}
  ~MonoResampler() { swr_free(&swr_); }

  // The frame's samples from `skip` on.
  void feed(const AVFrame* f, int skip = 0) {
    configure(f);
    // The frame goes to the resampler in slices whose output stays near kMaxPieceSamples: at a
    // tiny source rate (a damaged header saying 2 Hz) a frame resamples to thousands of times
    // its length, and an 8 KB file asked for 1.5 GB at once (found by fuzz_audio). An ordinary
    // frame is one slice, so its conversion is the one call it always was.
    const auto format = static_cast<AVSampleFormat>(f->format);
    const bool planar = av_sample_fmt_is_planar(format);
    const int planes = planar ? f->ch_layout.nb_channels : 1;
    const int64_t stride = int64_t{av_get_bytes_per_sample(format)} * (planar ? 1 : f->ch_layout.nb_channels);
    const int step = int(std::clamp<int64_t>(int64_t{kMaxPieceSamples} * in_rate_ / target_, 1, f->nb_samples));
    slice_.resize(size_t(planes));
    for (int done = skip; done < f->nb_samples;) {
      const int n = std::min(step, f->nb_samples - done);
      for (int p = 0; p < planes; ++p) slice_[size_t(p)] = f->extended_data[p] + done * stride;
      const int cap = swr_get_out_samples(swr_, n);
      if (cap < 0) fail(path_, "resampler error: " + av_error(cap));
      buf_.resize(size_t(cap) + 16);
      uint8_t* out = reinterpret_cast<uint8_t*>(buf_.data());
      const int got = swr_convert(swr_, &out, int(buf_.size()), slice_.data(), n);
      if (got < 0) fail(path_, "resampling failed: " + av_error(got));
      emit(buf_.data(), size_t(got), INT64_MAX);
      done += n;
    }
    seg_in_ += f->nb_samples - skip;
    source_samples += f->nb_samples - skip;
  }

  // Flushes the current segment (end of stream or parameter change).
  void finish() {
    if (!swr_) return;
    // round(seg_in * target / in_rate), exact integer arithmetic.
    const int64_t expected = av_rescale_rnd(seg_in_, target_, in_rate_, AV_ROUND_NEAR_INF);
    buf_.resize(8192);
    for (;;) {
      uint8_t* out = reinterpret_cast<uint8_t*>(buf_.data());
      int got = swr_convert(swr_, &out, int(buf_.size()), nullptr, 0);
      if (got < 0) fail(path_, "resampler flush failed: " + av_error(got));
      if (got == 0) break;
      emit(buf_.data(), size_t(got), expected);
    }
    if (seg_out_ < expected) {
      std::fill(buf_.begin(), buf_.end(), 0.0f);
      while (seg_out_ < expected) emit(buf_.data(), size_t(std::min<int64_t>(int64_t(buf_.size()), expected - seg_out_)), expected);
    }
    swr_free(&swr_);
    seg_in_ = seg_out_ = 0;
  }

  std::string engine = "none";
  int64_t source_samples = 0;
  int64_t output_samples = 0;

 private:
  void configure(const AVFrame* f) {
    if (swr_ && f->format == in_format_ && f->sample_rate == in_rate_ &&
        av_channel_layout_compare(&f->ch_layout, &in_layout_.l) == 0)
      return;
    finish();
    av_channel_layout_uninit(&in_layout_.l);
    if (av_channel_layout_copy(&in_layout_.l, &f->ch_layout) < 0) fail(path_, "out of memory");
    in_format_ = f->format;
    in_rate_ = f->sample_rate;
    const int channels = f->ch_layout.nb_channels;

    // The layout only labels channels; the weights below are uniform, so an unlabelled layout
    // is given the default labels for its count (swresample is happier with a native order).
    LayoutHolder in;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
      av_channel_layout_default(&in.l, channels);
    else if (av_channel_layout_copy(&in.l, &f->ch_layout) < 0)
      fail(path_, "out of memory");
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    // Plain average: weight 1/N for each of the N input channels into the single output.
    std::vector<double> matrix(size_t(channels), 1.0 / channels);

    const bool resample = in_rate_ != target_;
    // Try soxr first (high quality, 20-bit precision: see decode.h); fall back to swr's own resampler
    // with a long filter if libswresample was built without libsoxr.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool soxr = attempt == 0;
      if (!resample && !soxr) break;
      int r = swr_alloc_set_opts2(&swr_, &mono, AV_SAMPLE_FMT_FLT, target_, &in.l,
                                  static_cast<AVSampleFormat>(in_format_), in_rate_, 0, nullptr);
      if (r < 0) fail(path_, "cannot create resampler: " + av_error(r));
      if (resample) {
        if (soxr) {
          r = av_opt_set(swr_, "resampler", "soxr", 0);
          if (r >= 0) r = av_opt_set_double(swr_, "precision", 20, 0);
        } else {
          r = av_opt_set(swr_, "resampler", "swr", 0);
          if (r >= 0) r = av_opt_set_int(swr_, "filter_size", 64, 0);
          if (r >= 0) r = av_opt_set_int(swr_, "phase_shift", 10, 0);
          if (r >= 0) r = av_opt_set_double(swr_, "cutoff", 0.97, 0);
        }
      }
      if (r >= 0) {
        r = swr_set_matrix(swr_, matrix.data(), channels);
        if (r < 0) fail(path_, "cannot set downmix matrix: " + av_error(r));
        r = swr_init(swr_);
      }
      if (r >= 0) {
        engine = resample ? (soxr ? "soxr" : "swr") : "none";
        return;
      }
      swr_free(&swr_);
      if (!resample || !soxr) fail(path_, "cannot initialise resampler: " + av_error(r));
    }
    fail(path_, "cannot initialise resampler");
  }

  void emit(const float* p, size_t n, int64_t limit) {
    if (seg_out_ >= limit) return;
    n = size_t(std::min<int64_t>(int64_t(n), limit - seg_out_));
    // Float formats carry NaN and infinity as they are (a damaged or crafted float WAV); passed
    // on they would make every feature and embedding of the window NaN and poison the index's
    // scores, so such a file is refused like other undecodable audio (found by fuzz_audio).
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) fail(path_, "audio samples that are not numbers (NaN or infinity): damaged file");
    while (n > 0) {
      size_t k = std::min(n, kMaxChunkSamples);
      sink_(p, k);
      p += k;
      n -= k;
      seg_out_ += int64_t(k);
      output_samples += int64_t(k);
    }
  }

  static constexpr int kMaxPieceSamples = 1 << 20;
  const std::string& path_;
  const int target_;
  const SampleSink& sink_;
  SwrContext* swr_ = nullptr;
  int in_format_ = -1, in_rate_ = 0;
  LayoutHolder in_layout_;
  int64_t seg_in_ = 0, seg_out_ = 0;
  std::vector<float> buf_;
  std::vector<const uint8_t*> slice_;  // the planes of the part of a frame being converted
};

}  // namespace clap::audio::detail
