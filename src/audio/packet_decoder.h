// A stream's packets to decoded frames (internal to audio/: the whole decode in decode.cpp and
// the span decoder in decode_spans.cpp both decode through it, so both compute every sample the
// same way).
//
// Most codecs here forget everything a few frames back: a decoder flushed (as after a seek) and
// started a pre-roll before a span gives, bit for bit, what a decode from the stream's start
// gives there. Two do not, and for them the decoded signal is defined block by block, in every
// decode, as the resampled signal is (block_resampler.h):
// - Opus keeps recursive filter state without an end (de-emphasis, LPC synthesis): a decoder
//   started mid-stream reaches a whole decode's samples only to float rounding.
// - AAC's perceptual noise substitution draws from a random generator seeded when the decoder
//   opens (FFmpeg 5.1 aacdec_template.c: random_state set in aac_decode_init only; its flush
//   callback clears only the channels' overlap buffers), so noise bands depend on every noise
//   band decoded since the stream's start.
// Block k is the stream's samples [k*B, (k+1)*B) on its timestamps' timeline (samples at the
// header's rate). It is decoded by a newly opened decoder (a known fresh state: a new context,
// not a flushed one) fed the packets from the one holding k*B - P (the pre-roll P, or from the
// stream's first packet), and only its own samples are kept. A sample is then a pure function of
// the packets from its block's pre-roll on, computed the same way whether the stream was decoded
// from its start or from a span's block. See decode_blocks() for B and P and what they cost.
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
}

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "audio/decode_internal.h"

namespace clap::audio::detail {

// Block length and pre-roll in source samples (the header's rate).
struct DecodeBlocks {
  int64_t block = 0;
  int64_t preroll = 0;
};
// The blocks a stream of these parameters is decoded in, or nullopt (decoded continuously).
// Opus; AAC LC (the profiles measured; HE-AAC's SBR and PS, LTP and Main keep the continuous
// decode, and their spans are refused).
std::optional<DecodeBlocks> decode_blocks(const AVCodecParameters* par);

class PacketDecoder {
 public:
  // A decoded frame (already cut at an MP4's declared end, and at its block's end) whose samples
  // from `skip` on are the stream's next ones.
  using FrameSink = std::function<void(AVFrame* f, int skip)>;
  // A packet or frame that failed to decode (an AVERROR), told once per packet.
  using ErrorSink = std::function<void(int code)>;

  PacketDecoder(const std::string& path, OpenedAudio& o, FrameSink on_frame, ErrorSink on_error);
  PacketDecoder(const PacketDecoder&) = delete;
  PacketDecoder& operator=(const PacketDecoder&) = delete;
  ~PacketDecoder();

  bool blockwise() const { return blocks_.block > 0; }
  // Starts decoding (again) afresh: from the next packet given (nullopt: the stream's start), or
  // so that samples from timeline sample `from` on come out (blockwise: from the start of the
  // block holding it, with that block's pre-roll from the packets given before).
  void start(std::optional<int64_t> from);
  // Stops decoding until the next start; packets given meanwhile are only kept for a pre-roll.
  void pause();
  // The next packet of the stream, in order (the caller keeps it).
  void push(const AVPacket* p);
  // End of stream: the decoder's delayed frames.
  void finish();

 private:
  struct Held {
    AVPacket* pkt = nullptr;
    int64_t begin = 0, end = 0;  // timeline samples
    bool sent = false;           // decoded once (its errors told)
    bool first = false;          // the stream's first packet
  };
  int64_t timeline(int64_t ts) const;
  void open_fresh();
  void decode(Held& h);
  void send(const AVPacket* p);
  void drain();
  void on_decoded(AVFrame* f);
  void run_blocks();  // decodes block cur_ from its pre-roll over the held packets, and on

  const std::string& path_;
  OpenedAudio& o_;
  FrameSink on_frame_;
  ErrorSink on_error_;
  DecodeBlocks blocks_;
  AVCodecContext* dec_ = nullptr;  // blockwise: this block's decoder (continuous: o_.dec)
  AVFrame* frame_ = nullptr;
  std::deque<Held> held_;
  bool running_ = false, start_pending_ = false, used_ = false;
  bool continuous_ = false;  // blockwise, but the timestamps broke: decoded on, as one run
  bool switch_pending_ = false;
  bool report_ = true;  // errors of the packet being decoded are told
  int64_t cur_ = 0;     // the block decoded
  int64_t held_end_ts_ = 0;  // where the newest held packet ends (its time base)
  bool seen_first_ = false;
};

}  // namespace clap::audio::detail
