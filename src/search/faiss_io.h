// How the search layer's index files hand FAISS's serialiser a file: everything FAISS writes
// goes to the file and into the payload checksum (vector_index.h) the file ends with.
#pragma once
#include <faiss/impl/io.h>

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

}  // namespace clap::search
