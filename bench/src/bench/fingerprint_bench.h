// How fast two acoustic fingerprints line up with each popcount kernel (search/fingerprint_match.h):
// `clapsearch bench --fingerprints`. The pair is two 3-minute fingerprints (1,450 items, as the
// project builds them: audio/fingerprint.h), a copy of one recording (b is a trimmed by 2 s with
// a few bits flipped), compared at every offset as `duplicates` and the sonic lists compare them.
// The kernels run in turn within one process, each the best of `repeat` timings of `pairs`
// alignments, so their ratio is measured under the same load; every kernel's match must be the
// portable one's, bit for bit (else the bench fails).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace clap {

struct FingerprintKernelRate {
  std::string kernel;   // "portable", "popcnt", "avx512"
  double ms_per_pair = 0;  // best of the repeats
  double speedup = 1;      // portable's ms_per_pair / this one's
};

struct FingerprintBenchReport {
  int items = 0;
  int pairs = 0, repeat = 0;
  std::string chosen;  // the kernel this machine uses (core/isa.h, CLAPSEARCH_ISA)
  std::vector<FingerprintKernelRate> kernels;  // those the CPU has, portable first
};

FingerprintBenchReport bench_fingerprints(int pairs, int repeat);

}  // namespace clap
