// A file's effective bandwidth: the highest frequency its audio really holds, measured from a
// few seconds of it. A lossy encoder low-passes (an MP3 at 128 kb/s stops near 16 kHz), and a
// lossless file made from such a copy keeps that cut-off although its header says 44.1 kHz: the
// header alone cannot tell the better of two copies of one recording (service/duplicates.h).
#pragma once
#include <string>

namespace clap::audio {

struct Bandwidth {
  // The highest frequency (Hz) whose level is within kBandwidthRangeDb of the reference level
  // (the mean level from 1 to 4 kHz), in bands of kBandwidthBandHz.
  double cutoff_hz = 0;
  // A cliff: the band just below the cut-off holds real content (within kCliffRangeDb of the
  // reference), so the audio stops there abruptly, as a lossy encoder's low-pass makes it, not
  // as music or a test tone fades out.
  bool cliff = false;
  double nyquist_hz = 0;  // half the rate the audio was measured at
  bool measured = false;  // false: too short, silent, or content ending below kMinTellingCutoffHz
};

inline constexpr double kBandwidthBandHz = 250;
inline constexpr double kBandwidthRangeDb = 70;
inline constexpr double kCliffRangeDb = 40;
inline constexpr double kMinTellingCutoffHz = 4000;

// Decodes at most `seconds` of the file (from its start) at its own sample rate (at most 48 kHz)
// and measures its averaged spectrum. Deterministic: the same file gives the same answer.
// Throws clap::Error("<path>: <reason>") when the file cannot be decoded.
Bandwidth measure_bandwidth(const std::string& path, double seconds = 12);

}  // namespace clap::audio
