// The library's window vector index, persisted beside the database as "<db>.windows.faiss"
// (for a server store: in this machine's cache, $XDG_CACHE_HOME/clapsearch/window-index/).
//
// Staleness rule (the one rule): the file is reused while its content key equals the
// fingerprint of exactly the rows it would be built from - every active window's id, track id
// and first 16 embedding values, combined order-independently - and its build parameters match.
// So it is rebuilt whenever windows are added, removed or re-embedded (another model, other
// audio), and never after writes that leave the windows alone (text cache, labels, moved files).
// The store's generation() is the cheaper "did anything change?" signal a long-running reader
// polls before recomputing the fingerprint.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "search/catalog.h"
#include "search/vector_index.h"

namespace clap::service {

std::string window_index_path(const std::string& db_path);
// Where the compressed window index of a library larger than memory lives (compressed_windows.h):
// "<db>.windows.ivfpq", or for a server store this machine's cache, as above.
std::string compressed_window_index_path(const std::string& db_path);

// Content key of the window index for `catalog` (see above).
int64_t window_fingerprint(const search::Catalog& catalog);

// Loads the persisted index for `catalog`, or builds (and saves) it when stale or missing. The
// index reads the catalog's embeddings in place and keeps the catalog alive: every window
// vector exists once in memory. A file whose vectors differ from the catalog's is updated or
// rebuilt, never searched.
search::VectorIndex load_window_index(const std::string& db_path, std::shared_ptr<const search::Catalog> catalog,
                                      search::LoadInfo* info = nullptr);
// The same for a catalog the caller cannot share: the index owns a copy of the windows' vectors.
search::VectorIndex load_window_index(const std::string& db_path, const search::Catalog& catalog,
                                      search::LoadInfo* info = nullptr);

}  // namespace clap::service
