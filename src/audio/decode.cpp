#include "audio/decode.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <mutex>
#include <system_error>

#include "audio/ffmpeg_input.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace clap::audio {
namespace detail {

// ---------------------------------------------------------------------------------------------
// FFmpeg logging: nothing is printed. Messages at error level or worse are kept per thread
// (every call runs its FFmpeg work on the calling thread: decoders are single-threaded), so an
// exception can quote FFmpeg's own reason.
thread_local std::string t_last_ffmpeg_message;

void log_callback(void* /*avcl*/, int level, const char* fmt, va_list vl) {
  if (level > AV_LOG_ERROR) return;
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, vl);
  std::string msg = line;
  while (!msg.empty() && std::isspace(static_cast<unsigned char>(msg.back()))) msg.pop_back();
  if (!msg.empty()) t_last_ffmpeg_message = msg;
}

void init_ffmpeg() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(log_callback);
    // FFmpeg sizes some buffers by header fields: a WAV whose LIST chunk claims 4 GB made the
    // demuxer allocate 1.3 GB for one tag (found by fuzz_audio). No single allocation for audio
    // needs more than this (the largest, an MP4's packet index, is ~24 bytes per packet: 256 MB
    // is 60 hours of AAC); past it FFmpeg fails cleanly with ENOMEM, which becomes our Error.
    av_max_alloc(256u << 20);
  });
}

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof buf);
  return buf;
}

std::string last_ffmpeg_message() { return t_last_ffmpeg_message; }
void clear_ffmpeg_message() { t_last_ffmpeg_message.clear(); }

}  // namespace detail

namespace {
using detail::av_error;
using detail::init_ffmpeg;
using detail::kUploadDemuxers;
using detail::t_last_ffmpeg_message;

[[noreturn]] void fail(const std::string& path, const std::string& reason) { throw Error(path + ": " + reason); }

// The lowest source sample rate accepted (telephone audio is 8000 Hz; some old formats use 4000).
constexpr int kMinSourceRate = 1000;

// RAII holders.
struct FormatHolder {
  AVFormatContext* p = nullptr;
  AVIOContext* custom_io = nullptr;  // Origin::Untrusted: our reader over `fd`
  int fd = -1;
  ~FormatHolder() {
    avformat_close_input(&p);  // leaves a custom AVIOContext to its owner
    if (custom_io) {
      av_freep(&custom_io->buffer);
      avio_context_free(&custom_io);
    }
    if (fd >= 0) ::close(fd);
  }
};
struct CodecHolder {
  AVCodecContext* p = nullptr;
  ~CodecHolder() { avcodec_free_context(&p); }
};
struct PacketHolder {
  AVPacket* p = av_packet_alloc();
  ~PacketHolder() { av_packet_free(&p); }
};
struct FrameHolder {
  AVFrame* p = av_frame_alloc();
  ~FrameHolder() { av_frame_free(&p); }
};
struct LayoutHolder {
  AVChannelLayout l{};
  ~LayoutHolder() { av_channel_layout_uninit(&l); }
};

int read_fd(void* opaque, uint8_t* buf, int size) {
  const int fd = static_cast<FormatHolder*>(opaque)->fd;
  for (;;) {
    const ssize_t n = ::read(fd, buf, static_cast<size_t>(size));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return AVERROR(errno);
    return n == 0 ? AVERROR_EOF : static_cast<int>(n);
  }
}

int64_t seek_fd(void* opaque, int64_t offset, int whence) {
  const int fd = static_cast<FormatHolder*>(opaque)->fd;
  if (whence & AVSEEK_SIZE) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_size) : AVERROR(errno);
  }
  const off_t r = ::lseek(fd, static_cast<off_t>(offset), whence & ~AVSEEK_FORCE);
  return r < 0 ? AVERROR(errno) : static_cast<int64_t>(r);
}

// A demuxer's request to open another file or URL (a playlist entry, a reference): refused.
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

// Bytes from a client: read through our own AVIOContext over the one open file (no name is
// ever given to FFmpeg to open), with the audio demuxers above only, and every nested open
// refused.
void open_untrusted(const std::string& path, FormatHolder& fmt) {
  // Non-blocking open: a file replaced by a FIFO after the crawl saw it would block here for a
  // writer that never comes. Blocking reads again once it is known to be a regular file.
  fmt.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fmt.fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fmt.fd, &st) != 0 || !S_ISREG(st.st_mode)) fail(path, "not a regular file");
  if (const int flags = ::fcntl(fmt.fd, F_GETFL); flags >= 0) ::fcntl(fmt.fd, F_SETFL, flags & ~O_NONBLOCK);
  if (st.st_size == 0) fail(path, "empty file (0 bytes)");
  constexpr int kBuffer = 1 << 16;
  auto* buffer = static_cast<unsigned char*>(av_malloc(kBuffer));
  if (!buffer) fail(path, "out of memory");
  fmt.custom_io = avio_alloc_context(buffer, kBuffer, 0, &fmt, read_fd, nullptr, seek_fd);
  if (!fmt.custom_io) {
    av_free(buffer);
    fail(path, "out of memory");
  }
  fmt.p = avformat_alloc_context();
  if (!fmt.p) fail(path, "out of memory");
  fmt.p->pb = fmt.custom_io;
  fmt.p->flags |= AVFMT_FLAG_CUSTOM_IO;
  fmt.p->io_open = refuse_nested_open;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "format_whitelist", kUploadDemuxers, 0);
  av_dict_set(&opts, "protocol_whitelist", "fd", 0);  // none that opens a name (and io_open refuses anyway)
  t_last_ffmpeg_message.clear();
  const int r = avformat_open_input(&fmt.p, "", nullptr, &opts);  // frees fmt.p on failure
  av_dict_free(&opts);
  if (r < 0) {
    std::string why = av_error(r);
    if (!t_last_ffmpeg_message.empty()) why += "; " + t_last_ffmpeg_message;
    fail(path, "not a recognised audio file (" + why + ")");
  }
}

// Checks the path, then opens it with libavformat (local files only) and reads stream info.
void open_input(const std::string& path, FormatHolder& fmt, bool find_info, Origin origin = Origin::LocalFile) {
  init_ffmpeg();
  if (origin == Origin::Untrusted) {
    open_untrusted(path, fmt);
    if (find_info) {
      const int r = avformat_find_stream_info(fmt.p, nullptr);
      if (r < 0 && fmt.p->nb_streams == 0) fail(path, "cannot read stream info: " + av_error(r));
    }
    return;
  }
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) fail(path, "no such file");
  if (fs::is_directory(st)) fail(path, "is a directory, not an audio file");
  if (!fs::is_regular_file(st)) fail(path, "not a regular file");
  auto size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read file size: " + ec.message());
  if (size == 0) fail(path, "empty file (0 bytes)");

  // "file:" keeps a name such as "http:x" or "concat:a|b" a local path; the whitelist keeps
  // playlists inside a file from reaching the network.
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "protocol_whitelist", "file", 0);
  t_last_ffmpeg_message.clear();
  int r = avformat_open_input(&fmt.p, ("file:" + path).c_str(), nullptr, &opts);
  av_dict_free(&opts);
  if (r < 0) {
    if (r == AVERROR(EACCES) || r == AVERROR(EPERM)) fail(path, "cannot open: permission denied");
    std::string why = av_error(r);
    if (!t_last_ffmpeg_message.empty()) why += "; " + t_last_ffmpeg_message;
    fail(path, "not a recognised audio/media file (" + why + ")");
  }
  if (find_info) {
    r = avformat_find_stream_info(fmt.p, nullptr);
    if (r < 0 && fmt.p->nb_streams == 0) fail(path, "cannot read stream info: " + av_error(r));
  }
}

int best_audio_stream(const std::string& path, AVFormatContext* fmt, const AVCodec** codec) {
  int idx = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, codec, 0);
  if (idx == AVERROR_STREAM_NOT_FOUND) fail(path, "no audio stream");
  if (idx == AVERROR_DECODER_NOT_FOUND) {
    // Name the codec of the first audio stream for the message.
    std::string name = "unknown";
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
        name = avcodec_get_name(fmt->streams[i]->codecpar->codec_id);
        break;
      }
    fail(path, "no decoder for audio codec '" + name + "'");
  }
  if (idx < 0) fail(path, "cannot select audio stream: " + av_error(idx));
  return idx;
}

double container_duration(AVFormatContext* fmt, int stream_index) {
  if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) return double(fmt->duration) / AV_TIME_BASE;
  if (stream_index >= 0) {
    const AVStream* s = fmt->streams[stream_index];
    if (s->duration != AV_NOPTS_VALUE && s->duration > 0) return double(s->duration) * av_q2d(s->time_base);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Decoded frames (any sample format, rate, channel layout) -> mono float at target_rate.
// One SwrContext per "segment" of constant input parameters; if a stream changes rate, format
// or layout mid-way the segment is flushed and a new one begins. Each segment yields exactly
// round(in_samples * target / in_rate) output samples: the resampler's flush is cut to that
// count (or padded with zeros if it falls a sample or two short).
class MonoResampler {
 public:
  MonoResampler(const std::string& path, int target_rate, const SampleSink& sink)
      : path_(path), target_(target_rate), sink_(sink) {}
  ~MonoResampler() { swr_free(&swr_); }

  // The frame's samples from `skip` on.
  void feed(const AVFrame* f, int skip = 0) {
    configure(f);
    // The frame goes to the resampler in slices whose output stays near kMaxPieceSamples: at a
    // tiny source rate (a damaged header saying 2 Hz) a frame resamples to thousands of times
    // its length, and an 8 KB file asked for 1.5 GB at once (found by fuzz_audio). An ordinary
    // frame is one slice, so its conversion is the one call it always was.
    const auto format = static_cast<AVSampleFormat>(f->format);
    const bool planar = av_sample_fmt_is_planar(format);
    const int planes = planar ? f->ch_layout.nb_channels : 1;
    const int64_t stride = int64_t{av_get_bytes_per_sample(format)} * (planar ? 1 : f->ch_layout.nb_channels);
    const int step = int(std::clamp<int64_t>(int64_t{kMaxPieceSamples} * in_rate_ / target_, 1, f->nb_samples));
    slice_.resize(size_t(planes));
    for (int done = skip; done < f->nb_samples;) {
      const int n = std::min(step, f->nb_samples - done);
      for (int p = 0; p < planes; ++p) slice_[size_t(p)] = f->extended_data[p] + done * stride;
      const int cap = swr_get_out_samples(swr_, n);
      if (cap < 0) fail(path_, "resampler error: " + av_error(cap));
      buf_.resize(size_t(cap) + 16);
      uint8_t* out = reinterpret_cast<uint8_t*>(buf_.data());
      const int got = swr_convert(swr_, &out, int(buf_.size()), slice_.data(), n);
      if (got < 0) fail(path_, "resampling failed: " + av_error(got));
      emit(buf_.data(), size_t(got), INT64_MAX);
      done += n;
    }
    seg_in_ += f->nb_samples - skip;
    source_samples += f->nb_samples - skip;
  }

  // Flushes the current segment (end of stream or parameter change).
  void finish() {
    if (!swr_) return;
    // round(seg_in * target / in_rate), exact integer arithmetic.
    const int64_t expected = av_rescale_rnd(seg_in_, target_, in_rate_, AV_ROUND_NEAR_INF);
    buf_.resize(8192);
    for (;;) {
      uint8_t* out = reinterpret_cast<uint8_t*>(buf_.data());
      int got = swr_convert(swr_, &out, int(buf_.size()), nullptr, 0);
      if (got < 0) fail(path_, "resampler flush failed: " + av_error(got));
      if (got == 0) break;
      emit(buf_.data(), size_t(got), expected);
    }
    if (seg_out_ < expected) {
      std::fill(buf_.begin(), buf_.end(), 0.0f);
      while (seg_out_ < expected) emit(buf_.data(), size_t(std::min<int64_t>(int64_t(buf_.size()), expected - seg_out_)), expected);
    }
    swr_free(&swr_);
    seg_in_ = seg_out_ = 0;
  }

  std::string engine = "none";
  int64_t source_samples = 0;
  int64_t output_samples = 0;

 private:
  void configure(const AVFrame* f) {
    if (swr_ && f->format == in_format_ && f->sample_rate == in_rate_ &&
        av_channel_layout_compare(&f->ch_layout, &in_layout_.l) == 0)
      return;
    finish();
    av_channel_layout_uninit(&in_layout_.l);
    if (av_channel_layout_copy(&in_layout_.l, &f->ch_layout) < 0) fail(path_, "out of memory");
    in_format_ = f->format;
    in_rate_ = f->sample_rate;
    const int channels = f->ch_layout.nb_channels;

    // The layout only labels channels; the weights below are uniform, so an unlabelled layout
    // is given the default labels for its count (swresample is happier with a native order).
    LayoutHolder in;
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
      av_channel_layout_default(&in.l, channels);
    else if (av_channel_layout_copy(&in.l, &f->ch_layout) < 0)
      fail(path_, "out of memory");
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    // Plain average: weight 1/N for each of the N input channels into the single output.
    std::vector<double> matrix(size_t(channels), 1.0 / channels);

    const bool resample = in_rate_ != target_;
    // Try soxr first (high quality, 20-bit precision: see decode.h); fall back to swr's own resampler
    // with a long filter if libswresample was built without libsoxr.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool soxr = attempt == 0;
      if (!resample && !soxr) break;
      int r = swr_alloc_set_opts2(&swr_, &mono, AV_SAMPLE_FMT_FLT, target_, &in.l,
                                  static_cast<AVSampleFormat>(in_format_), in_rate_, 0, nullptr);
      if (r < 0) fail(path_, "cannot create resampler: " + av_error(r));
      if (resample) {
        if (soxr) {
          r = av_opt_set(swr_, "resampler", "soxr", 0);
          if (r >= 0) r = av_opt_set_double(swr_, "precision", 20, 0);
        } else {
          r = av_opt_set(swr_, "resampler", "swr", 0);
          if (r >= 0) r = av_opt_set_int(swr_, "filter_size", 64, 0);
          if (r >= 0) r = av_opt_set_int(swr_, "phase_shift", 10, 0);
          if (r >= 0) r = av_opt_set_double(swr_, "cutoff", 0.97, 0);
        }
      }
      if (r >= 0) {
        r = swr_set_matrix(swr_, matrix.data(), channels);
        if (r < 0) fail(path_, "cannot set downmix matrix: " + av_error(r));
        r = swr_init(swr_);
      }
      if (r >= 0) {
        engine = resample ? (soxr ? "soxr" : "swr") : "none";
        return;
      }
      swr_free(&swr_);
      if (!resample || !soxr) fail(path_, "cannot initialise resampler: " + av_error(r));
    }
    fail(path_, "cannot initialise resampler");
  }

  void emit(const float* p, size_t n, int64_t limit) {
    if (seg_out_ >= limit) return;
    n = size_t(std::min<int64_t>(int64_t(n), limit - seg_out_));
    // Float formats carry NaN and infinity as they are (a damaged or crafted float WAV); passed
    // on they would make every feature and embedding of the window NaN and poison the index's
    // scores, so such a file is refused like other undecodable audio (found by fuzz_audio).
    for (size_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) fail(path_, "audio samples that are not numbers (NaN or infinity): damaged file");
    while (n > 0) {
      size_t k = std::min(n, kMaxChunkSamples);
      sink_(p, k);
      p += k;
      n -= k;
      seg_out_ += int64_t(k);
      output_samples += int64_t(k);
    }
  }

  static constexpr int kMaxPieceSamples = 1 << 20;
  const std::string& path_;
  const int target_;
  const SampleSink& sink_;
  SwrContext* swr_ = nullptr;
  int in_format_ = -1, in_rate_ = 0;
  LayoutHolder in_layout_;
  int64_t seg_in_ = 0, seg_out_ = 0;
  std::vector<float> buf_;
  std::vector<const uint8_t*> slice_;  // the planes of the part of a frame being converted
};

std::string trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A file opened for decoding its best audio stream: the demuxer (other streams discarded), the
// decoder (single-threaded: deterministic output), what is known of it before decoding, and
// where an MP4/MOV stream's declared end cuts the last frame.
struct OpenedAudio {
  FormatHolder fmt;
  CodecHolder dec;
  int idx = -1;
  AVStream* stream = nullptr;
  AudioInfo info;
  int64_t end_pts = AV_NOPTS_VALUE;
};

void open_audio(const std::string& path, Origin origin, OpenedAudio& o) {
  open_input(path, o.fmt, true, origin);
  const AVCodec* codec = nullptr;
  o.idx = best_audio_stream(path, o.fmt.p, &codec);
  o.stream = o.fmt.p->streams[o.idx];
  for (unsigned i = 0; i < o.fmt.p->nb_streams; ++i)
    if (int(i) != o.idx) o.fmt.p->streams[i]->discard = AVDISCARD_ALL;
  o.dec.p = avcodec_alloc_context3(codec);
  if (!o.dec.p) fail(path, "out of memory");
  int r = avcodec_parameters_to_context(o.dec.p, o.stream->codecpar);
  if (r < 0) fail(path, "bad codec parameters: " + av_error(r));
  o.dec.p->thread_count = 1;  // parallelism is per file; keeps output deterministic
  o.dec.p->pkt_timebase = o.stream->time_base;
  r = avcodec_open2(o.dec.p, codec, nullptr);
  if (r < 0) fail(path, std::string("cannot open ") + codec->name + " decoder: " + av_error(r));
  o.info.codec = avcodec_get_name(o.stream->codecpar->codec_id);
  o.info.container = o.fmt.p->iformat->name;
  o.info.container_duration_s = container_duration(o.fmt.p, o.idx);
  o.info.source_rate = o.stream->codecpar->sample_rate;
  o.info.source_channels = o.stream->codecpar->ch_layout.nb_channels;
  // MP4/MOV: FFmpeg 5.1 applies the edit list's start (encoder priming) but not its end, so
  // AAC's end padding (up to one frame) would be decoded. Frames are cut at the stream's
  // declared end instead (its duration is the edit-list presentation duration).
  if (std::string(o.fmt.p->iformat->name).rfind("mov,", 0) == 0 && o.stream->duration != AV_NOPTS_VALUE &&
      o.stream->duration > 0)
    o.end_pts = (o.stream->start_time != AV_NOPTS_VALUE ? o.stream->start_time : 0) + o.stream->duration;
}

// Cuts a decoded frame at the MP4/MOV declared end (OpenedAudio::end_pts); false when the whole
// frame lies past it.
bool cut_at_end(const OpenedAudio& o, AVFrame* f) {
  if (o.end_pts == AV_NOPTS_VALUE || f->pts == AV_NOPTS_VALUE || f->sample_rate <= 0 || f->nb_samples <= 0) return true;
  const AVRational sample_tb{1, f->sample_rate};
  const int64_t start = av_rescale_q(f->pts, o.stream->time_base, sample_tb);
  const int64_t end = av_rescale_q(o.end_pts, o.stream->time_base, sample_tb);
  if (start >= end) return false;
  if (start + f->nb_samples > end) f->nb_samples = int(end - start);
  return true;
}

std::atomic<int64_t> g_whole_decodes{0}, g_span_decodes{0};

}  // namespace

DecodeCounts decode_counts() { return {g_whole_decodes.load(), g_span_decodes.load()}; }

AudioInfo decode_stream(const std::string& path, int target_rate, const SampleSink& sink, Origin origin) {
  if (target_rate <= 0 || target_rate > 1'000'000) fail(path, "invalid target sample rate " + std::to_string(target_rate));
  ++g_whole_decodes;
  OpenedAudio opened;
  open_audio(path, origin, opened);
  FormatHolder& fmt = opened.fmt;
  CodecHolder& dec = opened.dec;
  const int idx = opened.idx;
  AudioInfo info = opened.info;
  int r = 0;

  MonoResampler resampler(path, target_rate, sink);
  PacketHolder pkt;
  FrameHolder frame;
  if (!pkt.p || !frame.p) fail(path, "out of memory");
  int64_t frames = 0;
  std::string last_error;
  t_last_ffmpeg_message.clear();
  auto note_error = [&](int code) {
    ++info.corrupt_packets;
    last_error = av_error(code);
    if (!t_last_ffmpeg_message.empty()) last_error += " (" + t_last_ffmpeg_message + ")";
  };

  auto drain = [&]() {
    for (;;) {
      int rr = avcodec_receive_frame(dec.p, frame.p);
      if (rr == AVERROR(EAGAIN) || rr == AVERROR_EOF) return;
      if (rr < 0) {
        note_error(rr);
        return;
      }
      AVFrame* f = frame.p;
      const int ch = f->ch_layout.nb_channels;
      if (!cut_at_end(opened, f)) {
        av_frame_unref(f);
        continue;
      }
      if (f->nb_samples > 0 && f->sample_rate > 0 && ch > 0 && ch <= 64) {
        // Resampling up from a few Hz costs the resampler memory in proportion to the ratio
        // (2 Hz: 0.5 GB for an 8 KB file, found by fuzz_audio); no audio is sampled that slowly.
        if (f->sample_rate < kMinSourceRate)
          fail(path, "sample rate " + std::to_string(f->sample_rate) + " Hz is below " + std::to_string(kMinSourceRate) +
                         " Hz: not audio (a damaged header?)");
        if (frames++ == 0) {
          info.source_rate = f->sample_rate;
          info.source_channels = ch;
        }
        resampler.feed(f);
      } else if (f->nb_samples > 0) {
        note_error(AVERROR_INVALIDDATA);
      }
      av_frame_unref(frame.p);
    }
  };
  auto send = [&](const AVPacket* p) {
    for (;;) {
      int rr = avcodec_send_packet(dec.p, p);
      if (rr == AVERROR(EAGAIN)) {  // output pending: take it, then resend
        drain();
        continue;
      }
      if (rr < 0 && rr != AVERROR_EOF) note_error(rr);  // packet consumed; skip it
      drain();
      return;
    }
  };

  int read_errors_in_a_row = 0;
  for (;;) {
    r = av_read_frame(fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (r == AVERROR(EIO) && frames == 0) fail(path, "read error: " + av_error(r));
      if (fmt.p->pb && avio_feof(fmt.p->pb)) break;
      note_error(r);
      if (++read_errors_in_a_row > 64) break;  // demuxer cannot resync: keep what we have
      continue;
    }
    read_errors_in_a_row = 0;
    if (pkt.p->stream_index == idx) send(pkt.p);
    av_packet_unref(pkt.p);
  }
  send(nullptr);  // flush the decoder (delayed frames)
  resampler.finish();

  if (resampler.source_samples == 0) {
    if (info.corrupt_packets > 0)
      fail(path, "undecodable " + info.codec + " audio: " + std::to_string(info.corrupt_packets) +
                     " packets failed, none decoded (last error: " + last_error + ")");
    fail(path, "no audio samples");
  }
  // A few samples at a huge source rate (a damaged header) round to none at the target rate:
  // nothing to analyse, like a file without samples (found by fuzz_audio).
  if (resampler.output_samples == 0)
    fail(path, "no audio samples at " + std::to_string(target_rate) + " Hz (" + std::to_string(resampler.source_samples) +
                   " source samples at " + std::to_string(info.source_rate) + " Hz)");
  // More failures than decoded frames: garbage that happened to contain a few plausible frame
  // headers (random bytes named .mp3 do), or damaged beyond use.
  if (info.corrupt_packets > frames)
    fail(path, "undecodable " + info.codec + " audio: " + std::to_string(info.corrupt_packets) +
                   " packets failed, only " + std::to_string(frames) + " frames decoded (last error: " + last_error + ")");
  info.source_samples = resampler.source_samples;
  info.output_samples = resampler.output_samples;
  info.duration_s = double(info.source_samples) / info.source_rate;
  info.resampler = resampler.engine;
  return info;
}

std::vector<float> decode_file(const std::string& path, int target_rate, AudioInfo* info) {
  std::vector<float> out;
  AudioInfo i = decode_stream(path, target_rate, [&](const float* s, size_t n) { out.insert(out.end(), s, s + n); });
  if (info) *info = i;
  return out;
}

std::optional<std::vector<std::vector<float>>> decode_spans(const std::string& path, int target_rate,
                                                            const std::vector<SampleSpan>& spans, std::string* why,
                                                            const SpanOptions& options, Origin origin) {
  const auto refuse = [&](std::string reason) -> std::optional<std::vector<std::vector<float>>> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (target_rate <= 0 || target_rate > 1'000'000) fail(path, "invalid target sample rate " + std::to_string(target_rate));
  if (spans.empty()) return std::vector<std::vector<float>>{};
  for (size_t k = 0; k < spans.size(); ++k)
    if (spans[k].start < 0 || spans[k].end <= spans[k].start || (k > 0 && spans[k].start < spans[k - 1].start))
      fail(path, "decode_spans: spans must be non-empty and sorted");
  ++g_span_decodes;
  OpenedAudio o;
  open_audio(path, origin, o);
  const int64_t rate = o.stream->codecpar->sample_rate;
  if (rate < kMinSourceRate) return refuse("the header gives no usable sample rate");
  // soxr started mid-stream does not give a whole decode's samples: they differ by float rounding
  // (up to 5e-8) in nearly every sample, whatever the pre-roll and the alignment to the rates'
  // period (measured at 44.1 kHz with starts at multiples of 147 x 1 .. 4096 samples and
  // pre-rolls up to 131072; decode_span_test). Such a file is decoded whole.
  if (rate != target_rate)
    return refuse("the source is at " + std::to_string(rate) + " Hz, and resampled samples cut mid-stream are not a whole decode's");
  // The containers whose spans are measured to be a whole decode's (decode_span_test). AAC is
  // not, in MP4 (a span at 5 s differed in nearly every sample, one at 20 s did not: not
  // understood yet) nor in raw ADTS (every span differed); others are not measured.
  const std::string container = o.fmt.p->iformat->name;
  if (container != "flac" && container != "wav" && container != "mp3" && container != "ogg")
    return refuse("cutting spans from the " + container + " container is not known to be exact");
  // Opus decoders keep state without an end (de-emphasis and LPC synthesis filters, recursive):
  // started afresh they reach a whole decode's samples only to float rounding, and not always
  // exactly (measured: with 65536 samples of pre-roll, 1 window of 16 in four 10-minute files
  // differed by up to 3e-8). The other codecs here forget everything a few frames back.
  if (o.stream->codecpar->codec_id == AV_CODEC_ID_OPUS)
    return refuse("Opus decoding started mid-stream reaches a whole decode's samples only to float rounding");
  const int64_t decoder_preroll = std::max<int64_t>(options.decoder_preroll, 0) +
                                  std::max<int64_t>(o.stream->codecpar->seek_preroll, 0);
  std::vector<int64_t> decode_from(spans.size());
  for (size_t k = 0; k < spans.size(); ++k) decode_from[k] = std::max<int64_t>(0, spans[k].start - decoder_preroll);
  const AVRational sample_tb{1, int(rate)};
  const auto to_samples = [&](int64_t ts) { return av_rescale_q_rnd(ts, o.stream->time_base, sample_tb, AV_ROUND_NEAR_INF); };

  std::vector<std::vector<float>> out(spans.size());
  size_t next = 0;           // the first span not yet whole
  int64_t out_pos = 0;       // output sample the resampler delivers next
  const SampleSink collect = [&](const float* x, size_t n) {
    const int64_t from = out_pos, to = out_pos + int64_t(n);
    for (size_t k = next; k < spans.size() && spans[k].start < to; ++k) {
      const int64_t a = std::max(from, spans[k].start), b = std::min(to, spans[k].end);
      if (a < b) out[k].insert(out[k].end(), x + (a - from), x + (b - from));
    }
    out_pos = to;
  };
  std::optional<MonoResampler> resampler;
  PacketHolder pkt;
  FrameHolder frame;
  if (!pkt.p || !frame.p) fail(path, "out of memory");

  int64_t base = AV_NOPTS_VALUE;      // the stream's first decoded sample, in source samples of its timestamps
  int64_t first_frames = 0;           // frames decoded from the start (the first two fix `base`)
  int64_t expect = AV_NOPTS_VALUE;    // where the next decoded frame must begin (contiguous output)
  int64_t packets_end = AV_NOPTS_VALUE;  // where the next packet must begin (contiguous timestamps)
  int first_format = -1, first_rate = 0;
  LayoutHolder first_layout;
  bool decoding = true;  // the decoder runs (from the start, or since the pre-roll of span `next`)
  bool broken = false;
  std::string reason;
  const auto stop = [&](std::string r) {
    if (!broken) reason = std::move(r);
    broken = true;
  };
  // A decoded frame: checked, and its samples from the span's start on downmixed.
  const auto on_frame = [&](AVFrame* f) {
    if (!cut_at_end(o, f) || f->nb_samples <= 0) return;
    if (f->pts == AV_NOPTS_VALUE) return stop("a decoded frame has no timestamp");
    if (first_format < 0) {
      first_format = f->format;
      first_rate = f->sample_rate;
      if (av_channel_layout_copy(&first_layout.l, &f->ch_layout) < 0) fail(path, "out of memory");
    } else if (f->format != first_format || f->sample_rate != first_rate ||
               av_channel_layout_compare(&f->ch_layout, &first_layout.l) != 0) {
      return stop("the stream changes format");
    }
    if (first_rate != rate) return stop("the decoder's rate differs from the header's");
    if (base == AV_NOPTS_VALUE) base = to_samples(f->pts);
    const int64_t at = to_samples(f->pts) - base;
    if (expect != AV_NOPTS_VALUE && at != expect) return stop("decoded frames are not contiguous");
    if (first_frames < 2) ++first_frames;
    expect = at + f->nb_samples;
    if (next >= spans.size()) return;
    const int64_t start = spans[next].start;
    if (!resampler) {
      if (at + f->nb_samples <= start) return;
      if (at > start) return stop("decoding began after the span's start");
      resampler.emplace(path, target_rate, collect);
      out_pos = start;  // source and output rates are the same
      resampler->feed(f, int(start - at));
    } else {
      resampler->feed(f);
    }
  };
  const auto receive = [&] {
    for (;;) {
      const int rr = avcodec_receive_frame(o.dec.p, frame.p);
      if (rr == AVERROR(EAGAIN) || rr == AVERROR_EOF) return;
      if (rr < 0) return stop("a frame failed to decode (" + av_error(rr) + ")");
      on_frame(frame.p);
      av_frame_unref(frame.p);
      if (broken) return;
    }
  };
  const auto send = [&](const AVPacket* p) {
    for (;;) {
      const int rr = avcodec_send_packet(o.dec.p, p);
      if (rr == AVERROR(EAGAIN)) {
        receive();
        if (broken) return;
        continue;
      }
      if (rr < 0 && rr != AVERROR_EOF) return stop("a packet failed to decode (" + av_error(rr) + ")");
      return receive();
    }
  };
  // Spans made whole by the samples delivered: the next span's pre-roll decides whether the
  // decoder runs on (it starts at or before what is decoded) or stops until that pre-roll.
  const auto advance = [&] {
    bool moved = false;
    while (next < spans.size() && out_pos >= spans[next].end) {
      ++next;
      moved = true;
    }
    if (next >= spans.size() || !decoding) return;
    if (moved) {
      // Running on when the next span's pre-roll begins within what is decoded: the samples go
      // on being a whole decode's. Else the decoder stops until that pre-roll.
      if (expect != AV_NOPTS_VALUE && decode_from[next] <= expect) return;
      resampler.reset();
      decoding = false;
    } else if (!resampler && first_frames >= 2 && expect != AV_NOPTS_VALUE && decode_from[next] > expect) {
      decoding = false;  // the start of the stream is known: skip to the first span's pre-roll
    }
  };

  bool ended = false, beyond = false;  // every span whole; a packet read after that
  for (;;) {
    const int r = av_read_frame(o.fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (o.fmt.p->pb && avio_feof(o.fmt.p->pb)) break;
      stop("a read error (" + av_error(r) + ")");
      break;
    }
    if (pkt.p->stream_index != o.idx) {
      av_packet_unref(pkt.p);
      continue;
    }
    if (ended) {
      beyond = true;
      av_packet_unref(pkt.p);
      break;
    }
    if (pkt.p->pts == AV_NOPTS_VALUE || pkt.p->duration <= 0) stop("packets without timestamps or durations");
    else if (packets_end != AV_NOPTS_VALUE && pkt.p->pts != packets_end) stop("packet timestamps are not contiguous");
    else if (av_packet_get_side_data(pkt.p, AV_PKT_DATA_NEW_EXTRADATA, nullptr) ||
             av_packet_get_side_data(pkt.p, AV_PKT_DATA_PARAM_CHANGE, nullptr))
      stop("the stream changes its parameters");
    if (broken) break;
    packets_end = pkt.p->pts + pkt.p->duration;
    if (!decoding && base != AV_NOPTS_VALUE && to_samples(packets_end) - base > decode_from[next]) {
      // The pre-roll of the next span begins in this packet: the decoder starts afresh, as after a seek.
      avcodec_flush_buffers(o.dec.p);
      expect = AV_NOPTS_VALUE;
      decoding = true;
    }
    if (decoding || first_frames < 2) {
      send(pkt.p);
      if (!broken) advance();
    }
    av_packet_unref(pkt.p);
    if (broken) break;
    // One packet more after the last span is whole: then no span reached the end of the stream,
    // where encoders' padding and containers' end trims apply (an MP4's last AAC frame differed
    // in 512 samples, an Ogg Vorbis last page's timestamps jump to its end trim: measured).
    if (next >= spans.size()) ended = true;
  }
  if (broken) return refuse(reason);
  if (next >= spans.size() && !beyond) return refuse("the last span reaches the end of the stream");
  if (next < spans.size()) return refuse("the span at output sample " + std::to_string(spans[next].start) + " reaches the end of the stream");
  for (size_t k = 0; k < spans.size(); ++k)
    if (int64_t(out[k].size()) != spans[k].end - spans[k].start) return refuse("a span came out short");
  return out;
}

StreamFormat read_format(const std::string& path) {
  FormatHolder fmt;
  open_input(path, fmt, true);
  const int idx = best_audio_stream(path, fmt.p, nullptr);
  const AVCodecParameters* par = fmt.p->streams[idx]->codecpar;
  StreamFormat f;
  f.codec = avcodec_get_name(par->codec_id);
  f.container = fmt.p->iformat && fmt.p->iformat->name ? fmt.p->iformat->name : "";
  const AVCodecDescriptor* desc = avcodec_descriptor_get(par->codec_id);
  f.lossless = desc && (desc->props & AV_CODEC_PROP_LOSSLESS) && !(desc->props & AV_CODEC_PROP_LOSSY);
  f.bit_rate = par->bit_rate > 0 ? par->bit_rate : std::max<int64_t>(fmt.p->bit_rate, 0);
  f.sample_rate = std::max(par->sample_rate, 0);
  f.channels = std::max(par->ch_layout.nb_channels, 0);
  f.bits_per_sample = std::max(par->bits_per_raw_sample > 0 ? par->bits_per_raw_sample : par->bits_per_coded_sample, 0);
  return f;
}

Tags read_tags(const std::string& path) {
  FormatHolder fmt;
  open_input(path, fmt, false);
  int idx = av_find_best_stream(fmt.p, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (container_duration(fmt.p, idx < 0 ? -1 : idx) <= 0) {
    avformat_find_stream_info(fmt.p, nullptr);  // some containers only know it after probing
    idx = av_find_best_stream(fmt.p, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  }
  const AVDictionary* dicts[2] = {fmt.p->metadata, idx >= 0 ? fmt.p->streams[idx]->metadata : nullptr};
  auto get = [&](std::initializer_list<const char*> keys) -> std::string {
    for (const char* key : keys)
      for (const AVDictionary* d : dicts) {
        if (!d) continue;
        const AVDictionaryEntry* e = av_dict_get(d, key, nullptr, 0);  // case-insensitive
        if (e && e->value) {
          std::string v = trim(e->value);
          if (!v.empty()) return v;
        }
      }
    return {};
  };
  Tags t;
  t.title = get({"title"});
  t.artist = get({"artist", "album_artist", "performer", "author"});
  t.album = get({"album"});
  t.genre = get({"genre"});
  t.album_artist = get({"album_artist", "albumartist", "album artist"});
  t.mbid = get({"musicbrainz_trackid", "MusicBrainz Track Id", "musicbrainz_recordingid", "MusicBrainz Recording Id"});
  t.isrc = get({"isrc", "tsrc"});
  t.date = get({"date", "year", "originaldate"});
  std::string track = get({"track", "tracknumber"});
  if (!track.empty() && std::isdigit(static_cast<unsigned char>(track[0]))) {
    long v = 0;
    for (char c : track) {
      if (!std::isdigit(static_cast<unsigned char>(c))) break;
      v = v * 10 + (c - '0');
      if (v > 1'000'000) break;
    }
    t.track = int(v);
  }
  t.duration_s = container_duration(fmt.p, idx < 0 ? -1 : idx);
  return t;
}

double rms_dbfs(const float* samples, size_t n) {
  if (n == 0 || !samples) return -200.0;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += double(samples[i]) * samples[i];
  const double ms = sum / double(n);
  if (!(ms > 0)) return -200.0;  // silence (or NaN input): never -inf
  return std::max(-200.0, 10.0 * std::log10(ms));
}

}  // namespace clap::audio
