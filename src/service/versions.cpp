#include "service/versions.h"

#include "audio/version.h"
#include "search/version.h"
#include "store/version.h"

namespace clap::service {

RuntimeVersions runtime_versions() {
  RuntimeVersions v;
  v.engine = engine_report();
  v.libraries = {{"FFmpeg", audio::ffmpeg_version()},   {"libsoxr", audio::soxr_version()}, {"SQLite", store::sqlite_version()},
                 {"libpq", store::libpq_version()},     {"FAISS", search::faiss_version()},
                 {"BLAS", search::blas_version()}};
  return v;
}

}  // namespace clap::service
