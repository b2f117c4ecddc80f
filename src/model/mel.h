// Log-mel feature extractor equal to Hugging Face transformers 4.38 `ClapFeatureExtractor`
// (audio_utils.spectrogram + mel_filter_bank + _get_input_mel), for one clip at a time.
//
// Pipeline (float64 unless noted): periodic Hann window, centre reflect padding of N/2,
// real FFT of size N = fft_window_size (own radix-2 implementation), the complex result
// rounded to complex64 like the reference, |X|^2, sparse mel filter bank, floor 1e-10,
// 10*log10, cast to float32. `truncation == "fusion"` uses the HTK bank without
// normalisation; `"rand_trunc"` the slaney bank with slaney normalisation.
//
// Where the reference draws random numbers (rand_trunc crop offset, fusion crop starts)
// the caller chooses through CropChoice; the default is deterministic (centre choices).
//
// `top_db` from preprocessor_config.json is parsed but, exactly like the reference
// (whose _np_extract_fbank_features never passes it to spectrogram()), not applied.
//
// All const methods are thread-safe (no shared mutable state; scratch is per call).
#pragma once
#include <cstddef>
#include <vector>

#include "model/config.h"

namespace clap {

// Deterministic choices where the reference draws random numbers.
struct CropChoice {
  long rand_trunc_offset = -1;          // sample offset of the 10 s crop; -1 = centre: (len - max)/2
  int fusion_starts[3] = {-1, -1, -1};  // start frames of front/middle/back crops; -1 = middle element of each third range
};

struct MelFeatures {
  int channels = 1;   // 1 (rand_trunc) or 4 (fusion)
  int frames = 1001;  // nb_max_samples / hop + 1
  int mels = 64;
  std::vector<float> data;  // channels x frames x mels, row-major, float32 dB
  bool is_longer = false;   // what the reference gives for this clip processed alone (fusion: always true; rand_trunc: len > nb_max_samples)
};

class MelExtractor {
 public:
  // Throws clap::Error when fft_window_size is not a power of two (>= 2), or on an
  // unsupported truncation mode.
  explicit MelExtractor(const FeatureConfig& config);

  const FeatureConfig& config() const { return config_; }
  bool fusion() const { return fusion_; }
  // Mel bank in use: nb_frequency_bins x feature_size, row-major, float64
  // (equals the reference's mel_filters / mel_filters_slaney).
  const std::vector<double>& filters() const { return filters_; }

  // Number of frames log_mel() gives for n samples: 1 + n / hop.
  size_t num_frames(size_t n) const { return 1 + n / static_cast<size_t>(config_.hop_length); }

  // Log-mel of a whole waveform: frames x mels float32 (the reference's _np_extract_fbank_features).
  // Throws clap::Error on an empty waveform.
  std::vector<float> log_mel(const float* samples, size_t n, int* frames_out = nullptr) const;

  // The reference processor for ONE clip (repeatpad/repeat/zero pad, rand_trunc crop or
  // fusion crops + bilinear-resized whole clip). Throws clap::Error on an empty clip or
  // an out-of-range crop choice.
  MelFeatures features(const float* samples, size_t n, const CropChoice& crops = {}) const;

  // torch.nn.functional.interpolate(mode="bilinear", align_corners=False) of an
  // in_frames x mels float32 image to out_frames x mels (the mel axis is unchanged), with
  // the arithmetic of PyTorch's CPU kernel (double source index, float weights, fma).
  static std::vector<float> resize_frames(const float* mel, int in_frames, int out_frames, int mels);

 private:
  void fft_frame(double* re, double* im, double* power) const;  // in: bit-reversed packed frame

  FeatureConfig config_;
  bool fusion_ = false;
  int n_fft_ = 0, half_ = 0, bins_ = 0, mels_ = 0, hop_ = 0;
  std::vector<double> window_;   // n_fft
  std::vector<double> filters_;  // bins x mels (dense, for filters())
  // Sparse bank: filter m covers bins [band_first_[m], band_first_[m] + band_len_[m]),
  // weights at band_offset_[m] in band_weights_.
  std::vector<int> band_first_, band_len_, band_offset_;
  std::vector<double> band_weights_;
  // Complex FFT of size half_ (radix-2, decimation in time).
  std::vector<int> bitrev_;                  // half_
  std::vector<double> stage_re_, stage_im_;  // per-stage twiddles, contiguous, half_ - 1 total
  std::vector<double> post_re_, post_im_;    // exp(-2 pi i k / n_fft), k = 0..half_
};

}  // namespace clap
