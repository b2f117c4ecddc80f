#include "audio/packet_decoder.h"
#include "audio/ffmpeg_library.h"

#include <algorithm>

namespace clap::audio::detail {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

std::optional<DecodeBlocks> decode_blocks(const AVCodecParameters* par) {
  if (par->sample_rate <= 0) return std::nullopt;
  const int64_t rate = par->sample_rate;
  const bool opus = par->codec_id == AV_CODEC_ID_OPUS;
  const bool aac_lc = par->codec_id == AV_CODEC_ID_AAC && par->profile == FF_PROFILE_AAC_LOW;
  if (!opus && !aac_lc) return std::nullopt;
  // B = 4 s: a span costs its blocks (a 10 s window about 14 s of decoding) and a whole decode
  // P / B more. P = 0.4 s: measured, an Opus decoder started 400 ms back reaches a continuous
  // decode's samples to 1.6e-7; AAC LC needs 2 frames (2,048 samples: the overlap) and its noise
  // bands are noise whatever P is.
  // An Opus decoder opened afresh drops the stream's pre-skip (OpusHead, `initial_padding`) from
  // the first samples it decodes, wherever it starts: the pre-roll holds it besides its 0.4 s.
  // Without it a pre-skip past 0.4 s (up to 1.37 s is valid, RFC 7845) ate the start of every
  // block: a 12 s file with a 1 s pre-skip decoded to 9.2 s where FFmpeg gives 11.0 s (H9C-4).
  const int64_t padding = opus ? std::max<int64_t>(par->initial_padding, 0) : 0;
  return DecodeBlocks{4 * rate, rate * 2 / 5 + padding};
}

PacketDecoder::PacketDecoder(const std::string& path, OpenedAudio& o, FrameSink on_frame, ErrorSink on_error)
    : path_(path), o_(o), on_frame_(std::move(on_frame)), on_error_(std::move(on_error)) {
  if (auto b = decode_blocks(o.stream->codecpar)) blocks_ = *b;
  frame_ = CLAP_MEDIA(av_frame_alloc)();
  if (!frame_) fail(path, "out of memory");
  if (!blockwise()) dec_ = o.dec.p;
}

PacketDecoder::~PacketDecoder() {
  for (Held& h : held_) CLAP_MEDIA_RELEASE(av_packet_free)(&h.pkt);
  CLAP_MEDIA_RELEASE(av_frame_free)(&frame_);
  if (blockwise()) CLAP_MEDIA_RELEASE(avcodec_free_context)(&dec_);
}

int64_t PacketDecoder::timeline(int64_t ts) const {
  return CLAP_MEDIA(av_rescale_q_rnd)(ts, o_.stream->time_base, AVRational{1, o_.stream->codecpar->sample_rate}, AV_ROUND_NEAR_INF);
}

// A newly opened decoder: every state (overlap, filters, AAC's noise generator) as at the
// stream's start. Opened as open_audio opens the first (single-threaded, the stream's time base).
void PacketDecoder::open_fresh() {
  CLAP_MEDIA_RELEASE(avcodec_free_context)(&dec_);
  const AVCodec* codec = CLAP_MEDIA(avcodec_find_decoder)(o_.stream->codecpar->codec_id);
  if (!codec) fail(path_, "no decoder for audio codec '" + std::string(CLAP_MEDIA(avcodec_get_name)(o_.stream->codecpar->codec_id)) + "'");
  dec_ = CLAP_MEDIA(avcodec_alloc_context3)(codec);
  if (!dec_) fail(path_, "out of memory");
  int r = CLAP_MEDIA(avcodec_parameters_to_context)(dec_, o_.stream->codecpar);
  if (r < 0) fail(path_, "bad codec parameters: " + av_error(r));
  dec_->thread_count = 1;
  dec_->pkt_timebase = o_.stream->time_base;
  r = CLAP_MEDIA(avcodec_open2)(dec_, codec, nullptr);
  if (r < 0) fail(path_, std::string("cannot open ") + codec->name + " decoder: " + av_error(r));
}

void PacketDecoder::start(std::optional<int64_t> from) {
  running_ = true;
  if (!blockwise()) {
    if (used_) CLAP_MEDIA(avcodec_flush_buffers)(dec_);  // as after a seek
    used_ = true;
    return;
  }
  if (continuous_) {
    if (!dec_) open_fresh();
    return;
  }
  if (!from) {
    start_pending_ = true;  // the block of the next packet, from that packet
    return;
  }
  cur_ = floor_div(*from, blocks_.block);
  run_blocks();
}

void PacketDecoder::pause() {
  running_ = false;
  start_pending_ = false;
  if (blockwise() && !continuous_) CLAP_MEDIA_RELEASE(avcodec_free_context)(&dec_);
}

void PacketDecoder::push(const AVPacket* p) {
  if (!blockwise()) {
    if (running_) {
      report_ = true;
      send(p);
    }
    return;
  }
  // Blocks are laid on the packets' timestamps: packets without them, or not contiguous, are
  // decoded on as one run (the span decoder refuses such a stream).
  const bool timed = p->pts != AV_NOPTS_VALUE && p->duration > 0 && (held_.empty() || p->pts == held_end_ts_);
  if (!continuous_ && !timed) {
    continuous_ = true;
    for (Held& h : held_) CLAP_MEDIA_RELEASE(av_packet_free)(&h.pkt);
    held_.clear();
  }
  if (continuous_) {
    if (start_pending_) start_pending_ = false;
    if (running_) {
      if (!dec_) open_fresh();
      report_ = true;
      send(p);
    }
    return;
  }
  Held h;
  h.pkt = CLAP_MEDIA(av_packet_clone)(p);
  if (!h.pkt) fail(path_, "out of memory");
  h.begin = timeline(p->pts);
  h.end = timeline(p->pts + p->duration);
  held_end_ts_ = p->pts + p->duration;
  if (held_.empty() && !seen_first_) h.first = true;
  seen_first_ = true;
  held_.push_back(h);
  // Kept: every packet a block starting from here on may pre-roll over (a start is at most one
  // block behind the newest packet).
  const int64_t keep_from = (floor_div(held_.back().begin, blocks_.block) - 1) * blocks_.block - blocks_.preroll;
  while (held_.size() > 1 && held_.front().end <= keep_from) {
    CLAP_MEDIA_RELEASE(av_packet_free)(&held_.front().pkt);
    held_.pop_front();
  }
  if (start_pending_) {
    start_pending_ = false;
    cur_ = floor_div(held_.back().begin, blocks_.block);
    run_blocks();
    return;
  }
  if (!running_) return;
  decode(held_.back());
  if (switch_pending_) {
    ++cur_;
    run_blocks();
  }
}

void PacketDecoder::finish() {
  if (!running_) return;
  report_ = true;
  if (!blockwise() || continuous_) {
    if (dec_) send(nullptr);
    return;
  }
  for (;;) {
    switch_pending_ = false;
    send(nullptr);
    if (!switch_pending_) return;
    ++cur_;
    run_blocks();
  }
}

void PacketDecoder::run_blocks() {
  for (;;) {
    switch_pending_ = false;
    open_fresh();
    const int64_t from = cur_ * blocks_.block - blocks_.preroll;
    // The packet holding the pre-roll's start must be held (or the stream start from the first).
    if (!held_.empty() && held_.front().begin > from && !held_.front().first)
      fail(path_, "internal error: a block's pre-roll is no longer held");
    bool switched = false;
    for (Held& h : held_) {
      if (h.end <= from) continue;
      decode(h);
      if (switch_pending_) {
        switched = true;
        break;
      }
    }
    if (!switched) return;
    ++cur_;
  }
}

void PacketDecoder::decode(Held& h) {
  report_ = !h.sent;
  h.sent = true;
  send(h.pkt);
}

void PacketDecoder::send(const AVPacket* p) {
  for (;;) {
    const int r = CLAP_MEDIA(avcodec_send_packet)(dec_, p);
    if (r == AVERROR(EAGAIN)) {  // output pending: take it, then resend
      drain();
      if (switch_pending_) return;
      continue;
    }
    if (r < 0 && r != AVERROR_EOF && report_) on_error_(r);  // the packet is consumed: skipped
    drain();
    return;
  }
}

void PacketDecoder::drain() {
  for (;;) {
    const int r = CLAP_MEDIA(avcodec_receive_frame)(dec_, frame_);
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
    if (r < 0) {
      if (report_) on_error_(r);
      return;
    }
    on_decoded(frame_);
    CLAP_MEDIA_RELEASE(av_frame_unref)(frame_);
    if (switch_pending_) return;  // this decoder's block is whole: the next block's takes over
  }
}

void PacketDecoder::on_decoded(AVFrame* f) {
  if (!cut_at_end(o_, f)) return;
  if (!blockwise() || continuous_ || f->nb_samples <= 0) return on_frame_(f, 0);
  if (f->pts == AV_NOPTS_VALUE || f->sample_rate != o_.stream->codecpar->sample_rate) {
    // The frames do not lie on the timeline the blocks are laid on: decoded on as one run.
    continuous_ = true;
    return on_frame_(f, 0);
  }
  const int64_t at = timeline(f->pts), end = at + f->nb_samples;
  const int64_t lo = cur_ * blocks_.block, hi = lo + blocks_.block;
  if (end > lo && at < hi) {
    const int whole = f->nb_samples;
    f->nb_samples = int(std::min(end, hi) - at);
    on_frame_(f, int(std::max<int64_t>(0, lo - at)));
    f->nb_samples = whole;
  }
  if (end > hi) switch_pending_ = true;
}

}  // namespace clap::audio::detail
