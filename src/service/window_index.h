// The library's window vector index, persisted beside the database as "<db>.windows.faiss" (the
// file's real path: store/real_file.h)
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
#include "store/store.h"

namespace clap::service {

// A server store's file is named after its database's key id (`key_id`: store/database_id.h, the id
// its password key file is named after): every spelling of its URL shares one file, and two
// databases never share one. A database that records no id yet (made by an older clapsearch and
// opened only read-only since) is named after its URL without its password, as older versions
// named every one.
std::string window_index_path(const std::string& db_path, const std::string& key_id = "");
// Where the compressed window index of a library larger than memory lives (compressed_windows.h):
// "<db>.windows.ivfpq", or for a server store this machine's cache, as above.
std::string compressed_window_index_path(const std::string& db_path, const std::string& key_id = "");
// The key id that names a server store's files ("" for a SQLite store, or none recorded; a damaged
// row names none: these files are a cache, and the password key reports that damage).
std::string window_index_key_id(const store::Store& st);
// The path of either file (`compressed`: the .ivfpq one), its folder made, and for a server store
// a file an older clapsearch named after the URL moved to the id's name: adopted, not rebuilt (the
// content key decides, as for any file found there: one of another database is rebuilt).
std::string prepared_window_index_path(const std::string& db_path, const std::string& key_id, bool compressed);

// Content key of the window index for `catalog` (see above).
int64_t window_fingerprint(const search::Catalog& catalog);

// Loads the persisted index for `catalog`, or builds (and saves) it when stale or missing. The
// index reads the catalog's embeddings in place and keeps the catalog alive: every window
// vector exists once in memory. A file whose vectors differ from the catalog's is updated or
// rebuilt, never searched.
search::VectorIndex load_window_index(const std::string& db_path, std::shared_ptr<const search::Catalog> catalog,
                                      search::LoadInfo* info = nullptr, const std::string& key_id = "");
// The same for a catalog the caller cannot share: the index owns a copy of the windows' vectors.
search::VectorIndex load_window_index(const std::string& db_path, const search::Catalog& catalog,
                                      search::LoadInfo* info = nullptr, const std::string& key_id = "");

}  // namespace clap::service
