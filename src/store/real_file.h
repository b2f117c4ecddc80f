// A SQLite index's file by its real path (symbolic links resolved): an index reached through a
// link (a library.db linked to a bigger disk) and by its own path is one index, so what is named
// after the file lives beside the file itself, whichever name reached it: its password key
// (service/accounts.cpp), its indexer lock, the window index cache "<db>.windows.faiss" and
// ".ivfpq" (service/window_index.h), and the new and the damaged file of a rebuild (issue 53).
// Before, each stayed beside the name given: a link and the file's own path built and kept a
// cache each, and a rebuild through a link put the new index in the link's place, the damaged file
// left where the link pointed.
#pragma once
#include <string>

namespace clap::store {

// `location` with every symbolic link resolved; as given when it cannot be resolved (no such
// file yet, a server URL).
std::string real_file(const std::string& location);

}  // namespace clap::store
