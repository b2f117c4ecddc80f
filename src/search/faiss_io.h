// What the search layer's FAISS users share: how an index file hands FAISS's serialiser a file
// (everything FAISS writes goes to the file and into the payload checksum of vector_index.h),
// and how a build keeps FAISS's OpenMP parts on one thread.
#pragma once
#include <faiss/impl/io.h>
#include <omp.h>

#include "core/output_file.h"
#include "search/vector_index.h"

namespace clap::search {

struct ChecksumFileWriter : faiss::IOWriter {
  OutputFile& out;
  IndexPayloadChecksum sum;
  explicit ChecksumFileWriter(OutputFile& file) : out(file) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    out.write(ptr, size * nitems);  // a failed write is reported by commit()
    sum.update(ptr, size * nitems);
    return nitems;
  }
};

// FAISS's parallel parts (k-means partial sums, HNSW insertion order) can depend on the team
// size; one thread makes a build reproducible. Restores the caller's thread count on exit.
class SingleThreadScope {
 public:
  explicit SingleThreadScope(bool active = true) : active_(active), saved_(omp_get_max_threads()) {
    if (active_) omp_set_num_threads(1);
  }
  ~SingleThreadScope() {
    if (active_) omp_set_num_threads(saved_);
  }
  SingleThreadScope(const SingleThreadScope&) = delete;
  SingleThreadScope& operator=(const SingleThreadScope&) = delete;

 private:
  bool active_;
  int saved_;
};

}  // namespace clap::search
