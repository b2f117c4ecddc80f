#include "audio/ffmpeg_library.h"

#include <dlfcn.h>

#include <atomic>

#include "audio/media_unavailable.h"
#include "core/error.h"

namespace clap::audio::media {

namespace {

// libsoxr's header names no version of its ABI; its soname has been libsoxr.so.0 since 0.1.0.
constexpr int kSoxrSonameVersion = 0;

std::atomic<const Functions*> loaded_functions{nullptr};

Functions load() {
  Functions f;
#define CLAP_MEDIA_OPEN(library) void* const library##_handle = open_library(soname(#library));
  CLAP_MEDIA_LIBRARIES(CLAP_MEDIA_OPEN)
#undef CLAP_MEDIA_OPEN
#define CLAP_MEDIA_FIND(library, name) \
  f.name = reinterpret_cast<decltype(f.name)>(find_function(library##_handle, soname(#library), #name));
  CLAP_MEDIA_FUNCTIONS(CLAP_MEDIA_FIND)
#undef CLAP_MEDIA_FIND
  return f;
}

}  // namespace

std::string soname(const char* library) {
  const std::string name = library;
  if (name == "avformat") return "libavformat.so." + std::to_string(LIBAVFORMAT_VERSION_MAJOR);
  if (name == "avcodec") return "libavcodec.so." + std::to_string(LIBAVCODEC_VERSION_MAJOR);
  if (name == "avutil") return "libavutil.so." + std::to_string(LIBAVUTIL_VERSION_MAJOR);
  if (name == "swresample") return "libswresample.so." + std::to_string(LIBSWRESAMPLE_VERSION_MAJOR);
  if (name == "swscale") return "libswscale.so." + std::to_string(LIBSWSCALE_VERSION_MAJOR);
  if (name == "chromaprint") return "libchromaprint.so." + std::to_string(CHROMAPRINT_VERSION_MAJOR);
  if (name == "soxr") return "libsoxr.so." + std::to_string(kSoxrSonameVersion);
  throw Error("no media library named " + name);
}

void* open_library(const std::string& soname) {
  // RTLD_NOW: a missing symbol of its own dependencies is an error here, not a crash later.
  // Never closed: FFmpeg's objects live as long as the process.
  void* handle = ::dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    throw MediaLibraryUnavailable("cannot load " + soname + " (FFmpeg, Chromaprint and libsoxr decode, tag and fingerprint audio): " +
                (why ? why : "unknown reason"));
  }
  return handle;
}

void* find_function(void* library, const std::string& soname, const char* name) {
  ::dlerror();
  void* f = ::dlsym(library, name);
  if (!f) {
    const char* why = ::dlerror();
    throw MediaLibraryUnavailable(soname + " has no function " + name + " (another version than the one clapsearch was built for?)" +
                (why ? std::string(": ") + why : std::string()));
  }
  return f;
}

const Functions& functions() {
  // A function-local static is made once even when threads call at once; a throw leaves it
  // unmade, so the next call tries (and names the problem) again.
  static const Functions* const made = [] {
    static const Functions f = load();
    loaded_functions.store(&f, std::memory_order_release);
    return &f;
  }();
  return *made;
}

const Functions* loaded() { return loaded_functions.load(std::memory_order_acquire); }

}  // namespace clap::audio::media
