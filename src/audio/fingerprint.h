// Acoustic fingerprints (Chromaprint), computed by the indexer from the audio it decodes anyway:
// the model-independent test of "the same recording" that `duplicates` decides by
// (search/fingerprint_match.h compares two).
//
// A fingerprint is Chromaprint's raw fingerprint of the first kFingerprintSeconds of a track:
// one 32-bit item per ~0.124 s, each bit the sign of a filter over the chroma (pitch-class
// energy) of that moment. A re-encode (MP3, AAC, Opus, another sample rate or channel count)
// keeps almost every bit; another piece of music flips about half of them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace clap::audio {

// How much of a track is fingerprinted: enough to tell recordings apart (AcoustID uses the
// first 120 s too), and ~4 KB per track in the index.
inline constexpr double kFingerprintSeconds = 120.0;

// Duration of one fingerprint item, in seconds (Chromaprint's default algorithm).
double fingerprint_item_seconds();

// Fingerprints one stream of mono samples fed in chunks (the indexer's decoded audio); samples
// past kFingerprintSeconds are ignored. Not copyable; one per thread.
class Fingerprinter {
 public:
  explicit Fingerprinter(int sample_rate);  // throws clap::Error when Chromaprint refuses it
  ~Fingerprinter();
  Fingerprinter(const Fingerprinter&) = delete;
  Fingerprinter& operator=(const Fingerprinter&) = delete;

  void feed(const float* samples, size_t n);
  // The raw fingerprint (empty when the audio was too short for one item). Call once.
  std::vector<uint32_t> finish();
  // Starts again from nothing (the indexer decodes a quiet track twice).
  void restart();

 private:
  struct Context;
  std::unique_ptr<Context> c_;
  int sample_rate_;
  size_t fed_ = 0, limit_;
  std::vector<int16_t> pcm_;
};

// The fingerprint of a file's first kFingerprintSeconds, decoded at `sample_rate` (what the
// indexer computes for tracks indexed before fingerprints were stored). Throws clap::Error
// "<path>: <reason>" when the file cannot be decoded.
std::vector<uint32_t> fingerprint_file(const std::string& path, int sample_rate);

}  // namespace clap::audio
