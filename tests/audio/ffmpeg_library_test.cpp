// audio/ffmpeg_library.h: FFmpeg, Chromaprint and libsoxr found by dlopen/dlsym on first use.
// (That the CLI does not load them at its start: tests/start/media_libraries.sh.)
#include <gtest/gtest.h>

#include <string>

#include "audio/ffmpeg_library.h"
#include "core/error.h"

namespace clap::audio::media {
namespace {

std::string thrown_by(void (*f)()) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

TEST(MediaLibrary, AMissingLibraryIsNamedWithTheLoadersReason) {
  const std::string what = thrown_by([] { open_library("libclapsearch-no-such-library.so.7"); });
  EXPECT_NE(what.find("cannot load libclapsearch-no-such-library.so.7"), std::string::npos) << what;
  EXPECT_NE(what.find("No such file"), std::string::npos) << what;  // dlerror's reason
}

TEST(MediaLibrary, AMissingFunctionIsNamedWithItsLibrary) {
  const std::string what = thrown_by([] {
    void* avutil = open_library(soname("avutil"));
    find_function(avutil, soname("avutil"), "av_no_such_function");
  });
  EXPECT_NE(what.find(soname("avutil") + " has no function av_no_such_function"), std::string::npos) << what;
}

TEST(MediaLibrary, TheSonamesAreTheHeadersMajorVersions) {
  EXPECT_EQ(soname("avformat"), "libavformat.so." + std::to_string(LIBAVFORMAT_VERSION_MAJOR));
  EXPECT_EQ(soname("avcodec"), "libavcodec.so." + std::to_string(LIBAVCODEC_VERSION_MAJOR));
  EXPECT_EQ(soname("avutil"), "libavutil.so." + std::to_string(LIBAVUTIL_VERSION_MAJOR));
  EXPECT_EQ(soname("chromaprint"), "libchromaprint.so." + std::to_string(CHROMAPRINT_VERSION_MAJOR));
  EXPECT_EQ(soname("soxr"), "libsoxr.so.0");
  EXPECT_NE(thrown_by([] { soname("avfilter"); }).find("no media library named avfilter"), std::string::npos);
}

TEST(MediaLibrary, EveryFunctionIsFoundInTheLibrariesOfTheHeadersVersions) {
  const Functions& f = functions();
#define CLAP_MEDIA_CHECK(library, name) EXPECT_NE(f.name, nullptr) << #name;
  CLAP_MEDIA_FUNCTIONS(CLAP_MEDIA_CHECK)
#undef CLAP_MEDIA_CHECK
  // The libraries of the headers' versions.
  EXPECT_EQ(AV_VERSION_MAJOR(f.avformat_version()), LIBAVFORMAT_VERSION_MAJOR);
  EXPECT_EQ(&functions(), &f);  // loaded once
}

}  // namespace
}  // namespace clap::audio::media
