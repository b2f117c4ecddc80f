// The error of a media library (FFmpeg, Chromaprint, libsoxr) that cannot be loaded
// (audio/ffmpeg_library.h): its own type, without those libraries' headers, so that a front end
// can tell "this program cannot decode any audio now" from "this file is not audio". The server
// answered an upload 415 "not audio" when libavformat could not be loaded (hostile pass 20,
// H20S-1): the client was told its file was at fault.
#pragma once
#include "core/error.h"

namespace clap::audio {

class MediaLibraryUnavailable : public Error {
 public:
  using Error::Error;
};

}  // namespace clap::audio
