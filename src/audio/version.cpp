#include "audio/version.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswresample/swresample.h>
}
#include <soxr.h>

namespace clap::audio {

namespace {

std::string dotted(unsigned v) {
  return std::to_string(AV_VERSION_MAJOR(v)) + "." + std::to_string(AV_VERSION_MINOR(v)) + "." + std::to_string(AV_VERSION_MICRO(v));
}

}  // namespace

std::string ffmpeg_version() {
  // The versions of the libraries loaded now (the distribution may have updated them since
  // the build), and the release string FFmpeg was built as.
  return std::string(av_version_info()) + " (libavformat " + dotted(avformat_version()) + ", libavcodec " +
         dotted(avcodec_version()) + ", libavutil " + dotted(avutil_version()) + ", libswresample " +
         dotted(swresample_version()) + ")";
}

std::string soxr_version() {
  // The loaded library's ("libsoxr-0.1.3"), without its name.
  std::string v = ::soxr_version();
  const std::string prefix = "libsoxr-";
  return v.rfind(prefix, 0) == 0 ? v.substr(prefix.size()) : v;
}

}  // namespace clap::audio
