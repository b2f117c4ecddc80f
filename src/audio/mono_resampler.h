// Decoded frames to mono float at the target rate (internal to audio/: the whole decode in
// decode.cpp and the span decoder in decode_spans.cpp feed it, so both compute every sample
// the same way).
#pragma once
extern "C" {
#include <libavutil/frame.h>
}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audio/block_resampler.h"
#include "audio/decode.h"

namespace clap::audio::detail {

// Appends the frame's samples from `from` on, each the plain average of its channels, to `out`.
// The arithmetic is libswresample's for the same average (which made the mono before, so a
// source at the target rate gives the very samples it gave): integers scaled to [-1, 1) in
// float; one channel as is; two as a/2 + b/2; more summed in channel order from 0 with weight
// float(1/N); double formats in double, rounded to float at the end. Throws on a format
// no decoder gives.
void downmix(const std::string& path, const AVFrame* f, int from, std::vector<float>& out);

// Decoded frames (any sample format, rate, channel layout) -> mono float at target_rate:
// downmixed (above), then resampled block by block (block_resampler.h) when the rate differs.
// A "segment" is a run of frames at one rate: if a stream changes rate mid-way the segment is
// finished and a new one begins, its blocks counted from its own start. Each segment yields
// exactly round(in_samples * target / in_rate) output samples.
class MonoResampler {
 public:
  // first_block: where the output begins, for the span decoder: the first segment's input then
  // starts at BlockResampler::input_begin(first_block) (not at the stream's start) and its output
  // at first_block * target_rate. 0 for a whole decode. Unused for a source at the target rate.
  MonoResampler(const std::string& path, int target_rate, const SampleSink& sink, int64_t first_block = 0)
      : path_(path), target_(target_rate), sink_(sink), first_block_(first_block) {}

  // The frame's samples from `skip` on.
  void feed(const AVFrame* f, int skip = 0);
  // Finishes the current segment (end of stream or rate change): its last blocks, cut at its end.
  void finish();

  std::string engine = "none";  // "soxr" once a segment resamples
  int64_t source_samples = 0;
  int64_t output_samples = 0;

 private:
  void run_blocks(bool at_end);
  void emit(const float* p, size_t n);
  void check_numbers(const float* p, size_t n) const;  // throws on NaN or infinity, naming the file

  const std::string& path_;
  const int target_;
  const SampleSink& sink_;
  int64_t first_block_;
  int in_rate_ = 0;                         // the segment's rate (0: no segment yet)
  std::optional<BlockResampler> blocks_;    // the segment resamples
  std::vector<float> pending_;              // downmixed input not yet resampled
  int64_t pending_begin_ = 0;               // its first sample's index in the segment
  int64_t next_block_ = 0;                  // the segment's next block to deliver
  std::vector<float> mono_, out_;
};

}  // namespace clap::audio::detail
