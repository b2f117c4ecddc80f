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

// "not loaded: REASON" when the libraries cannot be loaded, else empty: --version lists a
// library it cannot load with the reason (the commands that decode fail naming it).
std::string load_problem() {
  try {
    (void)media::functions();
  } catch (const Error& e) {
    return std::string("not loaded: ") + e.what();
  }
  return "";
}

}  // namespace

std::string ffmpeg_version() {
  // The versions of the libraries loaded now (the distribution may have updated them since
  // the build), and the release string FFmpeg was built as.
  if (const std::string problem = load_problem(); !problem.empty()) return problem;
  return std::string(CLAP_MEDIA(av_version_info)()) + " (libavformat " + dotted(CLAP_MEDIA(avformat_version)()) + ", libavcodec " +
         dotted(CLAP_MEDIA(avcodec_version)()) + ", libavutil " + dotted(CLAP_MEDIA(avutil_version)()) + ", libswresample " +
         dotted(CLAP_MEDIA(swresample_version)()) + ")";
}

std::string soxr_version() {
  // The loaded library's ("libsoxr-0.1.3"), without its name.
  if (const std::string problem = load_problem(); !problem.empty()) return problem;
  std::string v = CLAP_MEDIA(soxr_version)();
  const std::string prefix = "libsoxr-";
  return v.rfind(prefix, 0) == 0 ? v.substr(prefix.size()) : v;
}

}  // namespace clap::audio
