// The compressed window index file (search/compressed_index.h) on arbitrary bytes: the magic,
// the JSON header, the sizes, the checksum over FAISS's payload, and a search of an index that
// loads. A damaged file stops at the checksum, before FAISS reads a byte.
//
// The payload is FAISS's own (its reader trusts the sizes in it: fuzz/README.md), so, as for
// the HNSW files of fuzz_vector_index, inputs are given a matching checksum (a crafted file)
// only with CLAPSEARCH_FUZZ_FAISS=1: by default the runs report clapsearch's bugs.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_util.h"
#include "search/compressed_index.h"

namespace {

void load_and_search(const std::string& path) {
  try {
    clap::search::IndexHeader header;
    const clap::search::CompressedIndex index = clap::search::CompressedIndex::load(path, &header);
    FUZZ_CHECK(index.dim() == header.dim && index.size() == header.n);
    if (index.dim() > 0 && index.dim() <= 4096) {
      const std::vector<float> query(static_cast<size_t>(index.dim()), 1.0f / static_cast<float>(index.dim()));
      clap::search::CompressedSearchParams p;
      p.shortlist = 5;
      const std::vector<int64_t> ids = index.shortlist(query.data(), p);
      FUZZ_CHECK(ids.size() <= 5);
    }
  } catch (const std::exception&) {
    // A refusal is the expected outcome for a damaged file (FAISS's reader throws its own
    // exceptions, which load turns into clap::Error).
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static clap::fuzz::MemFile file("windows.ivfpq");
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  load_and_search(file.write(bytes));
  static const bool reach_faiss = [] {
    const char* v = std::getenv("CLAPSEARCH_FUZZ_FAISS");
    return v && std::string(v) == "1";
  }();
  if (!reach_faiss) return 0;
  // magic (8), header length (4), header, payload, checksum (8)
  const std::string fixed = clap::fuzz::with_matching_checksum(bytes, 8, 8, clap::search::index_payload_checksum);
  if (!fixed.empty() && fixed != bytes) load_and_search(file.write(fixed));
  return 0;
}
