// What the decoders of audio/ share (internal to the layer: only src/audio includes it): a file
// opened for decoding its best audio stream (decode.cpp) and the frames' conversion to mono float
// at the target rate (mono_resampler.h), used by the whole decode (decode.cpp) and the span
// decoder (decode_spans.cpp).
#pragma once
#include "audio/ffmpeg_library.h"

#include <unistd.h>

#include <cstdint>
#include <string>

#include "audio/decode.h"
#include "audio/ffmpeg_input.h"
#include "core/error.h"

namespace clap::audio::detail {

[[noreturn]] inline void fail(const std::string& path, const std::string& reason) { throw Error(path + ": " + reason); }

// RAII holders.
struct FormatHolder {
  AVFormatContext* p = nullptr;
  AVIOContext* custom_io = nullptr;  // Origin::Untrusted: our reader over `fd`
  int fd = -1;
  ~FormatHolder() {
    CLAP_MEDIA_RELEASE(avformat_close_input)(&p);  // leaves a custom AVIOContext to its owner
    if (custom_io) {
      CLAP_MEDIA_RELEASE(av_freep)(&custom_io->buffer);
      CLAP_MEDIA_RELEASE(avio_context_free)(&custom_io);
    }
    if (fd >= 0) ::close(fd);
  }
};
struct CodecHolder {
  AVCodecContext* p = nullptr;
  ~CodecHolder() { CLAP_MEDIA_RELEASE(avcodec_free_context)(&p); }
};
struct PacketHolder {
  AVPacket* p = CLAP_MEDIA(av_packet_alloc)();
  ~PacketHolder() { CLAP_MEDIA_RELEASE(av_packet_free)(&p); }
};
struct FrameHolder {
  AVFrame* p = CLAP_MEDIA(av_frame_alloc)();
  ~FrameHolder() { CLAP_MEDIA_RELEASE(av_frame_free)(&p); }
};
struct LayoutHolder {
  AVChannelLayout l{};
  ~LayoutHolder() { CLAP_MEDIA_RELEASE(av_channel_layout_uninit)(&l); }
};

// Checks the path, then opens it with libavformat (a local file by name with any demuxer, or an
// untrusted one through our own reader with the audio demuxers only) and reads stream info.
void open_input(const std::string& path, FormatHolder& fmt, bool find_info, Origin origin = Origin::LocalFile);
// The best audio stream's index, with its decoder; throws naming the codec when none decodes it.
int best_audio_stream(const std::string& path, AVFormatContext* fmt, const AVCodec** codec);
// The container's duration in seconds (else the stream's; 0 when neither is known).
double container_duration(AVFormatContext* fmt, int stream_index);

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

// Opens the file, its best audio stream and a single-threaded decoder for it.
void open_audio(const std::string& path, Origin origin, OpenedAudio& o);

// Cuts a decoded frame at the MP4/MOV declared end (OpenedAudio::end_pts); false when the whole
// frame lies past it.
bool cut_at_end(const OpenedAudio& o, AVFrame* f);

// Counts a decode_spans call of `path` (decode_counts).
void count_span_decode(const std::string& path);

}  // namespace clap::audio::detail
