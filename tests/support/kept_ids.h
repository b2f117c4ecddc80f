// Forgetting the track ids Store::wipe keeps (store.h): for tests of an index rebuilt by a version
// that kept none, whose tracks come back under other ids (what user data must then follow).
#pragma once
#include <string>

namespace clap::test {

// Deletes every kept id of the index at `location` (a SQLite file or a PostgreSQL URL of the
// shared test server), straight in the database.
void forget_kept_ids(const std::string& location);

}  // namespace clap::test
