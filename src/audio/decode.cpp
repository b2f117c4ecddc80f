#include "audio/decode.h"
#include "audio/ffmpeg_library.h"

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
#include <map>
#include <numeric>
#include <mutex>
#include <system_error>

#include "audio/decode_internal.h"
#include "audio/ffmpeg_input.h"
#include "audio/mono_resampler.h"
#include "audio/packet_decoder.h"
#include "core/error.h"
#include "core/missing_file.h"

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
    CLAP_MEDIA(av_log_set_level)(AV_LOG_ERROR);
    CLAP_MEDIA(av_log_set_callback)(log_callback);
    // FFmpeg sizes some buffers by header fields: a WAV whose LIST chunk claims 4 GB made the
    // demuxer allocate 1.3 GB for one tag (found by fuzz_audio). No single allocation for audio
    // needs more than this (the largest, an MP4's packet index, is ~24 bytes per packet: 256 MB
    // is 60 hours of AAC); past it FFmpeg fails cleanly with ENOMEM, which becomes our Error.
    CLAP_MEDIA(av_max_alloc)(256u << 20);
  });
}

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  CLAP_MEDIA(av_strerror)(code, buf, sizeof buf);
  return buf;
}

std::string last_ffmpeg_message() { return t_last_ffmpeg_message; }
void clear_ffmpeg_message() { t_last_ffmpeg_message.clear(); }

namespace {

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
  auto* buffer = static_cast<unsigned char*>(CLAP_MEDIA(av_malloc)(kBuffer));
  if (!buffer) fail(path, "out of memory");
  fmt.custom_io = CLAP_MEDIA(avio_alloc_context)(buffer, kBuffer, 0, &fmt, read_fd, nullptr, seek_fd);
  if (!fmt.custom_io) {
    CLAP_MEDIA_RELEASE(av_free)(buffer);
    fail(path, "out of memory");
  }
  fmt.p = CLAP_MEDIA(avformat_alloc_context)();
  if (!fmt.p) fail(path, "out of memory");
  fmt.p->pb = fmt.custom_io;
  fmt.p->flags |= AVFMT_FLAG_CUSTOM_IO;
  fmt.p->io_open = refuse_nested_open;
  AVDictionary* opts = nullptr;
  CLAP_MEDIA(av_dict_set)(&opts, "format_whitelist", kUploadDemuxers, 0);
  CLAP_MEDIA(av_dict_set)(&opts, "protocol_whitelist", "fd", 0);  // none that opens a name (and io_open refuses anyway)
  t_last_ffmpeg_message.clear();
  const int r = CLAP_MEDIA(avformat_open_input)(&fmt.p, "", nullptr, &opts);  // frees fmt.p on failure
  CLAP_MEDIA_RELEASE(av_dict_free)(&opts);
  if (r < 0) {
    std::string why = av_error(r);
    if (!t_last_ffmpeg_message.empty()) why += "; " + t_last_ffmpeg_message;
    fail(path, "not a recognised audio file (" + why + ")");
  }
}

std::atomic<int64_t> g_whole_decodes{0}, g_span_decodes{0};

// decode_counts(path): off unless a test switches it on (the table would grow with every file).
std::atomic<bool> g_count_by_path{false};
std::mutex g_by_path_mutex;
std::map<std::string, DecodeCounts> g_by_path;

void count_path(const std::string& path, bool spans) {
  if (!g_count_by_path.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(g_by_path_mutex);
  DecodeCounts& c = g_by_path[path];
  ++(spans ? c.spans : c.whole);
}

}  // namespace

void open_input(const std::string& path, FormatHolder& fmt, bool find_info, Origin origin) {
  init_ffmpeg();
  if (origin == Origin::Untrusted) {
    open_untrusted(path, fmt);
    if (find_info) {
      const int r = CLAP_MEDIA(avformat_find_stream_info)(fmt.p, nullptr);
      if (r < 0 && fmt.p->nb_streams == 0) fail(path, "cannot read stream info: " + av_error(r));
    }
    return;
  }
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    const std::string why = missing_file_reason(path);  // a link loop, a name too long: said so
    fail(path, why.empty() ? kNoSuchFile : why);
  }
  if (fs::is_directory(st)) fail(path, "is a directory, not an audio file");
  if (!fs::is_regular_file(st)) fail(path, "not a regular file");
  auto size = fs::file_size(path, ec);
  if (ec) fail(path, "cannot read file size: " + ec.message());
  if (size == 0) fail(path, "empty file (0 bytes)");

  // "file:" keeps a name such as "http:x" or "concat:a|b" a local path; the whitelist keeps
  // playlists inside a file from reaching the network.
  AVDictionary* opts = nullptr;
  CLAP_MEDIA(av_dict_set)(&opts, "protocol_whitelist", "file", 0);
  t_last_ffmpeg_message.clear();
  int r = CLAP_MEDIA(avformat_open_input)(&fmt.p, ("file:" + path).c_str(), nullptr, &opts);
  CLAP_MEDIA_RELEASE(av_dict_free)(&opts);
  if (r < 0) {
    if (r == AVERROR(EACCES) || r == AVERROR(EPERM)) fail(path, "cannot open: permission denied");
    std::string why = av_error(r);
    if (!t_last_ffmpeg_message.empty()) why += "; " + t_last_ffmpeg_message;
    fail(path, "not a recognised audio/media file (" + why + ")");
  }
  if (find_info) {
    r = CLAP_MEDIA(avformat_find_stream_info)(fmt.p, nullptr);
    if (r < 0 && fmt.p->nb_streams == 0) fail(path, "cannot read stream info: " + av_error(r));
  }
}

int best_audio_stream(const std::string& path, AVFormatContext* fmt, const AVCodec** codec) {
  int idx = CLAP_MEDIA(av_find_best_stream)(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, codec, 0);
  if (idx == AVERROR_STREAM_NOT_FOUND) fail(path, "no audio stream");
  if (idx == AVERROR_DECODER_NOT_FOUND) {
    // Name the codec of the first audio stream for the message.
    std::string name = "unknown";
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
      if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
        name = CLAP_MEDIA(avcodec_get_name)(fmt->streams[i]->codecpar->codec_id);
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

void open_audio(const std::string& path, Origin origin, OpenedAudio& o) {
  open_input(path, o.fmt, true, origin);
  const AVCodec* codec = nullptr;
  o.idx = best_audio_stream(path, o.fmt.p, &codec);
  o.stream = o.fmt.p->streams[o.idx];
  const AVCodecParameters* par = o.stream->codecpar;
  check_source_format(path, par->sample_rate, par->ch_layout.nb_channels,
                      std::max(par->bits_per_raw_sample, par->bits_per_coded_sample), "the header");
  for (unsigned i = 0; i < o.fmt.p->nb_streams; ++i)
    if (int(i) != o.idx) o.fmt.p->streams[i]->discard = AVDISCARD_ALL;
  o.dec.p = CLAP_MEDIA(avcodec_alloc_context3)(codec);
  if (!o.dec.p) fail(path, "out of memory");
  int r = CLAP_MEDIA(avcodec_parameters_to_context)(o.dec.p, o.stream->codecpar);
  if (r < 0) fail(path, "bad codec parameters: " + av_error(r));
  o.dec.p->thread_count = 1;  // parallelism is per file; keeps output deterministic
  o.dec.p->pkt_timebase = o.stream->time_base;
  r = CLAP_MEDIA(avcodec_open2)(o.dec.p, codec, nullptr);
  if (r < 0) fail(path, std::string("cannot open ") + codec->name + " decoder: " + av_error(r));
  o.info.codec = CLAP_MEDIA(avcodec_get_name)(o.stream->codecpar->codec_id);
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
  const int64_t start = CLAP_MEDIA(av_rescale_q)(f->pts, o.stream->time_base, sample_tb);
  const int64_t end = CLAP_MEDIA(av_rescale_q)(o.end_pts, o.stream->time_base, sample_tb);
  if (start >= end) return false;
  if (start + f->nb_samples > end) f->nb_samples = int(end - start);
  return true;
}

void count_span_decode(const std::string& path) {
  ++g_span_decodes;
  count_path(path, true);
}

}  // namespace detail

namespace {
using detail::av_error;
using detail::best_audio_stream;
using detail::CodecHolder;
using detail::container_duration;
using detail::cut_at_end;
using detail::fail;
using detail::FormatHolder;
using detail::FrameHolder;
using detail::g_span_decodes;
using detail::g_whole_decodes;
using detail::check_source_format;
using detail::MonoResampler;
using detail::open_audio;
using detail::open_input;
using detail::OpenedAudio;
using detail::PacketDecoder;
using detail::PacketHolder;
using detail::t_last_ffmpeg_message;

std::string trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

}  // namespace

DecodeCounts decode_counts() { return {g_whole_decodes.load(), g_span_decodes.load()}; }

void count_decodes_by_path(bool on) { detail::g_count_by_path = on; }

DecodeCounts decode_counts(const std::string& path) {
  std::lock_guard<std::mutex> lock(detail::g_by_path_mutex);
  const auto it = detail::g_by_path.find(path);
  return it == detail::g_by_path.end() ? DecodeCounts{} : it->second;
}

AudioInfo decode_stream(const std::string& path, int target_rate, const SampleSink& sink, Origin origin) {
  if (target_rate <= 0 || target_rate > 1'000'000) fail(path, "invalid target sample rate " + std::to_string(target_rate));
  ++g_whole_decodes;
  detail::count_path(path, false);
  OpenedAudio opened;
  open_audio(path, origin, opened);
  FormatHolder& fmt = opened.fmt;
  const int idx = opened.idx;
  AudioInfo info = opened.info;
  int r = 0;

  MonoResampler resampler(path, target_rate, sink);
  PacketHolder pkt;
  if (!pkt.p) fail(path, "out of memory");
  int64_t frames = 0;
  std::string last_error;
  t_last_ffmpeg_message.clear();
  auto note_error = [&](int code) {
    ++info.corrupt_packets;
    last_error = av_error(code);
    if (!t_last_ffmpeg_message.empty()) last_error += " (" + t_last_ffmpeg_message + ")";
  };

  // Frames come from the packet decoder (packet_decoder.h: continuously, or block by block for
  // the codecs whose decoders never forget), cut at an MP4's declared end.
  PacketDecoder decoder(
      path, opened,
      [&](AVFrame* f, int skip) {
        const int ch = f->ch_layout.nb_channels;
        if (f->nb_samples > 0 && f->sample_rate > 0 && ch > 0 && ch <= 64) {
          // Resampling up from a few Hz costs the resampler memory in proportion to the ratio
          // (2 Hz: 0.5 GB for an 8 KB file, found by fuzz_audio); no audio is sampled that slowly.
          check_source_format(path, f->sample_rate, ch, 0, "a decoded frame");
          if (frames++ == 0) {
            info.source_rate = f->sample_rate;
            info.source_channels = ch;
          }
          resampler.feed(f, skip);
        } else if (f->nb_samples > 0) {
          note_error(AVERROR_INVALIDDATA);
        }
      },
      note_error);
  decoder.start(std::nullopt);

  int read_errors_in_a_row = 0;
  for (;;) {
    r = CLAP_MEDIA(av_read_frame)(fmt.p, pkt.p);
    if (r == AVERROR_EOF) break;
    if (r < 0) {
      if (r == AVERROR(EIO) && frames == 0) fail(path, "read error: " + av_error(r));
      if (fmt.p->pb && CLAP_MEDIA(avio_feof)(fmt.p->pb)) break;
      note_error(r);
      if (++read_errors_in_a_row > 64) break;  // demuxer cannot resync: keep what we have
      continue;
    }
    read_errors_in_a_row = 0;
    if (pkt.p->stream_index == idx) decoder.push(pkt.p);
    CLAP_MEDIA_RELEASE(av_packet_unref)(pkt.p);
  }
  decoder.finish();  // the decoder's delayed frames
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

StreamFormat read_format(const std::string& path) {
  FormatHolder fmt;
  open_input(path, fmt, true);
  const int idx = best_audio_stream(path, fmt.p, nullptr);
  const AVCodecParameters* par = fmt.p->streams[idx]->codecpar;
  // Duplicates weigh copies by these: a header claiming 1 GHz must not make the best copy.
  check_source_format(path, par->sample_rate, par->ch_layout.nb_channels,
                      std::max(par->bits_per_raw_sample, par->bits_per_coded_sample), "the header");
  StreamFormat f;
  f.codec = CLAP_MEDIA(avcodec_get_name)(par->codec_id);
  f.container = fmt.p->iformat && fmt.p->iformat->name ? fmt.p->iformat->name : "";
  const AVCodecDescriptor* desc = CLAP_MEDIA(avcodec_descriptor_get)(par->codec_id);
  f.lossless = desc && (desc->props & AV_CODEC_PROP_LOSSLESS) && !(desc->props & AV_CODEC_PROP_LOSSY);
  f.bit_rate = par->bit_rate > 0 ? par->bit_rate : std::max<int64_t>(fmt.p->bit_rate, 0);
  f.sample_rate = std::max(par->sample_rate, 0);
  f.channels = std::max(par->ch_layout.nb_channels, 0);
  f.bits_per_sample = std::max(par->bits_per_raw_sample > 0 ? par->bits_per_raw_sample : par->bits_per_coded_sample, 0);
  return f;
}

std::string text_prefix(const char* text, size_t max_bytes) {
  size_t n = strnlen(text, max_bytes + 1);
  if (n > max_bytes) {
    n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;  // text[n] continues a character
  }
  return std::string(text, n);
}

Tags read_tags(const std::string& path) {
  FormatHolder fmt;
  open_input(path, fmt, false);
  int idx = CLAP_MEDIA(av_find_best_stream)(fmt.p, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (container_duration(fmt.p, idx < 0 ? -1 : idx) <= 0) {
    CLAP_MEDIA(avformat_find_stream_info)(fmt.p, nullptr);  // some containers only know it after probing
    idx = CLAP_MEDIA(av_find_best_stream)(fmt.p, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  }
  const AVDictionary* dicts[2] = {fmt.p->metadata, idx >= 0 ? fmt.p->streams[idx]->metadata : nullptr};
  auto get = [&](std::initializer_list<const char*> keys) -> std::string {
    for (const char* key : keys)
      for (const AVDictionary* d : dicts) {
        if (!d) continue;
        const AVDictionaryEntry* e = CLAP_MEDIA(av_dict_get)(d, key, nullptr, 0);  // case-insensitive
        if (e && e->value) {
          std::string v = trim(text_prefix(e->value, kMaxTagBytes));
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
