// Comparing two acoustic fingerprints (audio/fingerprint.h makes them): along every constant
// offset (a trim or silence added in front shifts the content), the share of differing bits;
// the best offset's share is the pair's bit error rate. A re-encode keeps almost every bit,
// another piece of music flips about half of them.
#pragma once
#include <cstdint>
#include <vector>

namespace clap::search {

// How two fingerprints line up at their best constant offset.
struct FingerprintMatch {
  bool measurable = false;    // both long enough and an offset with enough overlap exists
  double bit_error_rate = 0.5;  // share of differing bits over the overlap at the best offset
  int offset_items = 0;       // a's item i is b's item i + offset_items (times the item duration: seconds)
  int overlap = 0;            // items compared at that offset
};

// How much a fingerprint changes over about a second: the share of bits that differ between
// items kVariationLagItems apart. Music changes 0.29-0.46 (the test songs), noise ~0.3; a steady
// tone not at all: its chroma is the same every moment, and two tones of one pitch class (440
// and 880 Hz) have the same fingerprint. Such a fingerprint cannot tell recordings apart.
inline constexpr int kVariationLagItems = 8;
inline constexpr double kMinVariation = 0.1;
double fingerprint_variation(const std::vector<uint32_t>& items);  // 0 when shorter than the lag

// Compares `a` with `b` at every offset where they overlap by at least `min_overlap` (a share
// of the shorter fingerprint, and never fewer than kMinOverlapItems items). Not measurable when
// either is too short or varies less than kMinVariation (a steady tone).
inline constexpr int kMinOverlapItems = 40;  // ~5 s
FingerprintMatch match_fingerprints(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b,
                                    double min_overlap);

// The bits that differ between a[0, n) and b[0, n): std::popcount of each pair's xor, summed.
// The sum is an integer, so every kernel gives the same one; they differ in speed only (two
// 3-minute fingerprints, every offset: docs/performance.md, "Fingerprint line-up"). Portable is
// std::popcount as the baseline build compiles it (x86-64 has no POPCNT instruction: a library
// call per item); Popcnt the same loop compiled for the POPCNT instruction, 64 bits at a time;
// Avx512 VPOPCNTQ, 512 bits at a time (AVX512-VPOPCNTDQ: Ice Lake, Zen 4 and later).
enum class PopcountKernel { Portable, Popcnt, Avx512 };
const char* popcount_kernel_name(PopcountKernel kernel);  // "portable", "popcnt", "avx512"
// Whether this CPU runs `kernel` (Portable: always).
bool popcount_kernel_available(PopcountKernel kernel);
// The best kernel the CPU has within the kernel set core/isa.h allows (CLAPSEARCH_ISA): Avx512
// at the avx512 level, Popcnt at avx2 (every AVX2 CPU has POPCNT), Portable at baseline.
PopcountKernel popcount_kernel();
int64_t differing_bits(const uint32_t* a, const uint32_t* b, int64_t n, PopcountKernel kernel);

// match_fingerprints with a given kernel (tests and the measurement compare them; the result
// is the same with each).
FingerprintMatch match_fingerprints(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, double min_overlap,
                                    PopcountKernel kernel);

// The same recording: at most this share of bits differs at the best offset. Measured on real
// files (tests/audio/fingerprint_test.cpp, 45 s songs as FLAC against MP3 128k, AAC, Opus 96k,
// 22.05 kHz mono, 2 s trimmed, faded, 3 s of silence in front): copies 0.000-0.078, different
// songs 0.379 and above; the bound sits between them.
inline constexpr double kSameRecordingBitErrorRate = 0.25;

}  // namespace clap::search
