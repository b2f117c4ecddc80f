// The persisted vector-index file (search/vector_index.h) on arbitrary bytes: the header
// (magic, format, JSON), the checksum over the payload, the payload readers, and a search of
// an index that loads. A damaged file stops at the checksum.
//
// Exact and IVF files (format 3) have clapsearch's own payload: each input whose header names
// one of those kinds is loaded a second time with its trailer rewritten to the checksum its
// payload has, as a crafted (not damaged) file would be, so the payload reader is fuzzed too.
// CLAPSEARCH_FUZZ_FAISS=1 does the same for HNSW files, whose payload FAISS's own reader
// parses. That reader trusts the sizes in the payload (fuzz/README.md: it allocates up to
// 2^40 elements and leaks when it throws part way); being third-party code behind the
// checksum, it is off by default so that the runs report clapsearch's bugs.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_util.h"
#include "search/vector_index.h"

namespace {

// magic (8) + format (4) + header length (4) + header; then payload + checksum (8) + "CLAPSUM1".
std::string with_matching_checksum(const std::string& bytes) {
  std::string fixed = clap::fuzz::with_matching_checksum(bytes, 12, 16, clap::search::index_payload_checksum);
  if (!fixed.empty()) std::memcpy(fixed.data() + fixed.size() - 8, "CLAPSUM1", 8);
  return fixed;
}

void load_and_search(const std::string& path) {
  clap::search::IndexHeader header;
  const bool header_ok = clap::search::VectorIndex::read_header(path, &header);
  try {
    const clap::search::VectorIndex index = clap::search::VectorIndex::load(path);
    FUZZ_CHECK(header_ok && index.dim() == header.dim && index.size() == header.n);
    if (index.dim() > 0 && index.dim() <= 4096) {
      const std::vector<float> query(static_cast<size_t>(index.dim()), 1.0f / static_cast<float>(index.dim()));
      const clap::search::SearchResult r = index.search(1, query.data(), 5);
      FUZZ_CHECK(r.ids.size() == 5 && r.scores.size() == 5);
    }
  } catch (const std::exception&) {
    // A refusal is the expected outcome for a damaged file: load_or_build, the only caller,
    // catches every std::exception (FAISS's reader throws more than clap::Error) and rebuilds.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("windows.faiss");
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = file.write(bytes);
  load_and_search(path);
  static const bool reach_faiss = [] {
    const char* v = std::getenv("CLAPSEARCH_FUZZ_FAISS");
    return v && std::string(v) == "1";
  }();
  clap::search::IndexHeader header;
  const bool own_payload = clap::search::VectorIndex::read_header(path, &header) &&
                           header.kind != clap::search::IndexKind::Hnsw;
  if (!reach_faiss && !own_payload) return 0;
  const std::string fixed = with_matching_checksum(bytes);
  if (!fixed.empty() && fixed != bytes) load_and_search(file.write(fixed));
  return 0;
}
