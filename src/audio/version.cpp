#include "audio/version.h"
#include "audio/ffmpeg_library.h"
#include "core/error.h"

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
  // A library that cannot be loaded is shown with the reason (--version lists it; the
  // commands that decode fail naming it).
  try {
    (void)media::functions();
  } catch (const Error& e) {
    return std::string("not loaded: ") + e.what();
  }
  return std::string(CLAP_MEDIA(av_version_info)()) + " (libavformat " + dotted(CLAP_MEDIA(avformat_version)()) + ", libavcodec " +
         dotted(CLAP_MEDIA(avcodec_version)()) + ", libavutil " + dotted(CLAP_MEDIA(avutil_version)()) + ", libswresample " +
         dotted(CLAP_MEDIA(swresample_version)()) + ")";
}

std::string soxr_version() {
  // The loaded library's ("libsoxr-0.1.3"), without its name.
  try {
    (void)media::functions();
  } catch (const Error& e) {
    return std::string("not loaded: ") + e.what();
  }
  std::string v = CLAP_MEDIA(soxr_version)();
  const std::string prefix = "libsoxr-";
  return v.rfind(prefix, 0) == 0 ? v.substr(prefix.size()) : v;
}

}  // namespace clap::audio
