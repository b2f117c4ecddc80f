// The track norms file of a compressed window index (search/track_norms.h) on arbitrary bytes:
// the magic, the JSON header, the sizes it claims against the file's, the checksum, the order
// of the ids. Inputs are also given a matching checksum, so the runs reach the checks behind it.
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"
#include "fuzz_util.h"
#include "search/track_norms.h"
#include "search/vector_index.h"

namespace {

void load(const std::string& path) {
  try {
    const clap::search::TrackNorms t = clap::search::load_track_norms(path);
    FUZZ_CHECK(t.ids.size() == t.norms.size());
    for (size_t i = 1; i < t.ids.size(); ++i) FUZZ_CHECK(t.ids[i - 1] < t.ids[i]);
  } catch (const clap::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("windows.ivfpq.norms");
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  load(file.write(bytes));
  // magic (8), header length (4), header, ids and norms, checksum (8)
  const std::string fixed = clap::fuzz::with_matching_checksum(bytes, 8, 8, clap::search::index_payload_checksum);
  if (!fixed.empty() && fixed != bytes) load(file.write(fixed));
  return 0;
}
