// The FFmpeg libraries this process decodes with and the resampler, for `clapsearch --version`.
#pragma once
#include <string>

namespace clap::audio {

// "libavformat 59.27.100, libavcodec 59.37.100, ..." (run-time versions) and FFmpeg's release.
std::string ffmpeg_version();
// libsoxr's version (the resampler: its samples depend on it), e.g. "0.1.3".
std::string soxr_version();

}  // namespace clap::audio
