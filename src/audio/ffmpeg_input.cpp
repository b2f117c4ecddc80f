#include "audio/ffmpeg_input.h"
#include "audio/ffmpeg_library.h"

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/mem.h>
}

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/error.h"

namespace clap::audio::detail {

void check_source_format(const std::string& name, int sample_rate, int channels, int bits_per_sample, const char* what) {
  const auto refuse = [&](const std::string& why) { throw Error(name + ": " + why + ": not audio (a damaged header?)"); };
  const std::string of = std::string(" (") + what + ")";
  if (sample_rate > 0 && sample_rate < kMinSourceRate)
    refuse("sample rate " + std::to_string(sample_rate) + " Hz is below " + std::to_string(kMinSourceRate) + " Hz" + of);
  if (sample_rate > kMaxSourceRate)
    refuse("sample rate " + std::to_string(sample_rate) + " Hz is above " + std::to_string(kMaxSourceRate) + " Hz" + of);
  if (channels > kMaxSourceChannels)
    refuse(std::to_string(channels) + " channels, more than " + std::to_string(kMaxSourceChannels) + of);
  if (bits_per_sample > kMaxSourceBits)
    refuse(std::to_string(bits_per_sample) + " bits per sample, more than " + std::to_string(kMaxSourceBits) + of);
}

namespace {
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }
}  // namespace

int FdInput::read(void* opaque, uint8_t* buf, int size) {
  auto* self = static_cast<FdInput*>(opaque);
  for (;;) {
    const ssize_t n = ::pread(self->fd_, buf, static_cast<size_t>(size), static_cast<off_t>(self->pos_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return AVERROR(errno);
    if (n == 0) return AVERROR_EOF;
    self->pos_ += n;
    return static_cast<int>(n);
  }
}

int64_t FdInput::seek(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<FdInput*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return self->size_;
  int64_t to = offset;
  if (whence == SEEK_CUR) to = self->pos_ + offset;
  else if (whence == SEEK_END) to = self->size_ + offset;
  else if (whence != SEEK_SET) return AVERROR(EINVAL);
  if (to < 0) return AVERROR(EINVAL);
  self->pos_ = to;
  return to;
}

FdInput::FdInput(int fd, const std::string& name, bool find_stream_info) : fd_(fd) {
  init_ffmpeg();
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Error(name + ": not a regular file");
  size_ = st.st_size;
  constexpr int kBuffer = 1 << 16;
  auto* buffer = static_cast<unsigned char*>(CLAP_MEDIA(av_malloc)(kBuffer));
  if (!buffer) throw Error(name + ": out of memory");
  io_ = CLAP_MEDIA(avio_alloc_context)(buffer, kBuffer, 0, this, &FdInput::read, nullptr, &FdInput::seek);
  if (!io_) {
    CLAP_MEDIA_RELEASE(av_free)(buffer);
    throw Error(name + ": out of memory");
  }
  fmt_ = CLAP_MEDIA(avformat_alloc_context)();
  if (!fmt_) {
    CLAP_MEDIA_RELEASE(av_freep)(&io_->buffer);
    CLAP_MEDIA_RELEASE(avio_context_free)(&io_);
    throw Error(name + ": out of memory");
  }
  fmt_->pb = io_;
  fmt_->flags |= AVFMT_FLAG_CUSTOM_IO;
  fmt_->io_open = refuse_nested_open;
  AVDictionary* opts = nullptr;
  CLAP_MEDIA(av_dict_set)(&opts, "format_whitelist", kUploadDemuxers, 0);
  CLAP_MEDIA(av_dict_set)(&opts, "protocol_whitelist", "fd", 0);
  clear_ffmpeg_message();
  const int r = CLAP_MEDIA(avformat_open_input)(&fmt_, "", nullptr, &opts);  // frees fmt_ on failure
  CLAP_MEDIA_RELEASE(av_dict_free)(&opts);
  if (r < 0) {
    std::string why = av_error(r);
    if (!last_ffmpeg_message().empty()) why += "; " + last_ffmpeg_message();
    CLAP_MEDIA_RELEASE(av_freep)(&io_->buffer);
    CLAP_MEDIA_RELEASE(avio_context_free)(&io_);
    throw Error(name + ": not a recognised audio file (" + why + ")");
  }
  if (find_stream_info) {
    const int s = CLAP_MEDIA(avformat_find_stream_info)(fmt_, nullptr);
    if (s < 0 && fmt_->nb_streams == 0) {
      CLAP_MEDIA_RELEASE(avformat_close_input)(&fmt_);
      CLAP_MEDIA_RELEASE(av_freep)(&io_->buffer);
      CLAP_MEDIA_RELEASE(avio_context_free)(&io_);
      throw Error(name + ": cannot read stream info: " + av_error(s));
    }
  }
}

FdInput::~FdInput() {
  CLAP_MEDIA_RELEASE(avformat_close_input)(&fmt_);  // leaves the custom AVIOContext to us
  if (io_) {
    CLAP_MEDIA_RELEASE(av_freep)(&io_->buffer);
    CLAP_MEDIA_RELEASE(avio_context_free)(&io_);
  }
}

}  // namespace clap::audio::detail
