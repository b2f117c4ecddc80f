// Changing an index straight in its database (sqlite_exec), and forgetting what it keeps, for tests of an index made by a
// version that kept none of it: the track ids Store::wipe keeps (store.h; its tracks then come
// back under other ids, which user data must follow), the packet hashes (audio/packet_hash.h; an
// index made before they were stored, which a run catches up).
#pragma once
#include <string>

namespace clap::test {

// Runs `statements` on the SQLite index at `db` (a test damaging it by hand), each failure a
// test failure naming SQLite's message.
void sqlite_exec(const std::string& db, const std::string& statements);

// Deletes every row of `table` of the index at `location` (a SQLite file or a PostgreSQL URL of
// the shared test server).
void forget_rows(const std::string& location, const std::string& table);

inline void forget_kept_ids(const std::string& location) { forget_rows(location, "kept_track_ids"); }
inline void forget_packet_hashes(const std::string& location) { forget_rows(location, "packet_hashes"); }

}  // namespace clap::test
