// What vector_index.cpp (build, search, update) and vector_index_file.cpp (the file format,
// load_or_build) share. Internal to search/.
#pragma once
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>

#include <cstdint>
#include <vector>

#include "search/vector_index.h"

namespace clap::search {

// The HNSW index inside a FAISS structure read from a file, or null.
const faiss::IndexHNSW* hnsw_of(const faiss::Index* index, const faiss::IndexIDMap** map_out = nullptr);

// Positions of `s`'s entries in ascending id order; throws on a duplicate id.
std::vector<int64_t> id_order(const VectorSource& s);

// For each of the ascending `ids`, its position in `s` (whose id order is `order`), or -1.
std::vector<int64_t> positions_in(const std::vector<int64_t>& ids, const VectorSource& s, const std::vector<int64_t>& order);

}  // namespace clap::search
