#include "model/mel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"

namespace clap {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMelFloor = 1e-10;  // audio_utils.spectrogram mel_floor / power_to_db min_value

bool is_power_of_two(long n) { return n > 0 && (n & (n - 1)) == 0; }

// transformers.audio_utils.hertz_to_mel / mel_to_hertz ("htk" or "slaney").
double hertz_to_mel(double freq, bool slaney) {
  if (!slaney) return 2595.0 * std::log10(1.0 + (freq / 700.0));
  const double min_log_hertz = 1000.0, min_log_mel = 15.0;
  const double logstep = 27.0 / std::log(6.4);
  double mels = 3.0 * freq / 200.0;
  if (freq >= min_log_hertz) mels = min_log_mel + std::log(freq / min_log_hertz) * logstep;
  return mels;
}

double mel_to_hertz(double mels, bool slaney) {
  if (!slaney) return 700.0 * (std::pow(10.0, mels / 2595.0) - 1.0);
  const double min_log_hertz = 1000.0, min_log_mel = 15.0;
  const double logstep = std::log(6.4) / 27.0;
  double freq = 200.0 * mels / 3.0;
  if (mels >= min_log_mel) freq = min_log_hertz * std::exp(logstep * (mels - min_log_mel));
  return freq;
}

// numpy.linspace(start, stop, num) with endpoint=True: i * step + start, last = stop.
std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> y(num);
  if (num == 1) {
    y[0] = start;
    return y;
  }
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) y[i] = static_cast<double>(i) * step + start;
  y[num - 1] = stop;
  return y;
}

// transformers.audio_utils.mel_filter_bank (triangularize_in_mel_space=False):
// num_bins x num_mels, row-major.
std::vector<double> mel_filter_bank(int num_bins, int num_mels, double fmin, double fmax, int sampling_rate,
                                    bool slaney) {
  const double mel_min = hertz_to_mel(fmin, slaney);
  const double mel_max = hertz_to_mel(fmax, slaney);
  const std::vector<double> mel_freqs = linspace(mel_min, mel_max, num_mels + 2);
  std::vector<double> filter_freqs(num_mels + 2);
  for (int j = 0; j < num_mels + 2; ++j) filter_freqs[j] = mel_to_hertz(mel_freqs[j], slaney);
  const std::vector<double> fft_freqs = linspace(0.0, static_cast<double>(sampling_rate / 2), num_bins);

  std::vector<double> diff(num_mels + 1);
  for (int j = 0; j < num_mels + 1; ++j) diff[j] = filter_freqs[j + 1] - filter_freqs[j];

  std::vector<double> bank(static_cast<size_t>(num_bins) * num_mels);
  for (int i = 0; i < num_bins; ++i) {
    for (int m = 0; m < num_mels; ++m) {
      const double down = -(filter_freqs[m] - fft_freqs[i]) / diff[m];
      const double up = (filter_freqs[m + 2] - fft_freqs[i]) / diff[m + 1];
      double v = std::max(0.0, std::min(down, up));
      if (slaney) v *= 2.0 / (filter_freqs[m + 2] - filter_freqs[m]);  // slaney area normalisation
      bank[static_cast<size_t>(i) * num_mels + m] = v;
    }
  }
  return bank;
}

// numpy 'reflect' padding index (edge sample not repeated), for any offset.
inline long reflect_index(long i, long n) {
  if (n == 1) return 0;
  const long period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

// |X|^2 the way the reference gets it: the float64 rfft result is stored as complex64,
// then np.abs(..., dtype=float64) ** 2.
inline double power_of(double re, double im) {
  const double r = static_cast<float>(re), i = static_cast<float>(im);
  return r * r + i * i;
}

}  // namespace

MelExtractor::MelExtractor(const FeatureConfig& config) : config_(config) {
  if (config.fft_window_size < 2 || !is_power_of_two(config.fft_window_size))
    throw Error("feature extractor: fft_window_size " + std::to_string(config.fft_window_size) +
                " is not a power of two (>= 2); only radix-2 FFT sizes are supported");
  if (config.truncation == "fusion") {
    fusion_ = true;
  } else if (config.truncation == "rand_trunc") {
    fusion_ = false;
  } else {
    throw Error("feature extractor: unsupported truncation '" + config.truncation +
                "' (expected fusion or rand_trunc)");
  }
  if (config.hop_length <= 0 || config.feature_size <= 0 || config.nb_max_samples <= 0 || config.sampling_rate <= 0)
    throw Error("feature extractor: hop_length, feature_size, nb_max_samples and sampling_rate must be positive");
  if (config.nb_frequency_bins != config.fft_window_size / 2 + 1)
    throw Error("feature extractor: nb_frequency_bins must be fft_window_size/2+1");

  n_fft_ = config.fft_window_size;
  half_ = n_fft_ / 2;
  bins_ = half_ + 1;
  mels_ = config.feature_size;
  hop_ = config.hop_length;

  // window_function(N, "hann", periodic=True) = np.hanning(N + 1)[:-1]; numpy 1.24 computes
  // np.hanning(M) as 0.5 + 0.5 * cos(pi * n / (M - 1)) with n = 1-M, 3-M, ..., M-1.
  window_.resize(n_fft_);
  const double m_minus_1 = static_cast<double>(n_fft_);  // M - 1 with M = N + 1
  for (int k = 0; k < n_fft_; ++k) {
    const double n = static_cast<double>(2 * k - n_fft_);
    window_[k] = 0.5 + 0.5 * std::cos(kPi * n / m_minus_1);
  }

  // fusion: mel_filters (HTK, norm None); rand_trunc: mel_filters_slaney (slaney scale and norm).
  filters_ = mel_filter_bank(bins_, mels_, config.frequency_min, config.frequency_max, config.sampling_rate, !fusion_);
  band_first_.assign(mels_, 0);
  band_len_.assign(mels_, 0);
  band_offset_.assign(mels_, 0);
  for (int m = 0; m < mels_; ++m) {
    int first = -1, last = -1;
    for (int i = 0; i < bins_; ++i) {
      if (filters_[static_cast<size_t>(i) * mels_ + m] != 0.0) {
        if (first < 0) first = i;
        last = i;
      }
    }
    band_offset_[m] = static_cast<int>(band_weights_.size());
    if (first < 0) continue;  // empty filter: mel power 0 -> floor
    band_first_[m] = first;
    band_len_[m] = last - first + 1;
    for (int i = first; i <= last; ++i) band_weights_.push_back(filters_[static_cast<size_t>(i) * mels_ + m]);
  }

  // exp(-2 pi i k / N) for k = 0..N/2 (also serves every complex-FFT stage: exp(-2 pi i j / L)
  // = post[j * N / L]), straight from cos/sin; errors ~1 ulp.
  post_re_.resize(half_ + 1);
  post_im_.resize(half_ + 1);
  for (int k = 0; k <= half_; ++k) {
    const double angle = 2.0 * kPi * static_cast<double>(k) / static_cast<double>(n_fft_);
    post_re_[k] = std::cos(angle);
    post_im_[k] = -std::sin(angle);
  }
  // Exact values where they are known, so symmetric twiddles are exactly symmetric.
  post_re_[0] = 1.0;
  post_im_[0] = 0.0;
  post_re_[half_] = -1.0;
  post_im_[half_] = 0.0;
  if (half_ % 2 == 0) {
    post_re_[half_ / 2] = 0.0;
    post_im_[half_ / 2] = -1.0;
  }

  bitrev_.resize(half_);
  int bits = 0;
  while ((1 << bits) < half_) ++bits;
  for (int i = 0; i < half_; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b)
      if (i & (1 << b)) r |= 1 << (bits - 1 - b);
    bitrev_[i] = r;
  }
  for (int len = 2; len <= half_; len <<= 1) {
    const int h = len / 2, stride = n_fft_ / len;
    for (int j = 0; j < h; ++j) {
      stage_re_.push_back(post_re_[j * stride]);
      stage_im_.push_back(post_im_[j * stride]);
    }
  }
}

// Complex FFT of size half_ on (re, im) given in bit-reversed order, then the split step that
// turns it into the real FFT of size n_fft_ of the packed frame (x[2n] + i x[2n+1]), then |X|^2.
// Radix-2 decimation in time, two stages fused per pass (radix-4 data flow, same arithmetic
// as two radix-2 stages; the second stage's odd twiddle W^(j+q) = -i W^j is applied exactly).
void MelExtractor::fft_frame(double* re, double* im, double* power) const {
  const int m = half_;
  const double* twr = stage_re_.data();  // stage of length L starts at L/2 - 1
  const double* twi = stage_im_.data();
  int len = 1;  // length of the sub-transforms done so far
  if (m >= 4) {  // stages 2 and 4: twiddles 1 and -i
    for (int s = 0; s < m; s += 4) {
      const double a0r = re[s] + re[s + 1], a0i = im[s] + im[s + 1];
      const double a1r = re[s] - re[s + 1], a1i = im[s] - im[s + 1];
      const double a2r = re[s + 2] + re[s + 3], a2i = im[s + 2] + im[s + 3];
      const double a3r = re[s + 2] - re[s + 3], a3i = im[s + 2] - im[s + 3];
      re[s] = a0r + a2r;
      im[s] = a0i + a2i;
      re[s + 2] = a0r - a2r;
      im[s + 2] = a0i - a2i;
      re[s + 1] = a1r + a3i;  // a1 + (-i) a3
      im[s + 1] = a1i - a3r;
      re[s + 3] = a1r - a3i;
      im[s + 3] = a1i + a3r;
    }
    len = 4;
  }
  for (; 4 * len <= m; len *= 4) {  // stages 2*len and 4*len
    const int q = len;
    const double* w1r = twr + (q - 1);
    const double* w1i = twi + (q - 1);
    const double* w2r = twr + (2 * q - 1);
    const double* w2i = twi + (2 * q - 1);
    for (int s = 0; s < m; s += 4 * q) {
      double* p0r = re + s;
      double* p1r = p0r + q;
      double* p2r = p0r + 2 * q;
      double* p3r = p0r + 3 * q;
      double* p0i = im + s;
      double* p1i = p0i + q;
      double* p2i = p0i + 2 * q;
      double* p3i = p0i + 3 * q;
#pragma omp simd
      for (int j = 0; j < q; ++j) {
        const double t1r = p1r[j] * w1r[j] - p1i[j] * w1i[j];
        const double t1i = p1r[j] * w1i[j] + p1i[j] * w1r[j];
        const double t3r = p3r[j] * w1r[j] - p3i[j] * w1i[j];
        const double t3i = p3r[j] * w1i[j] + p3i[j] * w1r[j];
        const double a0r = p0r[j] + t1r, a0i = p0i[j] + t1i;
        const double a1r = p0r[j] - t1r, a1i = p0i[j] - t1i;
        const double a2r = p2r[j] + t3r, a2i = p2i[j] + t3i;
        const double a3r = p2r[j] - t3r, a3i = p2i[j] - t3i;
        const double u2r = a2r * w2r[j] - a2i * w2i[j];
        const double u2i = a2r * w2i[j] + a2i * w2r[j];
        const double v3r = a3r * w2r[j] - a3i * w2i[j];
        const double v3i = a3r * w2i[j] + a3i * w2r[j];
        p0r[j] = a0r + u2r;
        p0i[j] = a0i + u2i;
        p2r[j] = a0r - u2r;
        p2i[j] = a0i - u2i;
        p1r[j] = a1r + v3i;  // a1 + (-i) v3
        p1i[j] = a1i - v3r;
        p3r[j] = a1r - v3i;
        p3i[j] = a1i + v3r;
      }
    }
  }
  for (; 2 * len <= m; len *= 2) {  // remaining single radix-2 stage (length 2*len)
    const int h = len;
    const double* wr = twr + (h - 1);
    const double* wi = twi + (h - 1);
    for (int s = 0; s < m; s += 2 * h) {
      double* ar = re + s;
      double* ai = im + s;
      double* br = ar + h;
      double* bi = ai + h;
#pragma omp simd
      for (int j = 0; j < h; ++j) {
        const double tr = br[j] * wr[j] - bi[j] * wi[j];
        const double ti = br[j] * wi[j] + bi[j] * wr[j];
        br[j] = ar[j] - tr;
        bi[j] = ai[j] - ti;
        ar[j] = ar[j] + tr;
        ai[j] = ai[j] + ti;
      }
    }
  }
  // X[k] = E[k] + W^k O[k], E = (Z[k] + conj Z[m-k]) / 2, O = -i (Z[k] - conj Z[m-k]) / 2.
  // Bins k and m-k share E and D = (Z[k] - conj Z[m-k]) / 2: E[m-k] = conj E[k],
  // D[m-k] = -conj D[k] (bit-exact identities), so they are computed together.
  power[0] = power_of(re[0] + im[0], 0.0);
  power[m] = power_of(re[0] - im[0], 0.0);
  for (int k = 1; 2 * k <= m; ++k) {
    const int k2 = m - k;
    const double er = 0.5 * (re[k] + re[k2]), ei = 0.5 * (im[k] - im[k2]);
    const double dr = 0.5 * (re[k] - re[k2]), di = 0.5 * (im[k] + im[k2]);
    // O[k] = -i D = (di, -dr); O[m-k] = -i (-conj D) = (di, dr).
    const double wr = post_re_[k], wi = post_im_[k];
    power[k] = power_of(er + (wr * di + wi * dr), ei + (wr * -dr + wi * di));
    if (k2 != k) {
      const double vr = post_re_[k2], vi = post_im_[k2];
      power[k2] = power_of(er + (vr * di - vi * dr), -ei + (vr * dr + vi * di));
    }
  }
}

std::vector<float> MelExtractor::log_mel(const float* samples, size_t n, int* frames_out) const {
  if (n == 0) throw Error("empty audio clip");
  const size_t frames = num_frames(n);
  std::vector<float> out(frames * mels_);
  std::vector<double> re(half_), im(half_), power(bins_);
  const long len = static_cast<long>(n);
  const long pad = n_fft_ / 2;
  for (size_t t = 0; t < frames; ++t) {
    const long start = static_cast<long>(t) * hop_ - pad;  // index into the unpadded signal
    // Frame of the reflect-padded signal times the window, packed as x[2i] + i x[2i+1] and
    // stored in bit-reversed order for the FFT.
    if (start >= 0 && start + n_fft_ <= len) {
      const float* x = samples + start;
      for (int i = 0; i < half_; ++i) {
        const int r = bitrev_[i];
        re[r] = static_cast<double>(x[2 * i]) * window_[2 * i];
        im[r] = static_cast<double>(x[2 * i + 1]) * window_[2 * i + 1];
      }
    } else {
      for (int i = 0; i < half_; ++i) {
        const int r = bitrev_[i];
        re[r] = static_cast<double>(samples[reflect_index(start + 2 * i, len)]) * window_[2 * i];
        im[r] = static_cast<double>(samples[reflect_index(start + 2 * i + 1, len)]) * window_[2 * i + 1];
      }
    }
    fft_frame(re.data(), im.data(), power.data());
    float* row = out.data() + t * mels_;
    for (int m = 0; m < mels_; ++m) {
      const double* w = band_weights_.data() + band_offset_[m];
      const double* p = power.data() + band_first_[m];
      double s = 0.0;
      for (int i = 0, e = band_len_[m]; i < e; ++i) s += w[i] * p[i];
      row[m] = static_cast<float>(10.0 * std::log10(std::max(kMelFloor, s)));
    }
  }
  if (frames_out) *frames_out = static_cast<int>(frames);
  return out;
}

std::vector<float> MelExtractor::resize_frames(const float* mel, int in_frames, int out_frames, int mels) {
  std::vector<float> out(static_cast<size_t>(out_frames) * mels);
  if (in_frames == out_frames) {  // ATen: equal sizes copy
    std::copy(mel, mel + out.size(), out.begin());
    return out;
  }
  // ATen CPU upsample_bilinear2d (align_corners=False, no scale given), float input:
  // area_pixel_compute_scale gives scale = float(in) / out in float; the source index is computed
  // in acc_type<float> = double: src = double(scale) * (dst + 0.5) - 0.5, clamped below at 0;
  // idx0 = int(src), idx1 = min(idx0 + 1, in - 1); lambda1 = float(src - idx0), lambda0 = 1 - lambda1.
  // The mel axis is unchanged (lambda 1/0 on the same column, exact). The kernel's
  // t0 * w0 + t1 * w1 is contracted to fma(t0, w0, t1 * w1) in the AVX2 build the reference
  // ran; with exactly this arithmetic the result is bit-identical to the golden channel 0.
  const float scale = static_cast<float>(in_frames) / static_cast<float>(out_frames);
  for (int o = 0; o < out_frames; ++o) {
    double src = static_cast<double>(scale) * (static_cast<double>(o) + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    const long i0 = std::min(static_cast<long>(src), static_cast<long>(in_frames - 1));
    const long i1 = i0 + (i0 < in_frames - 1 ? 1 : 0);
    const float l1 = static_cast<float>(std::min(std::max(src - static_cast<double>(i0), 0.0), 1.0));
    const float l0 = 1.0f - l1;
    const float* a = mel + static_cast<size_t>(i0) * mels;
    const float* b = mel + static_cast<size_t>(i1) * mels;
    float* dst = out.data() + static_cast<size_t>(o) * mels;
    for (int f = 0; f < mels; ++f) dst[f] = std::fma(a[f], l0, b[f] * l1);
  }
  return out;
}

MelFeatures MelExtractor::features(const float* samples, size_t n, const CropChoice& crops) const {
  if (n == 0) throw Error("empty audio clip");
  const size_t max_len = static_cast<size_t>(config_.nb_max_samples);
  const int chunk_frames = static_cast<int>(max_len / hop_) + 1;
  const size_t plane = static_cast<size_t>(chunk_frames) * mels_;

  MelFeatures f;
  f.frames = chunk_frames;
  f.mels = mels_;
  auto four_copies = [&](const std::vector<float>& mel) {
    f.channels = 4;
    f.data.resize(4 * plane);
    for (int c = 0; c < 4; ++c) std::copy(mel.begin(), mel.end(), f.data.begin() + c * plane);
  };

  if (n > max_len) {
    if (!fusion_) {
      // rand_trunc: waveform[idx : idx + max] with idx = np.random.randint(0, overflow + 1).
      const size_t overflow = n - max_len;
      size_t offset = overflow / 2;
      if (crops.rand_trunc_offset >= 0) {
        if (static_cast<size_t>(crops.rand_trunc_offset) > overflow)
          throw Error("feature extractor: rand_trunc crop offset " + std::to_string(crops.rand_trunc_offset) +
                      " out of range [0, " + std::to_string(overflow) + "]");
        offset = static_cast<size_t>(crops.rand_trunc_offset);
      }
      f.channels = 1;
      f.data = log_mel(samples + offset, max_len);
      f.is_longer = true;
      return f;
    }
    // fusion: mel of the whole clip, then crops.
    int total = 0;
    std::vector<float> mel = log_mel(samples, n, &total);
    // The reference flags this clip "not longer" when total == chunk_frames, but a single-clip
    // call with no longer clip then flags a random clip of the batch of 1: always true.
    f.is_longer = true;
    if (total == chunk_frames) {
      four_copies(mel);
      return f;
    }
    // np.array_split(range(0, total - chunk + 1), 3): the first (count % 3) parts get one more;
    // an empty middle/back part becomes [0].
    const int count = total - chunk_frames + 1;
    const int each = count / 3, extras = count % 3;
    int starts[3];
    int begin = 0;
    for (int r = 0; r < 3; ++r) {
      const int size = each + (r < extras ? 1 : 0);
      const int chosen = crops.fusion_starts[r];
      if (chosen >= 0) {
        if (chosen > total - chunk_frames)
          throw Error("feature extractor: fusion crop start " + std::to_string(chosen) + " out of range [0, " +
                      std::to_string(total - chunk_frames) + "]");
        starts[r] = chosen;
      } else {
        starts[r] = size == 0 ? 0 : begin + size / 2;
      }
      begin += size;
    }
    // Channel 0: the whole mel resized to chunk_frames rows (the reference asks for
    // size=[chunk_frames, 64], i.e. the mel axis unchanged for the 64-bin CLAP configs).
    f.channels = 4;
    f.data.resize(4 * plane);
    const std::vector<float> shrunk = resize_frames(mel.data(), total, chunk_frames, mels_);
    std::copy(shrunk.begin(), shrunk.end(), f.data.begin());
    for (int r = 0; r < 3; ++r) {
      const float* src = mel.data() + static_cast<size_t>(starts[r]) * mels_;
      std::copy(src, src + plane, f.data.begin() + (r + 1) * plane);
    }
    return f;
  }

  // Not longer than max: pad (np.tile / np.pad with zeros), then one mel.
  const float* wave = samples;
  std::vector<float> padded;
  if (n < max_len) {
    padded.assign(max_len, 0.0f);
    const size_t repeats = max_len / n;  // int(max_length / len(waveform))
    size_t filled = n;                   // plain zero padding
    if (config_.padding == "repeat")
      filled = max_len;  // np.tile(waveform, n_repeat + 1)[:max_length]
    else if (config_.padding == "repeatpad")
      filled = repeats * n;  // np.tile(waveform, n_repeat), then zeros
    for (size_t i = 0; i < filled; ++i) padded[i] = samples[i % n];
    wave = padded.data();
  }
  std::vector<float> mel = log_mel(wave, max_len);
  if (fusion_) {
    four_copies(mel);
    f.is_longer = true;  // single-clip call: the reference flags the only clip of the batch
  } else {
    f.channels = 1;
    f.data = std::move(mel);
    f.is_longer = false;
  }
  return f;
}

}  // namespace clap
