#include "audio/transcode.h"
#include "audio/ffmpeg_library.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <memory>
#include <vector>

#include "audio/ffmpeg_input.h"
#include "core/error.h"

namespace clap::audio {

using detail::av_error;
using detail::check_source_format;

int transcode_kbps(TranscodeFormat format, int kbps) {
  if (format == TranscodeFormat::Mp3) return kbps <= 0 ? kDefaultMp3Kbps : std::clamp(kbps, 32, 320);
  return kbps <= 0 ? kDefaultOpusKbps : std::clamp(kbps, 6, 256);
}

const char* transcode_content_type(TranscodeFormat format) { return format == TranscodeFormat::Mp3 ? "audio/mpeg" : "audio/ogg"; }
const char* transcode_suffix(TranscodeFormat format) { return format == TranscodeFormat::Mp3 ? "mp3" : "opus"; }

namespace {

struct SwrFree {
  void operator()(SwrContext* s) const { CLAP_MEDIA_RELEASE(swr_free)(&s); }
};
struct FifoFree {
  void operator()(AVAudioFifo* f) const { CLAP_MEDIA_RELEASE(av_audio_fifo_free)(f); }
};
using detail::Codec;
using detail::Frame;
using detail::Packet;

// The muxer's output: an AVIOContext whose writes go to the sink. When the sink refuses (the
// client is gone), every further write fails, so the muxer and our loop stop.
class SinkOutput {
 public:
  explicit SinkOutput(const std::string& name) {
    constexpr int kBuffer = 32 << 10;
    auto* buffer = static_cast<unsigned char*>(CLAP_MEDIA(av_malloc)(kBuffer));
    if (!buffer) throw Error(name + ": out of memory");
    io_ = CLAP_MEDIA(avio_alloc_context)(buffer, kBuffer, 1, this, nullptr, &SinkOutput::write, nullptr);
    if (!io_) {
      CLAP_MEDIA_RELEASE(av_free)(buffer);
      throw Error(name + ": out of memory");
    }
  }
  ~SinkOutput() {
    if (io_) {
      CLAP_MEDIA_RELEASE(av_freep)(&io_->buffer);
      CLAP_MEDIA_RELEASE(avio_context_free)(&io_);
    }
  }
  AVIOContext* io() const { return io_; }
  bool stopped() const { return stopped_; }
  void set_sink(const ByteSink* sink) { sink_ = sink; }

 private:
#if LIBAVFORMAT_VERSION_MAJOR >= 61
  static int write(void* opaque, const uint8_t* buf, int size) {
#else
  static int write(void* opaque, uint8_t* buf, int size) {
#endif
    auto* self = static_cast<SinkOutput*>(opaque);
    if (self->stopped_ || !self->sink_ || !(*self->sink_)(buf, static_cast<size_t>(size))) {
      self->stopped_ = true;
      return AVERROR(EPIPE);
    }
    return size;
  }
  const ByteSink* sink_ = nullptr;
  AVIOContext* io_ = nullptr;
  bool stopped_ = false;
};

struct OutputFree {
  void operator()(AVFormatContext* f) const { CLAP_MEDIA_RELEASE(avformat_free_context)(f); }
};

}  // namespace

struct Transcoder::Impl {
 public:
  Impl(int fd, const std::string& name, const TranscodeOptions& o) : name_(name), options_(o), input_(fd, name), output_(name) {
    open_decoder();
    open_encoder();
  }

  bool run(const ByteSink& sink) {
    if (ran_) throw Error(name_ + ": a transcode runs once");
    ran_ = true;
    output_.set_sink(&sink);
    open_muxer();
    if (options_.start_s > 0) seek();
    Packet pkt(CLAP_MEDIA(av_packet_alloc)());
    Frame frame(CLAP_MEDIA(av_frame_alloc)());
    if (!pkt || !frame) fail("out of memory");
    AVFormatContext* in = input_.get();
    for (;;) {
      const int r = CLAP_MEDIA(av_read_frame)(in, pkt.get());
      if (r == AVERROR_EOF) break;
      if (r < 0) {
        if (r == AVERROR(EIO) || r == AVERROR(EAGAIN)) fail("read error: " + av_error(r));
        break;  // a damaged tail: end the output where the readable audio ends
      }
      if (pkt->stream_index == stream_ && CLAP_MEDIA(avcodec_send_packet)(dec_.get(), pkt.get()) >= 0) {
        if (!drain_decoder(frame.get())) return false;
      }
      CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.get());
      if (output_.stopped()) return false;
    }
    CLAP_MEDIA(avcodec_send_packet)(dec_.get(), nullptr);
    if (!drain_decoder(frame.get())) return false;
    // The resampler's tail, then what the FIFO holds, then the encoder's own delay.
    if (!convert(nullptr, 0)) return false;
    if (!encode_fifo(true)) return false;
    if (!encode(nullptr)) return false;
    if (CLAP_MEDIA(av_write_trailer)(out_.get()) < 0 || output_.stopped()) return !output_.stopped();
    CLAP_MEDIA(avio_flush)(output_.io());
    return !output_.stopped();
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw Error(name_ + ": " + why); }

  void open_decoder() {
    AVFormatContext* in = input_.get();
    const AVCodec* codec = nullptr;
    stream_ = CLAP_MEDIA(av_find_best_stream)(in, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (stream_ < 0 || !codec) fail("no audio stream that can be decoded");
    const AVCodecParameters* par = in->streams[stream_]->codecpar;
    check_source_format(name_, par->sample_rate, par->ch_layout.nb_channels,
                        std::max(par->bits_per_raw_sample, par->bits_per_coded_sample), "the header");
    dec_.reset(CLAP_MEDIA(avcodec_alloc_context3)(codec));
    if (!dec_) fail("out of memory");
    if (CLAP_MEDIA(avcodec_parameters_to_context)(dec_.get(), in->streams[stream_]->codecpar) < 0) fail("bad codec parameters");
    dec_->thread_count = 1;
    dec_->pkt_timebase = in->streams[stream_]->time_base;
    if (const int r = CLAP_MEDIA(avcodec_open2)(dec_.get(), codec, nullptr); r < 0) fail("cannot open the decoder: " + av_error(r));
  }

  void open_encoder() {
    const bool mp3 = options_.format == TranscodeFormat::Mp3;
    const AVCodec* codec = CLAP_MEDIA(avcodec_find_encoder_by_name)(mp3 ? "libmp3lame" : "libopus");
    if (!codec) fail(std::string("this FFmpeg has no ") + (mp3 ? "libmp3lame" : "libopus") + " encoder");
    enc_.reset(CLAP_MEDIA(avcodec_alloc_context3)(codec));
    if (!enc_) fail("out of memory");
    const int in_channels = std::max(1, dec_->ch_layout.nb_channels);
    CLAP_MEDIA(av_channel_layout_default)(&enc_->ch_layout, std::min(in_channels, 2));
    // MP3: the source's rate when it is one of MPEG-1's (no resampling), else 44.1 kHz; the
    // lower MPEG-2 rates cap the bit rate at 160 kbit/s, and the rate asked for must hold (an
    // announced length is computed from it). Opus is defined at 48 kHz.
    int rate = 48000;
    if (mp3) rate = dec_->sample_rate == 32000 || dec_->sample_rate == 48000 ? dec_->sample_rate : 44100;
    enc_->sample_rate = rate;
    enc_->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    for (const AVSampleFormat* f = codec->sample_fmts; f && *f != AV_SAMPLE_FMT_NONE; ++f)
      if (*f == AV_SAMPLE_FMT_FLTP || *f == AV_SAMPLE_FMT_FLT) enc_->sample_fmt = *f;
    enc_->bit_rate = int64_t{transcode_kbps(options_.format, options_.bit_rate_kbps)} * 1000;
    enc_->time_base = AVRational{1, rate};
    AVDictionary* opts = nullptr;
    if (!mp3 && options_.constant_bit_rate) CLAP_MEDIA(av_dict_set)(&opts, "vbr", "off", 0);
    const int r = CLAP_MEDIA(avcodec_open2)(enc_.get(), codec, &opts);
    CLAP_MEDIA_RELEASE(av_dict_free)(&opts);
    if (r < 0) fail("cannot open the encoder: " + av_error(r));
    frame_size_ = enc_->frame_size > 0 ? enc_->frame_size : 1152;
    fifo_.reset(CLAP_MEDIA(av_audio_fifo_alloc)(enc_->sample_fmt, enc_->ch_layout.nb_channels, frame_size_ * 4));
    if (!fifo_) fail("out of memory");
  }

  void open_muxer() {
    const bool mp3 = options_.format == TranscodeFormat::Mp3;
    AVFormatContext* out = nullptr;
    if (CLAP_MEDIA(avformat_alloc_output_context2)(&out, nullptr, mp3 ? "mp3" : "ogg", nullptr) < 0 || !out) fail("no muxer");
    out_.reset(out);
    out->pb = output_.io();
    out->flags |= AVFMT_FLAG_CUSTOM_IO;
    AVStream* st = CLAP_MEDIA(avformat_new_stream)(out, nullptr);
    if (!st) fail("out of memory");
    if (CLAP_MEDIA(avcodec_parameters_from_context)(st->codecpar, enc_.get()) < 0) fail("bad encoder parameters");
    st->time_base = enc_->time_base;
    AVDictionary* opts = nullptr;
    // The output is a stream: no header rewritten at the end (it cannot seek back).
    if (mp3) CLAP_MEDIA(av_dict_set)(&opts, "write_xing", "0", 0);
    const int r = CLAP_MEDIA(avformat_write_header)(out, &opts);
    CLAP_MEDIA_RELEASE(av_dict_free)(&opts);
    if (r < 0) {
      if (output_.stopped()) throw Stopped{};
      fail("cannot start the output: " + av_error(r));
    }
  }

  void seek() {
    AVFormatContext* in = input_.get();
    const AVRational tb = in->streams[stream_]->time_base;
    const int64_t target = CLAP_MEDIA(av_rescale_q)(static_cast<int64_t>(options_.start_s * AV_TIME_BASE), AV_TIME_BASE_Q, tb);
    // When the container cannot seek, decoding from the start and dropping what comes before
    // the offset (in drain_decoder) gives the same output, only later.
    if (CLAP_MEDIA(av_seek_frame)(in, stream_, target, AVSEEK_FLAG_BACKWARD) >= 0) CLAP_MEDIA(avcodec_flush_buffers)(dec_.get());
  }

  // Decoded frames to the resampler, dropping what lies before the start offset.
  bool drain_decoder(AVFrame* frame) {
    for (;;) {
      const int r = CLAP_MEDIA(avcodec_receive_frame)(dec_.get(), frame);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return true;
      if (r < 0) return true;  // a corrupt frame: skipped
      int skip = 0;
      if (options_.start_s > 0 && frame->sample_rate > 0) {
        const AVRational tb = input_.get()->streams[stream_]->time_base;
        double at = position_s_;
        if (frame->best_effort_timestamp != AV_NOPTS_VALUE) at = double(frame->best_effort_timestamp) * av_q2d(tb);
        position_s_ = at + double(frame->nb_samples) / frame->sample_rate;
        if (position_s_ <= options_.start_s) {
          CLAP_MEDIA_RELEASE(av_frame_unref)(frame);
          continue;
        }
        if (at < options_.start_s) skip = std::min(frame->nb_samples, int((options_.start_s - at) * frame->sample_rate));
      }
      const bool ok = feed(frame, skip);
      CLAP_MEDIA_RELEASE(av_frame_unref)(frame);
      if (!ok) return false;
    }
  }

  bool feed(const AVFrame* f, int skip) {
    if (!swr_ || f->sample_rate != in_rate_ || f->format != in_format_ || CLAP_MEDIA(av_channel_layout_compare)(&f->ch_layout, &in_layout_) != 0) {
      if (swr_ && !convert(nullptr, 0)) return false;  // the old segment's tail first
      CLAP_MEDIA_RELEASE(av_channel_layout_uninit)(&in_layout_);
      if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) CLAP_MEDIA(av_channel_layout_default)(&in_layout_, f->ch_layout.nb_channels);
      else if (CLAP_MEDIA(av_channel_layout_copy)(&in_layout_, &f->ch_layout) < 0) fail("out of memory");
      in_rate_ = f->sample_rate;
      in_format_ = f->format;
      SwrContext* s = nullptr;
      if (CLAP_MEDIA(swr_alloc_set_opts2)(&s, &enc_->ch_layout, enc_->sample_fmt, enc_->sample_rate, &in_layout_,
                              static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr) < 0 ||
          CLAP_MEDIA(swr_init)(s) < 0) {
        CLAP_MEDIA_RELEASE(swr_free)(&s);
        fail("cannot create the resampler");
      }
      swr_.reset(s);
    }
    const auto format = static_cast<AVSampleFormat>(f->format);
    const bool planar = CLAP_MEDIA(av_sample_fmt_is_planar)(format);
    const int planes = planar ? f->ch_layout.nb_channels : 1;
    const int64_t stride = int64_t{CLAP_MEDIA(av_get_bytes_per_sample)(format)} * (planar ? 1 : f->ch_layout.nb_channels);
    in_planes_.assign(size_t(planes), nullptr);
    for (int p = 0; p < planes; ++p) in_planes_[size_t(p)] = f->extended_data[p] + skip * stride;
    return convert(in_planes_.data(), f->nb_samples - skip);
  }

  // Resamples `n` input samples (nullptr: flushes the resampler) into the FIFO, then encodes
  // every whole frame it holds.
  bool convert(const uint8_t** in, int n) {
    if (!swr_) return true;
    const int cap = CLAP_MEDIA(swr_get_out_samples)(swr_.get(), std::max(n, 0)) + 32;
    uint8_t** out = nullptr;
    if (CLAP_MEDIA(av_samples_alloc_array_and_samples)(&out, nullptr, enc_->ch_layout.nb_channels, cap, enc_->sample_fmt, 0) < 0)
      fail("out of memory");
    const int got = CLAP_MEDIA(swr_convert)(swr_.get(), out, cap, in, n);
    if (got > 0) CLAP_MEDIA(av_audio_fifo_write)(fifo_.get(), reinterpret_cast<void**>(out), got);
    CLAP_MEDIA_RELEASE(av_freep)(&out[0]);
    CLAP_MEDIA_RELEASE(av_freep)(&out);
    if (got < 0) fail("resampling failed: " + av_error(got));
    return encode_fifo(false);
  }

  bool encode_fifo(bool last) {
    while (CLAP_MEDIA(av_audio_fifo_size)(fifo_.get()) >= frame_size_ || (last && CLAP_MEDIA(av_audio_fifo_size)(fifo_.get()) > 0)) {
      const int n = std::min(frame_size_, CLAP_MEDIA(av_audio_fifo_size)(fifo_.get()));
      Frame f(CLAP_MEDIA(av_frame_alloc)());
      if (!f) fail("out of memory");
      // A short last frame is padded with silence for an encoder that takes only whole frames.
      const bool small_ok = enc_->codec->capabilities & (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
      f->nb_samples = small_ok ? n : frame_size_;
      f->format = enc_->sample_fmt;
      f->sample_rate = enc_->sample_rate;
      if (CLAP_MEDIA(av_channel_layout_copy)(&f->ch_layout, &enc_->ch_layout) < 0 || CLAP_MEDIA(av_frame_get_buffer)(f.get(), 0) < 0) fail("out of memory");
      if (f->nb_samples > n)
        CLAP_MEDIA(av_samples_set_silence)(f->data, n, f->nb_samples - n, enc_->ch_layout.nb_channels, enc_->sample_fmt);
      CLAP_MEDIA(av_audio_fifo_read)(fifo_.get(), reinterpret_cast<void**>(f->data), n);
      f->pts = next_pts_;
      next_pts_ += f->nb_samples;
      if (!encode(f.get())) return false;
    }
    return true;
  }

  bool encode(const AVFrame* f) {
    if (CLAP_MEDIA(avcodec_send_frame)(enc_.get(), f) < 0) fail("the encoder refused a frame");
    Packet pkt(CLAP_MEDIA(av_packet_alloc)());
    if (!pkt) fail("out of memory");
    for (;;) {
      const int r = CLAP_MEDIA(avcodec_receive_packet)(enc_.get(), pkt.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return true;
      if (r < 0) fail("encoding failed: " + av_error(r));
      AVStream* st = out_->streams[0];
      CLAP_MEDIA(av_packet_rescale_ts)(pkt.get(), enc_->time_base, st->time_base);
      pkt->stream_index = 0;
      const int w = CLAP_MEDIA(av_interleaved_write_frame)(out_.get(), pkt.get());
      if (output_.stopped()) return false;
      if (w < 0) fail("writing the output failed: " + av_error(w));
    }
  }

 public:
  struct Stopped {};
  ~Impl() { CLAP_MEDIA_RELEASE(av_channel_layout_uninit)(&in_layout_); }

 private:
  std::string name_;
  TranscodeOptions options_;
  detail::FdInput input_;
  SinkOutput output_;
  int stream_ = -1;
  Codec dec_, enc_;
  std::unique_ptr<AVFormatContext, OutputFree> out_;
  std::unique_ptr<SwrContext, SwrFree> swr_;
  std::unique_ptr<AVAudioFifo, FifoFree> fifo_;
  AVChannelLayout in_layout_{};
  int in_rate_ = 0, in_format_ = -1, frame_size_ = 1152;
  int64_t next_pts_ = 0;
  bool ran_ = false;
  double position_s_ = 0;
  std::vector<const uint8_t*> in_planes_;
};

Transcoder::Transcoder(int fd, const std::string& name, const TranscodeOptions& options)
    : impl_(std::make_unique<Impl>(fd, name, options)) {}
Transcoder::~Transcoder() = default;

bool Transcoder::run(const ByteSink& sink) {
  try {
    return impl_->run(sink);
  } catch (const Impl::Stopped&) {
    return false;
  }
}

}  // namespace clap::audio
