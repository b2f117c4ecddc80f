#include "audio/bandwidth.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "audio/decode.h"

namespace clap::audio {

namespace {

constexpr size_t kFftSize = 4096;

// In-place radix-2 FFT (kFftSize points).
void fft(std::vector<std::complex<double>>& a) {
  const size_t n = a.size();
  for (size_t i = 1, j = 0; i < n; ++i) {
    size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (size_t len = 2; len <= n; len <<= 1) {
    const double angle = -2 * M_PI / static_cast<double>(len);
    const std::complex<double> w(std::cos(angle), std::sin(angle));
    for (size_t i = 0; i < n; i += len) {
      std::complex<double> wk(1, 0);
      for (size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> u = a[i + k], v = a[i + k + len / 2] * wk;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
        wk *= w;
      }
    }
  }
}

struct EnoughDecoded {};

}  // namespace

Bandwidth measure_bandwidth(const std::string& path, double seconds) {
  const StreamFormat format = read_format(path);
  const int rate = std::clamp(format.sample_rate, 8000, 48000);
  const size_t wanted = static_cast<size_t>(seconds * rate);
  std::vector<float> samples;
  try {
    decode_stream(path, rate, [&](const float* x, size_t n) {
      samples.insert(samples.end(), x, x + std::min(n, wanted - samples.size()));
      if (samples.size() >= wanted) throw EnoughDecoded{};
    });
  } catch (const EnoughDecoded&) {
  }
  Bandwidth b;
  b.nyquist_hz = rate / 2.0;
  if (samples.size() < kFftSize) return b;
  // The mean power spectrum of Hann-windowed frames, half overlapping.
  std::vector<double> window(kFftSize), power(kFftSize / 2 + 1, 0.0);
  for (size_t i = 0; i < kFftSize; ++i) window[i] = 0.5 - 0.5 * std::cos(2 * M_PI * static_cast<double>(i) / kFftSize);
  std::vector<std::complex<double>> frame(kFftSize);
  for (size_t start = 0; start + kFftSize <= samples.size(); start += kFftSize / 2) {
    for (size_t i = 0; i < kFftSize; ++i) frame[i] = samples[start + i] * window[i];
    fft(frame);
    for (size_t k = 0; k < power.size(); ++k) power[k] += std::norm(frame[k]);
  }
  // Bands of kBandwidthBandHz: their mean power, in dB.
  const double bin_hz = static_cast<double>(rate) / kFftSize;
  const size_t bins_per_band = std::max<size_t>(1, static_cast<size_t>(kBandwidthBandHz / bin_hz));
  std::vector<double> band_db;
  for (size_t k = 1; k + bins_per_band <= power.size(); k += bins_per_band) {
    double sum = 0;
    for (size_t i = k; i < k + bins_per_band; ++i) sum += power[i];
    band_db.push_back(10 * std::log10(sum / static_cast<double>(bins_per_band) + 1e-30));
  }
  const auto band_of = [&](double hz) { return std::min(band_db.size(), static_cast<size_t>(hz / (bins_per_band * bin_hz))); };
  const auto mean_db = [&](size_t from, size_t to) {
    double sum = 0;
    for (size_t i = from; i < to; ++i) sum += std::pow(10.0, band_db[i] / 10);
    return to > from ? 10 * std::log10(sum / static_cast<double>(to - from) + 1e-30) : -300.0;
  };
  // The reference: the strongest of the mean level from 1 to 4 kHz and the loudest band (a tone
  // below 1 kHz is the whole content).
  const double reference = std::max(mean_db(band_of(1000), band_of(4000)), *std::max_element(band_db.begin(), band_db.end()) - 20);
  if (reference < -200) return b;  // digital silence
  size_t top = 0;
  for (size_t i = 0; i < band_db.size(); ++i)
    if (band_db[i] >= reference - kBandwidthRangeDb) top = i;
  b.cutoff_hz = static_cast<double>((top + 1) * bins_per_band) * bin_hz;
  // Content that ends low (a tone, a bass line) tells nothing about an encoder's low-pass, which
  // lies far above: a codec's noise alone could make another copy look wider.
  if (b.cutoff_hz < kMinTellingCutoffHz) return b;
  // Just below the cut-off: from 1.5 to 0.5 kHz under it.
  const size_t below_from = band_of(std::max(0.0, b.cutoff_hz - 1500)), below_to = band_of(std::max(0.0, b.cutoff_hz - 500));
  b.cliff = below_to > below_from && mean_db(below_from, below_to) >= reference - kCliffRangeDb;
  b.measured = true;
  return b;
}

}  // namespace clap::audio
