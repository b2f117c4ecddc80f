// The FFmpeg libraries this process decodes with, for `clapsearch --version`.
#pragma once
#include <string>

namespace clap::audio {

// "libavformat 59.27.100, libavcodec 59.37.100, ..." (run-time versions) and FFmpeg's release.
std::string ffmpeg_version();

}  // namespace clap::audio
