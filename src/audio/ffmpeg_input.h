// What the FFmpeg code of audio/ shares (internal to the layer: only src/audio includes it):
// the process-wide FFmpeg set-up and its error text (decode.cpp), and an input read from a file
// descriptor the caller already opened and checked (ffmpeg_input.cpp).
//
// The server opens an indexed track's file itself and checks it (no link, inside an indexed
// root, the file that was indexed: server/api.h open_track_audio); whatever reads it next
// (transcoding, its cover picture, its lyrics) must read that same open file, not open the path
// again, or a file swapped between the check and the read would be served.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "audio/ffmpeg_library.h"

struct AVFormatContext;
struct AVIOContext;

namespace clap::audio::detail {

// Owners of FFmpeg's objects, freed as FFmpeg frees them.
struct CodecFree {
  void operator()(AVCodecContext* c) const { CLAP_MEDIA_RELEASE(avcodec_free_context)(&c); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { CLAP_MEDIA_RELEASE(av_frame_free)(&f); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { CLAP_MEDIA_RELEASE(av_packet_free)(&p); }
};
using Codec = std::unique_ptr<AVCodecContext, CodecFree>;
using Frame = std::unique_ptr<AVFrame, FrameFree>;
using Packet = std::unique_ptr<AVPacket, PacketFree>;

// Quiets FFmpeg's log (its messages are kept per thread for our errors) and bounds its single
// allocations; once per process.
void init_ffmpeg();
std::string av_error(int code);
// The last message FFmpeg logged at error level on this thread ("" when none since cleared).
std::string last_ffmpeg_message();
void clear_ffmpeg_message();

// The source formats a decoder takes, one bound for every path that decodes (the whole decode,
// the span decoder, the format read for duplicates, transcoding for the server): a header beyond
// them is damaged or hostile, and is refused naming the file, not decoded into a wrong answer.
// Rates: telephone audio is 8000 Hz (some old formats 4000); resampling up from a few Hz costs
// memory in proportion to the ratio (2 Hz: 0.5 GB for an 8 KB file, fuzz_audio). The highest
// real source is DSD512, which FFmpeg's DSF reader gives as PCM at 2,822,400 Hz (DSD rate / 8).
inline constexpr int kMinSourceRate = 1000;
inline constexpr int kMaxSourceRate = 3'000'000;
// Channels: 22.2 surround is 24; the whole decode has always taken up to 64.
inline constexpr int kMaxSourceChannels = 64;
// Bits per sample as a header states them (0: not stated): PCM goes to 64 (doubles).
inline constexpr int kMaxSourceBits = 64;
// Throws clap::Error "<name>: <what is wrong> (a damaged header?)" for parameters out of those
// bounds; `what` says whose they are ("the header", "a decoded frame").
void check_source_format(const std::string& name, int sample_rate, int channels, int bits_per_sample, const char* what);

// The demuxers an input read through a descriptor may be opened with: audio containers that
// read their one input and nothing else. Not on the list, among others: hls, dash, concat,
// image2, subfile, ffmetadata, tee, and every demuxer of text, images or playlists.
inline constexpr const char* kUploadDemuxers =
    "mp3,flac,ogg,wav,w64,aiff,mov,aac,matroska,asf,wv,ape,tta,caf,au,ac3,eac3,dts,amr,amrnb,amrwb,mpc,mpc8,dsf,tak,shn,"
    "xwma,voc";

// An AVFormatContext over an open regular file, read with pread (the descriptor's own offset is
// never moved, so several readers may share it); the audio demuxers above only, every nested
// open refused. The descriptor stays the caller's. Throws clap::Error("<name>: <reason>").
class FdInput {
 public:
  FdInput(int fd, const std::string& name, bool find_stream_info = true);
  ~FdInput();
  FdInput(const FdInput&) = delete;
  FdInput& operator=(const FdInput&) = delete;
  AVFormatContext* get() const { return fmt_; }

 private:
  static int read(void* opaque, uint8_t* buf, int size);
  static int64_t seek(void* opaque, int64_t offset, int whence);
  int fd_;
  int64_t pos_ = 0, size_ = 0;
  AVFormatContext* fmt_ = nullptr;
  AVIOContext* io_ = nullptr;
};

}  // namespace clap::audio::detail
